//! Watchpoints: hardware breakpoints on a variable of a C program the suite builds without
//! PIE (`tests/runtime/watched.c`), set through `-c` (the command is held just after its
//! exec, so the address is its own) and `-p`. Real kernel, exact output.

mod common;
use common::*;

use object::{Object, ObjectSymbol};
use std::process::Command;
use std::sync::OnceLock;

/// The program and the address of its `counter`.
fn watched() -> &'static (String, u64) {
    static BIN: OnceLock<(String, u64)> = OnceLock::new();
    BIN.get_or_init(|| {
        let out = format!("{}/spyglass-watched", env!("CARGO_TARGET_TMPDIR"));
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/runtime/watched.c");
        let st = Command::new("cc")
            .args(["-O2", "-no-pie", "-o", &out, src])
            .status()
            .expect("cc");
        assert!(st.success());
        let data = std::fs::read(&out).unwrap();
        let file = object::File::parse(&*data).unwrap();
        let addr = file
            .symbols()
            .find(|s| s.name() == Ok("counter"))
            .expect("counter")
            .address();
        (out, addr)
    })
}

#[test]
fn writes_to_a_watched_variable_of_the_child() {
    let (bin, addr) = watched();
    let o = spyglass(&[
        "-q",
        "-c",
        &format!("{bin} 3"),
        "-e",
        &format!(
            "watchpoint:0x{addr:x}:8:w {{ printf(\"%s %d\\n\", probe, *(uint64 *)0x{addr:x}); }}"
        ),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let name = format!("watchpoint:0x{addr:x}:8:w");
    assert_eq!(
        o.stdout,
        format!("{name} 100\n{name} 101\n{name} 102\n\n\n")
    );
}

#[test]
fn watching_a_running_process_with_p() {
    let (bin, addr) = watched();
    // The program waits 1.5 s before writing, time for spyglass to attach.
    let mut target = Command::new(bin).args(["2", "1500"]).spawn().unwrap();
    let o = spyglass(&[
        "-q",
        "-p",
        &target.id().to_string(),
        "-e",
        &format!("w:0x{addr:x}:4:rw {{ @hits = count(); }}"),
    ]);
    target.wait().unwrap();
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "\n\n@hits: 2\n");
}

#[test]
fn watchpoint_errors() {
    let o = run_e("watchpoint:0x1000:3:w { }");
    assert!(
        o.stderr.contains("length must be 1, 2, 4 or 8"),
        "{}",
        o.stderr
    );
    let o = run_e("watchpoint:0x1000:8:r { }");
    assert!(
        o.stderr.contains("not supported on x86-64: use w, rw or x"),
        "{}",
        o.stderr
    );
    let o = run_e("watchpoint:0:8:w { }");
    assert!(
        o.stderr.contains("not a valid watchpoint address"),
        "{}",
        o.stderr
    );
}

#[test]
fn kernel_watchpoints_are_refused_here_with_the_reason() {
    // Without -p/-c the address is the kernel's, watched on every CPU. This machine refuses
    // that (EPERM even as root), and its kernel, built without CONFIG_KPROBES, refuses
    // execute breakpoints on kernel code; the diagnostics say so.
    let syms = std::fs::read_to_string("/proc/kallsyms").unwrap();
    let addr = syms
        .lines()
        .find(|l| l.ends_with(" do_nanosleep"))
        .and_then(|l| l.split_whitespace().next())
        .expect("do_nanosleep in kallsyms");
    for (mode, why) in [
        ("w", "does not let breakpoints watch kernel addresses"),
        ("x", "execute breakpoints on kernel code"),
    ] {
        let o = spyglass(&["-e", &format!("watchpoint:0x{addr}:8:{mode} {{ }}")]);
        assert_eq!(o.code, 1);
        assert!(
            o.stderr.contains(why) || o.stderr.contains("does not let breakpoints"),
            "{}",
            o.stderr
        );
    }
}

/// `unwatch(addr)` removes the watchpoint on `addr`: later writes go unseen (the writes
/// are 50 ms apart; the removal is asynchronous, as documented).
#[test]
fn unwatch_removes_the_watchpoint() {
    let (bin, addr) = watched();
    let o = spyglass(&[
        "-q",
        "-c",
        &format!("{bin} 5 0 50"),
        "-e",
        &format!(
            "watchpoint:0x{addr:x}:8:w {{ @hits = count(); printf(\"%d\\n\", *(uint64 *)0x{addr:x}); if (@hits == 2) {{ unwatch(0x{addr:x}); }} }}"
        ),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "100\n101\n\n\n@hits: 2\n");
}
