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
//! [`run_while`] lets the main thread run them while the compiler thread parses and checks.

use std::sync::Mutex;

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

/// The constructors run so far, in link order; held while one runs, so each runs once
/// and after those before it.
static NEXT: Mutex<usize> = Mutex::new(0);

/// Runs LLVM's static constructors, once per process.
pub fn ensure() {
    // Holding the lock throughout: a thread running them meanwhile (`run_while`) finishes
    // its current one and then waits, instead of the two taking turns through the lock.
    let mut next = NEXT.lock().unwrap_or_else(|e| e.into_inner());
    let all = constructors();
    while *next < all.len() {
        all[*next]();
        *next += 1;
    }
}

/// Runs the constructors not run yet, in link order, while `go` says so (asked before
/// each); true once all have run. A thread that may not need LLVM after all can start
/// them and stop early; `ensure` runs the rest.
pub fn run_while(go: impl Fn() -> bool) -> bool {
    let all = constructors();
    loop {
        let mut next = NEXT.lock().unwrap_or_else(|e| e.into_inner());
        if *next >= all.len() {
            return true;
        }
        if !go() {
            return false;
        }
        // A C++ static initializer: it takes no arguments it uses, and runs once.
        all[*next]();
        *next += 1;
    }
}

fn constructors() -> &'static [Init] {
    // SAFETY: the linker bounds an array of constructor pointers (plus `FIRST`).
    unsafe {
        let start = &raw const __start_llvm_init_array;
        let end = &raw const __stop_llvm_init_array;
        std::slice::from_raw_parts(start, end.offset_from(start) as usize)
    }
}
