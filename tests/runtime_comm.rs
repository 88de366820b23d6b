//! `comm` is read straight from the current task (not through `bpf_get_current_comm`):
//! it must still be the NUL-padded name the kernel shows in /proc, in every kind of
//! program, next to pids read in the same probe.

mod common;
use common::*;

#[test]
fn comm_in_a_tracepoint_a_raw_tracepoint_and_begin() {
    let o = spyglass(&[
        "-e",
        r#"begin { printf("begin %s\n", comm); }
tracepoint:syscalls:sys_enter_getpid /pid == cpid/ { @tp[comm, pid == tid] = count(); }
rawtracepoint:sys_enter /pid == cpid/ { @raw[comm] = count(); }
tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { printf("getppid %s|%s\n", comm, comm(pid)); }"#,
        "-c",
        &format!("{} 4", workload()),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // The workload's name is cut to the kernel's 15 characters.
    assert!(o.stdout.contains("begin spyglass\n"), "{}", o.stdout);
    assert!(o.stdout.contains("@tp[spyglass-worklo, true]: 4\n"), "{}", o.stdout);
    assert!(o.stdout.contains("@raw[spyglass-worklo]: "), "{}", o.stdout);
    assert!(
        o.stdout.contains("getppid spyglass-worklo|spyglass-worklo\n"),
        "{}",
        o.stdout
    );
}

#[test]
fn a_short_name_is_padded_like_the_helper_leaves_it() {
    // `true` is shorter than a word: the bytes after its NUL must be zero, or the map
    // would hold several keys for one name.
    let o = spyglass(&[
        "-e",
        r#"tracepoint:sched:sched_process_exec /pid == cpid/ { @[comm] = count(); @n = count(); }"#,
        "-c",
        "/bin/true",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("@[true]: 1\n"), "{}", o.stdout);
    assert_eq!(o.stdout.matches("@[").count(), 1, "{}", o.stdout);
}
