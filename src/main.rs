use clap::Parser;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let code = llamadeck::startup::main(llamadeck::cli::Cli::parse());
    std::process::exit(code);
}
