//! CO-RE bookkeeping for artifacts (`Options::portable`): which kernel struct fields the
//! program reads, and which `sizeof`/`offsetof`/`container_of` values it computes, so
//! codegen can emit them as BTF relocations that libbpf fixes up for the kernel the
//! artifact runs on; and which layouts it still uses as they are on the kernel it was built
//! on (bitfields of copies, sizes needed as constants), so a run elsewhere can warn.

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

/// A layout value computed where the program runs: `sizeof` a kernel type, or the offset
/// of a member path (`offsetof`, `container_of`).
#[derive(Debug, Clone, PartialEq)]
pub enum CoreConst {
    Size(String),
    Offset(Vec<CoreField>),
}

/// Both halves, as the checked program carries them.
#[derive(Debug, Clone, Default)]
pub struct CoreInfo {
    pub structs: BTreeMap<String, CoreStruct>,
    /// `struct X.f` (or `struct X` for whole-struct uses) read at this kernel's layout.
    pub fixed: BTreeSet<String>,
    /// Relocated layout values, by the call's id, with what they name (`struct X.f`):
    /// that is fixed instead where the value is needed while compiling.
    pub consts: std::collections::HashMap<crate::parser::ast::ExprId, (CoreConst, String)>,
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
    pub(crate) fn core_member(
        &mut self,
        layout: &Layout,
        m: &Member,
        chained: bool,
    ) -> Option<CoreField> {
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
        if !bits_fit
            || (anonymous && !chained)
            || (union && (m.offset != 0 || m.bitfield.is_some()))
        {
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

    /// `sizeof` kernel type `name` (call `id`) is computed where the program runs.
    pub(crate) fn core_size(
        &mut self,
        id: crate::parser::ast::ExprId,
        r: &super::types::StructRef,
    ) {
        if !self.opts.portable || !self.structs.is_kernel(&r.name) {
            return;
        }
        if r.name.contains(super::btf::ANON) {
            return self.fixed_layout(&r.name, None);
        }
        self.core
            .structs
            .entry(r.name.clone())
            .or_insert_with(|| CoreStruct {
                size: r.size,
                align: r.align,
                union: r.name.starts_with("union "),
                members: BTreeMap::new(),
            });
        self.core
            .consts
            .insert(id, (CoreConst::Size(r.name.clone()), r.name.clone()));
    }

    /// The offset of a member path (call `id`), relocated when every step is.
    pub(crate) fn core_offset(
        &mut self,
        id: crate::parser::ast::ExprId,
        steps: &[(std::rc::Rc<Layout>, Member)],
    ) {
        let Some((first, _)) = steps.first() else {
            return;
        };
        let what = format!(
            "{}.{}",
            first.r.name,
            steps
                .iter()
                .map(|(_, m)| m.name.as_str())
                .collect::<Vec<_>>()
                .join(".")
        );
        let chain: Option<Vec<CoreField>> = steps
            .iter()
            .enumerate()
            .map(|(i, (l, m))| self.core_member(l, m, i > 0))
            .collect();
        match chain {
            Some(chain) => {
                self.core
                    .consts
                    .insert(id, (CoreConst::Offset(chain), what));
            }
            None => {
                for (l, m) in steps {
                    self.fixed_layout(&l.r.name, Some(&m.name));
                }
            }
        }
    }

    /// A relocated layout value used as a constant while compiling: it is the build
    /// kernel's.
    pub(crate) fn core_const_used(&self, id: crate::parser::ast::ExprId) {
        if let Some((_, what)) = self.core.consts.get(&id) {
            self.core_consts_fixed.borrow_mut().insert(what.clone());
        }
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
