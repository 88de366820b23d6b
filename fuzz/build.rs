fn main() {
    // The fuzz targets link LLVM through spyglass: its C++ runtime statically, as the
    // main package's build.rs does (llvm-sys is told not to; see .cargo/config.toml).
    for arg in ["-Wl,-Bstatic", "-lstdc++", "-Wl,-Bdynamic"] {
        println!("cargo:rustc-link-arg={arg}");
    }
}
