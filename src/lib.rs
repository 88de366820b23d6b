//! spyglass: a bpftrace-compatible tracer.
//!
//! The pipeline is the module layout: `parser` → `sema` → `codegen` → `runtime`.
//! `program` is the plain, serialisable hand-off between the compiler and the runtime;
//! `stdlib` is the catalogue of builtins and functions; `probes` the probe types.
//! This crate is the compiler (sema, codegen, the catalogue); `parser` is the
//! `spyglass-syntax` crate, and `runtime`, `probes`, `program` and `diag` come from the
//! `spyglass-runtime` crate, neither of which depends on it (nor on LLVM).

pub use spyglass_runtime::{artifact, diag, kinds, params, probes, program, runtime, user_cache};
pub use spyglass_syntax as parser;

pub mod arena;
pub mod codegen;
pub mod deep;
pub mod pipeline;
pub mod sema;
#[path = "../stdlib/mod.rs"]
pub mod stdlib;
