//! The command line as a user types it: bpftrace's flags, parameters and named options.

mod common;
use common::*;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn tmp(name: &str) -> String {
    format!("{}/cli-{name}", env!("CARGO_TARGET_TMPDIR"))
}

#[test]
fn unknown_flag_prints_usage_and_fails() {
    let o = spyglass(&["-idonotexist"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .starts_with("ERROR: unexpected argument '-i' found\n"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.lines().any(|l| l == "USAGE:"), "{}", o.stderr);
    let o = spyglass(&["-e", "begin { exit(); }", "--aa=1"]);
    assert_eq!(o.code, 1, "named options belong after --");
    assert!(o.stderr.lines().any(|l| l == "USAGE:"), "{}", o.stderr);
}

#[test]
fn help_and_version() {
    let o = spyglass(&["--help"]);
    assert_eq!(o.code, 0);
    assert!(o.stdout.lines().any(|l| l == "USAGE:"), "{}", o.stdout);
    let o = spyglass(&["-V"]);
    let v = env!("CARGO_PKG_VERSION");
    assert_eq!(
        o.stdout,
        format!("spyglass v{v}\nbpftrace v0.26 language (spyglass implements a subset of it)\n")
    );
    let o = spyglass(&[]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.lines().any(|l| l == "USAGE:"), "{}", o.stderr);
}

#[test]
fn positional_parameters_before_and_after_double_dash() {
    let prog = r#"begin { printf("%d %d %s %d\n", $1, $2, str($3), $#); exit(); }"#;
    // Checked through an artifact too, which takes its parameters when it runs.
    let o = spyglass_checked(&["-q", "-e", prog, "-1", "--", "-7", "x"]);
    assert_eq!(o.stdout, "-1 -7 x 3\n\n\n", "{}", o.stderr);
    // `str($N)` is the parameter's text, even when it reads as a number.
    let o = spyglass_checked(&[
        "-q",
        "-e",
        r#"begin { printf("%s|%d\n", str($1), $1 + 1); exit(); }"#,
        "0x10",
    ]);
    assert_eq!(o.stdout, "0x10|17\n\n\n", "{}", o.stderr);
    let path = tmp("params.bt");
    std::fs::write(
        &path,
        r#"begin { printf("%s|%s\n", str($1), str($2)); exit(); }"#,
    )
    .unwrap();
    // Options may follow the script file, as with getopt.
    let o = spyglass(&[&path, "-q", "a", "--", "b"]);
    assert_eq!(o.stdout, "a|b\n\n\n", "{}", o.stderr);
}

#[test]
fn named_options_are_read_with_getopt() {
    let prog = r#"begin { printf("%d %d %s %s %d %d\n", $1, getopt("aa", 10), getopt("cc", "hello"), str($2),
                          getopt("bb", -1), getopt("dd")); exit(); }"#;
    let o = spyglass_checked(&[
        "-q",
        "-e",
        prog,
        "5",
        "--",
        "--aa=0x20",
        "--cc=bye",
        "six",
        "--dd",
    ]);
    assert_eq!(o.stdout, "5 32 bye six -1 1\n\n\n", "{}", o.stderr);
    let path = tmp("named.bt");
    std::fs::write(&path, "begin { print(getopt(\"aa\", 10)); exit(); }").unwrap();
    let o = spyglass(&["-q", &path, "--", "--aa=20"]);
    assert_eq!(o.stdout, "20\n\n\n", "{}", o.stderr);
    let o = spyglass(&["-q", &path]);
    assert_eq!(o.stdout, "10\n\n\n", "{}", o.stderr);
}

#[test]
fn named_option_errors() {
    let prog = r#"begin { print((getopt("aa", 10, "Description of aa"), getopt("bb", "x"), getopt("cc"))); }"#;
    let o = spyglass(&["-e", prog, "--", "--help"]);
    assert_eq!((o.code, o.stdout.as_str()), (1, ""));
    assert_eq!(
        o.stderr,
        "HINT: expected program options:\n  --aa: Description of aa\n  --bb\n  --cc\n"
    );
    let o = spyglass(&["-e", prog, "--", "--zz=1"]);
    assert!(
        o.stderr
            .starts_with("ERROR: unexpected program command line option --zz\nHINT:"),
        "{}",
        o.stderr
    );
    let o = spyglass(&["-e", prog, "--", "--aa=False"]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (
            1,
            "ERROR: program command line option --aa invalid integer (value: False)\n"
        )
    );
    let o = spyglass(&["-e", prog, "--", "--cc=maybe"]);
    assert_eq!(
        o.stderr,
        "ERROR: program command line option --cc invalid boolean (value: maybe)\n"
    );
}

#[test]
fn flag_value_errors_use_bpftrace_wording() {
    let begin = "begin { exit(); }";
    for (args, err) in [
        (vec!["-p", "a1111"], "ERROR: Failed to parse pid: invalid integer: a1111\n"),
        (vec!["-p", "99999999"], "ERROR: Pid out of range: 99999999\n"),
        (vec!["-f", "jsonx"], "ERROR: Invalid output format \"jsonx\"\nValid formats: 'text', 'json'\n"),
        (vec!["-B", "half"], "ERROR: USAGE: -B must be either 'line', 'full', or 'none'.\n"),
        (vec!["-d", "nope"], "ERROR: USAGE: invalid option for -d: nope\n"),
        (vec!["-k", "--no-warnings"], "ERROR: USAGE: -k, --warnings conflicts with --no-warnings\n"),
        (
            vec!["-kk"],
            "ERROR: USAGE: -kk has been deprecated. Use a single -k for runtime warnings for errors in map lookups and probe reads.\n",
        ),
    ] {
        let mut argv = args.clone();
        argv.extend(["-e", begin]);
        let o = spyglass(&argv);
        assert_eq!((o.code, o.stderr.as_str()), (1, err), "{args:?}");
    }
    // Accepted: their runtime parts are not implemented yet.
    for flag in [
        "-k",
        "--no-warnings",
        "--unsafe",
        "-b",
        "--verify-llvm-ir",
        "--usdt-file-activation",
    ] {
        let o = spyglass(&["-q", flag, "-e", "begin { printf(\"ok\\n\"); exit(); }"]);
        assert_eq!(
            (o.code, o.stdout.as_str()),
            (0, "ok\n\n\n"),
            "{flag}: {}",
            o.stderr
        );
    }
}

#[test]
fn pid_flag_exits_when_the_process_does() {
    let mut sleeper = Command::new("sleep").arg("1").spawn().unwrap();
    let pid = sleeper.id().to_string();
    let reaper = std::thread::spawn(move || sleeper.wait());
    let start = Instant::now();
    let o = spyglass(&[
        "-q",
        "-p",
        &pid,
        "-e",
        "interval:ms:50 { @ticks = count(); } end { printf(\"end\\n\"); }",
    ]);
    reaper.join().unwrap().unwrap();
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.starts_with("end\n"), "{}", o.stdout);
    assert!(start.elapsed() < Duration::from_secs(5));
}

/// Lines in `path` after the program has run for a while, and after it stopped.
fn lines_while_running(buffering: &str) -> (usize, usize) {
    let path = tmp(&format!("buffer-{buffering}.txt"));
    let mut child = Command::new(BIN)
        .args([
            "-q",
            "-B",
            buffering,
            "-o",
            &path,
            "-e",
            "interval:ms:50 { printf(\"tick\\n\"); }",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let count = || {
        std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let during = count();
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    child.wait().unwrap();
    (during, count())
}

#[test]
fn buffering_modes() {
    let (during, after) = lines_while_running("line");
    assert!(during >= 3 && after > during, "line: {during} then {after}");
    let (during, after) = lines_while_running("full");
    assert!(during == 0 && after >= 3, "full: {during} then {after}");
    let (during, _) = lines_while_running("none");
    assert!(during >= 3, "none: {during}");
}

#[test]
fn probe_filter_keeps_matching_probes_and_begin_end() {
    let prog = r#"begin { printf("begin\n"); }
        tracepoint:syscalls:sys_enter_getpid { printf("getpid\n"); exit(); }
        tracepoint:syscalls:sys_enter_getppid { printf("getppid\n"); exit(); }
        end { printf("end\n"); }"#;
    let o = spyglass(&[
        "-q",
        "--probe-filter",
        "getppid$",
        "-c",
        &format!("{} 3", workload()),
        "-e",
        prog,
    ]);
    assert_eq!(o.stdout, "begin\ngetppid\nend\n\n\n", "{}", o.stderr);
    let o = spyglass(&["--probe-filter", "nothing", "-e", prog]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("no probe matches --probe-filter"),
        "{}",
        o.stderr
    );
}

#[test]
fn verbose_listing_shows_tracepoint_fields() {
    let o = spyglass(&["-lv", "tracepoint:sched:sched_switch"]);
    assert_eq!(
        o.stdout,
        "tracepoint:sched:sched_switch\n    char prev_comm[16];\n    pid_t prev_pid;\n    int prev_prio;\n    \
         long prev_state;\n    char next_comm[16];\n    pid_t next_pid;\n    int next_prio;\n"
    );
    let o = spyglass(&[
        "-l",
        "-v",
        "-e",
        "tracepoint:irq:irq_handler_entry { } interval:s:1 { }",
    ]);
    assert_eq!(o.stdout, "tracepoint:irq:irq_handler_entry\n    int irq;\n    __data_loc char[] name;\ninterval:s:1\n");
}

#[test]
fn debug_stages() {
    let o = spyglass(&["-q", "-d", "ast", "-e", "begin { exit(); }"]);
    assert!(
        o.stderr.starts_with("AST\n-------------------\nProgram {"),
        "{}",
        o.stderr
    );
    let o = spyglass(&["-q", "-d", "codegen,codegen-opt", "-e", "begin { exit(); }"]);
    assert!(
        o.stdout.starts_with("LLVM IR before optimization\n"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout.contains("\nLLVM IR after optimization\n"),
        "{}",
        o.stdout
    );
}

#[test]
fn info_reports_the_features_the_harness_reads() {
    let o = spyglass(&["--info"]);
    assert_eq!(o.code, 0);
    for line in [
        "  btf: ",
        "  Loop support: ",
        "  lookup_percpu_elem: ",
        "  get_tai_ns: ",
        "  kprobe_session: no",
    ] {
        assert!(
            o.stdout.lines().any(|l| l.starts_with(line)),
            "{line}\n{}",
            o.stdout
        );
    }
    // spyglass has no fentry probes, whatever the kernel offers; iterators work here, and
    // kprobes cannot attach on this kernel (no CONFIG_KPROBES).
    assert!(
        o.stdout.contains("\n  fentry: no\n")
            && o.stdout.contains("\n  iter: yes\n")
            && o.stdout.contains("\n  kprobe: no\n"),
        "{}",
        o.stdout
    );
}

/// Positional parameters are substituted inside attach points, as bpftrace does.
#[test]
fn positional_parameters_in_attach_points() {
    let o = spyglass(&[
        "-e",
        r#"BEG$1 { printf("hello %s\n", probe); exit(); }"#,
        "IN",
    ]);
    assert_eq!(o.stdout, "hello begin\n\n\n", "{}", o.stderr);
    let cmd = format!("{} 2", workload());
    let o = spyglass(&[
        "-q",
        "-c",
        &cmd,
        "-e",
        "tracepoint:$1:sys_enter_$2 /pid == cpid/ { @[probe] = count(); }",
        "syscalls",
        "getpid",
    ]);
    assert_eq!(
        o.stdout, "\n\n@[tracepoint:syscalls:sys_enter_getpid]: 2\n",
        "{}",
        o.stderr
    );
}

/// Scripts written for bpftrace carry `#include`s, `#define`s and `#if` blocks.
#[test]
fn preprocessor_lines_in_scripts() {
    let script = "#include <linux/sched.h>\n#ifndef BPFTRACE_HAVE_BTF\n#define N 1\n#else\n#define N 314\n#endif\nbegin { printf(\"%d\\n\", N); exit(); }\n";
    let o = spyglass(&["-e", script]);
    assert_eq!(o.stdout, "314\n\n\n", "{}", o.stderr);
}

#[test]
fn include_dirs_and_forced_includes() {
    let dir = tmp("includes");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(format!("{dir}/answer.h"), "#define ANSWER 42\n").unwrap();
    std::fs::write(format!("{dir}/other.h"), "#define OTHER (ANSWER + 1)\n").unwrap();
    let o = spyglass(&[
        "-q",
        "-I",
        &dir,
        "--include",
        &format!("{dir}/other.h"),
        "-e",
        "#include <answer.h>\nbegin { printf(\"%d %d\\n\", ANSWER, OTHER); exit(); }",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "42 43\n\n\n");
    // Without -I the header is not found, and ANSWER means nothing.
    let o = spyglass(&["-e", "#include <answer.h>\nbegin { print(ANSWER); }"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("ANSWER"), "{}", o.stderr);
}

/// `--fmt FILE` prints the script in the standard layout (comments and strings kept,
/// the program unchanged, formatting twice changes nothing); a script that does not
/// parse is a located error.
#[test]
fn fmt_lays_out_a_script() {
    let dir = env!("CARGO_TARGET_TMPDIR");
    let src = format!("{dir}/fmt-in.bt");
    std::fs::write(
        &src,
        "/* header */\nconfig = { max_strlen = 64 }\ntracepoint:syscalls:sys_enter_getpid,tracepoint:syscalls:sys_enter_getppid /pid > 0/ { @[probe] = count(); if ($1 > 0) { printf(\"x  y\\n\"); } else { exit(); } // done\n}\n",
    )
    .unwrap();
    let o = spyglass(&["--fmt", &src]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let want = "/* header */\nconfig = {\n  max_strlen = 64\n}\n\ntracepoint:syscalls:sys_enter_getpid,\ntracepoint:syscalls:sys_enter_getppid\n/pid > 0/\n{\n  @[probe] = count();\n  if ($1 > 0) {\n    printf(\"x  y\\n\");\n  } else {\n    exit();\n  } // done\n}\n";
    assert_eq!(o.stdout, want);
    let again = format!("{dir}/fmt-again.bt");
    std::fs::write(&again, &o.stdout).unwrap();
    assert_eq!(spyglass(&["--fmt", &again]).stdout, want);
    let o = spyglass(&["--dry-run", &again, "1"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    std::fs::write(&src, "begin { $x = ; }\n").unwrap();
    let o = spyglass(&["--fmt", &src]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("fmt-in.bt:1:"), "{}", o.stderr);
}

/// `spyglass build SCRIPT -o FILE` (or `--aot FILE`) writes an artifact: `spyglass FILE`
/// runs it without compiling, with the run-time options, and refuses the options that
/// would shape the program.
#[test]
fn build_writes_an_artifact_that_runs_the_script() {
    let spy = format!("{}/artifact.spy", env!("CARGO_TARGET_TMPDIR"));
    let _ = std::fs::remove_file(&spy);
    let prog = r#"begin { printf("hi %s\n", str($1)); exit(); } end { printf("bye\n"); }"#;
    let o = spyglass(&["build", "-e", prog, "-o", &spy, "there"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "", "building runs nothing");
    assert!(std::fs::read(&spy).unwrap().starts_with(b"SPYGART\0"));
    // Parameters are given when it runs; the build's only decided that `$1` is a string.
    let o = spyglass(&["-q", &spy, "there"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "hi there\nbye\n\n\n");
    assert_eq!(spyglass(&["-q", &spy]).stdout, "hi \nbye\n\n\n");
    let o = spyglass(&["-q", "-f", "json", &spy, "there"]);
    assert_eq!(
        o.stdout,
        "{\"type\": \"printf\", \"data\": \"hi there\\n\"}\n{\"type\": \"printf\", \"data\": \"bye\\n\"}\n"
    );
    // `--aot` is the same thing as a flag.
    let second = format!("{}/artifact-2.spy", env!("CARGO_TARGET_TMPDIR"));
    let o = spyglass(&["--aot", &second, "-e", prog, "there"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        std::fs::read(&second).unwrap(),
        std::fs::read(&spy).unwrap()
    );
    // What shapes the program is fixed at build time.
    let o = spyglass(&["-q", &spy, "-k"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("is a built artifact: -k can only be given when it is built"),
        "{}",
        o.stderr
    );
    let o = spyglass(&["build", "-e", "begin { exit(); }"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("-o FILE names the artifact"),
        "{}",
        o.stderr
    );
    let o = spyglass(&["--aot", &spy, "-k", "-e", "begin { exit(); }"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("--aot and -k"), "{}", o.stderr);
    // A damaged artifact is refused, never run.
    let mut bytes = std::fs::read(&spy).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    let bad = format!("{}/artifact-bad.spy", env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(&bad, bytes).unwrap();
    let o = spyglass(&[&bad]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("artifact-bad.spy: the artifact is damaged"),
        "{}",
        o.stderr
    );
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
}
