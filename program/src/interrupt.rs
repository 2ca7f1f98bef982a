//! A request to stop, from outside the pipeline: an embedding program
//! (the Python package, on Ctrl-C) asks the stages that run long — grounding
//! and knowledge compilation — to stop at their next look at the clock,
//! which they do every few thousand steps, as they do for a deadline.
//!
//! The flag is process-wide: every grounding and compilation running when
//! it is raised stops, with the error each stage gives for a time limit.
//! The one who raised it lowers it again once the stopped call returned.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks the running stages to stop.
pub fn request() {
    REQUESTED.store(true, Ordering::Relaxed);
}

/// Lowers the flag: later calls run to the end again.
pub fn clear() {
    REQUESTED.store(false, Ordering::Relaxed);
}

/// Whether a stop was asked for.
#[inline]
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}
