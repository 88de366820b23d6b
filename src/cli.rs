//! Small command-line services: `--info`, settings from the environment.

use spyglass::sema;

/// bpftrace's config variables that may come from the environment (`BPFTRACE_*`).
pub fn sema_options_from_env() -> sema::Options {
    let mut o = sema::Options::default();
    let num = |names: &[&str]| names.iter().find_map(|n| std::env::var(n).ok()?.trim().parse::<u32>().ok());
    if let Some(n) = num(&["BPFTRACE_MAX_MAP_KEYS", "BPFTRACE_MAP_KEYS_MAX"]) {
        o.max_map_keys = n.max(1);
    }
    // Strings live on the 512-byte BPF stack, so they stay small.
    if let Some(n) = num(&["BPFTRACE_MAX_STRLEN", "BPFTRACE_STRLEN"]) {
        o.strlen = n.clamp(8, 200);
    }
    o
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// What this kernel and build support, in bpftrace's `--info` shape.
pub fn info() -> String {
    let uname = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let btf = std::path::Path::new("/sys/kernel/btf/vmlinux").exists();
    let tracefs = spyglass::probes::tracefs::root().is_ok();
    let mut s = String::new();
    s.push_str("System\n");
    s.push_str(&format!("  OS: Linux {}\n", uname.trim()));
    s.push_str(&format!("  Arch: {}\n\n", std::env::consts::ARCH));
    s.push_str("Build\n");
    s.push_str(&format!("  version: v{}\n", env!("CARGO_PKG_VERSION")));
    s.push_str("  LLVM: 19\n  libbpf: 1.x (vendored)\n  blazesym: no\n  dwarf: no\n\n");
    s.push_str("Kernel features\n");
    s.push_str(&format!("  btf: {}\n", yes(btf)));
    s.push_str("  ringbuf: yes\n");
    s.push_str(&format!("  tracefs: {}\n", yes(tracefs)));
    s.push_str("\nProbe types\n");
    for (name, ok) in [
        ("begin", true),
        ("end", true),
        ("tracepoint", tracefs),
        ("interval", true),
        ("profile", true),
        ("kprobe", false),
        ("kretprobe", false),
        ("uprobe", false),
        ("uretprobe", false),
        ("usdt", false),
        ("fentry", false),
        ("fexit", false),
        ("rawtracepoint", false),
        ("software", false),
        ("hardware", false),
        ("watchpoint", false),
        ("iter", false),
    ] {
        s.push_str(&format!("  {name}: {}\n", yes(ok)));
    }
    s
}

/// Loading BPF and reading tracefs need root, or CAP_SYS_ADMIN, or CAP_BPF with CAP_PERFMON.
pub fn missing_privileges() -> Option<String> {
    if unsafe { libc::geteuid() } == 0 {
        return None;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let caps = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    let has = |bit: u32| caps & (1u64 << bit) != 0;
    const CAP_SYS_ADMIN: u32 = 21;
    const CAP_PERFMON: u32 = 38;
    const CAP_BPF: u32 = 39;
    if has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON)) {
        return None;
    }
    Some("spyglass needs root privileges (or CAP_BPF and CAP_PERFMON) to load BPF programs".into())
}
