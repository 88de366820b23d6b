//! spyglass: a bpftrace-compatible tracer.
//!
//! The pipeline is the module layout: `parser` → `sema` → `codegen` → `runtime`.
//! `program` is the plain, serialisable hand-off between the compiler and the runtime;
//! `stdlib` is the catalogue of builtins and functions; `probes` the probe types.

pub mod codegen;
pub mod deep;
pub mod diag;
pub mod parser;
pub mod pipeline;
pub mod probes;
pub mod program;
pub mod runtime;
pub mod sema;
#[path = "../stdlib/mod.rs"]
pub mod stdlib;
pub mod user_cache;
