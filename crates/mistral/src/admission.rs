//! The order in which waiting answers are handed to mistral.rs. The worker admits an answer
//! when a slot is free (on the CPU one answer runs at a time, on a GPU up to the batch limit);
//! until then it waits here, where it costs nothing and its caller can still leave. Every
//! waiting `Interactive` request (the operator's own chat) goes before every `Queued` one (the
//! API's); requests of one priority go in the order they came. mistral.rs's own queue is first
//! come, first served, so nothing may wait there.
use std::collections::VecDeque;

use llamadeck_engine::Priority;

/// Waiting entries, by priority. `T` is what admits one (the worker's "go" signal).
#[derive(Debug)]
pub struct AdmissionQueue<T> {
    interactive: VecDeque<T>,
    queued: VecDeque<T>,
}

impl<T> Default for AdmissionQueue<T> {
    fn default() -> Self {
        Self { interactive: VecDeque::new(), queued: VecDeque::new() }
    }
}

impl<T> AdmissionQueue<T> {
    /// Adds an entry behind those of its priority. Entries whose caller left (`live` is false)
    /// are dropped on the way, so callers that come and go cannot grow the queue.
    pub fn push(&mut self, priority: Priority, entry: T, live: impl Fn(&T) -> bool) {
        self.interactive.retain(&live);
        self.queued.retain(&live);
        match priority {
            Priority::Interactive => self.interactive.push_back(entry),
            Priority::Queued => self.queued.push_back(entry),
        }
    }

    /// The next entry to admit, skipping (and dropping) those whose caller left.
    pub fn pop(&mut self, live: impl Fn(&T) -> bool) -> Option<T> {
        for line in [&mut self.interactive, &mut self.queued] {
            while let Some(entry) = line.pop_front() {
                if live(&entry) {
                    return Some(entry);
                }
            }
        }
        None
    }

    /// Every entry, in no particular order (a new model is loading).
    pub fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.interactive.drain(..).chain(self.queued.drain(..))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashSet;

    impl<T> AdmissionQueue<T> {
        fn len(&self) -> usize {
            self.interactive.len() + self.queued.len()
        }

        fn is_empty(&self) -> bool {
            self.len() == 0
        }
    }

    /// Entries are names; `gone` holds the names whose caller left.
    struct Fixture {
        queue: AdmissionQueue<&'static str>,
        gone: RefCell<HashSet<&'static str>>,
    }

    impl Fixture {
        fn new() -> Self {
            Self { queue: AdmissionQueue::default(), gone: RefCell::default() }
        }

        fn push(&mut self, priority: Priority, name: &'static str) {
            let gone = &self.gone;
            self.queue.push(priority, name, |n| !gone.borrow().contains(n));
        }

        fn pop(&mut self) -> Option<&'static str> {
            let gone = &self.gone;
            self.queue.pop(|n| !gone.borrow().contains(n))
        }

        fn order(&mut self) -> Vec<&'static str> {
            std::iter::from_fn(|| self.pop()).collect()
        }
    }

    #[test]
    fn interactive_requests_go_first_and_each_priority_keeps_its_order() {
        let mut f = Fixture::new();
        f.push(Priority::Queued, "api 1");
        f.push(Priority::Queued, "api 2");
        f.push(Priority::Interactive, "console 1");
        f.push(Priority::Queued, "api 3");
        f.push(Priority::Interactive, "console 2");
        assert_eq!(f.queue.len(), 5);
        assert_eq!(f.order(), ["console 1", "console 2", "api 1", "api 2", "api 3"]);
        assert!(f.queue.is_empty());
        assert_eq!(f.pop(), None);
    }

    #[test]
    fn an_entry_whose_caller_left_is_skipped_and_admits_nothing() {
        let mut f = Fixture::new();
        f.push(Priority::Queued, "api 1");
        f.push(Priority::Interactive, "console");
        f.push(Priority::Queued, "api 2");
        f.gone.borrow_mut().extend(["console", "api 1"]);
        assert_eq!(f.pop(), Some("api 2"));
        assert_eq!(f.pop(), None);
    }

    #[test]
    fn callers_that_leave_do_not_grow_the_queue() {
        let mut f = Fixture::new();
        let names: Vec<&'static str> = (0..100).map(|i| &*format!("api {i}").leak()).collect();
        for name in &names {
            f.push(Priority::Queued, name);
            f.gone.borrow_mut().insert(name);
        }
        f.push(Priority::Queued, "last");
        assert_eq!(f.queue.len(), 1);
        assert_eq!(f.order(), ["last"]);
    }

    #[test]
    fn a_new_load_takes_every_entry() {
        let mut f = Fixture::new();
        f.push(Priority::Queued, "api");
        f.push(Priority::Interactive, "console");
        let mut taken: Vec<_> = f.queue.drain().collect();
        taken.sort();
        assert_eq!(taken, ["api", "console"]);
        assert!(f.queue.is_empty());
    }
}
