//! The composition root: one function per subcommand wires the pieces together (config, engine,
//! producers, server, terminal). Only `main` calls it.
mod bench;
mod console;
mod engine;
mod fetch_demo;
mod fleet;
mod gpu;
mod logging;
mod serve;

use crate::cli::{Cli, Sub};

/// Runs what the command line asks for; returns the process exit code.
pub fn main(cli: Cli) -> i32 {
    if let Some(missing) = missing_cpu_features() {
        say(&format!(
            "this CPU lacks {missing}, which this build of llamadeck needs (it is built for x86-64-v3: AVX2 and FMA, \
             as candle's fast kernels are chosen at compile time); build it here with RUSTFLAGS=\"-C target-cpu=native\" \
             cargo build --release, or run it on a CPU from 2013 or later"
        ));
        return 1;
    }
    match cli.command {
        Some(Sub::Bench(ref args)) => bench::run(&cli, args),
        Some(Sub::Serve(ref args)) => serve::run(&cli, args),
        Some(Sub::Gpu(ref args)) => gpu::run(args),
        Some(Sub::FetchDemo(ref args)) => fetch_demo::run(args),
        None => console::run(cli),
    }
}

/// "llamadeck: ..." on stderr, one line for each line of `text` (a config with several
/// problems reports one a line), with control characters made visible (the text may quote a
/// file or a model's name); a closed stderr is not an error worth dying for.
pub fn say(text: &str) {
    use std::io::Write;
    let text = llamadeck_words::text::sanitize(text);
    let mut stderr = std::io::stderr().lock();
    for line in text.lines() {
        let _ = writeln!(stderr, "llamadeck: {line}");
    }
}

/// The instruction-set extensions the build assumes that this CPU does not have, if any.
/// (`is_x86_feature_detected!` answers "yes" at compile time for features the build enables,
/// so the CPU is asked directly.)
fn missing_cpu_features() -> Option<String> {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    {
        use std::arch::x86_64::{__cpuid, __cpuid_count, _xgetbv};
        let (leaf1, leaf7) = (__cpuid(1), __cpuid_count(7, 0));
        let osxsave = leaf1.ecx & (1 << 27) != 0;
        // SAFETY: XGETBV runs only when CPUID says the OS enabled it (OSXSAVE).
        let ymm_saved = osxsave && unsafe { _xgetbv(0) } & 0b110 == 0b110;
        let avx2 = ymm_saved && leaf1.ecx & (1 << 28) != 0 && leaf7.ebx & (1 << 5) != 0;
        let fma = ymm_saved && leaf1.ecx & (1 << 12) != 0;
        let missing: Vec<&str> = [("AVX2", avx2), ("FMA", fma)].into_iter().filter(|(_, ok)| !ok).map(|(n, _)| n).collect();
        if !missing.is_empty() {
            return Some(missing.join(" and "));
        }
    }
    None
}
