//! LLVM's static constructors, run on first use instead of before `main`.
//!
//! The `spyglass` binary is linked with `link/lazy-llvm.ld`, which moves the `.init_array`
//! entries of llvm-sys's archive (LLVM itself) into the `llvm_init_array` section; the C
//! runtime never sees them. They registered thousands of command-line options and filled
//! pass registries on every start, ≈ 4 ms and 15 MB of touched pages, although a run from
//! the compiled-program cache or an `--aot` artifact never compiles. [`ensure`] runs them
//! once, in link order, before anything touches LLVM.
//!
//! Test binaries are linked without the script: there the section holds only [`FIRST`],
//! LLVM's constructors run before `main` as usual, and `ensure` calls a no-op.

use std::sync::Once;

type Init = extern "C" fn();

extern "C" fn nothing() {}

/// Keeps the section present in every link (the linker then defines its bounds).
#[used]
#[link_section = "llvm_init_array"]
static FIRST: Init = nothing;

extern "C" {
    static __start_llvm_init_array: Init;
    static __stop_llvm_init_array: Init;
}

/// Runs LLVM's static constructors, once per process.
pub fn ensure() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: the linker bounds an array of constructor pointers (plus `FIRST`); each
        // is a C++ static initializer, which takes no arguments it uses and runs once.
        unsafe {
            let mut p = &raw const __start_llvm_init_array;
            let end = &raw const __stop_llvm_init_array;
            while p < end {
                (*p)();
                p = p.add(1);
            }
        }
    });
}
