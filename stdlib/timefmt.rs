//! `strftime(fmt, ns)`: keeps the boot-clock ns; user space formats it (strftime(3) plus
//! bpftrace's `%f` microseconds) wherever the value is printed.

use super::{Lowering, TypeRule};
use crate::codegen::{FnGen, Val};
use crate::diag::Result;
use crate::kinds::{self, ValueKind};
use crate::parser::ast::Expr;
use crate::sema::{CallCheck, Type};

pub struct Strftime;

impl TypeRule for Strftime {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(2, 2)?;
        let fmt = c.str_literal(0, "strftime()'s format")?;
        c.int(1, "strftime()'s timestamp")?;
        Ok(Type::Kind(ValueKind::new(&kinds::TIMESTAMP, fmt)))
    }
}

impl Lowering for Strftime {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        g.expr(&args[1])
    }
}
