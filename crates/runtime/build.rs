fn main() {
    link_libgcc_statically();
}

include!("../../link/static_libgcc.rs");
