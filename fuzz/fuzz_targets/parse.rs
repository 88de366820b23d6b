//! Lexer, preprocessor, parser and macro expansion: any bytes give a tree or a diagnostic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = spyglass::pipeline::run_to(data, spyglass::pipeline::Stage::Parse);
});
