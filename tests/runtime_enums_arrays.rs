//! Runtime tests of enum values printed by name (script and kernel BTF enums) and of
//! integer arrays (casts, indexing, printing) in text and JSON; exact output compared.

mod common;
use common::*;

fn out(args: &[&str]) -> String {
    let o = spyglass_checked(args);
    assert_eq!(o.code, 0, "{}", o.stderr);
    o.stdout
}

#[test]
fn script_enums_print_by_name() {
    let o = out(&[
        "-q",
        "-e",
        r#"enum Foo { ONE = 1, TWO = 2, OTHER = 99999 };
        begin { @one = ONE; $t = (ONE, TWO); $x = 100;
        printf("%d %s %s %s\n", ONE, ONE, @one, (enum Foo)$x); print($t); print(ONE + 1);
        @k[TWO, ONE] = 1; exit() }"#,
    ]);
    assert_eq!(
        o,
        "1 ONE ONE 100\n(ONE, TWO)\n2\n\n\n@k[TWO, ONE]: 1\n@one: ONE\n"
    );
}

#[test]
fn enums_are_numbers_in_json() {
    let o = out(&[
        "-q",
        "-f",
        "json",
        "-e",
        r#"enum Foo { ONE = 1, TWO = 2 };
        begin { printf("%s\n", TWO); @a = ONE; @b[TWO] = (ONE, 5); exit() }"#,
    ]);
    assert_eq!(
        o,
        "{\"type\": \"printf\", \"data\": \"TWO\\n\"}\n\
         {\"type\": \"map\", \"data\": {\"@a\": 1}}\n\
         {\"type\": \"map\", \"data\": {\"@b\": {\"TWO\": [1,5]}}}\n"
    );
}

#[test]
fn kernel_enum_by_name() {
    // The kernel's `enum pid_type` has PIDTYPE_PID = 0.
    let o = out(&[
        "-q",
        "-e",
        r#"begin { printf("%s %s\n", PIDTYPE_PID, (enum pid_type)1); exit() }"#,
    ]);
    assert_eq!(o, "PIDTYPE_PID PIDTYPE_TGID\n\n\n");
}

#[test]
fn int_array_casts_and_indexing() {
    let o = out(&[
        "-q",
        "-e",
        r#"begin { printf("%x %x\n", ((int8[8])12345)[0], ((int8[])12345)[1]);
        print((int8[])"hello"); $a = "foo"; printf("%c\n", $a[0]);
        @c = (int16[2])65537; $i = 1; print(((int16[2])65538)[$i]); exit() }"#,
    ]);
    assert_eq!(o, "39 30\n[104,101,108,108,111,0]\nf\n1\n\n\n@c: [1,1]\n");
    let o = out(&[
        "-q",
        "-f",
        "json",
        "-e",
        r#"begin { print((uint8[])"hi"); exit() }"#,
    ]);
    assert_eq!(o, "{\"type\": \"value\", \"data\": [104,105,0]}\n");
}

#[test]
fn tracepoint_array_field() {
    let o = out(&[
        "-q",
        "-e",
        r#"tracepoint:raw_syscalls:sys_enter /pid == cpid/ {
        printf("%d %d\n", args.args[0] == args.args[0], sizeof(args.args)); exit() }"#,
        "-c",
        "sleep 0.3",
    ]);
    assert_eq!(o.lines().next(), Some("1 48"));
}
