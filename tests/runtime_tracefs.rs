//! tracefs missing: spyglass mounts it, and says clearly when it cannot.
//!
//! Each case runs spyglass in a private mount namespace (`unshare -m`) with an empty tmpfs
//! over /sys/kernel/tracing and /sys/kernel/debug, so the host's tracefs is out of sight
//! and the host's mounts are untouched.
mod common;

use common::{workload, Out, BIN};
use std::process::Command;

/// Runs `spyglass ARGS` where no tracefs is visible; `prefix` goes before the binary
/// (e.g. a `setpriv` that drops CAP_SYS_ADMIN).
fn without_tracefs(prefix: &str, args: &[&str]) -> Out {
    let quoted: Vec<String> = args
        .iter()
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    let script = format!(
        "mount -t tmpfs none /sys/kernel/tracing && \
         {{ [ ! -d /sys/kernel/debug ] || mount -t tmpfs none /sys/kernel/debug; }} && \
         [ ! -e /sys/kernel/tracing/events ] && exec {prefix} {BIN} {}",
        quoted.join(" ")
    );
    let o = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .expect("run unshare");
    Out::of(o)
}

#[test]
fn tracefs_missing_is_mounted() {
    let prog = "tracepoint:syscalls:sys_enter_getpid /pid == cpid/ { @ = count(); }";
    let cmd = format!("{} 3", workload());
    let o = without_tracefs("", &["-q", "-c", &cmd, "-e", prog]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "\n\n@: 3\n"),
        "{}",
        o.stderr
    );
}

#[test]
fn tracefs_mount_refused_is_a_diagnostic_at_the_probe() {
    let o = without_tracefs(
        "setpriv --inh-caps=-sys_admin --bounding-set=-sys_admin",
        &[
            "-e",
            "tracepoint:syscalls:sys_enter_getpid { @ = count(); }",
        ],
    );
    assert_eq!(o.code, 1);
    insta::assert_snapshot!(o.stderr);
}
