//! Expression lowering.

use inkwell::values::{IntValue, PointerValue};
use inkwell::IntPredicate;

use super::func::{helper, FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::{BinOp, Expr, ExprKind, UnOp};
use crate::probes::ArgKind;
use crate::program::{FieldType, MapKind};
use crate::sema::Type;

impl<'a, 'ctx> FnGen<'a, 'ctx> {
    pub fn expr(&mut self, e: &Expr) -> Result<Val<'ctx>> {
        match &e.kind {
            ExprKind::Int(v) => Ok(Val::Int(self.i64(*v))),
            ExprKind::Bool(b) => Ok(Val::Int(self.i64(*b as u64))),
            ExprKind::Tuple(elems) => {
                let Some(FieldType::Tuple(fields)) = self.ck.ty(e.id).field() else {
                    unreachable!("tuple type")
                };
                let buf = self.stack(FieldType::Tuple(fields.clone()).size(), "tuple");
                self.aggregate_into(buf, &elems.iter().collect::<Vec<_>>(), &fields)?;
                Ok(Val::Tuple(buf, fields))
            }
            ExprKind::Record(fields) => {
                let Some(FieldType::Record(names, types)) = self.ck.ty(e.id).field() else {
                    unreachable!("record type")
                };
                let buf = self.stack(FieldType::Tuple(types.clone()).size(), "record");
                // Fields are evaluated in the order written.
                self.aggregate_into(
                    buf,
                    &fields.iter().map(|(_, x)| x).collect::<Vec<_>>(),
                    &types,
                )?;
                Ok(Val::Record(buf, names, types))
            }
            ExprKind::TupleIndex { base, index } => match self.expr(base)? {
                Val::Tuple(p, fields) => {
                    let off = FieldType::offsets(&fields)[*index as usize];
                    Ok(self.load_field(self.gep(p, off as u64), &fields[*index as usize]))
                }
                _ => unreachable!("sema: indexing a tuple"),
            },
            ExprKind::Cast { operand, .. }
                if self
                    .ck
                    .ty(e.id)
                    .field()
                    .is_some_and(|f| matches!(f, FieldType::Array { .. })) =>
            {
                self.cast_to_array(e, operand)
            }
            ExprKind::Cast { operand, .. }
                if matches!(self.ck.ty(operand.id), Type::Array { .. }) =>
            {
                self.cast_from_array(e, operand)
            }
            ExprKind::Index { base, index } => self.index(e, base, index),
            ExprKind::Cast { operand, .. } => {
                let v = self.expr(operand)?.int();
                Ok(Val::Int(self.cast(v, &self.ck.ty(e.id).clone())))
            }
            ExprKind::TypeName(_) => unreachable!("sema: a type is not a value"),
            ExprKind::Block { stmts, value } => {
                for s in stmts {
                    self.stmt(s)?;
                }
                match value {
                    Some(v) => self.expr(v),
                    None => Ok(Val::Void),
                }
            }
            ExprKind::Str(s) => Ok(self.str_const(s.as_bytes())),
            ExprKind::Ident(name) if name == "args" => self.args_record(e),
            // An enum constant.
            ExprKind::Ident(_) if self.ck.consts.contains_key(&e.id) => {
                Ok(Val::Int(self.i64(self.ck.consts[&e.id])))
            }
            ExprKind::Ident(name) => match self.lower.builtin(name) {
                Some(gen) => gen(self, e),
                None => {
                    let f = self
                        .lower
                        .function(name)
                        .expect("sema resolved the identifier");
                    f.gen(self, e, &[])
                }
            },
            ExprKind::Var(_) => {
                let (slot, t) = self.var_slot(&self.ck.var_slots[&e.id].clone());
                Ok(self.load_field(slot, &t.field().expect("variables hold storable values")))
            }
            ExprKind::Positional(n) if self.ck.options.portable => {
                let is_str = matches!(self.ck.ty(e.id), Type::Str { .. });
                Ok(self.param_value(&crate::params::Param::Positional(*n), is_str))
            }
            ExprKind::PositionalCount if self.ck.options.portable => {
                Ok(self.param_value(&crate::params::Param::Count, false))
            }
            ExprKind::Positional(n) => {
                let v = crate::parser::ast::positional(&self.ck.options.positional, *n).cloned();
                Ok(match self.ck.ty(e.id) {
                    Type::Str { .. } => self.str_const(v.unwrap_or_default().as_bytes()),
                    _ => {
                        let n = v.and_then(|v| crate::sema::parse_int(&v)).unwrap_or(0);
                        Val::Int(self.i64(n as u64))
                    }
                })
            }
            ExprKind::PositionalCount => {
                Ok(Val::Int(self.i64(self.ck.options.positional.len() as u64)))
            }
            ExprKind::Map { name, keys } => self.map_read(e, name, keys),
            ExprKind::Call { name, args, .. } => {
                let f = self.lower.function(name).expect("sema resolved the call");
                f.gen(self, e, args)
            }
            ExprKind::Binary {
                op: op @ (BinOp::Div | BinOp::Mod),
                lhs,
                rhs,
            } if self.ck.call_events.contains_key(&e.id) => self.checked_divide(e, *op, lhs, rhs),
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs),
            ExprKind::Unary {
                op: UnOp::Deref,
                operand,
            } => self.deref(e, operand),
            ExprKind::Unary {
                op: UnOp::AddrOf,
                operand,
            } => self.addr_of(operand),
            ExprKind::Unary { op, operand } => {
                let v = self.expr(operand)?.int();
                Ok(Val::Int(match op {
                    UnOp::Neg => self.b.build_int_neg(v, "neg").unwrap(),
                    UnOp::BitNot => self.b.build_not(v, "not").unwrap(),
                    UnOp::Not => {
                        let z = self
                            .b
                            .build_int_compare(IntPredicate::EQ, v, self.i64(0), "z")
                            .unwrap();
                        self.widen(z)
                    }
                    UnOp::Plus | UnOp::Deref | UnOp::AddrOf => v,
                }))
            }
            ExprKind::Ternary {
                cond,
                then,
                otherwise,
            } => self.ternary(e, cond, then, otherwise),
            ExprKind::Field { base, field }
                if matches!(self.ck.ty(base.id), crate::sema::Type::Record(..)) =>
            {
                match self.expr(base)? {
                    Val::Record(p, names, types) => {
                        let i = names
                            .iter()
                            .position(|n| n == field)
                            .expect("sema checked the field");
                        let off = FieldType::offsets(&types)[i];
                        Ok(self.load_field(self.gep(p, off as u64), &types[i]))
                    }
                    _ => unreachable!("a record value"),
                }
            }
            ExprKind::Field { base, .. } if self.ck.struct_fields.contains_key(&e.id) => {
                self.struct_field(e, base)
            }
            ExprKind::Field { field, .. } => self.arg_field(e, field),
            ExprKind::IncDec {
                target,
                increment,
                prefix,
            } => {
                let old = self.expr(target)?.int();
                // A pointer steps by its pointee's size.
                let one = self.i64(super::pointers::ptr_step(self.ck.ty(e.id)));
                let new = if *increment {
                    self.b.build_int_add(old, one, "inc").unwrap()
                } else {
                    self.b.build_int_sub(old, one, "dec").unwrap()
                };
                self.writing(target, |g| g.store_to(target, Val::Int(new)))?;
                Ok(Val::Int(if *prefix { new } else { old }))
            }
        }
    }

    /// Truncates to the target width and extends back to 64 bits by its signedness.
    pub fn cast(&self, v: IntValue<'ctx>, to: &Type) -> IntValue<'ctx> {
        match (to, to.int_parts()) {
            (Type::Bool, _) => self.widen(self.truthy(v)),
            (_, Some((_, 64))) => v,
            (_, Some((signed, bits))) => {
                let narrow = self
                    .ctx
                    .custom_width_int_type(std::num::NonZeroU32::new(bits as u32).unwrap())
                    .unwrap();
                let t = self.b.build_int_truncate(v, narrow, "trunc").unwrap();
                let i64t = self.ctx.i64_type();
                if signed {
                    self.b.build_int_s_extend(t, i64t, "sext").unwrap()
                } else {
                    self.b.build_int_z_extend(t, i64t, "zext").unwrap()
                }
            }
            _ => v,
        }
    }

    pub fn widen(&self, b: IntValue<'ctx>) -> IntValue<'ctx> {
        self.b
            .build_int_z_extend(b, self.ctx.i64_type(), "w")
            .unwrap()
    }

    /// A string literal in a fresh stack buffer (written with plain stores: constant data
    /// sections would need relocations).
    /// A parameter an artifact reads from its slot in `.rodata` (`crate::params`): an
    /// integer, or a string copied out of it.
    pub fn param_value(&self, param: &crate::params::Param, is_str: bool) -> Val<'ctx> {
        use inkwell::values::BasicValue;
        let slot = self.ck.param_slot(param, is_str);
        let at = 8 * crate::program::rodata::LEN as u64 + slot.offset as u64;
        let src = self.gep(self.globals.rodata.as_pointer_value(), at);
        match slot.kind {
            crate::params::SlotKind::Int => {
                let l = self
                    .b
                    .build_load(self.ctx.i64_type(), src, "param")
                    .unwrap();
                // Volatile: filled in by the runtime, never known at compile time.
                l.as_instruction_value()
                    .unwrap()
                    .set_volatile(true)
                    .unwrap();
                Val::Int(l.into_int_value())
            }
            crate::params::SlotKind::Str(size) => {
                let buf = self.stack(size as usize, "param");
                let words = size.div_ceil(8) as u64;
                for i in 0..words {
                    let l = self
                        .b
                        .build_load(self.ctx.i64_type(), self.gep(src, 8 * i), "param")
                        .unwrap();
                    l.as_instruction_value()
                        .unwrap()
                        .set_volatile(true)
                        .unwrap();
                    self.store_i64(self.gep(buf, 8 * i), l.into_int_value());
                }
                Val::Str(buf, size)
            }
        }
    }

    pub fn str_const(&self, bytes: &[u8]) -> Val<'ctx> {
        let size = bytes.len() + 1;
        let buf = self.stack(size, "str");
        for (i, chunk) in bytes.chunks(8).enumerate() {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.store_i64(
                self.gep(buf, i as u64 * 8),
                self.i64(u64::from_le_bytes(word)),
            );
        }
        Val::Str(buf, size as u32)
    }

    fn map_read(&mut self, e: &Expr, name: &str, keys: &[Expr]) -> Result<Val<'ctx>> {
        let (id, spec) = self.ck.map(name);
        let MapKind::Value(f) = &spec.kind else {
            return self.agg_read(id, keys);
        };
        let f = f.clone();
        let key = self.map_key(id, keys, None)?;
        let out = self.stack(f.size(), "mapval");
        let p = self.lookup(id, key);
        let size = f.size() as u64;
        self.if_null(
            p,
            |g| {
                g.copy(out, p, size, true);
                Ok(())
            },
            // `-k`: sema arranged a warning for a missing element.
            |g| {
                if let Some(&ev) = g.ck.call_events.get(&e.id) {
                    g.warn(ev);
                }
                Ok(())
            },
        )?;
        Ok(self.load_field(out, &f))
    }

    fn binary(&mut self, op: BinOp, lhs: &Expr, rhs: &Expr) -> Result<Val<'ctx>> {
        if matches!(op, BinOp::LogAnd | BinOp::LogOr) {
            return self.logical(op, lhs, rhs);
        }
        if self.ck.ty(lhs.id).is_ptr() || self.ck.ty(rhs.id).is_ptr() {
            return self.ptr_binary(op, lhs, rhs);
        }
        let a = self.expr(lhs)?;
        let b = self.expr(rhs)?;
        if let (
            Type::Buf { size: sa },
            Type::Buf { size: sb },
            Val::Tuple(pa, _),
            Val::Tuple(pb, _),
        ) = (self.ck.ty(lhs.id), self.ck.ty(rhs.id), &a, &b)
        {
            let eq = buf_eq(self, *pa, *sa, *pb, *sb);
            let eq = if op == BinOp::Ne {
                self.b.build_not(eq, "ne").unwrap()
            } else {
                eq
            };
            return Ok(Val::Int(self.widen(eq)));
        }
        if let (
            Val::Tuple(pa, f) | Val::Record(pa, _, f),
            Val::Tuple(pb, _) | Val::Record(pb, _, _),
        ) = (&a, &b)
        {
            // Same type (sema): the same layout, padding zeroed where the values were built.
            let size: usize = FieldType::offsets(f).last().copied().unwrap_or(0)
                + f.last().map_or(0, FieldType::size);
            let eq = bytes_eq(self, *pa, *pb, size as u64);
            let eq = if op == BinOp::Ne {
                self.b.build_not(eq, "ne").unwrap()
            } else {
                eq
            };
            return Ok(Val::Int(self.widen(eq)));
        }
        if let (Val::Str(pa, sa), Val::Str(pb, sb)) = (&a, &b) {
            let (pa, sa, pb, sb) = (*pa, *sa, *pb, *sb);
            let eq = self.str_eq(pa, sa, pb, sb);
            let eq = if op == BinOp::Ne {
                self.b.build_not(eq, "ne").unwrap()
            } else {
                eq
            };
            return Ok(Val::Int(self.widen(eq)));
        }
        let signed = self.is_signed(lhs) || self.is_signed(rhs);
        Ok(Val::Int(self.arith(op, a.int(), b.int(), signed)))
    }

    /// `/` or `%` whose divisor may be zero at run time: warn (sema's event) when it is.
    fn checked_divide(&mut self, e: &Expr, op: BinOp, lhs: &Expr, rhs: &Expr) -> Result<Val<'ctx>> {
        let a = self.expr(lhs)?.int();
        let b = self.expr(rhs)?.int();
        self.warn_if_zero(b, self.ck.call_events[&e.id]);
        let signed = self.is_signed(lhs) || self.is_signed(rhs);
        Ok(Val::Int(self.arith(op, a, b, signed)))
    }

    /// Whether `e` makes an operation with it signed (see `Expr::is_flexible_literal`).
    fn is_signed(&self, e: &Expr) -> bool {
        self.ck.ty(e.id).is_signed() && !e.is_flexible_literal()
    }

    /// Integer arithmetic and comparisons with bpftrace's signedness rules. BPF (v3) has
    /// only unsigned division, so signed `/` and `%` go through magnitudes.
    pub fn arith(
        &self,
        op: BinOp,
        a: IntValue<'ctx>,
        b: IntValue<'ctx>,
        signed: bool,
    ) -> IntValue<'ctx> {
        let bl = &self.b;
        let cmp = |p: IntPredicate| self.widen(bl.build_int_compare(p, a, b, "cmp").unwrap());
        let (lt, le, gt, ge) = if signed {
            (
                IntPredicate::SLT,
                IntPredicate::SLE,
                IntPredicate::SGT,
                IntPredicate::SGE,
            )
        } else {
            (
                IntPredicate::ULT,
                IntPredicate::ULE,
                IntPredicate::UGT,
                IntPredicate::UGE,
            )
        };
        match op {
            BinOp::Add => bl.build_int_add(a, b, "add").unwrap(),
            BinOp::Sub => bl.build_int_sub(a, b, "sub").unwrap(),
            BinOp::Mul => bl.build_int_mul(a, b, "mul").unwrap(),
            BinOp::Div | BinOp::Mod => self.divmod(op, a, b, signed),
            BinOp::BitAnd => bl.build_and(a, b, "and").unwrap(),
            BinOp::BitOr => bl.build_or(a, b, "or").unwrap(),
            BinOp::BitXor => bl.build_xor(a, b, "xor").unwrap(),
            BinOp::Shl => bl.build_left_shift(a, b, "shl").unwrap(),
            BinOp::Shr => bl.build_right_shift(a, b, signed, "shr").unwrap(),
            BinOp::Eq => cmp(IntPredicate::EQ),
            BinOp::Ne => cmp(IntPredicate::NE),
            BinOp::Lt => cmp(lt),
            BinOp::Le => cmp(le),
            BinOp::Gt => cmp(gt),
            BinOp::Ge => cmp(ge),
            BinOp::LogAnd | BinOp::LogOr => unreachable!("handled with short-circuit"),
        }
    }

    /// Sends warning event `ev` when the divisor `b` is zero.
    pub fn warn_if_zero(&mut self, b: IntValue<'ctx>, ev: usize) {
        let zero = self
            .b
            .build_int_compare(IntPredicate::EQ, b, self.i64(0), "divisor_zero")
            .unwrap();
        let (warn, go) = (self.block("div_warn"), self.block("div_go"));
        self.b.build_conditional_branch(zero, warn, go).unwrap();
        self.b.position_at_end(warn);
        self.warn(ev);
        self.b.build_unconditional_branch(go).unwrap();
        self.b.position_at_end(go);
    }

    /// `/` and `%` as bpftrace defines them: a zero divisor gives 1 (LLVM would call it
    /// undefined and the kernel would give 0 or the dividend). Constant divisors fold away.
    fn divmod(
        &self,
        op: BinOp,
        a: IntValue<'ctx>,
        b: IntValue<'ctx>,
        signed: bool,
    ) -> IntValue<'ctx> {
        let bl = &self.b;
        let one = self.i64(1);
        let is_zero = bl
            .build_int_compare(IntPredicate::EQ, b, self.i64(0), "divzero")
            .unwrap();
        let b = bl
            .build_select(is_zero, one, b, "divisor")
            .unwrap()
            .into_int_value();
        let r = match op {
            _ if signed => self.signed_divmod(op, a, b),
            BinOp::Div => bl.build_int_unsigned_div(a, b, "div").unwrap(),
            _ => bl.build_int_unsigned_rem(a, b, "rem").unwrap(),
        };
        bl.build_select(is_zero, one, r, "quot")
            .unwrap()
            .into_int_value()
    }

    fn signed_divmod(&self, op: BinOp, a: IntValue<'ctx>, b: IntValue<'ctx>) -> IntValue<'ctx> {
        let bl = &self.b;
        let zero = self.i64(0);
        let abs = |v: IntValue<'ctx>| {
            let neg = bl
                .build_int_compare(IntPredicate::SLT, v, zero, "isneg")
                .unwrap();
            let n = bl.build_int_neg(v, "n").unwrap();
            (
                neg,
                bl.build_select(neg, n, v, "abs").unwrap().into_int_value(),
            )
        };
        let (an, aa) = abs(a);
        let (bn, ba) = abs(b);
        let (mag, neg) = if op == BinOp::Div {
            (
                bl.build_int_unsigned_div(aa, ba, "q").unwrap(),
                bl.build_xor(an, bn, "sign").unwrap(),
            )
        } else {
            // C: the remainder takes the dividend's sign.
            (bl.build_int_unsigned_rem(aa, ba, "r").unwrap(), an)
        };
        let n = bl.build_int_neg(mag, "nm").unwrap();
        bl.build_select(neg, n, mag, "sd").unwrap().into_int_value()
    }

    /// `a && b`, `a || b`, short-circuit. The result is a phi, not a stack slot: a chain of
    /// thousands of `&&` would otherwise give LLVM thousands of slots to promote, each over
    /// every block of the chain.
    fn logical(&mut self, op: BinOp, lhs: &Expr, rhs: &Expr) -> Result<Val<'ctx>> {
        let a = self.expr(lhs)?.int();
        let a = self.truthy(a);
        let a_end = self.b.get_insert_block().unwrap();
        let (more, done) = (self.block("rhs"), self.block("logic_done"));
        // `a && b` needs b only when a holds; `a || b` only when it does not.
        if op == BinOp::LogAnd {
            self.b.build_conditional_branch(a, more, done).unwrap();
        } else {
            self.b.build_conditional_branch(a, done, more).unwrap();
        }
        self.b.position_at_end(more);
        let b = self.expr(rhs)?.int();
        let b = self.truthy(b);
        let b_end = self.b.get_insert_block().unwrap();
        self.b.build_unconditional_branch(done).unwrap();
        self.b.position_at_end(done);
        let phi = self.b.build_phi(self.ctx.bool_type(), "logic").unwrap();
        phi.add_incoming(&[(&a, a_end), (&b, b_end)]);
        Ok(Val::Int(self.widen(phi.as_basic_value().into_int_value())))
    }

    /// Byte-wise string equality up to the first NUL, unrolled (bounded by the buffer sizes).
    pub fn str_eq(
        &self,
        a: inkwell::values::PointerValue<'ctx>,
        sa: u32,
        b: inkwell::values::PointerValue<'ctx>,
        sb: u32,
    ) -> IntValue<'ctx> {
        let out = self.stack(8, "streq");
        let i8t = self.ctx.i8_type();
        let (equal, differ, done) = (
            self.block("str_equal"),
            self.block("str_differ"),
            self.block("str_done"),
        );
        let n = sa.min(sb);
        for i in 0..n as u64 {
            let ca = self
                .b
                .build_load(i8t, self.gep(a, i), "ca")
                .unwrap()
                .into_int_value();
            let cb = self
                .b
                .build_load(i8t, self.gep(b, i), "cb")
                .unwrap()
                .into_int_value();
            let same = self
                .b
                .build_int_compare(IntPredicate::EQ, ca, cb, "same")
                .unwrap();
            let next = self.block("str_next");
            let check_end = self.block("str_chk");
            self.b
                .build_conditional_branch(same, check_end, differ)
                .unwrap();
            self.b.position_at_end(check_end);
            let end = self
                .b
                .build_int_compare(IntPredicate::EQ, ca, i8t.const_zero(), "end")
                .unwrap();
            self.b.build_conditional_branch(end, equal, next).unwrap();
            self.b.position_at_end(next);
        }
        // All of the shorter buffer matched without a NUL: equal only if the longer one ends here.
        if sa == sb {
            self.b.build_unconditional_branch(equal).unwrap();
        } else {
            let longer = if sa > sb { a } else { b };
            let c = self
                .b
                .build_load(i8t, self.gep(longer, n as u64), "cl")
                .unwrap()
                .into_int_value();
            let end = self
                .b
                .build_int_compare(IntPredicate::EQ, c, i8t.const_zero(), "end")
                .unwrap();
            self.b.build_conditional_branch(end, equal, differ).unwrap();
        }
        self.b.position_at_end(equal);
        self.store_i64(out, self.i64(1));
        self.b.build_unconditional_branch(done).unwrap();
        self.b.position_at_end(differ);
        self.store_i64(out, self.i64(0));
        self.b.build_unconditional_branch(done).unwrap();
        self.b.position_at_end(done);
        let v = self.load_i64(out);
        self.truthy(v)
    }

    fn ternary(
        &mut self,
        e: &Expr,
        cond: &Expr,
        then: &Expr,
        otherwise: &Expr,
    ) -> Result<Val<'ctx>> {
        // A void `?:` (both arms statements) needs no result slot.
        let f = self.ck.ty(e.id).field();
        let out = f.as_ref().map(|f| self.stack(f.size(), "tern"));
        let c = self.expr(cond)?.int();
        let c = self.truthy(c);
        let (bt, bf, done) = (
            self.block("tern_t"),
            self.block("tern_f"),
            self.block("tern_done"),
        );
        self.b.build_conditional_branch(c, bt, bf).unwrap();
        for (block, arm) in [(bt, then), (bf, otherwise)] {
            self.b.position_at_end(block);
            let v = self.expr(arm)?;
            if let (Some(out), Some(f)) = (out, &f) {
                self.zero(out, f.size());
                self.store_field(out, v, f);
            }
            self.b.build_unconditional_branch(done).unwrap();
        }
        self.b.position_at_end(done);
        Ok(match (out, &f) {
            (Some(out), Some(f)) => self.load_field(out, f),
            _ => Val::Void,
        })
    }

    /// `args` as a value: every field, into a record.
    fn args_record(&mut self, e: &Expr) -> Result<Val<'ctx>> {
        let Type::Record(names, types) = self.ck.ty(e.id).clone() else {
            // `args.x` reads its field; `args` alone has no value of its own.
            return Ok(Val::Void);
        };
        let fields: Vec<FieldType> = types
            .iter()
            .map(|t| t.field().expect("sema: storable"))
            .collect();
        let buf = self.stack(FieldType::Tuple(fields.clone()).size(), "args");
        let args = self.point.args.clone().unwrap_or_default();
        for ((f, t), (ft, off)) in args
            .iter()
            .zip(&types)
            .zip(fields.iter().zip(FieldType::offsets(&fields)))
        {
            let v = self.arg_read(f, t);
            self.store_field(self.gep(buf, off as u64), v, ft);
        }
        Ok(Val::Record(buf, names, fields))
    }

    fn arg_field(&mut self, e: &Expr, field: &str) -> Result<Val<'ctx>> {
        let fields = self.point.args.as_deref().unwrap_or(&[]);
        let f = fields
            .iter()
            .find(|f| f.name == field)
            .ok_or_else(|| Diagnostic::error(format!("no argument `{field}` here"), e.span))?
            .clone();
        let ty = self.ck.ty(e.id).clone();
        Ok(self.arg_read(&f, &ty))
    }

    /// One field of `args`, of type `ty`.
    fn arg_read(&mut self, f: &crate::probes::ArgField, ty: &Type) -> Val<'ctx> {
        if f.on_stack {
            // Passed on the stack: user memory above the return address.
            let sp_at = self.gep(self.ctx_ptr, crate::probes::pt_regs::SP as u64);
            let sp = self.load_i64(sp_at);
            let at = self
                .b
                .build_int_add(sp, self.i64(f.offset as u64), "stackarg")
                .unwrap();
            return self.read_pointee(at, ty, true);
        }
        let at = self.gep(self.ctx_ptr, f.offset as u64);
        match f.kind {
            // `unsigned long args[6]`: copied out, like a char array.
            ArgKind::Int if matches!(ty, Type::Array { .. }) => {
                let field = ty.field().expect("sema: a storable array");
                let buf = self.stack(field.size(), "args");
                self.helper_int(
                    helper::PROBE_READ_KERNEL,
                    &[buf.into(), self.i64(f.size as u64).into(), at.into()],
                );
                Val::Tuple(buf, vec![field])
            }
            ArgKind::Int | ArgKind::Pointer { .. } => {
                let size = f.size.clamp(1, 8);
                let ty = self
                    .ctx
                    .custom_width_int_type(std::num::NonZeroU32::new(size * 8).unwrap())
                    .unwrap();
                let v = self.b.build_load(ty, at, "arg").unwrap().into_int_value();
                let i64t = self.ctx.i64_type();
                Val::Int(if size == 8 {
                    v
                } else if f.signed {
                    self.b.build_int_s_extend(v, i64t, "sx").unwrap()
                } else {
                    self.b.build_int_z_extend(v, i64t, "zx").unwrap()
                })
            }
            ArgKind::CharArray { len } => {
                let buf = self.stack(len as usize + 1, "chars");
                self.helper_int(
                    helper::PROBE_READ_KERNEL,
                    &[buf.into(), self.i64(len as u64).into(), at.into()],
                );
                Val::Str(buf, len)
            }
            ArgKind::DataLocStr => {
                // The u32 holds the payload's offset (low 16 bits) and length (high 16 bits).
                let loc = self
                    .b
                    .build_load(self.ctx.i32_type(), at, "loc")
                    .unwrap()
                    .into_int_value();
                let loc = self
                    .b
                    .build_int_z_extend(loc, self.ctx.i64_type(), "loc64")
                    .unwrap();
                let off = self.b.build_and(loc, self.i64(0xffff), "dloff").unwrap();
                let src = unsafe {
                    self.b
                        .build_gep(self.ctx.i8_type(), self.ctx_ptr, &[off], "dl")
                        .unwrap()
                };
                let size = self.ck.options.strlen;
                let buf = self.stack(size as usize, "dlstr");
                self.helper_int(
                    helper::PROBE_READ_KERNEL_STR,
                    &[buf.into(), self.i64(size as u64).into(), src.into()],
                );
                Val::Str(buf, size)
            }
        }
    }
}

impl<'ctx> FnGen<'_, 'ctx> {
    /// Writes the elements of a tuple or record literal at `dest`. An element that is itself
    /// such a literal, laid out as its slot, is written in place: a copy per level would
    /// make nested literals quadratic in size, and LLVM's promotion of the copies worse.
    fn aggregate_into(
        &mut self,
        dest: PointerValue<'ctx>,
        elems: &[&Expr],
        fields: &[FieldType],
    ) -> Result<()> {
        for ((x, f), off) in elems.iter().zip(fields).zip(FieldType::offsets(fields)) {
            let at = self.gep(dest, off as u64);
            match (&x.kind, f) {
                (ExprKind::Tuple(inner), FieldType::Tuple(fs))
                    if self.ck.ty(x.id).field().as_ref() == Some(f) =>
                {
                    self.aggregate_into(at, &inner.iter().collect::<Vec<_>>(), fs)?
                }
                (ExprKind::Record(inner), FieldType::Record(_, fs))
                    if self.ck.ty(x.id).field().as_ref() == Some(f) =>
                {
                    self.aggregate_into(at, &inner.iter().map(|(_, x)| x).collect::<Vec<_>>(), fs)?
                }
                _ => {
                    let v = self.expr(x)?;
                    self.store_field(at, v, f);
                }
            }
        }
        Ok(())
    }
}

/// Equality of two buffers: same length and same bytes. Both are NUL-padded past their
/// length, so comparing whole words over the smaller capacity decides it.
pub fn buf_eq<'ctx>(
    g: &FnGen<'_, 'ctx>,
    a: inkwell::values::PointerValue<'ctx>,
    sa: u32,
    b: inkwell::values::PointerValue<'ctx>,
    sb: u32,
) -> inkwell::values::IntValue<'ctx> {
    bytes_eq(g, a, b, 8 + sa.min(sb) as u64)
}

/// Whether `n` bytes (rounded up to whole words, which both buffers have) are equal.
pub fn bytes_eq<'ctx>(
    g: &FnGen<'_, 'ctx>,
    a: inkwell::values::PointerValue<'ctx>,
    b: inkwell::values::PointerValue<'ctx>,
    n: u64,
) -> inkwell::values::IntValue<'ctx> {
    let mut eq = g.ctx.bool_type().const_int(1, false);
    for w in 0..n.div_ceil(8) {
        let x = g.load_i64(g.gep(a, 8 * w));
        let y = g.load_i64(g.gep(b, 8 * w));
        let same =
            g.b.build_int_compare(IntPredicate::EQ, x, y, "same")
                .unwrap();
        eq = g.b.build_and(eq, same, "eq").unwrap();
    }
    eq
}
