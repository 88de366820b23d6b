//! The whole compiler, as `--mode codegen` runs it: parse, check, LLVM to a BPF object.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = spyglass::pipeline::run_to(data, spyglass::pipeline::Stage::Codegen);
});
