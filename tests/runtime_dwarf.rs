//! `args.NAME` in uprobes from DWARF: a C program the suite builds with `-g`
//! (`tests/runtime/dwarf_args.c`), the same program without debug info, and C++ functions
//! matched by demangled name (`uprobe:BIN:cpp:"NS::fn*"`).

mod common;
use common::*;

use std::process::Command;
use std::sync::OnceLock;

fn build(flags: &[&str], name: &str) -> String {
    let out = format!("{}/spyglass-{name}", env!("CARGO_TARGET_TMPDIR"));
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/runtime/dwarf_args.c");
    let st = Command::new("cc")
        .args(flags)
        .args(["-o", &out, src])
        .status()
        .expect("cc");
    assert!(st.success());
    out
}

fn with_debug() -> &'static str {
    static BIN: OnceLock<String> = OnceLock::new();
    BIN.get_or_init(|| build(&["-g", "-O1"], "dwarf-g"))
}

#[test]
fn args_are_named_and_typed_from_dwarf() {
    let bin = with_debug();
    let o = spyglass(&[
        "-q",
        "-c",
        bin,
        "-e",
        &format!(
            r#"uprobe:{bin}:add {{ printf("%d %d %s %d\n", args.a, args.b, str(args.name), args.c); }}
               uprobe:{bin}:takes_struct {{ printf("after %d\n", args.after); }}"#
        ),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "0 -5 abc 7\n1 -5 abc 7\nafter 3\n\n\n");
}

#[test]
fn verbose_listing_shows_dwarf_arguments() {
    let bin = with_debug();
    let o = spyglass(&["-lv", &format!("uprobe:{bin}:add")]);
    assert_eq!(
        o.stdout,
        format!(
            "uprobe:{bin}:add\n    int a\n    long int b\n    const char * name\n    short unsigned int c\n"
        ),
        "{}",
        o.stderr
    );
    let o = spyglass(&["--info"]);
    assert!(o.stdout.contains("dwarf: yes"), "{}", o.stdout);
}

#[test]
fn without_debug_info_or_in_uretprobes_there_are_no_args() {
    let bin = build(&["-O1"], "dwarf-none");
    let o = run_e(&format!("uprobe:{bin}:add {{ print(args.a); }}"));
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("`args` is not available"), "{}", o.stderr);
    let bin = with_debug();
    let o = run_e(&format!("uretprobe:{bin}:add {{ print(args.a); }}"));
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("`args` is not available"), "{}", o.stderr);
    let o = run_e(&format!("uprobe:{bin}:add {{ print(args.nope); }}"));
    assert_eq!(o.code, 1);
}

#[test]
fn cpp_functions_match_by_demangled_name() {
    let out = format!("{}/spyglass-cpp", env!("CARGO_TARGET_TMPDIR"));
    let src = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/runtime/cpp_overloads.cc"
    );
    let st = Command::new("g++")
        .args(["-O1", "-o", &out, src])
        .status()
        .expect("g++");
    assert!(st.success());
    let o = spyglass(&[
        "-q",
        "-c",
        &out,
        "-e",
        &format!(r#"uprobe:{out}:cpp:"ns::fn*" {{ printf("%s %d\n", func, arg0); }}"#),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "_ZN2ns2fnEi 3\n_ZN2ns2fnEl 4\n\n\n");
    // A full signature picks one overload.
    let o = spyglass(&[
        "-q",
        "-c",
        &out,
        "-e",
        &format!(r#"uprobe:{out}:cpp:"ns::fn(long)" {{ printf("%d\n", arg0); }}"#),
    ]);
    assert_eq!(o.stdout, "4\n\n\n", "{}", o.stderr);
    let o = run_e(&format!("uprobe:{out}:rust:main {{ }}"));
    assert!(o.stderr.contains("only `cpp` is supported"), "{}", o.stderr);
}
