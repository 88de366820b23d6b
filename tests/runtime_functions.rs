//! Runtime tests of the functions bpftrace documents beyond the first catalogue: task
//! relatives, names of numbers, string searches, compile-time predicates, signals,
//! registers, `find`, untyped `let`. Real kernel, exact output.

mod common;
use common::*;

/// Runs a program quietly with extra arguments; returns stdout, failing on a non-zero exit.
fn out(prog: &str, extra: &[&str]) -> String {
    let mut args = vec!["-q", "-e", prog];
    args.extend_from_slice(extra);
    let o = spyglass_checked(&args);
    assert_eq!(o.code, 0, "{}", o.stderr);
    o.stdout
}

#[test]
fn parent_and_leader_of_the_child() {
    // `begin` runs in spyglass itself: its pid is the child's parent.
    let o = out(
        r#"begin { @me = pid; }
           tracepoint:syscalls:sys_enter_getpid /pid == cpid/ {
             printf("%d %s %d %s %d\n", ppid == @me, pcomm, leader_tid == pid, leader_comm,
                    ppid(curtask) == ppid);
             exit(); }"#,
        &["-c", &format!("{} 1", workload())],
    );
    let first = o.lines().next().unwrap_or("");
    assert_eq!(first, "1 spyglass 1 spyglass-worklo 1", "{o}");
}

#[test]
fn signal_and_syscall_names() {
    let o = out(
        r#"begin { printf("%s %s %s %s %s|%s %s %s %s\n", signal_name(2), signal_name(9),
                   signal_name(34), signal_name(40), signal_name(99),
                   syscall_name(0), syscall_name(39), syscall_name(257), syscall_name(100000)); }"#,
        &[],
    );
    assert_eq!(
        o,
        "SIGINT SIGKILL SIGRTMIN SIGRTMIN+6 99|read getpid openat 100000\n\n\n"
    );
}

#[test]
fn syscall_name_of_a_live_syscall() {
    let o = out(
        r#"tracepoint:raw_syscalls:sys_enter /pid == cpid && args.id == 39/ {
             printf("%s\n", syscall_name(args.id)); exit(); }"#,
        &["-c", &format!("{} 1", workload())],
    );
    assert_eq!(o, "getpid\n\n\n");
}

#[test]
fn string_searches_concatenation_and_comparison() {
    let o = out(
        r#"begin { $a = "hello"; $b = ", world";
             printf("[%s] ", str_concat($a, $b)); }
           begin { $a = "hello";
             printf("%d %d %d %d\n", strstr($a, "ll"), strstr($a, "z"), strstr($a, ""),
                    strstr($a, "o")); }
           begin { $a = "hello";
             printf("%d %d %d %d %d\n", memcmp("abc", "abd", 3), memcmp("abd", "abc", 3),
                    memcmp("abc", "abd", 2), memcmp((1, 2), (1, 3), 16), strcap($a)); }
           begin { $c = str_concat("", ", world"); printf("[%s] %d\n", $c, strlen($c)); }"#,
        &[],
    );
    assert_eq!(o, "[hello, world] 2 -1 0 4\n-1 1 0 -1 6\n[, world] 7\n\n\n");
}

#[test]
fn compile_time_predicates_and_constants() {
    let o = out(
        r#"begin { $s = "x"; $i = (uint32)1;
             printf("%d %d %d %d %d %d %d %d\n", is_str($s), is_str($i), is_integer($i),
                    is_unsigned_integer($i), is_unsigned_integer(-1), is_ptr(curtask),
                    is_literal(5), is_literal($i));
             static_assert(sizeof(uint16) == 2, "uint16 is two bytes");
             printf("%d %d %s\n", default_str_length, has_cpid, probetype); }
           interval:ms:1 { printf("%s\n", probetype); exit(); }"#,
        &[],
    );
    assert_eq!(o, "1 0 1 1 0 1 1 0\n1024 0 special\ninterval\n\n\n");
}

#[test]
fn fail_only_where_a_constant_condition_leads() {
    let prog = r#"begin { if ($1 < 2) { fail("expected more than 1, got %d", $1); }
                          printf("ok %d\n", $1); }"#;
    assert_eq!(out(prog, &["5"]), "ok 5\n\n\n");
    let o = spyglass(&["-e", prog, "1"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("error: expected more than 1, got 1"),
        "{}",
        o.stderr
    );
}

#[test]
fn assert_reports_and_exits_with_1() {
    let o = spyglass(&[
        "-q",
        "-e",
        r#"begin { assert(1 == 1, "fine"); printf("before\n"); assert(pid == 0, "pid is zero"); printf("after\n"); }"#,
    ]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    // Like errorf(), the report is part of the trace output.
    assert!(
        o.stdout
            .starts_with("before\nstdin:1:53-84: ERROR: assert failed: pid is zero\n"),
        "{}",
        o.stdout
    );
    assert!(!o.stdout.lines().any(|l| l == "after"), "{}", o.stdout);
}

#[test]
fn has_cpid_with_a_child() {
    let o = out(
        r#"begin { printf("%d\n", has_cpid); exit(); }"#,
        &["-c", "true"],
    );
    assert_eq!(o, "1\n\n\n");
}

#[test]
fn find_copies_the_value_when_the_key_is_there() {
    let o = out(
        r#"begin { @m[2] = (1, "hello"); let $v;
             if (find(@m, 2, $v)) { print($v); }
             if (!find(@m, 3, $v)) { printf("no 3\n"); }
             clear(@m); }"#,
        &[],
    );
    assert_eq!(o, "(1, hello)\nno 3\n\n\n");
}

#[test]
fn untyped_let_takes_its_first_assignment() {
    let o = out(
        r#"begin { let $d; let $s; let $n;
             if (pid > 0) { $d = ntop(0x0100007f); } else { $d = ntop(0); }
             $s = "text"; printf("%s %s %d\n", $d, $s, $n); }"#,
        &[],
    );
    assert_eq!(o, "127.0.0.1 text 0\n\n\n");
}

#[test]
fn literals_take_the_signedness_of_the_other_side() {
    let o = out(
        r#"begin { $u = (uint64)0xffffffff00000000;
             printf("%d %d %d %d %d\n", $u > 0, $u / 2 > 0x7000000000000000, -1 < 0,
                    (int64)-5 < 2, (uint64)0xffffffffffffffff > 1); }"#,
        &[],
    );
    assert_eq!(o, "1 1 1 1 1\n\n\n");
}

#[test]
fn macaddr_cgroupid_and_retagged_pointers() {
    let o = out(
        r#"begin { printf("%s %d %d\n", macaddr(0xffeeddccbbaa), cgroupid("/sys/fs/cgroup"),
                          kptr(curtask) == curtask); }"#,
        &[],
    );
    assert_eq!(o, "AA:BB:CC:DD:EE:FF 1 1\n\n\n");
}

#[test]
fn json_macaddr_is_a_string() {
    let o = out(
        r#"begin { @m = macaddr(0x060504030201); }"#,
        &["-f", "json"],
    );
    assert_eq!(
        o,
        "{\"type\": \"map\", \"data\": {\"@m\": \"01:02:03:04:05:06\"}}\n"
    );
}

#[test]
fn registers_of_a_profile_sample() {
    let o = out(
        r#"profile:hz:99 { printf("%d %d\n", reg("ip") != 0, reg("pc") == reg("ip")); exit(); }"#,
        &[],
    );
    assert_eq!(o, "1 1\n\n\n");
}

#[test]
fn signal_reaches_the_traced_process() {
    // The child handles SIGUSR1 (a fatal signal would be delivered as SIGKILL). The signal
    // is sent once, from its first sleep.
    let child = r#"python3 -c 'import signal, time
signal.signal(signal.SIGUSR1, lambda *a: print("handled", flush=True))
time.sleep(0.3)'"#;
    let o = out(
        r#"tracepoint:syscalls:sys_enter_clock_nanosleep /pid == cpid && @sent == 0/ {
             @sent = 1; signal("SIGUSR1"); }
           tracepoint:signal:signal_deliver /pid == cpid && args.sig == 10/ {
             printf("%s\n", signal_name(args.sig)); }
           end { clear(@sent); }"#,
        &["--unsafe", "-c", child],
    );
    // The child writes straight to the terminal, the trace through the ring buffer: their
    // order is not fixed.
    let mut lines: Vec<&str> = o.lines().collect();
    lines.sort();
    assert_eq!(lines, ["", "", "SIGUSR1", "handled"], "{o}");
}

#[test]
fn kfunc_exist_asks_the_kernel_btf() {
    let o = out(
        r#"begin { printf("%d %d\n", kfunc_exist("bpf_task_from_pid"), kfunc_exist("no_such_kfunc_x")); }"#,
        &[],
    );
    assert_eq!(o, "1 0\n\n\n");
}

#[test]
fn delete_removes_a_scalar_map() {
    // bpftrace creates scalar elements up front: a map never assigned prints as zero, and
    // delete() takes it away (before, `@m: 0` was still printed).
    let o = out(
        r#"begin { @m = 1; @s = "x"; @c = count(); @kept = 5; if (0) { @never = 3; }
                   delete(@m); delete(@s); delete(@c); exit(); }"#,
        &[],
    );
    assert_eq!(o, "\n\n@kept: 5\n@never: 0\n");
}
