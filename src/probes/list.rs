//! `spyglass -l [GLOB]`: the probes this kernel offers, bpftrace's naming.

use super::tracefs;

/// Every listable probe whose full name matches `glob` (comma-separated globs allowed;
/// a glob without `:` matches the last part, like bpftrace).
pub fn matching(glob: &str) -> Result<Vec<String>, String> {
    let mut all: Vec<String> = tracefs::all_tracepoints()?
        .into_iter()
        .map(|(c, n)| format!("tracepoint:{c}:{n}"))
        .collect();
    all.sort();
    let globs: Vec<String> = if glob.trim().is_empty() {
        vec!["*".into()]
    } else {
        glob.split(',').map(|g| expand_alias(g.trim())).collect()
    };
    Ok(all.into_iter().filter(|name| globs.iter().any(|g| tracefs::glob_match(g, name))).collect())
}

/// `t:x:y` → `tracepoint:x:y`; `word` → `*:word`; `provider:x` for 2-part tracepoints.
fn expand_alias(g: &str) -> String {
    let Some((provider, rest)) = g.split_once(':') else {
        return format!("*:{g}");
    };
    let full = match super::by_name(provider) {
        Some(p) => p.names()[0].to_string(),
        None => provider.to_string(),
    };
    if full == "tracepoint" && !rest.contains(':') {
        return format!("tracepoint:*:{rest}");
    }
    format!("{full}:{rest}")
}
