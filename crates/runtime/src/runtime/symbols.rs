//! What the runtime learns about values only when it prints them: cgroup paths (for
//! `cgroup_path`, see `kinds::cgroup`) and the build ids of user stack frames.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use blazesym::normalize::{Normalizer, UserMeta};
use blazesym::Pid;

/// `ustack(build_id)` frames as bpftrace prints the kernel's build-id stacks: the ELF
/// file's build id in hex and the file offset, or the bare address (hex) when no file with
/// a build id maps it. Computed here from the process's mappings rather than by the kernel.
pub fn build_id_frames(addrs: &[u64], pid: u32) -> Vec<String> {
    let normalizer = Normalizer::builder().enable_build_ids(true).build();
    let out = normalizer.normalize_user_addrs(Pid::from(pid), addrs).ok();
    addrs
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let frame = out.as_ref().and_then(|o| {
                let (offset, meta) = o.outputs.get(i)?;
                match o.meta.get(*meta)? {
                    UserMeta::Elf(e) => {
                        let id = e.build_id.as_ref()?;
                        let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
                        Some(format!("{hex} {offset:#04x}"))
                    }
                    _ => None,
                }
            });
            frame.unwrap_or_else(|| format!("{a:x}"))
        })
        .collect()
}

/// `cgroup_path(id, filter)`: `hierarchy:/path` for every mounted hierarchy whose name
/// matches the wildcard `filter` and holds the cgroup, joined by `,`. The cgroup v2
/// hierarchy is called `unified` and comes first; v1 hierarchies follow sorted by name.
pub fn cgroup_path(id: u64, filter: &str) -> String {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let (mut v1, mut v2) = (vec![], vec![]);
    for line in mounts.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(fs), Some(dir)) = (f.first(), f.get(1)) else {
            continue;
        };
        if !Path::new(dir).is_dir() {
            continue;
        }
        match *fs {
            "cgroup2" => v2.push(("unified".to_string(), dir.to_string())),
            "cgroup" => v1.push((
                Path::new(dir)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                dir.to_string(),
            )),
            _ => {}
        }
    }
    v1.sort();
    let filter = if filter.is_empty() { "*" } else { filter };
    v2.into_iter()
        .chain(v1)
        .filter(|(name, _)| wildcard_match(filter, name))
        .filter_map(|(name, root)| Some(format!("{name}:{}", path_in(id, &root)?)))
        .collect::<Vec<_>>()
        .join(",")
}

/// The cgroup whose directory inode is `id`, relative to the hierarchy's root.
fn path_in(id: u64, root: &str) -> Option<String> {
    if std::fs::metadata(root).ok()?.ino() == id {
        return Some("/".into());
    }
    let mut dirs = vec![std::path::PathBuf::from(root)];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).ok()?.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if !ft.is_dir() {
                continue;
            }
            let p = e.path();
            if e.metadata().map(|m| m.ino()).ok() == Some(id) {
                return Some(p.to_string_lossy()[root.trim_end_matches('/').len()..].to_string());
            }
            dirs.push(p);
        }
    }
    None
}

/// `*` matches any run of characters; everything else itself.
fn wildcard_match(pattern: &str, s: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == s,
        Some((head, rest)) => {
            let Some(s) = s.strip_prefix(head) else {
                return false;
            };
            (0..=s.len()).any(|i| s.is_char_boundary(i) && wildcard_match(rest, &s[i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", "unified"));
        assert!(wildcard_match("uni*", "unified"));
        assert!(wildcard_match("*fie*", "unified"));
        assert!(!wildcard_match("cpu", "unified"));
        assert!(wildcard_match("unified", "unified"));
    }
}
