//! Used by the lifecycle test: enters full-screen mode the way the console does, then a
//! background task panics. The terminal must come back as it was and the process must end.
use std::time::Duration;

fn main() {
    llamadeck::tui::terminal::install_panic_hook("the log".into());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let mut terminal = llamadeck::tui::terminal::enter().expect("terminal");
        terminal.draw(|f| f.render_widget("panic-test-ready", f.area())).unwrap();
        tokio::spawn(async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            panic!("injected panic in a background task");
        });
        tokio::time::sleep(Duration::from_secs(20)).await;
    });
    llamadeck::tui::terminal::restore();
}
