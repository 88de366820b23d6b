//! `str(ptr[, len])`: reads a NUL-terminated string from user or kernel memory.

use super::{Lowering, TypeRule};
use crate::codegen::func::helper;
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::Expr;
use crate::sema::{CallCheck, Type};

pub struct Str;

impl TypeRule for Str {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 2)?;
        let strlen = c.options().strlen;
        let size = if c.args.len() == 2 {
            let n = c.const_int(1, "str()'s length")?;
            if n <= 0 {
                return Err(Diagnostic::error(
                    "str()'s length must be positive",
                    c.args[1].span,
                ));
            }
            (n as u32 + 1).min(strlen)
        } else {
            strlen
        };
        // `str($1)` is the parameter's text, even when it reads as a number.
        let t = match c.args[0].kind {
            crate::parser::ast::ExprKind::Positional(n) if n > 0 => {
                let t = c.ck.positional_type(n, true);
                c.ck.set_type(c.args[0].id, t.clone());
                t
            }
            _ => c.value(0)?,
        };
        Ok(match t {
            // Already a string (`str($1)`, `str(args.name)` on a __data_loc field).
            Type::Str { size: s } => Type::Str { size: s.min(size) },
            _ => Type::Str { size },
        })
    }
}

impl Lowering for Str {
    fn gen<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        call: &Expr,
        args: &[Expr],
    ) -> Result<Val<'ctx>> {
        let Type::Str { size } = *g.ck.ty(call.id) else {
            unreachable!("str() is a string")
        };
        let v = g.expr(&args[0])?;
        let ptr = match v {
            Val::Str(p, s) => return Ok(Val::Str(p, s.min(size))),
            Val::Int(p) => p,
            Val::Void | Val::Tuple(..) | Val::Record(..) => {
                unreachable!("sema: str() of an integer or string")
            }
        };
        let buf = g.stack(size as usize, "str");
        let read = if user_pointer(g, &args[0]) {
            helper::PROBE_READ_USER_STR
        } else {
            helper::PROBE_READ_KERNEL_STR
        };
        let src = g.b.build_int_to_ptr(ptr, g.ptr_type(), "src").unwrap();
        g.helper_int(read, &[buf.into(), g.i64(size as u64).into(), src.into()]);
        Ok(Val::Str(buf, size))
    }
}

/// Pointers carry their address space (syscall tracepoint arguments point into user
/// memory); plain integers are kernel addresses.
/// Pointers typed as user memory, and plain integers in probes on user code (uprobes:
/// `str(arg0)`), are read from user space.
fn user_pointer(g: &FnGen, e: &Expr) -> bool {
    match g.ck.ty(e.id) {
        Type::Ptr { user, .. } => *user,
        _ => crate::probes::of(&g.point.attach).user_addresses(),
    }
}
