//! `comm`, `pid` and `tid` are read straight from the current task (not through
//! `bpf_get_current_comm`/`bpf_get_current_pid_tgid`): `comm` must still be the
//! NUL-padded name the kernel shows in /proc, in every kind of program, and the ids those
//! of the helper (`pid(init)`), threads included.

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
    assert!(
        o.stdout.contains("@tp[spyglass-worklo, true]: 4\n"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("@raw[spyglass-worklo]: "), "{}", o.stdout);
    assert!(
        o.stdout
            .contains("getppid spyglass-worklo|spyglass-worklo\n"),
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

#[test]
fn the_comm_offset_is_remembered_per_boot_and_a_bad_cache_is_harmless() {
    let dir = format!("{}/facts-comm", env!("CARGO_TARGET_TMPDIR"));
    let _ = std::fs::remove_dir_all(&dir);
    let prog = r#"begin { printf("%s\n", comm); exit(); }"#;
    let o = spyglass_env(&["--no-cache", "-e", prog], &[("XDG_CACHE_HOME", &dir)]);
    assert_eq!(o.stdout.trim(), "spyglass", "{}", o.stderr);
    let facts = std::fs::read_to_string(format!("{dir}/spyglass/kernel-facts")).unwrap();
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    assert!(
        facts.starts_with(&format!("{} task_struct.comm ", boot.trim())),
        "{facts}"
    );
    // Read back on the next compile, with the same result.
    let o = spyglass_env(&["--no-cache", "-e", prog], &[("XDG_CACHE_HOME", &dir)]);
    assert_eq!(o.stdout.trim(), "spyglass", "{}", o.stderr);
    assert_eq!(
        std::fs::read_to_string(format!("{dir}/spyglass/kernel-facts")).unwrap(),
        facts
    );
    // A cache location that is a file: nothing can be kept, the run is the same.
    let file = format!("{}/facts-file", env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(&file, "not a directory").unwrap();
    let o = spyglass_env(&["--no-cache", "-e", prog], &[("XDG_CACHE_HOME", &file)]);
    assert_eq!(o.stdout.trim(), "spyglass", "{}", o.stderr);
}

#[test]
fn pid_and_tid_from_the_task_agree_with_the_helper_in_threads() {
    // The main thread calls getppid, then a second thread does.
    let child = "python3 -c 'import os,threading; os.getppid(); t=threading.Thread(target=os.getppid); t.start(); t.join()'";
    let o = spyglass(&[
        "-e",
        r#"tracepoint:syscalls:sys_enter_getppid /pid == cpid/ {
  printf("%d %d %s\n", pid == pid(init) ? 1 : 0, tid == tid(init) ? 1 : 0, tid == pid ? "main" : "thread");
}"#,
        "-c",
        child,
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // Python calls getppid on its own too, always in the main thread.
    let lines: Vec<&str> = o.stdout.lines().filter(|l| !l.is_empty()).collect();
    assert!(lines.iter().all(|l| l.starts_with("1 1 ")), "{}", o.stdout);
    assert_eq!(lines.last(), Some(&"1 1 thread"), "{}", o.stdout);
    assert!(lines.contains(&"1 1 main"), "{}", o.stdout);
}
