//! What the environment decides: `BPFTRACE_*` settings and privileges.

use spyglass::sema;

/// bpftrace's config variables that may come from the environment (`BPFTRACE_*`).
pub fn sema_options_from_env() -> sema::Options {
    let mut o = sema::Options::default();
    let num = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| std::env::var(n).ok()?.trim().parse::<u32>().ok())
    };
    if let Some(n) = num(&["BPFTRACE_MAX_MAP_KEYS", "BPFTRACE_MAP_KEYS_MAX"]) {
        o.max_map_keys = n.max(1);
    }
    if let Some(n) = num(&["BPFTRACE_MAX_PROBES"]) {
        o.max_probes = n.max(1);
    }
    // Strings live on the 512-byte BPF stack, so they stay small.
    if let Some(n) = num(&["BPFTRACE_MAX_STRLEN", "BPFTRACE_STRLEN"]) {
        o.strlen = n.clamp(8, 200);
    }
    o
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
