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
