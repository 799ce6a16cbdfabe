//! The composition root: one function per subcommand wires the pieces together (config, engine,
//! producers, server, terminal). Nothing imports this module but `main`.
mod bench;
mod console;
mod gpu;
mod logging;
mod serve;

pub use console::theme;

use crate::cli::{Cli, Sub};

/// Runs what the command line asks for; returns the process exit code.
pub fn main(cli: Cli) -> i32 {
    match cli.command {
        Some(Sub::Bench(ref args)) => bench::run(&cli, args),
        Some(Sub::Serve(ref args)) => serve::run(&cli, args),
        Some(Sub::Gpu(ref args)) => gpu::run(args),
        None => console::run(cli),
    }
}
