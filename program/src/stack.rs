//! Deep recursion without stack overflow.
//!
//! Terms and syntax trees nest as deep as their input makes them: a body of
//! 100,000 goals is a chain of 100,000 `,`, a list of 100,000 elements is
//! as many list cells, `1+1+…+1` a left-leaning chain of `+`. The walks over
//! them recurse, and each recursive walk calls [`guard`] once per level:
//! when the thread's stack is nearly used up, the walk goes on in a fresh
//! segment allocated on the heap, so depth is bounded by memory instead of
//! by the 8 MiB of a main thread (Python's included) or the 2 MiB of a
//! spawned one. Limits on nesting (the parser's, the grounder's) are there
//! to give the user a located error, not to protect the stack.
//!
//! ```
//! use deeplog_program::stack::guard;
//!
//! fn depth(n: u64) -> u64 {
//!     if n == 0 { 0 } else { guard(|| 1 + depth(n - 1)) }
//! }
//! assert_eq!(depth(1_000_000), 1_000_000);
//! ```

/// Stack that must be left for one level of a walk, frames between two
/// calls of [`guard`] included: generous, for debug builds' large frames.
const RED_ZONE: usize = 128 * 1024;

/// The size of each segment allocated when the stack runs low.
const SEGMENT: usize = 2 * 1024 * 1024;

/// Runs `f`, on a new stack segment if less than `RED_ZONE` (128 KiB) of the
/// current one is left. Cheap when there is room: a read of the stack
/// pointer and a comparison.
#[inline]
pub fn guard<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(RED_ZONE, SEGMENT, f)
}
