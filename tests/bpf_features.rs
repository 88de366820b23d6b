//! libbpf's kernel feature probes, asked ahead of a load (`runtime::features`), are the
//! ones the load then asks: after asking, loading a program adds no probe of its own.

use spyglass::runtime::{self, features, RunOptions};
use spyglass::{codegen, parser, sema, stdlib::STDLIB};

/// The id of a program loaded now: the kernel hands out ids in increasing order, and a
/// program's id is gone once it is unloaded, so the next id is sampled by loading one.
fn next_prog_id() -> u32 {
    // r0 = 0; exit
    let insns = [
        libbpf_sys::bpf_insn {
            code: 0xb7,
            ..Default::default()
        },
        libbpf_sys::bpf_insn {
            code: 0x95,
            ..Default::default()
        },
    ];
    unsafe {
        let fd = libbpf_sys::bpf_prog_load(
            libbpf_sys::BPF_PROG_TYPE_SOCKET_FILTER,
            std::ptr::null(),
            c"GPL".as_ptr(),
            insns.as_ptr(),
            insns.len() as _,
            std::ptr::null_mut(),
        );
        assert!(fd >= 0, "loading a two-instruction program: {fd}");
        let mut info = libbpf_sys::bpf_prog_info::default();
        let mut len = std::mem::size_of_val(&info) as u32;
        let r = libbpf_sys::bpf_prog_get_info_by_fd(fd, &mut info, &mut len);
        libc::close(fd);
        assert_eq!(r, 0);
        info.id
    }
}

#[test]
fn the_feature_ids_are_those_of_the_linked_libbpf() {
    // A libbpf release may renumber `enum kern_feature_id`: re-read libbpf_internal.h and
    // update `features::LOAD_FEATURES` and `FEATURE_IDS_OF` together.
    assert!(
        features::ids_match_libbpf(),
        "libbpf is not {:?}",
        features::FEATURE_IDS_OF
    );
}

#[test]
fn a_load_after_asking_ahead_probes_nothing_more() {
    let source = "BEGIN { printf(\"%d\\n\", 1); exit(); } tracepoint:syscalls:sys_enter_getpid { @[tid] = count(); }";
    let ast = parser::parse(source, &STDLIB).unwrap();
    let checked = sema::check(ast, sema::Options::default(), &STDLIB).unwrap();
    let program = codegen::compile(&checked, &STDLIB, false).unwrap().program;
    features::probe_now();
    for (name, supported) in features::supported() {
        assert!(supported, "kernel feature {name}: a 6.x kernel has it");
    }
    let before = next_prog_id();
    let opts = RunOptions {
        dry_run: true,
        quiet: true,
        ..Default::default()
    };
    runtime::run(&program, &opts).unwrap();
    let loaded = next_prog_id() - before - 1;
    // The script's programs and libbpf's "can anything load" check, which it always runs;
    // every feature probe left to the load would add one or more.
    let expected = program.probes.len() as u32 + 1;
    assert!(
        loaded <= expected,
        "{loaded} programs loaded, {expected} expected: the load probed features itself"
    );
}
