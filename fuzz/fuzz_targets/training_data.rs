#![no_main]
//! `deeplog::cli::fuzz`'s training_data target under libFuzzer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    deeplog::cli::fuzz::run("training_data", data);
});
