//! Questions answered while compiling: the `is_*` type predicates, `static_assert`,
//! `fail`, `assert_str`, `default_str_length`, `has_cpid`, `probetype`, `kfunc_exist`.
//!
//! Each records its value in sema's constants (`Checker::consts`), so it folds into the
//! program as a number and decides `if` conditions and `static_assert`s
//! (`sema::consteval`). Predicate operands are typed, never evaluated.

use super::{Lowering, TypeRule};
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::{Expr, ExprKind, UnOp};
use crate::sema::{CallCheck, Type};

/// `is_str(e)`, `is_integer(e)`, …: whether the operand's type is of a kind.
pub struct IsKind(pub fn(&Type) -> bool);

pub static IS_STR: IsKind = IsKind(|t| matches!(t, Type::Str { .. }));
pub static IS_PTR: IsKind = IsKind(|t| matches!(t, Type::Ptr { .. }));
pub static IS_ARRAY: IsKind = IsKind(|t| matches!(t, Type::Array { .. }));
pub static IS_INTEGER: IsKind = IsKind(|t| matches!(t, Type::Int { .. } | Type::Enum(_)));
pub static IS_UNSIGNED: IsKind = IsKind(|t| matches!(t, Type::Int { signed: false, .. }));

pub struct IsLiteral;
pub struct StaticAssert;
pub struct Fail;
pub struct AssertStr;
pub struct DefaultStrLength;
pub struct HasCpid;
pub struct Probetype;
/// `kfunc_exist` and `kfunc_allowed`.
pub struct Kfunc;

/// `comptime e`.
pub struct Comptime;

impl TypeRule for Comptime {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 1)?;
        let t = c.ck.value_expr(&c.args[0])?;
        match c.ck.const_eval(&c.args[0]) {
            Some(v) => constant(c, v as u64, t),
            None => Err(Diagnostic::error(
                "`comptime` needs a value known while compiling",
                c.args[0].span,
            )
            .with_note("literals, positional parameters, `sizeof`, `offsetof`, the `is_*` predicates and operators on them are")),
        }
    }
}

impl Lowering for Comptime {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, e: &Expr, _: &[Expr]) -> Result<Val<'ctx>> {
        gen_constant(g, e)
    }
}

/// Records the call's compile-time value.
fn constant(c: &mut CallCheck, v: u64, ty: Type) -> Result<Type> {
    c.ck.consts.insert(c.call.id, v);
    Ok(ty)
}

/// The value sema recorded for a compile-time call (`Checker::consts`).
pub(super) fn gen_constant<'ctx>(g: &FnGen<'_, 'ctx>, call: &Expr) -> Result<Val<'ctx>> {
    Ok(Val::Int(g.i64(g.ck.consts[&call.id])))
}

macro_rules! constant_gen {
    () => {
        fn gen<'a, 'ctx>(
            &self,
            g: &mut FnGen<'a, 'ctx>,
            e: &Expr,
            _: &[Expr],
        ) -> Result<Val<'ctx>> {
            gen_constant(g, e)
        }
    };
}

impl TypeRule for IsKind {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 1)?;
        let t = c.ck.expr(&c.args[0])?;
        constant(c, (self.0)(&t) as u64, Type::Bool)
    }
}

impl Lowering for IsKind {
    constant_gen!();
}

fn is_literal(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Int(_) | ExprKind::Str(_) | ExprKind::Bool(_) => true,
        ExprKind::Unary {
            op: UnOp::Neg | UnOp::Plus,
            operand,
        } => is_literal(operand),
        _ => false,
    }
}

impl TypeRule for IsLiteral {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 1)?;
        c.ck.expr(&c.args[0])?;
        constant(c, is_literal(&c.args[0]) as u64, Type::Bool)
    }
}

impl Lowering for IsLiteral {
    constant_gen!();
}

impl TypeRule for StaticAssert {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 2)?;
        c.ck.expr(&c.args[0])?;
        let msg = match c.args.len() {
            2 => c.str_literal(1, "static_assert()'s message")?,
            _ => String::new(),
        };
        match c.ck.const_eval(&c.args[0]) {
            Some(0) => Err(Diagnostic::error(
                match msg.is_empty() {
                    true => "static assertion failed".to_string(),
                    false => format!("static assertion failed: {msg}"),
                },
                c.span(),
            )),
            Some(_) => Ok(Type::Void),
            None => Err(Diagnostic::error(
                "static_assert() needs a condition known at compile time",
                c.args[0].span,
            )
            .with_note("literals, positional parameters, sizeof, offsetof and is_*() are")),
        }
    }
}

impl Lowering for StaticAssert {
    fn gen<'a, 'ctx>(&self, _: &mut FnGen<'a, 'ctx>, _: &Expr, _: &[Expr]) -> Result<Val<'ctx>> {
        Ok(Val::Void)
    }
}

/// The text of a literal argument, as `%d` or `%s` would show it.
fn literal_text(c: &CallCheck, e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Str(s) => Some(s.clone()),
        ExprKind::Bool(b) => Some(b.to_string()),
        _ => c.ck.const_eval(e).map(|v| v.to_string()),
    }
}

/// `fail(fmt, args…)`: reaching it while compiling is the error (branches a compile-time
/// condition rules out are not checked; see `sema::consteval`).
impl TypeRule for Fail {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, usize::MAX)?;
        let fmt = c.str_literal(0, "fail()'s format")?;
        let mut args = Vec::new();
        for a in &c.args[1..] {
            c.ck.expr(a)?;
            args.push(
                literal_text(c, a).ok_or_else(|| {
                    Diagnostic::error("fail()'s arguments must be literals", a.span)
                })?,
            );
        }
        Err(Diagnostic::error(substitute(&fmt, &args), c.span()))
    }
}

impl Lowering for Fail {}

/// Replaces each conversion of a printf format with the next argument's text.
fn substitute(fmt: &str, args: &[String]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = fmt.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch != '%' {
            out.push(ch);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        // Flags, width and length modifiers, up to the conversion letter.
        while let Some(&n) = chars.peek() {
            chars.next();
            if n.is_ascii_alphabetic() && !"hlqjzt".contains(n) {
                break;
            }
        }
        out.push_str(args.next().map(String::as_str).unwrap_or(""));
    }
    out
}

impl TypeRule for AssertStr {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 1)?;
        match c.ck.expr(&c.args[0])? {
            Type::Str { .. } => Ok(Type::Void),
            Type::Ptr { to, .. } if matches!(*to, Type::Int { bits: 8, .. }) => Ok(Type::Void),
            Type::Array { elem, .. } if matches!(*elem, Type::Int { bits: 8, .. }) => {
                Ok(Type::Void)
            }
            t => Err(Diagnostic::error("expected a string", c.args[0].span)
                .with_label(format!("this is {}", t.describe()))),
        }
    }
}

impl Lowering for AssertStr {
    fn gen<'a, 'ctx>(&self, _: &mut FnGen<'a, 'ctx>, _: &Expr, _: &[Expr]) -> Result<Val<'ctx>> {
        Ok(Val::Void)
    }
}

impl TypeRule for DefaultStrLength {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(0, 0)?;
        let n = c.options().strlen as u64;
        constant(c, n, Type::UINT)
    }
}

impl Lowering for DefaultStrLength {
    constant_gen!();
}

impl TypeRule for HasCpid {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(0, 0)?;
        let has = c.options().has_child as u64;
        constant(c, has, Type::Bool)
    }
}

impl Lowering for HasCpid {
    constant_gen!();
}

impl TypeRule for Probetype {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(0, 0)?;
        let longest = c
            .attach_points()
            .map(|ap| crate::probes::of(ap).probetype().len())
            .max()
            .unwrap_or(0);
        Ok(Type::Str {
            size: longest as u32 + 1,
        })
    }
}

impl Lowering for Probetype {
    /// Programs are per probe type, so the name is a constant of each.
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, e: &Expr, _: &[Expr]) -> Result<Val<'ctx>> {
        let Type::Str { size } = *g.ck.ty(e.id) else {
            unreachable!("probetype is a string")
        };
        let name = crate::probes::of(&g.point.attach).probetype();
        let Val::Str(p, _) = g.str_const(name.as_bytes()) else {
            unreachable!()
        };
        Ok(Val::Str(p, size.min(name.len() as u32 + 1)))
    }
}

impl TypeRule for Kfunc {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 1)?;
        let name = c.str_literal(0, "the kfunc's name")?;
        let exists = crate::probes::kernel_func_exists(&name);
        // Whether this program type may call it is the kernel's decision at load; a kfunc
        // that exists is taken as allowed, as the verifier will say otherwise.
        constant(c, exists as u64, Type::Bool)
    }
}

impl Lowering for Kfunc {
    constant_gen!();
}
