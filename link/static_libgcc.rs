// Included by the build scripts of both binaries (`build.rs`, `crates/runtime/build.rs`).
//
// Rust links its unwinder from the shared libgcc_s, whose constructor runs
// `__cpu_indicator_init`: a dozen `cpuid`s, and each one traps to the hypervisor in a VM
// (≈ 0.3 ms of a 4 ms cached start here; BENCHMARKS.md). The same unwinder exists as a
// static archive, libgcc_eh.a (what `gcc -static-libgcc` links), without that constructor.
// rustc asks for `-lgcc_s` by name, so a directory searched first offers libgcc_eh.a under
// that name. Where the compiler has no libgcc_eh.a, nothing changes.
fn link_libgcc_statically() {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let Ok(out) = std::process::Command::new(&cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
    else {
        return;
    };
    let eh = String::from_utf8_lossy(&out.stdout).trim().to_string();
    // Without the file, the compiler prints the bare name back.
    if !out.status.success() || !std::path::Path::new(&eh).is_absolute() {
        return;
    }
    let dir = format!("{}/static-libgcc", std::env::var("OUT_DIR").unwrap());
    let _ = std::fs::create_dir_all(&dir);
    if std::fs::copy(&eh, format!("{dir}/libgcc_s.a")).is_ok() {
        println!("cargo:rerun-if-changed={eh}");
        println!("cargo:rustc-link-search=native={dir}");
    }
}
