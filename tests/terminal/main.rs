//! The real binary in a pseudo-terminal (`pty` is the terminal helper): the terminal restored
//! after signals, panics and the quit key, what the console says without a terminal or with a
//! bad config (`lifecycle`), and SIGKILL in the middle of an answer (`kill_and_resume`).
mod kill_and_resume;
mod lifecycle;
mod pty;
