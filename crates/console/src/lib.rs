//! Floors 3 to 5 of llamadeck, the console: `app` (State, Action, Effect and the pure
//! reducer), `ui` (drawing the state, reading only), `tui` (the terminal and the loop over the
//! one inbox) and `signals` (the signals that end it cleanly). No mistral.rs here: the console
//! reaches a model only through `llamadeck_engine::Engine`.
pub mod app;
pub mod signals;
pub mod tui;
pub mod ui;
