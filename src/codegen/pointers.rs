//! Lowering of pointers: `*p` reads the pointee with `bpf_probe_read_{user,kernel}`, `&$x`
//! is the address of the variable's frame slot, and pointer arithmetic moves by the
//! pointee's size. Pointers are plain 64-bit integers in registers.

use inkwell::values::{IntValue, PointerValue};
use inkwell::IntPredicate;

use super::func::{helper, FnGen, Val};
use crate::diag::Result;
use crate::parser::ast::{BinOp, Expr, ExprKind, UnOp};
use crate::program::FieldType;
use crate::sema::fields::Part;
use crate::sema::pointers::pointee_size;
use crate::sema::Type;

impl<'a, 'ctx> FnGen<'a, 'ctx> {
    pub(super) fn deref(&mut self, e: &Expr, operand: &Expr) -> Result<Val<'ctx>> {
        let p = self.expr(operand)?.int();
        let user = matches!(self.ck.ty(operand.id), Type::Ptr { user: true, .. });
        if let Some(parts) = self.ck.struct_values.get(&e.id) {
            return Ok(self.copy_struct(p, user, parts));
        }
        let t = self.ck.ty(e.id).clone();
        if t.field().is_none() {
            // A struct read for nothing (`*curtask;` as a statement): there is no value.
            return Ok(Val::Void);
        }
        Ok(self.read_pointee(p, &t, user))
    }

    /// `base.f` / `base->f` on a struct: reads the field at its offset from the struct's
    /// address, or copies it into a record when the field is itself a struct used as a value.
    pub(super) fn struct_field(&mut self, e: &Expr, base: &Expr) -> Result<Val<'ctx>> {
        if let Some(v) = self.ctx_member(e, base) {
            return Ok(v);
        }
        let a = &self.ck.struct_fields[&e.id];
        if a.core.is_some() && a.bitfield.is_some() {
            let (t, user) = (self.ck.ty(e.id).clone(), a.user);
            return self.core_bitfield(e, base, &t, user);
        }
        let (addr, user) = self.struct_addr(e, base)?;
        if let Some(parts) = self.ck.struct_values.get(&e.id) {
            return Ok(self.copy_struct(addr, user, parts));
        }
        let a = &self.ck.struct_fields[&e.id];
        let t = self.ck.ty(e.id).clone();
        if t.field().is_none() {
            return Ok(Val::Void);
        }
        Ok(self.read_member(addr, &t, a.bitfield, user))
    }

    /// `ctx.sk_common` as the argument of `path()` or `socket_cookie()`: a pointer member
    /// of a typed context (iter probes) loaded straight from the context, so the verifier
    /// keeps its BTF type, then checked for NULL before anything is added to it. Elsewhere
    /// members are read through a helper, as plain numbers any arithmetic may use.
    fn ctx_member(&mut self, e: &Expr, base: &Expr) -> Option<Val<'ctx>> {
        let null = self.btf_null_exit?;
        if !matches!(&base.kind, ExprKind::Ident(n) if n == "ctx") {
            return None;
        }
        let a = &self.ck.struct_fields[&e.id];
        if !a.via_ptr || a.bitfield.is_some() || !matches!(self.ck.ty(e.id), Type::Ptr { .. }) {
            return None;
        }
        let at = self.gep(self.ctx_ptr, a.offset);
        let v = self.load_i64(at);
        let is_null = self
            .b
            .build_int_compare(IntPredicate::EQ, v, self.i64(0), "isnull")
            .unwrap();
        let go = self.block("btf_ok");
        self.b.build_conditional_branch(is_null, null, go).unwrap();
        self.b.position_at_end(go);
        Some(Val::Int(v))
    }

    /// The address field access `e` reads (its base's address plus the field's offset), and
    /// whether it is in user memory.
    pub(super) fn struct_addr(&mut self, e: &Expr, base: &Expr) -> Result<(IntValue<'ctx>, bool)> {
        let a = self.ck.struct_fields[&e.id].clone();
        if a.core.is_some() {
            let (_, p) = self.core_addr(e, base)?;
            let addr = self
                .b
                .build_ptr_to_int(p, self.ctx.i64_type(), "field")
                .unwrap();
            return Ok((addr, a.user));
        }
        let start = if a.via_ptr {
            self.expr(base)?.int()
        } else {
            match &base.kind {
                ExprKind::Field { base: inner, .. } => self.struct_addr(base, inner)?.0,
                ExprKind::Unary {
                    op: UnOp::Deref,
                    operand,
                } => self.expr(operand)?.int(),
                _ => unreachable!("sema: a struct without an address has no fields"),
            }
        };
        let addr = match a.offset {
            0 => start,
            off => self.b.build_int_add(start, self.i64(off), "field").unwrap(),
        };
        Ok((addr, a.user))
    }

    /// A member of type `t` at `addr`; a bitfield is read as the bytes covering it, then
    /// shifted down and masked (sign-extended when signed).
    fn read_member(
        &self,
        addr: IntValue<'ctx>,
        t: &Type,
        bitfield: Option<(u32, u32)>,
        user: bool,
    ) -> Val<'ctx> {
        let Some((first, width)) = bitfield else {
            return self.read_pointee(addr, t, user);
        };
        let bytes = (first + width).div_ceil(8).next_power_of_two().min(8) as u8;
        let raw = Type::Int {
            signed: false,
            bits: bytes * 8,
        };
        let v = self.read_pointee(addr, &raw, user).int();
        let b = &self.b;
        let up = b
            .build_left_shift(v, self.i64(64 - (first + width) as u64), "bf_up")
            .unwrap();
        let signed = t.is_signed();
        let down = b
            .build_right_shift(up, self.i64(64 - width as u64), signed, "bf")
            .unwrap();
        Val::Int(down)
    }

    /// Copies the struct at `addr` into a record, field by field.
    /// In an artifact, members are addressed through relocations from `base` (the struct's
    /// address as a pointer, kept along a chain of nested structs).
    fn copy_struct(&self, addr: IntValue<'ctx>, user: bool, parts: &[Part]) -> Val<'ctx> {
        self.copy_struct_from(addr, None, user, parts)
    }

    fn copy_struct_from(
        &self,
        addr: IntValue<'ctx>,
        base: Option<PointerValue<'ctx>>,
        user: bool,
        parts: &[Part],
    ) -> Val<'ctx> {
        let fields: Vec<FieldType> = parts
            .iter()
            .map(|p| p.ty.field().expect("sema copies storable fields"))
            .collect();
        let buf = self.stack(FieldType::Tuple(fields.clone()).size(), "struct");
        for ((p, f), off) in parts.iter().zip(&fields).zip(FieldType::offsets(&fields)) {
            let (at, field) = match &p.core {
                Some(core) => {
                    let root = base.unwrap_or_else(|| {
                        self.b
                            .build_int_to_ptr(addr, self.ptr_type(), "base")
                            .unwrap()
                    });
                    let fp = self.globals.core_access(
                        self.ctx,
                        self.module,
                        &self.b,
                        self.ck,
                        root,
                        core,
                    );
                    let at = self
                        .b
                        .build_ptr_to_int(fp, self.ctx.i64_type(), "member")
                        .unwrap();
                    (at, Some(fp))
                }
                None => match p.offset {
                    0 => (addr, None),
                    o => (
                        self.b.build_int_add(addr, self.i64(o), "member").unwrap(),
                        None,
                    ),
                },
            };
            let v = if p.inner.is_empty() {
                self.read_member(at, &p.ty, p.bitfield, user)
            } else {
                self.copy_struct_from(at, field, user, &p.inner)
            };
            self.store_field(self.gep(buf, off as u64), v, f);
        }
        let names = parts.iter().map(|p| p.name.clone()).collect();
        Val::Record(buf, names, fields)
    }

    /// Reads a `t` at address `p`. A failed read leaves zeroes (the helpers clear the
    /// destination on error), as bpftrace's reads do.
    pub fn read_pointee(&self, p: IntValue<'ctx>, t: &Type, user: bool) -> Val<'ctx> {
        let field = t
            .field()
            .expect("sema: a dereference yields a storable value");
        let bytes = match t {
            Type::Int { .. } | Type::Enum(_) | Type::Bool | Type::Array { .. } => {
                t.c_layout().0 as usize
            }
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
        self.load_c(buf, t)
    }

    /// A value of C type `t` at `p`, laid out as C does: narrow integers are extended by
    /// their signedness, a bool is any nonzero byte; other types are as stored.
    pub fn load_c(&self, p: PointerValue<'ctx>, t: &Type) -> Val<'ctx> {
        match (t, t.int_parts()) {
            (_, Some((signed, bits))) if bits < 64 => {
                let narrow = self
                    .ctx
                    .custom_width_int_type(std::num::NonZeroU32::new(bits as u32).unwrap())
                    .unwrap();
                let v = self
                    .b
                    .build_load(narrow, p, "pointee")
                    .unwrap()
                    .into_int_value();
                if let Some(i) = v.as_instruction() {
                    let _ = i.set_alignment(bits as u32 / 8);
                }
                let i64t = self.ctx.i64_type();
                Val::Int(if signed {
                    self.b.build_int_s_extend(v, i64t, "sx").unwrap()
                } else {
                    self.b.build_int_z_extend(v, i64t, "zx").unwrap()
                })
            }
            (Type::Bool, _) => {
                let v = self
                    .b
                    .build_load(self.ctx.i8_type(), p, "pointee")
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
            _ => self.load_field(p, &t.field().expect("sema: a storable value")),
        }
    }

    /// `&$x`: the address of the variable's slot in the frame.
    pub(super) fn addr_of(&mut self, operand: &Expr) -> Result<Val<'ctx>> {
        if let ExprKind::Field { base, .. } = &operand.kind {
            if self.ck.struct_fields.contains_key(&operand.id) {
                return Ok(Val::Int(self.struct_addr(operand, base)?.0));
            }
        }
        let (slot, _) = self.var_slot(&self.ck.var_slots[&operand.id].clone());
        Ok(Val::Int(
            self.b
                .build_ptr_to_int(slot, self.ctx.i64_type(), "addr")
                .unwrap(),
        ))
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

impl<'a, 'ctx> FnGen<'a, 'ctx> {
    /// `base[index]`. Arrays reached through a pointer and pointers read just the element;
    /// arrays and strings held as values are read in place, an index past the end
    /// giving 0 (the verifier needs the bound anyway).
    pub(super) fn index(&mut self, e: &Expr, base: &Expr, index: &Expr) -> Result<Val<'ctx>> {
        let bt = self.ck.ty(base.id).clone();
        let et = self.ck.ty(e.id).clone();
        if let Type::Tuple(_) = bt {
            let ExprKind::Int(i) = index.kind else {
                unreachable!("sema: a constant tuple index")
            };
            let Val::Tuple(p, fields) = self.expr(base)? else {
                unreachable!("sema: a tuple")
            };
            let off = FieldType::offsets(&fields)[i as usize];
            return Ok(self.load_field(self.gep(p, off as u64), &fields[i as usize]));
        }
        let (es, len) = match &bt {
            Type::Array { elem, len } => (elem.c_layout().0, *len),
            Type::Str { size } => (1, *size as u64),
            Type::Ptr { to, .. } => (pointee_size(to).unwrap_or(1), 0),
            _ => unreachable!("sema: an indexable type"),
        };
        // A struct's array field: its address is known, so only the element is read.
        let addressed = matches!(bt, Type::Array { .. })
            && self.ck.struct_fields.contains_key(&base.id)
            && !self.ck.struct_values.contains_key(&base.id);
        if let (true, ExprKind::Field { base: inner, .. }) = (addressed, &base.kind) {
            let (addr, user) = self.struct_addr(base, inner)?;
            let i = self.expr(index)?.int();
            let i = self.bounds_check(e, i, len);
            let at = self
                .b
                .build_int_add(addr, self.scaled(i, es), "elem")
                .unwrap();
            return Ok(self.read_pointee(at, &et, user));
        }
        if let Type::Ptr { user, .. } = bt {
            let p = self.expr(base)?.int();
            let i = self.expr(index)?.int();
            let at = self.b.build_int_add(p, self.scaled(i, es), "elem").unwrap();
            return Ok(self.read_pointee(at, &et, user));
        }
        let p = match self.expr(base)? {
            Val::Tuple(p, _) | Val::Str(p, _) => p,
            _ => unreachable!("sema: an array or string value"),
        };
        let i = self.expr(index)?.int();
        self.bounds_check(e, i, len);
        let b = &self.b;
        let ok = b
            .build_int_compare(IntPredicate::ULT, i, self.i64(len), "inrange")
            .unwrap();
        let safe = b
            .build_select(ok, i, self.i64(0), "idx")
            .unwrap()
            .into_int_value();
        let off = self.scaled(safe, es);
        let at = unsafe { b.build_gep(self.ctx.i8_type(), p, &[off], "elem").unwrap() };
        Ok(match self.load_c(at, &et) {
            Val::Int(v) => Val::Int(
                self.b
                    .build_select(ok, v, self.i64(0), "elemv")
                    .unwrap()
                    .into_int_value(),
            ),
            v => v,
        })
    }

    /// Reports an index outside `0..len` (sema's event for `e`); gives the index to use,
    /// 0 when it is out of range.
    fn bounds_check(&mut self, e: &Expr, i: IntValue<'ctx>, len: u64) -> IntValue<'ctx> {
        let ok = self
            .b
            .build_int_compare(IntPredicate::ULT, i, self.i64(len), "inrange")
            .unwrap();
        if let Some(&ev) = self.ck.call_events.get(&e.id) {
            let (bad, go) = (self.block("out_of_bounds"), self.block("in_bounds"));
            self.b.build_conditional_branch(ok, go, bad).unwrap();
            self.b.position_at_end(bad);
            self.warn(ev);
            self.b.build_unconditional_branch(go).unwrap();
            self.b.position_at_end(go);
        }
        self.b
            .build_select(ok, i, self.i64(0), "idx")
            .unwrap()
            .into_int_value()
    }

    fn scaled(&self, i: IntValue<'ctx>, size: u64) -> IntValue<'ctx> {
        match size {
            1 => i,
            n => self.b.build_int_mul(i, self.i64(n), "scaled").unwrap(),
        }
    }

    /// `(int8[8])x`: the integer's 8 bytes (or the string's) in a buffer read as the array.
    pub(super) fn cast_to_array(&mut self, e: &Expr, operand: &Expr) -> Result<Val<'ctx>> {
        let field = self.ck.ty(e.id).field().expect("sema: an integer array");
        let buf = self.stack(field.size().max(8), "array");
        match self.expr(operand)? {
            Val::Int(v) => self.store_i64(buf, v),
            Val::Str(p, size) => {
                let n = (size as usize).min(field.size());
                self.copy(buf, p, n as u64, false);
            }
            _ => unreachable!("sema: an integer or a string"),
        }
        Ok(Val::Tuple(buf, vec![field]))
    }

    /// `(uint64)arr`: an integer array's bytes as one integer of the same size.
    pub(super) fn cast_from_array(&mut self, e: &Expr, operand: &Expr) -> Result<Val<'ctx>> {
        let Val::Tuple(p, _) = self.expr(operand)? else {
            unreachable!("an array value")
        };
        Ok(self.load_c(p, &self.ck.ty(e.id).clone()))
    }
}

/// Bytes a `++` on a value of type `t` moves: the pointee's size for pointers, else 1.
pub fn ptr_step(t: &Type) -> u64 {
    match t {
        Type::Ptr { to, .. } => pointee_size(to).unwrap_or(1),
        _ => 1,
    }
}
