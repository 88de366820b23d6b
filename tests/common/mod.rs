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
    let o = Command::new(BIN).args(args).output().expect("run spyglass");
    Out {
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        code: o.status.code().unwrap_or(-1),
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
