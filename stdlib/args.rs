//! `arg0` … `arg15`: a probe's raw arguments as u64; `retval`, a return probe's value;
//! `func`, the probed function's name. Where each lives is the probe type's business
//! (`ProbeType::arg`, `retval`, `func`); probes without them reject them here with the
//! probe type's own explanation.

use super::Builtin;
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::{Expr, ExprKind};
use crate::probes::{self, ArgLoc};
use crate::sema::Type;
use inkwell::IntPredicate;

fn ty(_: &mut crate::sema::Checker, _: crate::diag::Span) -> Result<Type> {
    Ok(Type::UINT)
}

fn gen<'ctx>(g: &mut FnGen<'_, 'ctx>, e: &Expr) -> Result<Val<'ctx>> {
    let name = match &e.kind {
        ExprKind::Ident(n) | ExprKind::Call { name: n, .. } => n.as_str(),
        _ => unreachable!("argN is an identifier or a call"),
    };
    let loc = if name == "retval" {
        locate(g, e, |p, ap| p.retval(ap))?
    } else {
        let n: u32 = name["arg".len()..]
            .parse()
            .expect("the table holds arg0…arg15");
        locate(g, e, |p, ap| p.arg(ap, n))?
    };
    Ok(match loc {
        ArgLoc::Ctx(off) => Val::Int(g.load_i64(g.gep(g.ctx_ptr, off as u64))),
        ArgLoc::Usdt(a) => usdt_arg(g, a),
        ArgLoc::UserStack { sp, offset } => {
            let sp = g.load_i64(g.gep(g.ctx_ptr, sp as u64));
            let at = g.b.build_int_add(sp, g.i64(offset as u64), "slot").unwrap();
            g.read_pointee(at, &Type::UINT, true)
        }
    })
}

/// A USDT argument: a constant, a register (cut to its size), or user memory addressed
/// by registers.
fn usdt_arg<'ctx>(g: &mut FnGen<'_, 'ctx>, a: probes::usdt::UsdtArg) -> Val<'ctx> {
    use probes::usdt::UsdtLoc;
    let t = Type::Int {
        signed: a.signed,
        bits: a.size * 8,
    };
    let reg = |g: &FnGen<'_, 'ctx>, off: u32| g.load_i64(g.gep(g.ctx_ptr, off as u64));
    match a.at {
        UsdtLoc::Const(v) => Val::Int(g.i64(v as u64)),
        UsdtLoc::Reg(off) => {
            let v = reg(g, off);
            Val::Int(g.cast(v, &t))
        }
        UsdtLoc::Mem { base, index, disp } => {
            let mut at =
                g.b.build_int_add(reg(g, base), g.i64(disp as u64), "at")
                    .unwrap();
            if let Some((i, scale)) = index {
                let i =
                    g.b.build_int_mul(reg(g, i), g.i64(scale as u64), "idx")
                        .unwrap();
                at = g.b.build_int_add(at, i, "at").unwrap();
            }
            g.read_pointee(at, &t, true)
        }
    }
}

/// Asks the probe type of every attach point of the block, not just the one compiled
/// here, so the error names the one that lacks the value; gives this point's answer.
fn locate<T>(
    g: &FnGen<'_, '_>,
    e: &Expr,
    ask: impl Fn(&dyn probes::ProbeType, &probes::AttachPoint) -> std::result::Result<T, String>,
) -> Result<T> {
    let mut here = None;
    for p in g.ck.probes[g.probe_index()].programs.iter().flatten() {
        let v = ask(probes::of(&p.attach), &p.attach).map_err(|m| Diagnostic::error(m, e.span))?;
        if p.attach == g.point.attach {
            here = Some(v);
        }
    }
    Ok(here.expect("the compiled point belongs to its block"))
}

/// `func`: a constant when this program serves one function; when it serves several
/// (attach points sharing a program), the attach cookie says which one fired.
fn func_gen<'ctx>(g: &mut FnGen<'_, 'ctx>, e: &Expr) -> Result<Val<'ctx>> {
    let Type::Str { size } = *g.ck.ty(e.id) else {
        unreachable!("func is a string")
    };
    locate(g, e, |p, ap| p.func(ap))?;
    let group = g.ck.probes[g.probe_index()]
        .programs
        .iter()
        .find(|grp| grp.iter().any(|p| p.attach == g.point.attach))
        .expect("the compiled point belongs to its block");
    let mut names: Vec<String> = vec![];
    for p in group {
        let name = probes::of(&p.attach)
            .func(&p.attach)
            .map_err(|m| Diagnostic::error(m, e.span))?;
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let clip = |n: &str| n.as_bytes()[..n.len().min(size as usize - 1)].to_vec();
    if let [only] = names.as_slice() {
        let bytes = clip(only);
        let Val::Str(p, _) = g.str_const(&bytes) else {
            unreachable!()
        };
        return Ok(Val::Str(p, size.min(bytes.len() as u32 + 1)));
    }
    let cookie = g.helper_int(GET_ATTACH_COOKIE, &[g.ctx_ptr.into()]);
    let buf = g.stack(size as usize, "func");
    for w in 0..(size as usize).div_ceil(8) {
        let mut v = g.i64(0);
        for name in &names {
            let bytes = clip(name);
            let mut word = [0u8; 8];
            let chunk = bytes.get(w * 8..).unwrap_or(&[]);
            let len = chunk.len().min(8);
            word[..len].copy_from_slice(&chunk[..len]);
            let is =
                g.b.build_int_compare(
                    IntPredicate::EQ,
                    cookie,
                    g.i64(probes::uprobe::cookie(name)),
                    "is",
                )
                .unwrap();
            let word = g.i64(u64::from_le_bytes(word));
            v = g.b.build_select(is, word, v, "w").unwrap().into_int_value();
        }
        g.store_i64(g.gep(buf, w as u64 * 8), v);
    }
    Ok(Val::Str(buf, size))
}

/// `bpf_get_attach_cookie`
const GET_ATTACH_COOKIE: u64 = 174;

macro_rules! args {
    ($($name:literal)* ; $($more:expr),*) => {
        &[$(Builtin { name: $name, ty, gen },)* $($more,)*]
    };
}

pub static ALL: &[Builtin] = args!(
    "arg0" "arg1" "arg2" "arg3" "arg4" "arg5" "arg6" "arg7"
    "arg8" "arg9" "arg10" "arg11" "arg12" "arg13" "arg14" "arg15";
    Builtin { name: "retval", ty: retval_ty, gen },
    Builtin { name: "func", ty: func_ty, gen: func_gen }
);

/// An fexit's `retval` has the function's signedness (BTF); elsewhere it is a u64.
fn retval_ty(ck: &mut crate::sema::Checker, _: crate::diag::Span) -> Result<Type> {
    let mut points = ck.attach_points().peekable();
    let signed = points.peek().is_some() && points.all(probes::fentry::retval_signed);
    Ok(Type::int(signed))
}

/// No function name is longer than the probe's name, which holds it.
fn func_ty(ck: &mut crate::sema::Checker, _: crate::diag::Span) -> Result<Type> {
    Ok(ck.probe_name_type())
}
