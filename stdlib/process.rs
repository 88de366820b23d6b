//! Functions that reach into the traced process or the probed function: `reg()` reads a
//! register, `kptr()`/`uptr()` say which address space a pointer is in, and the unsafe
//! ones change things: `signal()`/`signal_thread()` send a signal, `override()` makes a
//! kprobed function return early, `write_user()` writes user memory.

use super::names::signal_number;
use super::{Lowering, TypeRule};
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::{Expr, ExprKind};
use crate::probes::{self, pt_regs};
use crate::sema::{CallCheck, Type};
use inkwell::IntPredicate;

pub struct Reg;
/// `kptr` (false) or `uptr` (true).
pub struct Retag(pub bool);
/// `signal` (false) or `signal_thread` (true).
pub struct Signal(pub bool);
pub struct Override;
pub struct WriteUser;

const SEND_SIGNAL: u64 = 109;
const SEND_SIGNAL_THREAD: u64 = 117;
const OVERRIDE_RETURN: u64 = 58;
const PROBE_WRITE_USER: u64 = 36;

/// Rejects the call unless every attach point of the block is of one of `types`.
pub(super) fn only_in(c: &CallCheck, what: &str, types: &[&str]) -> Result<()> {
    for ap in c.attach_points() {
        let t = probes::of(ap).probetype();
        if !types.contains(&t) {
            return Err(Diagnostic::error(
                format!("{what} cannot be used in {t} probes"),
                c.span(),
            )
            .with_note(format!("it works in {} probes", types.join(", "))));
        }
    }
    Ok(())
}

impl TypeRule for Reg {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 1)?;
        let name = c.str_literal(0, "the register's name")?;
        if pt_regs::offset(&name).is_none() {
            return Err(
                Diagnostic::error(format!("`{name}` is not a register"), c.args[0].span)
                    .with_note(format!("registers: {}, pc", pt_regs::names().join(", "))),
            );
        }
        for ap in c.attach_points() {
            if probes::of(ap).regs().is_none() {
                return Err(Diagnostic::error(
                    format!(
                        "reg() cannot be used in {} probes: they see no registers",
                        probes::of(ap).probetype()
                    ),
                    c.span(),
                ));
            }
        }
        Ok(Type::UINT)
    }
}

impl Lowering for Reg {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let ExprKind::Str(name) = &args[0].kind else {
            unreachable!("sema: a literal register name")
        };
        let base = probes::of(&g.point.attach).regs().unwrap_or(0);
        let off = base + pt_regs::offset(name).expect("sema checked the name");
        Ok(Val::Int(g.load_i64(g.gep(g.ctx_ptr, off as u64))))
    }
}

impl TypeRule for Retag {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 1)?;
        match c.value(0)? {
            Type::Ptr { to, .. } => Ok(Type::Ptr { to, user: self.0 }),
            t => Err(Diagnostic::error("expected a pointer", c.args[0].span)
                .with_label(format!("this is {}", t.describe()))),
        }
    }
}

impl Lowering for Retag {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        g.expr(&args[0])
    }
}

/// Probe types whose programs run in the context of the task the signal is meant for.
const SIGNAL_PROBES: &[&str] = &[
    "kprobe",
    "kretprobe",
    "uprobe",
    "uretprobe",
    "usdt",
    "tracepoint",
    "rawtracepoint",
    "profile",
    "fentry",
    "fexit",
];

impl TypeRule for Signal {
    fn destructive(&self) -> Option<&'static str> {
        Some("it sends signals to the traced processes")
    }
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 1)?;
        let what = if self.0 {
            "signal_thread()"
        } else {
            "signal()"
        };
        only_in(c, what, SIGNAL_PROBES)?;
        if let ExprKind::Str(name) = &c.args[0].kind {
            let n = signal_number(name).ok_or_else(|| {
                Diagnostic::error(format!("`{name}` is not a signal"), c.args[0].span)
                    .with_note("name one as `kill -l` does, like SIGKILL or KILL")
            })?;
            c.ck.consts.insert(c.args[0].id, n);
            return Ok(Type::Void);
        }
        c.int(0, "the signal")?;
        if let Some(n) = c.ck.const_eval(&c.args[0]) {
            if !(1..=64).contains(&n) {
                return Err(Diagnostic::error(
                    format!("{n} is not a signal: signals are 1 to 64"),
                    c.args[0].span,
                ));
            }
        }
        Ok(Type::Void)
    }
}

impl Lowering for Signal {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let sig = match g.ck.consts.get(&args[0].id) {
            Some(&n) if matches!(args[0].kind, ExprKind::Str(_)) => g.i64(n),
            _ => g.expr(&args[0])?.int(),
        };
        let helper = if self.0 {
            SEND_SIGNAL_THREAD
        } else {
            SEND_SIGNAL
        };
        g.helper_int(helper, &[sig.into()]);
        Ok(Val::Void)
    }
}

impl TypeRule for Override {
    fn destructive(&self) -> Option<&'static str> {
        Some("it makes the probed kernel function return without running")
    }
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 1)?;
        only_in(c, "override()", &["kprobe"])?;
        c.int(0, "the return value")?;
        Ok(Type::Void)
    }
}

impl Lowering for Override {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let rc = g.expr(&args[0])?.int();
        g.helper_int(OVERRIDE_RETURN, &[g.ctx_ptr.into(), rc.into()]);
        Ok(Val::Void)
    }
}

impl TypeRule for WriteUser {
    fn destructive(&self) -> Option<&'static str> {
        Some("it writes into the memory of traced processes")
    }
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(3, 3)?;
        match c.value(0)? {
            Type::Ptr { .. } | Type::Int { .. } => {}
            t => {
                return Err(Diagnostic::error(
                    "write_user()'s destination must be a user address",
                    c.args[0].span,
                )
                .with_label(format!("this is {}", t.describe())))
            }
        }
        match c.value(1)? {
            Type::Str { .. } | Type::Tuple(_) | Type::Record(..) | Type::Buf { .. } => {}
            Type::Int { .. } | Type::Ptr { .. } | Type::Bool => {}
            t => {
                return Err(Diagnostic::error(
                    "write_user() cannot write this value",
                    c.args[1].span,
                )
                .with_label(format!("this is {}", t.describe())))
            }
        }
        c.int(2, "the length")?;
        Ok(Type::Bool)
    }
}

impl Lowering for WriteUser {
    /// Writes at most the source value's size: a longer length would read past it.
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let dst = g.expr(&args[0])?.int();
        let (src, size) = match g.expr(&args[1])? {
            Val::Str(p, n) => (p, n as u64),
            Val::Tuple(p, fs) => (p, fs.iter().map(|f| f.size() as u64).sum()),
            Val::Record(p, _, fs) => (p, fs.iter().map(|f| f.size() as u64).sum()),
            Val::Int(v) => {
                let p = g.stack(8, "src");
                g.store_i64(p, v);
                (p, 8)
            }
            Val::Void => unreachable!("sema: a value"),
        };
        let len = g.expr(&args[2])?.int();
        let too_long =
            g.b.build_int_compare(IntPredicate::UGT, len, g.i64(size), "long")
                .unwrap();
        let len =
            g.b.build_select(too_long, g.i64(size), len, "len")
                .unwrap()
                .into_int_value();
        let dst =
            g.b.build_int_to_ptr(dst, g.ctx.ptr_type(Default::default()), "dst")
                .unwrap();
        let rc = g.helper_int(PROBE_WRITE_USER, &[dst.into(), src.into(), len.into()]);
        let ok =
            g.b.build_int_compare(IntPredicate::EQ, rc, g.i64(0), "ok")
                .unwrap();
        Ok(Val::Int(g.widen(ok)))
    }
}
