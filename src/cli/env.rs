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
    if let Some(n) = num(&["BPFTRACE_PERF_RB_PAGES"]) {
        o.output.perf_rb_pages = Some(sema::rb_pages(n as u64));
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
