//! `--mode bench` and `--mode test`: run the `bench:` / `test:` blocks with
//! BPF_PROG_TEST_RUN between `begin` and `end`, then report instead of printing maps.
//!
//! A benchmark's time is the kernel's own accounting (BPF_ENABLE_STATS: run time and run
//! count per program), so the test-run system call around each run is not counted.

use std::os::fd::{FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use super::ring::Ring;

use super::session::Session;
use crate::diag::Diagnostic;
use crate::probes::AttachPoint;
use crate::program::CompiledProgram;

/// Which blocks to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Normal tracing; `bench:`/`test:` blocks never run.
    #[default]
    Run,
    Bench,
    Test,
}

/// How long each benchmark runs.
const BENCH_BUDGET: Duration = Duration::from_millis(200);

pub struct BenchResult {
    pub name: String,
    pub average_ns: u64,
    pub iters: u64,
}

/// Runs `begin`, the mode's blocks in order, then `end`; gives the exit code.
pub fn run(
    s: &Session,
    prog: &CompiledProgram,
    ringbuf: &Ring,
    mode: Mode,
    json: bool,
) -> Result<i32, Diagnostic> {
    let blocks = |want: fn(&AttachPoint) -> Option<&String>| -> Vec<(String, String)> {
        prog.probes
            .iter()
            .filter_map(|p| {
                let name = p.attach.iter().find_map(want)?;
                Some((name.clone(), p.prog_name.clone()))
            })
            .collect()
    };
    for p in prog
        .probes
        .iter()
        .filter(|p| p.attach.contains(&AttachPoint::Begin))
    {
        s.test_run(&p.prog_name)?;
    }
    let _ = ringbuf.consume();
    let code = match mode {
        Mode::Bench => {
            let benches = blocks(|a| match a {
                AttachPoint::Bench { name } => Some(name),
                _ => None,
            });
            let results = benches
                .iter()
                .map(|(name, prog_name)| bench(s, ringbuf, name, prog_name))
                .collect::<Result<Vec<_>, _>>()?;
            s.write_text(&if json {
                bench_json(&results)
            } else {
                bench_text(&results)
            });
            0
        }
        Mode::Test => {
            let tests = blocks(|a| match a {
                AttachPoint::Test { name } => Some(name),
                _ => None,
            });
            let mut failed = 0;
            for (name, prog_name) in &tests {
                if !json {
                    s.write_text(&format!("[ RUN      ] {name}\n"));
                }
                let errors = s.errors.get();
                // A passing test's output is noise; a failing one's explains the failure.
                s.hold();
                let started = Instant::now();
                let run = s.test_run(prog_name);
                let duration = started.elapsed().as_nanos();
                let _ = ringbuf.consume();
                let output = s.release();
                let code = run?;
                let exit = s.take_exit_code().unwrap_or(0);
                let ok = code == 0 && exit == 0 && s.errors.get() == errors;
                if !ok && !json {
                    s.write_text(&output);
                }
                failed += usize::from(!ok);
                s.write_text(&if json {
                    format!(
                        "{{\"type\": \"test_result\", \"data\": {{\"{}\": {{\"duration\": {duration}, \"passed\": {ok}, \"output\": \"{}\"}}}}}}\n",
                        json_escape(name),
                        json_escape(&output)
                    )
                } else if ok {
                    format!("[       OK ] {name}\n")
                } else {
                    format!("[  FAILED  ] {name}\n")
                });
            }
            if !json {
                s.write_text(&format!(
                    "[==========] {} tests ran, {} passed, {failed} failed\n",
                    tests.len(),
                    tests.len() - failed
                ));
            }
            i32::from(failed > 0)
        }
        Mode::Run => unreachable!("normal runs do not come here"),
    };
    s.stop_accepting_after_exit();
    for p in prog
        .probes
        .iter()
        .filter(|p| p.attach.contains(&AttachPoint::End))
    {
        s.test_run(&p.prog_name)?;
    }
    let _ = ringbuf.consume();
    s.flush();
    Ok(code)
}

/// Runs one block for `BENCH_BUDGET`; the average comes from the kernel's statistics.
fn bench(
    s: &Session,
    ringbuf: &Ring,
    name: &str,
    prog_name: &str,
) -> Result<BenchResult, Diagnostic> {
    // Statistics are collected while this descriptor is open.
    // SAFETY: plain syscall wrapper; a non-negative result is a new descriptor we own.
    let stats = unsafe { libbpf_sys::bpf_enable_stats(libbpf_sys::BPF_STATS_RUN_TIME) };
    let _stats = (stats >= 0).then(|| unsafe { OwnedFd::from_raw_fd(stats) });
    let fd = s.prog_fd(prog_name)?;
    let before = run_stats(fd);
    let start = Instant::now();
    let mut iters = 0u64;
    while iters == 0 || start.elapsed() < BENCH_BUDGET {
        s.test_run(prog_name)?;
        iters += 1;
        if iters % 1024 == 0 {
            let _ = ringbuf.consume();
        }
    }
    let _ = ringbuf.consume();
    let after = run_stats(fd);
    let (ns, runs) = (after.0 - before.0, after.1 - before.1);
    // Without statistics, fall back to the wall clock (the system call included).
    let average_ns = if runs > 0 {
        ns / runs
    } else {
        start.elapsed().as_nanos() as u64 / iters
    };
    Ok(BenchResult {
        name: name.to_string(),
        average_ns,
        iters,
    })
}

/// (run_time_ns, run_cnt) of a program.
fn run_stats(fd: i32) -> (u64, u64) {
    let mut info: libbpf_sys::bpf_prog_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libbpf_sys::bpf_prog_info>() as u32;
    // SAFETY: info is a properly sized, writable bpf_prog_info.
    let rc = unsafe { libbpf_sys::bpf_prog_get_info_by_fd(fd, &mut info, &mut len) };
    if rc != 0 {
        return (0, 0);
    }
    (info.run_time_ns, info.run_cnt)
}

/// The table Google Benchmark prints, as bpftrace does.
pub fn bench_text(results: &[BenchResult]) -> String {
    let mut out = format!("{:<41}{:<15}{}\n", "Benchmark", "Time(ns)", "Iterations");
    out.push_str(&"-".repeat(66));
    out.push('\n');
    for r in results {
        out.push_str(&format!("{:<41}{:<15}{}\n", r.name, r.average_ns, r.iters));
    }
    out
}

pub fn bench_json(results: &[BenchResult]) -> String {
    let data: Vec<String> = results
        .iter()
        .map(|r| {
            format!(
                "\"{}\": {{\"average\": {}, \"iters\": {}}}",
                json_escape(&r.name),
                r.average_ns,
                r.iters
            )
        })
        .collect();
    format!(
        "{{\"type\": \"benchmark_result\", \"data\": {{{}}}}}\n",
        data.join(", ")
    )
}

/// Block names are identifiers, but stay safe for JSON anyway.
/// The inside of a JSON string literal.
fn json_escape(s: &str) -> String {
    let q = super::format::json::json_str(s);
    q[1..q.len() - 1].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_table_and_json_have_bpftrace_layout() {
        let r = [BenchResult {
            name: "a".into(),
            average_ns: 42,
            iters: 1000,
        }];
        assert_eq!(
            bench_text(&r),
            format!(
                "Benchmark{}Time(ns){}Iterations\n{}\na{}42{}1000\n",
                " ".repeat(32),
                " ".repeat(7),
                "-".repeat(66),
                " ".repeat(40),
                " ".repeat(13)
            )
        );
        assert_eq!(
            bench_json(&r),
            "{\"type\": \"benchmark_result\", \"data\": {\"a\": {\"average\": 42, \"iters\": 1000}}}\n"
        );
    }
}
