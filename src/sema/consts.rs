//! Compile-time arguments, re-read at code generation (sema checked them already).

use super::params::Params;
use super::parse_int;
use crate::parser::ast::{Expr, ExprKind, UnOp};

/// A constant integer: a literal, possibly negated, or a positional parameter (absent or
/// non-numeric ones are 0, as in bpftrace).
pub fn int(e: &Expr, params: &Params) -> Option<i64> {
    match &e.kind {
        ExprKind::Int(v) => i64::try_from(*v).ok(),
        ExprKind::Unary {
            op: UnOp::Neg,
            operand,
        } => int(operand, params).map(i64::wrapping_neg),
        ExprKind::Unary {
            op: UnOp::Plus,
            operand,
        } => int(operand, params),
        ExprKind::Positional(n) => Some(params.get(*n).and_then(|v| parse_int(v)).unwrap_or(0)),
        _ => None,
    }
}

/// A constant string: a literal, a positional parameter, or `str()` of one.
pub fn string(e: &Expr, params: &Params) -> Option<String> {
    match &e.kind {
        ExprKind::Str(s) => Some(s.clone()),
        ExprKind::Positional(n) => Some(params.get(*n).cloned().unwrap_or_default()),
        ExprKind::Call { name, args, .. } if name == "str" && args.len() == 1 => {
            string(&args[0], params)
        }
        _ => None,
    }
}
