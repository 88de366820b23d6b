//! Reading count/sum/avg/min/max maps inside probes: the value merged over every CPU, in
//! the kernel (`bpf_map_lookup_percpu_elem`), must equal what user space prints.

mod common;
use common::*;

fn two_cpus() -> bool {
    std::thread::available_parallelism()
        .map(|n| n.get() >= 2)
        .unwrap_or(false)
}

/// The workload's getpid() calls run 30 times pinned to CPU 0, then 12 times on CPU 1.
/// A copy under its own name, so concurrent tests running the workload are not counted.
fn split_workload() -> String {
    let w = format!("{}/aggread-work", env!("CARGO_TARGET_TMPDIR"));
    if !std::path::Path::new(&w).exists() {
        let tmp = format!("{w}.{}", std::process::id());
        std::fs::copy(workload(), &tmp).unwrap();
        std::fs::rename(&tmp, &w).unwrap();
    }
    format!("sh -c 'taskset -c 0 {w} 30; taskset -c 1 {w} 12'")
}

const ON_GETPID: &str = "tracepoint:syscalls:sys_enter_getpid /comm == \"aggread-work\"/";

#[test]
fn reads_merge_every_cpu_in_the_kernel() {
    if !two_cpus() {
        eprintln!("skipped: needs two CPUs");
        return;
    }
    let prog = format!(
        "{ON_GETPID} {{ @c = count(); @s = sum(cpu); @mx = max(cpu * 10 + 5); @mn = min(cpu * 10 + 5); \
         @a = avg(cpu * 7); @k[comm] = count(); @neg = sum(-3); \
         if (@c == 35) {{ printf(\"35th on cpu %d\\n\", cpu); }} }}\n\
         end {{ printf(\"%d %d %d %d %d %d %d %d\\n\", @c, @s, @mx, @mn, @a, @k[\"aggread-work\"], @neg, @k[\"none\"]); }}"
    );
    let o = spyglass(&["-q", "-c", &split_workload(), "-e", &prog]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // The 35th call is the 5th on CPU 1: only a merged count sees 35 there.
    assert_eq!(
        o.stdout,
        "35th on cpu 1\n42 12 15 5 2 42 -126 0\n\n\n\
         @a: 2\n@c: 42\n@k[aggread-work]: 42\n@mn: 5\n@mx: 15\n@neg: -126\n@s: 12\n"
    );
}

#[test]
fn signed_avg_compares_and_truncates_toward_zero() {
    let o = run_e(
        "begin { @ = avg(-1); @ = avg(-1); @ = avg(-10); if (@ == -4) { printf(\"done\\n\"); } \
                   @t = avg(-1); @t = avg(-2); printf(\"%d\\n\", @t); clear(@); clear(@t); }",
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "done\n-1\n\n\n");
}

#[test]
fn casts_of_aggregations() {
    let o = run_e("begin { @a = count(); @b = sum(10); printf(\"%d-%d\\n\", (uint64)@a, (int64)@b); \
                   @z = sum(0); print(((bool)@a, (bool)@z)); printf(\"%d\\n\", (uint8)@b + 250); exit(); }");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "1-10\n(true, false)\n260\n\n\n@a: 1\n@b: 10\n@z: 0\n"
    );
}

#[test]
fn unset_and_missing_values_read_as_zero() {
    // min/max never fed on this CPU and keys never written all read 0; so does an empty avg.
    let o = run_e(
        "begin { if (0) { @mn = min(5); @mx[1] = max(5); @a[1] = avg(5); @c[1] = count(); } \
                   printf(\"%d %d %d %d\\n\", @mn, @mx[2], @a[3], @c[4]); exit(); }",
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "0 0 0 0\n\n\n");
}

#[test]
fn aggregation_read_into_variables_and_plain_maps() {
    let o = run_e("begin { @m[\"x\"] = max(-7); @m[\"x\"] = max(-9); $v = @m[\"x\"]; @copy = 0; @copy = @m[\"x\"] * 2; \
                   printf(\"%d %d\\n\", $v, @copy); exit(); }");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "-7 -14\n\n\n@copy: -14\n@m[x]: -7\n");
}

#[test]
fn stats_and_histograms_cannot_be_read() {
    for (prog, kind) in [
        ("begin { @s = stats(1); if (@s > 0) { exit(); } }", "stats"),
        ("begin { @h = hist(1); $x = (int64)@h; }", "hist"),
        (
            "begin { @l[1] = lhist(1, 0, 10, 1); print(@l[1] + 1); }",
            "lhist",
        ),
    ] {
        let o = run_e(prog);
        assert_eq!(o.code, 1, "{prog}: {}", o.stdout);
        assert!(
            o.stderr.contains(&format!("the {kind} map")),
            "{prog}: {}",
            o.stderr
        );
        assert!(
            o.stderr.contains("cannot be read as a value"),
            "{prog}: {}",
            o.stderr
        );
    }
}

/// `for` over a per-CPU aggregation visits each key with its value merged over all CPUs.
#[test]
fn for_loops_over_aggregation_maps_see_merged_values() {
    let o = run_e(
        r#"begin { @c["a"] = count(); @c["a"] = count(); @c["b"] = count(); @s[1, 2] = sum(-5);
                   @a[3] = avg(10); @a[3] = avg(3); @mx[1] = max(-4); @k[kstack(raw)] = count();
                   for ($kv : @c) { printf("%s %d\n", $kv.0, $kv.1); }
                   for ($kv : @s) { printf("%d %d %d\n", $kv.0.0, $kv.0.1, $kv.1); }
                   for ($kv : @a) { print($kv); }
                   for ($kv : @mx) { print($kv); }
                   for ($kv : @k) { print($kv.1); }
                   clear(@c); clear(@s); clear(@a); clear(@mx); clear(@k); }"#,
    );
    // Hash order is the kernel's; compare the lines of the count map as a set.
    let mut lines: Vec<&str> = o.stdout.lines().collect();
    lines[..2].sort();
    assert_eq!(
        lines,
        ["a 2", "b 1", "1 2 -5", "(3, 6)", "(1, -4)", "1", "", ""],
        "{}",
        o.stderr
    );
}

/// Regression: hash maps used from timer (interrupt) context are preallocated. Allocating on
/// insert there dropped all but a handful of new keys inserted in one run.
#[test]
fn many_new_keys_in_one_interrupt_context_run_are_kept() {
    // A long period: the run clears its maps and exits, and a second run must not start
    // (and insert again) before user space has seen the exit, even on a loaded machine.
    let o = run_e(
        r#"interval:ms:250 { for $i : 0..1000 { @v[$i] = $i; @c[$i] = count(); }
                            printf("%d %d\n", len(@v), len(@c)); clear(@v); clear(@c); exit(); }"#,
    );
    assert_eq!(o.stdout, "1000 1000\n\n\n", "{}", o.stderr);
}
