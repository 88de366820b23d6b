//! Statement checking: assignments decide the types of variables and maps.

use super::{Checker, Type};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::{Block, Expr, ExprKind, Stmt, StmtKind};
use crate::program::MapKind;

impl Checker<'_> {
    /// In inference rounds a failing statement is skipped (its error may only mean a map
    /// type is not known yet); in the final round the first error stops the check.
    pub(crate) fn block(&mut self, b: &Block, final_round: bool) -> Result<()> {
        for s in &b.stmts {
            match self.stmt(s, final_round) {
                Err(e) if final_round => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    fn stmt(&mut self, s: &Stmt, final_round: bool) -> Result<()> {
        match &s.kind {
            StmtKind::Expr(e) => self.expr_stmt(e),
            StmtKind::Assign { target, op: None, value } => self.assign(target, value),
            StmtKind::Assign { target, op: Some(op), value } => {
                self.int_target(target)?;
                self.int_expr(value, &format!("the right side of `{}=`", op.symbol()))?;
                Ok(())
            }
            StmtKind::If { cond, then, otherwise } => {
                self.int_expr(cond, "an `if` condition")?;
                self.block(then, final_round)?;
                if let Some(b) = otherwise {
                    self.block(b, final_round)?;
                }
                Ok(())
            }
            StmtKind::Block(b) => self.block(b, final_round),
        }
    }

    fn expr_stmt(&mut self, e: &Expr) -> Result<()> {
        let t = self.expr(e)?;
        if let Type::Agg(_) = t {
            return Err(Diagnostic::error("the result of an aggregation function must be assigned to a map", e.span)
                .with_note("e.g. `@calls[comm] = count();`"));
        }
        Ok(())
    }

    fn assign(&mut self, target: &Expr, value: &Expr) -> Result<()> {
        match &target.kind {
            ExprKind::Var(name) => {
                let t = self.value_expr(value)?;
                let new = match self.vars.get(name) {
                    None => t,
                    Some(old) => super::types::unify_types(old, &t)
                        .ok_or_else(|| {
                            Diagnostic::error(
                                format!("`${name}` is {}, and cannot be assigned {}", old.describe(), t.describe()),
                                value.span,
                            )
                        })?,
                };
                self.set_type(target.id, new.clone());
                self.vars.insert(name.clone(), new);
                Ok(())
            }
            ExprKind::Map { name, keys } => {
                let t = self.expr(value)?;
                let kind = match t {
                    Type::Agg(kind) => kind,
                    Type::Int { .. } | Type::Bool | Type::Str { .. } | Type::Tuple(_) => MapKind::Value(t.field().unwrap()),
                    other => {
                        return Err(Diagnostic::error(format!("{} cannot be stored in a map", other.describe()), value.span))
                    }
                };
                let key = self.keys(keys)?;
                let id = self.map_key(name, key, target.span)?;
                self.map_kind(id, kind, value.span)?;
                let stored = self.maps[id].1.kind.clone();
                if let Some(MapKind::Value(f)) = stored {
                    self.set_type(target.id, Type::from_field(&f));
                }
                Ok(())
            }
            _ => Err(Diagnostic::error("only a variable or a map can be assigned to", target.span)
                .with_note("e.g. `$x = 1;` or `@m[pid] = 1;`")),
        }
    }
}
