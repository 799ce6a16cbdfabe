//! `llamadeck bench`: any engine measured through its face (see `engine::bench`): the model
//! here (`--model`, else the demo model), or the server `--connect` names (a URL, or a node of
//! the config), chosen where every engine is (`startup::engine`).
use std::path::{Path, PathBuf};

use crate::cli::{BenchCli, Cli};
use llamadeck_engine::bench::{BenchArgs, run as bench, run_conversation};
use llamadeck_engine::{ModelSpec, Run, demo_model_path};

/// Returns the exit code.
pub fn run(cli: &Cli, args: &BenchCli) -> i32 {
    let run = match what_to_measure(cli, args) {
        Ok(run) => run,
        Err(e) => {
            eprintln!("llamadeck bench: {e}");
            return 2;
        }
    };
    let (json, turns) = (args.json, args.turns);
    let args = BenchArgs {
        run: run.clone(),
        prompt_tokens: args.prompt_tokens,
        prompt: args.prompt.clone(),
        gen_tokens: args.gen_tokens,
        runs: args.runs,
        threads: args.threads,
        soak: args.soak,
    };
    let start = || super::engine::open_started(&run);
    if let Some(turns) = turns {
        return report(run_conversation(args, turns, start), json);
    }
    report(bench(args, start), json)
}

/// The node `--connect` names, else the model here with the bench's own settings.
fn what_to_measure(cli: &Cli, args: &BenchCli) -> Result<Run, String> {
    if let Some(given) = cli.connect.as_deref() {
        // A node's name needs the config's list (a name may hold a dot: it goes first); a URL
        // needs no config at all, so a config that cannot be read does not stop it.
        let nodes = match given.contains("://") {
            true => Vec::new(),
            false => {
                let listed =
                    llamadeck_config::load(cli.config.as_deref()).map_err(|e| e.to_string()).and_then(|l| super::fleet::targets(&l));
                match listed {
                    Ok(nodes) => nodes,
                    Err(_) if llamadeck_engine::remote::looks_like_url(given) => Vec::new(),
                    Err(e) => return Err(e),
                }
            }
        };
        let target = super::fleet::connect_target(given, &[], &nodes, |v| std::env::var(v).ok())?;
        return target.api.map(Run::Node).ok_or_else(|| format!("--connect {given}: no API to measure"));
    }
    let model = model_to_measure(cli.model.as_deref(), &demo_model_path())?;
    Ok(Run::Local(ModelSpec {
        source: model.to_string_lossy().into_owned(),
        isq: args.isq.clone(),
        device: args.device.clone(),
        cpu_weights: args.cpu_weights,
        prefix_cache: args.prefix_cache,
        paged_attention: args.paged_attention,
        ..ModelSpec::default()
    }))
}

/// Prints a report (a table, or one JSON line with --json); the exit code.
fn report<R: serde::Serialize + std::fmt::Display>(result: anyhow::Result<R>, json: bool) -> i32 {
    match result {
        Ok(report) if json => {
            println!("{}", serde_json::to_string(&report).expect("a report serializes"));
            0
        }
        Ok(report) => {
            // The table quotes the model's text: shown, never obeyed by the terminal.
            println!("{}", llamadeck_words::text::sanitize(&report.to_string()));
            0
        }
        Err(e) => {
            crate::startup::say(&format!("bench: {e:#}"));
            1
        }
    }
}

/// The model `--model` names, else the demo model, which must have been fetched.
fn model_to_measure(given: Option<&str>, demo: &Path) -> Result<PathBuf, String> {
    match given {
        Some(model) => Ok(PathBuf::from(model)),
        None if demo.is_file() => Ok(demo.to_path_buf()),
        None => Err(format!(
            "no --model given, and the demo model is not downloaded yet ({}): run `llamadeck fetch-demo`, \
             or pass --model FILE",
            demo.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_names_a_node_even_with_a_dot_and_a_url_needs_no_readable_config() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("c.yaml");
        std::fs::write(&config, "nodes:\n  - name: gpu-a.lan\n    url: http://127.0.0.1:9/v1\n").unwrap();
        let bench = |connect: &str| {
            let cli = Cli { connect: Some(connect.into()), config: Some(config.clone()), ..Cli::default() };
            match what_to_measure(&cli, &crate::cli::tests::bench_defaults()) {
                Ok(Run::Node(node)) => Ok(node.base_url),
                Ok(other) => panic!("{other:?}"),
                Err(e) => Err(e),
            }
        };
        assert_eq!(bench("gpu-a.lan"), Ok("http://127.0.0.1:9/v1".into()), "the node, not a host called gpu-a.lan");
        std::fs::write(&config, "sampling:\n  temperature: 7.5\n").unwrap();
        assert_eq!(bench("127.0.0.1:8000"), Ok("http://127.0.0.1:8000/v1".into()));
        assert!(bench("gpu-a").unwrap_err().contains("temperature"), "a name needs the config");
    }

    #[test]
    fn without_a_model_or_the_demo_model_it_says_how_to_get_one() {
        let dir = tempfile::tempdir().unwrap();
        let demo = dir.path().join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
        let err = model_to_measure(None, &demo).unwrap_err();
        assert!(err.starts_with("no --model given, and the demo model is not downloaded yet ("), "{err}");
        assert!(err.contains("run `llamadeck fetch-demo`"), "{err}");
        std::fs::create_dir_all(demo.parent().unwrap()).unwrap();
        std::fs::write(&demo, b"GGUF").unwrap();
        assert_eq!(model_to_measure(None, &demo), Ok(demo.clone()));
        assert_eq!(model_to_measure(Some("/m.gguf"), &demo), Ok(PathBuf::from("/m.gguf")));
    }
}
