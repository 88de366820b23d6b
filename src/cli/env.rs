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
    if let Some(n) = num(&["BPFTRACE_MAX_STRLEN", "BPFTRACE_STRLEN"]) {
        o.strlen = n.clamp(1, sema::MAX_STRLEN as u32);
    }
    if let Some(n) = num(&["BPFTRACE_ON_STACK_LIMIT"]) {
        o.on_stack_limit = n.min(256);
    }
    if let Some(m) = std::env::var("BPFTRACE_STACK_MODE")
        .ok()
        .and_then(|v| sema::stack_mode(v.trim()))
    {
        o.stack_mode = m;
    }
    if let Ok(t) = std::env::var("BPFTRACE_STR_TRUNC_TRAILER") {
        o.output.str_trunc_trailer = t;
    }
    if let Some(n) = num(&["BPFTRACE_MAX_CAT_BYTES", "BPFTRACE_CAT_BYTES_MAX"]) {
        o.output.max_cat_bytes = n as u64;
    }
    if let Some(n) = num(&["BPFTRACE_MAX_BPF_PROGS"]) {
        o.max_bpf_progs = n.max(1);
    }
    if let Some(v) = std::env::var("BPFTRACE_UNSTABLE_TYPEINFO")
        .ok()
        .and_then(|v| sema::unstable_level(v.trim()))
    {
        o.unstable_typeinfo = v.into();
    }
    if let Some(m) = std::env::var("BPFTRACE_MISSING_PROBES")
        .ok()
        .and_then(|v| sema::MissingProbes::parse(v.trim()))
    {
        o.missing_probes = m;
    }
    o
}

/// Loading BPF and attaching need CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN (root has them
/// unless its bounding set was cut). Says which are missing.
pub fn missing_privileges() -> Option<String> {
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
    let missing: Vec<&str> = [(CAP_BPF, "CAP_BPF"), (CAP_PERFMON, "CAP_PERFMON")]
        .into_iter()
        .filter(|(bit, _)| !has(*bit))
        .map(|(_, name)| name)
        .collect();
    let who = if unsafe { libc::geteuid() } == 0 {
        "this root process lacks"
    } else {
        "this process is not root and lacks"
    };
    Some(format!(
        "spyglass needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) to load and attach BPF programs: {who} {}",
        missing.join(" and ")
    ))
}
