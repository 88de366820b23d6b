//! The struct registry and C type names. Script definitions (`struct Foo { … }`, laid out
//! in `cdefs.rs`) come first and override the kernel's BTF (`btf.rs`) of the same name;
//! BTF is loaded only when a name is not found otherwise, so scripts that never name a
//! kernel type never pay for parsing it.

use std::collections::HashMap;
use std::rc::Rc;

use super::btf::KernelBtf;
use super::types::{StructRef, Type};
use super::Checker;
use crate::diag::{Diagnostic, Result, Span};
use crate::program::EnumDef;

/// One field, as C lays it out. `offset` is in bytes; a bitfield also has its first bit
/// within that byte and its width.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub name: String,
    pub offset: u64,
    pub bitfield: Option<(u32, u32)>,
    pub ty: Type,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub r: StructRef,
    pub members: Vec<Member>,
}

#[derive(Default)]
pub struct Registry {
    script: HashMap<String, Rc<Layout>>,
    kernel_layouts: HashMap<String, Option<Rc<Layout>>>,
    /// `None` until first needed; then whether the kernel has BTF at all.
    kernel: Option<Option<KernelBtf>>,
    kernel_error: Option<String>,
    /// Script enums by name (anonymous ones get a made-up name), and their constants
    /// (value, enum name).
    script_enums: HashMap<String, EnumDef>,
    script_consts: HashMap<String, (i64, String)>,
    /// The kernel's constants: value and the BTF id of their enum.
    kernel_consts: Option<HashMap<String, (i64, u32)>>,
}

/// `struct X` or `union X`.
pub fn is_struct_name(name: &str) -> bool {
    name.starts_with("struct ") || name.starts_with("union ")
}

impl Registry {
    /// A script definition; a later one of the same name replaces it.
    pub fn define(&mut self, l: Layout) {
        self.script.insert(l.r.name.clone(), Rc::new(l));
    }

    /// A script enum (`name` is `enum X`, or empty when anonymous). Like C, it is 32 bits
    /// wide unless a value needs more.
    pub fn define_enum(&mut self, name: &str, variants: Vec<(String, i64)>) {
        let name = match name {
            "" => format!("enum <anon {}>", self.script_enums.len() + 1),
            n => n.to_string(),
        };
        let wide = variants
            .iter()
            .any(|(_, v)| *v < i32::MIN as i64 || *v > u32::MAX as i64);
        let def = EnumDef::new(name.clone(), if wide { 64 } else { 32 }, &variants);
        for (n, v) in variants {
            self.script_consts.insert(n, (v, name.clone()));
        }
        self.script_enums.insert(name, def);
    }

    /// An enum constant: the script's, else the kernel's (BTF is searched only on a miss).
    pub fn enum_value(&mut self, name: &str) -> Option<i64> {
        self.enum_const(name).map(|(v, _)| v)
    }

    /// An enum constant's value and its enum.
    pub fn enum_const(&mut self, name: &str) -> Option<(i64, EnumDef)> {
        if let Some((v, e)) = self.script_consts.get(name) {
            return Some((*v, self.script_enums[e].clone()));
        }
        if self.kernel_consts.is_none() {
            let consts = self.kernel().map(KernelBtf::enum_constants);
            self.kernel_consts = Some(consts.unwrap_or_default());
        }
        let (v, id) = *self.kernel_consts.as_ref()?.get(name)?;
        Some((v, self.kernel()?.enum_by_id(id)?))
    }

    fn kernel(&mut self) -> Option<&KernelBtf> {
        if self.kernel.is_none() {
            let (btf, error) = match KernelBtf::load() {
                Ok(btf) => (btf, None),
                Err(e) => (None, Some(e)),
            };
            self.kernel = Some(btf);
            self.kernel_error = error;
        }
        self.kernel.as_ref().and_then(Option::as_ref)
    }

    /// Why the kernel types named by `BPFTRACE_BTF` are missing, once they were needed.
    pub fn kernel_error(&self) -> Option<&str> {
        self.kernel_error.as_deref()
    }

    pub fn layout(&mut self, name: &str) -> Option<Rc<Layout>> {
        if let Some(l) = self.script.get(name) {
            return Some(l.clone());
        }
        if let Some(l) = self.kernel_layouts.get(name) {
            return l.clone();
        }
        let l = self.kernel().and_then(|k| k.layout(name)).map(Rc::new);
        self.kernel_layouts.insert(name.to_string(), l.clone());
        l
    }

    /// Whether `name`'s layout is the kernel's (from BTF), not a script definition.
    pub fn is_kernel(&self, name: &str) -> bool {
        !self.script.contains_key(name)
            && self.kernel_layouts.get(name).is_some_and(Option::is_some)
    }

    /// The type a C type name means: `struct Foo *`, `unsigned int`, `size_t`, `u64`, …
    /// The error is the message for an unknown name.
    pub fn resolve(&mut self, name: &str) -> std::result::Result<Type, String> {
        let name = name.trim();
        if let Some(base) = name.strip_suffix('*') {
            return Ok(Type::ptr(self.resolve(base)?, false));
        }
        if is_struct_name(name) {
            return match self.layout(name) {
                Some(l) => Ok(Type::Struct(l.r.clone())),
                None => Err(format!("unknown type `{name}`")),
            };
        }
        if let Some(bare) = name.strip_prefix("enum ") {
            let def = match self.script_enums.get(name) {
                Some(d) => Some(d.clone()),
                None => self.kernel().and_then(|k| k.enum_def(bare)),
            };
            return def
                .map(Type::Enum)
                .ok_or_else(|| format!("unknown type `{name}`"));
        }
        match Type::from_name(name) {
            Some(Type::Opaque(_)) | None => {}
            Some(t) => return Ok(t),
        }
        self.kernel()
            .and_then(|k| k.typedef(name))
            .ok_or_else(|| format!("unknown type `{name}`"))
    }

    /// Struct names for "did you mean": the script's, then (for `struct X`) the kernel's.
    pub fn names_like(&mut self, name: &str) -> Vec<String> {
        let mut names: Vec<String> = self.script.keys().cloned().collect();
        if name.starts_with("struct ") {
            if let Some(k) = self.kernel() {
                names.extend(k.struct_names().into_iter().map(|n| format!("struct {n}")));
            }
        }
        names
    }
}

impl Checker<'_> {
    /// A type named in a cast, `sizeof`, `offsetof` or a declaration.
    pub(crate) fn resolve_type(&mut self, name: &str, span: Span) -> Result<Type> {
        self.structs.resolve(name).map_err(|msg| {
            let base = name.trim_end_matches(['*', ' ']);
            let d = Diagnostic::error(msg, span);
            if let Some(why) = self.structs.kernel_error() {
                return d.with_note(why.to_string());
            }
            let names = self.structs.names_like(base);
            match super::suggest::closest(base, names.iter().map(String::as_str)) {
                Some(s) => d.with_label(format!("did you mean `{s}`?")),
                None if is_struct_name(base) => d.with_note(
                    "structs come from a definition in the script or from the kernel's BTF",
                ),
                None => d,
            }
        })
    }

    /// The layout behind a struct type (or a pointer's opaque pointee named `struct X`).
    pub(crate) fn struct_layout(&mut self, t: &Type, span: Span) -> Result<Rc<Layout>> {
        let name = match t {
            Type::Struct(r) => r.name.clone(),
            Type::Opaque(n) if is_struct_name(n) => n.clone(),
            other => {
                return Err(Diagnostic::error(
                    format!("{} is not a struct", other.describe_c()),
                    span,
                ))
            }
        };
        self.structs.layout(&name).ok_or_else(|| {
            let d = Diagnostic::error(format!("unknown type `{name}`"), span);
            match self.structs.kernel_error() {
                Some(why) => d.with_note(why.to_string()),
                None => d,
            }
        })
    }

    /// `layout`'s member `field`, or a diagnostic with the closest name.
    pub(crate) fn member(&self, layout: &Layout, field: &str, span: Span) -> Result<Member> {
        if let Some(m) = layout.members.iter().find(|m| m.name == field) {
            return Ok(m.clone());
        }
        let d = Diagnostic::error(
            format!("`{}` has no field named `{field}`", layout.r.name),
            span,
        );
        let names = layout.members.iter().map(|m| m.name.as_str());
        Err(match super::suggest::closest(field, names) {
            Some(s) => d.with_label(format!("did you mean `{s}`?")),
            None => d,
        })
    }
}
