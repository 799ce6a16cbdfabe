//! llamadeck: a terminal console for running Llama-2 with mistral.rs on your own GPU servers.
//!
//! This package is floor 6, the top of the workspace (ARCHITECTURE.md has the picture): `cli`
//! (the command line) and `startup` (the composition root: one function per subcommand, the
//! only place that chooses a backend). The floors below are crates of their own under `crates/`.
pub mod cli;
pub mod startup;
