use std::process::ExitCode;

use clap::Parser;

// Parsing a large model allocates millions of small terms; mimalloc does so
// markedly faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Output piped into `head` and closed early ends the process quietly,
    // as for any Unix tool, instead of a panic on the failed print.
    #[cfg(unix)]
    // SAFETY: restoring the default action of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = deeplog::cli::Cli::parse();
    match deeplog::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let text = e.to_string();
            // Rendered diagnostics already say `error:` on each of their lines.
            if text.starts_with("error: ") || text.starts_with("warning: ") {
                eprintln!("{text}");
            } else {
                eprintln!("error: {text}");
            }
            ExitCode::FAILURE
        }
    }
}
