//! CO-RE bookkeeping for artifacts (`Options::portable`): which kernel struct fields the
//! program reads, so codegen can emit them as BTF relocations that libbpf fixes up for the
//! kernel the artifact runs on, and which layouts it still uses as they are on the kernel
//! it was built on (bitfields, copies, `sizeof`), so a run elsewhere can warn about them.

use std::collections::{BTreeMap, BTreeSet};

use super::fields::FieldAccess;
use super::structs::{Layout, Member};
use super::Checker;
use crate::parser::ast::{Expr, ExprKind};

/// A field read through a relocation: member `member` of the kernel type `strukt`
/// (`struct task_struct`).
#[derive(Debug, Clone, PartialEq)]
pub struct CoreField {
    pub strukt: String,
    pub member: String,
}

/// The part of a kernel struct or union the program reads: its size and the members
/// accessed (by name; members of unnamed inner structs and unions are lifted, as libbpf
/// finds them by name however they nest).
#[derive(Debug, Clone, PartialEq)]
pub struct CoreStruct {
    pub size: u64,
    pub align: u64,
    pub union: bool,
    pub members: BTreeMap<String, Member>,
}

/// Both halves, as the checked program carries them.
#[derive(Debug, Clone, Default)]
pub struct CoreInfo {
    pub structs: BTreeMap<String, CoreStruct>,
    /// `struct X.f` (or `struct X` for whole-struct uses) read at this kernel's layout.
    pub fixed: BTreeSet<String>,
}

impl Checker<'_> {
    /// The relocation for reading `m` of `layout` from `base`, or `None` (then the read
    /// uses the offset as it is here, noted in `CoreInfo::fixed` when it is a kernel type).
    pub(crate) fn core_field(
        &mut self,
        layout: &Layout,
        m: &Member,
        via_ptr: bool,
        base: &Expr,
    ) -> Option<CoreField> {
        if !self.opts.portable {
            return None;
        }
        let chained = !via_ptr
            && matches!(base.kind, ExprKind::Field { .. })
            && self
                .struct_fields
                .get(&base.id)
                .is_some_and(|a: &FieldAccess| a.core.is_some());
        self.core_member(layout, m, chained)
    }

    /// As `core_field`, for member `m` of a struct reached at its own address (`chained`:
    /// as a member on a relocated path).
    pub(crate) fn core_member(&mut self, layout: &Layout, m: &Member, chained: bool) -> Option<CoreField> {
        if !self.opts.portable || !self.structs.is_kernel(&layout.r.name) {
            return None;
        }
        // An anonymous type has no name to find it by on another kernel: it is reachable
        // only as a member on a relocated path, which LLVM folds into one relocation.
        let union = layout.r.name.starts_with("union ");
        let anonymous = layout.r.name.contains(super::btf::ANON);
        // Union members lifted from inner structs sit at offsets BTF does not allow in a
        // union; LLVM refuses bitfields that leave their struct's alignment window.
        let bits_fit = m.bitfield.is_none_or(|(first, width)| {
            let window = 8 * layout.r.align.clamp(1, 8);
            let start = 8 * m.offset + first as u64;
            (width as u64) <= window && (start & !(window - 1)) + window >= start + width as u64
        });
        if !bits_fit || (anonymous && !chained) || (union && (m.offset != 0 || m.bitfield.is_some())) {
            self.fixed_layout(&layout.r.name, Some(&m.name));
            return None;
        }
        self.core
            .structs
            .entry(layout.r.name.clone())
            .or_insert_with(|| CoreStruct {
                size: layout.r.size,
                align: layout.r.align,
                union,
                members: BTreeMap::new(),
            })
            .members
            .insert(m.name.clone(), m.clone());
        Some(CoreField {
            strukt: layout.r.name.clone(),
            member: m.name.clone(),
        })
    }

    /// Notes that the program uses kernel type `name` (its member `member`) with the
    /// layout of the kernel it is compiled on.
    pub(crate) fn fixed_layout(&mut self, name: &str, member: Option<&str>) {
        if self.opts.portable && self.structs.is_kernel(name) {
            let what = match member {
                Some(m) => format!("{name}.{m}"),
                None => name.to_string(),
            };
            self.core.fixed.insert(what);
        }
    }
}
