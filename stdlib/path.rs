//! `path(struct path *p[, size])`: the file path of a `struct path`, by the kernel's
//! `bpf_d_path`, and `socket_cookie(struct sock *sk)`, by `bpf_get_socket_cookie`. The
//! kernel allows them in trampoline programs (`d_path` only on the functions it
//! allowlists, `btf_allowlist_d_path`) and in iterators, and the pointer must be one the
//! verifier knows by its BTF type: `args.path`, `&args.file->f_path`, `ctx.sk_common`
//! (trampoline arguments and typed-context members are loaded straight from the context,
//! so they keep that type).

use super::{Lowering, TypeRule};
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::Expr;
use crate::sema::{CallCheck, Type};

pub struct Path;

/// `bpf_d_path`
const D_PATH: u64 = 147;

impl TypeRule for Path {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 2)?;
        super::process::only_in(c, "path()", &["fentry", "fexit", "iter"])?;
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
}

impl Lowering for Path {
    /// A failed lookup leaves the string empty.
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, e: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let Type::Str { size } = *g.ck.ty(e.id) else {
            unreachable!("path() is a string")
        };
        let buf = g.stack(size as usize, "path");
        g.zero(buf, 1);
        let (p, null) = g.btf_object(&args[0])?;
        g.helper_int(D_PATH, &[p.into(), buf.into(), g.i64(size as u64).into()]);
        let done = g.block("path_done");
        g.b.build_unconditional_branch(done).unwrap();
        g.b.position_at_end(null);
        g.b.build_unconditional_branch(done).unwrap();
        g.b.position_at_end(done);
        Ok(Val::Str(buf, size))
    }
}

pub struct SocketCookie;

/// `bpf_get_socket_cookie`, which trampolines and iterators get in its BTF-pointer form.
const GET_SOCKET_COOKIE: u64 = 46;

impl TypeRule for SocketCookie {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 1)?;
        super::process::only_in(
            c,
            "socket_cookie()",
            &["fentry", "fexit", "iter", "rawtracepoint"],
        )?;
        c.ck.uses_btf_ctx = true;
        match c.value(0)? {
            Type::Ptr { .. } => Ok(Type::UINT),
            t => Err(
                Diagnostic::error("socket_cookie() needs a `struct sock *`", c.args[0].span)
                    .with_label(format!("this is {}", t.describe())),
            ),
        }
    }
}

impl Lowering for SocketCookie {
    /// 0 for a NULL socket, as bpftrace documents.
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let out = g.stack(8, "cookie");
        g.store_i64(out, g.i64(0));
        let (sk, null) = g.btf_object(&args[0])?;
        let c = g.helper_int(GET_SOCKET_COOKIE, &[sk.into()]);
        g.store_i64(out, c);
        let done = g.block("cookie_done");
        g.b.build_unconditional_branch(done).unwrap();
        g.b.position_at_end(null);
        g.b.build_unconditional_branch(done).unwrap();
        g.b.position_at_end(done);
        Ok(Val::Int(g.load_i64(out)))
    }
}
