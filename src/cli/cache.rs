//! The compiled-program cache: running an unchanged script again skips parsing, checking
//! and LLVM, and goes straight to loading. An entry is one file under
//! `$XDG_CACHE_HOME/spyglass` (or `~/.cache/spyglass`): a JSON header line, then the BPF
//! object.
//!
//! The key is everything compiling depends on that is cheap to name: the spyglass binary
//! itself (version, size and modification time, so a rebuilt binary never reuses old
//! output), the kernel and this boot (addresses, modules and tracepoints can differ after a
//! reboot), the whole command line, the working directory, the `BPFTRACE_*` environment
//! and the script's text. Files probes name (uprobe and USDT binaries) are recorded with
//! their size and modification time and checked on every hit. Scripts that read other
//! files while compiling (`#include`, `import`) or whose compiled values can change within
//! a boot (`cgroupid`) are not cached. An entry that does not
//! match in every respect, or does not parse, is ignored and rewritten: never trusted.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use spyglass::probes::AttachPoint;
use spyglass::program::CompiledProgram;

/// Entries the cache may hold; past that, the oldest go, down to `KEEP_ENTRIES`.
const MAX_ENTRIES: usize = 256;
const KEEP_ENTRIES: usize = MAX_ENTRIES * 3 / 4;

#[derive(Serialize, Deserialize)]
struct Header {
    /// The key in full: an entry is used only when it is identical.
    key: String,
    /// Files the program depends on: (path, size, mtime in ns).
    deps: Vec<(String, u64, u128)>,
    /// Compile-time warnings as they were printed.
    warnings: String,
    elf_len: usize,
    elf_hash: u64,
    program: CompiledProgram,
}

pub struct Cache {
    dir: PathBuf,
    key: String,
}

/// What a hit gives back.
pub struct Hit {
    pub program: CompiledProgram,
    pub warnings: String,
    pub path: PathBuf,
}

impl Cache {
    /// The cache for this run, unless there is nowhere to keep it.
    pub fn new(raw_args: &[Vec<u8>], source_name: &str, source: &str) -> Option<Cache> {
        let dir = spyglass::user_cache::dir()?;
        let exe = std::fs::metadata("/proc/self/exe").ok()?;
        let read = |p: &str| spyglass::user_cache::read_small(p).unwrap_or_default();
        let mut env: Vec<String> = std::env::vars()
            // PATH finds the binaries probes and `-c` name.
            .filter(|(k, _)| k.starts_with("BPFTRACE_") || k == "PATH")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        env.sort();
        let args: Vec<String> = raw_args
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let key = format!(
            "spyglass {} {} {}\nkernel {}\nboot {}\npid namespace {:?}\ncwd {}\nargs {:?}\nenv {:?}\nsource {source_name}\n{source}",
            env!("CARGO_PKG_VERSION"),
            exe.len(),
            mtime_ns(&exe),
            read("/proc/sys/kernel/osrelease").trim(),
            spyglass::user_cache::boot_id(),
            // Programs are compiled for it (`sema::Host`).
            spyglass::runtime::pid_namespace(),
            std::env::current_dir().ok()?.display(),
            args,
            env,
        );
        Some(Cache { dir, key })
    }

    fn path(&self) -> PathBuf {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.key.hash(&mut h);
        self.dir.join(format!("{:016x}.bpfc", h.finish()))
    }

    /// The entry for this key, if there is a valid one.
    pub fn get(&self) -> Option<Hit> {
        let path = self.path();
        let data = std::fs::read(&path).ok()?;
        let nl = data.iter().position(|&b| b == b'\n')?;
        let header: Header = serde_json::from_slice(&data[..nl]).ok()?;
        let elf = &data[nl + 1..];
        let valid = header.key == self.key
            && elf.len() == header.elf_len
            && checksum(elf) == header.elf_hash
            && header.deps.iter().all(|(p, size, mtime)| {
                std::fs::metadata(p).is_ok_and(|m| m.len() == *size && mtime_ns(&m) == *mtime)
            });
        if !valid {
            return None;
        }
        let mut program = header.program;
        program.elf = elf.to_vec();
        Some(Hit {
            program,
            warnings: header.warnings,
            path,
        })
    }

    /// Stores a freshly compiled program; failures (a read-only or full disk) are silent:
    /// the cache only ever saves time.
    pub fn put(&self, program: &CompiledProgram, warnings: &str) {
        let Some(deps) = deps(program) else { return };
        let header = Header {
            key: self.key.clone(),
            deps,
            warnings: warnings.to_string(),
            elf_len: program.elf.len(),
            elf_hash: checksum(&program.elf),
            program: CompiledProgram {
                elf: vec![],
                ..program.clone()
            },
        };
        let Ok(json) = serde_json::to_vec(&header) else {
            return;
        };
        if std::fs::create_dir_all(&self.dir).is_err() {
            return;
        }
        let path = self.path();
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let written = std::fs::File::create(&tmp).and_then(|mut f| {
            f.write_all(&json)?;
            f.write_all(b"\n")?;
            f.write_all(&program.elf)
        });
        // Renamed into place whole, so a concurrent run never reads half an entry.
        if written.and_then(|_| std::fs::rename(&tmp, &path)).is_err() {
            let _ = std::fs::remove_file(&tmp);
            return;
        }
        prune(&self.dir);
    }
}

/// Whether a script may be cached: it reads no other files while compiling, and no
/// compile-time value can change within a boot (`cgroupid` is a directory's inode).
pub fn cacheable(source: &str, includes: &spyglass::parser::Includes) -> bool {
    includes.files.is_empty()
        && includes.dirs.is_empty()
        && !["#include", "import", "cgroupid"]
            .iter()
            .any(|w| source.contains(w))
}

/// The files the program's probes name, and the types file `BPFTRACE_BTF` names, with
/// what identifies their contents.
fn deps(program: &CompiledProgram) -> Option<Vec<(String, u64, u128)>> {
    let mut out = vec![];
    let types = spyglass::probes::btf::types_file().map(|p| p.display().to_string());
    for ap in program.probes.iter().flat_map(|p| &p.attach) {
        let path = match ap {
            AttachPoint::Uprobe { path, .. } | AttachPoint::Usdt { path, .. } => path,
            _ => continue,
        };
        let m = std::fs::metadata(path).ok()?;
        let dep = (path.clone(), m.len(), mtime_ns(&m));
        if !out.contains(&dep) {
            out.push(dep);
        }
    }
    if let Some(path) = types {
        let m = std::fs::metadata(&path).ok()?;
        out.push((path, m.len(), mtime_ns(&m)));
    }
    Some(out)
}

fn mtime_ns(m: &std::fs::Metadata) -> u128 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

/// A checksum of an entry's ELF, so a damaged entry is never loaded. Not CRC-32: crc32fast
/// picks its code by the CPU's features, asking with `cpuid`, a trap to the hypervisor on
/// a VM, and a cached start asks nothing else that way.
fn checksum(b: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    h.write(b);
    h.finish()
}

/// Keeps the cache under `MAX_ENTRIES` entries: past that, the newest `KEEP_ENTRIES`.
/// Pruning reads every entry's time; counting them reads the directory only, so the
/// first runs after a prune (which write an entry each) find room without that: a full
/// cache would otherwise cost every compile ≈ 260 statx calls, ahead of its attach.
fn prune(dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let paths: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "bpfc"))
        .collect();
    if paths.len() <= MAX_ENTRIES {
        return;
    }
    let mut entries: Vec<(std::time::SystemTime, PathBuf)> = paths
        .into_iter()
        .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
        .collect();
    entries.sort();
    for (_, p) in &entries[..entries.len().saturating_sub(KEEP_ENTRIES)] {
        let _ = std::fs::remove_file(p);
    }
}
