//! Runtime tests of pointers: `(T*)` casts, `*p`, `&$x`, pointer arithmetic, comparisons,
//! `curtask`, typed tracepoint pointer arguments; exact output compared.

mod common;
use common::*;

/// Runs a program quietly; returns stdout, failing on a non-zero exit.
fn out(prog: &str) -> String {
    let o = spyglass_checked(&["-q", "-e", prog]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    o.stdout
}

#[test]
fn arithmetic_moves_by_the_pointee_size() {
    // The conformance cases (bpftrace's pointers suite).
    for (prog, want) in [
        ("begin { @=(int8*) 0x32; @+=1; }", "0x33"),
        ("begin { @=(int32*) 0x32; @+=1; }", "0x36"),
        ("begin { @=(int8*) 0x32; @++; }", "0x33"),
        ("begin { @=(int32*) 0x32; @++; }", "0x36"),
        ("begin { @=(int32*) 0x32; ++@; }", "0x36"),
        ("begin { @=(int32*) 0x32; @-=1; }", "0x2e"),
        ("begin { @=(int32*) 0x32; @+=6; }", "0x4a"),
        ("begin { @=(int16*) 0x32; @--; }", "0x30"),
    ] {
        assert_eq!(out(prog), format!("\n\n@: {want}\n"), "{prog}");
    }
    let o = out(
        r#"begin { $p = (int64*)0x100; print($p + 2); print(2 + $p); print($p - 1);
                   $v = (void*)0x100; print($v + 3); $q = (uint16**)0x10; $q++; print($q);
                   print((uint64)($p + 1)); print((int8)((int8*)0x1ff)); }"#,
    );
    assert_eq!(o, "0x110\n0x110\n0xf8\n0x103\n0x18\n264\n-1\n\n\n");
}

#[test]
fn pointers_print_in_hex_and_json_as_numbers() {
    let o = out(
        r#"begin { $p = (int16*)0x32; printf("%d %x %s|%5s|\n", $p, $p, $p, (uint8*)1);
                   @m[$p] = (uint8*)0; @t = ($p, 1); print((int8*)0xffffffffffffffff); }"#,
    );
    assert_eq!(
        o,
        "50 32 0x32|  0x1|\n0xffffffffffffffff\n\n\n@m[0x32]: 0x0\n@t: (0x32, 1)\n"
    );
    let j = spyglass(&[
        "-q",
        "-f",
        "json",
        "-e",
        "begin { @=(int16*) 0x32; @t = ((int8*)2, 3); }",
    ]);
    assert_eq!(j.stdout, "{\"type\": \"map\", \"data\": {\"@\": 50}}\n{\"type\": \"map\", \"data\": {\"@t\": [2,3]}}\n");
}

#[test]
fn comparisons_and_truthiness() {
    let o = out(
        r#"begin { $a = (int64*) 0x32; $a++; if (0x32 < $a && $a > 0x32) { print("SUCCESS"); }
                   $b = (int8*)0; if ($b) { print("no"); } else { print("null is false"); }
                   print($a == (int64*)0x3a); print((int8*)1 != (int32*)1);
                   print((int8*)0xffffffffffffffff > (int8*)1); print($b ? 1 : 2); }"#,
    );
    assert_eq!(o, "SUCCESS\nnull is false\ntrue\nfalse\ntrue\n2\n\n\n");
}

#[test]
fn curtask_is_a_pointer() {
    assert_eq!(out("begin { if (curtask) { @ = 1; } }"), "\n\n@: 1\n");
    assert_eq!(out("begin { @ = (curtask && 0) ? 1 : 2; }"), "\n\n@: 2\n");
    assert_eq!(
        out("begin { @ = (uint64)curtask > 0xffff000000000000; }"),
        "\n\n@: true\n"
    );
    let o = out("begin { print(curtask); }");
    assert!(o.starts_with("0xffff") && o.ends_with("\n\n\n"), "{o}");
}

#[test]
fn dereference_reads_the_pointee() {
    let o = out(
        r#"begin { $x = 0x11223344aabbccdd; $p = (uint16*)&$x; print(*$p); print(*($p + 1));
                   print(*(int8*)&$x); print(*(uint8*)&$x); print(*(int32*)&$x);
                   $y = (int64)-2; print(*(int8*)&$y); print(*(uint8*)&$y); print(*(bool*)&$y);
                   $pp = &$p; print(**$pp); print(*(uint64*)&$x == $x); }"#,
    );
    assert_eq!(
        o,
        "52445\n43707\n-35\n221\n-1430532899\n-2\n254\ntrue\n52445\ntrue\n\n\n"
    );
}

#[test]
fn address_of_variables() {
    let o = out(r#"begin { $a = 1; $b = &$a; print(($b, *$b)); }"#);
    let (ptr, rest) = o.split_once(", ").unwrap();
    assert!(ptr.starts_with("(0x"), "{o}");
    assert_eq!(rest, "1)\n\n\n");
    let o = out(r#"begin { $a = "hello"; $b = (int8 *)&$a; printf("%c %c\n", *$b, *++$b); }"#);
    assert_eq!(o, "h e\n\n\n");
    // The pointer sees later writes to the variable.
    let o = out(r#"begin { $a = 1; $p = &$a; $a = 7; print(*$p); }"#);
    assert_eq!(o, "7\n\n\n");
}

#[test]
fn a_failed_read_yields_zero() {
    assert_eq!(
        out("begin { print(*(int32*)8); print(*(uint64)16); }"),
        "0\n0\n\n\n"
    );
}

#[test]
fn tracepoint_pointer_arguments_are_typed_user_pointers() {
    // `const char *filename` is an `int8 *` into user memory: deref, arithmetic and str()
    // read user memory, also through a pointer kept in a map.
    let o = spyglass(&[
        "-q",
        "-e",
        r#"tracepoint:syscalls:sys_enter_openat /pid == cpid && str(args.filename, 14) == "/etc/hostname"/ {
               printf("%c%c %s\n", *args.filename, *(args.filename + 1), str(args.filename + 5, 9));
               @p = args.filename; @t = *@p; @s = str(@p, 5); }"#,
        "-c",
        "cat /etc/hostname",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert!(lines.contains(&"/e hostname"), "{}", o.stdout);
    let p = lines.iter().find_map(|l| l.strip_prefix("@p: ")).unwrap();
    assert!(p.starts_with("0x7f") || p.starts_with("0x5"), "{p}");
    assert!(o.stdout.ends_with("@s: /etc/\n@t: 47\n"), "{}", o.stdout);
}

#[test]
fn sizeof_pointer_types() {
    assert_eq!(
        out("begin { print(sizeof(int8*)); print(sizeof(void**)); print(sizeof(curtask)); }"),
        "8\n8\n8\n\n\n"
    );
}
