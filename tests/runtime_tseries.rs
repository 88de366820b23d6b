//! `tseries()` and duration literals, run on the real kernel. `BPFTRACE_DUMMY_TS_MAP` makes
//! tseries read its clock from a map, so the charts are exact; `TZ=UTC` fixes the hours.

mod common;
use common::*;

use std::process::Command;

fn with_dummy_ts(args: &[&str]) -> Out {
    let o = Command::new(BIN)
        .args(args)
        .env("BPFTRACE_DUMMY_TS_MAP", "@ts")
        .env("TZ", "UTC")
        .output()
        .expect("run spyglass");
    Out::of(o)
}

/// Writes -5..5 and back, one value per 100ms interval starting at 0.1s.
const ZIGZAG: &str = "begin { @ts = (uint64)0; $i = 0; while ($i < 20) { @ts += 100000000; \
     $v = $i <= 10 ? $i - 5 : 15 - $i; @ = tseries($v, 100ms, 20); $i++; } clear(@ts); }";

#[test]
fn signed_series_chart_with_zero_line() {
    let o = with_dummy_ts(&["-e", ZIGZAG]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let want = "\n\n@:
             -5                                                  5
hh:mm:ss.ms  |___________________________________________________|
00:00:00.100 *                         .                         | -5
00:00:00.200 |    *                    .                         | -4
00:00:00.300 |         *               .                         | -3
00:00:00.400 |              *          .                         | -2
00:00:00.500 |                   *     .                         | -1
00:00:00.600 |                         *                         | 0
00:00:00.700 |                         .    *                    | 1
00:00:00.800 |                         .         *               | 2
00:00:00.900 |                         .              *          | 3
00:00:01.000 |                         .                   *     | 4
00:00:01.100 |                         .                         * 5
00:00:01.200 |                         .                   *     | 4
00:00:01.300 |                         .              *          | 3
00:00:01.400 |                         .         *               | 2
00:00:01.500 |                         .    *                    | 1
00:00:01.600 |                         *                         | 0
00:00:01.700 |                   *     .                         | -1
00:00:01.800 |              *          .                         | -2
00:00:01.900 |         *               .                         | -3
00:00:02.000 |    *                    .                         | -4
             v___________________________________________________v
             -5                                                  5

";
    assert_eq!(o.stdout, want);
}

/// Two values per interval into a ring of 3: only the last 3 intervals survive, each the
/// average of its two values; keys share the window, and empty intervals are left out.
#[test]
fn keyed_avg_series_as_json() {
    let prog = "begin { @ts = (uint64)1000000000; $i = 0; while ($i < 10) { \
        @a[\"x\"] = tseries($i, 1s, 3, \"avg\"); @ts += 500000000; $i++; } \
        @a[\"y\"] = tseries(-1, 1s, 3, \"avg\"); clear(@ts); }";
    let o = with_dummy_ts(&["-q", "-f", "json", "-e", prog]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "{\"type\": \"tseries\", \"data\": {\"@a\": {\"x\": [\
         {\"interval_start\": \"1970-01-01 00:00:04.000000000\", \"value\": 6},\
         {\"interval_start\": \"1970-01-01 00:00:05.000000000\", \"value\": 8}], \
         \"y\": [{\"interval_start\": \"1970-01-01 00:00:06.000000000\", \"value\": -1}]}}}\n"
    );
}

#[test]
fn max_min_and_zero() {
    let prog = "begin { @ts = (uint64)0; $i = 0; while ($i < 6) { @ts += 1000000; \
        @hi = tseries($i % 3, 2ms, 2, \"max\"); @lo = tseries($i % 3 + 1, 2ms, 2, \"min\"); \
        @s = tseries(10, 2ms, 2, \"sum\"); $i++; } clear(@ts); zero(@s); }";
    let o = with_dummy_ts(&["-q", "-f", "json", "-e", prog]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // ts 1..6 ms: intervals 0..3 of 2ms; the ring keeps intervals 2 and 3.
    assert_eq!(
        o.stdout,
        "{\"type\": \"tseries\", \"data\": {\"@hi\": [\
         {\"interval_start\": \"1970-01-01 00:00:00.004000000\", \"value\": 1},\
         {\"interval_start\": \"1970-01-01 00:00:00.006000000\", \"value\": 2}]}}\n\
         {\"type\": \"tseries\", \"data\": {\"@lo\": [\
         {\"interval_start\": \"1970-01-01 00:00:00.004000000\", \"value\": 1},\
         {\"interval_start\": \"1970-01-01 00:00:00.006000000\", \"value\": 3}]}}\n\
         {\"type\": \"tseries\", \"data\": {\"@s\": []}}\n"
    );
    let o = with_dummy_ts(&["-e", prog]);
    assert!(o.stdout.ends_with("@s:\n<no data>\n"), "{}", o.stdout);
}

#[test]
fn real_clock_series() {
    let o = spyglass(&["-e", "begin { @[\"k\"] = tseries(7, 1s, 3); exit() }"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[2], "@[k]:");
    assert_eq!(
        lines[4],
        "hh:mm:ss |___________________________________________________|"
    );
    let row = lines[5];
    assert!(row.len() == 8 + 1 + 53 + 2 && row.ends_with("| 7"), "{row}");
    assert!(
        row[..8].chars().all(|c| c.is_ascii_digit() || c == ':'),
        "{row}"
    );
}

#[test]
fn dummy_map_must_be_a_scalar_integer() {
    let o = with_dummy_ts(&["-e", "begin { @ts[1] = 2; @ = tseries(1, 1s, 2); }"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("BPFTRACE_DUMMY_TS_MAP=@ts: not a scalar integer map of this script"),
        "{}",
        o.stderr
    );
}

#[test]
fn duration_literals_are_nanoseconds() {
    let o = run_e("begin { print((1ns, 5us, 100ms, 1s, 2m, 1h, 1d, 1_000ms)); exit() }");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "(1, 5000, 100000000, 1000000000, 120000000000, 3600000000000, 86400000000000, \
         1000000000)\n\n\n"
    );
}

#[test]
fn buffers_print_escaped_and_key_maps() {
    let o = run_e(
        r#"begin { printf("%r|%rx|%rh\n", buf("hi\n", 3), buf("Hi", 2), buf("AB\x01", 3));
                  $a = buf("hi", 2); $b = buf("bye", 3);
                  printf("%d %d %d\n", $a == $a, $a != $b, $a == buf("hi", 2));
                  @k[buf("ok_key", 7)] = count(); @v = buf("hello", $1); exit() }"#
            .replace("$1", "4")
            .as_str(),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "hi\\x0a|\\x48\\x69|41 42 01\n1 1 1\n\n\n@k[ok_key\\x00]: 1\n@v: hell\n"
    );
    let o = spyglass(&[
        "-q",
        "-f",
        "json",
        "-e",
        "begin { @b[buf(\"ab\", 2)] = buf(\"c\", 1); exit() }",
    ]);
    assert_eq!(
        o.stdout,
        "{\"type\": \"map\", \"data\": {\"@b\": {\"ab\": [99]}}}\n"
    );
}
