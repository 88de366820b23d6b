fn main() {
    // Startup cost is dominated by page faults. A position-dependent executable needs no
    // run-time relocation of LLVM's ~70k vtable and table pointers, so those pages are
    // never touched unless used (see BENCHMARKS.md, "startup").
    println!("cargo:rustc-link-arg-bins=-no-pie");
    // LLVM's static constructors run on first compile, not before `main` (see
    // src/codegen/llvm_init.rs).
    let script = format!("{}/link/lazy-llvm.ld", env!("CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-changed={script}");
    println!("cargo:rustc-link-arg-bins=-Wl,-T,{script}");
}
