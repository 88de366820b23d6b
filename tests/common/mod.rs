//! Shared by the runtime test files: run the built binary as a user would.
#![allow(dead_code)]

use std::process::Command;
use std::sync::OnceLock;

pub const BIN: &str = env!("CARGO_BIN_EXE_spyglass");

/// Asked for in the environment, spyglass prints this line once every probe is attached,
/// as bpftrace does for its own test suite.
pub const NOTIFY: &str = "__BPFTRACE_NOTIFY_PROBES_ATTACHED";

/// Starts spyglass with `args` and returns once it says every probe is attached: that
/// notice is its first line on stdout, whose reader comes back with the child.
pub fn spawn_attached(
    args: &[&str],
    stderr: std::process::Stdio,
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStdout>,
) {
    use std::io::BufRead;
    let mut child = Command::new(BIN)
        .args(args)
        .env(NOTIFY, "1")
        .stdout(std::process::Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("run spyglass");
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, format!("{NOTIFY}\n"), "spyglass's first line");
    (child, stdout)
}

pub struct Out {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

pub fn spyglass(args: &[&str]) -> Out {
    Out::of(Command::new(BIN).args(args).output().expect("run spyglass"))
}

/// `spyglass` with extra environment variables.
pub fn spyglass_env(args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut c = Command::new(BIN);
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    Out::of(c.output().expect("run spyglass"))
}

impl Out {
    pub fn of(o: std::process::Output) -> Out {
        Out {
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            code: o.status.code().unwrap_or(-1),
        }
    }
}

/// The records spyglass reported lost (its `Lost N events` lines on stderr).
pub fn lost_events(stderr: &str) -> u64 {
    stderr
        .lines()
        .filter_map(|l| {
            l.strip_prefix("Lost ")?
                .strip_suffix(" events")?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

pub fn run_e(prog: &str) -> Out {
    spyglass_checked(&["-e", prog])
}

/// Runs spyglass; when the output cannot differ between two runs, also checks that the
/// script built into an artifact (`spyglass build`) and run by `spyglass-run` prints
/// exactly the same. The runtime tests go through here, so each of them checks both.
pub fn spyglass_checked(args: &[&str]) -> Out {
    let direct = spyglass(args);
    same_through_an_artifact(args, &direct);
    direct
}

/// `spyglass-run`, from the runtime crate (`scripts/test.sh` builds it).
pub fn spyglass_run() -> String {
    let path = std::path::Path::new(BIN).with_file_name("spyglass-run");
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build --release --workspace --bins`",
        path.display()
    );
    path.display().to_string()
}

/// Builtins whose value differs from run to run, or between `spyglass` and `spyglass-run`
/// (the tracer's own name and pid show in `begin`).
const VARYING: &[&str] = &[
    "nsecs", "elapsed", "pid", "tid", "comm", "rand", "cpu", "stack", "cgroup", "uptime",
    "strftime", "time", "jiffies", "kptr", "uptr", "ksym", "usym", "func", "retval", "curtask",
    "numaid", "ncpus", "username", "uid", "gid", "system", "cat", "%p", "errorf", "warnf", "path",
    "buf", "kaddr", "uaddr", "iter:", "probe", "&",
    // A hash map's order is its random seed's: loops over maps.
    ": @",
];

fn same_through_an_artifact(args: &[&str], direct: &Out) {
    let Some(at) = args.iter().position(|a| *a == "-e") else {
        return;
    };
    let prog = args.get(at + 1).copied().unwrap_or("");
    // Only programs that run to their own end and print the same thing every time.
    if direct.code != 0 || VARYING.iter().any(|v| prog.contains(v)) {
        return;
    }
    // Only `begin`/`end` blocks: a probe on the live system (`tracepoint:…`, `interval:…`)
    // sees different events in two runs.
    let b = prog.as_bytes();
    if (1..b.len()).any(|i| b[i] == b':' && b[i - 1].is_ascii_alphanumeric()) {
        return;
    }
    // Run-time options go to the run, the rest to the build; the script's parameters to
    // both: an artifact reads them when it runs, but keeps those the program needs as
    // constants (as in `if ($1 < 2) { fail(…); }`), which the run must give again.
    let (mut build, mut run, mut params) = (vec!["build"], vec![], vec![]);
    let mut i = 0;
    let mut seen_prog = false;
    while i < args.len() {
        match args[i] {
            "-q" => run.push(args[i]),
            "-f" | "-B" => {
                run.extend_from_slice(&args[i..(i + 2).min(args.len())]);
                i += 1;
            }
            "-c" | "-p" | "-o" | "-k" | "-d" | "--dry-run" | "--unsafe" => return,
            "-e" => {
                build.extend_from_slice(&args[i..(i + 2).min(args.len())]);
                seen_prog = true;
                i += 1;
            }
            "--" => {
                params.extend_from_slice(&args[i..]);
                break;
            }
            a if seen_prog => params.push(a),
            a => build.push(a),
        }
        i += 1;
    }
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = format!(
        "{}/via-artifact-{}-{n}.spy",
        env!("CARGO_TARGET_TMPDIR"),
        std::process::id()
    );
    build.extend_from_slice(&["-o", &file]);
    build.extend_from_slice(&params);
    let built = spyglass(&build);
    assert_eq!(built.code, 0, "building {prog:?}: {}", built.stderr);
    let ran = Command::new(spyglass_run())
        .args(&run)
        .arg(&file)
        .args(&params)
        .output();
    let ran = Out::of(ran.expect("run spyglass-run"));
    let _ = std::fs::remove_file(&file);
    assert_eq!(
        (ran.code, &ran.stdout),
        (direct.code, &direct.stdout),
        "{prog:?} through an artifact\n{}",
        ran.stderr
    );
    // Compile-time warnings were printed by the build.
    assert!(
        direct.stderr.ends_with(&ran.stderr),
        "{prog:?} through an artifact: {}",
        ran.stderr
    );
}

/// `tests/runtime/workload.c`, compiled once with the system C compiler: calls getpid()
/// exactly N times (argv[1]), then getppid() once.
pub fn workload() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        let out = format!("{}/spyglass-workload", env!("CARGO_TARGET_TMPDIR"));
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/runtime/workload.c");
        let st = Command::new("cc")
            .args(["-O2", "-o", &out, src])
            .status()
            .expect("cc");
        assert!(st.success(), "compiling the workload failed");
        out
    })
}

/// Ids of the BPF objects of one kind (`prog_id`, `link_id`) a process holds open, from its
/// fdinfo.
pub fn bpf_ids_of(pid: u32, kind: &str) -> Vec<String> {
    let mut ids = vec![];
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return ids;
    };
    for e in dir.flatten() {
        let info = std::fs::read_to_string(e.path()).unwrap_or_default();
        let is_link = info.lines().any(|l| l.starts_with("link_type:"));
        if (kind == "link_id") != is_link {
            continue;
        }
        ids.extend(
            info.lines()
                .filter_map(|l| l.strip_prefix(kind).and_then(|v| v.strip_prefix(':')))
                .map(|v| v.trim().to_string()),
        );
    }
    ids.sort();
    ids.dedup();
    ids
}

/// Ids of the BPF programs a process holds open.
pub fn prog_ids_of(pid: u32) -> Vec<String> {
    bpf_ids_of(pid, "prog_id")
}

/// Whether `bpftool` still finds the program (`prog`) or link (`link`) with this id.
pub fn bpf_object_exists(kind: &str, id: &str) -> bool {
    Command::new("bpftool")
        .args([kind, "show", "id", id])
        .output()
        .unwrap()
        .status
        .success()
}

pub fn prog_loaded(id: &str) -> bool {
    bpf_object_exists("prog", id)
}
