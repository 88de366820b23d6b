//! What uprobes need from user-space ELF files: finding the file a probe names (a path,
//! a program on PATH or a library known to the dynamic linker), its function symbols, and
//! the file offset the kernel wants for a virtual address.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use object::{Object, ObjectKind, ObjectSegment, ObjectSymbol, SymbolKind};

#[derive(Debug, Clone)]
pub(crate) struct Func {
    pub name: String,
    pub addr: u64,
    pub size: u64,
}

/// One loadable ELF file's functions and segments.
#[derive(Debug)]
pub(crate) struct Image {
    /// Sorted by name, one entry per name.
    pub funcs: Vec<Func>,
    /// `PT_LOAD` segments: (virtual address, file offset, size in the file).
    segments: Vec<(u64, u64, u64)>,
}

impl Image {
    pub fn func(&self, name: &str) -> Option<&Func> {
        self.funcs
            .binary_search_by(|f| f.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.funcs[i])
    }

    /// The function whose body holds `addr`.
    pub fn func_at(&self, addr: u64) -> Option<&Func> {
        self.funcs
            .iter()
            .filter(|f| f.addr <= addr && addr < f.addr + f.size.max(1))
            .min_by_key(|f| addr - f.addr)
    }

    /// The file offset of a virtual address, which is what the kernel's uprobes take.
    pub fn file_offset(&self, addr: u64) -> Option<u64> {
        self.segments
            .iter()
            .find(|(va, _, len)| *va <= addr && addr < va + len)
            .map(|(va, off, _)| addr - va + off)
    }
}

/// Reads (once per path) the function symbols of an executable or shared object, from
/// `.symtab` and `.dynsym`, and from its separate debug file when one is installed.
pub(crate) fn image(path: &str) -> Result<Arc<Image>, String> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Image>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(img) = cache.lock().unwrap().get(path) {
        return Ok(Arc::clone(img));
    }
    let data = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let file =
        object::File::parse(&*data).map_err(|e| format!("{path} is not an ELF file: {e}"))?;
    if !matches!(file.kind(), ObjectKind::Executable | ObjectKind::Dynamic) {
        return Err(format!("{path} is not an executable or a shared library"));
    }
    let mut funcs = vec![];
    collect(&file, &mut funcs);
    if let Some(debug) = super::debuginfo::debug_file(path, &file) {
        if let Ok(d) = std::fs::read(&debug) {
            if let Ok(f) = object::File::parse(&*d) {
                collect(&f, &mut funcs);
            }
        }
    }
    // The first name wins: the binary's own tables come before its debug file.
    funcs.sort_by(|a, b| a.name.cmp(&b.name));
    funcs.dedup_by(|a, b| a.name == b.name);
    let segments = file
        .segments()
        .filter_map(|s| {
            let (off, len) = s.file_range();
            (len > 0).then(|| (s.address(), off, len))
        })
        .collect();
    let img = Arc::new(Image { funcs, segments });
    cache.lock().unwrap().insert(path.into(), Arc::clone(&img));
    Ok(img)
}

fn collect(file: &object::File, out: &mut Vec<Func>) {
    for sym in file.symbols().chain(file.dynamic_symbols()) {
        if sym.kind() != SymbolKind::Text || sym.is_undefined() || sym.address() == 0 {
            continue;
        }
        match sym.name() {
            Ok(name) if !name.is_empty() => out.push(Func {
                name: name.into(),
                addr: sym.address(),
                size: sym.size(),
            }),
            _ => {}
        }
    }
}

/// Whether `path` is an ELF executable or shared object.
pub(crate) fn is_elf_binary(path: &str) -> bool {
    use std::io::Read;
    let mut head = [0u8; 18];
    let ok = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head));
    // e_type (at 16, little-endian): ET_EXEC 2 or ET_DYN 3.
    ok.is_ok() && head[..4] == *b"\x7fELF" && matches!(head[16], 2 | 3) && head[17] == 0
}

pub(crate) fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// The files a uprobe target names: a path as given (a glob allowed), else a program on
/// PATH, else a library from the dynamic linker's cache or the usual library directories.
pub(crate) fn resolve(target: &str) -> Result<Vec<String>, String> {
    if target == "*" {
        return mapped_binaries();
    }
    let missing = || format!("uprobe target file '{target}' does not exist or is not executable");
    if target.contains('/') {
        let paths = if has_wildcard(target) {
            glob(target)
        } else {
            vec![target.to_string()]
        };
        let found: Vec<String> = paths.into_iter().filter(|p| is_elf_binary(p)).collect();
        return if found.is_empty() {
            Err(missing())
        } else {
            Ok(found)
        };
    }
    if let Some(p) = on_path(target) {
        return Ok(vec![p]);
    }
    library(target).map(|p| vec![p]).ok_or_else(missing)
}

/// The process whose binaries `*` (or an omitted binary) means: `-p PID`, or the program
/// `-c` runs.
static TARGET: OnceLock<(Option<u32>, Option<String>)> = OnceLock::new();

pub fn set_target_process(pid: Option<u32>, cmd: Option<&str>) {
    let program = cmd
        .and_then(|c| c.split_whitespace().next())
        .and_then(|p| resolve(p).ok())
        .and_then(|ps| ps.into_iter().next());
    let _ = TARGET.set((pid, program));
}

/// Whether probes name a process (`-p`, `-c`), so a binary may be left out.
pub(crate) fn has_target_process() -> bool {
    TARGET
        .get()
        .is_some_and(|(p, c)| p.is_some() || c.is_some())
}

/// What `*` means as a binary: the ELF files the `-p` process has mapped executable, the
/// `-c` program, or without either the mapped executables of every process on the host.
fn mapped_binaries() -> Result<Vec<String>, String> {
    let pids: Vec<String> = match TARGET.get() {
        Some((Some(pid), _)) => vec![pid.to_string()],
        Some((None, Some(program))) => return Ok(vec![program.clone()]),
        _ => std::fs::read_dir("/proc")
            .map_err(|e| format!("cannot list processes: {e}"))?
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            .collect(),
    };
    let mut found = std::collections::BTreeSet::new();
    for pid in pids {
        let Ok(maps) = std::fs::read_to_string(format!("/proc/{pid}/maps")) else {
            continue;
        };
        for line in maps.lines() {
            let mut f = line.split_whitespace();
            let (Some(perms), Some(path)) = (f.nth(1), f.nth(3)) else {
                continue;
            };
            if perms.contains('x') && path.starts_with('/') && f.next().is_none() {
                found.insert(path.to_string());
            }
        }
    }
    let found: Vec<String> = found.into_iter().filter(|p| is_elf_binary(p)).collect();
    if found.is_empty() {
        return Err("no mapped binaries to probe".into());
    }
    Ok(found)
}

fn on_path(name: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':').filter(|d| !d.is_empty()).find_map(|dir| {
        let p = format!("{dir}/{name}");
        let exec = std::fs::metadata(&p)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false);
        (exec && is_elf_binary(&p)).then_some(p)
    })
}

/// `libc`, `c`, `libc.so.6` → the path of that shared library.
fn library(name: &str) -> Option<String> {
    let stem = name.strip_prefix("lib").unwrap_or(name);
    let stem = stem.split(".so").next().unwrap_or(stem);
    let fits = |file: &str| {
        file == name
            || file.strip_prefix("lib").is_some_and(|f| {
                f.strip_prefix(stem)
                    .is_some_and(|rest| rest == ".so" || rest.starts_with(".so."))
            })
    };
    let cached = ld_so_cache()
        .into_iter()
        .filter(|(file, _)| fits(file))
        .map(|(_, path)| path);
    const DIRS: &[&str] = &[
        "/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
        "/lib64",
        "/usr/lib64",
        "/lib",
        "/usr/lib",
        "/usr/local/lib",
    ];
    let in_dirs = DIRS.iter().flat_map(|d| {
        let mut files: Vec<String> = std::fs::read_dir(d)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|f| fits(f))
                    .map(|f| format!("{d}/{f}"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    });
    cached.chain(in_dirs).find(|p| is_elf_binary(p))
}

/// (file name, path) entries of `/etc/ld.so.cache` for this architecture.
fn ld_so_cache() -> Vec<(String, String)> {
    const MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
    /// FLAG_ELF_LIBC6 | FLAG_X8664_LIB64
    const X86_64: i32 = 0x0303;
    let Ok(d) = std::fs::read("/etc/ld.so.cache") else {
        return vec![];
    };
    let Some(base) = d.windows(MAGIC.len()).position(|w| w == MAGIC) else {
        return vec![];
    };
    let u32_at = |o: usize| {
        d.get(o..o + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
    };
    // String offsets count from the header.
    let str_at = |o: u32| {
        let s = d.get(base + o as usize..)?;
        let end = s.iter().position(|&b| b == 0)?;
        Some(String::from_utf8_lossy(&s[..end]).into_owned())
    };
    let n = u32_at(base + 20).unwrap_or(0) as usize;
    let mut out = vec![];
    for i in 0..n {
        let e = base + 48 + 24 * i;
        let (Some(flags), Some(key), Some(val)) = (u32_at(e), u32_at(e + 4), u32_at(e + 8)) else {
            break;
        };
        if flags as i32 != X86_64 {
            continue;
        }
        if let (Some(k), Some(v)) = (str_at(key), str_at(val)) {
            out.push((k, v));
        }
    }
    out
}

/// Paths matching a shell glob, sorted.
fn glob(pattern: &str) -> Vec<String> {
    let Ok(c) = std::ffi::CString::new(pattern) else {
        return vec![];
    };
    let mut g: libc::glob_t = unsafe { std::mem::zeroed() };
    let mut out = vec![];
    if unsafe { libc::glob(c.as_ptr(), 0, None, &mut g) } == 0 {
        for i in 0..g.gl_pathc {
            let p = unsafe { std::ffi::CStr::from_ptr(*g.gl_pathv.add(i)) };
            out.push(p.to_string_lossy().into_owned());
        }
    }
    unsafe { libc::globfree(&mut g) };
    out
}
