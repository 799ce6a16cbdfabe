//! The command line: what each subcommand accepts. Parsing only; `startup` wires each one.
//!
//! Each subcommand has its own options (`gpu --help` lists no model or API options), each
//! checked with its own message. `Cli` is the result: the options in effect, wherever they were
//! given. For scripts written before subcommands had their own, an option the subcommand takes
//! may also come before it (`llamadeck --model M bench`); one it does not take is refused.
use std::path::PathBuf;

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

use llamadeck_config::{Config, ISQ_TYPES, Launch};
use llamadeck_engine::{CpuWeights, ModelSpec, PrefixCache};

/// What the command line asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cli {
    /// `--config FILE` (console, serve).
    pub config: Option<PathBuf>,
    /// `--model PATH_OR_HUB_ID` (console, serve, bench).
    pub model: Option<String>,
    /// `--allow-download`: a model that is not a local path may come from the hub (console, serve).
    pub allow_download: bool,
    /// `--insecure`: serve a non-loopback address without a key (console, serve).
    pub insecure: bool,
    /// `--connect URL_OR_NODE`: the console chats with that server instead of loading a model
    /// (console only).
    pub connect: Option<String>,
    pub command: Option<Sub>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Sub {
    Bench(BenchCli),
    Serve(ServeCli),
    Gpu(GpuCli),
}

impl Cli {
    /// What the command line chose about the model (`--connect`'s URL is the composition root's
    /// to fill in: a node's name resolves through the config).
    pub fn launch(&self) -> Launch {
        Launch { model: self.model.clone(), allow_download: self.allow_download, connect: None }
    }

    /// The model to load: `config`'s, with `--model` and `--allow-download` over it.
    pub fn model_spec(&self, config: &Config) -> ModelSpec {
        config.launch_spec(&self.launch())
    }
}

// ---- the shape clap parses ----

#[derive(Debug, Parser)]
#[command(name = "llamadeck", version, about = "Terminal console for running Llama-2 with mistral.rs on your own GPU servers")]
struct Parsed {
    #[command(flatten)]
    console: ConsoleArgs,
    #[command(subcommand)]
    command: Option<SubArgs>,
}

#[derive(Debug, Default, clap::Args)]
struct ConfigArg {
    /// Config file (default: $XDG_CONFIG_HOME/llamadeck/config.yaml).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Debug, Default, clap::Args)]
struct ModelArgs {
    /// Model to load: a local Hugging Face directory, a .gguf file, or a hub id (owner/name).
    #[arg(long, value_name = "PATH_OR_HUB_ID")]
    model: Option<String>,
    /// Let a model that is not a local path be downloaded from the Hugging Face hub
    /// (as model.allow_download: true).
    #[arg(long)]
    allow_download: bool,
}

#[derive(Debug, Default, clap::Args)]
struct ApiArgs {
    /// Serve the API on a non-loopback address without server.api_key.
    #[arg(long)]
    insecure: bool,
}

/// The console's options (no subcommand); also what may come before a subcommand.
#[derive(Debug, Default, clap::Args)]
struct ConsoleArgs {
    #[command(flatten)]
    config: ConfigArg,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    api: ApiArgs,
    /// Chat with a running OpenAI-compatible server instead of loading a model here: its base
    /// URL (http://127.0.0.1:8000/v1) or the name of a node in the config. Its key, if it needs
    /// one: the node's api_key_env or api_key_file, or LLAMADECK_API_KEY for a URL.
    #[arg(long, value_name = "URL_OR_NODE", conflicts_with = "model", value_parser = connect_target)]
    connect: Option<String>,
}

#[derive(Debug, Subcommand)]
enum SubArgs {
    /// Measure load time, prefill and decode speed, first-token time and peak memory.
    Bench(BenchArgs),
    /// Serve the OpenAI-compatible API without the console (for systemd; logs to stderr).
    Serve(ServeArgs),
    /// Print the GPU panel's readings (NVML) as lines, in nvidia-smi's column order; exit 1 without NVML.
    Gpu(GpuCli),
}

#[derive(Debug, clap::Args)]
struct BenchArgs {
    /// Model to measure: a local .gguf file or Hugging Face directory (default: the demo model,
    /// which scripts/fetch-demo-model downloads).
    #[arg(long, value_name = "PATH")]
    model: Option<String>,
    /// Measure a running OpenAI-compatible server instead: its base URL or a node of the config
    /// (its key as for the console's --connect). Its speed is what a client sees over HTTP.
    #[arg(long, value_name = "URL_OR_NODE", conflicts_with = "model", value_parser = connect_target)]
    connect: Option<String>,
    /// The config whose nodes --connect may name.
    #[command(flatten)]
    config: ConfigArg,
    #[command(flatten)]
    bench: BenchCli,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    #[command(flatten)]
    config: ConfigArg,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    api: ApiArgs,
    #[command(flatten)]
    serve: ServeCli,
}

#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct BenchCli {
    /// Prompt length in tokens (approximate; the report shows the exact count).
    #[arg(long, default_value_t = 128, value_parser = at_least(1))]
    pub prompt_tokens: usize,
    /// A prompt of your own instead of `--prompt-tokens` words (for comparing greedy output).
    #[arg(long)]
    pub prompt: Option<String>,
    /// Tokens to generate per run (at least 2: the first is timed as time to first token).
    #[arg(long, default_value_t = 64, value_parser = at_least(2))]
    pub gen_tokens: usize,
    /// Measured runs (after one warm-up run).
    #[arg(long, default_value_t = 3, value_parser = at_least(1))]
    pub runs: usize,
    /// CPU threads (RAYON_NUM_THREADS); default: all cores.
    #[arg(long, value_parser = at_least(1))]
    pub threads: Option<usize>,
    /// "cpu" or "cuda:N".
    #[arg(long, default_value = "cpu", value_parser = device)]
    pub device: String,
    /// In-situ quantization for safetensors models, e.g. Q4K.
    #[arg(long, value_parser = isq)]
    pub isq: Option<String>,
    /// GGUF weights on CPU (as `model.cpu_weights` in the config).
    #[arg(long, value_enum, default_value_t = CpuWeights::Auto)]
    pub cpu_weights: CpuWeights,
    /// After the measured runs, this many more requests, then the resident set again: memory
    /// that grows per request shows up as the difference.
    #[arg(long, default_value_t = 0)]
    pub soak: usize,
    /// One conversation of this many turns instead (answers of --gen-tokens tokens): the time to
    /// the first token at each turn, the prefix cache's use and the memory at the end.
    #[arg(long, value_parser = at_least(1))]
    pub turns: Option<usize>,
    /// The prefix cache's budget (as `model.prefix_cache`): off, auto, 512 MiB, 2 GiB, 8 sequences.
    #[arg(long, default_value = "auto")]
    pub prefix_cache: PrefixCache,
    /// One JSON object instead of the table (for scripts/bench).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct ServeCli {
    /// Address to bind (default: the config's server.host, 127.0.0.1).
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// Port to bind (default: the config's server.port, 8229; 0 picks a free one).
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Append logs to this file instead of stderr.
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct GpuCli {
    /// Readings to print; each prints one line per GPU.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub samples: u32,
    /// Milliseconds between readings, 100 to 60000 (as gpu.interval_ms in the config).
    #[arg(long, default_value_t = 1000, value_name = "MS", value_parser = interval_ms)]
    pub interval_ms: u64,
}

// ---- value checks, each with its own words ----

/// A whole number of at least `min`.
fn at_least(min: usize) -> impl Fn(&str) -> Result<usize, String> + Clone + Send + Sync + 'static {
    move |s: &str| match s.trim().parse::<usize>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(format!("must be a whole number, at least {min}")),
    }
}

fn interval_ms(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if (100..=60_000).contains(&n) => Ok(n),
        _ => Err("must be a whole number of milliseconds between 100 and 60000".into()),
    }
}

fn device(s: &str) -> Result<String, String> {
    let s = s.trim();
    let cuda = s.strip_prefix("cuda:").is_some_and(|n| n.parse::<u32>().is_ok());
    if s == "cpu" || cuda { Ok(s.to_string()) } else { Err("must be \"cpu\" or \"cuda:N\" (N = the GPU's index)".into()) }
}

/// A URL (checked as the remote engine reads it) or a node's name (checked against the config
/// when the console starts).
fn connect_target(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("give the server's base URL (http://HOST:PORT/v1) or a node name from the config".into());
    }
    if s.contains("://") {
        llamadeck_engine::remote::api_base(s)?;
    }
    Ok(s.to_string())
}

fn isq(s: &str) -> Result<String, String> {
    match ISQ_TYPES.iter().find(|t| t.eq_ignore_ascii_case(s.trim())) {
        Some(t) => Ok(t.to_string()),
        None => Err(format!("must be one of {}", ISQ_TYPES.join(", "))),
    }
}

// ---- from what clap parsed to `Cli` ----

impl Parsed {
    fn into_cli(self) -> Result<Cli, clap::Error> {
        let before = self.console;
        let mut cli = Cli {
            config: before.config.config,
            model: before.model.model,
            allow_download: before.model.allow_download,
            insecure: before.api.insecure,
            connect: before.connect,
            command: None,
        };
        let Some(command) = self.command else { return Ok(cli) };
        let (name, taken): (&str, &[&str]) = match &command {
            SubArgs::Bench(_) => ("bench", &["--config", "--model", "--connect"]),
            SubArgs::Serve(_) => ("serve", &["--config", "--model", "--allow-download", "--insecure"]),
            SubArgs::Gpu(_) => ("gpu", &[]),
        };
        let given = [
            ("--config", cli.config.is_some()),
            ("--model", cli.model.is_some()),
            ("--allow-download", cli.allow_download),
            ("--insecure", cli.insecure),
            ("--connect", cli.connect.is_some()),
        ];
        if let Some((flag, _)) = given.iter().find(|(flag, set)| *set && !taken.contains(flag)) {
            let message = format!("{flag} is not an option of `llamadeck {name}` (see `llamadeck {name} --help`)");
            return Err(clap::Error::raw(clap::error::ErrorKind::ArgumentConflict, message));
        }
        cli.command = Some(match command {
            SubArgs::Bench(b) => {
                cli.model = b.model.or(cli.model);
                cli.connect = b.connect.or(cli.connect);
                cli.config = b.config.config.or(cli.config);
                if cli.model.is_some() && cli.connect.is_some() {
                    let message = "--model and --connect measure different things: give one of them";
                    return Err(clap::Error::raw(clap::error::ErrorKind::ArgumentConflict, message));
                }
                Sub::Bench(b.bench)
            }
            SubArgs::Serve(s) => {
                cli.config = s.config.config.or(cli.config);
                cli.model = s.model.model.or(cli.model);
                cli.allow_download |= s.model.allow_download;
                cli.insecure |= s.api.insecure;
                Sub::Serve(s.serve)
            }
            SubArgs::Gpu(g) => Sub::Gpu(g),
        });
        Ok(cli)
    }
}

impl CommandFactory for Cli {
    fn command() -> clap::Command {
        Parsed::command()
    }

    fn command_for_update() -> clap::Command {
        Parsed::command_for_update()
    }
}

impl FromArgMatches for Cli {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Parsed::from_arg_matches(matches)?.into_cli()
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Parser for Cli {}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, String> {
        Cli::try_parse_from(std::iter::once("llamadeck").chain(args.iter().copied())).map_err(|e| e.to_string())
    }

    fn help(sub: &str) -> String {
        let mut command = Cli::command();
        command.build();
        command.find_subcommand_mut(sub).unwrap().render_long_help().to_string()
    }

    #[test]
    fn each_subcommand_lists_only_its_own_options() {
        let bench = help("bench");
        assert!(bench.contains("--model") && bench.contains("--runs") && bench.contains("--connect"), "{bench}");
        for foreign in ["--insecure", "--allow-download", "--host", "--interval-ms"] {
            assert!(!bench.contains(foreign), "bench --help lists {foreign}:\n{bench}");
        }
        let gpu = help("gpu");
        for foreign in ["--insecure", "--config", "--model", "--allow-download", "--runs"] {
            assert!(!gpu.contains(foreign), "gpu --help lists {foreign}:\n{gpu}");
        }
        let serve = help("serve");
        for own in ["--config", "--model", "--allow-download", "--insecure", "--host", "--port", "--log-file"] {
            assert!(serve.contains(own), "serve --help lacks {own}:\n{serve}");
        }
    }

    #[test]
    fn each_value_is_checked_with_its_own_message() {
        let err = parse(&["gpu", "--interval-ms", "50"]).unwrap_err();
        assert!(err.contains("'50' for '--interval-ms <MS>': must be a whole number of milliseconds between 100 and 60000"), "{err}");
        let err = parse(&["bench", "--runs", "0"]).unwrap_err();
        assert!(err.contains("'0' for '--runs <RUNS>': must be a whole number, at least 1") && !err.contains("gen-tokens"), "{err}");
        let err = parse(&["bench", "--gen-tokens", "1"]).unwrap_err();
        assert!(err.contains("'--gen-tokens <GEN_TOKENS>': must be a whole number, at least 2"), "{err}");
        assert!(parse(&["bench", "--device", "gpu0"]).unwrap_err().contains("must be \"cpu\" or \"cuda:N\""));
        assert!(parse(&["bench", "--isq", "q3"]).unwrap_err().contains("must be one of Q4_0"));
        assert_eq!(
            parse(&["bench", "--isq", "q4k"]).unwrap().command,
            Some(Sub::Bench(BenchCli { isq: Some("Q4K".into()), ..bench_defaults() }))
        );
    }

    fn bench_defaults() -> BenchCli {
        match parse(&["bench"]).unwrap().command {
            Some(Sub::Bench(b)) => b,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn options_reach_the_cli_before_or_after_their_subcommand_and_foreign_ones_are_refused() {
        let serve = parse(&["serve", "--model", "m.gguf", "--allow-download", "--config", "c.yaml", "--insecure", "--port", "0"]).unwrap();
        assert_eq!((serve.model.as_deref(), serve.allow_download, serve.insecure), (Some("m.gguf"), true, true));
        assert_eq!(serve.config, Some(PathBuf::from("c.yaml")));
        assert!(matches!(serve.command, Some(Sub::Serve(ServeCli { port: Some(0), .. }))));
        // scripts/bench and scripts/gpu-check put --model first.
        assert_eq!(parse(&["--model", "m.gguf", "bench", "--json"]).unwrap().model.as_deref(), Some("m.gguf"));
        assert_eq!(parse(&["bench", "--model", "x.gguf"]).unwrap().model.as_deref(), Some("x.gguf"));
        let err = parse(&["--insecure", "gpu"]).unwrap_err();
        assert!(err.contains("--insecure is not an option of `llamadeck gpu`"), "{err}");
        assert!(parse(&["--allow-download", "bench"]).unwrap_err().contains("--allow-download is not an option of `llamadeck bench`"));
        // bench reads the config only for the nodes --connect may name.
        assert_eq!(parse(&["--config", "c.yaml", "bench"]).unwrap().config, Some(PathBuf::from("c.yaml")));
        assert!(parse(&["gpu", "--model", "m"]).is_err());
        let console = parse(&["--model", "a/b", "--allow-download"]).unwrap();
        assert_eq!((console.model.as_deref(), console.allow_download, console.command), (Some("a/b"), true, None));
    }

    #[test]
    fn connect_takes_a_url_or_a_node_name_for_the_console_only() {
        assert_eq!(parse(&["--connect", "http://127.0.0.1:8080/v1"]).unwrap().connect.as_deref(), Some("http://127.0.0.1:8080/v1"));
        assert_eq!(parse(&["--connect", "gpu-a"]).unwrap().connect.as_deref(), Some("gpu-a"));
        let err = parse(&["--connect", "ftp://h/v1"]).unwrap_err();
        assert!(err.contains("only http:// and https://"), "{err}");
        assert!(parse(&["--connect", "gpu-a", "--model", "m.gguf"]).unwrap_err().contains("cannot be used with"));
        let err = parse(&["--connect", "gpu-a", "serve"]).unwrap_err();
        assert!(err.contains("--connect is not an option of `llamadeck serve`"), "{err}");
        // bench measures any engine: a node too, before or after the subcommand's name.
        for args in [&["bench", "--connect", "gpu-a"][..], &["--connect", "gpu-a", "bench"]] {
            assert_eq!(parse(args).unwrap().connect.as_deref(), Some("gpu-a"), "{args:?}");
        }
        assert!(parse(&["bench", "--connect", "gpu-a", "--model", "m.gguf"]).is_err());
        assert!(parse(&["--model", "m.gguf", "bench", "--connect", "gpu-a"]).unwrap_err().contains("give one of them"));
    }

    #[test]
    fn allow_download_from_the_config_or_the_flag_reaches_the_model_spec() {
        let mut config = Config::default();
        assert!(!parse(&[]).unwrap().model_spec(&config).allow_download);
        assert!(parse(&["--allow-download"]).unwrap().model_spec(&config).allow_download);
        config.model.allow_download = true;
        let spec = parse(&["--model", "owner/name"]).unwrap().model_spec(&config);
        assert_eq!((spec.source.as_str(), spec.allow_download), ("owner/name", true));
    }
}
