//! The compiled-program cache (`$XDG_CACHE_HOME/spyglass`): a second run of the same
//! script loads the stored program (`-v` says so) and behaves the same; a changed script,
//! a different spyglass, a corrupt entry or a changed probed binary are compiled afresh;
//! a cache that cannot be written never stops a run; another PID namespace compiles afresh.

mod common;
use common::*;

use std::path::{Path, PathBuf};

const HIT: &str = "compiled program from the cache";

fn cache_dir(name: &str) -> PathBuf {
    let d = PathBuf::from(format!("{}/cache-{name}", env!("CARGO_TARGET_TMPDIR")));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn run_in(dir: &Path, args: &[&str]) -> Out {
    let mut all = vec!["-v"];
    all.extend_from_slice(args);
    spyglass_env(&all, &[("XDG_CACHE_HOME", dir.to_str().unwrap())])
}

/// The compiled programs kept: not the kernel facts beside them.
fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir.join("spyglass"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "bpfc"))
                .collect()
        })
        .unwrap_or_default()
}

const PROG: &str = r#"begin { @[1, "one"] = count(); printf("hello %d\n", 42); $i = 0; while ($i < 1) { $i++; } exit(); }"#;

#[test]
fn a_second_run_uses_the_cache_and_prints_the_same() {
    let dir = cache_dir("hit");
    let first = run_in(&dir, &["-e", PROG]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(!first.stderr.contains(HIT));
    assert_eq!(entries(&dir).len(), 1);
    let second = run_in(&dir, &["-e", PROG]);
    assert!(second.stderr.contains(HIT), "{}", second.stderr);
    assert_eq!(second.stdout, first.stdout);
    // Compile-time warnings are shown again.
    assert!(first.stderr.contains("`while` loops are deprecated"));
    assert!(second.stderr.contains("`while` loops are deprecated"));
    // --no-cache compiles.
    let third = run_in(&dir, &["--no-cache", "-e", PROG]);
    assert!(!third.stderr.contains(HIT));
    assert_eq!(third.stdout, first.stdout);
}

#[test]
fn a_changed_script_or_arguments_miss() {
    let dir = cache_dir("miss");
    run_in(&dir, &["-e", PROG]);
    let other = PROG.replace("42", "43");
    let o = run_in(&dir, &["-e", &other]);
    assert!(!o.stderr.contains(HIT));
    assert!(o.stdout.contains("hello 43"), "{}", o.stdout);
    let o = run_in(
        &dir,
        &["-e", "begin { printf(\"%s\\n\", str($1)); exit(); }", "a"],
    );
    assert_eq!(o.stdout, "a\n\n\n");
    let o = run_in(
        &dir,
        &["-e", "begin { printf(\"%s\\n\", str($1)); exit(); }", "b"],
    );
    assert!(!o.stderr.contains(HIT));
    assert_eq!(o.stdout, "b\n\n\n");
}

/// Every part of an entry is checked: one written by another spyglass (its key names the
/// binary), or damaged in any way, is ignored and replaced.
#[test]
fn other_versions_and_corrupt_entries_are_never_trusted() {
    let dir = cache_dir("corrupt");
    let first = run_in(&dir, &["-e", PROG]);
    let entry = entries(&dir).pop().expect("an entry");
    let original = std::fs::read(&entry).unwrap();
    let text = String::from_utf8_lossy(&original).into_owned();
    // Another spyglass version.
    let other = text.replacen("spyglass 0.", "spyglass 9.", 1);
    std::fs::write(&entry, other.as_bytes()).unwrap();
    let o = run_in(&dir, &["-e", PROG]);
    assert!(!o.stderr.contains(HIT), "{}", o.stderr);
    assert_eq!(o.stdout, first.stdout);
    assert_eq!(std::fs::read(&entry).unwrap(), original, "rewritten");
    // Garbage, a truncated object, a flipped byte in the object.
    let nl = original.iter().position(|&b| b == b'\n').unwrap();
    let mut flipped = original.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0xff;
    for bad in [
        b"not a cache entry".to_vec(),
        original[..original.len() - 10].to_vec(),
        original[..nl].to_vec(),
        flipped,
    ] {
        std::fs::write(&entry, &bad).unwrap();
        let o = run_in(&dir, &["-e", PROG]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert!(!o.stderr.contains(HIT), "{}", o.stderr);
        assert_eq!(o.stdout, first.stdout);
        assert_eq!(std::fs::read(&entry).unwrap(), original, "rewritten");
    }
}

/// A cache directory that cannot be created (its parent is a file) only costs the time.
#[test]
fn an_unwritable_cache_directory_does_not_stop_a_run() {
    let file = PathBuf::from(format!("{}/cache-not-a-dir", env!("CARGO_TARGET_TMPDIR")));
    std::fs::write(&file, b"x").unwrap();
    for _ in 0..2 {
        let o = run_in(&file, &["-e", PROG]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert!(!o.stderr.contains(HIT));
        assert!(o.stdout.contains("hello 42"));
    }
}

/// A probed binary that changed since the entry was written (rebuilt at the same path)
/// makes the entry stale: its functions may have moved.
#[test]
fn a_rebuilt_probed_binary_misses() {
    let dir = cache_dir("uprobe");
    let bin = format!("{}/cache-probed", env!("CARGO_TARGET_TMPDIR"));
    std::fs::copy(workload(), &bin).unwrap();
    let prog = format!("uprobe:{bin}:main {{ @ = count(); }}");
    let cmd = format!("{bin} 1");
    let o = run_in(&dir, &["-q", "-c", &cmd, "-e", &prog]);
    assert_eq!(o.stdout, "\n\n@: 1\n", "{}", o.stderr);
    let o = run_in(&dir, &["-q", "-c", &cmd, "-e", &prog]);
    assert!(o.stderr.contains(HIT), "{}", o.stderr);
    assert_eq!(o.stdout, "\n\n@: 1\n");
    // Same contents, new modification time: treated as changed.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::copy(workload(), &bin).unwrap();
    let o = run_in(&dir, &["-q", "-c", &cmd, "-e", &prog]);
    assert!(!o.stderr.contains(HIT), "{}", o.stderr);
    assert_eq!(o.stdout, "\n\n@: 1\n");
}

/// Programs are compiled for the PID namespace spyglass runs in (`sema::Host`): a program
/// cached outside must not serve a run in another namespace, where `pid` is numbered anew.
#[test]
fn another_pid_namespace_misses() {
    let dir = cache_dir("pidns");
    let prog = r#"begin { printf("%d\n", pid); exit(); }"#;
    let outside = run_in(&dir, &["-e", prog]);
    assert_eq!(outside.code, 0, "{}", outside.stderr);
    assert_ne!(outside.stdout.lines().next(), Some("1"));
    // `unshare -pf` runs spyglass as process 1 of a new PID namespace.
    let mut cmd = std::process::Command::new("unshare");
    cmd.args(["-pf", BIN, "-v", "-e", prog])
        .env("XDG_CACHE_HOME", dir.to_str().unwrap());
    let inside = Out::of(cmd.output().expect("run unshare"));
    assert_eq!(inside.code, 0, "{}", inside.stderr);
    assert!(!inside.stderr.contains(HIT), "{}", inside.stderr);
    assert_eq!(inside.stdout.lines().next(), Some("1"), "{}", inside.stderr);
}

#[test]
fn a_full_cache_keeps_its_newest_entries() {
    let dir = cache_dir("full");
    let store = dir.join("spyglass");
    std::fs::create_dir_all(&store).unwrap();
    // 300 old entries (more than the 256 the cache may hold), the first the oldest.
    let day = std::time::Duration::from_secs(86_400);
    for i in 0..300u64 {
        let f = std::fs::File::create(store.join(format!("old{i:03}.bpfc"))).unwrap();
        f.set_modified(std::time::SystemTime::now() - day * 400 + day * i as u32)
            .unwrap();
    }
    let first = run_in(&dir, &["-e", PROG]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    // Pruned to three quarters, newest first: the new entry and the 191 youngest old ones.
    let mut left: Vec<String> = entries(&dir)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    left.sort();
    let (old, new): (Vec<_>, Vec<_>) = left.iter().partition(|n| n.starts_with("old"));
    assert_eq!(new.len(), 1, "{left:?}");
    assert_eq!(old.len(), 191);
    assert_eq!(old[0], "old109.bpfc");
    // Room is left: the next entries are added without pruning, and used.
    let other = PROG.replace("42", "44");
    run_in(&dir, &["-e", &other]);
    assert_eq!(entries(&dir).len(), 193);
    assert!(run_in(&dir, &["-e", PROG]).stderr.contains(HIT));
}

/// A cached start reads its small files (`/proc`, `/sys`, the kernel facts) with plain
/// reads: std's `read_to_string` first asks each one's size with `statx` and `lseek`,
/// system calls that answer nothing for such files and cost a trap each on a VM.
#[test]
fn a_cached_start_reads_small_files_without_asking_their_size() {
    let dir = cache_dir("syscalls");
    let prog = "begin { exit(); }";
    assert_eq!(run_in(&dir, &["-e", prog]).code, 0);
    let log = dir.join("strace.log");
    let out = std::process::Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=lseek", "-o"])
        .arg(&log)
        .args([BIN, "-v", "-e", prog])
        .env("XDG_CACHE_HOME", &dir)
        .output()
        .expect("strace (scripts/setup.sh installs it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.contains(HIT), "{stderr}");
    let calls = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        calls.lines().filter(|l| l.contains("lseek(")).count(),
        0,
        "{calls}"
    );
}
