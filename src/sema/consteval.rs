//! Values known while compiling: literals, positional parameters, `$#`, and what sema
//! computed (`sizeof`, `offsetof`, the `is_*` predicates), combined by operators. They
//! decide `static_assert`, and an `if` whose condition is one keeps only the branch taken,
//! so `fail()` and code a parameter rules out are never checked nor compiled.

use super::expr::parse_int;
use super::Checker;
use crate::parser::ast::{BinOp, Expr, ExprKind, UnOp};

impl Checker<'_> {
    /// The compile-time value of `e`, when it has one (wrapping 64-bit arithmetic).
    pub(crate) fn const_eval(&self, e: &Expr) -> Option<i64> {
        match &e.kind {
            ExprKind::Int(v) => Some(*v as i64),
            ExprKind::Bool(b) => Some(*b as i64),
            ExprKind::Positional(n) => Some(
                self.params()
                    .get(*n)
                    .map(|v| parse_int(v).unwrap_or(0))
                    .unwrap_or(0),
            ),
            ExprKind::PositionalCount => Some(self.params().count() as i64),
            ExprKind::Call { .. } | ExprKind::Ident(_) => {
                self.core_const_used(e.id);
                self.consts.get(&e.id).map(|&v| v as i64)
            }
            ExprKind::Unary { op, operand } => {
                let v = self.const_eval(operand)?;
                match op {
                    UnOp::Neg => Some(v.wrapping_neg()),
                    UnOp::Plus => Some(v),
                    UnOp::Not => Some((v == 0) as i64),
                    UnOp::BitNot => Some(!v),
                    UnOp::Deref | UnOp::AddrOf => None,
                }
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let a = self.const_eval(lhs)?;
                // Short-circuit as at run time: `$# > 0 && …` need not be constant on the right.
                match op {
                    BinOp::LogAnd if a == 0 => return Some(0),
                    BinOp::LogOr if a != 0 => return Some(1),
                    _ => {}
                }
                let b = self.const_eval(rhs)?;
                binary(*op, a, b)
            }
            ExprKind::Ternary {
                cond,
                then,
                otherwise,
            } => match self.const_eval(cond)? {
                0 => self.const_eval(otherwise),
                _ => self.const_eval(then),
            },
            ExprKind::Block {
                stmts,
                value: Some(v),
            } if stmts.is_empty() => self.const_eval(v),
            _ => None,
        }
    }
}

fn binary(op: BinOp, a: i64, b: i64) -> Option<i64> {
    let bool = |x: bool| Some(x as i64);
    match op {
        BinOp::Add => Some(a.wrapping_add(b)),
        BinOp::Sub => Some(a.wrapping_sub(b)),
        BinOp::Mul => Some(a.wrapping_mul(b)),
        // Division by zero is a run-time matter (result 1 and a warning).
        BinOp::Div => (b != 0).then(|| a.wrapping_div(b)),
        BinOp::Mod => (b != 0).then(|| a.wrapping_rem(b)),
        BinOp::BitAnd => Some(a & b),
        BinOp::BitOr => Some(a | b),
        BinOp::BitXor => Some(a ^ b),
        BinOp::Shl => Some(a.wrapping_shl(b as u32)),
        BinOp::Shr => Some(((a as u64).wrapping_shr(b as u32)) as i64),
        BinOp::Eq => bool(a == b),
        BinOp::Ne => bool(a != b),
        BinOp::Lt => bool(a < b),
        BinOp::Le => bool(a <= b),
        BinOp::Gt => bool(a > b),
        BinOp::Ge => bool(a >= b),
        BinOp::LogAnd => bool(a != 0 && b != 0),
        BinOp::LogOr => bool(a != 0 || b != 0),
    }
}
