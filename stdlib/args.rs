//! `arg0` … `arg15`: a probe's raw arguments as u64. Where each lives is the probe type's
//! business (`ProbeType::arg`); probes without positional arguments reject them here with
//! the probe type's own explanation.

use super::Builtin;
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::{Expr, ExprKind};
use crate::probes::{self, ArgLoc};
use crate::sema::Type;

fn ty(_: &mut crate::sema::Checker, _: crate::diag::Span) -> Result<Type> {
    Ok(Type::UINT)
}

fn gen<'ctx>(g: &mut FnGen<'_, 'ctx>, e: &Expr) -> Result<Val<'ctx>> {
    let name = match &e.kind {
        ExprKind::Ident(n) | ExprKind::Call { name: n, .. } => n.as_str(),
        _ => unreachable!("argN is an identifier or a call"),
    };
    let n: u32 = name["arg".len()..]
        .parse()
        .expect("the table holds arg0…arg15");
    // Every attach point of the block must have the argument, not just the one compiled
    // here, so the error names the one that lacks it.
    let points = g.ck.probes[g.probe_index()].programs.iter().flatten();
    let mut here = None;
    for p in points {
        let loc = probes::of(&p.attach)
            .arg(&p.attach, n)
            .map_err(|m| Diagnostic::error(m, e.span))?;
        if p.attach == g.point.attach {
            here = Some(loc);
        }
    }
    match here.expect("the compiled point belongs to its block") {
        ArgLoc::Ctx(off) => Ok(Val::Int(g.load_i64(g.gep(g.ctx_ptr, off as u64)))),
    }
}

macro_rules! args {
    ($($name:literal)*) => { &[$(Builtin { name: $name, ty, gen },)*] };
}

pub static ALL: &[Builtin] = args!(
    "arg0" "arg1" "arg2" "arg3" "arg4" "arg5" "arg6" "arg7"
    "arg8" "arg9" "arg10" "arg11" "arg12" "arg13" "arg14" "arg15"
);
