//! `memcmp(a, b, n)`, `str_concat(a, b)` and `strcap(s)`: byte-level operations on values
//! that live in memory (strings, tuples, records).

use inkwell::values::{BasicValue, IntValue, PointerValue};
use inkwell::IntPredicate;

use super::{Lowering, TypeRule};
use crate::codegen::func::helper;
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::Expr;
use crate::sema::{CallCheck, Type};

pub struct Memcmp;
pub struct StrConcat;
pub struct Strcap;

/// A value's bytes in memory: its address and size.
fn memory<'ctx>(g: &mut FnGen<'_, 'ctx>, e: &Expr) -> Result<(PointerValue<'ctx>, u64)> {
    Ok(match g.expr(e)? {
        Val::Str(p, n) => (p, n as u64),
        Val::Tuple(p, fs) | Val::Record(p, _, fs) => (p, fs.iter().map(|f| f.size() as u64).sum()),
        Val::Int(v) => {
            let p = g.stack(8, "int");
            g.store_i64(p, v);
            (p, 8)
        }
        Val::Void => unreachable!("sema: a value"),
    })
}

fn byte<'ctx>(g: &FnGen<'_, 'ctx>, p: PointerValue<'ctx>, i: u64) -> IntValue<'ctx> {
    let c =
        g.b.build_load(g.ctx.i8_type(), g.gep(p, i), "c")
            .unwrap()
            .into_int_value();
    g.b.build_int_z_extend(c, g.ctx.i64_type(), "cz").unwrap()
}

impl TypeRule for Memcmp {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(3, 3)?;
        for i in 0..2 {
            let t = c.value(i)?;
            if !matches!(
                t,
                Type::Str { .. } | Type::Tuple(_) | Type::Record(..) | Type::Int { .. }
            ) {
                return Err(Diagnostic::error(
                    "memcmp() compares strings, tuples, records or integers",
                    c.args[i].span,
                )
                .with_label(format!("this is {}", t.describe())));
            }
        }
        c.int(2, "memcmp()'s byte count")?;
        Ok(Type::INT)
    }
}

impl Lowering for Memcmp {
    /// The difference of the first differing bytes within the count (and both values), as
    /// C's memcmp; straight-line code over the smaller value's bytes.
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let (pa, sa) = memory(g, &args[0])?;
        let (pb, sb) = memory(g, &args[1])?;
        let n = g.expr(&args[2])?.int();
        // Arithmetic only (0/1 flags times values): selects would become branches.
        let (mut result, mut decided) = (g.i64(0), g.i64(0));
        for i in 0..sa.min(sb) {
            let d =
                g.b.build_int_sub(byte(g, pa, i), byte(g, pb, i), "d")
                    .unwrap();
            let within =
                g.b.build_int_compare(IntPredicate::ULT, g.i64(i), n, "within")
                    .unwrap();
            let differs =
                g.b.build_int_compare(IntPredicate::NE, d, g.i64(0), "ne")
                    .unwrap();
            let take = g.widen(g.b.build_and(within, differs, "take").unwrap());
            let take =
                g.b.build_and(
                    take,
                    g.b.build_xor(decided, g.i64(1), "nd").unwrap(),
                    "take",
                )
                .unwrap();
            let add = g.b.build_int_mul(take, d, "add").unwrap();
            result = g.b.build_int_add(result, add, "r").unwrap();
            decided = g.b.build_or(decided, take, "decided").unwrap();
        }
        Ok(Val::Int(result))
    }
}

fn string_size(c: &mut CallCheck, i: usize, what: &str) -> Result<u32> {
    match c.value(i)? {
        Type::Str { size } => Ok(size),
        t => Err(
            Diagnostic::error(format!("{what} must be a string"), c.args[i].span)
                .with_label(format!("this is {}", t.describe())),
        ),
    }
}

impl TypeRule for StrConcat {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(2, 2)?;
        let a = string_size(c, 0, "str_concat()'s first argument")?;
        let b = string_size(c, 1, "str_concat()'s second argument")?;
        Ok(Type::Str { size: a + b - 1 })
    }
}

impl Lowering for StrConcat {
    /// The first string is copied whole; the second is read (as a string, so it stops at
    /// its NUL) to where the first one's text ends.
    fn gen<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        call: &Expr,
        args: &[Expr],
    ) -> Result<Val<'ctx>> {
        let Type::Str { size } = *g.ck.ty(call.id) else {
            unreachable!("str_concat() is a string")
        };
        let (pa, sa) = memory(g, &args[0])?;
        let (pb, sb) = memory(g, &args[1])?;
        let out = g.stack(size as usize, "concat");
        g.copy(out, pa, sa, true);
        // The first string's length (bounded by its size less one, as the verifier sees). It goes through the stack (volatile) so LLVM cannot turn the
        // pointer addition into an `or`, which the verifier refuses on pointers.
        let len = super::strfuncs::length(g, pa, (sa as u32).saturating_sub(1));
        let slot = g.stack(8, "len");
        g.b.build_store(slot, len)
            .unwrap()
            .set_volatile(true)
            .unwrap();
        let len = g.b.build_load(g.ctx.i64_type(), slot, "len").unwrap();
        len.as_instruction_value()
            .unwrap()
            .set_volatile(true)
            .unwrap();
        let dst = unsafe {
            g.b.build_gep(g.ctx.i8_type(), out, &[len.into_int_value()], "tail")
                .unwrap()
        };
        g.helper_int(
            helper::PROBE_READ_KERNEL_STR,
            &[dst.into(), g.i64(sb).into(), pb.into()],
        );
        Ok(Val::Str(out, size))
    }
}

impl TypeRule for Strcap {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 1)?;
        let cap = match c.ck.expr(&c.args[0])? {
            Type::Str { size } => size as u64,
            Type::Array { len, .. } => len,
            Type::Ptr { .. } => c.options().strlen as u64,
            t => {
                return Err(Diagnostic::error("strcap() needs a string", c.args[0].span)
                    .with_label(format!("this is {}", t.describe())))
            }
        };
        c.ck.consts.insert(c.call.id, cap);
        Ok(Type::INT)
    }
}

impl Lowering for Strcap {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, e: &Expr, _: &[Expr]) -> Result<Val<'ctx>> {
        super::meta::gen_constant(g, e)
    }
}
