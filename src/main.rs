use std::process::ExitCode;

use clap::Parser;

// Parsing a large model allocates millions of small terms; mimalloc does so
// markedly faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = deeplog::cli::Cli::parse();
    match deeplog::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
