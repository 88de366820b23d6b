fn main() {
    // The fuzz targets link LLVM through spyglass: its C++ runtime and compression
    // libraries statically, as the main package's build.rs does (llvm-sys is told not to;
    // see .cargo/config.toml).
    for arg in ["-Wl,-Bstatic", "-lstdc++", "-lzstd", "-lz", "-Wl,-Bdynamic"] {
        println!("cargo:rustc-link-arg={arg}");
    }
}
