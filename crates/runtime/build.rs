fn main() {
    link_libgcc_statically();
    // libbpf's feature probes are answered from memory (src/runtime/features.rs).
    println!("cargo:rustc-link-arg=-Wl,--wrap=feat_supported");
}

include!("../../link/static_libgcc.rs");
