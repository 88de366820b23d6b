//! Where spyglass keeps what it may reuse between runs: `$XDG_CACHE_HOME/spyglass` (or
//! `~/.cache/spyglass`). The compiled-program cache (`cli/cache.rs`) and facts about the
//! running kernel (its layout, `probes/btf.rs`; libbpf's feature answers,
//! `runtime/features.rs`) live there. Nothing kept there is trusted
//! without its key matching, and failing to read or write it never stops a run.
//! `read_small` reads the little `/proc` and `/sys` files a start needs (these and others).

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
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        read_small("/proc/sys/kernel/random/boot_id")
            .unwrap_or_default()
            .trim()
            .to_string()
    })
    .clone()
}

/// A small file's text (`/proc` and `/sys` files, the facts), read without the size query
/// `fs::read_to_string` makes first: those files have no size to tell, and on a VM every
/// system call of a start counts.
pub fn read_small(path: impl AsRef<std::path::Path>) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    // Plain reads: `read_to_string` and `read_to_end` ask for the size (`statx`, `lseek`)
    // even into a buffer with room.
    let mut buf = vec![0u8; 256];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(len);
    String::from_utf8(buf).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// A number about the running kernel, computed once per boot: `compute` runs only when
/// the `kernel-facts` file has no line for (`boot`, `key`).
pub fn kernel_fact(key: &str, compute: impl FnOnce() -> Option<u64>) -> Option<u64> {
    if let Some(found) = kernel_facts(key).into_iter().next() {
        return Some(found);
    }
    let value = compute()?;
    record_kernel_fact(key, value);
    Some(value)
}

/// Every value recorded for `key` in this boot, oldest first.
pub fn kernel_facts(key: &str) -> Vec<u64> {
    let boot = boot_id();
    let Some(text) = dir().and_then(|d| read_small(d.join("kernel-facts")).ok()) else {
        return vec![];
    };
    text.lines()
        .filter_map(|l| {
            let mut w = l.split(' ');
            (w.next()? == boot && w.next()? == key).then(|| w.next()?.parse().ok())?
        })
        .collect()
}

/// Appends a fact about this boot's kernel; failing to is silent.
pub fn record_kernel_fact(key: &str, value: u64) {
    let Some(p) = dir().map(|d| d.join("kernel-facts")) else {
        return;
    };
    let _ = std::fs::create_dir_all(p.parent().expect("a directory"));
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
    {
        // One write, so lines appended by runs at once never interleave.
        let _ = f.write_all(format!("{} {key} {value}\n", boot_id()).as_bytes());
    }
}
