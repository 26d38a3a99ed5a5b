#![no_main]
// The harness is plain Rust in src/ so the regression test replays it without libFuzzer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| wflo_fuzz::prices::run(data));
