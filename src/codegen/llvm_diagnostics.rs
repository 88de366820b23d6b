//! LLVM reports some errors (the BPF stack limit above all) through its context's diagnostic
//! handler, whose default prints and exits the process. We collect them instead and turn them
//! into diagnostics that point at the probe.

use std::cell::RefCell;
use std::ffi::{c_void, CStr};
use std::rc::Rc;

use inkwell::context::Context;
use inkwell::llvm_sys::core::{
    LLVMContextSetDiagnosticHandler, LLVMDisposeMessage, LLVMGetDiagInfoDescription,
    LLVMGetDiagInfoSeverity,
};
use inkwell::llvm_sys::prelude::LLVMDiagnosticInfoRef;
use inkwell::llvm_sys::LLVMDiagnosticSeverity;

use crate::diag::Diagnostic;
use crate::program::ProbeProgram;
use crate::sema::Checked;

/// The first error LLVM reported, if any.
#[derive(Clone, Default)]
pub struct Errors(Rc<RefCell<Option<String>>>);

impl Errors {
    pub fn take(&self) -> Option<String> {
        self.0.borrow_mut().take()
    }
}

extern "C" fn handler(info: LLVMDiagnosticInfoRef, ctx: *mut c_void) {
    unsafe {
        if LLVMGetDiagInfoSeverity(info) != LLVMDiagnosticSeverity::LLVMDSError {
            return;
        }
        let raw = LLVMGetDiagInfoDescription(info);
        let msg = CStr::from_ptr(raw).to_string_lossy().into_owned();
        LLVMDisposeMessage(raw);
        let slot = &*(ctx as *const RefCell<Option<String>>);
        slot.borrow_mut().get_or_insert(msg);
    }
}

/// Installs the handler for the lifetime of `ctx` (the returned value must outlive it).
pub fn capture(ctx: &Context) -> Errors {
    let errors = Errors::default();
    let ptr = Rc::as_ptr(&errors.0) as *mut c_void;
    unsafe { LLVMContextSetDiagnosticHandler(ctx.raw(), Some(handler), ptr) };
    errors
}

pub fn explain(msg: &str, ck: &Checked, probes: &[ProbeProgram]) -> Diagnostic {
    let probe = probes
        .iter()
        .find(|p| msg.contains(&format!("function {} ", p.prog_name)));
    let span = probe
        .map(|p| p.span)
        .or_else(|| ck.program.probes.first().map(|p| p.head_span()));
    let d = if msg.contains("stack limit") {
        Diagnostic::error("this probe needs more than the 512 bytes of stack a BPF program may use", span.unwrap_or((0, 0)))
            .with_label("too much stack")
            .with_note("values over `on_stack_limit` bytes live in scratch memory; lower it (`config = { on_stack_limit = 16 }`) or use fewer values at once")
    } else {
        Diagnostic::error(
            "LLVM could not compile this probe to BPF",
            span.unwrap_or((0, 0)),
        )
        .with_note(format!("LLVM said: {msg}"))
    };
    if span.is_none() {
        Diagnostic { span: None, ..d }
    } else {
        d
    }
}
