//! The memory budget: every allocation of the process counted against one
//! limit, and the process stopped with a clear error that names the stage
//! (reading, grounding, compiling, ...) once the limit would be passed.
//!
//! [`Budgeted`] wraps the global allocator (the `deeplog` command installs
//! it around mimalloc); the stages mark themselves with [`enter`]. Without
//! the wrapper (a program embedding the library with its own allocator)
//! the marks cost one atomic store and nothing is limited.
//!
//! Stopping is done inside the allocator: the request that would pass the
//! limit is never made, the message is written to stderr without
//! allocating, the files registered with [`on_stop`] are cleaned up, and
//! the process exits with status 1. The same happens when the system
//! itself refuses memory (an `ulimit -v` below the budget), so running out
//! of memory is never an abort.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicPtr, AtomicU8, AtomicUsize, Ordering::Relaxed};

/// What the process is doing, named in the error when memory runs out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Stage {
    Starting,
    Reading,
    Parsing,
    Grounding,
    Compiling,
    Optimizing,
    Evaluating,
    Training,
    Writing,
}

impl Stage {
    const ALL: [Stage; 9] = [
        Stage::Starting,
        Stage::Reading,
        Stage::Parsing,
        Stage::Grounding,
        Stage::Compiling,
        Stage::Optimizing,
        Stage::Evaluating,
        Stage::Training,
        Stage::Writing,
    ];

    /// The stage as the error names it ("while grounding").
    pub fn name(self) -> &'static str {
        match self {
            Stage::Starting => "starting",
            Stage::Reading => "reading",
            Stage::Parsing => "parsing",
            Stage::Grounding => "grounding",
            Stage::Compiling => "compiling",
            Stage::Optimizing => "optimizing the circuit",
            Stage::Evaluating => "evaluating",
            Stage::Training => "training",
            Stage::Writing => "writing",
        }
    }
}

static STAGE: AtomicU8 = AtomicU8::new(Stage::Starting as u8);
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);
static STOPPING: AtomicBool = AtomicBool::new(false);
static ON_STOP: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());

/// The default budget: 8 GiB, or less where the process may not have that
/// much — half its address-space limit (`ulimit -v`; the allocator reserves
/// address space ahead of use), 90% of its control group's memory limit,
/// 80% of the machine's memory — so that the budget, not the system,
/// stops a run.
pub const DEFAULT_LIMIT: usize = 8 << 30;

/// The smallest budget `--max-memory` accepts: below it the command
/// cannot read its own arguments.
pub const MIN_LIMIT: usize = 16 << 20;

/// Marks the stage the process is in until the guard drops (the previous
/// stage is then restored).
#[must_use = "the stage lasts while the guard lives"]
pub struct StageGuard(u8);

impl Drop for StageGuard {
    fn drop(&mut self) {
        STAGE.store(self.0, Relaxed);
    }
}

/// Enters `stage` until the returned guard drops.
pub fn enter(stage: Stage) -> StageGuard {
    StageGuard(STAGE.swap(stage as u8, Relaxed))
}

/// The stage the process is in.
pub fn stage() -> Stage {
    Stage::ALL.get(STAGE.load(Relaxed) as usize).copied().unwrap_or(Stage::Starting)
}

/// Sets the budget in bytes (`usize::MAX`: no budget).
pub fn set_limit(bytes: usize) {
    LIMIT.store(bytes, Relaxed);
}

/// The budget in bytes (`usize::MAX`: none).
pub fn limit() -> usize {
    LIMIT.load(Relaxed)
}

/// Bytes allocated and not yet freed, to within [`FLUSH`] bytes a thread
/// (0 without [`Budgeted`]).
pub fn live() -> usize {
    LIVE.load(Relaxed).max(0) as usize
}

/// The most bytes live at once so far (0 without [`Budgeted`]).
pub fn peak() -> usize {
    PEAK.load(Relaxed)
}

/// Whether an allocation of `bytes` more would fit the budget now: for a
/// stage that can refuse a large request with its own, more precise error
/// before making it.
pub fn fits(bytes: usize) -> bool {
    live().saturating_add(bytes) <= limit()
}

/// Registers the function the stop runs before the process exits (the
/// writer's cleanup of its temporary files). It may allocate: once
/// stopping, the budget no longer applies.
pub fn on_stop(cleanup: fn()) {
    ON_STOP.store(cleanup as *mut (), Relaxed);
}

/// The default budget for this process and machine (see [`DEFAULT_LIMIT`]).
pub fn default_limit() -> usize {
    let mut limit = DEFAULT_LIMIT;
    #[cfg(unix)]
    {
        let mut rl = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit writes one struct we own.
        if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut rl) } == 0 && rl.rlim_cur != libc::RLIM_INFINITY {
            limit = limit.min((rl.rlim_cur / 2) as usize);
        }
    }
    #[cfg(target_os = "linux")]
    {
        if let Some(max) = cgroup_limit() {
            limit = limit.min(max / 10 * 9);
        }
        if let Some(total) = machine_memory() {
            limit = limit.min(total / 5 * 4);
        }
    }
    limit.max(MIN_LIMIT)
}

#[cfg(target_os = "linux")]
fn cgroup_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .or_else(|_| std::fs::read_to_string("/sys/fs/cgroup/memory/memory.limit_in_bytes"))
        .ok()?;
    text.trim().parse::<u64>().ok().map(|v| v.min(usize::MAX as u64) as usize)
}

#[cfg(target_os = "linux")]
fn machine_memory() -> Option<usize> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((kib.saturating_mul(1024)).min(usize::MAX as u64) as usize)
}

/// A byte count for people: `8 GiB`, `512 MiB`, `1.5 GiB`.
pub fn human(bytes: usize) -> String {
    let mut s = String::new();
    write_human(&mut s, bytes);
    s
}

fn write_human(out: &mut impl std::fmt::Write, bytes: usize) {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut unit = 0;
    let mut value = bytes as f64;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let _ = if unit == 0 {
        write!(out, "{bytes} bytes")
    } else if value.fract().abs() < 0.05 {
        write!(out, "{:.0} {}", value, UNITS[unit])
    } else {
        write!(out, "{:.1} {}", value, UNITS[unit])
    };
}

/// Parses a `--max-memory` value: a byte count with an optional binary
/// unit (`K`, `M`, `G`, `T`, with or without `iB`/`B`), e.g. `8G`, `512MiB`,
/// `1.5G`.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        other => return Err(format!("unknown unit `{other}` (use K, M, G or T, e.g. 8G)")),
    };
    let value: f64 = number.parse().map_err(|_| format!("`{text}` is not a size (e.g. 8G, 512M)"))?;
    let bytes = value * scale;
    if !bytes.is_finite() || bytes >= usize::MAX as f64 {
        return Err(format!("`{text}` is too large"));
    }
    let bytes = bytes as usize;
    if bytes < MIN_LIMIT {
        return Err(format!("the budget must be at least {} (`{text}` is {})", human(MIN_LIMIT), human(bytes)));
    }
    Ok(bytes)
}

/// The global allocator `A`, with every allocation counted against the
/// budget.
///
/// Each thread keeps its own running count and adds it to the shared one
/// once it passes [`FLUSH`] bytes either way, so that the common small
/// allocation touches no shared cache line; a request of `FLUSH` bytes or
/// more is checked before it is made. The budget is thus kept to within
/// `FLUSH` bytes per thread.
pub struct Budgeted<A>(pub A);

/// Bytes a thread may allocate (or free) before it adds them to the shared
/// count.
pub const FLUSH: usize = 256 << 10;

thread_local! {
    static LOCAL: Cell<isize> = const { Cell::new(0) };
}

/// Counts `delta` bytes (negative: freed) and stops the process if the
/// budget is passed.
#[inline]
fn count(delta: isize) {
    let flushed = LOCAL.try_with(|local| {
        let v = local.get() + delta;
        if v.unsigned_abs() >= FLUSH {
            local.set(0);
            v
        } else {
            local.set(v);
            0
        }
    });
    match flushed {
        Ok(0) => {}
        Ok(v) => add_shared(v, delta),
        // The thread is being torn down: count it directly.
        Err(_) => add_shared(delta, delta),
    }
}

#[inline(never)]
fn add_shared(v: isize, asked: isize) {
    let now = LIVE.fetch_add(v, Relaxed).wrapping_add(v);
    if v > 0 {
        let now = now.max(0) as usize;
        if now > LIMIT.load(Relaxed) && !STOPPING.load(Relaxed) {
            LIVE.fetch_sub(v, Relaxed);
            stop(Why::Budget, asked.max(0) as usize);
        }
        if now > PEAK.load(Relaxed) {
            PEAK.fetch_max(now, Relaxed);
        }
    }
}

fn refused(bytes: usize) -> ! {
    stop(Why::System, bytes)
}

// SAFETY: every call is passed on to `A` unchanged; only counters change.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Budgeted<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { self.0.alloc(layout) };
        if p.is_null() {
            refused(layout.size());
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { self.0.alloc_zeroed(layout) };
        if p.is_null() {
            refused(layout.size());
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { self.0.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = layout.size();
        if new_size > old {
            count((new_size - old) as isize);
        }
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { self.0.realloc(ptr, layout, new_size) };
        if p.is_null() {
            if new_size > old {
                refused(new_size - old);
            }
            // A shrink that failed leaves the block as it was.
            return p;
        }
        if new_size < old {
            count(-((old - new_size) as isize));
        }
        p
    }
}

enum Why {
    Budget,
    System,
}

/// A fixed buffer to format the message in without allocating.
struct Buffer {
    bytes: [u8; 512],
    len: usize,
}

impl std::fmt::Write for Buffer {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let n = s.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

#[cold]
#[inline(never)]
fn stop(why: Why, bytes: usize) -> ! {
    // One thread reports; the others wait for the exit.
    if STOPPING.swap(true, Relaxed) {
        loop {
            std::thread::park();
        }
    }
    let mut b = Buffer { bytes: [0; 512], len: 0 };
    let stage = stage().name();
    let _ = match why {
        Why::Budget => {
            let _ = write!(b, "error: out of memory while {stage}: the budget is ");
            write_human(&mut b, limit());
            let _ = write!(b, " (--max-memory); ");
            write_human(&mut b, live());
            let _ = write!(b, " were in use and ");
            write_human(&mut b, bytes);
            writeln!(b, " more were asked for; raise --max-memory, or make the problem smaller")
        }
        Why::System => {
            let _ = write!(b, "error: out of memory while {stage}: the system refused ");
            write_human(&mut b, bytes);
            let _ = write!(b, " with ");
            write_human(&mut b, live());
            writeln!(b, " in use; give --max-memory a budget below the system's limit")
        }
    };
    // SAFETY: writes bytes we own to the standard error descriptor.
    #[cfg(unix)]
    unsafe {
        libc::write(2, b.bytes.as_ptr().cast(), b.len);
    }
    #[cfg(not(unix))]
    {
        use std::io::Write;
        let _ = std::io::stderr().write_all(&b.bytes[..b.len]);
    }
    let cleanup = ON_STOP.load(Relaxed);
    if !cleanup.is_null() {
        // SAFETY: only `on_stop` stores here, and it stores a `fn()`.
        let cleanup: fn() = unsafe { std::mem::transmute::<*mut (), fn()>(cleanup) };
        cleanup();
    }
    // SAFETY: ends the process at once; no exit handler runs (they could allocate).
    #[cfg(unix)]
    unsafe {
        libc::_exit(1)
    }
    #[cfg(not(unix))]
    std::process::exit(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("8G").unwrap(), 8 << 30);
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("1.5g").unwrap(), 3 << 29);
        assert_eq!(parse_size("20000000").unwrap(), 20_000_000);
        assert!(parse_size("1K").unwrap_err().contains("at least 16 MiB"));
        assert!(parse_size("8X").unwrap_err().contains("unknown unit"));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("1e400").is_err());
    }

    #[test]
    fn sizes_read_for_people() {
        assert_eq!(human(8 << 30), "8 GiB");
        assert_eq!(human(3 << 29), "1.5 GiB");
        assert_eq!(human(100), "100 bytes");
    }

    #[test]
    fn stages_nest_and_restore() {
        let outer = enter(Stage::Grounding);
        {
            let _inner = enter(Stage::Compiling);
            assert_eq!(stage(), Stage::Compiling);
        }
        assert_eq!(stage(), Stage::Grounding);
        drop(outer);
    }
}
