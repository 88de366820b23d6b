//! The records' ring is read in place from its mapping (`runtime/records.rs`), its read
//! position published once per batch, what was read zeroed: records of two sizes wrap
//! around the ring's end many times, and each arrives once, in the order written, or is
//! counted as lost; records written on two CPUs at once each find their own place.

mod common;
use common::*;

/// Runs spyglass for at most two minutes and 50 MB of output: a reader that took stale
/// bytes for records would go round the ring for ever, printing them.
fn spyglass_within_limit(args: &[&str]) -> Out {
    let o = Out::of(
        std::process::Command::new("bash")
            .args([
                "-c",
                r#"set -o pipefail; timeout -k 5 120 "$0" "$@" | head -c 50000000"#,
            ])
            .arg(BIN)
            .args(args)
            .output()
            .expect("run spyglass"),
    );
    assert!(o.stdout.len() < 50_000_000, "still printing after 50 MB");
    assert_ne!(o.code, 124, "still reading after two minutes");
    o
}

#[test]
fn records_wrapping_the_ring_arrive_once_in_order_or_are_counted_lost() {
    const CALLS: u64 = 150_000;
    // Every third call also sends a larger record, so records end at every offset, and
    // every word of the ring has held a header, an id and data by the time it ends.
    let o = spyglass_within_limit(&[
        "-e",
        r#"tracepoint:syscalls:sys_enter_getpid /pid == cpid/ {
  @n = count();
  printf("a %lu\n", nsecs);
  if (nsecs % 3 == 0) {
    printf("b %lu %s %s\n", nsecs, comm, comm);
  }
}"#,
        "-c",
        &format!("{} {CALLS}", workload()),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let lost = lost_events(&o.stderr);
    let mut last = 0u64;
    let (mut a, mut b) = (0u64, 0u64);
    for l in o.stdout.lines() {
        let mut w = l.split(' ');
        let (kind, t) = match (w.next(), w.next().and_then(|t| t.parse::<u64>().ok())) {
            (Some(k @ ("a" | "b")), Some(t)) => (k, t),
            _ => continue,
        };
        assert!(t >= last, "out of order at {l:?}");
        last = t;
        match kind {
            "a" => a += 1,
            _ => {
                b += 1;
                assert!(l.ends_with(" spyglass-worklo spyglass-worklo"), "{l:?}");
            }
        }
    }
    assert!(o.stdout.contains(&format!("@n: {CALLS}\n")), "{}", o.stdout);
    // Each call sent one "a" record; lost records are of either kind.
    let head = &o.stdout[..o.stdout.len().min(300)];
    assert!(
        a <= CALLS && a + lost >= CALLS,
        "a={a} b={b} lost={lost}\n{head}\n{}",
        o.stderr
    );
    assert!(b > 0, "a={a} b={b} lost={lost}");
}

/// `BPFTRACE_PERF_RB_PAGES` (and `config = { perf_rb_pages = N }`) size the ring, as in
/// bpftrace. `begin` writes its records before anything reads the ring: one page holds
/// some of 300 lines and the rest are counted lost; the default 1 MiB holds them all.
#[test]
fn perf_rb_pages_sizes_the_ring() {
    let script = r#"begin { for ($i : 0..300) { printf("line %d\n", $i); } }"#;
    let run = |env: &[(&str, &str)]| {
        let o = spyglass_env(&["-e", script, "-c", "true"], env);
        assert_eq!(o.code, 0, "{}", o.stderr);
        let lines = o.stdout.lines().filter(|l| l.starts_with("line ")).count() as u64;
        let lost = lost_events(&o.stderr);
        (lines, lost)
    };
    let (lines, lost) = run(&[("BPFTRACE_PERF_RB_PAGES", "1")]);
    assert!(
        lines < 300 && lines + lost == 300,
        "{lines} lines, {lost} lost"
    );
    assert_eq!(run(&[]), (300, 0));
}

/// A script that prints nothing as it runs gets a smaller ring (`Checked::ring_pages`):
/// 256 KiB when it can send run-time warnings. A burst of them from one program run, all
/// written before anything reads the ring, still arrives whole.
#[test]
fn a_burst_of_warnings_fits_the_smaller_ring_of_a_script_that_prints_nothing() {
    const KEYS: usize = 8000;
    let script = format!(
        "config = {{ max_map_keys = 1 }} begin {{ for ($i : 0..{KEYS}) {{ @m[$i] = 1; }} exit(); }}"
    );
    let o = spyglass(&["-e", &script]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(lost_events(&o.stderr), 0, "{}", o.stderr);
    let warnings = o.stdout.matches("Map full; can't update element.").count();
    assert_eq!(warnings, KEYS - 1, "{}", o.stderr);
}

/// Two CPUs write records at once: each takes its place in the ring with a
/// compare-and-swap, and a CPU that loses the race tries again. Every thread's records
/// arrive once and in its own order (its count goes up by one from line to line), or are
/// counted lost; threads of other tests running meanwhile keep their own counts.
#[test]
fn records_written_on_two_cpus_at_once_arrive_once_each_in_order() {
    const CALLS: u64 = 100_000;
    let w = workload();
    let child = format!("sh -c 'taskset -c 0 {w} {CALLS} & taskset -c 1 {w} {CALLS}; wait'");
    let o = spyglass_within_limit(&[
        "-e",
        r#"tracepoint:syscalls:sys_enter_getpid /comm == "spyglass-worklo"/ {
  @seq[tid]++;
  printf("%d %d %d\n", tid, @seq[tid], cpu);
}"#,
        "-c",
        &child,
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let lost = lost_events(&o.stderr);
    // The count each thread reached, from the map printed at exit.
    let mut sent = std::collections::HashMap::new();
    for l in o.stdout.lines().filter_map(|l| l.strip_prefix("@seq[")) {
        let (tid, n) = l.split_once("]: ").expect("@seq[tid]: n");
        sent.insert(tid.parse::<u64>().unwrap(), n.parse::<u64>().unwrap());
    }
    let mut last = std::collections::HashMap::new();
    let mut cpus = std::collections::BTreeSet::new();
    let mut arrived = 0;
    for l in o
        .stdout
        .lines()
        .filter(|l| !l.starts_with('@') && !l.is_empty())
    {
        let f: Vec<u64> = l.split(' ').map(|x| x.parse().unwrap()).collect();
        let (tid, n, cpu) = (f[0], f[1], f[2]);
        let prev = last.insert(tid, n).unwrap_or(0);
        assert!(n > prev, "thread {tid}: {n} after {prev}");
        cpus.insert(cpu);
        arrived += 1;
    }
    let total: u64 = sent.values().sum();
    assert!(
        sent.values().filter(|&&n| n == CALLS).count() >= 2,
        "{sent:?}"
    );
    assert!(
        arrived <= total && arrived + lost >= total,
        "{arrived} arrived, {lost} lost, {total} sent"
    );
    if std::thread::available_parallelism().map_or(1, |n| n.get()) > 1 {
        assert!(cpus.len() > 1, "written on CPUs {cpus:?} only");
    }
}
