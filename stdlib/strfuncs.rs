//! `strlen`, `strncmp`, `strcontains` and `strstr`.
//!
//! All three are straight-line code over the bytes of fixed-size string buffers: no loops
//! and no branches, so the verifier walks each byte once. A buffer without a NUL ends at
//! its size.

use inkwell::values::{IntValue, PointerValue};
use inkwell::IntPredicate;

use super::Function;
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::Expr;
use crate::sema::{CallCheck, Type};

pub struct Strlen;
pub struct Strncmp;
pub struct Strcontains;
pub struct Strstr;

/// Checks that argument `i` is a string; `what` names it in the message.
fn string_arg(c: &mut CallCheck, i: usize, what: &str) -> Result<u32> {
    match c.value(i)? {
        Type::Str { size } => Ok(size),
        t => Err(
            Diagnostic::error(format!("{what} must be a string"), c.args[i].span)
                .with_label(format!("this is {}", t.describe())),
        ),
    }
}

fn string_val<'ctx>(g: &mut FnGen<'_, 'ctx>, e: &Expr) -> Result<(PointerValue<'ctx>, u32)> {
    match g.expr(e)? {
        Val::Str(p, size) => Ok((p, size)),
        _ => unreachable!("sema: a string argument"),
    }
}

/// The bytes of a buffer, each widened to i64.
fn bytes<'ctx>(g: &FnGen<'_, 'ctx>, p: PointerValue<'ctx>, size: u32) -> Vec<IntValue<'ctx>> {
    let i8t = g.ctx.i8_type();
    (0..size as u64)
        .map(|i| {
            let c =
                g.b.build_load(i8t, g.gep(p, i), "c")
                    .unwrap()
                    .into_int_value();
            g.b.build_int_z_extend(c, g.ctx.i64_type(), "cz").unwrap()
        })
        .collect()
}

/// `a == b`, `a != b` or `a <= b` as an i64 0/1, for values below 2^32 (bytes, lengths,
/// indices). Computed with arithmetic, not compares: BPF has no set-on-compare, so each
/// compare would become a branch, and where the result matters later (an index, a length
/// used as an offset) the verifier walks every combination of them.
pub(super) fn cmp<'ctx>(
    g: &FnGen<'_, 'ctx>,
    pred: IntPredicate,
    a: IntValue<'ctx>,
    b: IntValue<'ctx>,
) -> IntValue<'ctx> {
    let bl = &g.b;
    match pred {
        IntPredicate::EQ | IntPredicate::NE => {
            let d = bl.build_xor(a, b, "d").unwrap();
            let d = bl.build_int_add(d, g.i64(0xffff_ffff), "d").unwrap();
            let ne = bl.build_right_shift(d, g.i64(32), false, "ne").unwrap();
            match pred {
                IntPredicate::NE => ne,
                _ => bl.build_xor(ne, g.i64(1), "eq").unwrap(),
            }
        }
        IntPredicate::ULE => {
            let d = bl.build_int_sub(b, a, "d").unwrap();
            let neg = bl.build_right_shift(d, g.i64(63), false, "gt").unwrap();
            bl.build_xor(neg, g.i64(1), "le").unwrap()
        }
        _ => g.widen(bl.build_int_compare(pred, a, b, "cmp").unwrap()),
    }
}

/// Length up to the first NUL: a running "no NUL yet" flag summed over the bytes.
fn length<'ctx>(g: &FnGen<'_, 'ctx>, cs: &[IntValue<'ctx>]) -> IntValue<'ctx> {
    let (mut alive, mut len) = (g.i64(1), g.i64(0));
    for &c in cs {
        alive =
            g.b.build_and(alive, cmp(g, IntPredicate::NE, c, g.i64(0)), "alive")
                .unwrap();
        len = g.b.build_int_add(len, alive, "len").unwrap();
    }
    len
}

impl Function for Strlen {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 1)?;
        string_arg(c, 0, "the argument of strlen()")?;
        Ok(Type::UINT)
    }
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let (p, size) = string_val(g, &args[0])?;
        let cs = bytes(g, p, size);
        Ok(Val::Int(length(g, &cs)))
    }
}

impl Function for Strncmp {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(3, 3)?;
        string_arg(c, 0, "the first argument of strncmp()")?;
        string_arg(c, 1, "the second argument of strncmp()")?;
        let n = c.const_int(2, "strncmp()'s length")?;
        if n < 0 {
            return Err(Diagnostic::error(
                "strncmp()'s length cannot be negative",
                c.args[2].span,
            ));
        }
        Ok(Type::UINT)
    }
    /// bpftrace's strncmp: 0 when the first `n` characters match (stopping at a common
    /// NUL), else 1.
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let (pa, sa) = string_val(g, &args[0])?;
        let (pb, sb) = string_val(g, &args[1])?;
        let n = super::consts::int(&args[2], &g.ck.options.positional)
            .unwrap_or(0)
            .max(0) as u64;
        let n = n.min(sa.max(sb) as u64) as u32;
        let (ca, cb) = (bytes(g, pa, sa.min(n)), bytes(g, pb, sb.min(n)));
        let at = |cs: &[IntValue<'ctx>], i: usize| cs.get(i).copied().unwrap_or(g.i64(0));
        // `ended`: both strings ended together before this byte; later bytes do not count.
        let (mut ended, mut differ) = (g.i64(0), g.i64(0));
        for i in 0..n as usize {
            let (a, b) = (at(&ca, i), at(&cb, i));
            let live = g.b.build_xor(ended, g.i64(1), "live").unwrap();
            let ne =
                g.b.build_and(live, cmp(g, IntPredicate::NE, a, b), "ne")
                    .unwrap();
            differ = g.b.build_or(differ, ne, "differ").unwrap();
            ended =
                g.b.build_or(ended, cmp(g, IntPredicate::EQ, a, g.i64(0)), "ended")
                    .unwrap();
        }
        Ok(Val::Int(differ))
    }
}

impl Function for Strcontains {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(2, 2)?;
        string_arg(c, 0, "the haystack of strcontains()")?;
        string_arg(c, 1, "the needle of strcontains()")?;
        Ok(Type::Bool)
    }
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let mut found = g.i64(0);
        each_match(g, args, |g, _, at| {
            found = g.b.build_or(found, at, "found").unwrap();
        })?;
        Ok(Val::Int(found))
    }
}

impl Function for Strstr {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(2, 2)?;
        string_arg(c, 0, "the haystack of strstr()")?;
        string_arg(c, 1, "the needle of strstr()")?;
        Ok(Type::INT)
    }
    /// The first start that matches, else -1. Arithmetic only: a select per start becomes
    /// a branch per start in BPF, and the verifier would walk every combination.
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let (mut found, mut plus_one) = (g.i64(0), g.i64(0));
        each_match(g, args, |g, i, at| {
            let not_yet = g.b.build_xor(found, g.i64(1), "nf").unwrap();
            let first = g.b.build_and(at, not_yet, "first").unwrap();
            let add =
                g.b.build_int_mul(first, g.i64(i as u64 + 1), "add")
                    .unwrap();
            plus_one = g.b.build_int_add(plus_one, add, "idx").unwrap();
            found = g.b.build_or(found, at, "found").unwrap();
        })?;
        Ok(Val::Int(
            g.b.build_int_sub(plus_one, g.i64(1), "index").unwrap(),
        ))
    }
}

/// For each start `i` in the haystack (`args[0]`), gives `f` 1 when the needle's string
/// (`args[1]`) is found there: every needle byte before its NUL matches, and `i` is within
/// the haystack's string (an empty needle is found at its end too).
fn each_match<'ctx>(
    g: &mut FnGen<'_, 'ctx>,
    args: &[Expr],
    mut f: impl FnMut(&FnGen<'_, 'ctx>, usize, IntValue<'ctx>),
) -> Result<()> {
    let (ph, sh) = string_val(g, &args[0])?;
    let (pn, sn) = string_val(g, &args[1])?;
    let hlen = length(g, &bytes(g, ph, sh));
    let nlen = length(g, &bytes(g, pn, sn));
    for i in 0..sh as usize {
        let mut all = cmp(g, IntPredicate::ULE, g.i64(i as u64), hlen);
        for j in 0..sn as usize {
            let past_needle = cmp(g, IntPredicate::ULE, nlen, g.i64(j as u64));
            let ok = match i + j < sh as usize {
                true => {
                    let (hc, nc) = (plain_byte(g, ph, i + j), plain_byte(g, pn, j));
                    g.b.build_or(past_needle, cmp(g, IntPredicate::EQ, hc, nc), "ok")
                        .unwrap()
                }
                false => past_needle,
            };
            all = g.b.build_and(all, ok, "all").unwrap();
        }
        f(g, i, all);
    }
    Ok(())
}

fn plain_byte<'ctx>(g: &FnGen<'_, 'ctx>, p: PointerValue<'ctx>, i: usize) -> IntValue<'ctx> {
    let l =
        g.b.build_load(g.ctx.i8_type(), g.gep(p, i as u64), "c")
            .unwrap();
    g.b.build_int_z_extend(l.into_int_value(), g.ctx.i64_type(), "cz")
        .unwrap()
}
