//! Struct fields: `p->f` and `p.f` on a pointer to a struct (bpftrace lets `.` follow a
//! pointer too), `s.f` on a struct reached through one (`curtask->se.vruntime`), and struct
//! values used as values, which become records of their fields.

use super::structs::is_struct_name;
use super::{Checker, Type};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::{Expr, ExprKind, UnOp};

/// Where a field access reads: `offset` bytes past its base (the pointer's value when
/// `via_ptr`, else the base struct's own address); bitfields as (first bit, width).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldAccess {
    pub offset: u64,
    pub bitfield: Option<(u32, u32)>,
    pub user: bool,
    pub via_ptr: bool,
}

/// One field of a struct copied into a record; `inner` holds a nested struct's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub name: String,
    pub offset: u64,
    pub bitfield: Option<(u32, u32)>,
    pub ty: Type,
    pub inner: Vec<Part>,
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
        self.struct_fields.insert(
            e.id,
            FieldAccess {
                offset: m.offset,
                bitfield: m.bitfield,
                user,
                via_ptr,
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
        let (rec, parts) = self.record_of(t, e, 0)?;
        self.struct_values.insert(e.id, parts);
        self.set_type(e.id, rec.clone());
        Ok(rec)
    }

    fn record_of(&mut self, t: &Type, e: &Expr, depth: u32) -> Result<(Type, Vec<Part>)> {
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
            let (ty, inner) = match &m.ty {
                Type::Struct(_) if depth < 4 => self.record_of(&m.ty, e, depth + 1)?,
                t @ (Type::Int { .. } | Type::Bool | Type::Ptr { .. } | Type::Str { .. }) => {
                    (t.clone(), vec![])
                }
                // Arrays and deeper nesting are left out of the copy.
                _ => continue,
            };
            let part_ty = if inner.is_empty() { m.ty.clone() } else { ty.clone() };
            names.push(m.name.clone());
            types.push(ty);
            parts.push(Part {
                name: m.name.clone(),
                offset: m.offset,
                bitfield: m.bitfield,
                ty: part_ty,
                inner,
            });
        }
        Ok((Type::Record(names, types), parts))
    }
}

/// A pointer read from user memory points into user memory too.
fn in_space(t: Type, user: bool) -> Type {
    match t {
        Type::Ptr { to, .. } if user => Type::Ptr { to, user },
        t => t,
    }
}
