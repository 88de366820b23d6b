//! The kernel's BTF as probes and `-l` need it: function prototypes (iterator targets,
//! raw tracepoint stubs) with their parameters' C types, and struct definitions printed as
//! C. Types as the compiler sees them live in `sema::btf`; this side only names them.

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::OnceLock;

use libbpf_sys as sys;

use super::{ArgField, ArgKind};

/// The file `BPFTRACE_BTF` names: kernel types to compile against instead of the running
/// kernel's (struct layouts, e.g. to build an artifact for another kernel). Attaching
/// always uses the running kernel's own BTF.
pub fn types_file() -> Option<std::path::PathBuf> {
    std::env::var_os("BPFTRACE_BTF")
        .filter(|v| !v.is_empty())
        .map(Into::into)
}

/// vmlinux BTF, parsed once, never freed, only read.
struct Vmlinux(*mut sys::btf);
// SAFETY: the BTF object is immutable after parsing and libbpf's readers do not mutate it.
unsafe impl Send for Vmlinux {}
unsafe impl Sync for Vmlinux {}

fn vmlinux() -> Option<*const sys::btf> {
    static BTF: OnceLock<Option<Vmlinux>> = OnceLock::new();
    BTF.get_or_init(|| {
        // SAFETY: plain constructor; an error comes back as NULL or an encoded pointer.
        let p = unsafe { sys::btf__load_vmlinux_btf() };
        let bad = p.is_null() || (p as isize) < 0 && (p as isize) > -4096;
        (!bad).then_some(Vmlinux(p))
    })
    .as_ref()
    .map(|v| v.0 as *const sys::btf)
}

fn type_by_id(btf: *const sys::btf, id: u32) -> Option<&'static sys::btf_type> {
    // SAFETY: ids come from the same BTF object, which lives for the whole run.
    unsafe { sys::btf__type_by_id(btf, id).as_ref() }
}

fn kind(t: &sys::btf_type) -> u32 {
    (t.info >> 24) & 0x1f
}

fn vlen(t: &sys::btf_type) -> usize {
    (t.info & 0xffff) as usize
}

fn name_at(btf: *const sys::btf, off: u32) -> String {
    // SAFETY: offsets come from types of this BTF object.
    let p = unsafe { sys::btf__name_by_offset(btf, off) };
    if p.is_null() {
        return String::new();
    }
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Type ids by kind and name, built on first use: libbpf's own lookup scans every type,
/// and `-lv 'rawtracepoint:*'` looks up thousands.
fn find(btf: *const sys::btf, name: &str, kind_: u32) -> Option<u32> {
    // The first few lookups scan the types (a few milliseconds); a script that looks up
    // more gets an index (tens of milliseconds and megabytes to build, then free).
    static SCANS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    static INDEX: OnceLock<HashMap<(u32, String), u32>> = OnceLock::new();
    const SCAN_FIRST: u32 = 4;
    if INDEX.get().is_none()
        && SCANS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < SCAN_FIRST
    {
        let c = std::ffi::CString::new(name).ok()?;
        // SAFETY: valid BTF and a NUL-terminated name; a negative id means not found.
        let id = unsafe { sys::btf__find_by_name_kind(btf, c.as_ptr(), kind_) };
        return (id > 0).then_some(id as u32);
    }
    let index = INDEX.get_or_init(|| {
        let mut m = HashMap::new();
        // SAFETY: valid BTF; every id below the count is a type.
        let count = unsafe { sys::btf__type_cnt(btf) };
        for id in 1..count {
            if let Some(t) = type_by_id(btf, id).filter(|t| t.name_off != 0) {
                m.entry((kind(t), name_at(btf, t.name_off))).or_insert(id);
            }
        }
        m
    });
    index.get(&(kind_, name.to_string())).copied()
}

/// Every named BTF type of `kind`, in id order.
pub(crate) fn names_of_kind(k: u32) -> Vec<String> {
    let Some(btf) = vmlinux() else { return vec![] };
    // SAFETY: valid BTF.
    let count = unsafe { sys::btf__type_cnt(btf) };
    (1..count)
        .filter_map(|id| type_by_id(btf, id))
        .filter(|t| kind(t) == k && t.name_off != 0)
        .map(|t| name_at(btf, t.name_off))
        .collect()
}

pub(crate) fn has(name: &str, k: u32) -> bool {
    vmlinux().is_some_and(|b| find(b, name, k).is_some())
}

/// A parameter or member: its name, its C type as written, and how to read it.
pub struct Param {
    pub name: String,
    pub c_type: String,
    pub size: u32,
    pub signed: bool,
    pub pointer: bool,
}

/// The parameters of the function `func` (a BTF FUNC), or `None` when BTF lacks it.
pub(crate) fn func_params(func: &str) -> Option<Vec<Param>> {
    let btf = vmlinux()?;
    let f = type_by_id(btf, find(btf, func, sys::BTF_KIND_FUNC)?)?;
    // SAFETY: a FUNC's type is its FUNC_PROTO.
    proto_params(btf, unsafe { f.__bindgen_anon_1.type_ })
}

/// The return type of the function `func` (a BTF FUNC), or `None` when BTF lacks it or it
/// returns nothing.
pub(crate) fn func_return(func: &str) -> Option<Param> {
    let btf = vmlinux()?;
    let f = type_by_id(btf, find(btf, func, sys::BTF_KIND_FUNC)?)?;
    // SAFETY: a FUNC's type is its FUNC_PROTO, whose type is the return type.
    let proto = type_by_id(btf, unsafe { f.__bindgen_anon_1.type_ })?;
    let ret = unsafe { proto.__bindgen_anon_1.type_ };
    (ret != 0).then(|| describe(btf, "retval".into(), ret))
}

fn proto_params(btf: *const sys::btf, id: u32) -> Option<Vec<Param>> {
    let proto = type_by_id(btf, id)?;
    if kind(proto) != sys::BTF_KIND_FUNC_PROTO {
        return None;
    }
    // SAFETY: a FUNC_PROTO is followed by `vlen` btf_params.
    let params = unsafe {
        std::slice::from_raw_parts(
            (proto as *const sys::btf_type)
                .add(1)
                .cast::<sys::btf_param>(),
            vlen(proto),
        )
    };
    Some(
        params
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let name = name_at(btf, p.name_off);
                let name = if name.is_empty() {
                    format!("arg{i}")
                } else {
                    name
                };
                describe(btf, name, p.type_)
            })
            .collect(),
    )
}

/// The parameters of the function prototype a typedef points to (`btf_trace_EVENT`).
pub(crate) fn typedef_proto_params(name: &str) -> Option<Vec<Param>> {
    let btf = vmlinux()?;
    let t = type_by_id(btf, find(btf, name, sys::BTF_KIND_TYPEDEF)?)?;
    // SAFETY: typedefs and pointers refer to their target by `type`.
    let ptr = type_by_id(btf, unsafe { t.__bindgen_anon_1.type_ })?;
    let proto_id = unsafe { ptr.__bindgen_anon_1.type_ };
    proto_params(btf, proto_id)
}

/// The named members of `struct NAME` (anonymous unions lifted, as C lets them be named),
/// with byte offsets.
pub fn struct_members(name: &str) -> Option<Vec<(u32, Param)>> {
    let btf = vmlinux()?;
    let id = find(btf, name, sys::BTF_KIND_STRUCT)?;
    let mut out = vec![];
    members(btf, id, 0, &mut out);
    Some(out)
}

fn members(btf: *const sys::btf, id: u32, base: u32, out: &mut Vec<(u32, Param)>) {
    let Some(t) = type_by_id(btf, id) else { return };
    if !matches!(kind(t), sys::BTF_KIND_STRUCT | sys::BTF_KIND_UNION) {
        return;
    }
    // SAFETY: a STRUCT/UNION is followed by `vlen` btf_members.
    let ms = unsafe {
        std::slice::from_raw_parts(
            (t as *const sys::btf_type).add(1).cast::<sys::btf_member>(),
            vlen(t),
        )
    };
    let kflag = t.info >> 31 == 1;
    for m in ms {
        let bits = if kflag {
            m.offset & 0xff_ffff
        } else {
            m.offset
        };
        let at = base + bits / 8;
        let name = name_at(btf, m.name_off);
        if name.is_empty() {
            members(btf, skip_mods(btf, m.type_), at, out);
        } else {
            out.push((at, describe(btf, name, m.type_)));
        }
    }
}

fn skip_mods(btf: *const sys::btf, mut id: u32) -> u32 {
    while let Some(t) = type_by_id(btf, id) {
        match kind(t) {
            sys::BTF_KIND_TYPEDEF
            | sys::BTF_KIND_CONST
            | sys::BTF_KIND_VOLATILE
            | sys::BTF_KIND_RESTRICT
            | sys::BTF_KIND_TYPE_TAG => id = unsafe { t.__bindgen_anon_1.type_ },
            _ => break,
        }
    }
    id
}

fn describe(btf: *const sys::btf, name: String, id: u32) -> Param {
    let c_type = type_decl(btf, id);
    let real = type_by_id(btf, skip_mods(btf, id));
    let (size, signed, pointer) = match real {
        Some(t) if kind(t) == sys::BTF_KIND_PTR => (8, false, true),
        Some(t) if kind(t) == sys::BTF_KIND_INT => {
            // SAFETY: an INT is followed by its u32 encoding word.
            let enc = unsafe { *(t as *const sys::btf_type).add(1).cast::<u32>() };
            let size = unsafe { t.__bindgen_anon_1.size };
            (size, (enc >> 24) & sys::BTF_INT_SIGNED != 0, false)
        }
        Some(t) if matches!(kind(t), sys::BTF_KIND_ENUM | sys::BTF_KIND_ENUM64) => {
            (unsafe { t.__bindgen_anon_1.size }, false, false)
        }
        _ => (8, false, false),
    };
    Param {
        name,
        c_type,
        size,
        signed,
        pointer,
    }
}

impl Param {
    /// As a field of `args` at byte `offset` of the context.
    pub(crate) fn arg_field(&self, offset: u32) -> ArgField {
        ArgField {
            name: self.name.clone(),
            c_type: self.c_type.clone(),
            offset,
            size: self.size.clamp(1, 8),
            signed: self.signed,
            kind: if self.pointer {
                ArgKind::Pointer { user: false }
            } else {
                ArgKind::Int
            },
            on_stack: false,
        }
    }
}

/// Collects what btf_dump prints.
unsafe extern "C" fn collect(ctx: *mut c_void, fmt: *const c_char, args: *mut sys::__va_list_tag) {
    extern "C" {
        fn vsnprintf(
            buf: *mut c_char,
            n: usize,
            fmt: *const c_char,
            args: *mut sys::__va_list_tag,
        ) -> c_int;
    }
    let mut buf = vec![0u8; 4096];
    // SAFETY: the buffer's size is passed; the va_list is consumed once.
    let n = unsafe { vsnprintf(buf.as_mut_ptr().cast(), buf.len(), fmt, args) };
    let n = (n.max(0) as usize).min(buf.len() - 1);
    // SAFETY: ctx is the String given to btf_dump__new below.
    let out = unsafe { &mut *ctx.cast::<String>() };
    out.push_str(&String::from_utf8_lossy(&buf[..n]));
}

/// Runs `f` with a btf_dump whose output lands in the returned string.
fn with_dump(btf: *const sys::btf, f: impl FnOnce(*mut sys::btf_dump)) -> String {
    let mut out = Box::new(String::new());
    let ctx: *mut String = &mut *out;
    // SAFETY: `out` outlives the dump object, freed before returning.
    let d = unsafe { sys::btf_dump__new(btf, Some(collect), ctx.cast(), std::ptr::null()) };
    if d.is_null() || (d as isize) < 0 && (d as isize) > -4096 {
        return String::new();
    }
    f(d);
    unsafe { sys::btf_dump__free(d) };
    *out
}

/// One btf_dump for type names, reused: creating one per name is slow.
struct NameDump {
    dump: *mut sys::btf_dump,
    /// Boxed: the dump holds its address, which must not move with the struct.
    #[allow(clippy::box_collection)]
    out: Box<String>,
}

/// A type as C writes it without a name: `struct irqaction *`, `unsigned int`.
fn type_decl(btf: *const sys::btf, id: u32) -> String {
    thread_local! {
        static DUMP: std::cell::RefCell<Option<NameDump>> = const { std::cell::RefCell::new(None) };
    }
    DUMP.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let mut out = Box::new(String::new());
            let ctx: *mut String = &mut *out;
            // SAFETY: `out` lives as long as the dump (both kept for the thread's life).
            let d = unsafe { sys::btf_dump__new(btf, Some(collect), ctx.cast(), std::ptr::null()) };
            if d.is_null() || (d as isize) < 0 && (d as isize) > -4096 {
                return String::new();
            }
            *slot = Some(NameDump { dump: d, out });
        }
        let nd = slot.as_mut().expect("set above");
        let empty = CString::default();
        let opts = sys::btf_dump_emit_type_decl_opts {
            sz: std::mem::size_of::<sys::btf_dump_emit_type_decl_opts>() as _,
            field_name: empty.as_ptr(),
            ..Default::default()
        };
        // SAFETY: valid dump and options.
        unsafe { sys::btf_dump__emit_type_decl(nd.dump, id, &opts) };
        std::mem::take(&mut *nd.out)
    })
}

/// `struct X { … };` as C, for `-lv 'struct X'` (what a definition needs first is left out).
pub(crate) fn c_definition(name: &str) -> Option<String> {
    let btf = vmlinux()?;
    let (word, bare) = name.split_once(' ')?;
    let k = match word {
        "struct" => sys::BTF_KIND_STRUCT,
        "union" => sys::BTF_KIND_UNION,
        "enum" => sys::BTF_KIND_ENUM,
        _ => return None,
    };
    let id = find(btf, bare.trim(), k)?;
    let text = with_dump(btf, |d| {
        // SAFETY: valid dump and id.
        unsafe { sys::btf_dump__dump_type(d, id) };
    });
    let start = text.find(&format!("{word} {} {{", bare.trim()))?;
    let end = text[start..]
        .find("\n};")
        .map_or(text.len(), |e| start + e + 3);
    Some(text[start..end].to_string())
}
