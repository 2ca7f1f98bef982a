#![no_main]
//! `deeplog::cli::fuzz`'s scene_graph target under libFuzzer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    deeplog::cli::fuzz::run("scene_graph", data);
});
