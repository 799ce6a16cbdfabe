use clap::Parser;
use llamadeck::startup::{Cli, Sub, run_console};

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Some(Sub::Bench(ref args)) => llamadeck::engine::bench::run_cli(&cli, args),
        Some(Sub::Serve(ref args)) => llamadeck::server::headless::run_cli(&cli, args),
        Some(Sub::Gpu(ref args)) => llamadeck::gpu::report::run_cli(args),
        None => run_console(cli),
    };
    std::process::exit(code);
}
