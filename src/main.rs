use std::process::ExitCode;

use clap::Parser;

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
