//! kprobe and kretprobe on a kernel built without CONFIG_KPROBES: the programs are checked
//! up to the verifier (`--dry-run` loads them), and attaching says why it cannot.
mod common;

use common::*;

#[test]
fn kprobe_programs_pass_the_verifier() {
    for prog in [
        "kprobe:vfs_read { @bytes[comm] = hist(arg2); @[func] = count(); }",
        "kretprobe:vfs_read /retval > 0/ { @ret = stats(retval); }",
        "k:vfs_rea* { @[func, probe] = count(); }",
        "kprobe:vfs_read+0 { printf(\"%d %s\\n\", arg0, comm); }",
    ] {
        let o = spyglass(&["--dry-run", "-e", prog]);
        assert_eq!((o.code, o.stderr.as_str()), (0, ""), "{prog}");
    }
}

#[test]
fn kprobe_attach_up_to_the_verifier_then_a_diagnostic() {
    let o = run_e("kprobe:vfs_read { @ = count(); }");
    assert_eq!(o.code, 1, "{}", o.stdout);
    assert!(
        o.stderr
            .starts_with("error: this kernel cannot attach kprobes (built without CONFIG_KPROBES"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("while attaching this probe"),
        "{}",
        o.stderr
    );
}

#[test]
fn kprobe_listing_and_wildcards_come_from_kallsyms() {
    let o = spyglass(&["-l", "kprobe:vfs_read*"]);
    assert!(
        o.stdout.lines().any(|l| l == "kprobe:vfs_read"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout.lines().all(|l| l.starts_with("kprobe:vfs_read")),
        "{}",
        o.stdout
    );
    let o = spyglass(&["-l", "kretprobe:vfs_read"]);
    assert_eq!(o.stdout, "kretprobe:vfs_read\n");
    // `-l` on a program lists its expanded attach points.
    let o = spyglass(&["-l", "-e", "kprobe:vfs_readv,kretprobe:vfs_read { }"]);
    assert_eq!(
        o.stdout, "kprobe:vfs_readv\nkretprobe:vfs_read\n",
        "{}",
        o.stderr
    );
}

/// `--traceable-functions FILE` replaces the kernel's list of traceable functions, for
/// kprobe and fentry alike (wildcards, plain names and listings).
#[test]
fn traceable_functions_file_replaces_the_kernel_list() {
    let f = format!("{}/spyglass-traceable", env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(&f, "vfs_read\nvfs_write\nfoo_bar [mymod]\n").unwrap();
    let o = spyglass(&["--traceable-functions", &f, "-l", "kprobe:*"]);
    assert_eq!(
        o.stdout,
        "kprobe:mymod:foo_bar\nkprobe:vfs_read\nkprobe:vfs_write\n"
    );
    let o = spyglass(&["--traceable-functions", &f, "-l", "fentry:vfs_*"]);
    assert_eq!(
        o.stdout,
        "fentry:vmlinux:vfs_read\nfentry:vmlinux:vfs_write\n"
    );
    let o = spyglass(&[
        "--traceable-functions",
        &f,
        "--dry-run",
        "-e",
        "kprobe:vfs_open { }",
    ]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("`vfs_open` is not in the --traceable-functions list"),
        "{}",
        o.stderr
    );
    let o = spyglass(&["--traceable-functions", "/nonexistent", "-l"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("cannot read traceable functions from /nonexistent"),
        "{}",
        o.stderr
    );
}
