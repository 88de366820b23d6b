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
    // LLVM's C++ runtime, linked statically into every program of this package that links
    // LLVM (see .cargo/config.toml): after the libraries, so LLVM's archives resolve in it.
    for arg in STATIC_LIBSTDCXX {
        println!("cargo:rustc-link-arg={arg}");
    }
}

const STATIC_LIBSTDCXX: [&str; 3] = ["-Wl,-Bstatic", "-lstdc++", "-Wl,-Bdynamic"];
