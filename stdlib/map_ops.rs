//! `delete(@m[k])` / `delete(@m, k)`, `clear(@m)`, `zero(@m)`.

use super::{Lowering, TypeRule};
use crate::codegen::func::helper;
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::{Expr, ExprKind};
use crate::program::{EventSpec, Storage};
use crate::sema::{CallCheck, Type};

pub struct Delete;
pub struct Clear;
pub struct Zero;

impl TypeRule for Delete {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 2)?;
        if c.args.len() == 1 {
            c.map_elem(0)?;
            if let ExprKind::Map { name, .. } = &c.args[0].kind {
                c.ck.reset_maps.insert(name.clone());
            }
        } else {
            // delete(@m, key): the key is checked like an index of @m.
            let name = c.map_ref(0)?;
            c.ck.reset_maps.insert(name.clone());
            let key = c.ck.keys(std::slice::from_ref(&c.args[1]))?;
            let span = c.args[1].span;
            c.ck.map_key(&name, key, span)?;
        }
        // Whether the element existed.
        Ok(Type::Bool)
    }
}

impl Lowering for Delete {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let (name, keys): (&str, Vec<Expr>) = match (&args[0].kind, args.get(1)) {
            (ExprKind::Map { name, keys }, None) => (name, keys.clone()),
            (ExprKind::Map { name, .. }, Some(k)) => (name, vec![k.clone()]),
            _ => return Err(Diagnostic::error("expected a map element", args[0].span)),
        };
        let (id, spec) = g.ck.map(name);
        if spec.kind.bucketed() {
            return Err(Diagnostic::error(
                "delete() of one hist()/lhist()/tseries() key is not supported yet; use clear()",
                args[0].span,
            ));
        }
        let key = g.map_key(id, &keys, None)?;
        if spec.storage() == Storage::PerCpuArray {
            // An array slot cannot be deleted; mark it never written. It existed if it was set.
            let p = g.lookup(id, key);
            let size = spec.value_size();
            let existed = g.stack(8, "existed");
            g.if_null(
                p,
                |g| {
                    let set = g.load_i64(g.gep(p, 8));
                    g.store_i64(existed, g.widen(g.truthy(set)));
                    g.zero(p, size);
                    Ok(())
                },
                |_| Ok(()),
            )?;
            return Ok(Val::Int(g.load_i64(existed)));
        }
        let rc = g.helper_int(helper::MAP_DELETE_ELEM, &[g.map_ptr(id).into(), key.into()]);
        let ok =
            g.b.build_int_compare(inkwell::IntPredicate::EQ, rc, g.i64(0), "deleted")
                .unwrap();
        Ok(Val::Int(g.widen(ok)))
    }
}

/// clear and zero act on the whole map, so user space does them.
fn whole_map(c: &mut CallCheck, make: fn(usize) -> EventSpec) -> Result<Type> {
    c.arity(1, 1)?;
    let name = c.map_ref(0)?;
    let map = c.map_id_of(&name).expect("map_ref registered it");
    c.ck.reset_maps.insert(name);
    c.event(make(map));
    Ok(Type::Void)
}

impl TypeRule for Clear {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        whole_map(c, |map| EventSpec::Clear { map })
    }
}

impl Lowering for Clear {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, call: &Expr, _: &[Expr]) -> Result<Val<'ctx>> {
        g.emit_event(g.event_of(call), &[]);
        Ok(Val::Void)
    }
}

impl TypeRule for Zero {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        whole_map(c, |map| EventSpec::Zero { map })
    }
}

impl Lowering for Zero {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, call: &Expr, _: &[Expr]) -> Result<Val<'ctx>> {
        g.emit_event(g.event_of(call), &[]);
        Ok(Val::Void)
    }
}
