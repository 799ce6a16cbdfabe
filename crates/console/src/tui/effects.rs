//! What carries out the reducer's effects: the engine link, the conversation store's worker, the
//! config file and the clipboard. The composition root (or a test) builds it from its parts;
//! the loop only hands it effects. Nothing here blocks the loop's thread: the store has its own
//! thread, and reading or writing the config file runs on the blocking pool and answers into the
//! inbox.
use std::io;
use std::path::PathBuf;

use crate::session::inbox::Sender;
use crate::session::{Action, Effect, Reread};
use crate::tui::engine_link::EngineLink;
use llamadeck_engine::ModelSpec;
use llamadeck_store::worker::Worker;
use llamadeck_store::{Listing, Reply, Request};
use llamadeck_words::keys::Keymap;
use llamadeck_words::sampling::Sampling;

/// Where clipboard (OSC 52) sequences are written: the terminal.
pub type Clipboard = Box<dyn FnMut(&[u8]) -> io::Result<()> + Send>;

pub struct Effects {
    pub engine: EngineLink,
    /// Where conversations are saved; None saves nothing (and says so when asked to open one).
    pub store: Option<Worker>,
    /// Where settings are saved and F5 reads the config from.
    config_path: PathBuf,
    inbox: Sender,
    /// None refuses copying (no terminal to copy through).
    clipboard: Option<Clipboard>,
}

impl Effects {
    pub fn new(engine: EngineLink, config_path: PathBuf, inbox: Sender) -> Self {
        Effects { engine, store: None, config_path, inbox, clipboard: None }
    }

    pub fn store(self, worker: Worker) -> Self {
        Effects { store: Some(worker), ..self }
    }

    pub fn clipboard(self, clipboard: Clipboard) -> Self {
        Effects { clipboard: Some(clipboard), ..self }
    }

    /// Carries out `effect`. What answers at once (a save's new id, a copy, the model `/model`
    /// chose) is returned to be fed back before anything else happens; what takes time answers
    /// into the inbox.
    pub fn carry_out(&mut self, effect: Effect, current_spec: &ModelSpec) -> Option<Action> {
        match effect {
            Effect::Quit => None,
            Effect::Engine(command) => {
                self.engine.run(command);
                None
            }
            Effect::UseEngine { node, epoch } => {
                self.engine.switch(node.as_deref(), epoch);
                None
            }
            Effect::Store(request) => match self.store.as_mut() {
                Some(worker) => worker.submit(request).map(Action::Store),
                None => no_store(request).map(Action::Store),
            },
            Effect::Clipboard(text) => {
                let result = match self.clipboard.as_mut() {
                    Some(write) => write(&crate::tui::clipboard::osc52(&text)).map(|()| text.chars().count()).map_err(|e| e.to_string()),
                    None => Err("no terminal to copy through".into()),
                };
                Some(Action::Copied(result))
            }
            Effect::ChooseModel { path } => Some(Action::ModelChosen(ModelSpec { source: path, ..current_spec.clone() })),
            Effect::SaveSettings { sampling, preset } => {
                self.off_the_loop(move |path| save_settings(path, sampling, preset));
                None
            }
            Effect::CompletePath { typed } => {
                let inbox = self.inbox.clone();
                tokio::task::spawn_blocking(move || {
                    let found = typed.split_once(' ').map(|(_, path)| paths_starting(path)).unwrap_or_default();
                    inbox.send(Action::PathsFound { typed, found })
                });
                None
            }
            Effect::ReloadConfig => {
                self.off_the_loop(|path| Action::ConfigReread(reread_config(&path)));
                None
            }
        }
    }

    /// Runs `job` on the blocking pool and sends its answer into the inbox.
    fn off_the_loop(&self, job: impl FnOnce(PathBuf) -> Action + Send + 'static) {
        let (path, inbox) = (self.config_path.clone(), self.inbox.clone());
        tokio::task::spawn_blocking(move || inbox.send(job(path)));
    }
}

/// At most this many paths come back for one Tab.
const MAX_PATHS: usize = 200;

/// The entries of the folder `typed` names whose names start with its last part, each as
/// `typed` would read completed (a folder ends in '/'), in order; hidden ones only when the
/// last part starts with '.'. `~/` is the home folder, kept as typed.
fn paths_starting(typed: &str) -> Vec<String> {
    let (folder, start) = match typed.rfind('/') {
        Some(at) => (&typed[..=at], &typed[at + 1..]),
        None => ("", typed),
    };
    let home = dirs_home();
    let real = match (folder.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => home.join(rest),
        _ if folder.is_empty() => PathBuf::from("."),
        _ => PathBuf::from(folder),
    };
    let Ok(entries) = std::fs::read_dir(&real) else { return Vec::new() };
    let mut found: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            // A name the screen would show changed could not be typed back.
            if llamadeck_words::text::sanitize(&name) != name {
                return None;
            }
            let shown = name.starts_with(start) && (start.starts_with('.') || !name.starts_with('.'));
            // A link to a folder is followed, as loading it would.
            let dir = std::fs::metadata(e.path()).is_ok_and(|m| m.is_dir());
            shown.then(|| format!("{folder}{name}{}", if dir { "/" } else { "" }))
        })
        .take(MAX_PATHS)
        .collect();
    found.sort();
    found
}

fn dirs_home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from).filter(|p| p.is_absolute())
}

fn save_settings(path: PathBuf, sampling: Sampling, preset: Option<String>) -> Action {
    let result = llamadeck_config::save_sampling(&path, &sampling, preset.as_deref()).map(|()| path).map_err(|e| e.to_string());
    Action::Saved { result, sampling, preset }
}

/// Answers for a console that saves nothing (no data folder): saves are skipped quietly,
/// what the operator asked for explicitly is refused with a reason.
fn no_store(request: Request) -> Option<Reply> {
    let why = || "conversations are not saved: no data folder (set XDG_DATA_HOME or HOME)".to_string();
    Some(match request {
        Request::Save { .. } | Request::Latest => return None,
        Request::List => Reply::Listed(Listing::default()),
        Request::Load(_) => Reply::Loaded(Err(why())),
        Request::Rename { .. } => Reply::Renamed(Err(why())),
        Request::Delete(_) => Reply::Deleted(Err(why())),
        Request::Export { .. } => Reply::Exported(Err(why())),
    })
}

/// F5: the config file as it is now (the defaults when there is none) and its keymap; the
/// reducer takes the model to load from it and the command line's choices.
fn reread_config(config_path: &std::path::Path) -> Result<Box<Reread>, String> {
    // The error names the file by its name only: the status bar then has room for where and why.
    // Several problems (one a line) become one notice, in line order.
    let short = |e: String| match config_path.file_name() {
        Some(name) => e.replace(&config_path.display().to_string(), &name.to_string_lossy()).replace('\n', " · "),
        None => e.replace('\n', " · "),
    };
    let loaded = llamadeck_config::load_file(config_path, false).map_err(|e| short(e.to_string()))?;
    let keymap = Keymap::from_config(&loaded.config.keys)
        .map_err(|(command, message)| short(format!("{}: keys.{command}: {message}", config_path.display())))?;
    Ok(Box::new(Reread { config: loaded.config, keymap }))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::session::Inbox;
    use llamadeck_engine::{Backend, Engine, EngineStatus, GenerateRequest, GenerationSink};

    /// An engine that is never asked anything here.
    struct Idle(tokio::sync::watch::Receiver<EngineStatus>);

    impl Backend for Idle {
        fn refresh(&self) {}
        fn status(&self) -> tokio::sync::watch::Receiver<EngineStatus> {
            self.0.clone()
        }
        fn generate(&self, _request: GenerateRequest, _sink: GenerationSink) {}
    }

    /// Tab on `/model`: the folder's entries that start as typed, folders ending in '/', hidden
    /// ones only when asked for.
    #[test]
    fn paths_complete_from_the_folder_typed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("llama-2.gguf"), "").unwrap();
        std::fs::create_dir(dir.path().join("llama-3")).unwrap();
        std::fs::write(dir.path().join(".llama-hidden"), "").unwrap();
        std::fs::write(dir.path().join("other.gguf"), "").unwrap();
        let folder = format!("{}/", dir.path().display());
        assert_eq!(paths_starting(&format!("{folder}ll")), [format!("{folder}llama-2.gguf"), format!("{folder}llama-3/")]);
        assert_eq!(paths_starting(&format!("{folder}.l")), [format!("{folder}.llama-hidden")]);
        assert!(paths_starting(&format!("{folder}nothing")).is_empty());
        assert!(paths_starting("/no/such/folder/x").is_empty());
    }

    /// F5 on a file with several problems: one notice naming each, in line order.
    #[test]
    fn f5_on_a_config_with_several_problems_names_each() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, "sampling:\n  temperature: 9\nui:\n  fps: 0\n").unwrap();
        let Err(error) = reread_config(&path) else { panic!("two problems") };
        assert_eq!(
            error,
            "config.yaml:2:16: sampling.temperature: must be between 0 and 2 (got 9) · \
             config.yaml:4:8: ui.fps: must be between 1 and 120 (got 0)"
        );
    }

    /// Saving the settings and reading the config again touch the disk: they answer through the
    /// inbox from the blocking pool, never inline on the loop's thread.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn file_work_answers_through_the_inbox_off_the_loop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        let mut inbox = Inbox::new();
        let (_status, rx) = tokio::sync::watch::channel(EngineStatus::default());
        let link = EngineLink::new(Engine::new(Idle(rx)), inbox.sender());
        let mut effects = Effects::new(link, path.clone(), inbox.sender());
        let spec = ModelSpec::default();
        let save = Effect::SaveSettings { sampling: Sampling::default(), preset: None };
        assert!(effects.carry_out(save, &spec).is_none(), "no answer inline");
        let saved = tokio::time::timeout(Duration::from_secs(10), inbox.recv()).await.unwrap();
        assert!(matches!(saved, Action::Saved { result: Ok(ref p), .. } if *p == path), "{saved:?}");
        assert!(path.exists());
        assert!(effects.carry_out(Effect::ReloadConfig, &spec).is_none(), "no answer inline");
        let reread = tokio::time::timeout(Duration::from_secs(10), inbox.recv()).await.unwrap();
        assert!(matches!(reread, Action::ConfigReread(Ok(_))), "{reread:?}");
    }
}
