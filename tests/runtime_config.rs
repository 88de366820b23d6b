//! Runtime tests of config keys and the `config` builtin: each key set in the script and
//! from the environment changes what the program does, as bpftrace documents.

mod common;
use common::*;

fn stdout_of(args: &[&str]) -> String {
    let o = spyglass(args);
    assert_eq!(o.code, 0, "{}", o.stderr);
    o.stdout
}

#[test]
fn config_record_reflects_the_script_and_environment() {
    let o = stdout_of(&[
        "-q",
        "-e",
        r#"config = { max_strlen = 99; stack_mode = perf }
           begin { printf("%d %s %s %d\n", config.max_strlen, config.stack_mode,
                          config.license, config.print_maps_on_exit); exit(); }"#,
    ]);
    assert_eq!(o, "99 perf GPL 1\n\n\n");
    let o = spyglass_env(
        &[
            "-q",
            "-e",
            r#"begin { printf("%s\n", config.missing_probes); exit(); }"#,
        ],
        &[("BPFTRACE_MISSING_PROBES", "warn")],
    );
    assert_eq!(o.stdout, "warn\n\n\n", "{}", o.stderr);
}

#[test]
fn stack_mode_sets_the_default_for_kstack() {
    // raw: bare addresses, 8 spaces of indent, no symbol.
    let o = stdout_of(&[
        "-q",
        "-e",
        "config = { stack_mode = raw } begin { print(kstack(2)); exit(); }",
    ]);
    let frames: Vec<&str> = o.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(frames.len(), 2, "{o}");
    for f in frames {
        let addr = f.trim_start();
        assert!(
            f.starts_with("        ") && u64::from_str_radix(addr, 16).is_ok(),
            "{o}"
        );
    }
    // An explicit mode still wins.
    let o = stdout_of(&[
        "-q",
        "-e",
        "config = { stack_mode = raw } begin { print(kstack(bpftrace, 1)); exit(); }",
    ]);
    assert!(o.contains("+"), "{o}");
    let o = spyglass_env(
        &["-q", "-e", "begin { print(kstack(1)); exit(); }"],
        &[("BPFTRACE_STACK_MODE", "raw")],
    );
    assert!(!o.stdout.contains("+"), "{}", o.stdout);
}

#[test]
fn str_trunc_trailer_marks_full_strings() {
    let o = stdout_of(&[
        "-q",
        "-e",
        r#"config = { str_trunc_trailer = "[...]"; max_strlen = 4 }
           begin { print(str("abcdefgh")); print(str("ab")); exit(); }"#,
    ]);
    assert_eq!(o, "abcd[...]\nab\n\n\n");
    let o = spyglass_env(
        &["-q", "-e", r#"begin { print(str("abcdefgh")); exit(); }"#],
        &[
            ("BPFTRACE_MAX_STRLEN", "4"),
            ("BPFTRACE_STR_TRUNC_TRAILER", ""),
        ],
    );
    assert_eq!(o.stdout, "abcd\n\n\n", "{}", o.stderr);
}

#[test]
fn max_cat_bytes_limits_cat() {
    let dir = std::env::temp_dir().join(format!("spyglass-cat-{}", std::process::id()));
    std::fs::write(&dir, "0123456789").unwrap();
    let prog = format!(
        r#"config = {{ max_cat_bytes = 4 }} begin {{ cat("{}"); printf("|\n"); exit(); }}"#,
        dir.display()
    );
    let o = stdout_of(&["-q", "-e", &prog]);
    std::fs::remove_file(&dir).ok();
    assert_eq!(o, "0123|\n\n\n");
}

#[test]
fn max_bpf_progs_caps_the_programs() {
    let o = spyglass(&[
        "-e",
        "config = { max_bpf_progs = 1 } tracepoint:syscalls:sys_enter_openat { } begin { }",
    ]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("the program needs more than 1 BPF programs"),
        "{}",
        o.stderr
    );
}

#[test]
fn sw_tai_follows_tai() {
    let o = stdout_of(&[
        "-q",
        "-e",
        r#"begin { $a = nsecs(tai); $b = nsecs(sw_tai);
                   printf("%d\n", ($b > $a ? $b - $a : $a - $b) < 50000000); exit(); }"#,
    ]);
    assert_eq!(o, "1\n\n\n");
}

#[test]
fn pton_gives_bytes_and_round_trips_through_ntop() {
    let o = stdout_of(&[
        "-q",
        "-e",
        r#"begin { print(pton("127.0.0.1")); print(pton("::1")); print(ntop(pton("10.1.2.3")));
                   print(ntop(pton("fe80::1:2"))); print(pton("1.2.3.4") == pton("1.2.3.4"));
                   print((1, "a") == (1, "a")); print((x = 1, y = 2) != (x = 1, y = 3)); exit(); }"#,
    ]);
    assert_eq!(
        o,
        "[127,0,0,1]\n[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1]\n10.1.2.3\nfe80::1:2\ntrue\ntrue\ntrue\n\n\n"
    );
}
