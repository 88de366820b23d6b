//! The kernel's own types, read from `/sys/kernel/btf/vmlinux` through libbpf. Parsing it
//! costs tens of milliseconds, so the registry (`structs.rs`) loads it only when a script
//! names a type no script definition or built-in name covers.

use std::ffi::CString;

use libbpf_rs::btf::types::{self, MemberAttr};
use libbpf_rs::btf::{Btf, BtfKind, BtfType, HasSize, TypeId};
use libbpf_rs::AsRawLibbpf;

use super::structs::{Layout, Member};
use super::types::{StructRef, Type};
use crate::program::EnumDef;

/// Anonymous structs and unions get this name plus their BTF id, so a later field access
/// can find them again.
pub(crate) const ANON: &str = "<anon ";

pub struct KernelBtf {
    btf: Btf<'static>,
}

impl KernelBtf {
    /// The kernel's BTF, or the file `BPFTRACE_BTF` names; the error says why that file
    /// could not be used (a kernel without BTF is no error, only an absence).
    pub fn load() -> Result<Option<KernelBtf>, String> {
        match crate::probes::btf::types_file() {
            Some(path) => {
                // The error says it in our words; libbpf's own line would come first.
                let before = libbpf_rs::set_print(None);
                let btf = Btf::from_path(&path);
                libbpf_rs::set_print(before);
                btf.map(|btf| Some(KernelBtf { btf })).map_err(|e| {
                    format!(
                        "BPFTRACE_BTF names {}, which is not readable BTF: {e}",
                        path.display()
                    )
                })
            }
            None => Ok(Btf::from_vmlinux().ok().map(|btf| KernelBtf { btf })),
        }
    }

    fn by_id(&self, id: TypeId) -> Option<BtfType<'_>> {
        self.btf.type_by_id::<BtfType>(id)
    }

    fn find(&self, name: &str, kind: BtfKind) -> Option<BtfType<'_>> {
        let c = CString::new(name).ok()?;
        let id = unsafe {
            // SAFETY: the btf pointer is valid for `self`'s lifetime and `c` is NUL-terminated.
            libbpf_sys::btf__find_by_name_kind(
                self.btf.as_libbpf_object().as_ptr(),
                c.as_ptr(),
                kind as u32,
            )
        };
        u32::try_from(id).ok().and_then(|id| self.by_id(id.into()))
    }

    /// The layout of `struct X` / `union X` (or an anonymous one by its generated name).
    pub fn layout(&self, name: &str) -> Option<Layout> {
        let (kind, bare) = match name.split_once(' ') {
            Some(("struct", b)) => (BtfKind::Struct, b),
            Some(("union", b)) => (BtfKind::Union, b),
            _ => return None,
        };
        let t = match bare.strip_prefix(ANON).and_then(|r| r.strip_suffix('>')) {
            Some(id) => self.by_id(id.parse::<u32>().ok()?.into())?,
            None => self.find(bare, kind)?,
        };
        let c = types::Composite::try_from(t).ok()?;
        let mut members = vec![];
        self.flatten(&c, 0, &mut members);
        Some(Layout {
            r: self.struct_ref(t)?,
            members,
        })
    }

    /// Members of `c`, with those of unnamed inner structs and unions lifted up, as C
    /// lets them be named.
    fn flatten(&self, c: &types::Composite<'_>, base_bits: u64, out: &mut Vec<Member>) {
        for m in c.iter() {
            let (off, width) = match m.attr {
                MemberAttr::Normal { offset } => (offset as u64, None),
                MemberAttr::BitField { size, offset } => (offset as u64, Some(size as u32)),
            };
            let bits = base_bits + off;
            let Some(t) = self.by_id(m.ty) else { continue };
            let name = m.name.map(|n| n.to_string_lossy().into_owned());
            match name.filter(|n| !n.is_empty()) {
                Some(name) => out.push(Member {
                    name,
                    offset: bits / 8,
                    bitfield: width.map(|w| ((bits % 8) as u32, w)),
                    ty: self.to_type(t),
                }),
                None => {
                    if let Ok(inner) = types::Composite::try_from(t.skip_mods_and_typedefs()) {
                        self.flatten(&inner, bits, out);
                    }
                }
            }
        }
    }

    fn struct_ref(&self, t: BtfType<'_>) -> Option<StructRef> {
        let c = types::Composite::try_from(t).ok()?;
        let word = if c.is_struct { "struct" } else { "union" };
        let name = match t.name().map(|n| n.to_string_lossy()) {
            Some(n) if !n.is_empty() => format!("{word} {n}"),
            _ => format!("{word} {ANON}{}>", u32::from(t.type_id())),
        };
        Some(StructRef {
            name,
            size: c.size() as u64,
            align: t.alignment().map_or(8, |a| a.get() as u64),
        })
    }

    /// The type of the kernel variable `name` (per-CPU ones included).
    pub fn var_type(&self, name: &str) -> Option<Type> {
        let v = types::Var::try_from(self.find(name, BtfKind::Var)?).ok()?;
        Some(self.to_type(self.by_id(libbpf_rs::btf::ReferencesType::referenced_type_id(&v))?))
    }

    /// A typedef's type (`u64`, `gfp_t`, …).
    pub fn typedef(&self, name: &str) -> Option<Type> {
        self.find(name, BtfKind::Typedef).map(|t| self.to_type(t))
    }

    /// Every enum constant of the kernel by name, with its value and its enum's BTF id
    /// (built once, on the first unknown name).
    pub fn enum_constants(&self) -> std::collections::HashMap<String, (i64, u32)> {
        let mut out = std::collections::HashMap::new();
        for e in self.btf.type_by_kind::<types::Enum>() {
            let id = u32::from(e.type_id());
            for m in e.iter() {
                if let Some(n) = m.name {
                    out.insert(n.to_string_lossy().into_owned(), (m.value, id));
                }
            }
        }
        for e in self.btf.type_by_kind::<types::Enum64>() {
            let id = u32::from(e.type_id());
            for m in e.iter() {
                if let Some(n) = m.name {
                    out.insert(n.to_string_lossy().into_owned(), (m.value as i64, id));
                }
            }
        }
        out
    }

    /// `enum X` (`bare` is `X`).
    pub fn enum_def(&self, bare: &str) -> Option<EnumDef> {
        let t = self
            .find(bare, BtfKind::Enum)
            .or_else(|| self.find(bare, BtfKind::Enum64))?;
        self.enum_of(t)
    }

    pub fn enum_by_id(&self, id: u32) -> Option<EnumDef> {
        self.enum_of(self.by_id(id.into())?)
    }

    /// An enum's name, width and enumerators; anonymous ones are named by their BTF id.
    fn enum_of(&self, t: BtfType<'_>) -> Option<EnumDef> {
        let name = match t.name().map(|n| n.to_string_lossy()) {
            Some(n) if !n.is_empty() => format!("enum {n}"),
            _ => format!("enum {ANON}{}>", u32::from(t.type_id())),
        };
        let text = |n: Option<&std::ffi::OsStr>| n.map(|n| n.to_string_lossy().into_owned());
        if let Ok(e) = types::Enum::try_from(t) {
            let vs: Vec<(String, i64)> = e
                .iter()
                .filter_map(|m| Some((text(m.name)?, m.value)))
                .collect();
            return Some(EnumDef::new(name, int_bits(e.size()), &vs));
        }
        let e = types::Enum64::try_from(t).ok()?;
        let vs: Vec<(String, i64)> = e
            .iter()
            .filter_map(|m| Some((text(m.name)?, m.value as i64)))
            .collect();
        Some(EnumDef::new(name, int_bits(e.size()), &vs))
    }

    /// Every named struct, for "did you mean" (only on the error path: it walks all types).
    pub fn struct_names(&self) -> Vec<String> {
        self.btf
            .type_by_kind::<types::Struct>()
            .filter_map(|t| t.name().map(|n| n.to_string_lossy().into_owned()))
            .filter(|n| !n.is_empty())
            .collect()
    }

    /// spyglass's view of a BTF type: pointees are named, not expanded, so recursive
    /// types stay finite.
    pub fn to_type(&self, t: BtfType<'_>) -> Type {
        let t = t.skip_mods_and_typedefs();
        match t.kind() {
            BtfKind::Int => {
                let i = types::Int::try_from(t).expect("kind checked");
                match i.encoding {
                    types::IntEncoding::Bool => Type::Bool,
                    enc => Type::Int {
                        signed: matches!(
                            enc,
                            types::IntEncoding::Signed | types::IntEncoding::Char
                        ),
                        bits: int_bits(i.size()),
                    },
                }
            }
            BtfKind::Enum | BtfKind::Enum64 => self.enum_of(t).map_or(Type::UINT, Type::Enum),
            BtfKind::Ptr => {
                let to = t.next_type().map_or(Type::Void, |p| self.to_type(p));
                // Function pointers are addresses of code: `void *` to us.
                let to = if matches!(to, Type::Opaque(ref n) if n == "func") {
                    Type::Void
                } else {
                    to
                };
                Type::ptr(to, false)
            }
            BtfKind::Array => {
                let a = types::Array::try_from(t).expect("kind checked");
                let elem = self.to_type(a.contained_type());
                let len = a.capacity() as u64;
                match elem {
                    Type::Int { bits: 8, .. } => Type::Str { size: len as u32 },
                    elem => Type::Array {
                        elem: Box::new(elem),
                        len,
                    },
                }
            }
            BtfKind::Struct | BtfKind::Union => self
                .struct_ref(t)
                .map_or_else(|| Type::Opaque("struct".into()), Type::Struct),
            BtfKind::Fwd => {
                let word = match types::Fwd::try_from(t).map(|f| f.kind()) {
                    Ok(types::FwdKind::Union) => "union",
                    _ => "struct",
                };
                let name = t.name().map(|n| n.to_string_lossy().into_owned());
                Type::Opaque(format!("{word} {}", name.unwrap_or_default()))
            }
            BtfKind::FuncProto | BtfKind::Func => Type::Opaque("func".into()),
            BtfKind::Void => Type::Void,
            _ => Type::Opaque(
                t.name()
                    .map_or("?".into(), |n| n.to_string_lossy().into_owned()),
            ),
        }
    }
}

fn int_bits(size: usize) -> u8 {
    match size {
        1 => 8,
        2 => 16,
        4 => 32,
        _ => 64,
    }
}
