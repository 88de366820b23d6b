//! Where spyglass keeps what it may reuse between runs: `$XDG_CACHE_HOME/spyglass` (or
//! `~/.cache/spyglass`). The compiled-program cache (`cli/cache.rs`) and facts about the
//! running kernel's layout (`probes/btf.rs`) live there. Nothing kept there is trusted
//! without its key matching, and failing to read or write it never stops a run.

use std::io::Write;
use std::path::PathBuf;

pub fn dir() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".cache"),
    };
    Some(base.join("spyglass"))
}

/// This boot of this kernel: what kernel facts are keyed by.
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// A number about the running kernel, computed once per boot: `compute` runs only when
/// the `kernel-facts` file has no line for (`boot`, `key`).
pub fn kernel_fact(key: &str, compute: impl FnOnce() -> Option<u64>) -> Option<u64> {
    let boot = boot_id();
    let path = dir().map(|d| d.join("kernel-facts"));
    if let Some(text) = path.as_ref().and_then(|p| std::fs::read_to_string(p).ok()) {
        let found = text.lines().find_map(|l| {
            let mut w = l.split(' ');
            (w.next()? == boot && w.next()? == key).then(|| w.next()?.parse().ok())?
        });
        if found.is_some() {
            return found;
        }
    }
    let value = compute()?;
    if let Some(p) = &path {
        let _ = std::fs::create_dir_all(p.parent().expect("a directory"));
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
        {
            let _ = writeln!(f, "{boot} {key} {value}");
        }
    }
    Some(value)
}
