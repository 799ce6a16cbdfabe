//! `llamadeck gpu`: the GPU panel's readings as lines (see `gpu::report`).
use std::time::Duration;

use crate::cli::GpuCli;

pub fn run(args: &GpuCli) -> i32 {
    let interval = Duration::from_millis(args.interval_ms);
    llamadeck_gpu::report::run(args.samples, interval, &mut std::io::stdout().lock(), &mut std::io::stderr())
}
