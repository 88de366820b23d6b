//! Runtime tests of C structs: script definitions (layout, bitfields, packed), the
//! kernel's BTF (`curtask->…`, typedefs, tracepoint struct pointers), `sizeof`,
//! `offsetof`, struct values printed as records; exact output compared.

mod common;
use common::*;

/// Runs a program quietly; returns stdout (which `exit()` ends with two blank lines, as
/// bpftrace's does), failing on a non-zero exit.
fn out(prog: &str) -> String {
    let o = spyglass_checked(&["-q", "-e", prog]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    o.stdout
}

#[test]
fn curtask_fields_match_the_process() {
    let o = out(r#"begin {
        printf("%d %d\n", curtask->pid == pid, curtask.tgid == pid);
        $t = curtask; printf("%d\n", $t->pid == tid);
        printf("%d\n", ((struct task_struct *)curtask)->mm != 0);
        printf("%d\n", curtask->real_parent->tgid);
        printf("%s|%s\n", curtask->comm, curtask->real_parent->comm);
        exit(); }"#);
    // The parent is this test's thread: the process's pid, the thread's name.
    let comm = std::fs::read_to_string("/proc/thread-self/comm").unwrap();
    let want = format!(
        "1 1\n1\n1\n{}\nspyglass|{}\n\n\n",
        std::process::id(),
        comm.trim_end()
    );
    assert_eq!(o, want);
}

#[test]
fn kernel_types_by_name() {
    let o = out(r#"begin {
        print(sizeof(uint64_t)); print(sizeof(struct task_struct) > 1000);
        print(offsetof(struct task_struct, pid) == offsetof(struct task_struct, tgid) - 4);
        print(sizeof(curtask->comm)); print((char)300); print((unsigned short)-1);
        let $a: typeof(size_t) = 1; let $b: typeof(size_t*) = &$a; print(*$b);
        exit(); }"#);
    assert_eq!(o, "8\ntrue\ntrue\n16\n44\n65535\n1\n\n\n");
}

#[test]
fn script_layouts_follow_c() {
    // bpftrace's own cases (builtin.sizeof, struct with attribute, Struct pointer math).
    let o = out(r#"struct Foo { int x; char c; }
        begin { $x = 1; printf("%d %d %d %d %d\n", sizeof(struct Foo), sizeof((*(struct Foo*)0).x),
                sizeof((*(struct Foo*)0).c), sizeof(1 == 1), sizeof($x)); exit(); }"#);
    assert_eq!(o, "8 4 1 1 1\n\n\n");
    let o = out(r#"struct foo { int x; char y; int z; }
        struct bar { int x; char y; int z; } __attribute__((packed))
        struct bar2 { int x; char y; int z; } __attribute__((packed)) __attribute__((aligned(1)))
        begin { print(sizeof(struct foo)); print(sizeof(struct bar)); print(sizeof(struct bar2)); exit(); }"#);
    assert_eq!(o, "12\n9\n9\n\n\n");
    let o = out(
        r#"struct A {int32_t a; int32_t b; char c[28] }; begin { $a=(struct A*) 1024;
        printf("%lu - 5 x %lu = %lu\n", $a, sizeof(struct A), $a-5); exit(); }"#,
    );
    assert_eq!(o, "1024 - 5 x 36 = 844\n\n\n");
    let o = out(r#"struct In { short s; int i; }
        struct Out { char c; struct In in; struct In *next; unsigned long long lo:3, hi:5; char name[8]; };
        union U { char c; long l; }
        begin { printf("%d %d %d %d %d\n", sizeof(struct Out), offsetof(struct Out, in.i),
                offsetof(struct Out, next), offsetof(struct Out, name), sizeof(union U)); exit(); }"#);
    assert_eq!(o, "40 8 16 25 8\n\n\n");
}

#[test]
fn fields_and_struct_values() {
    let o = out(
        r#"struct foo { unsigned long long x_0:1; unsigned long long x_1:1; unsigned long long x_2:2; }
        begin { $val = (uint64)0x1e; $f = *(struct foo *)(&$val); print($f); exit(); }"#,
    );
    assert_eq!(o, "{ .x_0 = 0, .x_1 = 1, .x_2 = 3 }\n\n\n");
    let o = out(
        r#"struct S { char c; short s:4, t:12; struct { int a; } in; int arr[2]; }
        begin { $v = (uint64)0x00000007fffe8041; $p = (struct S *)&$v;
                printf("%d %d %d %d\n", $p->c, $p->s, $p.t, $p->in.a);
                print(*$p); exit(); }"#,
    );
    // As GCC lays it out: s in bits 8..12 (0), t starts a new unit at bit 16 (0xffe: -2).
    // `arr` lies past the 8 bytes of `$v`: its values are whatever follows on the stack.
    assert!(
        o.starts_with("65 0 -2 7\n{ .c = 65, .s = 0, .t = -2, .in = { .a = 7 }, .arr = ["),
        "{o}"
    );
}

#[test]
fn script_definitions_override_btf() {
    let o = out(r#"struct task_struct { int x; }
        begin { print(sizeof(struct task_struct)); printf("%d\n", curtask.x == *(int32 *)curtask); exit(); }"#);
    assert_eq!(o, "4\n1\n\n\n");
}

#[test]
fn user_struct_pointers_from_tracepoints() {
    // `rqtp` is a `struct __kernel_timespec __user *`: its fields are read from user memory.
    let o = spyglass(&[
        "-q",
        "-c",
        "/bin/sleep 1.25",
        "-e",
        r#"tracepoint:syscalls:sys_enter_clock_nanosleep /pid == cpid/ {
            printf("%d %d\n", args.rqtp->tv_sec, args.rqtp.tv_nsec); print(*args.rqtp); exit(); }"#,
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "1 250000000\n{ .tv_sec = 1, .tv_nsec = 250000000 }\n\n\n"
    );
}

#[test]
fn unknown_names_are_diagnosed() {
    let o = run_e("begin { print(curtask->pidd); }");
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("`struct task_struct` has no field named `pidd`")
            && o.stderr.contains("did you mean `pid`?"),
        "{}",
        o.stderr
    );
    let o = run_e("begin { print(sizeof(struct task_strct)); }");
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("did you mean `struct task_struct`?"),
        "{}",
        o.stderr
    );
}

#[test]
fn struct_casts_in_uprobes_read_user_memory() {
    // `main(argc, argv)`: argv seen as a struct of two pointers, both in user memory.
    let w = workload();
    let prog = format!(
        r#"struct Argv {{ char *prog; char *n; }}
        uprobe:{w}:main {{ $a = (struct Argv *)arg1; printf("%s %d\n", str($a->n), $a.prog != 0); exit(); }}"#
    );
    let o = spyglass(&["-q", "-c", &format!("{w} 3"), "-e", &prog]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "3 1\n\n\n");
}

#[test]
fn typeof_declarations() {
    let o = out(
        r#"macro add(x) { let $y: typeof(x); if (true) { $y = 1 } x + $y }
        macro m(t) { sizeof(t) + 2 } macro n(z) { print(m(typeof(z))); }
        begin { print(add(1)); n(typeof(uint64*)); $s = "abc"; let $t: typeof($s); print($t);
                let $u: typeof($s) = "xy"; print($u); let $i: typeof((int16)1) = 70000; print($i);
                exit(); }"#,
    );
    assert_eq!(o, "2\n10\n\nxy\n4464\n\n\n");
}

#[test]
fn enum_constants_from_scripts_and_btf() {
    let o = out(
        r#"enum Foo { ONE = 1, TWO = 2, OTHER = 99999 }; enum { A, B = -3, C };
        begin { $x = 100; printf("%d %d %d %d %d %d %d %d\n", ONE, TWO, OTHER, (enum Foo)$x,
                sizeof(enum Foo), A, B, C);
                printf("%d %d\n", TASK_COMM_LEN, sizeof(curtask->comm) == TASK_COMM_LEN); exit(); }"#,
    );
    assert_eq!(o, "1 2 99999 100 4 0 -3 -2\n16 1\n\n\n");
}
