//! `args.NAME` in uprobes from DWARF: a C program the suite builds with `-g`
//! (`tests/runtime/dwarf_args.c`), the same program without debug info, and C++ functions
//! matched by demangled name (`uprobe:BIN:cpp:"NS::fn*"`), uprobes at source lines
//! (`uprobe:BIN@FILE:LINE[:COL]`, `tests/runtime/lines.c`), and debug info found in
//! separate files (`--debuginfo`).

mod common;
use common::*;

use std::process::Command;
use std::sync::OnceLock;

fn build(flags: &[&str], name: &str) -> String {
    build_from("dwarf_args.c", flags, name)
}

fn build_from(source: &str, flags: &[&str], name: &str) -> String {
    let out = format!("{}/spyglass-{name}", env!("CARGO_TARGET_TMPDIR"));
    let src = format!("{}/tests/runtime/{source}", env!("CARGO_MANIFEST_DIR"));
    let st = Command::new("cc")
        .args(flags)
        .args(["-o", &out, &src])
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
               uprobe:{bin}:takes_struct {{ printf("after %d\n", args.after); print(args); }}"#
        ),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // `p` ({1, 2}) travels in one register, read as one 8-byte value.
    assert_eq!(
        o.stdout,
        "0 -5 abc 7\n1 -5 abc 7\nafter 3\n{ .p = 8589934593, .after = 3 }\n\n\n"
    );
}

/// Arguments after structs and doubles, and those the caller passed on the stack.
#[test]
fn args_follow_the_calling_convention_past_registers() {
    let bin = with_debug();
    let o = spyglass(&[
        "-q",
        "-c",
        bin,
        "-e",
        &format!(
            r#"uprobe:{bin}:many {{ printf("%d %d %d %d %d %s\n", args.a, args.c, args.e, args.f, args.g, str(args.s)); }}"#
        ),
    ]);
    assert_eq!(o.stdout, "10 11 12 13 -14 stack\n\n\n", "{}", o.stderr);
    // Neither the 16-byte struct, nor the double, nor the 24-byte struct is readable.
    let o = run_e(&format!("uprobe:{bin}:many {{ print(args.d); }}"));
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("`d`"), "{}", o.stderr);
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
    // `func` prints demangled names, as with bpftrace's default `cpp_demangle`.
    assert_eq!(o.stdout, "ns::fn(int) 3\nns::fn(long) 4\n\n\n");
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

fn lines_bin() -> &'static str {
    static BIN: OnceLock<String> = OnceLock::new();
    BIN.get_or_init(|| build_from("lines.c", &["-g", "-O0"], "lines"))
}

#[test]
fn source_location_uprobes_fire_at_the_statement() {
    let bin = lines_bin();
    // The loop body runs three times, the line after the loop once; `probe` is the
    // attach point as written, `func` the function holding the statement.
    let o = spyglass(&[
        "-q",
        "-c",
        bin,
        "-e",
        &format!(
            "uprobe:{bin}@lines.c:9 {{ @body[func, probe] = count(); }}
             uprobe:{bin}@runtime/lines.c:11 {{ @after = count(); }}"
        ),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        format!("\n\n@after: 1\n@body[work, uprobe:{bin}@lines.c:9]: 3\n")
    );
    // A column picks one statement of the line; the absolute path works too.
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/runtime/lines.c");
    let o = spyglass(&[
        "-q",
        "-c",
        bin,
        "-e",
        &format!("uprobe:{bin}@{src}:9:10 {{ @ = count(); }}"),
    ]);
    assert_eq!(o.stdout, "\n\n@: 3\n", "{}", o.stderr);
}

#[test]
fn source_location_errors_say_where_statements_are() {
    let bin = lines_bin();
    let cases = [
        (
            "@lines.c:10",
            "no statement at lines.c:10; the nearest lines with statements are 9 and 11",
        ),
        (
            "@lines.c:9:99",
            "no statement starts at lines.c:9:99; statements of line 9 start at columns 10",
        ),
        ("@nope.c:3", "no source file `nope.c` in the debug info of"),
        ("@lines.c:x", "expected `uprobe:BINARY@FILE:LINE[:COLUMN]`"),
        ("@*.c:9", "a source-location uprobe cannot use wildcards"),
    ];
    for (at, want) in cases {
        let o = run_e(&format!("uprobe:{bin}{at} {{ }}"));
        assert_eq!(o.code, 1, "{at}");
        assert!(o.stderr.contains(want), "{at}: {}", o.stderr);
    }
    let o = run_e(&format!("uretprobe:{bin}@lines.c:9 {{ }}"));
    assert!(o.stderr.contains("fires on return"), "{}", o.stderr);
    let o = run_e("uprobe:/bin/true@lines.c:9 { }");
    assert!(
        o.stderr.contains("/bin/true has no DWARF debug info"),
        "{}",
        o.stderr
    );
}

/// `objcopy` splits the debug info off a binary as distributions do; `--debuginfo`
/// names where the debug file went, found by build ID or by `.gnu_debuglink`.
#[test]
fn debuginfo_directories_hold_separate_debug_files() {
    let tmp = env!("CARGO_TARGET_TMPDIR");
    let bin = build(&["-g", "-O1", "-Wl,--build-id"], "dwarf-split");
    let dir = format!("{tmp}/spyglass-debuginfo");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let debug = format!("{dir}/dwarf-split.debug");
    let objcopy = |args: &[&str]| {
        assert!(Command::new("objcopy")
            .args(args)
            .status()
            .unwrap()
            .success());
    };
    objcopy(&["--only-keep-debug", &bin, &debug]);
    objcopy(&[
        "--strip-debug",
        &format!("--add-gnu-debuglink={debug}"),
        &bin,
    ]);
    let prog = format!("uprobe:{bin}:add {{ @[args.c] = count(); }}");
    let o = spyglass(&["-q", "-c", &bin, "-e", &prog]);
    assert_eq!(o.code, 1, "no debug file yet: {}", o.stdout);
    // By `.gnu_debuglink` name in a `--debuginfo` directory, with its CRC checked (`+`).
    let o = spyglass(&[
        "-q",
        "--debuginfo",
        &format!("/nonexistent:+{dir}"),
        "-c",
        &bin,
        "-e",
        &prog,
    ]);
    assert_eq!(o.stdout, "\n\n@[7]: 2\n", "{}", o.stderr);
    // A debug file whose CRC does not match is skipped when checked, used when not.
    let mut bytes = std::fs::read(&debug).unwrap();
    bytes.extend_from_slice(b"\0\0\0\0");
    std::fs::write(&debug, &bytes).unwrap();
    let o = spyglass(&[
        "-q",
        "--debuginfo",
        &format!("+{dir}"),
        "-c",
        &bin,
        "-e",
        &prog,
    ]);
    assert_eq!(o.code, 1, "{}", o.stdout);
    let o = spyglass(&["-q", "--debuginfo", &dir, "-c", &bin, "-e", &prog]);
    assert_eq!(o.stdout, "\n\n@[7]: 2\n", "{}", o.stderr);
    // By build ID: DIR/.build-id/ab/cdef….debug.
    let id = Command::new("readelf").args(["-n", &bin]).output().unwrap();
    let id = String::from_utf8_lossy(&id.stdout);
    let id = id
        .lines()
        .find_map(|l| l.trim().strip_prefix("Build ID: "))
        .expect("build id")
        .to_string();
    let byid = format!("{dir}/byid/.build-id/{}", &id[..2]);
    std::fs::create_dir_all(&byid).unwrap();
    std::fs::rename(&debug, format!("{byid}/{}.debug", &id[2..])).unwrap();
    let o = spyglass(&[
        "-q",
        "--debuginfo",
        &format!("{dir}/byid"),
        "-lv",
        &format!("uprobe:{bin}:add"),
    ]);
    assert!(
        o.stdout.contains("    short unsigned int c"),
        "{}",
        o.stdout
    );
}

/// An artifact records which build of a probed binary it was made for. A uprobe whose
/// `args` come from DWARF is refused on another build (the locations may differ), naming
/// the probe and both builds; a uprobe on a function by name runs on any build, found
/// again when it attaches.
#[test]
fn an_artifact_checks_the_build_of_the_binaries_it_reads_args_from() {
    let bin = build(&["-g", "-O1"], "dwarf-artifact");
    let with_args = format!("{}/dwarf-args.spy", env!("CARGO_TARGET_TMPDIR"));
    let by_name = format!("{}/dwarf-name.spy", env!("CARGO_TARGET_TMPDIR"));
    let prog = format!(r#"uprobe:{bin}:add {{ printf("%d\n", args.a); }}"#);
    assert_eq!(spyglass(&["build", "-e", &prog, "-o", &with_args]).code, 0);
    let prog = format!(r#"uprobe:{bin}:add {{ @ = count(); }}"#);
    assert_eq!(spyglass(&["build", "-e", &prog, "-o", &by_name]).code, 0);
    let runner = spyglass_run();
    let run = |spy: &str| {
        Out::of(
            Command::new(&runner)
                .args(["-q", "-c", &bin, spy])
                .output()
                .unwrap(),
        )
    };
    let o = run(&with_args);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "0\n1\n\n\n"),
        "{}",
        o.stderr
    );
    // Another build of the same program: other code, another build ID.
    build(
        &["-g", "-O1", "-DSPYGLASS_OTHER_BUILD", "-fno-inline"],
        "dwarf-artifact",
    );
    let o = run(&with_args);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(
        o.stderr.contains(&format!(
            "{bin} is not the build this artifact was made for (build ID "
        )),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr
            .contains("its `args` are placed as that build's DWARF says"),
        "{}",
        o.stderr
    );
    let o = run(&by_name);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "\n\n@: 2\n"),
        "{}",
        o.stderr
    );
}
