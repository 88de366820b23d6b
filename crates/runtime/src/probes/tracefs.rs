//! Access to tracefs: locating/mounting it, listing tracepoints and parsing
//! their `format` files. Everything the tracepoint provider, `spyglass -l`
//! and sema know about a tracepoint's layout comes from here.
use std::ffi::CString;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Serialize;

const TRACING: &str = "/sys/kernel/tracing";
const DEBUG_TRACING: &str = "/sys/kernel/debug/tracing";

/// One field of a tracepoint's record, as described by its `format` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TpField {
    pub name: String,
    /// The declared type as written, minus the array suffix that belongs to
    /// the name (e.g. "const char __user *", "__data_loc char[]", "char").
    pub c_type: String,
    pub offset: u32,
    pub size: u32,
    pub signed: bool,
    pub kind: TpFieldKind,
    /// `common_*` header fields shared by every event.
    pub common: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum TpFieldKind {
    Int,
    Pointer {
        to_char: bool,
    },
    /// u32 in the record: low 16 bits offset of the payload, high 16 bits length.
    DataLoc {
        is_string: bool,
    },
    CharArray {
        len: u32,
    },
    Array {
        elem_size: u32,
        len: u32,
    },
    /// Structs by value, `__rel_loc` (offset is relative, not absolute), and
    /// anything else we cannot read as a plain value.
    Other,
}

/// Whether a tracefs is mounted at `dir`: every one has `events/header_page`. One stat,
/// where listing `events` took four system calls of every start.
fn has_events(dir: &Path) -> bool {
    dir.join("events/header_page").exists()
}

/// Path of a usable tracefs, mounting it at /sys/kernel/tracing if nothing is
/// mounted yet (a bare system with only sysfs is common in containers/VMs).
pub fn root() -> Result<&'static Path, String> {
    static ROOT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    ROOT.get_or_init(locate_or_mount)
        .as_deref()
        .map_err(Clone::clone)
}

fn locate_or_mount() -> Result<PathBuf, String> {
    for dir in [TRACING, DEBUG_TRACING] {
        if has_events(Path::new(dir)) {
            return Ok(PathBuf::from(dir));
        }
    }
    let c = |s: &str| CString::new(s).expect("no NUL in literal");
    let (src, target, fstype) = (c("nodev"), c(TRACING), c("tracefs"));
    // SAFETY: all pointers are valid NUL-terminated strings; data may be null.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    let err = std::io::Error::last_os_error();
    // Re-check even on failure: EBUSY means someone else mounted it meanwhile.
    if has_events(Path::new(TRACING)) {
        return Ok(PathBuf::from(TRACING));
    }
    let why = if rc == 0 {
        "mounted tracefs but it has no events directory".to_string()
    } else {
        err.to_string()
    };
    Err(format!(
        "tracefs is not mounted at {TRACING} and mounting it failed: {why} \
         (mount it with `mount -t tracefs nodev {TRACING}`, or run spyglass with CAP_SYS_ADMIN)"
    ))
}

/// All tracepoints as (category, name), sorted and deduplicated.
pub fn all_tracepoints() -> Result<Vec<(String, String)>, String> {
    let root = root()?;
    let mut out: Vec<(String, String)> = match fs::read_to_string(root.join("available_events")) {
        Ok(text) => text
            .lines()
            .filter_map(|l| l.trim().split_once(':'))
            .map(|(c, n)| (c.to_string(), n.to_string()))
            .collect(),
        Err(_) => walk_events(root)?,
    };
    out.sort();
    out.dedup();
    Ok(out)
}

// available_events can be unreadable under some lockdown setups while the
// per-event directories still are.
fn walk_events(root: &Path) -> Result<Vec<(String, String)>, String> {
    let events = root.join("events");
    let err = |e: std::io::Error| format!("cannot read {}: {e}", events.display());
    let mut out = Vec::new();
    for cat in fs::read_dir(&events).map_err(err)?.flatten() {
        let Ok(entries) = fs::read_dir(cat.path()) else {
            continue;
        };
        for ev in entries.flatten() {
            if ev.path().join("format").is_file() {
                let name = |e: &fs::DirEntry| e.file_name().to_string_lossy().into_owned();
                out.push((name(&cat), name(&ev)));
            }
        }
    }
    Ok(out)
}

/// Shell-style glob as bpftrace uses for attach points: `*` (any run, possibly
/// empty), `?` (one char), `[abc]`, `[a-z]`, `[!abc]`/`[^abc]`; all else literal.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Where to resume after the last '*': (pattern index after it, text index).
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi + 1, ti));
                pi += 1;
                continue;
            }
            Some('?') => Some(1),
            Some('[') => match_set(&p[pi..], t[ti]),
            Some(&c) => (c == t[ti]).then_some(1),
            None => None,
        };
        match (step, star) {
            (Some(len), _) => {
                pi += len;
                ti += 1;
            }
            // Mismatch: let the last '*' swallow one more char and retry.
            (None, Some((sp, st))) => {
                star = Some((sp, st + 1));
                pi = sp;
                ti = st + 1;
            }
            (None, None) => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the set starting at `p[0] == '['`. Returns the
/// pattern length consumed on a match. An unterminated '[' is a literal.
fn match_set(p: &[char], c: char) -> Option<usize> {
    let mut i = 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let start = i;
    let mut hit = false;
    // A ']' right after '[' or '[!' is a member, not the terminator.
    while i < p.len() && (p[i] != ']' || i == start) {
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            hit |= p[i] <= c && c <= p[i + 2];
            i += 3;
        } else {
            hit |= p[i] == c;
            i += 1;
        }
    }
    if i >= p.len() {
        return (c == '[').then_some(1);
    }
    (hit != negate).then_some(i + 1)
}

/// Tracepoints whose category and name match the given globs.
pub fn matching(cat_glob: &str, name_glob: &str) -> Result<Vec<(String, String)>, String> {
    // An exact name needs one stat, not a read of every event the kernel has (startup time).
    let literal =
        |s: &str| !s.contains(['*', '?', '[']) && !s.is_empty() && !s.contains('/') && s != "..";
    if literal(cat_glob) && literal(name_glob) {
        let dir = root()?.join("events").join(cat_glob).join(name_glob);
        return Ok(if dir.join("format").exists() {
            vec![(cat_glob.to_string(), name_glob.to_string())]
        } else {
            vec![]
        });
    }
    Ok(all_tracepoints()?
        .into_iter()
        .filter(|(c, n)| glob_match(cat_glob, c) && glob_match(name_glob, n))
        .collect())
}

/// Parses events/CATEGORY/NAME/format into its fields, in file order.
pub fn format(category: &str, name: &str) -> Result<Vec<TpField>, String> {
    let bad = |s: &str| s.is_empty() || s.contains('/') || s == "." || s == "..";
    if bad(category) || bad(name) {
        return Err(format!("invalid tracepoint name {category}:{name}"));
    }
    let path = root()?
        .join("events")
        .join(category)
        .join(name)
        .join("format");
    let text = fs::read_to_string(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("tracepoint {category}:{name} not found"),
        _ => format!("cannot read {}: {e}", path.display()),
    })?;
    text.lines()
        .filter(|l| l.trim_start().starts_with("field:"))
        .map(|l| {
            parse_field(l)
                .ok_or_else(|| format!("{}: cannot parse line {:?}", path.display(), l.trim()))
        })
        .collect()
}

/// Parses one `field:TYPE NAME;\toffset:N;\tsize:N;\tsigned:N;` line.
fn parse_field(line: &str) -> Option<TpField> {
    let (mut decl, mut offset, mut size, mut signed) = (None, None, None, false);
    for part in line.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, val) = part.split_once(':')?;
        match key.trim() {
            "field" => decl = Some(val.trim()),
            "offset" => offset = val.trim().parse().ok(),
            "size" => size = val.trim().parse().ok(),
            "signed" => signed = val.trim() == "1",
            _ => {}
        }
    }
    let (decl, offset, size) = (decl?, offset?, size?);

    // The array suffix belongs to the name ("char comm[16]"), except for
    // "__data_loc char[] name" where "[]" is part of the type.
    let (decl_base, array_len) = match decl.strip_suffix(']').and_then(|d| d.rsplit_once('[')) {
        Some((base, len)) => (base.trim_end(), Some(len.trim())),
        None => (decl, None),
    };
    let name_start = decl_base
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    let name = &decl_base[name_start..];
    let c_type = decl_base[..name_start].trim();
    if name.is_empty() || c_type.is_empty() {
        return None;
    }
    let kind = classify(c_type, size, array_len);
    Some(TpField {
        name: name.to_string(),
        c_type: c_type.to_string(),
        offset,
        size,
        signed,
        kind,
        common: name.starts_with("common_"),
    })
}

/// Whether a type (ignoring qualifiers) is plain `char`, the marker bpftrace
/// uses to treat pointers/arrays/data_locs as strings.
fn is_char(base: &str) -> bool {
    let words: Vec<&str> = base
        .split_whitespace()
        .filter(|w| !matches!(*w, "const" | "volatile" | "__user" | "signed" | "unsigned"))
        .collect();
    words == ["char"]
}

fn classify(c_type: &str, size: u32, array_len: Option<&str>) -> TpFieldKind {
    if let Some(rest) = c_type.strip_prefix("__data_loc") {
        let elem = rest.trim().trim_end_matches("[]");
        return TpFieldKind::DataLoc {
            is_string: is_char(elem),
        };
    }
    if c_type.starts_with("__rel_loc") {
        return TpFieldKind::Other;
    }
    if let Some(len) = array_len {
        let char_elem = is_char(c_type) && !c_type.contains('*');
        // The length may be a macro name on some kernels; size is authoritative.
        let len = len.parse::<u32>().ok().filter(|&n| n > 0);
        if char_elem {
            return TpFieldKind::CharArray {
                len: len.unwrap_or(size),
            };
        }
        return match len {
            Some(len) if size.is_multiple_of(len) => TpFieldKind::Array {
                elem_size: size / len,
                len,
            },
            _ => TpFieldKind::Other,
        };
    }
    if let Some(star) = c_type.find('*') {
        let single = c_type.matches('*').count() == 1;
        return TpFieldKind::Pointer {
            to_char: single && is_char(&c_type[..star]),
        };
    }
    let aggregate = c_type.starts_with("struct ") || c_type.starts_with("union ");
    if !aggregate && matches!(size, 1 | 2 | 4 | 8) {
        return TpFieldKind::Int;
    }
    TpFieldKind::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field<'a>(fields: &'a [TpField], name: &str) -> &'a TpField {
        fields
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("no field {name}"))
    }

    #[test]
    fn sys_enter_openat() {
        let f = format("syscalls", "sys_enter_openat").unwrap();
        let names: Vec<&str> = f
            .iter()
            .filter(|f| !f.common)
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(names, ["__syscall_nr", "dfd", "filename", "flags", "mode"]);
        let nr = field(&f, "__syscall_nr");
        assert_eq!(
            (nr.c_type.as_str(), nr.offset, nr.size, nr.signed),
            ("int", 8, 4, true)
        );
        assert_eq!(nr.kind, TpFieldKind::Int);
        assert!(!nr.common);
        for (name, offset) in [("dfd", 16), ("filename", 24), ("flags", 32), ("mode", 40)] {
            assert_eq!(
                (field(&f, name).offset, field(&f, name).size),
                (offset, 8),
                "{name}"
            );
        }
        let file = field(&f, "filename");
        assert_eq!(file.kind, TpFieldKind::Pointer { to_char: true });
        assert!(file.c_type.starts_with("const char") && file.c_type.ends_with('*'));
        assert_eq!(field(&f, "dfd").kind, TpFieldKind::Int);
        let ct = field(&f, "common_type");
        assert!(ct.common && ct.offset == 0 && ct.size == 2 && ct.kind == TpFieldKind::Int);
    }

    #[test]
    fn sched_switch_char_arrays() {
        let f = format("sched", "sched_switch").unwrap();
        let comm = field(&f, "prev_comm");
        assert_eq!(comm.kind, TpFieldKind::CharArray { len: 16 });
        assert_eq!((comm.c_type.as_str(), comm.size), ("char", 16));
        assert_eq!(
            field(&f, "next_comm").kind,
            TpFieldKind::CharArray { len: 16 }
        );
        assert_eq!(field(&f, "prev_pid").kind, TpFieldKind::Int);
        assert!(field(&f, "prev_pid").signed);
    }

    #[test]
    fn data_loc_string() {
        let f = format("sched", "sched_process_exec").unwrap();
        let file = field(&f, "filename");
        assert_eq!(file.kind, TpFieldKind::DataLoc { is_string: true });
        assert!(file.c_type.starts_with("__data_loc") && file.size == 4);
    }

    #[test]
    fn every_format_parses() {
        // Guards against syntax in this kernel's formats that we don't know.
        for (c, n) in all_tracepoints().unwrap() {
            let fields = format(&c, &n).unwrap_or_else(|e| panic!("{c}:{n}: {e}"));
            assert!(fields.iter().any(|f| f.name == "common_type"), "{c}:{n}");
        }
    }

    #[test]
    fn missing_tracepoint() {
        assert!(format("syscalls", "no_such_tp")
            .unwrap_err()
            .contains("not found"));
        assert!(format("..", "x").is_err());
    }

    #[test]
    fn parse_synthetic_lines() {
        let p = |l: &str| parse_field(l).unwrap();
        let a = p("\tfield:unsigned long args[6];\toffset:16;\tsize:48;\tsigned:0;");
        assert_eq!(
            (a.name.as_str(), a.c_type.as_str()),
            ("args", "unsigned long")
        );
        assert_eq!(
            a.kind,
            TpFieldKind::Array {
                elem_size: 8,
                len: 6
            }
        );
        let u = p("\tfield:const char __user * filename;\toffset:16;\tsize:8;\tsigned:0;");
        assert_eq!(
            (u.name.as_str(), u.c_type.as_str()),
            ("filename", "const char __user *")
        );
        assert_eq!(u.kind, TpFieldKind::Pointer { to_char: true });
        let pp = p("\tfield:const char *const * argv;\toffset:24;\tsize:8;\tsigned:0;");
        assert_eq!(pp.kind, TpFieldKind::Pointer { to_char: false });
        let d = p("\tfield:__data_loc char[] name;\toffset:8;\tsize:4;\tsigned:0;");
        assert_eq!(
            (d.name.as_str(), d.c_type.as_str()),
            ("name", "__data_loc char[]")
        );
        assert_eq!(d.kind, TpFieldKind::DataLoc { is_string: true });
        let b = p("\tfield:__data_loc u8[] buf;\toffset:8;\tsize:4;\tsigned:0;");
        assert_eq!(b.kind, TpFieldKind::DataLoc { is_string: false });
        let s = p("\tfield:struct foo bar;\toffset:8;\tsize:8;\tsigned:0;");
        assert_eq!(s.kind, TpFieldKind::Other);
        let np = p("\tfield:char *name;\toffset:8;\tsize:8;\tsigned:0;");
        assert_eq!((np.name.as_str(), np.c_type.as_str()), ("name", "char *"));
        assert!(parse_field("\tfield:int x;\toffset:8;").is_none());
    }

    #[test]
    fn globs() {
        let cases = [
            ("*", "", true),
            ("*", "anything", true),
            ("", "", true),
            ("", "a", false),
            ("sys_enter_open*", "sys_enter_open", true),
            ("sys_enter_open*", "sys_enter_openat2", true),
            ("sys_enter_open*", "sys_exit_open", false),
            ("*open*", "sys_enter_openat", true),
            ("a*b*c", "abc", true),
            ("a*b*c", "axxbyybzc", true),
            ("a*b*c", "axxcyyb", false),
            ("**x", "x", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("abc", "ab", false),
            ("sys_[ex]*", "sys_exit", true),
            ("sys_[ex]*", "sys_foo", false),
            ("[a-c]x", "bx", true),
            ("[!a-c]x", "dx", true),
            ("[^a-c]x", "bx", false),
            ("[]]", "]", true),
            ("a[b", "a[b", true),
            ("sys.enter", "sys.enter", true),
            ("sys.enter", "sysXenter", false),
        ];
        for (pat, text, want) in cases {
            assert_eq!(glob_match(pat, text), want, "glob_match({pat:?}, {text:?})");
        }
    }

    #[test]
    fn listing_and_matching() {
        assert!(root().expect("tracefs").join("events").is_dir());
        let all = all_tracepoints().unwrap();
        assert!(all.windows(2).all(|w| w[0] < w[1]));
        assert!(all.contains(&("sched".into(), "sched_switch".into())));
        let m = matching("syscalls", "sys_enter_open*").unwrap();
        let names: Vec<&str> = m.iter().map(|(_, n)| n.as_str()).collect();
        for want in [
            "sys_enter_open",
            "sys_enter_openat",
            "sys_enter_openat2",
            "sys_enter_open_by_handle_at",
        ] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        assert!(m
            .iter()
            .all(|(c, n)| c == "syscalls" && n.starts_with("sys_enter_open")));
        assert!(matching("sch?d", "sched_switch").unwrap().len() == 1);
        assert!(walk_events(root().unwrap())
            .unwrap()
            .contains(&("syscalls".into(), "sys_enter_openat".into())));
    }
}
