//! Keeps LLVM's other back ends out of the `spyglass` binary.
//!
//! inkwell's object code references llvm-sys's "initialize every target" wrappers and the
//! JIT link-in hooks, even though spyglass only ever initializes the BPF target. Each of those
//! references drags a whole back end (X86, AMDGPU, Hexagon, …) and the JIT into the link,
//! and every one of them registers command-line options in a static constructor that runs
//! before `main`. On a VM where a page fault costs microseconds, that was most of the
//! start-up time. Defining the entry points here, in the binary's own objects, satisfies the
//! references before the linker goes looking in llvm-sys's archive, so those objects are
//! never extracted. Nothing in spyglass calls them; they abort rather than lie if that ever
//! changes.

macro_rules! never_called {
    ($($name:ident),* $(,)?) => {$(
        #[no_mangle]
        pub extern "C" fn $name() {
            eprintln!(concat!("spyglass: internal error: ", stringify!($name),
                " is not linked into this binary"));
            std::process::abort();
        }
    )*};
}

never_called!(
    LLVM_InitializeAllAsmParsers,
    LLVM_InitializeAllAsmPrinters,
    LLVM_InitializeAllDisassemblers,
    LLVM_InitializeAllTargetInfos,
    LLVM_InitializeAllTargetMCs,
    LLVM_InitializeAllTargets,
    LLVM_InitializeNativeAsmParser,
    LLVM_InitializeNativeAsmPrinter,
    LLVM_InitializeNativeDisassembler,
    LLVM_InitializeNativeTarget,
    LLVMLinkInMCJIT,
    LLVMLinkInInterpreter,
);
