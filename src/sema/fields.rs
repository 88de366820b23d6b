//! Struct fields: `p->f` and `p.f` on a pointer to a struct (bpftrace lets `.` follow a
//! pointer too), `s.f` on a struct reached through one (`curtask->se.vruntime`), and struct
//! values used as values, which become records of their fields. Also `a[i]` on arrays,
//! strings, pointers and tuples.

use super::structs::is_struct_name;
use super::{Checker, Type};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::{Expr, ExprKind, UnOp};
use crate::probes::ArgField;

/// Where a field access reads: `offset` bytes past its base (the pointer's value when
/// `via_ptr`, else the base struct's own address); bitfields as (first bit, width).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldAccess {
    pub offset: u64,
    pub bitfield: Option<(u32, u32)>,
    pub user: bool,
    pub via_ptr: bool,
    /// Read through a CO-RE relocation (artifacts), not at `offset` as such.
    pub core: Option<super::core::CoreField>,
}

/// One field of a struct copied into a record; `inner` holds a nested struct's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub name: String,
    pub offset: u64,
    pub bitfield: Option<(u32, u32)>,
    pub ty: Type,
    pub inner: Vec<Part>,
    /// Read through a CO-RE relocation from the struct's address (artifacts).
    pub core: Option<super::core::CoreField>,
}

/// Bigger structs are not copied whole: the BPF stack is 512 bytes.
const MAX_COPY: u64 = 256;

/// Whether `t` is a struct, or a pointer to one, that fields can be read from.
pub fn has_fields(t: &Type) -> bool {
    match t {
        Type::Struct(_) => true,
        Type::Ptr { to, .. } => match &**to {
            Type::Struct(_) => true,
            Type::Opaque(n) => is_struct_name(n),
            _ => false,
        },
        _ => false,
    }
}

impl Checker<'_> {
    /// `base.field` where `has_fields(bt)`.
    pub(crate) fn struct_field(
        &mut self,
        e: &Expr,
        base: &Expr,
        bt: &Type,
        field: &str,
    ) -> Result<Type> {
        let (st, via_ptr, user) = match bt {
            Type::Ptr { to, user } => ((**to).clone(), true, *user),
            t => (t.clone(), false, self.struct_user(base)?),
        };
        let layout = self.struct_layout(&st, base.span)?;
        let field_span = (e.span.1 - field.len(), e.span.1);
        let m = self.member(&layout, field, field_span)?;
        let core = self.core_field(&layout, &m, via_ptr, base);
        self.struct_fields.insert(
            e.id,
            FieldAccess {
                offset: m.offset,
                bitfield: m.bitfield,
                user,
                via_ptr,
                core,
            },
        );
        Ok(in_space(m.ty, user))
    }

    /// Whether the struct `e` evaluates to lives in user memory; an error when it has no
    /// address to read it from.
    fn struct_user(&self, e: &Expr) -> Result<bool> {
        match &e.kind {
            ExprKind::Field { .. } if self.struct_fields.contains_key(&e.id) => {
                Ok(self.struct_fields[&e.id].user)
            }
            ExprKind::Unary {
                op: UnOp::Deref,
                operand,
            } => Ok(matches!(
                self.types.get(operand.id as usize),
                Some(Type::Ptr { user: true, .. })
            )),
            _ => Err(Diagnostic::error(
                "this struct has no address to read its fields from",
                e.span,
            )
            .with_note("fields can be read through a pointer, e.g. `p->field` or `(*p).field`")),
        }
    }

    /// A struct used as a value (printed, stored, compared) is copied into a record.
    pub(crate) fn struct_value(&mut self, e: &Expr, t: &Type) -> Result<Type> {
        self.struct_user(e)?;
        let (rec, parts) = self.record_of(t, e, 0, false)?;
        self.struct_values.insert(e.id, parts);
        self.set_type(e.id, rec.clone());
        Ok(rec)
    }

    /// `chained`: the struct is itself a relocated member (artifacts).
    fn record_of(
        &mut self,
        t: &Type,
        e: &Expr,
        depth: u32,
        chained: bool,
    ) -> Result<(Type, Vec<Part>)> {
        let layout = self.struct_layout(t, e.span)?;
        if layout.r.size > MAX_COPY {
            return Err(Diagnostic::error(
                // No size in the message: for kernel structs it varies between kernels.
                format!("`{}` is too large to copy as a value", layout.r.name),
                e.span,
            )
            .with_note(format!(
                "read its fields instead; structs up to {MAX_COPY} bytes can be copied"
            )));
        }
        let (mut names, mut types, mut parts) = (vec![], vec![], vec![]);
        for m in &layout.members {
            // Bitfields of a copy are read at the build kernel's offsets (and recorded so).
            let core = match m.bitfield {
                None => self.core_member(&layout, m, chained),
                Some(_) => {
                    self.fixed_layout(&layout.r.name, Some(&m.name));
                    None
                }
            };
            let (ty, inner) = match &m.ty {
                Type::Struct(_) if depth < 4 => {
                    self.record_of(&m.ty, e, depth + 1, core.is_some())?
                }
                t @ (Type::Int { .. }
                | Type::Bool
                | Type::Ptr { .. }
                | Type::Str { .. }
                | Type::Enum(_)) => (t.clone(), vec![]),
                t @ Type::Array { .. } if t.field().is_some() => (t.clone(), vec![]),
                // Arrays and deeper nesting are left out of the copy.
                _ => continue,
            };
            let part_ty = if inner.is_empty() {
                m.ty.clone()
            } else {
                ty.clone()
            };
            names.push(m.name.clone());
            types.push(ty);
            parts.push(Part {
                name: m.name.clone(),
                offset: m.offset,
                bitfield: m.bitfield,
                ty: part_ty,
                inner,
                core,
            });
        }
        Ok((Type::Record(names, types), parts))
    }
}

impl Checker<'_> {
    /// `base[index]`: an element of an array or a string (a constant index must be in
    /// range), the `index`th value a pointer points to, or a tuple's element at a
    /// constant index.
    pub(crate) fn index(&mut self, e: &Expr, base: &Expr, index: &Expr) -> Result<Type> {
        let bt = self.expr(base)?;
        self.int_expr(index, "an index")?;
        let konst = match index.kind {
            ExprKind::Int(v) => Some(v),
            _ => None,
        };
        let in_range = |len: u64| match konst {
            Some(i) if i >= len => Err(Diagnostic::error(
                format!("index {i} is out of range for {}", bt.describe()),
                index.span,
            )
            .with_note(match len {
                0 => "it has no elements".to_string(),
                n => format!("its indexes are 0 to {}", n - 1),
            })),
            _ => Ok(()),
        };
        // A run-time index out of range reads 0 and reports it, as bpftrace does.
        if konst.is_none() && matches!(bt, Type::Array { .. } | Type::Str { .. }) {
            self.bounds_error(e, index);
        }
        match &bt {
            Type::Array { elem, len } if elem.field().is_some() => {
                in_range(*len)?;
                Ok((**elem).clone())
            }
            Type::Str { size } => {
                in_range(*size as u64)?;
                Ok(Type::Int {
                    signed: true,
                    bits: 8,
                })
            }
            Type::Ptr { to, user } if to.is_int() || to.is_ptr() => {
                Ok(in_space((**to).clone(), *user))
            }
            Type::Tuple(elems) => {
                let Some(i) = konst else {
                    return Err(Diagnostic::error(
                        "a tuple's index must be a constant integer",
                        index.span,
                    ));
                };
                in_range(elems.len() as u64)?;
                Ok(elems[i as usize].clone())
            }
            t => Err(Diagnostic::error(format!("{} cannot be indexed", t.describe()), base.span)
                .with_label(format!("this is {}", t.describe()))
                .with_note("arrays, strings, pointers to integers or pointers, and tuples can be indexed")),
        }
    }

    /// The type of an integer tracepoint field: an enum by its name, an array when the
    /// field holds several of its C type (`unsigned long args[6]`).
    pub(crate) fn tp_int_type(&mut self, f: &ArgField) -> Type {
        let plain = Type::Int {
            signed: f.signed,
            bits: (f.size.clamp(1, 8) * 8) as u8,
        };
        let c = f.c_type.trim_start_matches("const ").trim();
        if c.starts_with("enum ") {
            if let Ok(Type::Enum(mut d)) = self.structs.resolve(c) {
                d.bits = plain.int_parts().map_or(32, |(_, b)| b);
                return Type::Enum(d);
            }
        }
        if f.size > 8 {
            let elem = super::pointers::from_c_type(c, false);
            let es = elem.c_layout().0;
            if elem.is_int() && es > 0 && (f.size as u64).is_multiple_of(es) {
                return Type::Array {
                    elem: Box::new(elem),
                    len: f.size as u64 / es,
                };
            }
        }
        plain
    }
}

/// A pointer read from user memory points into user memory too.
fn in_space(t: Type, user: bool) -> Type {
    match t {
        Type::Ptr { to, .. } if user => Type::Ptr { to, user },
        t => t,
    }
}
