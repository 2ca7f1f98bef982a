//! Link flags for the `deeplog` binary only (libraries and tests are left
//! as they are).
//!
//! A `deeplog query` on a small model is over in a few milliseconds, most of
//! them the process starting: the dynamic loader applying some ten thousand
//! relocations to a position-independent executable (each page they touch
//! copied) and resolving every imported symbol up front. A fixed-address
//! executable needs no relocations, and lazy binding resolves a symbol on
//! its first call: together about 0.4 ms, 13% of a small query's wall time
//! (measured with `perf stat -r 150` on `path_dense_6.pl`). The cost is
//! that the executable's own code is not at a random address.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
        println!("cargo:rustc-link-arg-bins=-Wl,-z,lazy");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
