//! Runtime tests for `uprobe`/`uretprobe`: a small C program with known functions, run
//! with `-c`. Every probe filters on `pid == cpid` because tests run in parallel and
//! uprobes see every process running the binary.

use std::process::Command;
use std::sync::OnceLock;

mod common;
use common::*;

const TARGET: &str = "spyglass-uprobe-target";

/// `TARGET N`: calls op_add(i, 10 * i) for i in 0..N, then op_sub(1, 2) and
/// eight(1, …, 8) once. Built without optimisation so every call stays a call.
fn target() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = env!("CARGO_TARGET_TMPDIR");
        let src = format!("{dir}/{TARGET}.c");
        let out = format!("{dir}/{TARGET}");
        std::fs::write(
            &src,
            "#include <stdlib.h>\n\
             __attribute__((noinline)) int op_add(int a, int b) { return a + b; }\n\
             __attribute__((noinline)) int op_sub(int a, int b) { return a - b; }\n\
             __attribute__((noinline)) long eight(long a, long b, long c, long d,\n\
                                                  long e, long f, long g, long h) {\n\
               return a + b + c + d + e + f + g + h;\n\
             }\n\
             int main(int argc, char **argv) {\n\
               int n = argc > 1 ? atoi(argv[1]) : 1;\n\
               volatile long sink = 0;\n\
               for (int i = 0; i < n; i++) sink += op_add(i, 10 * i);\n\
               sink += op_sub(1, 2);\n\
               sink += eight(1, 2, 3, 4, 5, 6, 7, 8);\n\
               return 0;\n\
             }\n",
        )
        .unwrap();
        let st = Command::new("cc")
            .args(["-O0", "-o", &out, &src])
            .status()
            .expect("cc");
        assert!(st.success(), "compiling the uprobe target failed");
        out
    })
}

fn run(n: u32, prog: &str) -> Out {
    let prog = prog.replace("BIN", target());
    let o = spyglass(&["-q", "-c", &format!("{} {n}", target()), "-e", &prog]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    o
}

#[test]
fn uprobe_counts_every_call() {
    let o = run(5, "uprobe:BIN:op_add /pid == cpid/ { @ = count(); }");
    assert_eq!(o.stdout, "\n\n@: 5\n");
}

#[test]
fn arguments_and_return_values() {
    let o = run(
        3,
        "uprobe:BIN:op_add /pid == cpid/ { printf(\"%s(%d, %d)\\n\", func, arg0, arg1); }
         ur:BIN:op_add /pid == cpid/ { printf(\"= %d\\n\", retval); }",
    );
    assert_eq!(
        o.stdout,
        "op_add(0, 0)\n= 0\nop_add(1, 10)\n= 11\nop_add(2, 20)\n= 22\n\n\n"
    );
}

#[test]
fn arguments_past_the_registers_come_from_the_stack() {
    let o = run(
        1,
        "u:BIN:eight /pid == cpid/ { printf(\"%d %d %d %d\\n\", arg0, arg5, arg6, arg7); }",
    );
    assert_eq!(o.stdout, "1 6 7 8\n\n\n");
}

#[test]
fn wildcards_share_a_program_and_func_names_the_function() {
    // Without `probe`, both functions share one program: `func` comes from the cookie.
    let o = run(
        4,
        "uretprobe:BIN:op_* /pid == cpid/ { @[func] = count(); @r[func] = sum((int32)retval); }",
    );
    assert_eq!(
        o.stdout,
        "\n\n@[op_sub]: 1\n@[op_add]: 4\n@r[op_sub]: -1\n@r[op_add]: 66\n"
    );
    let o = run(2, "uprobe:BIN:op_* /pid == cpid/ { @[probe] = count(); }");
    let bin = target();
    assert_eq!(
        o.stdout,
        format!("\n\n@[uprobe:{bin}:op_sub]: 1\n@[uprobe:{bin}:op_add]: 2\n")
    );
}

/// The address of a symbol, from `nm`.
fn symbol_address(name: &str) -> u64 {
    let out = Command::new("nm").arg(target()).output().expect("nm");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.ends_with(&format!(" {name}")))
        .expect("symbol in nm output");
    u64::from_str_radix(line.split(' ').next().unwrap(), 16).unwrap()
}

#[test]
fn offsets_and_addresses() {
    let bin = target();
    let o = run(
        2,
        "uprobe:BIN:op_add+0 /pid == cpid/ { printf(\"%s %s %d\\n\", probe, func, arg1); }",
    );
    assert_eq!(
        o.stdout,
        format!("uprobe:{bin}:op_add op_add 0\nuprobe:{bin}:op_add op_add 10\n\n\n")
    );
    // An address probe is named by its decimal address; `func` still finds the function.
    let addr = symbol_address("op_sub");
    let o = run(
        1,
        &format!("uprobe:BIN:{addr:#x} /pid == cpid/ {{ printf(\"%s %s\\n\", probe, func); }}"),
    );
    assert_eq!(o.stdout, format!("uprobe:{bin}:{addr} op_sub\n\n\n"));
}

#[test]
fn libraries_resolve_by_name() {
    // main calls atoi once, from libc.
    let o = run(
        1,
        "uprobe:libc:atoi /pid == cpid/ { printf(\"%s\\n\", probe); }",
    );
    let line = o.stdout.lines().next().unwrap_or("");
    assert!(
        line.starts_with("uprobe:/") && line.ends_with("/libc.so.6:atoi"),
        "{:?}",
        o.stdout
    );
    assert_eq!(o.stdout, format!("{line}\n\n\n"));
}

#[test]
fn programs_resolve_through_path() {
    let dir = env!("CARGO_TARGET_TMPDIR");
    let path = format!("{dir}:{}", std::env::var("PATH").unwrap_or_default());
    let bin = target();
    let o = Command::new(BIN)
        .env("PATH", path)
        .args(["-q", "-c", &format!("{bin} 1"), "-e"])
        .arg(format!(
            "uprobe:{TARGET}:op_sub /pid == cpid/ {{ printf(\"%s\\n\", probe); }}"
        ))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(stdout, format!("uprobe:{dir}/{TARGET}:op_sub\n\n\n"));
}

#[test]
fn listing_a_binarys_functions() {
    let bin = target();
    let o = spyglass(&["-l", &format!("uprobe:{bin}:op_*")]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        format!("uprobe:{bin}:op_add\nuprobe:{bin}:op_sub\n")
    );
}

#[test]
fn errors_name_the_attach_point() {
    let o = spyglass(&["-e", &format!("uprobe:{}:nope {{ }}", target())]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("function `nope` not found in"),
        "{}",
        o.stderr
    );
    let o = spyglass(&["-e", &format!("uprobe:{}:op_add+100000 {{ }}", target())]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("Offset outside the function bounds ('op_add' size is"),
        "{}",
        o.stderr
    );
}
