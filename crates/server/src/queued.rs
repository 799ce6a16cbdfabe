//! Answers each client address has waiting for the model: asked for and no token yet. One
//! client may have at most `server.max_queued_per_client` of them; a request beyond is answered
//! 429 before it reaches the engine, so one busy client cannot fill the engine's queue and make
//! everyone else wait behind it.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

#[derive(Debug)]
pub struct Queued {
    max: usize,
    by_client: Mutex<HashMap<IpAddr, usize>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Queued {
    pub fn new(max: usize) -> Self {
        Self { max: max.max(1), by_client: Mutex::default() }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// A place in line for one answer of `client`, held until the ticket drops; `None` when the
    /// client has `max` waiting already.
    pub fn enter(self: &Arc<Self>, client: IpAddr) -> Option<Ticket> {
        let mut by_client = lock(&self.by_client);
        let waiting = by_client.entry(client).or_default();
        if *waiting >= self.max {
            return None;
        }
        *waiting += 1;
        Some(Ticket { queued: self.clone(), client })
    }
}

/// One waiting answer; dropped when its first token arrives or it ends.
#[derive(Debug)]
pub struct Ticket {
    queued: Arc<Queued>,
    client: IpAddr,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut by_client = lock(&self.queued.by_client);
        if let Some(waiting) = by_client.get_mut(&self.client) {
            *waiting -= 1;
            if *waiting == 0 {
                by_client.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_waits_with_at_most_max_answers() {
        let queued = Arc::new(Queued::new(2));
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let first = queued.enter(a).unwrap();
        let _second = queued.enter(a).unwrap();
        assert!(queued.enter(a).is_none());
        assert!(queued.enter(b).is_some(), "another client is not affected");
        drop(first);
        let _third = queued.enter(a).expect("a place freed");
        assert!(queued.enter(a).is_none());
    }

    #[test]
    fn clients_with_nothing_waiting_are_forgotten() {
        let queued = Arc::new(Queued::new(1));
        for last in 0..=255u8 {
            drop(queued.enter(IpAddr::from([10, 0, 0, last])));
        }
        assert!(lock(&queued.by_client).is_empty());
    }
}
