#![no_main]
//! `deeplog::cli::fuzz`'s json_circuit target under libFuzzer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    deeplog::cli::fuzz::run("json_circuit", data);
});
