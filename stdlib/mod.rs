//! The catalogue of builtins and functions. Each entry keeps its type rule (sema) and its
//! code generation side by side; how the values they produce are printed lives in
//! `runtime::format` (the runtime must not depend on the compiler).

mod aggregations;
mod builtins;
mod control;
mod map_ops;
mod output;
mod strings;

use crate::codegen::{FnGen, Val};
use crate::diag::{Result, Span};
use crate::parser::ast::Expr;
use crate::program::MapId;
use crate::sema::{CallCheck, Checker, Type};

/// A value builtin (`pid`, `comm`, …).
pub struct Builtin {
    pub name: &'static str,
    pub ty: fn(&mut Checker, Span) -> Result<Type>,
    pub gen: for<'a, 'ctx> fn(&mut FnGen<'a, 'ctx>, &Expr) -> Result<Val<'ctx>>,
}

/// A function (`printf`, `str`, `count`, …).
pub trait Function: Sync {
    /// Type rule: checks the arguments and gives the result type.
    fn check(&self, c: &mut CallCheck) -> Result<Type>;

    /// Lowers a call used as an expression or statement.
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, call: &Expr, args: &[Expr]) -> Result<Val<'ctx>>;

    /// Aggregations only: lowers `@map[keys] = f(args)`.
    fn update<'a, 'ctx>(&self, _g: &mut FnGen<'a, 'ctx>, _map: MapId, _keys: &[Expr], _args: &[Expr]) -> Result<()> {
        unreachable!("sema only allows aggregations in map assignments")
    }
}

pub fn builtin(name: &str) -> Option<&'static Builtin> {
    builtins::ALL.iter().find(|b| b.name == name)
}

pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    builtins::ALL.iter().map(|b| b.name)
}

/// Every function name `function()` knows, for suggestions.
pub const FUNCTION_NAMES: &[&str] = &[
    "printf", "print", "time", "str", "exit", "delete", "clear", "zero", "count", "sum", "avg", "min", "max",
    "stats", "hist", "lhist",
];

pub fn function(name: &str) -> Option<&'static dyn Function> {
    let f: &'static dyn Function = match name {
        "printf" => &output::Printf,
        "print" => &output::Print,
        "time" => &output::Time,
        "str" => &strings::Str,
        "exit" => &control::Exit,
        "delete" => &map_ops::Delete,
        "clear" => &map_ops::Clear,
        "zero" => &map_ops::Zero,
        "count" => &aggregations::Count,
        "sum" => &aggregations::Sum,
        "avg" => &aggregations::Avg,
        "min" => &aggregations::Min,
        "max" => &aggregations::Max,
        "stats" => &aggregations::Stats,
        "hist" => &aggregations::Hist,
        "lhist" => &aggregations::Lhist,
        _ => return None,
    };
    Some(f)
}
