//! `--mode bench` / `--bench` and `--mode test` / `--test`: `bench:` and `test:` blocks.
mod common;

use common::*;

#[test]
fn bench_mode_reports_each_block_between_begin_and_end() {
    let o = spyglass(&[
        "--mode",
        "bench",
        "-e",
        r#"begin { print("begin"); } bench:a { @ = count(); } bench:loop { $s = 0; for $i : 0..50 { $s += $i; } } end { print("end"); }"#,
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[0], "begin");
    assert_eq!(
        lines[1],
        format!(
            "Benchmark{}Time(ns){}Iterations",
            " ".repeat(32),
            " ".repeat(7)
        )
    );
    assert_eq!(lines[2], "-".repeat(66));
    for (line, name) in lines[3..5].iter().zip(["a", "loop"]) {
        let (n, rest) = line.split_at(41);
        assert_eq!(n.trim_end(), name, "{line}");
        let nums: Vec<u64> = rest
            .split_whitespace()
            .map(|w| w.parse().unwrap())
            .collect();
        assert!(nums.len() == 2 && nums[0] > 0 && nums[1] > 0, "{line}");
    }
    // `end` runs after the benchmarks; maps are not printed in this mode.
    assert_eq!(lines[5..], ["end"], "{}", o.stdout);
}

#[test]
fn bench_json_and_blocks_ignored_when_tracing() {
    let o = spyglass(&[
        "-q",
        "-f",
        "json",
        "--bench",
        "-e",
        "bench:a { @ = count(); }",
    ]);
    let line = o.stdout.trim_end();
    assert!(
        line.starts_with(r#"{"type": "benchmark_result", "data": {"a": {"average": "#)
            && line.contains(r#", "iters": "#),
        "{}",
        o.stdout
    );
    let o = spyglass(&[
        "-q",
        "-e",
        "bench:a { @a = count(); } test:t { @t = count(); } begin { @b = 1; exit(); }",
    ]);
    assert_eq!(o.stdout, "\n\n@b: 1\n", "{}", o.stderr);
}

#[test]
fn test_mode_passes_unless_exit_or_errorf() {
    let o = spyglass(&[
        "--test",
        "-e",
        r#"test:ok { $x = 1; } test:exits { exit(1); } test:errs { errorf("no"); } test:after { @x = 1; }"#,
    ]);
    assert_eq!(o.code, 1);
    let shown: Vec<&str> = o.stdout.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(
        shown,
        [
            "[ RUN      ] ok",
            "[       OK ] ok",
            "[ RUN      ] exits",
            "[  FAILED  ] exits",
            "[ RUN      ] errs",
            "[  FAILED  ] errs",
            "[ RUN      ] after",
            "[       OK ] after",
            "[==========] 4 tests ran, 2 passed, 2 failed",
        ],
        "{}",
        o.stdout
    );
    let o = spyglass(&["--mode", "test", "-e", "test:a { } test:b { }"]);
    assert_eq!(o.code, 0, "{}", o.stdout);
}
