//! `sizeof(T | expr)`: a compile-time constant, with C layout rules as bpftrace uses them.

use super::Function;
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::{Expr, ExprKind};
use crate::sema::{CallCheck, Type};

pub struct Sizeof;

fn size_of(t: &Type) -> u64 {
    t.c_layout().0
}

impl Function for Sizeof {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 1)?;
        if let ExprKind::TypeName(name) = &c.args[0].kind {
            Type::from_name(name).ok_or_else(|| {
                Diagnostic::error(format!("unknown type `{name}`"), c.args[0].span)
            })?;
            return Ok(Type::UINT);
        }
        let t = c.value(0)?;
        let _ = size_of(&t);
        Ok(Type::UINT)
    }
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        // The operand is not evaluated, as in C.
        let t = match &args[0].kind {
            ExprKind::TypeName(name) => Type::from_name(name).expect("checked"),
            _ => g.ck.ty(args[0].id).clone(),
        };
        Ok(Val::Int(g.i64(size_of(&t))))
    }
}
