//! Statements: control flow, assignments to variables and maps.

use super::func::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::{Block, Expr, ExprKind, Stmt, StmtKind};
use crate::program::{FieldType, MapId, MapKind};
use crate::sema::Type;
use inkwell::values::PointerValue;

impl<'a, 'ctx> FnGen<'a, 'ctx> {
    pub fn stmts(&mut self, b: &Block) -> Result<()> {
        for s in &b.stmts {
            self.statement(|g| g.stmt(s))?;
        }
        Ok(())
    }

    pub(super) fn stmt(&mut self, s: &Stmt) -> Result<()> {
        match &s.kind {
            StmtKind::Expr(e) => {
                self.expr(e)?;
            }
            StmtKind::Assign { target, op, value } => {
                self.writing(target, |g| g.assign(target, *op, value))?
            }
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                match self.ck.static_conds.get(&cond.id) {
                    Some(true) => return self.stmts(then),
                    Some(false) => {
                        return match otherwise {
                            Some(o) => self.stmts(o),
                            None => Ok(()),
                        }
                    }
                    None => {}
                }
                let c = self.expr(cond)?.int();
                let c = self.truthy(c);
                let (t, f, done) = (self.block("then"), self.block("else"), self.block("endif"));
                self.b.build_conditional_branch(c, t, f).unwrap();
                self.b.position_at_end(t);
                self.stmts(then)?;
                self.b.build_unconditional_branch(done).unwrap();
                self.b.position_at_end(f);
                if let Some(o) = otherwise {
                    self.stmts(o)?;
                }
                self.b.build_unconditional_branch(done).unwrap();
                self.b.position_at_end(done);
            }
            StmtKind::Block(b) => self.stmts(b)?,
            StmtKind::For { .. }
            | StmtKind::While { .. }
            | StmtKind::Break
            | StmtKind::Continue => self.loop_stmt(s)?,
            StmtKind::Return(v) => self.ret_stmt(v.as_ref())?,
            StmtKind::Unroll { count, body } => {
                let ExprKind::Int(n) = count.kind else {
                    unreachable!("sema: constant unroll count")
                };
                for _ in 0..n {
                    self.stmts(body)?;
                }
            }
            StmtKind::Let { value, ty, .. } => {
                let slot_name = self.ck.var_slots[&crate::sema::let_id(s)].clone();
                let (slot, t) = self.var_slot(&slot_name);
                let f = t.field().expect("variables hold storable values");
                // A declaration (re)starts the variable at zero, as bpftrace does.
                self.zero(slot, f.size());
                if let Some(v) = value {
                    let mut val = self.expr(v)?;
                    // `let $x: T = v` truncates v to T (sema resolved T, typedefs included).
                    if let (Some(_), Val::Int(i), true) = (ty, &val, t.is_int()) {
                        val = Val::Int(self.cast(*i, &t));
                    }
                    self.store_field(slot, val, &f);
                }
            }
        }
        Ok(())
    }

    /// The frame slot of `$name`, with the type sema settled on.
    pub fn var_slot(&mut self, name: &str) -> (PointerValue<'ctx>, Type) {
        let (off, t, big) = self.frame_layout[name].clone();
        let frame = match big {
            true => self.big_frame.expect("large variables have a frame"),
            false => self.frame,
        };
        (self.gep(frame, off as u64), t)
    }

    fn assign(
        &mut self,
        target: &Expr,
        op: Option<crate::parser::ast::BinOp>,
        value: &Expr,
    ) -> Result<()> {
        if let Some(op) = op {
            let cur = self.expr(target)?.int();
            let rhs = self.expr(value)?.int();
            if let Some(&ev) = self.ck.compound_div_events.get(&value.id) {
                self.warn_if_zero(rhs, ev);
            }
            let rhs = self.ptr_scale(rhs, &self.ck.ty(target.id).clone());
            let signed = (self.ck.ty(value.id).is_signed() && !value.is_flexible_literal())
                || self.ck.ty(target.id).is_signed();
            let v = self.arith(op, cur, rhs, signed);
            return self.store_to(target, Val::Int(v));
        }
        match &target.kind {
            ExprKind::Ident(n) if n == "_" => self.expr(value).map(|_| ()),
            ExprKind::Map { name, keys } => {
                let (id, spec) = self.ck.map(name);
                if let MapKind::Value(_) = spec.kind {
                    let v = self.expr(value)?;
                    self.store_map(id, keys, v)
                } else {
                    let ExprKind::Call {
                        name: fname, args, ..
                    } = &value.kind
                    else {
                        let ExprKind::Ident(fname) = &value.kind else {
                            return Err(Diagnostic::error(
                                "internal error: aggregation without a call",
                                value.span,
                            ));
                        };
                        let f = self.lower.function(fname).expect("sema checked the call");
                        return f.update(self, id, keys, &[]);
                    };
                    let f = self.lower.function(fname).expect("sema checked the call");
                    f.update(self, id, keys, args)
                }
            }
            _ => {
                let v = self.expr(value)?;
                self.store_to(target, v)
            }
        }
    }

    /// Writes a value to a variable or a plain map element.
    pub fn store_to(&mut self, target: &Expr, v: Val<'ctx>) -> Result<()> {
        match &target.kind {
            ExprKind::Var(_) => {
                let (slot, t) = self.var_slot(&self.ck.var_slots[&target.id].clone());
                let f = t.field().expect("variables hold storable values");
                if !matches!(f, FieldType::Int { .. } | FieldType::Bool) {
                    self.zero(slot, f.size());
                }
                self.store_field(slot, v, &f);
                Ok(())
            }
            ExprKind::Map { name, keys } => {
                let (id, _) = self.ck.map(name);
                self.store_map(id, keys, v)
            }
            _ => Err(Diagnostic::error(
                "internal error: bad assignment target",
                target.span,
            )),
        }
    }

    fn store_map(&mut self, id: MapId, keys: &[Expr], v: Val<'ctx>) -> Result<()> {
        let key = self.map_key(id, keys, None)?;
        let MapKind::Value(f) = &self.ck.maps[id].kind else {
            unreachable!("plain map")
        };
        let val = self.stack(f.size(), "val");
        self.store_field(val, v, f);
        self.update(id, key, val);
        Ok(())
    }
}
