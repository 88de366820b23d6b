//! Artifacts and `spyglass-run`: a script built once (`spyglass build`) runs on a binary
//! made from the runtime crate alone, without LLVM, and prints what the script prints.
//! (Every deterministic runtime test also goes through an artifact: `common::run_e`.)

mod common;
use common::*;

use std::process::Command;

fn run(args: &[&str]) -> Out {
    Out::of(Command::new(spyglass_run()).args(args).output().unwrap())
}

/// Writes the script `src` to `artifact-NAME.bt` and builds it into `artifact-NAME.spy`,
/// whose path it returns (errors then quote `artifact-NAME.bt`).
fn built(name: &str, src: &str) -> String {
    let dir = env!("CARGO_TARGET_TMPDIR");
    let (script, spy) = (
        format!("{dir}/artifact-{name}.bt"),
        format!("{dir}/artifact-{name}.spy"),
    );
    std::fs::write(&script, src).unwrap();
    let o = spyglass(&["build", &script, "-o", &spy]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    spy
}

/// Rewrites the artifact `spy` as if built elsewhere: `f` changes its program.
fn edit(spy: &str, f: impl FnOnce(&mut spyglass::program::CompiledProgram)) {
    let (mut program, source) = spyglass::artifact::decode(&std::fs::read(spy).unwrap()).unwrap();
    f(&mut program);
    std::fs::write(spy, spyglass::artifact::encode(&program, source)).unwrap();
}

/// Moves `field` of the recorded layout `key` in the artifact: its offset becomes `to(it)`.
fn move_recorded_field(spy: &str, key: &str, field: &str, to: impl FnOnce(u32) -> u32) {
    edit(spy, |program| {
        let layout = program
            .tracepoint_layouts
            .get_mut(key)
            .expect("the layout is recorded");
        let f = layout
            .iter_mut()
            .find(|(f, _, _)| f == field)
            .expect("the field is recorded");
        f.1 = to(f.1);
    });
}

#[test]
fn spyglass_run_carries_no_llvm() {
    let ldd = |bin: &str| {
        String::from_utf8(Command::new("ldd").arg(bin).output().unwrap().stdout).unwrap()
    };
    // LLVM and the C++ runtime it needs are linked statically and leave their own messages
    // in the binary: true of spyglass, which calibrates the check, and never of spyglass-run.
    let marks = |bin: &str| {
        let bytes = std::fs::read(bin).unwrap();
        ["LLVM ERROR", "llvm::", "basic_string::"]
            .iter()
            .filter(|m| bytes.windows(m.len()).any(|w| w == m.as_bytes()))
            .count()
    };
    assert_eq!(marks(BIN), 3);
    // Loading and relocating libstdc++.so was half of every start (BENCHMARKS.md); each
    // shared library costs every start its loading, so libelf and the compression
    // libraries are linked in too.
    let shared = |bin: &str| -> Vec<String> {
        let listed = ldd(bin);
        ["libstdc++", "libelf", "libz.", "libzstd"]
            .iter()
            .filter(|l| listed.contains(*l))
            .map(|l| format!("{bin} loads {l}"))
            .collect()
    };
    assert_eq!(shared(BIN), Vec::<String>::new());
    let runner = spyglass_run();
    assert_eq!(shared(&runner), Vec::<String>::new());
    let libs = ldd(&runner);
    assert!(
        !libs.contains("libstdc++") && !libs.contains("LLVM"),
        "{libs}"
    );
    assert_eq!(marks(&runner), 0);
    let size = std::fs::metadata(&runner).unwrap().len();
    assert!(size < 8 << 20, "spyglass-run is {size} bytes");
}

#[test]
fn an_artifact_traces_a_child_like_the_script() {
    let script = format!("{}/artifact-child.bt", env!("CARGO_TARGET_TMPDIR"));
    let spy = format!("{}/artifact-child.spy", env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(
        &script,
        "tracepoint:syscalls:sys_enter_getpid /pid == cpid/ { @calls[comm] = count(); @h = hist(7); }\n\
         tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { printf(\"%s done\\n\", comm); }\n",
    )
    .unwrap();
    let built = spyglass(&["build", &script, "-o", &spy]);
    assert_eq!(built.code, 0, "{}", built.stderr);
    // No `cpid` warning: the child comes when the artifact runs.
    assert_eq!(built.stderr, "");
    let child = format!("{} 7", workload());
    for format in ["text", "json"] {
        let direct = spyglass(&["-f", format, "-c", &child, &script]);
        let ran = run(&["-f", format, "-c", &child, &spy]);
        assert_eq!(direct.code, 0, "{}", direct.stderr);
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        assert_eq!(ran.stdout, direct.stdout);
        assert!(
            ran.stdout.contains("spyglass-worklo done"),
            "{}",
            ran.stdout
        );
    }
    // `-o FILE` as spyglass takes it.
    let out = format!("{}/artifact-child.out", env!("CARGO_TARGET_TMPDIR"));
    let ran = run(&["-o", &out, "-c", &child, &spy]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(ran.stdout, "");
    let direct = spyglass(&["-c", &child, &script]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), direct.stdout);
    // `spyglass FILE.spy` runs it too.
    let full = spyglass(&["-c", &child, &spy]);
    assert_eq!(full.code, 0, "{}", full.stderr);
    assert!(
        full.stdout.contains("@calls[spyglass-worklo]: 7\n"),
        "{}",
        full.stdout
    );
}

#[test]
fn a_bad_artifact_is_refused_clearly() {
    let spy = format!("{}/artifact-newer.spy", env!("CARGO_TARGET_TMPDIR"));
    let built = spyglass(&["build", "-e", "begin { exit(); }", "-o", &spy]);
    assert_eq!(built.code, 0, "{}", built.stderr);
    let mut bytes = std::fs::read(&spy).unwrap();
    // A format from the future.
    bytes[8..12].copy_from_slice(&99u32.to_le_bytes());
    std::fs::write(&spy, &bytes).unwrap();
    for o in [run(&[&spy]), spyglass(&[&spy])] {
        assert_eq!(o.code, 1, "{}", o.stderr);
        assert!(
            o.stderr
                .contains("the artifact is in format 99, newer than this spyglass"),
            "{}",
            o.stderr
        );
        assert!(o.stderr.contains(env!("CARGO_PKG_VERSION")), "{}", o.stderr);
        assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    }
    let o = run(&["/nonexistent.spy"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("cannot read /nonexistent.spy"),
        "{}",
        o.stderr
    );
    let o = run(&["-f", "yaml", &spy]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("-f yaml: expected text, json or folded"),
        "{}",
        o.stderr
    );
}

/// An artifact records the kernel it was built for; run where the kernel's types differ,
/// it still runs, but says which layouts it uses as they were there (struct field reads
/// are relocated, `sizeof` is not). Without such uses there is nothing to say.
#[test]
fn another_kernel_is_named_in_a_warning() {
    let spy = format!("{}/artifact-kernel.spy", env!("CARGO_TARGET_TMPDIR"));
    let plain = format!("{}/artifact-kernel-plain.spy", env!("CARGO_TARGET_TMPDIR"));
    let fixed = "begin { if (sizeof(struct task_struct) > 8) { printf(\"ok\\n\"); } exit(); }";
    let relocated = "begin { if (curtask->pid > 0) { printf(\"ok\\n\"); } exit(); }";
    for (script, out) in [(fixed, &spy), (relocated, &plain)] {
        let built = spyglass(&["build", "-e", script, "-o", out]);
        assert_eq!(built.code, 0, "{}", built.stderr);
        let here = run(&["-q", out]);
        assert_eq!(
            (here.code, here.stdout.as_str(), here.stderr.as_str()),
            (0, "ok\n\n\n", "")
        );
        edit(out, |program| {
            let kernel = program
                .built_on
                .as_mut()
                .expect("the build kernel is recorded");
            kernel.release = "0.0.0-elsewhere".into();
            kernel.btf_crc ^= 1;
        });
    }
    for o in [run(&["-q", &spy]), spyglass(&["-q", &spy])] {
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert_eq!(o.stdout, "ok\n\n\n");
        assert!(
            o.stderr
                .contains("was built for kernel 0.0.0-elsewhere and this is"),
            "{}",
            o.stderr
        );
        assert!(
            o.stderr
                .contains("it uses struct task_struct as laid out there"),
            "{}",
            o.stderr
        );
    }
    for o in [run(&["-q", &plain]), spyglass(&["-q", &plain])] {
        assert_eq!(
            (o.code, o.stdout.as_str(), o.stderr.as_str()),
            (0, "ok\n\n\n", "")
        );
    }
}

/// An artifact reads `comm`, `pid` and `tid` through helpers, not at this kernel's
/// `task_struct` offsets (no `bpf_get_current_task_btf` call), so they are right on any
/// kernel; a local run reads them from the task.
#[test]
fn an_artifact_reads_the_task_through_helpers() {
    let prog = r#"tracepoint:syscalls:sys_enter_getpid { printf("%s %d %d\n", comm, pid, tid); }"#;
    let spy = format!("{}/artifact-task.spy", env!("CARGO_TARGET_TMPDIR"));
    let elf = format!("{}/artifact-task.o", env!("CARGO_TARGET_TMPDIR"));
    assert_eq!(spyglass(&["build", "-e", prog, "-o", &spy]).code, 0);
    let o = spyglass(&["--mode", "codegen", "--emit-elf", &elf, "-e", prog]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // `call 158` (bpf_get_current_task_btf) as BPF encodes it.
    let call = |code: &[u8]| code.windows(8).any(|w| w == [0x85, 0, 0, 0, 158, 0, 0, 0]);
    assert!(call(&std::fs::read(&elf).unwrap()));
    let (artifact, _) = spyglass::artifact::decode(&std::fs::read(&spy).unwrap()).unwrap();
    assert!(!call(&artifact.elf));
    let o = run(&["-c", &format!("{} 2", workload()), &spy]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("spyglass-worklo "), "{}", o.stdout);
}

/// An artifact carries its script: a probe this kernel lacks is named, and the error
/// quotes the script's line, as a local run would.
#[test]
fn a_missing_tracepoint_is_named_with_the_script_line() {
    let spy = built(
        "missing",
        "begin { }\ntracepoint:syscalls:sys_enter_getpid { @ = count(); }\n",
    );
    // As if built on a kernel with a syscall this one lacks.
    edit(&spy, |program| {
        for ap in program.probes.iter_mut().flat_map(|p| &mut p.attach) {
            if let spyglass::probes::AttachPoint::Tracepoint { name, .. } = ap {
                *name = "sys_enter_nosuchcall".into();
            }
        }
    });
    for o in [run(&[&spy]), spyglass(&[&spy])] {
        assert_eq!(o.code, 1, "{}", o.stderr);
        assert!(
            o.stderr
                .contains("tracepoint:syscalls:sys_enter_nosuchcall does not exist on this kernel"),
            "{}",
            o.stderr
        );
        assert!(o.stderr.contains("artifact-missing.bt:2:"), "{}", o.stderr);
        assert!(
            o.stderr
                .contains("2 │ tracepoint:syscalls:sys_enter_getpid"),
            "{}",
            o.stderr
        );
    }
}

/// An artifact records the layout of its tracepoints' records; where a field moved, it
/// is refused before loading, with the probe and the field named (its argument reads
/// would land elsewhere).
#[test]
fn a_moved_tracepoint_field_is_refused() {
    let spy = built(
        "layout",
        "tracepoint:syscalls:sys_enter_openat { @[args.flags] = count(); }\n",
    );
    move_recorded_field(&spy, "syscalls:sys_enter_openat", "flags", |at| at + 8);
    for o in [run(&[&spy]), spyglass(&[&spy])] {
        assert_eq!(o.code, 1, "{}", o.stderr);
        assert!(
            o.stderr
                .contains("tracepoint:syscalls:sys_enter_openat: field `flags` is at byte"),
            "{}",
            o.stderr
        );
        assert!(o.stderr.contains("artifact-layout.bt:1:"), "{}", o.stderr);
        assert!(!o.stderr.contains("Attached"), "{}", o.stderr);
    }
}

/// Positional and named parameters are read when an artifact runs: one build serves any
/// values. A parameter the program needs as a constant keeps the build's value, which the
/// build says, and a run giving another is refused.
#[test]
fn parameters_are_given_when_an_artifact_runs() {
    let spy = format!("{}/artifact-params.spy", env!("CARGO_TARGET_TMPDIR"));
    let prog = r#"begin { printf("%d [%s] [%s] %d %d [%s] %d\n", $1, str($2), str($1), $#,
        getopt("n", 3), getopt("who", "me"), getopt("v")); if ($1 > 10) { printf("big\n"); } exit(); }"#;
    let built = spyglass(&["build", "-e", prog, "-o", &spy]);
    assert_eq!((built.code, built.stderr.as_str()), (0, ""));
    let o = run(&["-q", &spy, "5", "hello"]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "5 [hello] [5] 2 3 [me] 0\n\n\n"),
        "{}",
        o.stderr
    );
    let args = [
        "-q",
        &spy,
        "0x40",
        "-",
        "x",
        "--",
        "--n=-9",
        "--who=you",
        "--v",
        "y",
    ];
    let o = run(&args);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "64 [-] [0x40] 4 -9 [you] 1\nbig\n\n\n"),
        "{}",
        o.stderr
    );
    // The full binary runs it the same way.
    let o = spyglass(&args);
    assert_eq!(
        o.stdout, "64 [-] [0x40] 4 -9 [you] 1\nbig\n\n\n",
        "{}",
        o.stderr
    );
    let o = run(&["-q", &spy, "abc"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("$1 is a number in this artifact and `abc` is not one"),
        "{}",
        o.stderr
    );
    let long = "x".repeat(64);
    let o = run(&["-q", &spy, "1", &long]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("$2 holds at most 63 bytes in this artifact"),
        "{}",
        o.stderr
    );
    let o = run(&["-q", &spy, "1", "--", "--zz=1"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.starts_with("ERROR: unexpected program command line option --zz\nHINT: expected program options:\n  --n\n  --who\n  --v\n"), "{}", o.stderr);
    let o = run(&["-q", &spy, "1", "--", "--n=many"]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (
            1,
            "ERROR: program command line option --n invalid integer (value: many)\n"
        )
    );

    // `$1` names the interval, `$2` bounds the histogram, `$3` decides a `fail()`.
    let fixed = format!("{}/artifact-fixed.spy", env!("CARGO_TARGET_TMPDIR"));
    let prog = r#"interval:ms:$1 { @ = lhist($4, 0, $2, 1); exit(); }
                  begin { if ($3 < 2) { fail("need $3 >= 2"); } }"#;
    let built = spyglass(&["build", "-e", prog, "-o", &fixed, "20", "10", "5"]);
    assert_eq!(built.code, 0, "{}", built.stderr);
    assert!(
        built
            .stderr
            .contains("keeps $1 = `20`, $2 = `10`, $3 = `5` as given now"),
        "{}",
        built.stderr
    );
    let o = run(&["-q", &fixed, "20", "10", "5", "7"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "\n\n@:\n[7]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\n"), "{}", o.stderr);
    let o = run(&["-q", &fixed, "30", "10", "5", "7"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("$1 is fixed in this artifact: the script uses it where the program needs a constant, and it was built with `20`"), "{}", o.stderr);
    let o = run(&["-q", &fixed, "20", "10"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("$3 is fixed in this artifact"),
        "{}",
        o.stderr
    );
}

/// A helper the kernel lacks (here a call patched to a helper number no kernel has, as an
/// artifact built for a newer kernel would make) is named with the probe that calls it.
#[test]
fn a_helper_this_kernel_lacks_is_named_with_its_probe() {
    let spy = built(
        "helper",
        "begin { }\ntracepoint:syscalls:sys_enter_getpid { @ = nsecs; }\n",
    );
    edit(&spy, |program| {
        // `call 125` (bpf_ktime_get_boot_ns) becomes `call 999`.
        let call = [0x85, 0, 0, 0, 125, 0, 0, 0];
        let at = program
            .elf
            .windows(8)
            .position(|w| w == call)
            .expect("a ktime call");
        program.elf[at + 4..at + 8].copy_from_slice(&999u32.to_le_bytes());
    });
    let o = run(&[&spy]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr
            .contains("this probe calls BPF helper #999, which this kernel does not provide"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("artifact-helper.bt:2:"), "{}", o.stderr);
}

/// A raw tracepoint's parameters are recorded like a tracepoint's record: built where
/// `prev` was another parameter, the artifact is refused, naming the probe and the field.
#[test]
fn a_moved_raw_tracepoint_parameter_is_refused() {
    let spy = built(
        "rawtp",
        "rawtracepoint:sched_switch { printf(\"%d\\n\", args.prev->pid > 0); exit(); }\n",
    );
    let o = run(&["-q", &spy]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "1\n\n\n"), "{}", o.stderr);
    move_recorded_field(&spy, "rawtracepoint:vmlinux:sched_switch", "prev", |_| 16);
    let o = run(&["-q", &spy]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains("rawtracepoint:vmlinux:sched_switch: field `prev` is at byte 8 (8 bytes) here, at byte 16"), "{}", o.stderr);
    assert!(o.stderr.contains("artifact-rawtp.bt:1:"), "{}", o.stderr);
}

/// An artifact of format 2, built before the records had a ring of their own (they went
/// through the kernel's ring buffer), runs as it did: the runtime reads whichever ring the
/// artifact writes to.
#[test]
fn an_artifact_of_format_2_still_runs() {
    let spy = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/artifacts/format2.spy"
    );
    let bytes = std::fs::read(spy).unwrap();
    assert_eq!(u32::from_le_bytes(bytes[8..12].try_into().unwrap()), 2);
    let child = format!("{} 3", workload());
    let expected = "hello 42\nspyglass-worklo getpid\nspyglass-worklo getpid\n\
                    spyglass-worklo getpid\ndone\n\n\n@calls[spyglass-worklo]: 3\n";
    for o in [spyglass(&["-c", &child, spy]), run(&["-c", &child, spy])] {
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert_eq!(o.stdout, expected);
    }
}
