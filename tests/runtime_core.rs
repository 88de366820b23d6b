//! CO-RE: an artifact reads kernel struct fields through BTF relocations, which libbpf
//! fixes up for the kernel it loads on. The artifacts here are built against a made-up
//! kernel (`BPFTRACE_BTF`) whose `task_struct` has its fields at other offsets; run on
//! this kernel, they must still read this kernel's values.

mod common;
use common::*;

use std::ffi::CString;
use std::process::Command;

use libbpf_sys as sys;

/// A BTF file describing a kernel unlike this one: `task_struct` is 256 bytes with `pid`,
/// `tgid`, `real_parent`, `comm`, `se.load.weight` and two bitfields where no real kernel
/// has them, plus
/// `extra` when asked, a field no kernel has.
fn other_kernel_btf(path: &str, extra: bool) {
    let c = |s: &str| CString::new(s).unwrap();
    // SAFETY: libbpf's BTF writer on an object this function owns and frees.
    unsafe {
        let btf = sys::btf__new_empty();
        assert!(!btf.is_null());
        let int = sys::btf__add_int(btf, c("int").as_ptr(), 4, sys::BTF_INT_SIGNED as i32);
        let chr = sys::btf__add_int(btf, c("char").as_ptr(), 1, sys::BTF_INT_SIGNED as i32);
        let ulong = sys::btf__add_int(btf, c("unsigned long").as_ptr(), 8, 0);
        let uint = sys::btf__add_int(btf, c("unsigned int").as_ptr(), 4, 0);
        let comm = sys::btf__add_array(btf, int, chr, 16);
        let load = sys::btf__add_struct(btf, c("load_weight").as_ptr(), 16);
        assert_eq!(
            sys::btf__add_field(btf, c("weight").as_ptr(), ulong, 64, 0),
            0
        );
        let se = sys::btf__add_struct(btf, c("sched_entity").as_ptr(), 32);
        assert_eq!(
            sys::btf__add_field(btf, c("load").as_ptr(), load, 128, 0),
            0
        );
        let task_ptr = sys::btf__add_ptr(btf, se + 2);
        let task = sys::btf__add_struct(btf, c("task_struct").as_ptr(), 256);
        assert_eq!(task, task_ptr + 1);
        for (name, ty, byte) in [
            ("pid", int, 8),
            ("tgid", int, 12),
            ("real_parent", task_ptr, 16),
            ("comm", comm, 24),
            ("se", se, 48),
        ] {
            assert_eq!(
                sys::btf__add_field(btf, c(name).as_ptr(), ty, byte * 8, 0),
                0
            );
        }
        // Bitfields, in another order and at other bits than this kernel's.
        for (name, bit) in [
            ("in_execve", 64 * 8 + 2),
            ("sched_reset_on_fork", 64 * 8 + 5),
        ] {
            assert_eq!(sys::btf__add_field(btf, c(name).as_ptr(), uint, bit, 1), 0);
        }
        if extra {
            assert_eq!(
                sys::btf__add_field(btf, c("extra").as_ptr(), int, 100 * 8, 0),
                0
            );
        }
        let mut size = 0u32;
        let data = sys::btf__raw_data(btf, &mut size);
        let bytes = std::slice::from_raw_parts(data as *const u8, size as usize);
        std::fs::write(path, bytes).unwrap();
        sys::btf__free(btf);
    }
}

fn tmp(name: &str) -> String {
    format!("{}/{name}", env!("CARGO_TARGET_TMPDIR"))
}

#[test]
fn an_artifact_built_for_another_layout_reads_this_kernels_fields() {
    let btf = tmp("core-other.btf");
    other_kernel_btf(&btf, false);
    let spy = tmp("core-task.spy");
    // `se.load` is also copied whole: its members are relocated one by one.
    let script = r#"begin { $l = curtask->se.load;
        printf("%d %d %d %s %d %d\n", curtask->pid, curtask->tgid, curtask->real_parent->tgid,
               curtask->comm, curtask->se.load.weight, $l.weight); exit(); }"#;
    let built = spyglass_env(
        &["build", "-e", script, "-o", &spy],
        &[("BPFTRACE_BTF", &btf)],
    );
    assert_eq!(built.code, 0, "{}", built.stderr);
    // The probe runs in spyglass-run itself, whose parent is this test.
    let child = Command::new(spyglass_run())
        .args(["-q", &spy])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let me = child.id();
    let o = Out::of(child.wait_with_output().unwrap());
    assert_eq!(o.code, 0, "{}", o.stderr);
    // A nice-0 task's load weight (1024, scaled up by 10 bits on 64-bit kernels).
    let want = format!(
        "{me} {me} {} spyglass-run 1048576 1048576\n",
        std::process::id()
    );
    assert_eq!(
        o.stdout.lines().next().unwrap_or(""),
        want.trim_end(),
        "{}",
        o.stderr
    );
    // Every read is relocated, so nothing is left to warn about.
    assert_eq!(o.stderr, "");
    // Without relocations (a local run against the same types) the reads land elsewhere:
    // what the relocations fixed was really wrong.
    let local = spyglass_env(&["-q", "-e", script], &[("BPFTRACE_BTF", &btf)]);
    assert_eq!(local.code, 0, "{}", local.stderr);
    assert!(
        !local.stdout.contains("spyglass 1048576 1048576"),
        "{}",
        local.stdout
    );
}

/// Bitfields are relocated too: their storage, width and shifts are this kernel's.
#[test]
fn a_bitfield_is_read_where_this_kernel_has_it() {
    let btf = tmp("core-bits.btf");
    other_kernel_btf(&btf, false);
    let spy = tmp("core-bits.spy");
    let script = r#"tracepoint:syscalls:sys_enter_getpid /pid == cpid/ {
        printf("%d %d\n", curtask->sched_reset_on_fork, curtask->in_execve); }"#;
    let built = spyglass_env(
        &["build", "-e", script, "-o", &spy],
        &[("BPFTRACE_BTF", &btf)],
    );
    assert_eq!(built.code, 0, "{}", built.stderr);
    // `chrt -R` runs the workload with SCHED_RESET_ON_FORK, which sets the first bit.
    let child = format!("chrt -R -o 0 {} 2", workload());
    let o = Out::of(
        Command::new(spyglass_run())
            .args(["-q", "-c", &child, &spy])
            .output()
            .unwrap(),
    );
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (0, "1 0\n1 0\n\n\n", "")
    );
}

#[test]
fn a_field_this_kernel_lacks_is_named_with_its_probe() {
    let btf = tmp("core-extra.btf");
    other_kernel_btf(&btf, true);
    let script = tmp("core-extra.bt");
    std::fs::write(
        &script,
        "begin { }\ntracepoint:syscalls:sys_enter_getpid { @ = curtask->extra; }\n",
    )
    .unwrap();
    let spy = tmp("core-extra.spy");
    let built = spyglass_env(&["build", &script, "-o", &spy], &[("BPFTRACE_BTF", &btf)]);
    assert_eq!(built.code, 0, "{}", built.stderr);
    let o = Command::new(spyglass_run()).arg(&spy).output().unwrap();
    let o = Out::of(o);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr.contains(
            "this probe reads `struct task_struct.extra`, which this kernel does not have"
        ),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("core-extra.bt:2:"), "{}", o.stderr);
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
}

/// `sizeof`, `offsetof` and `container_of` of kernel types are relocated too: built for the
/// made-up kernel, they give this kernel's numbers, as a local run does.
#[test]
fn sizes_and_offsets_are_this_kernels() {
    let btf = tmp("core-sizes.btf");
    other_kernel_btf(&btf, false);
    let script = r#"begin { printf("%d %d %d %d\n", sizeof(struct task_struct), offsetof(struct task_struct, tgid),
        offsetof(struct task_struct, se.load.weight),
        container_of(&curtask->tgid, struct task_struct, tgid) == curtask); exit(); }"#;
    let spy = tmp("core-sizes.spy");
    let built = spyglass_env(
        &["build", "-e", script, "-o", &spy],
        &[("BPFTRACE_BTF", &btf)],
    );
    assert_eq!(built.code, 0, "{}", built.stderr);
    let local = spyglass(&["-q", "-e", script]);
    assert_eq!(local.code, 0, "{}", local.stderr);
    assert!(local.stdout.ends_with(" 1\n\n\n"), "{}", local.stdout);
    let o = Out::of(
        Command::new(spyglass_run())
            .args(["-q", &spy])
            .output()
            .unwrap(),
    );
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (0, local.stdout.as_str(), "")
    );
}

/// What is not relocated (a size the program needs while compiling, a bitfield of a struct
/// copied whole) is recorded, to be named when the artifact runs on other types (see
/// `runtime_artifact::another_kernel_is_named_in_a_warning`).
#[test]
fn layouts_that_are_not_relocated_are_recorded() {
    let spy = tmp("core-fixed.spy");
    let script = r#"begin { if (sizeof(struct task_struct) > 8) { printf("%d\n", curtask->pid > 0); } exit(); }"#;
    assert_eq!(spyglass(&["build", "-e", script, "-o", &spy]).code, 0);
    let (program, _) = spyglass::artifact::decode(&std::fs::read(&spy).unwrap()).unwrap();
    assert_eq!(program.fixed_layouts, ["struct task_struct"]);
}

/// Forty probes compile in pieces on every core, each piece a module with the same
/// relocations (LLVM keeps them in a static map; see `codegen/core.rs`): the build must
/// not crash and every read must be right.
#[test]
fn a_large_artifact_relocates_in_every_piece() {
    let script = tmp("core-pieces.bt");
    let mut src: String = (0..40)
        .map(|i| {
            format!(
                "begin {{ @a{i} = curtask->tgid == pid && curtask->se.load.weight == 1048576; }}\n"
            )
        })
        .collect();
    src.push_str("begin { exit(); }\n");
    std::fs::write(&script, src).unwrap();
    let spy = tmp("core-pieces.spy");
    for _ in 0..3 {
        let built = spyglass(&["build", &script, "-o", &spy]);
        assert_eq!(built.code, 0, "{}", built.stderr);
    }
    let o = Out::of(
        Command::new(spyglass_run())
            .args(["-q", &spy])
            .output()
            .unwrap(),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let ones = o
        .stdout
        .lines()
        .filter(|l| l.starts_with("@a") && l.ends_with(": true"))
        .count();
    assert_eq!(ones, 40, "{}", o.stdout);
}

/// `BPFTRACE_BTF` naming something that is not BTF is said where a kernel type is needed.
#[test]
fn an_unreadable_btf_file_is_named() {
    let o = spyglass_env(
        &["-e", r#"begin { printf("%d\n", curtask->pid); exit(); }"#],
        &[("BPFTRACE_BTF", "/nonexistent.btf")],
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr.contains("unknown type `struct task_struct`"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr
            .contains("BPFTRACE_BTF names /nonexistent.btf, which is not readable BTF"),
        "{}",
        o.stderr
    );
    // A file that is not BTF either: only our words, not libbpf's.
    let junk = tmp("core-junk.btf");
    std::fs::write(&junk, "not BTF\n").unwrap();
    let o = spyglass_env(
        &["-e", r#"begin { printf("%d\n", curtask->pid); exit(); }"#],
        &[("BPFTRACE_BTF", &junk)],
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr
            .starts_with("error: unknown type `struct task_struct`"),
        "{}",
        o.stderr
    );
}
