//! Shared by the runtime test files: run the built binary as a user would.
#![allow(dead_code)]

use std::process::Command;
use std::sync::OnceLock;

pub const BIN: &str = env!("CARGO_BIN_EXE_spyglass");

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

pub fn run_e(prog: &str) -> Out {
    spyglass(&["-e", prog])
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
