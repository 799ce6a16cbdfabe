//! The console's one inbox. Every producer (terminal, engine, GPU sampler, API server,
//! conversation store, signals) sends `Action`s here, so a new producer touches itself and the
//! reducer, not the loop. Bursts (tokens) queue up and are drained into one frame.
use tokio::sync::mpsc;

use super::action::Action;
use llamadeck_words::sink::Sink;

pub struct Inbox {
    tx: mpsc::UnboundedSender<Action>,
    rx: mpsc::UnboundedReceiver<Action>,
}

/// A producer's end of the inbox.
#[derive(Clone, Debug)]
pub struct Sender(mpsc::UnboundedSender<Action>);

impl Inbox {
    pub fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self { tx, rx }
    }

    pub fn sender(&self) -> Sender {
        Sender(self.tx.clone())
    }

    /// The next action (the inbox holds a sender itself, so this never ends).
    pub async fn recv(&mut self) -> Action {
        self.rx.recv().await.expect("the inbox holds a sender")
    }

    /// An action that is already waiting.
    pub fn try_recv(&mut self) -> Option<Action> {
        self.rx.try_recv().ok()
    }
}

impl Default for Inbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sender {
    /// False once the console has stopped reading.
    pub fn send(&self, action: Action) -> bool {
        self.0.send(action).is_ok()
    }

    /// A producer's own event type, wrapped into an action (`Action::Server`, `Action::Store`...).
    pub fn sink<T: 'static>(&self, wrap: fn(T) -> Action) -> Sink<T> {
        let tx = self.0.clone();
        Sink::new(move |item| {
            let _ = tx.send(wrap(item));
        })
    }

    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}
