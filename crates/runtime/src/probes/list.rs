//! `spyglass -l [GLOB]`: the probes this kernel offers, bpftrace's naming.

use super::{fentry, tracefs, uprobe};

/// Every listable probe whose full name matches `glob` (comma-separated globs allowed;
/// a glob without `:` matches the last part, like bpftrace).
pub fn matching(glob: &str) -> Result<Vec<String>, String> {
    let globs: Vec<String> = if glob.trim().is_empty() {
        vec!["*".into()]
    } else {
        glob.split(',').map(|g| expand_alias(g.trim())).collect()
    };
    let mut out = vec![];
    for g in &globs {
        out.extend(user_functions(g)?);
    }
    for t in super::TYPES {
        let wanted: Vec<&String> = globs
            .iter()
            .filter(|g| {
                let provider = g.split(':').next().unwrap_or("");
                let named = !provider.contains(['*', '?', '[']);
                tracefs::glob_match(provider, t.names()[0]) && (t.in_full_list() || named)
            })
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let Some(items) = t.listing() else { continue };
        out.extend(
            items?
                .into_iter()
                .filter(|name| wanted.iter().any(|g| tracefs::glob_match(g, name))),
        );
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// `uprobe:BINARY[:FUNC]`: a binary's functions, listed only when a binary is named;
/// `usdt:BINARY[:…]`: its USDT probes; `fentry:bpf:…`: functions of running BPF programs.
fn user_functions(glob: &str) -> Result<Vec<String>, String> {
    // `fentry:bpf:*`: functions of the BPF programs running now.
    for kind in ["fentry", "fexit"] {
        if glob.starts_with(&format!("{kind}:bpf:")) {
            return Ok(fentry::bpf_listing(kind)
                .into_iter()
                .filter(|n| tracefs::glob_match(glob, n))
                .collect());
        }
    }
    // With `-p`, `*` is the process's binaries.
    let star_ok = super::elf::has_target_process();
    if let Some(rest) = glob.strip_prefix("usdt:") {
        let target = rest.split(':').next().unwrap_or("");
        if target.is_empty() || target == "*" && !star_ok {
            return Ok(vec![]);
        }
        let all = super::usdt::listing(target)?;
        // `usdt:BIN` alone lists them all; otherwise the glob decides.
        return Ok(all
            .into_iter()
            .filter(|n| !rest.contains(':') || tracefs::glob_match(glob, n))
            .collect());
    }
    let mut parts = glob.splitn(3, ':');
    let (Some(provider @ ("uprobe" | "uretprobe")), Some(target)) = (parts.next(), parts.next())
    else {
        return Ok(vec![]);
    };
    if target.is_empty() || target == "*" && !star_ok {
        return Ok(vec![]);
    }
    let func = parts.next().unwrap_or("*");
    let prefix = format!("{provider}:");
    Ok(uprobe::listing(provider, target)?
        .into_iter()
        .filter(|name| {
            let f = name[prefix.len()..].split_once(':').map_or("", |(_, f)| f);
            tracefs::glob_match(func, f)
        })
        .collect())
}

/// `t:x:y` → `tracepoint:x:y`; `word` → `*:word`; `provider:x` for 2-part tracepoints and
/// raw tracepoints searches every category / module.
fn expand_alias(g: &str) -> String {
    let Some((provider, rest)) = g.split_once(':') else {
        return format!("*:{g}");
    };
    let full = match super::by_name(provider) {
        Some(p) => p.names()[0].to_string(),
        None => provider.to_string(),
    };
    if matches!(
        full.as_str(),
        "tracepoint" | "rawtracepoint" | "fentry" | "fexit"
    ) && !rest.contains(':')
    {
        return format!("{full}:*:{rest}");
    }
    format!("{full}:{rest}")
}
