use std::fmt::Write as _;

fn main() {
    // Startup cost is dominated by page faults. A position-dependent executable needs no
    // run-time relocation of LLVM's ~70k vtable and table pointers, so those pages are
    // never touched unless used (see BENCHMARKS.md, "startup").
    println!("cargo:rustc-link-arg-bins=-no-pie");
    // LLVM's static constructors run on first compile, not before `main` (see
    // src/codegen/llvm_init.rs).
    let dir = env!("CARGO_MANIFEST_DIR");
    let script = format!("{dir}/link/lazy-llvm.ld");
    println!("cargo:rerun-if-changed={script}");
    println!("cargo:rustc-link-arg-bins=-Wl,-T,{script}");
    // The code a compile runs, placed together (see link/README.md).
    // scripts/gen-hot-text.py profiles a binary built without it: valgrind names only the
    // functions of `.text`.
    let hot = format!("{dir}/link/hot-text.txt");
    println!("cargo:rerun-if-changed={hot}");
    println!("cargo:rerun-if-env-changed=SPYGLASS_NO_HOT_TEXT");
    let list = match std::env::var_os("SPYGLASS_NO_HOT_TEXT") {
        Some(_) => String::new(),
        None => std::fs::read_to_string(&hot).unwrap_or_default(),
    };
    let out = format!("{}/hot-text.ld", std::env::var("OUT_DIR").unwrap());
    std::fs::write(&out, hot_text_script(&list)).expect("writing the hot-text linker script");
    println!("cargo:rustc-link-arg-bins=-Wl,-T,{out}");
    // LLVM's C++ runtime and compression libraries, linked statically into every program
    // of this package that links LLVM (see .cargo/config.toml and link/llvm/bin/llvm-config):
    // after the libraries, so LLVM's archives resolve in them. Each shared library costs
    // every start its loading and relocation.
    for arg in STATIC_LLVM_DEPS {
        println!("cargo:rustc-link-arg={arg}");
    }
    link_libgcc_statically();
    // libbpf's feature probes are answered from memory (runtime/features.rs).
    println!("cargo:rustc-link-arg=-Wl,--wrap=feat_supported");
}

include!("link/static_libgcc.rs");

const STATIC_LLVM_DEPS: [&str; 5] = ["-Wl,-Bstatic", "-lstdc++", "-lzstd", "-lz", "-Wl,-Bdynamic"];

/// An output section ahead of `.text` holding the static constructors and the listed
/// functions' sections (every object here is built with one section per function).
/// Quoted names match literally; a name that matches nothing is ignored.
fn hot_text_script(list: &str) -> String {
    let mut s = String::from("SECTIONS\n{\n  .text.hot_first :\n  {\n");
    s.push_str("    *(.text.startup .text.startup.*)\n");
    for name in list
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let _ = writeln!(s, "    *(\".text.{name}\")");
    }
    s.push_str("  }\n}\nINSERT BEFORE .text;\n");
    s
}
