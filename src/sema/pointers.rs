//! Typing of pointers, as bpftrace has them: casts to `T*`, `*p`, `&$var`, `p ± n`,
//! comparisons and truthiness. bpftrace's rules: a pointer plus or minus an integer is a
//! pointer of the same type; pointers compare with pointers and integers; nothing else.

use super::types::pointee_size;
use super::{Checker, Type};
use crate::diag::{Diagnostic, Result, Span};
use crate::parser::ast::{BinOp, Expr, ExprKind, UnOp};

impl Checker<'_> {
    /// A condition (`if`, `while`, `?:`, predicates): an integer, a bool or a pointer.
    pub(crate) fn cond_expr(&mut self, e: &Expr, what: &str) -> Result<Type> {
        let t = self.expr(e)?;
        if !t.is_truthy() {
            return Err(Diagnostic::error(
                format!("{what} must be an integer or a pointer"),
                e.span,
            )
            .with_label(format!("this is {}", t.describe())));
        }
        Ok(t)
    }

    pub(super) fn unary(&mut self, e: &Expr, op: UnOp, operand: &Expr) -> Result<Type> {
        match op {
            UnOp::Deref => self.deref(e, operand),
            UnOp::AddrOf => self.addr_of(operand),
            _ => {
                let t = self.int_expr(operand, &format!("the operand of `{}`", unop_symbol(op)))?;
                Ok(match op {
                    UnOp::Neg => Type::INT,
                    UnOp::Not => Type::Bool,
                    UnOp::BitNot => Type::int(t.is_signed()),
                    _ => t,
                })
            }
        }
    }

    fn deref(&mut self, e: &Expr, operand: &Expr) -> Result<Type> {
        match self.expr(operand)? {
            Type::Ptr { to, .. } => match *to {
                Type::Void => Err(Diagnostic::error("a `void *` cannot be dereferenced", e.span)
                    .with_note("cast it to a sized pointer first, e.g. `*(uint64 *)p`")),
                Type::Opaque(name) => Err(Diagnostic::error(
                    format!("cannot read a `{name}`: spyglass does not know its layout"),
                    e.span,
                )
                .with_note("cast the pointer to an integer pointer to read a field, e.g. `*(uint64 *)(p + 8)`")),
                t => Ok(t),
            },
            // bpftrace reads a uint64 at an integer address.
            Type::Int { .. } => Ok(Type::UINT),
            t => Err(Diagnostic::error(format!("{} is not a pointer and cannot be dereferenced", t.describe()), operand.span)),
        }
    }

    fn addr_of(&mut self, operand: &Expr) -> Result<Type> {
        if !matches!(operand.kind, ExprKind::Var(_)) {
            return Err(
                Diagnostic::error("only a variable's address can be taken", operand.span)
                    .with_note("e.g. `$p = &$x;`"),
            );
        }
        let t = self.value_expr(operand)?;
        Ok(Type::ptr(t, false))
    }

    pub(super) fn cast(&mut self, e: &Expr, ty: &str, operand: &Expr) -> Result<Type> {
        let target = Type::from_name(ty).expect("the lexer only yields known type names");
        let t = self.expr(operand)?;
        if target == Type::Void {
            return Err(Diagnostic::error("cannot cast to void", e.span)
                .with_note("did you mean `(void *)`?"));
        }
        if !t.is_truthy() {
            return Err(Diagnostic::error(
                format!("cannot cast {} to {}", t.describe(), target.describe()),
                e.span,
            )
            .with_secondary(operand.span, t.describe()));
        }
        Ok(match (target, &t) {
            // A pointer cast keeps the address space of the pointer it converts.
            (Type::Ptr { to, .. }, Type::Ptr { user, .. }) => Type::Ptr { to, user: *user },
            (target, _) => target,
        })
    }

    /// `a op b` where `a` or `b` is a pointer.
    pub(super) fn ptr_binary(
        &mut self,
        op: BinOp,
        lhs: &Expr,
        a: &Type,
        rhs: &Expr,
        b: &Type,
    ) -> Result<Type> {
        let span = (lhs.span.0, rhs.span.1);
        if op.is_comparison() || matches!(op, BinOp::LogAnd | BinOp::LogOr) {
            if a.is_truthy() && b.is_truthy() {
                return Ok(Type::Bool);
            }
        } else if matches!(op, BinOp::Add | BinOp::Sub) {
            let (p, other) = if a.is_ptr() { (a, b) } else { (b, a) };
            // `n - p` has no meaning; `n + p` is `p + n`.
            if other.is_int() && (a.is_ptr() || op == BinOp::Add) {
                step(p, span)?;
                return Ok(p.clone());
            }
        }
        let d = Diagnostic::error(
            format!(
                "`{}` cannot be applied to {} and {}",
                op.symbol(),
                a.describe(),
                b.describe()
            ),
            span,
        )
        .with_secondary(lhs.span, a.describe())
        .with_secondary(rhs.span, b.describe());
        Err(if a.is_ptr() && b.is_ptr() {
            d.with_note("pointers can be compared; arithmetic only adds an integer to a pointer or subtracts one from it")
        } else {
            d.with_note(
                "a pointer can be compared, tested, or moved by adding or subtracting an integer",
            )
        })
    }

    /// The target of `op=`: an integer, or a pointer moved by `+=`/`-=`.
    pub(crate) fn compound_target(&mut self, target: &Expr, op: BinOp) -> Result<()> {
        let t = self.int_target(target)?;
        if t.is_ptr() {
            if !matches!(op, BinOp::Add | BinOp::Sub) {
                return Err(Diagnostic::error(
                    format!("`{}=` cannot be applied to {}", op.symbol(), t.describe()),
                    target.span,
                )
                .with_note("a pointer only moves with `+=` and `-=`"));
            }
            step(&t, target.span)?;
        }
        Ok(())
    }
}

/// Bytes one step of pointer `p` moves; an error when the pointee's size is unknown.
pub(crate) fn step(p: &Type, span: Span) -> Result<u64> {
    let Type::Ptr { to, .. } = p else {
        return Ok(1);
    };
    pointee_size(to).ok_or_else(|| {
        Diagnostic::error(
            format!(
                "cannot move a `{}`: spyglass does not know the size of `{}`",
                p.describe(),
                to.describe()
            ),
            span,
        )
        .with_note("cast it to a pointer of known size first, e.g. `(uint8 *)p + n`")
    })
}

pub(super) fn unop_symbol(op: UnOp) -> &'static str {
    match op {
        UnOp::Neg => "-",
        UnOp::Plus => "+",
        UnOp::Not => "!",
        UnOp::BitNot => "~",
        UnOp::Deref => "*",
        UnOp::AddrOf => "&",
    }
}
