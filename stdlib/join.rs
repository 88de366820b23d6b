//! `join(argv[, sep])`: prints a NULL-terminated array of string pointers (a command line)
//! as one line, its elements separated by `sep` (a space by default).

use super::{Lowering, TypeRule};
use crate::codegen::func::helper;
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::Expr;
use crate::program::{EventSpec, JOIN_ARG_SIZE, JOIN_MAX_ARGS};
use crate::sema::{CallCheck, Type};

pub struct Join;

impl TypeRule for Join {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 2)?;
        let t = c.value(0)?;
        if !matches!(t, Type::Ptr { .. } | Type::Int { .. }) {
            return Err(Diagnostic::error(
                format!(
                    "join() takes an array of string pointers, not {}",
                    t.describe()
                ),
                c.args[0].span,
            )
            .with_note("e.g. `join(args.argv)` on tracepoint:syscalls:sys_enter_execve"));
        }
        let sep = if c.args.len() == 2 {
            c.str_literal(1, "join()'s separator")?
        } else {
            " ".to_string()
        };
        c.event(EventSpec::Join { sep });
        Ok(Type::Void)
    }
}

impl Lowering for Join {
    fn gen<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        call: &Expr,
        args: &[Expr],
    ) -> Result<Val<'ctx>> {
        let id = g.event_of(call);
        let array = g.expr(&args[0])?.int();
        let user = match g.ck.ty(args[0].id) {
            Type::Ptr { user, .. } => *user,
            _ => crate::probes::of(&g.point.attach).user_addresses(),
        };
        let (read, read_str) = if user {
            (helper::PROBE_READ_USER, helper::PROBE_READ_USER_STR)
        } else {
            (helper::PROBE_READ_KERNEL, helper::PROBE_READ_KERNEL_STR)
        };
        let size = 8 + JOIN_MAX_ARGS * JOIN_ARG_SIZE as usize;
        g.emit_event_with(id, size, |g, payload| {
            let elem = g.stack(8, "join_elem");
            let done = g.block("join_done");
            g.store_i64(payload, g.i64(0));
            // Unrolled: the element count is small and fixed, and each step may end the walk.
            for i in 0..JOIN_MAX_ARGS as u64 {
                let at = g.b.build_int_add(array, g.i64(8 * i), "join_at").unwrap();
                let at = g.b.build_int_to_ptr(at, g.ptr_type(), "join_src").unwrap();
                g.store_i64(elem, g.i64(0));
                g.helper_int(read, &[elem.into(), g.i64(8).into(), at.into()]);
                let p = g.load_i64(elem);
                let end =
                    g.b.build_int_compare(inkwell::IntPredicate::EQ, p, g.i64(0), "join_end")
                        .unwrap();
                let next = g.block("join_next");
                g.b.build_conditional_branch(end, done, next).unwrap();
                g.b.position_at_end(next);
                let slot = g.gep(payload, 8 + i * JOIN_ARG_SIZE as u64);
                let src = g.b.build_int_to_ptr(p, g.ptr_type(), "join_str").unwrap();
                g.helper_int(
                    read_str,
                    &[slot.into(), g.i64(JOIN_ARG_SIZE as u64).into(), src.into()],
                );
                g.store_i64(payload, g.i64(i + 1));
            }
            g.b.build_unconditional_branch(done).unwrap();
            g.b.position_at_end(done);
        });
        Ok(Val::Void)
    }
}
