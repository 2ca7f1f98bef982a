#![no_main]
//! `deeplog::cli::fuzz`'s model target under libFuzzer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    deeplog::cli::fuzz::run("model", data);
});
