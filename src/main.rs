use clap::Parser;

fn main() {
    let code = llamadeck::startup::main(llamadeck::cli::Cli::parse());
    std::process::exit(code);
}
