//! Where a producer reports what happens. A producer (the API server, the conversation store)
//! takes a `Sink` of its own event type and knows nothing of who listens; the composition root
//! wires it to the console's inbox, to a log, or to nothing.
use std::sync::Arc;

pub struct Sink<T>(Arc<dyn Fn(T) + Send + Sync>);

impl<T> Clone for Sink<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> std::fmt::Debug for Sink<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sink")
    }
}

impl<T: 'static> Sink<T> {
    pub fn new(f: impl Fn(T) + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// A sink that drops everything.
    pub fn discard() -> Self {
        Self::new(|_| {})
    }

    /// Into a tokio channel (a send after the receiver is gone is dropped).
    pub fn channel(tx: tokio::sync::mpsc::UnboundedSender<T>) -> Self
    where
        T: Send,
    {
        Self::new(move |item| {
            let _ = tx.send(item);
        })
    }

    pub fn send(&self, item: T) {
        (self.0)(item)
    }
}
