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
    // LLVM's C++ runtime and compression libraries, linked statically into every program
    // of this package that links LLVM (see .cargo/config.toml and link/llvm/bin/llvm-config):
    // after the libraries, so LLVM's archives resolve in them. Each shared library costs
    // every start its loading and relocation.
    for arg in STATIC_LLVM_DEPS {
        println!("cargo:rustc-link-arg={arg}");
    }
}

const STATIC_LLVM_DEPS: [&str; 5] = ["-Wl,-Bstatic", "-lstdc++", "-lzstd", "-lz", "-Wl,-Bdynamic"];
