//! Runtime tests for the perf-event and raw-tracepoint probe types (software, hardware,
//! rawtracepoint) and `argN`: the built binary on the real kernel, as root.

use std::process::Command;
use std::sync::OnceLock;

mod common;
use common::*;

const FAULT_PAGES: usize = 600;

/// A child that touches FAULT_PAGES fresh anonymous pages: at least one page fault each.
fn faulter() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = env!("CARGO_TARGET_TMPDIR");
        let src = format!("{dir}/spyglass-faulter.c");
        let out = format!("{dir}/spyglass-faulter");
        std::fs::write(
            &src,
            format!(
                "#include <sys/mman.h>\n\
                 int main(void) {{\n\
                   unsigned long len = {FAULT_PAGES}UL * 4096;\n\
                   char *m = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);\n\
                   if (m == MAP_FAILED) return 1;\n\
                   madvise(m, len, MADV_NOHUGEPAGE); /* one huge page would be one fault */\n\
                   for (unsigned long i = 0; i < len; i += 4096) ((volatile char *)m)[i] = 1;\n\
                   return 0;\n\
                 }}\n"
            ),
        )
        .unwrap();
        let st = Command::new("cc").args(["-O2", "-o", &out, &src]).status().expect("cc");
        assert!(st.success(), "compiling the faulting child failed");
        out
    })
}

/// The value of the single `@[KEY]: N` line of a run.
fn only_count(stdout: &str, key: &str) -> u64 {
    let prefix = format!("@[{key}]: ");
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one map line, got {stdout:?}");
    lines[0]
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("unexpected line {:?}", lines[0]))
        .parse()
        .unwrap()
}

#[test]
fn software_page_faults_count_every_fault_of_the_child() {
    let o = spyglass(&[
        "-q",
        "-c",
        faulter(),
        "-e",
        "software:page-faults:1 /pid == cpid/ { @[probe] = count(); }",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let every = only_count(&o.stdout, "software:page-faults:1");
    assert!(
        every >= FAULT_PAGES as u64,
        "{every} faults for {FAULT_PAGES} touched pages"
    );

    // `faults` is the alias, and without a count bpftrace samples every 100th fault.
    let o = spyglass(&[
        "-q",
        "-c",
        faulter(),
        "-e",
        "s:faults /pid == cpid/ { @[probe] = count(); }",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let sampled = only_count(&o.stdout, "software:faults");
    assert!(
        sampled >= 1 && sampled * 20 < every,
        "{sampled} samples at the default period vs {every} faults"
    );
}

/// With `-p`, sampling events follow the target's threads instead of every CPU, so no
/// sample comes from another process.
#[test]
fn profile_with_a_target_pid_samples_only_that_process() {
    let mut busy = Command::new("sh")
        .args(["-c", "while :; do :; done"])
        .spawn()
        .unwrap();
    let pid = busy.id().to_string();
    let prog =
        format!("profile:hz:999 {{ @[pid == {pid}] = count(); }} interval:ms:400 {{ exit(); }}");
    let o = spyglass(&["-q", "-p", &pid, "-e", &prog]);
    busy.kill().unwrap();
    busy.wait().unwrap();
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(only_count(&o.stdout, "true") > 0, "{}", o.stdout);
}

#[test]
fn software_probe_names_keep_the_event_as_written() {
    let o = spyglass(&[
        "-q",
        "-e",
        r#"software:cpu-clock:100000 { printf("%s\n", probe); exit(); }"#,
    ]);
    assert_eq!(o.stdout, "software:cpu-clock:100000\n\n\n", "{}", o.stderr);
    let o = spyglass(&[
        "-q",
        "-e",
        r#"software:cpu:1e6 { printf("%s\n", probe); exit(); }"#,
    ]);
    assert_eq!(o.stdout, "software:cpu:1000000\n\n\n", "{}", o.stderr);
    let o = run_e(r#"s:cs { printf("%s\n", probe); exit(); }"#);
    assert_eq!(
        (o.stdout.as_str(), o.stderr.as_str()),
        ("software:cs\n\n\n", "Attached 1 probe\n")
    );
}

#[test]
fn hardware_attaches_or_says_there_is_no_pmu() {
    let prog = "hardware:cpu-cycles:100000 { @ = 1; exit(); }";
    let o = spyglass(&["-q", "-e", prog]);
    // The CPU's PMU is the event source of type PERF_TYPE_RAW (4).
    let has_pmu = std::fs::read_dir("/sys/bus/event_source/devices")
        .unwrap()
        .flatten()
        .any(|e| std::fs::read_to_string(e.path().join("type")).is_ok_and(|t| t.trim() == "4"));
    if has_pmu {
        assert_eq!(
            (o.code, o.stdout.as_str()),
            (0, "\n\n@: 1\n"),
            "{}",
            o.stderr
        );
    } else {
        assert_eq!(o.code, 1);
        assert_eq!(o.stdout, "");
        assert_eq!(
            o.stderr,
            "error: cannot attach hardware:cpu-cycles:100000: this machine exposes no hardware performance \
             counters (no CPU PMU, as is common in virtual machines; perf_event_open: No such file or \
             directory (os error 2))\n  ┌─ stdin:1:1\n  │\n1 │ hardware:cpu-cycles:100000 { @ = 1; exit(); }\n  \
             │ ^^^^^^^^^^^^^^^^^^^^^^^^^^ while attaching this probe\n\n"
        );
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn rawtracepoint_sys_enter_arg1_is_the_syscall_number() {
    // On x86-64 sys_enter's arguments are (struct pt_regs *regs, long id); 39 is getpid.
    let cmd = format!("{} 1000", workload());
    let o = spyglass(&[
        "-c",
        &cmd,
        "-e",
        "rawtracepoint:sys_enter /pid == cpid && arg1 == 39/ { @[probe] = count(); }",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "\n\n@[rawtracepoint:vmlinux:sys_enter]: 1000\n");
    assert_eq!(o.stderr, "Attached 1 probe\n");
}

#[test]
fn rawtracepoint_wildcards_expand_to_each_event() {
    let o = spyglass(&["-l", "rawtracepoint:sys_e*"]);
    assert_eq!(
        o.stdout, "rawtracepoint:vmlinux:sys_enter\nrawtracepoint:vmlinux:sys_exit\n",
        "{}",
        o.stderr
    );
    let cmd = format!("{} 1", workload());
    let o = spyglass(&[
        "-c",
        &cmd,
        "-e",
        "rt:vmlinux:sys_e* /pid == cpid/ { @[probe] = 1; }",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "\n\n@[rawtracepoint:vmlinux:sys_enter]: 1\n@[rawtracepoint:vmlinux:sys_exit]: 1\n"
    );
    assert_eq!(o.stderr, "Attached 2 probes\n");
}

#[test]
fn rawtracepoint_reads_a_kernel_argument() {
    // sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm).
    let cmd = format!("{} 1", workload());
    let o = spyglass(&[
        "-q",
        "-c",
        &cmd,
        "-e",
        "rt:sched_process_exec /pid == cpid/ { @[arg1 - cpid] = count(); }",
    ]);
    assert_eq!(o.stdout, "\n\n@[0]: 1\n", "{}", o.stderr);
}

#[test]
fn listing_perf_events_uses_bpftrace_names() {
    let o = spyglass(&["-l", "s:*fault*"]);
    assert_eq!(
        o.stdout,
        "software:alignment-faults:\nsoftware:emulation-faults:\nsoftware:faults:\nsoftware:major-faults:\n\
         software:minor-faults:\nsoftware:page-faults:\n"
    );
    let o = spyglass(&["-l", "*ware:*cycles*"]);
    assert_eq!(
        o.stdout,
        "hardware:bus-cycles:\nhardware:cpu-cycles:\nhardware:cycles:\nhardware:ref-cycles:\n"
    );
    let o = spyglass(&["-l", "interval:*"]);
    assert_eq!(
        o.stdout,
        "interval:hz:\ninterval:ms:\ninterval:s:\ninterval:us:\n"
    );
    // Timers are listed only when asked for by name, like bpftrace.
    assert!(!spyglass(&["-l"]).stdout.contains("interval:"));
}

/// A perf link owns its perf event's descriptor and closes it at detach. Closing it
/// right after attaching too left the link to close whatever later reused the number
/// (a ring buffer, a file being symbolized) when it detached. Every event stays open
/// while the run goes on: one `interval`, one `profile` per online CPU, one tracepoint.
#[test]
fn perf_events_stay_open_while_their_probes_are_attached() {
    let (mut child, mut stdout) = spawn_attached(
        &[
            "-e",
            "interval:ms:100 { @i = count(); } profile:hz:49 { @p = count(); }
             tracepoint:syscalls:sys_enter_getpid { @g = count(); }",
        ],
        std::process::Stdio::null(),
    );
    let perf_fds = std::fs::read_dir(format!("/proc/{}/fd", child.id()))
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read_link(e.path())
                .is_ok_and(|t| t.to_string_lossy() == "anon_inode:[perf_event]")
        })
        .count();
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    let cpus: usize = online
        .trim()
        .split(',')
        .map(|r| match r.split_once('-') {
            Some((a, b)) => b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1,
            None => 1,
        })
        .sum();
    assert_eq!(perf_fds, 1 + cpus + 1);
}
