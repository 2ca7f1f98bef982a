use std::process::ExitCode;

use clap::Parser;

// Parsing a large model allocates millions of small terms; mimalloc does so
// markedly faster than the system allocator. Every allocation counts against
// the memory budget (`--max-memory`; `deeplog::memory`).
#[global_allocator]
static GLOBAL: deeplog::memory::Budgeted<mimalloc::MiMalloc> = deeplog::memory::Budgeted(mimalloc::MiMalloc);

/// mimalloc's default first arena is 1 GiB, and setting up its bitmaps
/// costs a small query about 8% of its whole run (42 of 257 page faults).
/// The first arena is made the smallest mimalloc allows (64 MiB) by a
/// constructor that runs after mimalloc's own (priority 101) and before
/// Rust's runtime allocates anything; `main` then restores the 1 GiB
/// default, so a large run still grows in 1 GiB arenas. A user's
/// `MIMALLOC_ARENA_RESERVE` is left alone.
#[cfg(target_os = "linux")]
mod first_arena {
    /// `mi_option_arena_reserve` in `mi_option_e` (mimalloc.h, v3), which
    /// libmimalloc-sys does not name.
    pub const ARENA_RESERVE: libmimalloc_sys::mi_option_t = 23;
    pub const DEFAULT_KIB: std::ffi::c_long = 1024 * 1024;
    const FIRST_KIB: std::ffi::c_long = 64 * 1024;

    pub fn user_set() -> bool {
        // SAFETY: a NUL-terminated name; `getenv` allocates nothing.
        unsafe { !libc::getenv(c"MIMALLOC_ARENA_RESERVE".as_ptr()).is_null() }
    }

    extern "C" fn shrink() {
        if !user_set() {
            // SAFETY: sets one option of the allocator; nothing is allocated yet.
            unsafe { libmimalloc_sys::mi_option_set(ARENA_RESERVE, FIRST_KIB) }
        }
    }

    #[used]
    #[unsafe(link_section = ".init_array")]
    static SHRINK: extern "C" fn() = shrink;
}

/// SIGINT and SIGTERM stop the process as they would, but first remove the
/// hidden temporary file of an output being written (`-o`), which the
/// default action would leave behind. The exit status is the shell's for a
/// signal, 128 + its number (130, 143).
#[cfg(unix)]
fn remove_temporaries_on_interrupt() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    // Without the handler (it could not be installed) the signals keep
    // their default action: the process still stops.
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else { return };
    let spawned = std::thread::Builder::new().name("signals".into()).spawn(move || {
        if let Some(signal) = signals.forever().next() {
            deeplog::circuits::formats::remove_temporaries();
            // SAFETY: ends the process, as the signal's default action would.
            unsafe { libc::_exit(128 + signal) }
        }
    });
    if spawned.is_err() {
        // No thread reads the signals: give them their default action back.
        for signal in [SIGINT, SIGTERM] {
            // SAFETY: restores one signal's default action.
            unsafe {
                libc::signal(signal, libc::SIG_DFL);
            }
        }
    }
}

fn main() -> ExitCode {
    #[cfg(target_os = "linux")]
    if !first_arena::user_set() {
        // SAFETY: sets one option of the allocator (read when it next reserves an arena).
        unsafe { libmimalloc_sys::mi_option_set(first_arena::ARENA_RESERVE, first_arena::DEFAULT_KIB) }
    }
    // Output piped into `head` and closed early ends the process quietly,
    // as for any Unix tool, instead of a panic on the failed print.
    #[cfg(unix)]
    // SAFETY: restoring the default action of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    deeplog::memory::set_limit(deeplog::memory::default_limit());
    // A run stopped for lack of memory leaves no temporary behind either.
    deeplog::memory::on_stop(|| {
        deeplog::circuits::formats::remove_temporaries();
    });
    #[cfg(unix)]
    remove_temporaries_on_interrupt();
    let cli = deeplog::cli::Cli::parse();
    let ok = match deeplog::cli::run(cli) {
        Ok(()) => true,
        Err(e) => {
            if e.is_rendered() {
                eprintln!("{e}");
            } else {
                eprintln!("error: {e}");
            }
            false
        }
    };
    // Every file the command wrote is closed (written, then renamed); only
    // the standard streams may hold output. The process then ends without
    // running exit handlers: mimalloc's returns every page to the system
    // first (a `madvise` per span), work the kernel does anyway, in bulk,
    // as the process goes.
    #[cfg(unix)]
    {
        use std::io::Write;
        let flushed = std::io::stdout().flush().is_ok() && std::io::stderr().flush().is_ok();
        // SAFETY: ends the process; nothing of it is used after this.
        unsafe { libc::_exit(if ok && flushed { 0 } else { 1 }) }
    }
    #[cfg(not(unix))]
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
