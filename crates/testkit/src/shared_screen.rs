//! A TestBackend that a test reads while the console's loop draws on it (the loop owns the
//! `Terminal`; the test holds a clone of the same screen).
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ratatui::backend::TestBackend;

#[derive(Clone)]
pub struct SharedScreen(pub Arc<Mutex<TestBackend>>);

impl SharedScreen {
    pub fn new(width: u16, height: u16) -> Self {
        Self(Arc::new(Mutex::new(TestBackend::new(width, height))))
    }

    pub fn text(&self) -> String {
        format!("{}", self.0.lock().unwrap())
    }

    /// Waits until the screen shows `text`; false after `timeout`.
    pub async fn wait_for(&self, text: &str, timeout: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if self.text().contains(text) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    /// Waits until `ready` holds for the screen's text; panics naming `what` after `limit`.
    pub async fn until(&self, what: &str, limit: Duration, ready: impl Fn(&str) -> bool) {
        let started = Instant::now();
        loop {
            let text = self.text();
            if ready(&text) {
                return;
            }
            assert!(started.elapsed() < limit, "no {what} within {limit:?}:\n{text}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn shows(&self, text: &str, limit: Duration) {
        self.until(&format!("{text:?} on screen"), limit, |t| t.contains(text)).await;
    }
}

impl ratatui::backend::Backend for SharedScreen {
    type Error = std::convert::Infallible;

    fn draw<'a, I: Iterator<Item = (u16, u16, &'a ratatui::buffer::Cell)>>(&mut self, content: I) -> Result<(), Self::Error> {
        self.0.lock().unwrap().draw(content)
    }
    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.0.lock().unwrap().hide_cursor()
    }
    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.0.lock().unwrap().show_cursor()
    }
    fn get_cursor_position(&mut self) -> Result<ratatui::layout::Position, Self::Error> {
        self.0.lock().unwrap().get_cursor_position()
    }
    fn set_cursor_position<P: Into<ratatui::layout::Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        self.0.lock().unwrap().set_cursor_position(position)
    }
    fn clear(&mut self) -> Result<(), Self::Error> {
        self.0.lock().unwrap().clear()
    }
    fn clear_region(&mut self, clear_type: ratatui::backend::ClearType) -> Result<(), Self::Error> {
        self.0.lock().unwrap().clear_region(clear_type)
    }
    fn size(&self) -> Result<ratatui::layout::Size, Self::Error> {
        self.0.lock().unwrap().size()
    }
    fn window_size(&mut self) -> Result<ratatui::backend::WindowSize, Self::Error> {
        self.0.lock().unwrap().window_size()
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.0.lock().unwrap().flush()
    }
}
