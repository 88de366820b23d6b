//! `has_key(@m, k)`: whether a keyed map holds a key, answered in the kernel.
//!
//! `len(@m)` is not here yet: counting needs `bpf_for_each_map_elem`, whose callback the
//! verifier accepts only with BTF `func_info` for every function of the program.

use super::Function;
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::{Expr, ExprKind};
use crate::program::MapKind;
use crate::sema::{CallCheck, Type};

pub struct HasKey;

/// `has_key(@m, (a, b))` looks up `@m[a, b]`.
fn key_exprs(e: &Expr) -> Vec<Expr> {
    match &e.kind {
        ExprKind::Tuple(elems) => elems.clone(),
        _ => vec![e.clone()],
    }
}

fn map_name(e: &Expr) -> &str {
    match &e.kind {
        ExprKind::Map { name, .. } => name,
        _ => unreachable!("sema: a map argument"),
    }
}

impl Function for HasKey {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(2, 2)?;
        let name = c.map_ref(0)?;
        let keys = key_exprs(&c.args[1]);
        let key = c.ck.keys(&keys)?;
        let span = c.args[1].span;
        c.ck.map_key(&name, key, span)?;
        // A histogram's bucket is an extra key field: its user keys cannot be looked up.
        if c.ck.map_value(&name, span)?.as_ref().is_some_and(MapKind::is_histogram) {
            return Err(Diagnostic::error("has_key() of a hist()/lhist() map is not supported yet", c.args[0].span));
        }
        Ok(Type::Bool)
    }
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let (id, _) = g.ck.map(map_name(&args[0]));
        let key = g.map_key(id, &key_exprs(&args[1]), None)?;
        let p = g.lookup(id, key);
        let found = g.b.build_is_not_null(p, "found").unwrap();
        Ok(Val::Int(g.widen(found)))
    }
}
