//! spyglass's runtime: everything that runs a compiled program and nothing that compiles
//! one. `program` is the plain, serialisable description the compiler hands over (or an
//! `artifact` carries); `runtime` loads, attaches and prints; `probes` are the probe
//! types (attach-point parsing, wildcard expansion and attaching); `diag` the diagnostics.
//!
//! This crate does not depend on the compiler (parser, sema, codegen, LLVM): the
//! `spyglass-run` binary is built from it alone.

pub mod artifact;
pub use spyglass_diag as diag;
pub mod kinds;
pub mod params;
pub mod probes;
pub mod program;
pub mod runtime;
pub mod user_cache;
