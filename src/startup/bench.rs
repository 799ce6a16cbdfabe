//! `llamadeck bench`: the in-process engine measured through its face (see `engine::bench`).
use std::path::PathBuf;

use crate::cli::{BenchCli, Cli};
use crate::engine::bench::{BenchArgs, run as bench};
use crate::engine::{demo_model_path, mistral};

/// `--model` (global) or the demo model. Returns the exit code.
pub fn run(cli: &Cli, args: &BenchCli) -> i32 {
    let model = cli.model.clone().map(PathBuf::from).unwrap_or_else(demo_model_path);
    let json = args.json;
    let args = BenchArgs {
        model,
        prompt_tokens: args.prompt_tokens,
        prompt: args.prompt.clone(),
        gen_tokens: args.gen_tokens,
        runs: args.runs,
        threads: args.threads,
        device: args.device.clone(),
        isq: args.isq.clone(),
        cpu_weights: args.cpu_weights,
        soak: args.soak,
    };
    match bench(args, mistral::spawn) {
        Ok(report) if json => {
            println!("{}", serde_json::to_string(&report).expect("a report serializes"));
            0
        }
        Ok(report) => {
            println!("{report}");
            0
        }
        Err(e) => {
            eprintln!("llamadeck bench: {e:#}");
            1
        }
    }
}
