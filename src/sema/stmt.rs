//! Statement checking: assignments decide the types of variables and maps.

use super::{Checker, Type};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::{BinOp, Block, Expr, ExprKind, ForIter, Stmt, StmtKind};
use crate::program::MapKind;

impl Checker<'_> {
    /// In inference rounds a failing statement is skipped (its error may only mean a map
    /// type is not known yet); in the final round the first error stops the check.
    pub(crate) fn block(&mut self, b: &Block, final_round: bool) -> Result<()> {
        let mut jumped = false;
        for s in &b.stmts {
            if jumped {
                self.warnings.push(
                    Diagnostic::warning("Unreachable code", s.span)
                        .with_note("a `return`, `break` or `continue` before it ends the block"),
                );
                jumped = false;
            }
            match self.stmt(s, final_round) {
                Err(e) if final_round => return Err(e),
                _ => {}
            }
            if matches!(
                s.kind,
                StmtKind::Return(_) | StmtKind::Break | StmtKind::Continue
            ) && !std::ptr::eq(s, b.stmts.last().unwrap())
            {
                jumped = true;
            }
        }
        Ok(())
    }

    pub(crate) fn stmt(&mut self, s: &Stmt, final_round: bool) -> Result<()> {
        match &s.kind {
            StmtKind::Expr(e) => self.expr_stmt(e),
            StmtKind::Assign {
                target,
                op: None,
                value,
            } => {
                self.assign(target, value)?;
                self.warn_map_full(target, s.span);
                Ok(())
            }
            StmtKind::Assign {
                target,
                op: Some(op),
                value,
            } => {
                self.compound_target(target, *op)?;
                self.warn_map_full(target, s.span);
                self.int_expr(value, &format!("the right side of `{}=`", op.symbol()))?;
                if matches!(op, BinOp::Div | BinOp::Mod) {
                    self.warn_compound_divide(s.span, value);
                }
                Ok(())
            }
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                // Before the last round a condition may read a map only its branches give a
                // type (`if (@t[k] == 0) { @t[k] = nsecs; }`): check them anyway.
                let c = self.cond_expr(cond, "an `if` condition");
                if final_round {
                    c?;
                }
                // An artifact tests its parameters when it runs (the verifier still drops
                // the dead branch), unless a branch must be ruled out while compiling: a
                // `fail()`, as in `if ($1 < 2) { fail(…); }`, fixes the parameter.
                let at_run = self.opts.portable
                    && super::params::mentions_params(cond)
                    && !std::iter::once(then)
                        .chain(otherwise)
                        .flat_map(|b| &b.stmts)
                        .any(|s| s.any(&mut |e| matches!(&e.kind, ExprKind::Call { name, .. } if name == "fail")));
                let known = match at_run {
                    true => None,
                    false => self.const_eval(cond).map(|v| v != 0),
                };
                if let Some(k) = known {
                    self.static_conds.insert(cond.id, k);
                }
                // A branch the condition rules out is still typed (maps it writes get their
                // types), but its errors, like a `fail()`, do not count; it is not compiled.
                self.block(then, final_round && known != Some(false))?;
                match otherwise {
                    Some(b) => self.block(b, final_round && known != Some(true)),
                    None => Ok(()),
                }
            }
            StmtKind::Block(b) => self.block(b, final_round),
            StmtKind::Unroll { count, body } => {
                let n = match &count.kind {
                    ExprKind::Int(n) => *n,
                    _ => {
                        return Err(Diagnostic::error(
                            "unroll needs a constant count",
                            count.span,
                        ))
                    }
                };
                if !(1..=100).contains(&n) {
                    return Err(Diagnostic::error(
                        "unroll count must be between 1 and 100",
                        count.span,
                    )
                    .with_label(format!("this is {n}")));
                }
                self.block(body, final_round)
            }
            StmtKind::While { cond, body } => {
                self.warnings.push(
                    Diagnostic::warning("`while` loops are deprecated", s.span)
                        .with_note("use `for ($i : start..end)`, which the verifier checks once"),
                );
                let c = self.cond_expr(cond, "a `while` condition");
                if final_round {
                    c?;
                }
                self.loop_body(body, final_round, false)
            }
            StmtKind::For { var, iter, body } => {
                let (t, over_map) = match iter {
                    ForIter::Range(a, b) => {
                        self.int_expr(a, "a range's start")?;
                        self.int_expr(b, "a range's end")?;
                        (Type::INT, false)
                    }
                    ForIter::Map { name, span } => {
                        let (key, value) = self.map_elem_types(name, *span)?;
                        (Type::Tuple(vec![key, value]), true)
                    }
                };
                // The variable lives only inside the loop, in a slot of its own.
                let slot = format!("{var}@{}", s.span.0);
                self.bind_var(&slot, t, s.span)?;
                self.loop_slots.insert(s.span.0, slot.clone());
                let outer = self.scoped.insert(var.clone(), slot);
                let r = self.loop_body(body, final_round, over_map);
                match outer {
                    Some(o) => self.scoped.insert(var.clone(), o),
                    None => self.scoped.remove(var),
                };
                r
            }
            StmtKind::Break | StmtKind::Continue if self.loops == 0 => Err(Diagnostic::error(
                "`break` and `continue` only make sense inside a loop",
                s.span,
            )),
            StmtKind::Break | StmtKind::Continue => Ok(()),
            StmtKind::Return(v) => {
                if let Some(v) = v {
                    self.int_expr(v, "a `return` value")?;
                }
                Ok(())
            }
            StmtKind::Let { var, ty, value } => {
                let declared = match ty {
                    Some(name) => Some(self.resolve_type(name, s.span)?),
                    None => None,
                };
                let t = match (value, &declared) {
                    (Some(v), Some(d)) => {
                        let vt = self.value_expr(v)?;
                        if !(vt.is_int() && d.is_int())
                            && super::types::unify_types(&vt, d).is_none()
                        {
                            return Err(Diagnostic::error(
                                format!(
                                    "`${var}` is declared {}, but is given {}",
                                    d.describe(),
                                    vt.describe()
                                ),
                                v.span,
                            ));
                        }
                        literal_fits(v, d)?;
                        d.clone()
                    }
                    (Some(v), None) => self.value_expr(v)?,
                    (None, Some(d)) => d.clone(),
                    // Typed by the first assignment (see `let_types`); until one is seen, an
                    // integer, which is what reads of a never-assigned variable give.
                    (None, None) => {
                        let slot = self.slot(var, let_id(s));
                        return match self.let_types.get(&let_id(s)).cloned() {
                            Some(t) => self.bind_var(&slot, t, s.span),
                            None => {
                                self.provisional.insert(slot.clone(), let_id(s));
                                self.bind_var(&slot, Type::INT, s.span)
                            }
                        };
                    }
                };
                let slot = self.slot(var, let_id(s));
                self.bind_var(&slot, t, s.span)
            }
        }
    }
}

/// A literal given to a declared integer type must fit it (`let $a: uint16 = -1` is an
/// error); other values are converted as in C.
fn literal_fits(v: &Expr, to: &Type) -> Result<()> {
    use crate::parser::ast::UnOp;
    let n: i128 = match &v.kind {
        ExprKind::Int(n) => *n as i128,
        ExprKind::Unary {
            op: UnOp::Neg,
            operand,
        } => match operand.kind {
            ExprKind::Int(n) => -(n as i128),
            _ => return Ok(()),
        },
        _ => return Ok(()),
    };
    let Some((signed, bits)) = to.int_parts() else {
        return Ok(());
    };
    let (lo, hi) = match signed {
        true => (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1),
        false => (0, (1i128 << bits) - 1),
    };
    if n < lo || n > hi {
        return Err(Diagnostic::error(
            format!("the literal {n} does not fit {}", to.describe()),
            v.span,
        )
        .with_label(format!("{} holds {lo} to {hi}", to.describe())));
    }
    Ok(())
}

/// `let` has no expression of its own for the variable; its slot is recorded under an id
/// derived from the statement's position, which no expression id can reach.
pub fn let_id(s: &Stmt) -> crate::parser::ast::ExprId {
    u32::MAX - s.span.0 as u32
}

impl Checker<'_> {
    fn loop_body(&mut self, body: &Block, final_round: bool, over_map: bool) -> Result<()> {
        self.loops += 1;
        self.map_loops += u32::from(over_map);
        let r = self.block(body, final_round);
        self.loops -= 1;
        self.map_loops -= u32::from(over_map);
        r
    }

    fn bind_var(&mut self, name: &str, t: Type, span: crate::diag::Span) -> Result<()> {
        let new = match self.vars.get(name) {
            None => t,
            Some(old) => super::types::unify_types(old, &t).ok_or_else(|| {
                Diagnostic::error(
                    format!(
                        "`${name}` is {}, and cannot hold {}",
                        old.describe(),
                        t.describe()
                    ),
                    span,
                )
            })?,
        };
        self.vars.insert(name.to_string(), new);
        Ok(())
    }

    /// Key and value types of the elements a `for` over `@name` visits.
    fn map_elem_types(&mut self, name: &str, span: crate::diag::Span) -> Result<(Type, Type)> {
        let kind = self.map_value(name, span)?;
        let Some(id) = self.map_ids.get(name).copied() else {
            unreachable!("map_value registers the map")
        };
        let key = self.maps[id].1.key.clone();
        match (kind, key) {
            (Some(MapKind::Value(v)), Some(key)) if !key.is_empty() => {
                let key = if key.len() == 1 {
                    Type::from_field(&key[0])
                } else {
                    Type::Tuple(key.iter().map(Type::from_field).collect())
                };
                Ok((key, Type::from_field(&v)))
            }
            (Some(_), Some(key)) if key.is_empty() => Err(Diagnostic::error(
                format!("`{name}` has no keys, so there is nothing to iterate"),
                span,
            )),
            // Aggregations iterate with their values merged over every CPU, as they read.
            (
                Some(
                    k @ (MapKind::Count
                    | MapKind::Sum { .. }
                    | MapKind::Avg { .. }
                    | MapKind::Min { .. }
                    | MapKind::Max { .. }),
                ),
                Some(key),
            ) => {
                let key = if key.len() == 1 {
                    Type::from_field(&key[0])
                } else {
                    Type::Tuple(key.iter().map(Type::from_field).collect())
                };
                Ok((key, Self::agg_read_type(&k, name, span)?))
            }
            (Some(k), _) => Err(Diagnostic::error(
                format!(
                    "iterating over a {} map is not supported yet",
                    super::types::agg_name(&k)
                ),
                span,
            )
            .with_note(
                "for loops visit maps of plain values and count, sum, avg, min and max maps",
            )),
            (None, _) => Err(Diagnostic::error(
                format!("map `{name}` is used before it has a type"),
                span,
            )),
        }
    }

    fn expr_stmt(&mut self, e: &Expr) -> Result<()> {
        let t = self.expr(e)?;
        if let Type::Agg(_) = t {
            return Err(Diagnostic::error(
                "the result of an aggregation function must be assigned to a map",
                e.span,
            )
            .with_note("e.g. `@calls[comm] = count();`"));
        }
        // A value computed for nothing is likely a mistake; `delete` and `write_user` are
        // called for what they do, their result is optional.
        let discarded = match &e.kind {
            ExprKind::Call { name, .. } => {
                t != Type::Void && !matches!(name.as_str(), "delete" | "write_user")
            }
            ExprKind::Int(_) | ExprKind::Str(_) | ExprKind::Bool(_) => true,
            _ => false,
        };
        if discarded {
            self.warnings.push(
                Diagnostic::warning("Return value discarded.", e.span)
                    .with_note("assign it to `_` to discard it on purpose: `_ = …;`"),
            );
        }
        Ok(())
    }

    fn assign(&mut self, target: &Expr, value: &Expr) -> Result<()> {
        match &target.kind {
            // `_ = expr;` evaluates and discards.
            ExprKind::Ident(n) if n == "_" => self.expr(value).map(|_| ()),
            ExprKind::Var(name) => {
                let t = self.value_expr(value)?;
                let name = &self.slot(name, target.id);
                if let Some(id) = self.provisional.remove(name) {
                    if !t.is_int() {
                        // The first assignment after an untyped `let` gives it its type.
                        self.let_types.insert(id, t.clone());
                        self.changed = true;
                        self.vars.remove(name);
                    }
                }
                let new = match self.vars.get(name) {
                    None => t,
                    Some(old) => super::types::unify_types(old, &t).ok_or_else(|| {
                        Diagnostic::error(
                            format!(
                                "`${name}` is {}, and cannot be assigned {}",
                                old.describe(),
                                t.describe()
                            ),
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
                    _ if t.is_plain_value() => {
                        MapKind::Value(t.field().expect("plain values are storable"))
                    }
                    other => {
                        return Err(Diagnostic::error(
                            format!("{} cannot be stored in a map", other.describe()),
                            value.span,
                        ))
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
            _ => Err(
                Diagnostic::error("only a variable or a map can be assigned to", target.span)
                    .with_note("e.g. `$x = 1;` or `@m[pid] = 1;`"),
            ),
        }
    }
}
