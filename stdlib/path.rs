//! `path(struct path *p[, size])`: the file path of a `struct path`, by the kernel's
//! `bpf_d_path`. The kernel allows it in trampoline programs on the functions it
//! allowlists (`btf_allowlist_d_path`), and the pointer must be one the verifier knows as
//! a `struct path`: `args.path`, `&args.file->f_path` (trampoline arguments are loaded
//! straight from the context, so they keep their BTF type). Iterators would need their
//! context's fields loaded the same way; spyglass reads those as plain memory, so
//! `path()` is refused there.

use super::Function;
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::Expr;
use crate::sema::{CallCheck, Type};

pub struct Path;

/// `bpf_d_path`
const D_PATH: u64 = 147;

impl Function for Path {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 2)?;
        super::process::only_in(c, "path()", &["fentry", "fexit"])?;
        match c.value(0)? {
            Type::Ptr { .. } => {}
            t => {
                return Err(
                    Diagnostic::error("path() needs a `struct path *`", c.args[0].span)
                        .with_label(format!("this is {}", t.describe())),
                )
            }
        }
        let strlen = c.options().strlen;
        let size = match c.args.len() {
            2 => {
                let n = c.const_int(1, "path()'s size")?;
                if n <= 0 {
                    return Err(Diagnostic::error(
                        "path()'s size must be positive",
                        c.args[1].span,
                    ));
                }
                (n as u32).min(strlen)
            }
            _ => strlen,
        };
        Ok(Type::Str { size })
    }

    /// A failed lookup leaves the string empty.
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, e: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let Type::Str { size } = *g.ck.ty(e.id) else {
            unreachable!("path() is a string")
        };
        let p = g.expr(&args[0])?.int();
        let buf = g.stack(size as usize, "path");
        g.helper_int(D_PATH, &[p.into(), buf.into(), g.i64(size as u64).into()]);
        Ok(Val::Str(buf, size))
    }
}
