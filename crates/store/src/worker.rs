//! The store's one worker thread: requests are carried out in the order they were made (a
//! rename never races a save of the same file), off the console's loop, and answered into a
//! sink (the console's inbox). `flush` waits until everything asked so far is on disk.
use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use super::{Reply, Request, conversations_dir, exports_dir, time::now_unix};
use llamadeck_words::sink::Sink;

enum Job {
    Run(Request),
    Flush(std_mpsc::Sender<()>),
}

pub struct Worker {
    data_dir: PathBuf,
    /// The id given to the newest conversation that had none: (serial, id, created).
    assigned: Option<(u64, String, u64)>,
    used: std::collections::HashSet<String>,
    jobs: std_mpsc::Sender<Job>,
    replies: Sink<Reply>,
}

impl Worker {
    pub fn spawn(data_dir: PathBuf, replies: Sink<Reply>) -> std::io::Result<Self> {
        let (jobs, rx) = std_mpsc::channel::<Job>();
        let dir = data_dir.clone();
        let tx = replies.clone();
        std::thread::Builder::new().name("llamadeck-store".into()).spawn(move || {
            // Temp files of writes a crash cut short (see `files::remove_stale_temps`).
            for folder in [conversations_dir(&dir), exports_dir(&dir)] {
                llamadeck_words::files::remove_stale_temps(&folder, None);
            }
            while let Ok(job) = rx.recv() {
                match job {
                    Job::Run(request) => {
                        if let Some(reply) = carry_out(&dir, request) {
                            tx.send(reply);
                        }
                    }
                    Job::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
        })?;
        Ok(Self { data_dir, assigned: None, used: Default::default(), jobs, replies })
    }

    /// Queues `request`. A save without an id gets one here, at once, so that the next save of
    /// the same conversation (queued before any reply arrives) goes to the same file.
    pub fn submit(&mut self, request: Request) -> Option<Reply> {
        let (request, assigned) = match request {
            Request::Save { serial, mut conversation } if conversation.id.is_none() => {
                let (id, created) = match &self.assigned {
                    Some((s, id, created)) if *s == serial => (id.clone(), *created),
                    _ => {
                        // Not yet on disk while queued: also skip the names given out this session.
                        let now = now_unix();
                        let dir = conversations_dir(&self.data_dir);
                        let mut id = super::new_id(&dir, now);
                        while !self.used.insert(id.clone()) {
                            id = super::new_id(&dir, now);
                        }
                        (id, now)
                    }
                };
                self.assigned = Some((serial, id.clone(), created));
                conversation.id = Some(id.clone());
                conversation.created = Some(created);
                (Request::Save { serial, conversation }, Some(Reply::Assigned { serial, id, created }))
            }
            other => (other, None),
        };
        if self.jobs.send(Job::Run(request)).is_err() {
            self.replies.send(Reply::Saved(Err("the store worker stopped".into())));
        }
        assigned
    }

    /// Waits (up to `timeout`) until every request queued so far has been carried out.
    pub fn flush(&self, timeout: Duration) -> bool {
        let (tx, rx) = std_mpsc::channel();
        self.jobs.send(Job::Flush(tx)).is_ok() && rx.recv_timeout(timeout).is_ok()
    }
}

fn carry_out(data_dir: &std::path::Path, request: Request) -> Option<Reply> {
    let dir = conversations_dir(data_dir);
    let now = now_unix();
    Some(match request {
        Request::Save { conversation, .. } => {
            match super::save(&dir, &conversation, now) {
                // Quiet on success: saving after every answer is routine.
                Ok(()) => return None,
                Err(e) => match super::TooLarge::of(&e) {
                    Some(too_large) => Reply::TooLarge(too_large.clone()),
                    None => Reply::Saved(Err(e.to_string())),
                },
            }
        }
        Request::List => Reply::Listed(super::list(&dir)),
        Request::Latest => Reply::Latest(super::latest(&dir)),
        Request::Load(id) => Reply::Loaded(super::load(&dir, &id)),
        Request::Rename { id, title } => Reply::Renamed(super::rename(&dir, &id, &title, now).map(|()| id)),
        Request::Delete(id) => Reply::Deleted(super::delete(&dir, &id).map(|()| id)),
        Request::Export { format, conversation } => {
            Reply::Exported(super::export::write(&exports_dir(data_dir), format, &conversation, now))
        }
    })
}
