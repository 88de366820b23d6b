//! `strlen`, `strncmp`, `strcontains` and `strstr`.
//!
//! All three are straight-line code over the bytes of fixed-size string buffers: no loops
//! and no branches, so the verifier walks each byte once. A buffer without a NUL ends at
//! its size.

use inkwell::values::{IntValue, PointerValue};
use inkwell::IntPredicate;

use super::{Lowering, TypeRule};
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

/// Length up to the first NUL: a running "no NUL yet" flag summed over the bytes. Long
/// strings get a loop (a fixed count, no exit on the NUL: the verifier walks one path);
/// unrolled, every byte would stay live and spill past the stack.
pub(super) fn length<'ctx>(
    g: &FnGen<'_, 'ctx>,
    p: PointerValue<'ctx>,
    size: u32,
) -> IntValue<'ctx> {
    let step = |alive: IntValue<'ctx>, len: IntValue<'ctx>, c: IntValue<'ctx>| {
        let alive =
            g.b.build_and(alive, cmp(g, IntPredicate::NE, c, g.i64(0)), "alive")
                .unwrap();
        (alive, g.b.build_int_add(len, alive, "len").unwrap())
    };
    if size <= 64 {
        let (mut alive, mut len) = (g.i64(1), g.i64(0));
        for i in 0..size as usize {
            (alive, len) = step(alive, len, plain_byte(g, p, i));
        }
        return len;
    }
    let i64t = g.ctx.i64_type();
    let before = g.b.get_insert_block().expect("inside a function");
    let (body, done) = (g.block("strlen"), g.block("strlen_done"));
    g.b.build_unconditional_branch(body).unwrap();
    g.b.position_at_end(body);
    let [i, alive, len] = ["i", "alive", "len"].map(|n| g.b.build_phi(i64t, n).unwrap());
    let iv = i.as_basic_value().into_int_value();
    let cp = unsafe { g.b.build_gep(g.ctx.i8_type(), p, &[iv], "cp").unwrap() };
    let c =
        g.b.build_load(g.ctx.i8_type(), cp, "c")
            .unwrap()
            .into_int_value();
    let c = g.b.build_int_z_extend(c, i64t, "cz").unwrap();
    let (a1, l1) = step(
        alive.as_basic_value().into_int_value(),
        len.as_basic_value().into_int_value(),
        c,
    );
    let next = g.b.build_int_add(iv, g.i64(1), "next").unwrap();
    let more =
        g.b.build_int_compare(IntPredicate::ULT, next, g.i64(size as u64), "more")
            .unwrap();
    g.b.build_conditional_branch(more, body, done).unwrap();
    i.add_incoming(&[(&g.i64(0), before), (&next, body)]);
    alive.add_incoming(&[(&g.i64(1), before), (&a1, body)]);
    len.add_incoming(&[(&g.i64(0), before), (&l1, body)]);
    g.b.position_at_end(done);
    l1
}

impl TypeRule for Strlen {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 1)?;
        string_arg(c, 0, "the argument of strlen()")?;
        Ok(Type::UINT)
    }
}

impl Lowering for Strlen {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let (p, size) = string_val(g, &args[0])?;
        Ok(Val::Int(length(g, p, size)))
    }
}

impl TypeRule for Strncmp {
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
}

impl Lowering for Strncmp {
    /// bpftrace's strncmp: 0 when the first `n` characters match (stopping at a common
    /// NUL), else 1.
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let (pa, sa) = string_val(g, &args[0])?;
        let (pb, sb) = string_val(g, &args[1])?;
        let n = crate::sema::consts::int(&args[2], &g.ck.params())
            .unwrap_or(0)
            .max(0) as u64;
        let n = n.min(sa.max(sb) as u64) as u32;
        // Bytes past a buffer read as NUL; each is loaded where it is compared.
        let at = |p, size: u32, i: usize| match i < size as usize {
            true => plain_byte(g, p, i),
            false => g.i64(0),
        };
        // `ended`: both strings ended together before this byte; later bytes do not count.
        let (mut ended, mut differ) = (g.i64(0), g.i64(0));
        for i in 0..n as usize {
            let (a, b) = (at(pa, sa, i), at(pb, sb, i));
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

impl TypeRule for Strcontains {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(2, 2)?;
        string_arg(c, 0, "the haystack of strcontains()")?;
        string_arg(c, 1, "the needle of strcontains()")?;
        Ok(Type::Bool)
    }
}

impl Lowering for Strcontains {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let [found] = search(g, args, [g.i64(0)], |g, _, at, [found]| {
            [g.b.build_or(found, at, "found").unwrap()]
        })?;
        Ok(Val::Int(found))
    }
}

impl TypeRule for Strstr {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(2, 2)?;
        string_arg(c, 0, "the haystack of strstr()")?;
        string_arg(c, 1, "the needle of strstr()")?;
        Ok(Type::INT)
    }
}

impl Lowering for Strstr {
    /// The first start that matches, else -1: one plus the first matching start is
    /// accumulated arithmetically (no select, which would be a branch).
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let init = [g.i64(0), g.i64(0)];
        let [_, plus_one] = search(g, args, init, |g, i, at, [found, plus_one]| {
            let not_yet = g.b.build_xor(found, g.i64(1), "nf").unwrap();
            let first = g.b.build_and(at, not_yet, "first").unwrap();
            let i1 = g.b.build_int_add(i, g.i64(1), "i1").unwrap();
            let add = g.b.build_int_mul(first, i1, "add").unwrap();
            [
                g.b.build_or(found, at, "found").unwrap(),
                g.b.build_int_add(plus_one, add, "idx").unwrap(),
            ]
        })?;
        Ok(Val::Int(
            g.b.build_int_sub(plus_one, g.i64(1), "index").unwrap(),
        ))
    }
}

/// Bytes compared by one search (haystack size times needle size): the verifier walks
/// every start of the loop below, about a dozen instructions per byte, and stops a
/// program at a million.
const MAX_SEARCH: u64 = 1 << 14;

/// Finds the needle's string (`args[1]`) in the haystack's (`args[0]`): a loop over the
/// starts `i` of the haystack, each comparing the needle's bytes in straight-line code
/// (a match: every needle byte before its NUL equal, and `i` within the haystack's string,
/// so an empty needle is found at its end too). `step` folds each start's 0/1 result into
/// the loop's state. A real loop, not unrolled: the code stays the size of one start, and
/// the verifier, which knows `i` exactly in each pass, walks it start by start.
fn search<'ctx, const N: usize>(
    g: &mut FnGen<'_, 'ctx>,
    args: &[Expr],
    init: [IntValue<'ctx>; N],
    step: impl Fn(
        &FnGen<'_, 'ctx>,
        IntValue<'ctx>,
        IntValue<'ctx>,
        [IntValue<'ctx>; N],
    ) -> [IntValue<'ctx>; N],
) -> Result<[IntValue<'ctx>; N]> {
    let (ph, sh) = string_val(g, &args[0])?;
    let (pn, sn) = string_val(g, &args[1])?;
    if sh as u64 * sn as u64 > MAX_SEARCH {
        return Err(Diagnostic::error(
            format!("searching a {sh}-byte string for a {sn}-byte one is more than one BPF program may do"),
            (args[0].span.0, args[1].span.1),
        )
        .with_note("shorten one with str(p, n), or lower max_strlen"));
    }
    let hlen = length(g, ph, sh);
    let nlen = length(g, pn, sn);
    let i64t = g.ctx.i64_type();
    let before = g.b.get_insert_block().expect("inside a function");
    let (body, done) = (g.block("search"), g.block("search_done"));
    g.b.build_unconditional_branch(body).unwrap();
    g.b.position_at_end(body);
    let i_phi = g.b.build_phi(i64t, "i").unwrap();
    let phis = init.map(|_| g.b.build_phi(i64t, "state").unwrap());
    let i = i_phi.as_basic_value().into_int_value();
    let state = phis.map(|p| p.as_basic_value().into_int_value());
    let mut all = cmp(g, IntPredicate::ULE, i, hlen);
    for j in 0..sn as u64 {
        let past_needle = cmp(g, IntPredicate::ULE, nlen, g.i64(j));
        // Past the haystack's end only a finished needle matches; the byte read there is
        // the last one, to stay inside the buffer.
        let at = g.b.build_int_add(i, g.i64(j), "at").unwrap();
        let inside = cmp(g, IntPredicate::ULE, at, g.i64(sh as u64 - 1));
        let last = g.i64(sh as u64 - 1);
        let clamped =
            g.b.build_select(g.truthy(inside), at, last, "clamp")
                .unwrap();
        let hp = unsafe {
            g.b.build_gep(g.ctx.i8_type(), ph, &[clamped.into_int_value()], "h")
                .unwrap()
        };
        let hc =
            g.b.build_load(g.ctx.i8_type(), hp, "hc")
                .unwrap()
                .into_int_value();
        let hc = g.b.build_int_z_extend(hc, i64t, "hcz").unwrap();
        let eq = cmp(g, IntPredicate::EQ, hc, plain_byte(g, pn, j as usize));
        let eq = g.b.build_and(eq, inside, "eq").unwrap();
        let ok = g.b.build_or(past_needle, eq, "ok").unwrap();
        all = g.b.build_and(all, ok, "all").unwrap();
    }
    let next_state = step(g, i, all, state);
    let next = g.b.build_int_add(i, g.i64(1), "next").unwrap();
    let more =
        g.b.build_int_compare(IntPredicate::ULT, next, g.i64(sh as u64), "more")
            .unwrap();
    let end = g.b.get_insert_block().expect("inside a function");
    g.b.build_conditional_branch(more, body, done).unwrap();
    i_phi.add_incoming(&[(&g.i64(0), before), (&next, end)]);
    for ((p, v0), v1) in phis.iter().zip(init).zip(next_state) {
        p.add_incoming(&[(&v0, before), (&v1, end)]);
    }
    g.b.position_at_end(done);
    Ok(next_state)
}

fn plain_byte<'ctx>(g: &FnGen<'_, 'ctx>, p: PointerValue<'ctx>, i: usize) -> IntValue<'ctx> {
    let l =
        g.b.build_load(g.ctx.i8_type(), g.gep(p, i as u64), "c")
            .unwrap();
    g.b.build_int_z_extend(l.into_int_value(), g.ctx.i64_type(), "cz")
        .unwrap()
}
