//! The real binary in a pseudo-terminal (`pty` is the terminal helper): the terminal restored
//! after signals, panics and the quit key, what the console says without a terminal or with a
//! bad config (`lifecycle`), after an abort or a crash (`crash`), SIGKILL in the middle of an
//! answer (`kill_and_resume`), and a conversation's markdown, versions and slash commands
//! (`content`).
mod content;
mod crash;
mod kill_and_resume;
mod lifecycle;
mod pty;
