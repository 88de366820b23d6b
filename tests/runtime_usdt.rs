//! USDT probes on a C program the suite builds itself (`tests/runtime/usdt.c`, with
//! `<sys/sdt.h>`): arguments in registers (-O2) and in memory (-O0), constants, semaphores,
//! wildcards and listing. Real kernel, exact output.

mod common;
use common::*;

use std::process::Command;
use std::sync::OnceLock;

/// `tests/runtime/usdt.c` compiled with `opt` (`-O0`, `-O2`), once per level.
fn usdt_bin(opt: &'static str) -> String {
    static BINS: OnceLock<std::sync::Mutex<Vec<(&str, String)>>> = OnceLock::new();
    let bins = BINS.get_or_init(Default::default);
    let mut bins = bins.lock().unwrap();
    if let Some((_, p)) = bins.iter().find(|(o, _)| *o == opt) {
        return p.clone();
    }
    let out = format!("{}/spyglass-usdt{opt}", env!("CARGO_TARGET_TMPDIR"));
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/runtime/usdt.c");
    let st = Command::new("cc")
        .args([opt, "-o", &out, src])
        .status()
        .expect("cc");
    assert!(
        st.success(),
        "compiling the USDT program failed (is systemtap-sdt-dev installed?)"
    );
    bins.push((opt, out.clone()));
    out
}

fn trace(bin: &str, runs: u32, prog: &str) -> String {
    let o = spyglass(&["-q", "-c", &format!("{bin} {runs}"), "-e", prog]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    o.stdout
}

const EXPECTED: &str = "0 spyglass -1000 42 usdt:BIN:myapp:tick\ng 0\n\
                        1 spyglass -1001 42 usdt:BIN:myapp:tick\ng 10\n\n\n";

#[test]
fn arguments_in_registers_and_constants() {
    let bin = usdt_bin("-O2");
    let prog = format!(
        r#"usdt:{bin}:myapp:tick {{ printf("%d %s %d %d %s\n", arg0, str(arg1), arg2, arg3, probe); }}
           usdt:{bin}:myapp:guarded {{ printf("g %d\n", arg0); }}"#
    );
    assert_eq!(trace(&bin, 2, &prog), EXPECTED.replace("BIN", &bin));
}

#[test]
fn arguments_in_memory_without_optimisation() {
    let bin = usdt_bin("-O0");
    // At -O0 the compiler passes locals as `-4@-4(%rbp)`: user memory off the frame.
    let prog = format!(
        r#"usdt:{bin}:tick {{ printf("%d %s %d %d %s\n", arg0, str(arg1), arg2, arg3, probe); }}
           U:{bin}:*:guarded {{ printf("g %d\n", arg0); }}"#
    );
    assert_eq!(trace(&bin, 2, &prog), EXPECTED.replace("BIN", &bin));
}

#[test]
fn semaphores_are_set_only_while_attached() {
    let bin = usdt_bin("-O2");
    // Traced: the program sees its semaphore set and fires `guarded` each time.
    let out = trace(
        &bin,
        3,
        &format!("usdt:{bin}:myapp:guarded {{ @ = count(); }}"),
    );
    assert_eq!(out, "\n\n@: 3\n");
    // Untraced, the same program leaves its guarded probe alone (it still runs cleanly).
    assert!(Command::new(&bin).arg("3").status().unwrap().success());
}

#[test]
fn listing_a_binarys_probes() {
    let bin = usdt_bin("-O2");
    let o = spyglass(&["-l", &format!("usdt:{bin}")]);
    assert_eq!(
        o.stdout,
        format!("usdt:{bin}:myapp:guarded\nusdt:{bin}:myapp:tick\n"),
        "{}",
        o.stderr
    );
    let o = spyglass(&["-l", &format!("U:{bin}:*:ti*")]);
    assert_eq!(o.stdout, format!("usdt:{bin}:myapp:tick\n"));
}

#[test]
fn missing_probes_and_arguments_are_located_errors() {
    let bin = usdt_bin("-O2");
    let o = run_e(&format!("usdt:{bin}:myapp:nope {{ }}"));
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("no USDT probe `myapp:nope`"),
        "{}",
        o.stderr
    );
    let o = run_e(&format!("usdt:{bin}:myapp:guarded {{ print(arg1); }}"));
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("it has 1 argument"), "{}", o.stderr);
}

/// `tests/runtime/usdt_global.c`, a PIE.
fn global_bin() -> &'static str {
    static BIN: OnceLock<String> = OnceLock::new();
    BIN.get_or_init(|| {
        let out = format!("{}/spyglass-usdt-global", env!("CARGO_TARGET_TMPDIR"));
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/runtime/usdt_global.c");
        let st = Command::new("cc")
            .args(["-O2", "-fPIE", "-pie", "-o", &out, src])
            .status()
            .expect("cc");
        assert!(st.success());
        out
    })
}

/// Global variables as arguments are `%rip`-relative operands (`-8@counter(%rip)`,
/// `-4@8+table(%rip)`): read at the variable's run-time address in a PIE.
#[test]
fn rip_relative_arguments_read_global_variables() {
    let out = global_bin();
    let notes = Command::new("readelf").args(["-n", out]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&notes.stdout).contains("(%rip)"),
        "the compiler no longer emits %rip-relative USDT operands: this test checks nothing"
    );
    let o = trace(
        out,
        3,
        &format!(r#"usdt:{out}:globals:tick {{ printf("%d %d\n", arg0, arg1); }}"#),
    );
    assert_eq!(o, "1000 9\n1001 9\n1003 9\n\n\n");
}

/// With `-p`, the binary may be left out or be `*`: the process's own binaries and
/// libraries. Without `-p`, `usdt:*:…` searches every process on the host.
#[test]
fn process_binaries_stand_in_for_an_omitted_or_star_binary() {
    let bin = global_bin();
    let mut child = Command::new(bin).arg("100000").spawn().expect("start");
    let pid = child.id().to_string();
    let once = |args: &[&str]| {
        let mut all = vec!["-q"];
        all.extend_from_slice(args);
        let o = spyglass(&all);
        assert_eq!(o.code, 0, "{args:?}: {}", o.stderr);
        o.stdout
    };
    let prog = r#"usdt:tick { printf("%d\n", arg1); exit(); }"#;
    assert_eq!(once(&["-p", &pid, "-e", prog]), "9\n\n\n");
    let prog = r#"usdt:*:globals:tick { printf("%d\n", arg1); exit(); }"#;
    assert_eq!(once(&["-p", &pid, "-e", prog]), "9\n\n\n");
    assert_eq!(once(&["-e", prog]), "9\n\n\n");
    // uprobes too: usleep is in the process's libc.
    let prog = r#"uprobe:usleep { printf("%s\n", func); exit(); }"#;
    assert_eq!(once(&["-p", &pid, "-e", prog]), "usleep\n\n\n");
    let prog = r#"uprobe:*:usleep { printf("%s\n", func); exit(); }"#;
    assert_eq!(once(&["-p", &pid, "-e", prog]), "usleep\n\n\n");
    child.kill().unwrap();
    child.wait().unwrap();
    // Without a process, a binary is required.
    let o = run_e("usdt:tick { }");
    assert_eq!(o.code, 1);
}
