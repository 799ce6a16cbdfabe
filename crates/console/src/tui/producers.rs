//! Producers the console wires to its inbox besides the engine (see `engine_link`) and the store
//! (its worker answers into the inbox itself): the terminal, the GPU sampler, the fleet's
//! readings and the signals.
use std::io;
use std::sync::Arc;

use crossterm::event::Event;
use futures::{Stream, StreamExt};
use tokio::sync::{mpsc, watch};

use crate::app::Action;
use crate::session::inbox::Sender;
use llamadeck_gpu::snapshot::GpuSnapshot;

/// Keys, mouse events, pastes and resizes; `TerminalClosed` when the stream ends or fails.
pub fn terminal<S>(mut events: S, inbox: Sender)
where
    S: Stream<Item = io::Result<Event>> + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let end = loop {
            let action = match events.next().await {
                Some(Ok(Event::Key(key))) => Action::Key(key),
                Some(Ok(Event::Mouse(mouse))) => Action::Mouse(mouse),
                Some(Ok(Event::Paste(text))) => Action::Paste(text),
                Some(Ok(Event::Resize(w, h))) => Action::Resize(w, h),
                Some(Ok(_)) => continue,
                Some(Err(e)) => break Some(e.to_string()),
                None => break None,
            };
            if !inbox.send(action) {
                return;
            }
        };
        inbox.send(Action::TerminalClosed(end));
    });
}

/// Every new GPU reading; the current one first when it is a real reading (the sampler starts
/// on an empty placeholder, already marked seen).
pub fn gpu(mut readings: watch::Receiver<Arc<GpuSnapshot>>, inbox: Sender) {
    tokio::spawn(async move {
        let fresh = readings.has_changed().unwrap_or(false);
        let current = readings.borrow_and_update().clone();
        if (fresh || !current.devices.is_empty()) && !inbox.send(Action::Gpu(current)) {
            return;
        }
        while readings.changed().await.is_ok() {
            if !inbox.send(Action::Gpu(readings.borrow_and_update().clone())) {
                return;
            }
        }
    });
}

/// Every new fleet reading (the first too: the nodes' names before any poll).
pub fn fleet(mut readings: watch::Receiver<Arc<llamadeck_fleet::Fleet>>, inbox: Sender) {
    tokio::spawn(async move {
        let first = readings.borrow_and_update().clone();
        if !inbox.send(Action::Fleet(first)) {
            return;
        }
        while readings.changed().await.is_ok() {
            if !inbox.send(Action::Fleet(readings.borrow_and_update().clone())) {
                return;
            }
        }
    });
}

/// SIGTERM and SIGHUP (`crate::signals`), each ending the loop.
pub fn signals(mut names: mpsc::UnboundedReceiver<&'static str>, inbox: Sender) {
    tokio::spawn(async move {
        while let Some(name) = names.recv().await {
            if !inbox.send(Action::Signal(name)) {
                return;
            }
        }
    });
}
