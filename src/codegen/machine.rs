//! The BPF target: registered once, and its target machine made ahead on a cache miss.
//!
//! A target machine takes ≈ 0.35 ms to make (the BPF subtarget works out its register
//! properties), and a compile needs it only once the IR is generated, which needs just the
//! target's data layout. On a cache miss the main thread, otherwise idle while the compiler
//! thread works, makes one right after LLVM's constructors (`warm_up`) and hands it over;
//! the compiler thread generates IR meanwhile.

use std::sync::{Condvar, Mutex};

use inkwell::targets::{
    CodeModel, InitializationConfig, RelocMode, Target, TargetData, TargetMachine, TargetTriple,
};
use inkwell::OptimizationLevel;

use super::llvm_init;
use crate::diag::{Diagnostic, Result};

/// The data layout of `bpfel` (checked against the target machine's by a test).
pub(super) const DATA_LAYOUT: &str = "e-m:e-p:64:64-i64:64-i128:128-n32:64-S128";

pub(super) fn data_layout() -> TargetData {
    TargetData::create(DATA_LAYOUT)
}

/// A target machine made on another thread. LLVM ties a target machine to no thread.
struct Handed(TargetMachine);
// SAFETY: see above; the machine is used by one thread at a time.
unsafe impl Send for Handed {}

enum Ahead {
    /// Nobody has asked for or started one.
    Idle,
    /// The main thread is making one.
    Making,
    Ready(Handed),
    /// A compile asked first (or took it): nothing more to make ahead.
    Taken,
}

static AHEAD: Mutex<Ahead> = Mutex::new(Ahead::Idle);
static MADE: Condvar = Condvar::new();

/// LLVM's static constructors, the BPF target and a target machine, for a thread that
/// would otherwise wait on the compiler. It stops early once `done` says the compile
/// ended without LLVM (a script error).
pub fn warm_up(done: &dyn Fn() -> bool) {
    if !llvm_init::run_while(|| !done()) {
        return;
    }
    init_target();
    {
        let mut ahead = AHEAD.lock().unwrap_or_else(|e| e.into_inner());
        if done() || !matches!(*ahead, Ahead::Idle) {
            return;
        }
        *ahead = Ahead::Making;
    }
    let made = make();
    let mut ahead = AHEAD.lock().unwrap_or_else(|e| e.into_inner());
    *ahead = match made {
        Ok(tm) => Ahead::Ready(Handed(tm)),
        // The compile makes its own and reports the error.
        Err(_) => Ahead::Taken,
    };
    MADE.notify_all();
}

/// A target machine: the one made ahead if there is one (waiting if it is being made),
/// else a new one.
pub(super) fn target_machine() -> Result<TargetMachine> {
    let mut ahead = AHEAD.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        match std::mem::replace(&mut *ahead, Ahead::Taken) {
            Ahead::Ready(Handed(tm)) => return Ok(tm),
            Ahead::Making => {
                *ahead = Ahead::Making;
                ahead = MADE.wait(ahead).unwrap_or_else(|e| e.into_inner());
            }
            Ahead::Idle | Ahead::Taken => {
                drop(ahead);
                return make();
            }
        }
    }
}

fn make() -> Result<TargetMachine> {
    llvm_init::ensure();
    init_target();
    let triple = TargetTriple::create("bpfel");
    let target = Target::from_triple(&triple)
        .map_err(|e| Diagnostic::global(format!("LLVM has no BPF target: {e}")))?;
    target
        .create_target_machine(
            &triple,
            "v3",
            "",
            OptimizationLevel::Default,
            RelocMode::PIC,
            CodeModel::Default,
        )
        .ok_or_else(|| Diagnostic::global("LLVM could not create a BPF target machine"))
}

pub(super) fn init_target() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        Target::initialize_bpf(&InitializationConfig::default());
        // inkwell leaves out the BPF assembly parser, which the one line of inline assembly
        // needs (`record.rs`).
        // SAFETY: registers the parser with LLVM's target registry, once, before any use.
        unsafe { inkwell::llvm_sys::target::LLVMInitializeBPFAsmParser() };
        llvm_options();
    });
}

/// Schedules instructions in source order before register allocation. The default list
/// scheduler grows with the square of a basic block's length (5,000 map assignments in one
/// probe: 4.5 s), and on BPF, which issues one instruction at a time, order buys nothing:
/// the benchmark programs compile to the same number of instructions either way.
fn llvm_options() {
    let args = [c"spyglass".as_ptr(), c"-pre-RA-sched=source".as_ptr()];
    // SAFETY: NUL-terminated strings that outlive the call; no overview text.
    unsafe {
        llvm_sys::support::LLVMParseCommandLineOptions(
            args.len() as i32,
            args.as_ptr(),
            std::ptr::null(),
        )
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_data_layout_is_the_target_machines() {
        let tm = super::make().unwrap();
        assert_eq!(
            tm.get_target_data()
                .get_data_layout()
                .as_str()
                .to_str()
                .unwrap(),
            super::DATA_LAYOUT
        );
    }
}
