//! What codegen asks of the function catalogue (`stdlib`, which hands itself in, see
//! `sema::catalogue`): how each builtin and function call becomes IR.

use super::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::Expr;
use crate::program::MapId;

/// A function's lowering; sema has checked the call already.
pub trait Lowering: Sync {
    /// Lowers a call used as an expression or statement. Aggregations keep this default:
    /// sema only lets them appear as `@map[keys] = f(args)`, which goes through `update`.
    fn gen<'a, 'ctx>(
        &self,
        _g: &mut FnGen<'a, 'ctx>,
        call: &Expr,
        _args: &[Expr],
    ) -> Result<Val<'ctx>> {
        Err(Diagnostic::error(
            "an aggregation can only be assigned to a map",
            call.span,
        ))
    }

    /// Aggregations only: lowers `@map[keys] = f(args)`.
    fn update<'a, 'ctx>(
        &self,
        _g: &mut FnGen<'a, 'ctx>,
        _map: MapId,
        _keys: &[Expr],
        _args: &[Expr],
    ) -> Result<()> {
        unreachable!("sema only allows aggregations in map assignments")
    }
}

/// A value builtin's lowering (`pid`).
pub type BuiltinGen = for<'a, 'ctx> fn(&mut FnGen<'a, 'ctx>, &Expr) -> Result<Val<'ctx>>;

/// The catalogue, as codegen reads it: only names sema resolved are asked for.
pub trait Lowerings: Sync {
    fn builtin(&self, name: &str) -> Option<BuiltinGen>;
    fn function(&self, name: &str) -> Option<&'static dyn Lowering>;
}
