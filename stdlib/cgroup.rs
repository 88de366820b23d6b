//! `cgroup_path(id[, "filter"])`: the id is captured; the runtime finds the cgroup's
//! directory in every mounted hierarchy the filter (a `*` wildcard) matches.

use super::{Lowering, TypeRule};
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::kinds::{self, ValueKind};
use crate::parser::ast::Expr;
use crate::sema::{CallCheck, Type};

pub struct CgroupPath;

impl TypeRule for CgroupPath {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 2)?;
        let t = c.ck.expr(&c.args[0])?;
        if !matches!(t, Type::Int { .. }) {
            return Err(Diagnostic::error(
                format!(
                    "cgroup_path() needs a cgroup id (an integer), not {}",
                    t.describe()
                ),
                c.args[0].span,
            ));
        }
        let filter = if c.args.len() == 2 {
            let span = c.args[1].span;
            crate::sema::consts::string(&c.args[1], &c.ck.params()).ok_or_else(|| {
                Diagnostic::error("the filter of cgroup_path() must be a string literal", span)
            })?
        } else {
            "*".to_string()
        };
        Ok(Type::Kind(ValueKind::new(&kinds::CGROUP_PATH, filter)))
    }
}

impl Lowering for CgroupPath {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        Ok(Val::Int(g.expr(&args[0])?.int()))
    }
}

/// `cgroupid("/sys/fs/cgroup/x")`: a cgroup v2 id is its directory's inode number, read
/// while compiling.
pub struct Cgroupid;

impl TypeRule for Cgroupid {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        use std::os::unix::fs::MetadataExt;
        c.arity(1, 1)?;
        let path = c.str_literal(0, "cgroupid()'s path")?;
        let meta = std::fs::metadata(&path).map_err(|e| {
            Diagnostic::error(
                format!(
                    "cannot read cgroup `{path}`: {}",
                    crate::diag::io_reason(&e)
                ),
                c.args[0].span,
            )
        })?;
        c.ck.consts.insert(c.call.id, meta.ino());
        Ok(Type::UINT)
    }
}

impl Lowering for Cgroupid {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, e: &Expr, _: &[Expr]) -> Result<Val<'ctx>> {
        super::meta::gen_constant(g, e)
    }
}
