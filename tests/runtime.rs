//! Runtime tests: the built binary, run as a user would, on the real kernel (as root),
//! with exact output compared.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::*;

#[test]
fn begin_prints_every_aggregation_like_bpftrace() {
    let o = run_e(
        r#"BEGIN { @c = count(); @c = count(); @s = sum(5); @s = sum(-2); @a = avg(3); @a = avg(6);
                  @mn = min(4); @mn = min(-9); @mx = max(4); @mx = max(11); @st = stats(2); @st = stats(10);
                  @m["b", 2] = 20; @m["a", 1] = 10; @str = "hello"; exit(); }"#,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "\n\n@a: 4\n@c: 2\n@m[a, 1]: 10\n@m[b, 2]: 20\n@mn: -9\n@mx: 11\n@s: 3\n\
         @st: { .count = 2, .average = 6, .total = 12 }\n@str: hello\n"
    );
    assert_eq!(o.stderr, "Attached 1 probe\n");
}

#[test]
fn hist_and_lhist_print_bpftrace_blocks() {
    let o = run_e("BEGIN { @=hist(-1); @=hist(2); @=hist(3); @=hist(7); @=hist(20); }");
    assert_eq!(o.code, 0, "{}", o.stderr);
    let want = include_str!("data/outputs/hist.txt");
    assert_eq!(o.stdout.trim(), want.trim());
    let o = run_e("BEGIN { @l = lhist(-1, 0, 10, 2); @l = lhist(3, 0, 10, 2); @l = lhist(3, 0, 10, 2); @l = lhist(12, 0, 10, 2); }");
    assert_eq!(
        o.stdout,
        "\n\n@l:\n\
         (..., 0)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n\
         [0, 2)                 0 |                                                    |\n\
         [2, 4)                 2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
         [4, 6)                 0 |                                                    |\n\
         [6, 8)                 0 |                                                    |\n\
         [8, 10)                0 |                                                    |\n\
         [10, ...)              1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n\n"
    );
}

#[test]
fn printf_flags_width_precision() {
    let o = run_e(
        r#"BEGIN { printf("%-5d|%5s|%x|%X|%o|%c|%%|%05d|%.2s|%+d|%u\n", 42, "ab", 255, 255, 8, 65, 7, "xyz", 3, -1); exit(); }"#,
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "42   |   ab|ff|FF|10|A|%|00007|xy|+3|4294967295\n\n\n"
    );
}

#[test]
fn exit_code_is_returned() {
    let o = spyglass(&["-q", "-e", "BEGIN { exit(3); }"]);
    assert_eq!(o.code, 3);
    assert_eq!(o.stderr, "");
}

#[test]
fn positional_parameters() {
    let o = spyglass(&[
        "-e",
        r#"BEGIN { printf("%d %s %d\n", $1 + 1, str($2), $#); exit(); }"#,
        "41",
        "hi",
    ]);
    assert_eq!(o.stdout, "42 hi 2\n\n\n", "{}", o.stderr);
}

#[test]
fn scalar_vars_ternary_and_string_compare() {
    let o = run_e(
        r#"BEGIN { $a = 10; $b = -3; $s = "bash"; @div = $a / $b; @mod = $a % $b; @t = $a > 5 ? 1 : 2;
                  @eq = $s == "bash"; @ne = $s != "bash"; @shift = 1 << 4; @neg = -$a; exit(); }"#,
    );
    assert_eq!(
        o.stdout, "\n\n@div: -3\n@eq: true\n@mod: 1\n@ne: false\n@neg: -10\n@shift: 16\n@t: 1\n",
        "{}",
        o.stderr
    );
}

/// bpftrace defines `x / 0` and `x % 0` as 1, for run-time divisors and constant ones, and
/// warns at the expression when a run-time divisor is 0.
#[test]
fn division_by_zero_gives_one_and_warns() {
    let o = spyglass(&[
        "--no-warnings",
        "-e",
        r#"BEGIN { @z = 0; $n = -7; printf("%d %d %d %d %d\n", 10 / @z, (uint64)10 % (uint64)@z, $n / @z, $n % @z, 5 / 0); exit(); }"#,
    ]);
    assert_eq!(o.stdout, "1 1 1 1 1\n\n\n@z: 0\n", "{}", o.stderr);
    let o = run_e("BEGIN { @z = 0; @o = 1; print(7 % @z); print(7 / @o); exit(); }");
    assert_eq!(
        o.stdout,
        "stdin:1:31-37: WARNING: Divide or modulo by 0 detected. This can lead to unexpected results. 1 is being used as the result.\n\
         BEGIN { @z = 0; @o = 1; print(7 % @z); print(7 / @o); exit(); }\n\
         \x20                             ~~~~~~\n1\n7\n\n\n@o: 1\n@z: 0\n",
        "{}",
        o.stderr
    );
}

/// `-k`: a map read that finds nothing warns at the read, as bpftrace's helper warnings do.
#[test]
fn dash_k_warns_on_missing_map_elements() {
    let prog = r#"BEGIN { @[1] = 1; printf("%d\n", @[2]); exit(); }"#;
    let o = spyglass(&["-k", "-e", prog]);
    assert_eq!(
        o.stdout,
        "stdin:1:34-38: WARNING: Can't lookup map element because it does not exist.\n\
         Additional Info - helper: map_lookup_elem, retcode: 0\n\
         BEGIN { @[1] = 1; printf(\"%d\\n\", @[2]); exit(); }\n\
         \x20                                ~~~~\n0\n\n\n@[1]: 1\n",
        "{}",
        o.stderr
    );
    let o = run_e(prog);
    assert_eq!(o.stdout, "0\n\n\n@[1]: 1\n", "{}", o.stderr);
}

#[test]
fn counts_a_known_workload_with_cpid() {
    let cmd = format!("{} 1000", workload());
    let o = spyglass(&["-c", &cmd, "-e", "tracepoint:syscalls:sys_enter_getpid /pid == cpid/ { @calls = count(); @[comm] = count(); }"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "\n\n@[spyglass-worklo]: 1000\n@calls: 1000\n");
}

#[test]
fn printf_through_the_ring_buffer() {
    let cmd = format!("{} 3", workload());
    let o = spyglass(&[
        "-q",
        "-c",
        &cmd,
        "-e",
        r#"tracepoint:syscalls:sys_enter_getpid /pid == cpid/ { printf("%s %d\n", comm, @n++); }"#,
    ]);
    assert_eq!(
        o.stdout, "spyglass-worklo 0\nspyglass-worklo 1\nspyglass-worklo 2\n\n\n@n: 3\n",
        "{}",
        o.stderr
    );
}

#[test]
fn tracepoint_args_and_data_loc_strings() {
    let cmd = format!("{} 1", workload());
    let o = spyglass(&[
        "-q",
        "-c",
        &cmd,
        "-e",
        r#"tracepoint:sched:sched_process_exec /args.pid == cpid/ { printf("%s\n", args.filename); }
           tracepoint:syscalls:sys_exit_getpid /pid == cpid/ { @ret = args.ret == cpid; }"#,
    ]);
    assert_eq!(
        o.stdout,
        format!("{}\n\n\n@ret: true\n", workload()),
        "{}",
        o.stderr
    );
}

#[test]
fn interval_fires_until_exit() {
    let o = run_e("interval:ms:50 { @n++; if (@n == 3) { exit(); } }");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "\n\n@n: 3\n");
}

#[test]
fn print_and_clear_a_map() {
    let o =
        run_e("BEGIN { @x[1] = 5; print(@x); clear(@x); @y = 2; zero(@y); print(@y); exit(); }");
    assert_eq!(o.stdout, "@x[1]: 5\n@y: 0\n\n\n@y: 0\n", "{}", o.stderr);
}

#[test]
fn scalar_aggregations_distinguish_unset_cleared_and_zeroed() {
    let o = run_e("BEGIN { @c = count(); clear(@c); @d = count(); zero(@d); @e = sum(0); delete(@e); @m = min(5); @m = min(7); @z = sum(0); exit(); }");
    assert_eq!(o.stdout, "\n\n@d: 0\n@m: 5\n@z: 0\n", "{}", o.stderr);
}

#[test]
fn tuples_casts_bools_and_sizeof() {
    let o = run_e(
        r#"BEGIN { $v = 99; $t = (0, 1, "str", (5, 6), $v);
                  printf("%d %d %s %d %d %d\n", $t.0, $t.1, $t.2, $t.3.0, $t.3.1, $t.4);
                  print(((int8)-100, (int8)100, "abcdef", 3, (int32)1, (int64)-10, (int8)10, (int16)-555));
                  $a = ((int8)-100, (int8)100, "abcdef", 3, (int32)1, (int64)-10, (int8)10, (int16)-555, "abc");
                  print(sizeof($a)); print((true, false)); print(1 == 1);
                  printf("%d %d %d\n", sizeof(uint64), (uint8)-1, (int8)200);
                  @ = ((int8)1, ((int8)-20, (int8)30)); @m[1, "a"] = (1, "x"); @k[(2, "b")] = 3; exit(); }"#,
    );
    assert_eq!(
        o.stdout,
        "0 1 str 5 6 99\n(-100, 100, abcdef, 3, 1, -10, 10, -555)\n32\n(true, false)\ntrue\n8 255 -56\n\n\n\
         @: (1, (-20, 30))\n@k[2, b]: 3\n@m[1, a]: (1, x)\n",
        "{}",
        o.stderr
    );
    let j = spyglass(&[
        "-q",
        "-f",
        "json",
        "-e",
        r#"BEGIN { @t = (1, "a", true); exit(); }"#,
    ]);
    assert_eq!(
        j.stdout,
        "{\"type\": \"map\", \"data\": {\"@t\": [1,\"a\",true]}}\n"
    );
}

#[test]
fn exit_ends_the_probe_and_unset_scalars_print_zero() {
    let o = run_e("interval:ms:20 { @++; if (@) { exit(); } @++ }");
    assert_eq!(o.stdout, "\n\n@: 1\n");
    let o = run_e("begin { print(@); } end { @ = 1 }");
    assert_eq!(o.stdout, "@: 0\n\n\n@: 1\n");
}

#[test]
fn loops_over_ranges_while_and_maps() {
    let o = run_e(
        r#"begin { for ($i : 0..3) { print($i); } for ($i : 1..4) { if ($i == 2) { continue; } print($i); }
                  $j = 0; while ($j < 3) { $j++; if ($j == 2) { break; } } print($j);
                  @map[16] = 32; @map[64] = 128; $var = 123;
                  for ($kv : @map) { $var *= 2; if ($kv.0 == 16) { printf("%d->%d\n", $kv.0, $kv.1); } }
                  print($var);
                  @[0,0,0] = 1; @[0,1,0] = 1; for ($kv : @) { if ($kv.0.1 == 1) { delete(@, $kv.0); } }
                  clear(@map); exit(); }"#,
    );
    assert_eq!(
        o.stdout, "0\n1\n2\n1\n3\n2\n16->32\n492\n\n\n@[0, 0, 0]: 1\n",
        "{}",
        o.stderr
    );
}

#[test]
fn config_let_and_map_declarations() {
    let o = run_e("config = { print_maps_on_exit=0 } begin { @[\"test\"] = count(); exit(); }");
    assert_eq!((o.code, o.stdout.as_str()), (0, ""), "{}", o.stderr);
    let o = run_e("let @a = percpulruhash(1); begin { @a[1] = count(); @a[2] = count(); exit(); }");
    assert_eq!(o.stdout, "\n\n@a[2]: 1\n", "{}", o.stderr);
    let o = run_e(
        r#"begin { let $a; $a = 10; let $b: uint8 = $a + 290; let $c = "x"; print(($a, $b, $c)); exit(); }"#,
    );
    assert_eq!(o.stdout, "(10, 44, x)\n\n\n", "{}", o.stderr);
    // A literal that does not fit the declared type is an error, not a truncation.
    let o = run_e("begin { let $b: uint8 = 300; }");
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("the literal 300 does not fit uint8"),
        "{}",
        o.stderr
    );
    let o = run_e("config = { bad_config=raw } begin {}");
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("bad_config: not a known configuration option"),
        "{}",
        o.stderr
    );
}

#[test]
fn macros_expand_hygienically() {
    let o = run_e(
        r#"macro inc($x) { $x += 1; } macro add1(x) { x + 1 } macro add2(x) { x + add1(x) }
           macro local(x) { let $y = x + 1; $y } macro set(@m) { @m[1] = 2; } macro one() { 7 }
           begin { $a = 1; inc($a); inc($a); $y = 2; print(($a, add2(1), local(5), $y, one)); set(@s); exit(); }"#,
    );
    assert_eq!(o.stdout, "(3, 3, 6, 2, 7)\n\n\n@s[1]: 2\n", "{}", o.stderr);
}

#[test]
fn block_and_if_expressions_discard_and_unroll() {
    let o = run_e(
        r#"begin { let $x=1; let $y=0; print(if ($x) { if ($y) { 10 } else { 20 } } else { 0 });
                  _ = { print("side"); 1 }; print({ $z = 2; $z * 3 }); $a = 1; unroll (4) { $a = $a * 2; } print($a); exit(); }"#,
    );
    assert_eq!(o.stdout, "20\nside\n6\n16\n\n\n", "{}", o.stderr);
}

#[test]
fn records_print_and_reorder_by_name() {
    let o = run_e(
        r#"begin { $a = (foo = 1, bar = "x"); $a = (bar = "y", foo = 2); print($a); @r = (a = 1, b = (2, "hi")); printf("%d\n", $a.foo); exit(); }"#,
    );
    assert_eq!(
        o.stdout, "{ .foo = 2, .bar = y }\n2\n\n\n@r: { .a = 1, .b = (2, hi) }\n",
        "{}",
        o.stderr
    );
    let j = spyglass(&[
        "-q",
        "-f",
        "json",
        "-e",
        r#"begin { @a = (a = 0, d = (5, 6), e = (x = 1)); exit(); }"#,
    ]);
    assert_eq!(
        j.stdout,
        "{\"type\": \"map\", \"data\": {\"@a\": {\"a\": 0, \"d\": [5,6], \"e\": {\"x\": 1}}}}\n"
    );
}

#[test]
fn kernel_stacks_are_symbolized() {
    let cmd = format!("{} 5", workload());
    let o = spyglass(&["-q", "-c", &cmd, "-e", "tracepoint:syscalls:sys_enter_getpid /pid == cpid/ { @[kstack] = count(); @raw[kstack(raw, 2)] = count(); }"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let out = o.stdout;
    assert!(out.starts_with("\n\n@[\n        "), "{out}");
    assert!(out.contains("do_syscall_64+"), "{out}");
    assert!(out.contains("\n]: 5\n"), "{out}");
    // raw mode: two bare hex addresses
    let raw = out.split("@raw[\n").nth(1).unwrap();
    let frames: Vec<&str> = raw
        .lines()
        .take_while(|l| l.starts_with("        "))
        .collect();
    assert_eq!(frames.len(), 2, "{out}");
    assert!(
        frames
            .iter()
            .all(|f| u64::from_str_radix(f.trim(), 16).is_ok()),
        "{out}"
    );
}

#[test]
fn strftime_formats_in_user_space() {
    let o = run_e(
        r#"begin { printf("%s|%s\n", strftime("%s.%f", 1000123000), strftime("%s.%f", 0)); @t = (1, strftime("%Y", nsecs)); exit(); }"#,
    );
    let first = o.stdout.lines().next().unwrap().to_string();
    let (a, b) = first.split_once('|').unwrap();
    let micros = |s: &str| -> i128 {
        let (whole, frac) = s.split_once('.').unwrap();
        whole.parse::<i128>().unwrap() * 1_000_000 + frac.parse::<i128>().unwrap()
    };
    assert_eq!(micros(a) - micros(b), 1_000_123, "{first}");
    let year = std::process::Command::new("date")
        .arg("+%Y")
        .output()
        .unwrap();
    let year = String::from_utf8_lossy(&year.stdout).trim().to_string();
    assert!(
        o.stdout.ends_with(&format!("@t: (1, {year})\n")),
        "{}",
        o.stdout
    );
}

#[test]
fn dash_p_filters_every_probe_to_that_process() {
    let mut yes = std::process::Command::new("yes")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = yes.id().to_string();
    let o = spyglass(&[
        "-q",
        "-p",
        &pid,
        "-e",
        "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); } interval:ms:300 { exit(); }",
    ]);
    yes.kill().unwrap();
    yes.wait().unwrap();
    let keys: Vec<&str> = o
        .stdout
        .lines()
        .filter(|l| l.starts_with("@["))
        .map(|l| l.split(']').next().unwrap())
        .collect();
    assert_eq!(keys, vec!["@[yes"], "{}{}", o.stdout, o.stderr);
}

#[test]
fn range_loops_run_through_bpf_loop_with_runtime_bounds() {
    let o = run_e("begin { @a = 3; for ($i : 0..@a) { print($i); @a += 1; } $n = 0; for ($i : 0..100000) { $n += $i; } print($n); for ($i : 5..5) { print(0); } exit(); }");
    assert_eq!(o.stdout, "0\n1\n2\n4999950000\n\n\n@a: 6\n", "{}", o.stderr);
}

#[test]
fn verifier_rejection_is_a_diagnostic_at_the_probe() {
    // A stack id needs the probe's context, which a map-loop callback does not have.
    let o = spyglass(&[
        "--dry-run",
        "-e",
        "BEGIN { @m[1] = 1; for ($kv : @m) { @s[kstack] = count(); } }",
    ]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .starts_with("error: the kernel's verifier rejected this probe\n  ┌─ stdin:1:1\n"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("the kernel said:"), "{}", o.stderr);
    assert!(o.stderr.contains("expected=ctx"), "{}", o.stderr);
}

#[test]
fn json_output() {
    let o = spyglass(&[
        "-q",
        "-f",
        "json",
        "-e",
        r#"BEGIN { printf("hi %d", 1); @c = count(); @h = hist(3); exit(); }"#,
    ]);
    assert_eq!(
        o.stdout,
        "{\"type\": \"printf\", \"data\": \"hi 1\"}\n{\"type\": \"map\", \"data\": {\"@c\": 1}}\n\
         {\"type\": \"hist\", \"data\": {\"@h\": [{\"min\": 2, \"max\": 3, \"count\": 1}]}}\n",
        "{}",
        o.stderr
    );
}

#[test]
fn script_file_with_shebang_and_stdin() {
    let path = format!("{}/shebang.bt", env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(
        &path,
        "#!/usr/bin/env spyglass\nBEGIN { printf(\"file\\n\"); exit(); }\n",
    )
    .unwrap();
    let o = spyglass(&["-q", &path]);
    assert_eq!(o.stdout, "file\n\n\n", "{}", o.stderr);
    let mut child = Command::new(BIN)
        .args(["-q", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"BEGIN { printf(\"stdin\\n\"); exit(); }")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "stdin\n\n\n");
}

#[test]
fn syntax_error_is_a_diagnostic_with_exit_1() {
    let o = run_e("BEGIN { @x = ; }");
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("error: unexpected `;`"), "{}", o.stderr);
    assert!(o.stderr.contains("stdin:1:14"), "{}", o.stderr);
    assert!(!o.stderr.contains("panicked"));
}

#[test]
fn unknown_tracepoint_is_a_diagnostic() {
    let o = run_e("tracepoint:nope:nope { @ = count(); }");
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("does not exist on this kernel"),
        "{}",
        o.stderr
    );
}

#[test]
fn stack_limit_is_a_diagnostic_not_an_llvm_abort() {
    let s = "str(args.filename)";
    let prog = format!(
        // Kept on the stack (on_stack_limit), nine 200-byte strings cannot fit.
        "config = {{ max_strlen = 200; on_stack_limit = 256 }} tracepoint:syscalls:sys_enter_openat {{ printf(\"{}\\n\", {}); }}",
        ["%s"; 9].join(" "),
        [s; 9].join(", ")
    );
    let o = spyglass(&["--dry-run", "-e", &prog]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("more than the 512 bytes of stack"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("stdin:1:53"), "{}", o.stderr);
}

#[test]
fn dry_run_loads_but_attaches_nothing() {
    let o = spyglass(&[
        "--dry-run",
        "-e",
        "tracepoint:syscalls:sys_enter_getpid { @ = count(); }",
    ]);
    assert_eq!((o.code, o.stdout.as_str(), o.stderr.as_str()), (0, "", ""));
}

#[test]
fn emit_elf_and_llvm() {
    let dir = env!("CARGO_TARGET_TMPDIR");
    let elf = format!("{dir}/emit.o");
    let ll = format!("{dir}/emit");
    let o = spyglass(&[
        "--dry-run",
        "--emit-elf",
        &elf,
        "--emit-llvm",
        &ll,
        "-e",
        "BEGIN { @ = count(); }",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(&std::fs::read(&elf).unwrap()[..4], b"\x7fELF");
    assert!(std::fs::read_to_string(format!("{ll}.optimized.ll"))
        .unwrap()
        .contains("section \".maps\""));
}

/// As in bpftrace 0.26, `--emit-elf` writes the object and goes on; `--mode codegen` stops
/// after code generation.
#[test]
fn emit_elf_then_run_or_stop_with_mode_codegen() {
    let elf = format!("{}/emit-only.o", env!("CARGO_TARGET_TMPDIR"));
    let prog = "BEGIN { printf(\"ran\\n\"); exit(); }";
    let o = spyglass(&["--mode", "codegen", "--emit-elf", &elf, "-e", prog]);
    assert_eq!((o.code, o.stdout.as_str()), (0, ""), "{}", o.stderr);
    assert_eq!(&std::fs::read(&elf).unwrap()[..4], b"\x7fELF");
    let o = spyglass(&["--emit-elf", &elf, "-e", prog]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "ran\n\n\n"),
        "{}",
        o.stderr
    );
}

#[test]
fn list_tracepoints() {
    let o = spyglass(&["-l", "tracepoint:syscalls:sys_enter_open*"]);
    assert!(
        o.stdout
            .lines()
            .any(|l| l == "tracepoint:syscalls:sys_enter_openat"),
        "{}",
        o.stdout
    );
    assert!(o
        .stdout
        .lines()
        .all(|l| l.starts_with("tracepoint:syscalls:sys_enter_open")));
}

#[test]
fn sigint_runs_end_prints_maps_and_detaches() {
    let (mut child, mut stdout) = spawn_attached(
        &[
            "-e",
            r#"tracepoint:syscalls:sys_enter_getpid { @ = count(); } END { printf("end\n"); }"#,
        ],
        Stdio::piped(),
    );
    let ours = prog_ids_of(child.id());
    assert!(!ours.is_empty(), "programs loaded while running");
    Command::new(workload()).arg("5").status().unwrap();
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "spyglass did not exit after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    assert!(rest.starts_with("end\n\n\n@: "), "{rest}");
    let n: u64 = rest
        .trim_start_matches("end\n\n\n@: ")
        .trim()
        .parse()
        .unwrap();
    assert!(n >= 5);
    for id in ours {
        assert!(!prog_loaded(&id), "program {id} is still loaded after exit");
    }
}

/// The `-c` child makes no system call of its own that a probe could see once attached:
/// the workload calls getppid exactly once (it used to be twice, now and then, when the
/// held child checked its parent with getppid after the probes were attached).
#[test]
fn the_held_child_makes_no_traceable_call_of_its_own() {
    for _ in 0..5 {
        let o = spyglass(&[
            "-e",
            "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @ = count(); }",
            "-c",
            &format!("{} 1", workload()),
        ]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert_eq!(o.stdout, "\n\n@: 1\n");
    }
}
