//! Parse, then type-check (probe lookups read this machine's tracefs and BTF).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = spyglass::pipeline::run_to(data, spyglass::pipeline::Stage::Check);
});
