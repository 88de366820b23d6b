//! Privileges, destructive functions and the output file: each refusal is one diagnostic,
//! exit code 1, before anything is loaded or attached.

mod common;

use std::process::Command;

use common::*;

const PROG: &str = r#"begin { printf("began\n"); exit(); }"#;

/// Runs spyglass through `setpriv` with the given options.
fn setpriv(opts: &[&str]) -> Out {
    Out::of(
        Command::new("setpriv")
            .args(opts)
            .args([BIN, "-e", PROG])
            .output()
            .unwrap(),
    )
}

fn refused(o: &Out, want: &str) {
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert_eq!(o.stdout, "");
    assert_eq!(o.stderr, want);
}

#[test]
fn not_root_names_the_missing_capabilities() {
    let o = setpriv(&["--reuid=65534", "--regid=65534", "--clear-groups"]);
    refused(
        &o,
        "error: spyglass needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) to load and attach BPF \
         programs: this process is not root and lacks CAP_BPF and CAP_PERFMON\n \
         = run it with sudo, or grant the capabilities\n\n",
    );
}

/// Root whose bounding set was cut (a container, `capsh --drop`) is not enough.
#[test]
fn root_without_the_capabilities_names_each_missing_one() {
    let o = setpriv(&["--bounding-set=-bpf,-perfmon,-sys_admin"]);
    refused(
        &o,
        "error: spyglass needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) to load and attach BPF \
         programs: this root process lacks CAP_BPF and CAP_PERFMON\n \
         = run it with sudo, or grant the capabilities\n\n",
    );
    let o = setpriv(&["--bounding-set=-perfmon,-sys_admin"]);
    assert!(
        o.stderr.contains("this root process lacks CAP_PERFMON\n"),
        "{}",
        o.stderr
    );
    // CAP_SYS_ADMIN alone covers both.
    let o = setpriv(&["--bounding-set=-bpf,-perfmon"]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "began\n\n\n"),
        "{}",
        o.stderr
    );
}

/// Every destructive function refuses to compile without `--unsafe`, at the call.
#[test]
fn destructive_functions_need_unsafe() {
    let o = spyglass(&[
        "--mode",
        "codegen",
        "-e",
        r#"begin { if (1) { system("true"); } }"#,
    ]);
    refused(
        &o,
        "error: system() is unsafe. To use you need the --unsafe flag\n  \
         ┌─ stdin:1:18\n  │\n1 │ begin { if (1) { system(\"true\"); } }\n  \
         │                  ^^^^^^^^^^^^^^\n  │\n  \
         = it runs a shell command for every call\n\n",
    );
    let o = spyglass(&[
        "--unsafe",
        "--mode",
        "codegen",
        "-e",
        r#"begin { system("true"); }"#,
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
}

/// An output file that cannot be written is reported, naming it, before the script is
/// compiled or anything attached (`begin` never ran: nothing was printed).
#[test]
fn an_unwritable_output_file_is_named() {
    let dir = env!("CARGO_TARGET_TMPDIR");
    for (path, why) in [
        (dir.to_string(), "Is a directory"),
        (
            format!("{dir}/no/such/dir/out"),
            "No such file or directory",
        ),
        // Read-only even for root: the kernel has no write operation for it.
        ("/sys/kernel/btf/vmlinux".to_string(), "Permission denied"),
    ] {
        let o = spyglass(&["-o", &path, "-e", PROG]);
        refused(
            &o,
            &format!("error: cannot write the output file {path}: {why}\n\n"),
        );
    }
}
