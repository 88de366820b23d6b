//! `strlen`, `strncmp` and `strcontains`.
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

/// `a == b` (or `!=`) as an i64 0/1.
fn cmp<'ctx>(
    g: &FnGen<'_, 'ctx>,
    pred: IntPredicate,
    a: IntValue<'ctx>,
    b: IntValue<'ctx>,
) -> IntValue<'ctx> {
    let c = g.b.build_int_compare(pred, a, b, "cmp").unwrap();
    g.widen(c)
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
    /// Found when, at some start `i` inside the haystack's string, every byte of the
    /// needle's string matches.
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let (ph, sh) = string_val(g, &args[0])?;
        let (pn, sn) = string_val(g, &args[1])?;
        let (h, n) = (bytes(g, ph, sh), bytes(g, pn, sn));
        let (hlen, nlen) = (length(g, &h), length(g, &n));
        let mut found = g.i64(0);
        for i in 0..sh as usize {
            let mut all = cmp(g, IntPredicate::ULE, g.i64(i as u64), hlen);
            for (j, &nc) in n.iter().enumerate() {
                let past_needle = cmp(g, IntPredicate::ULE, nlen, g.i64(j as u64));
                let ok = match h.get(i + j) {
                    Some(&hc) => {
                        g.b.build_or(past_needle, cmp(g, IntPredicate::EQ, hc, nc), "ok")
                            .unwrap()
                    }
                    None => past_needle,
                };
                all = g.b.build_and(all, ok, "all").unwrap();
            }
            found = g.b.build_or(found, all, "found").unwrap();
        }
        Ok(Val::Int(found))
    }
}
