//! Floors 3 to 5 of llamadeck, the console: `session` (what the session holds, Action and
//! Effect), `panes` (each pane and overlay: its state, keys, hints and drawing), `app` (the State
//! and the pure reducer that routes keys down the pane stack), `ui` (drawing the state, reading
//! only), `tui` (the terminal and the loop over the one inbox) and `signals` (the signals that
//! end it cleanly). No mistral.rs here: the console reaches a model only through
//! `llamadeck_engine::Engine`.
pub mod app;
pub mod panes;
pub mod session;
pub mod signals;
pub mod tui;
pub mod ui;
