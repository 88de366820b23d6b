//! Lowering of pointers: `*p` reads the pointee with `bpf_probe_read_{user,kernel}`, `&$x`
//! is the address of the variable's frame slot, and pointer arithmetic moves by the
//! pointee's size. Pointers are plain 64-bit integers in registers.

use inkwell::values::IntValue;

use super::func::{helper, FnGen, Val};
use crate::diag::Result;
use crate::parser::ast::{BinOp, Expr};
use crate::sema::pointers::pointee_size;
use crate::sema::Type;

impl<'a, 'ctx> FnGen<'a, 'ctx> {
    pub(super) fn deref(&mut self, e: &Expr, operand: &Expr) -> Result<Val<'ctx>> {
        let p = self.expr(operand)?.int();
        let user = matches!(self.ck.ty(operand.id), Type::Ptr { user: true, .. });
        let t = self.ck.ty(e.id).clone();
        Ok(self.read_pointee(p, &t, user))
    }

    /// Reads a `t` at address `p`. A failed read leaves zeroes (the helpers clear the
    /// destination on error), as bpftrace's reads do.
    pub fn read_pointee(&self, p: IntValue<'ctx>, t: &Type, user: bool) -> Val<'ctx> {
        let field = t
            .field()
            .expect("sema: a dereference yields a storable value");
        let bytes = match t {
            Type::Int { bits, .. } => (*bits as usize) / 8,
            Type::Bool => 1,
            Type::Str { size } => *size as usize,
            _ => field.size(),
        };
        let buf = self.stack(field.size(), "deref");
        let src = self.b.build_int_to_ptr(p, self.ptr_type(), "src").unwrap();
        let read = if user {
            helper::PROBE_READ_USER
        } else {
            helper::PROBE_READ_KERNEL
        };
        self.helper_int(
            read,
            &[buf.into(), self.i64(bytes as u64).into(), src.into()],
        );
        match t {
            Type::Int { signed, bits } if *bits < 64 => {
                let narrow = self
                    .ctx
                    .custom_width_int_type(std::num::NonZeroU32::new(*bits as u32).unwrap())
                    .unwrap();
                let v = self
                    .b
                    .build_load(narrow, buf, "pointee")
                    .unwrap()
                    .into_int_value();
                let i64t = self.ctx.i64_type();
                Val::Int(if *signed {
                    self.b.build_int_s_extend(v, i64t, "sx").unwrap()
                } else {
                    self.b.build_int_z_extend(v, i64t, "zx").unwrap()
                })
            }
            Type::Bool => {
                let v = self
                    .b
                    .build_load(self.ctx.i8_type(), buf, "pointee")
                    .unwrap()
                    .into_int_value();
                let set = self
                    .b
                    .build_int_compare(
                        inkwell::IntPredicate::NE,
                        v,
                        self.ctx.i8_type().const_zero(),
                        "b",
                    )
                    .unwrap();
                Val::Int(self.widen(set))
            }
            _ => self.load_field(buf, &field),
        }
    }

    /// `&$x`: the address of the variable's slot in the frame.
    pub(super) fn addr_of(&mut self, operand: &Expr) -> Val<'ctx> {
        let (slot, _) = self.var_slot(&self.ck.var_slots[&operand.id].clone());
        Val::Int(
            self.b
                .build_ptr_to_int(slot, self.ctx.i64_type(), "addr")
                .unwrap(),
        )
    }

    /// `a op b` with a pointer on either side: `p ± n` moves by `n` pointees; comparisons
    /// are unsigned, as addresses are.
    pub(super) fn ptr_binary(&mut self, op: BinOp, lhs: &Expr, rhs: &Expr) -> Result<Val<'ctx>> {
        let (ta, tb) = (self.ck.ty(lhs.id).clone(), self.ck.ty(rhs.id).clone());
        let a = self.expr(lhs)?.int();
        let b = self.expr(rhs)?.int();
        Ok(Val::Int(match op {
            BinOp::Add | BinOp::Sub => {
                let (p, n, pt) = if ta.is_ptr() {
                    (a, b, &ta)
                } else {
                    (b, a, &tb)
                };
                let n = self.ptr_scale(n, pt);
                if op == BinOp::Add {
                    self.b.build_int_add(p, n, "padd").unwrap()
                } else {
                    self.b.build_int_sub(p, n, "psub").unwrap()
                }
            }
            _ => self.arith(op, a, b, false),
        }))
    }

    /// `n` pointees of pointer type `t` in bytes; `n` itself when `t` is not a pointer.
    pub fn ptr_scale(&self, n: IntValue<'ctx>, t: &Type) -> IntValue<'ctx> {
        match ptr_step(t) {
            1 => n,
            step => self.b.build_int_mul(n, self.i64(step), "pscale").unwrap(),
        }
    }
}

/// Bytes a `++` on a value of type `t` moves: the pointee's size for pointers, else 1.
pub fn ptr_step(t: &Type) -> u64 {
    match t {
        Type::Ptr { to, .. } => pointee_size(to).unwrap_or(1),
        _ => 1,
    }
}
