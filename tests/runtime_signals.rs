//! Ctrl-C and SIGTERM end a run whatever the load: the event loop checks for signals between
//! bounded batches, a second signal exits at once, `-c` children never outlive spyglass,
//! and records the reader could not keep up with are reported as lost.
//!
//! Deadlines here are liveness bounds (the defect was a run that never ended), not timings.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A probe fed by spyglass's own output: every line printed is a write(2), which is a
/// syscall, which prints another line.
const SELF_FEEDING: &str = r#"tracepoint:raw_syscalls:sys_enter { @[comm] = count(); printf("%d\n", tid); }
end { printf("end\n"); }"#;

fn wait_with_deadline(child: &mut Child, secs: u64) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("spyglass did not exit within {secs} s of the signal");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What a run left behind after it exited: programs and links still known to the kernel,
/// and uprobe events in tracefs naming `path`.
fn leftovers(progs: &[String], links: &[String], path: &str) -> Vec<String> {
    let mut left: Vec<String> = progs
        .iter()
        .filter(|id| bpf_object_exists("prog", id))
        .map(|id| format!("prog {id}"))
        .collect();
    left.extend(
        links
            .iter()
            .filter(|id| bpf_object_exists("link", id))
            .map(|id| format!("link {id}")),
    );
    let events = std::fs::read_to_string("/sys/kernel/tracing/uprobe_events").unwrap_or_default();
    left.extend(
        events
            .lines()
            .filter(|l| l.contains(path))
            .map(String::from),
    );
    left
}

enum Sink {
    File,
    Pipe,
}

/// Runs `script` under load, signals it after two seconds, and checks that it exits 0
/// having run `end` and printed the map, with nothing left attached.
fn stops_under_load(sink: Sink, signal: i32, uprobe: bool) {
    let dir = tempdir();
    let out_path = format!("{dir}/out");
    let mut script = SELF_FEEDING.to_string();
    if uprobe {
        script.push_str(&format!("\nuprobe:{}:main {{ @u = count(); }}", workload()));
    }
    let mut cmd = Command::new(BIN);
    cmd.args(["-e", &script]).stderr(Stdio::piped());
    match sink {
        Sink::File => cmd.stdout(std::fs::File::create(&out_path).unwrap()),
        Sink::Pipe => cmd.stdout(Stdio::piped()),
    };
    let mut child = cmd.spawn().unwrap();
    // The pipe's reader keeps reading (its reads feed the probe too).
    let reader = child.stdout.take().map(|mut o| {
        std::thread::spawn(move || {
            let mut s = String::new();
            o.read_to_string(&mut s).unwrap();
            s
        })
    });
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut attached = String::new();
    stderr.read_line(&mut attached).unwrap();
    assert!(attached.starts_with("Attached "), "{attached}");
    if uprobe {
        Command::new(workload()).arg("1").status().unwrap();
    }
    std::thread::sleep(Duration::from_secs(2));
    let progs = prog_ids_of(child.id());
    let links = bpf_ids_of(child.id(), "link_id");
    assert!(!progs.is_empty() && !links.is_empty());
    unsafe { libc::kill(child.id() as i32, signal) };
    let status = wait_with_deadline(&mut child, 10);
    let mut err = String::new();
    stderr.read_to_string(&mut err).unwrap();
    let out = match reader {
        Some(r) => r.join().unwrap(),
        None => std::fs::read_to_string(&out_path).unwrap(),
    };
    assert_eq!(status.code(), Some(0), "{err}");
    let tail = &out[out.rfind("end\n").expect("the end probe ran")..];
    assert!(tail.starts_with("end\n\n\n@["), "{tail}");
    assert!(tail.contains("\n@[spyglass]: "), "{tail}");
    if uprobe {
        assert!(tail.contains("\n@u: 1\n"), "{tail}");
    }
    assert_eq!(leftovers(&progs, &links, workload()), Vec::<String>::new());
}

fn tempdir() -> String {
    let d = format!(
        "{}/signals-{}-{:?}",
        env!("CARGO_TARGET_TMPDIR"),
        std::process::id(),
        std::thread::current().id()
    );
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn self_feeding_output_to_a_file_stops_on_sigint() {
    stops_under_load(Sink::File, libc::SIGINT, false);
}

#[test]
fn self_feeding_output_to_a_pipe_stops_on_sigint() {
    stops_under_load(Sink::Pipe, libc::SIGINT, false);
}

#[test]
fn self_feeding_output_to_a_file_stops_on_sigterm() {
    stops_under_load(Sink::File, libc::SIGTERM, false);
}

#[test]
fn self_feeding_output_to_a_pipe_stops_on_sigterm() {
    stops_under_load(Sink::Pipe, libc::SIGTERM, false);
}

#[test]
fn self_feeding_with_a_uprobe_stops_and_removes_the_uprobe() {
    stops_under_load(Sink::File, libc::SIGINT, true);
    stops_under_load(Sink::Pipe, libc::SIGTERM, true);
}

/// The output pipe is never read, so spyglass blocks writing to it: the first SIGINT cannot
/// be acted on, the second ends the process at once, still detaching everything.
#[test]
fn a_second_sigint_exits_at_once() {
    let mut child = Command::new(BIN)
        .args(["-e", SELF_FEEDING])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut attached = String::new();
    stderr.read_line(&mut attached).unwrap();
    // Output goes out a batch per write, so spyglass alone feeds itself slowly: a burst
    // of system calls fills the pipe.
    let mut load = Command::new(workload()).arg("2000000").spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let progs = prog_ids_of(child.id());
    let links = bpf_ids_of(child.id(), "link_id");
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        child.try_wait().unwrap().is_none(),
        "still blocked on the pipe"
    );
    let _ = load.kill();
    let _ = load.wait();
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = wait_with_deadline(&mut child, 5);
    assert_eq!(status.code(), Some(130));
    assert_eq!(leftovers(&progs, &links, "-"), Vec::<String>::new());
}

/// A signal straight after "attached" still runs `end` and prints the maps.
#[test]
fn sigint_right_after_attach() {
    let (mut child, mut stdout) = spawn_attached(
        &[
            "-e",
            r#"begin { @started = 1; } tracepoint:syscalls:sys_enter_getpid { @n = count(); }
               end { printf("end\n"); }"#,
        ],
        Stdio::null(),
    );
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let status = wait_with_deadline(&mut child, 10);
    assert_eq!(status.code(), Some(0));
    assert_eq!(rest, "end\n\n\n@started: 1\n");
}

/// Before anything is loaded there is nothing to undo: SIGINT ends the compile at once.
#[test]
fn sigint_during_compilation() {
    // Thousands of probes take seconds to compile.
    let script: String = (0..1000)
        .map(|i| format!("tracepoint:syscalls:sys_enter_getpid {{ @a{i}[tid] = count(); printf(\"{i} %d\\n\", pid); }}\n"))
        .collect();
    let mut child = Command::new(BIN)
        .args(["--dry-run", "-e", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "still compiling");
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = wait_with_deadline(&mut child, 2);
    use std::os::unix::process::ExitStatusExt;
    assert!(
        status.signal() == Some(libc::SIGINT) || status.code() == Some(130),
        "{status:?}"
    );
}

const BIG_MAP: &str = r#"config = { max_map_keys = 100000 }
    begin { for ($i : 0..100000) { @m[$i] = $i; } exit(); }"#;

/// Starts a run that prints a 100,000-key map at exit into a pipe read slowly, and returns
/// once the printing has begun (the reader holds the rest back).
fn printing_big_map() -> (Child, BufReader<std::process::ChildStdout>) {
    let mut child = Command::new(BIN)
        .args(["-q", "-e", BIG_MAP])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.starts_with("@m[") {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "no map printed");
    }
    (child, stdout)
}

/// After `exit()` the map is being printed when SIGINT arrives: as the first signal it lets
/// the printing finish, as bpftrace does.
#[test]
fn sigint_while_printing_a_100k_key_map_finishes_it() {
    let (mut child, mut stdout) = printing_big_map();
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let status = wait_with_deadline(&mut child, 10);
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        rest.lines().filter(|l| l.starts_with("@m[")).count(),
        99_999
    );
}

/// A second signal during the printing ends it at once.
#[test]
fn a_second_sigint_while_printing_a_100k_key_map_exits() {
    let (mut child, stdout) = printing_big_map();
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    std::thread::sleep(Duration::from_millis(100));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = wait_with_deadline(&mut child, 5);
    drop(stdout);
    assert_eq!(status.code(), Some(130));
}

/// A `-c` child that ignores SIGINT and SIGTERM is killed after a grace period instead of
/// keeping spyglass alive.
#[test]
fn a_child_ignoring_signals_does_not_hold_up_the_exit() {
    let dir = tempdir();
    let script = format!("{dir}/stubborn.sh");
    std::fs::write(&script, "trap '' INT TERM\nexec sleep 100\n").unwrap();
    let mut child = Command::new(BIN)
        .args([
            "-c",
            &format!("/bin/sh {script}"),
            "-e",
            r#"begin { printf("%d\n", cpid); } tracepoint:syscalls:sys_enter_getpid { @ = count(); }"#,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let cpid: i32 = line.trim().parse().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = wait_with_deadline(&mut child, 5);
    assert_eq!(status.code(), Some(0));
    assert!(gone(cpid), "the child {cpid} outlived spyglass");
}

/// A process that is gone or a zombie (reaped soon by whoever adopted it).
fn gone(pid: i32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit_once(')')
            .map(|(_, r)| r.trim_start().chars().next());
        if stat.is_empty() || matches!(state, Some(Some('Z' | 'X'))) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The child is started with a parent-death signal: killing spyglass kills it.
#[test]
fn the_child_dies_with_spyglass_even_on_sigkill() {
    let mut child = Command::new(BIN)
        .args([
            "-c",
            "sleep 100",
            "-e",
            r#"begin { printf("%d\n", cpid); } tracepoint:syscalls:sys_enter_getpid { @ = count(); }"#,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let cpid: i32 = line.trim().parse().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(gone(cpid), "the child {cpid} outlived spyglass");
}

/// More records than the ring holds, from a probe that outruns the reader: what was not
/// printed is counted in the kernel and reported, so printed + lost is every record.
#[test]
fn records_the_ring_had_no_room_for_are_reported_as_lost() {
    let prog =
        r#"begin { for ($i : 0..50000) { printf("%d ................................\n", $i); } }"#;
    let o = spyglass(&["-e", prog]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let printed = o.stdout.lines().filter(|l| l.ends_with("....")).count() as u64;
    let lost = lost_events(&o.stderr);
    assert!(lost > 0, "{}", o.stderr);
    assert_eq!(printed + lost, 50_000);
    assert!(
        o.stderr
            .contains(&format!("WARNING: Total lost event count: {lost}\n")),
        "{}",
        o.stderr
    );
    let o = spyglass(&["-f", "json", "-q", "-e", prog]);
    let lost_json: u64 = o
        .stdout
        .lines()
        .filter(|l| l.starts_with(r#"{"type": "lost_events""#))
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["count"].as_u64().unwrap()
        })
        .sum();
    assert!(lost_json > 0);
}

#[test]
fn self_probe_runs_at_each_sigusr1() {
    let (mut child, mut stdout) = spawn_attached(
        &[
            "-q",
            "-e",
            r#"self:signal:SIGUSR1 { @n++; printf("usr1 %d %s %s\n", @n, probe, probetype);
                 if (@n == 2) { exit(); } }"#,
        ],
        Stdio::piped(),
    );
    let pid = child.id() as i32;
    let mut line = String::new();
    for want in [
        "usr1 1 self:signal:SIGUSR1 special\n",
        "usr1 2 self:signal:SIGUSR1 special\n",
    ] {
        unsafe { libc::kill(pid, libc::SIGUSR1) };
        line.clear();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line, want);
    }
    let status = wait_with_deadline(&mut child, 10);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(status.success());
    assert_eq!(rest, "\n\n@n: 2\n");
}

#[test]
fn self_probes_take_only_sigusr1() {
    let o = run_e("self:signal:SIGUSR2 { }");
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("only SIGUSR1 can trigger a self probe"),
        "{}",
        o.stderr
    );
}

/// A reader that goes away (`spyglass … | head -1`) ends the run like an exit: spyglass
/// is not killed by `SIGPIPE` (its entry ignores it, as std's start would) and exits 0.
#[test]
fn a_closed_output_pipe_ends_the_run_cleanly() {
    use std::os::unix::process::ExitStatusExt;
    let mut child = Command::new(BIN)
        .args([
            "-e",
            r#"interval:ms:10 { printf("x\n"); } end { printf("end\n"); }"#,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "x\n");
    drop(out);
    let status = wait_with_deadline(&mut child, 20);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.signal(), None, "{err}");
    assert_eq!(status.code(), Some(0), "{err}");
}

/// Started with descriptors 0–2 closed, spyglass still runs: nothing it opens takes their
/// place (its entry opens `/dev/null` there, as std's start would).
#[test]
fn a_run_started_without_standard_descriptors_still_runs() {
    let mut run = Command::new(BIN);
    run.args(["-e", r#"begin { printf("x\n"); exit(); }"#])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    close_standard_fds_in_child(&mut run);
    let status = run.status().unwrap();
    assert_eq!(status.code(), Some(0));
}

/// Has `command`'s process close descriptors 0–2 before it execs.
fn close_standard_fds_in_child(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(|| {
            for fd in 0..3 {
                libc::close(fd);
            }
            Ok(())
        });
    }
}
