//! Scripts however large or deep get an answer: they compile, or end in a diagnostic at a
//! source location with exit code 1, never a crash or a hang. Inputs are generated here.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;

/// Compiles `script` (no kernel needed) and returns the outcome.
fn codegen(script: &str) -> Out {
    with_stdin(&["--mode", "codegen", "-"], script.as_bytes())
}

fn with_stdin(args: &[&str], input: &[u8]) -> Out {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let o = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    Out::of(o)
}

fn compiles(script: &str) {
    let o = codegen(script);
    assert_eq!(o.code, 0, "{}", &o.stderr[..o.stderr.len().min(2000)]);
}

/// The first line of a diagnostic and where it points.
fn diagnostic_head(o: &Out) -> (String, String) {
    assert_eq!(o.code, 1, "{}", o.stderr);
    let mut lines = o.stderr.lines();
    let msg = lines.next().unwrap_or_default().to_string();
    let at = lines.next().unwrap_or_default().trim().to_string();
    (msg, at)
}

#[test]
fn a_100k_term_chain_of_binary_operators() {
    let chain = vec!["1"; 100_000].join("+");
    compiles(&format!("begin {{ $x = {chain}; printf(\"%d\\n\", $x); }}"));
    let chain = vec!["$a"; 100_000].join(" * ");
    compiles(&format!(
        "begin {{ $a = 1; $x = {chain}; printf(\"%d\\n\", $x); }}"
    ));
}

#[test]
fn deep_unary_operators_and_parentheses() {
    let (open, close) = ("(".repeat(20_000), ")".repeat(20_000));
    compiles(&format!(
        "begin {{ $x = {open}1{close}; printf(\"%d\\n\", $x); }}"
    ));
    compiles(&format!(
        "begin {{ $x = {}1; printf(\"%d\\n\", $x); }}",
        "!".repeat(20_000)
    ));
    compiles(&format!(
        "begin {{ $x = {}1; printf(\"%d\\n\", $x); }}",
        "- ".repeat(20_000)
    ));
    compiles(&format!("begin {{ $x = {}1; }}", "(uint64)".repeat(10_000)));
}

#[test]
fn ten_thousand_nested_ifs_and_blocks() {
    let ifs = "if ($x == 0) { ".repeat(10_000);
    compiles(&format!(
        "begin {{ $x = 0; {ifs}$x = 1;{} printf(\"%d\\n\", $x); }}",
        " }".repeat(10_000)
    ));
    compiles(&format!(
        "begin {{ {}$x = 1;{} }}",
        "{ ".repeat(10_000),
        " }".repeat(10_000)
    ));
}

#[test]
fn ten_thousand_statements_in_a_block() {
    let body = "$x = $x + 1; ".repeat(10_000);
    compiles(&format!(
        "begin {{ $x = 0; {body} printf(\"%d\\n\", $x); }}"
    ));
}

#[test]
fn ten_thousand_probes() {
    let probes: String = (0..10_000)
        .map(|i| format!("begin {{ @x = {i}; }}\n"))
        .collect();
    // Over the default max_probes: a diagnostic at the first probe too many.
    let o = codegen(&probes);
    let (msg, at) = diagnostic_head(&o);
    assert!(msg.contains("over the limit of 1024"), "{msg}");
    assert_eq!(at, "┌─ stdin:1025:1");
    // Then over max_bpf_progs: one program per block.
    let o = codegen(&format!("config = {{ max_probes = 10000 }}\n{probes}"));
    let (msg, at) = diagnostic_head(&o);
    assert!(msg.contains("more than 1024 BPF programs"), "{msg}");
    assert_eq!(at, "┌─ stdin:1026:1");
    compiles(&format!(
        "config = {{ max_probes = 10000; max_bpf_progs = 10000 }}\n{probes}"
    ));
}

#[test]
fn a_megabyte_string_literal_is_a_located_error() {
    let lit = "a".repeat(1 << 20);
    let o = codegen(&format!("begin {{ printf(\"%s\\n\", \"{lit}\"); }}"));
    let (msg, at) = diagnostic_head(&o);
    assert_eq!(
        msg,
        "error: this string literal is 1048576 bytes long; a string value holds at most 1023"
    );
    assert_eq!(at, "┌─ stdin:1:24");
    // A format string is not a value: it may be as long as it likes.
    compiles(&format!("begin {{ printf(\"{lit}\\n\"); }}"));
}

#[test]
fn deeply_nested_values() {
    let t = format!("{}1{}", "(1, ".repeat(200), ")".repeat(200));
    compiles(&format!("begin {{ $x = {t}; }}"));
    let ternary: String = (0..40).map(|i| format!("$a == {i} ? {i} : ")).collect();
    compiles(&format!(
        "begin {{ $a = 1; $x = {ternary}0; printf(\"%d\\n\", $x); }}"
    ));
    compiles(&format!(
        "begin {{ $x = {}\"a\"{}; }}",
        "str(".repeat(3000),
        ")".repeat(3000)
    ));
}

#[test]
fn a_long_unknown_name_is_a_quick_diagnostic() {
    let name = "a".repeat(1 << 20);
    let o = codegen(&format!("begin {{ @x = {name}; }}"));
    let (msg, _) = diagnostic_head(&o);
    assert!(
        msg.starts_with("error: unknown identifier `aaaa"),
        "{}",
        &msg[..60]
    );
}

/// The diagnostic points at the first bad byte, by line and column.
#[test]
fn invalid_utf8_is_located() {
    let want = "error: the script is not valid UTF-8
  ┌─ stdin:2:12
  │
2 │   printf(\"a\u{fffd} b\\n\");
  │            ^ byte 0xff here
  │
  = scripts are UTF-8 text

";
    let script = b"begin {\n  printf(\"a\xff b\\n\");\n}\n";
    let o = with_stdin(&["-"], script);
    assert_eq!((o.code, o.stderr.as_str()), (1, want));
    let dir = env!("CARGO_TARGET_TMPDIR");
    let path = format!("{dir}/not-utf8.bt");
    std::fs::write(&path, script).unwrap();
    let o = spyglass(&[&path]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (1, want.replace("stdin", &path).as_str())
    );
    use std::os::unix::ffi::OsStrExt;
    let o = Command::new(BIN)
        .arg("-e")
        .arg(std::ffi::OsStr::from_bytes(script))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&o.stderr), want);
}

/// `x / 0` is 1 with a warning when compiling and one each time it runs, in bpftrace's
/// words; so is `x /= 0`.
#[test]
fn zero_divisors_warn_at_compile_and_run_time() {
    let o = run_e("begin { $a = 10; $x = $a / 0; $a /= 0; print(($x, $a)); }");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.ends_with("(1, 1)\n\n\n"), "{}", o.stdout);
    // Run-time warnings are part of the tracing output, as bpftrace's are.
    let runtime: Vec<&str> = o.stdout.lines().filter(|l| l.contains("WARNING")).collect();
    assert_eq!(
        runtime,
        [
            "stdin:1:23-29: WARNING: Divide or modulo by 0 detected. This can lead to unexpected results. 1 is being used as the result.",
            "stdin:1:31-38: WARNING: Divide or modulo by 0 detected. This can lead to unexpected results. 1 is being used as the result.",
        ]
    );
    assert_eq!(o.stderr.matches("warning: division by zero").count(), 2);
    let o = spyglass(&[
        "--no-warnings",
        "-e",
        "begin { $a = 10; $x = $a / 0; print($x); }",
    ]);
    assert!(
        !o.stderr.contains("warning: division by zero"),
        "{}",
        o.stderr
    );
}

/// Wildcards far over `max_probes` end in the limit's diagnostic (expanding `kprobe:*`
/// took 8 s when duplicates were searched for in a list).
#[test]
fn a_wildcard_far_over_max_probes() {
    for ap in [
        "kprobe:*",
        "kretprobe:*",
        "tracepoint:*:*",
        "rawtracepoint:*",
    ] {
        let o = codegen(&format!("{ap} {{ @ = count(); }}"));
        let (msg, at) = diagnostic_head(&o);
        assert!(msg.contains("over the limit of 1024"), "{msg}");
        assert_eq!(at, "┌─ stdin:1:1");
    }
}

/// Long `&&` chains (each once a stack slot LLVM promoted over the whole chain: 60 s for
/// 20,000 terms) and thousands of map assignments in one block.
#[test]
fn long_logical_chains_and_many_maps() {
    let chain = vec!["$a"; 20_000].join(" && ");
    compiles(&format!(
        "begin {{ $a = 1; $x = {chain}; printf(\"%d\\n\", $x); }}"
    ));
    let chain = vec!["$a == 2"; 20_000].join(" || ");
    compiles(&format!(
        "begin {{ $a = 1; if ({chain}) {{ printf(\"yes\\n\"); }} }}"
    ));
    let maps: String = (0..5_000).map(|i| format!("@m{i} = {i}; ")).collect();
    compiles(&format!("begin {{ {maps} }}"));
}

/// `#define` chains as long as one likes; definitions that double at each level end in a
/// diagnostic instead of exhausting memory; mutual recursion is named.
#[test]
fn define_chains() {
    let chain: String = (0..3_000)
        .map(|i| format!("#define D{} (D{i} + 1)\n", i + 1))
        .collect();
    compiles(&format!("#define D0 1\n{chain}begin {{ print(D3000); }}"));
    let doubling: String = (0..40)
        .map(|i| format!("#define A{} (A{i} + A{i})\n", i + 1))
        .collect();
    let o = codegen(&format!("#define A0 1\n{doubling}begin {{ print(A40); }}"));
    let (msg, at) = diagnostic_head(&o);
    assert_eq!(
        msg,
        "error: `#define`d names expand to more than 1000000 tokens, here `A40`"
    );
    assert_eq!(at, "┌─ stdin:42:15");
    let o = codegen("#define A (B + 1)\n#define B (A + 1)\nbegin { print(A); }");
    assert_eq!(diagnostic_head(&o).0, "error: `A` expands into itself");
}
