//! fentry/fexit: this machine refuses to load BPF trampolines (EPERM even as root), so they
//! are tested up to the BPF object: section names (libbpf's attach target), the context
//! offsets the programs read `args.NAME` and `retval` from, and the diagnostic at load.

mod common;
use common::*;

use object::{Object, ObjectSection};

/// The object spyglass writes for `prog` (`--mode codegen --emit-elf`).
fn object_of(prog: &str, name: &str) -> Vec<u8> {
    let path = format!("{}/fentry-{name}.o", env!("CARGO_TARGET_TMPDIR"));
    let o = spyglass(&["--mode", "codegen", "--emit-elf", &path, "-e", prog]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    std::fs::read(&path).unwrap()
}

/// Offsets of the memory loads (`r = *(uN *)(rM + off)`, any width) in a section.
fn ctx_loads(elf: &[u8], section: &str) -> Vec<i16> {
    let file = object::File::parse(elf).unwrap();
    let s = file
        .section_by_name(section)
        .unwrap_or_else(|| panic!("no section {section}"));
    s.data()
        .unwrap()
        .chunks(8)
        .filter(|i| i[0] & 0x07 == 0x01 && i[0] & 0xe0 == 0x60) // BPF_LDX | BPF_MEM
        .map(|i| i16::from_le_bytes([i[2], i[3]]))
        .collect()
}

#[test]
fn fentry_and_fexit_objects_name_their_targets_and_read_typed_args_object_only() {
    // do_nanosleep(struct hrtimer_sleeper *t, enum hrtimer_mode mode);
    // vfs_read(struct file *, char *buf, size_t count, loff_t *pos) -> ssize_t.
    let elf = object_of(
        r#"fentry:do_nanosleep { @m[args.mode] = count(); }
           fexit:vfs_read { @r = sum(retval); @c = max(args.count); }"#,
        "basic",
    );
    let loads = ctx_loads(&elf, "fentry/do_nanosleep");
    assert!(loads.contains(&8), "args.mode is the second u64: {loads:?}");
    let loads = ctx_loads(&elf, "fexit/vfs_read");
    assert!(
        loads.contains(&16),
        "args.count is the third u64: {loads:?}"
    );
    assert!(
        loads.contains(&32),
        "retval follows the four arguments: {loads:?}"
    );
}

#[test]
fn fentry_aliases_and_wildcards_expand_over_btf_functions_object_only() {
    let elf = object_of(
        "kfunc:vfs_rea* { @[func] = count(); } kretfunc:do_nanosleep { @x = retval; }",
        "wildcards",
    );
    let file = object::File::parse(&*elf).unwrap();
    let names: Vec<String> = file
        .sections()
        .filter_map(|s| s.name().ok().map(String::from))
        .filter(|n| n.starts_with("fentry/") || n.starts_with("fexit/"))
        .collect();
    assert!(names.contains(&"fentry/vfs_read".to_string()), "{names:?}");
    assert!(names.contains(&"fentry/vfs_readv".to_string()), "{names:?}");
    assert!(
        names.contains(&"fexit/do_nanosleep".to_string()),
        "{names:?}"
    );
}

#[test]
fn fentry_errors_are_located() {
    let o = run_e("fentry:no_such_function_here { }");
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("is not in this kernel's BTF"),
        "{}",
        o.stderr
    );
    let o = run_e("fentry:vfs_read { print(arg0); }");
    assert!(o.stderr.contains("use `args.NAME`"), "{}", o.stderr);
    let o = run_e("fentry:vfs_read { print(retval); }");
    assert!(o.stderr.contains("only available in fexit"), "{}", o.stderr);
}

#[test]
fn loading_fentry_here_says_why_it_cannot() {
    let o = run_e("fentry:do_nanosleep { @ = count(); }");
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("this kernel does not let fentry/fexit programs load"),
        "{}",
        o.stderr
    );
}

#[test]
fn listing_fentry_and_fexit_with_btf_arguments() {
    let o = spyglass(&["-lv", "fexit:vfs_read"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "fexit:vmlinux:vfs_read\n    struct file * file;\n    char * buf;\n    size_t count;\n\
         \x20   loff_t * pos;\n    ssize_t retval;\n"
    );
    let o = spyglass(&["-l", "kfunc:do_nanosle*"]);
    assert_eq!(o.stdout, "fentry:vmlinux:do_nanosleep\n", "{}", o.stderr);
}

#[test]
fn path_calls_bpf_d_path_on_trampoline_arguments_object_only() {
    let elf = object_of(
        r#"fentry:vfs_open { printf("%s\n", path(args.path)); }
           fentry:filp_close { print(path(&args.filp->f_path, 64)); }"#,
        "path",
    );
    let file = object::File::parse(&*elf).unwrap();
    for section in ["fentry/vfs_open", "fentry/filp_close"] {
        let data = file
            .section_by_name(section)
            .unwrap()
            .data()
            .unwrap()
            .to_vec();
        // `call 147`: BPF_JMP | BPF_CALL with the helper's id as the immediate.
        let calls_d_path = data
            .chunks(8)
            .any(|i| i[0] == 0x85 && i32::from_le_bytes([i[4], i[5], i[6], i[7]]) == 147);
        assert!(calls_d_path, "{section} calls bpf_d_path");
    }
    let o = run_e("tracepoint:syscalls:sys_enter_openat { print(path(0)); }");
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("path() cannot be used in tracepoint probes"),
        "{}",
        o.stderr
    );
}

/// `fentry:bpf:ID:NAME` targets a function of a running BPF program: another spyglass
/// here. Listing and matching run for real; loading stops at this kernel's EPERM, so the
/// object is checked too.
#[test]
fn fentry_bpf_lists_and_targets_running_programs_object_only() {
    let (mut target, _stdout) = spawn_attached(
        &["-e", "interval:s:60 { @ = count(); }"],
        std::process::Stdio::null(),
    );
    let ids = prog_ids_of(target.id());
    assert_eq!(ids.len(), 1, "{ids:?}");
    let want = format!("fentry:bpf:{}:probe_0_0", ids[0]);
    let o = spyglass(&["-l", "fentry:bpf:*"]);
    assert!(
        o.stdout.lines().any(|l| l == want),
        "{want} in {}",
        o.stdout
    );
    let o = spyglass(&["-l", "fexit:bpf:*:probe_0_*"]);
    assert!(
        o.stdout
            .lines()
            .any(|l| l == want.replace("fentry", "fexit")),
        "{}",
        o.stdout
    );

    let o = run_e(&format!("{want} {{ @[probe] = count(); }}"));
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("EPERM even as root"), "{}", o.stderr);
    let elf = object_of(&format!("{want} {{ @[probe] = count(); }}"), "bpf");
    let file = object::File::parse(&*elf).unwrap();
    assert!(file.section_by_name("fentry/probe_0_0").is_some());

    let o = run_e(&format!(
        "fexit:bpf:{}:probe_0_0 {{ print(retval); }}",
        ids[0]
    ));
    assert!(
        o.stderr
            .contains("`retval` is not available on BPF programs"),
        "{}",
        o.stderr
    );
    let o = run_e("fentry:bpf:4294967295:probe_0_0 { }");
    assert!(
        o.stderr
            .contains("no function `probe_0_0` in a running BPF program with id 4294967295"),
        "{}",
        o.stderr
    );
    let o = run_e("fentry:bpf:no_such_function_anywhere { }");
    assert!(
        o.stderr.contains("no running BPF program has a function"),
        "{}",
        o.stderr
    );
    target.kill().unwrap();
    target.wait().unwrap();
    // Modules: this kernel has none with BTF, and says so.
    let o = run_e("fentry:nf_tables:nft_do_chain { }");
    assert!(
        o.stderr
            .contains("module `nf_tables` has no BTF on this kernel"),
        "{}",
        o.stderr
    );
}
