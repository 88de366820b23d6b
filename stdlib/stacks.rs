//! `kstack` / `ustack` (`kstack(mode)`, `kstack(limit)`, `kstack(mode, limit)`): the stack id
//! from `bpf_get_stackid` plus the pid; user space symbolizes when printing.

use super::{Lowering, TypeRule};
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::{Expr, ExprKind};
use crate::program::{FieldType, StackMode, MAX_STACK_DEPTH};
use crate::sema::{CallCheck, Type};

pub struct Stack {
    pub user: bool,
}

const GET_STACKID: u64 = 27;
const BPF_F_USER_STACK: u64 = 1 << 8;

fn parse(args: &[Expr], default_mode: StackMode, user: bool) -> Result<(StackMode, u32)> {
    let (mut mode, mut limit) = (default_mode, MAX_STACK_DEPTH);
    for a in args {
        match &a.kind {
            ExprKind::Ident(m) => {
                mode = match m.as_str() {
                    "bpftrace" => StackMode::Bpftrace,
                    "perf" => StackMode::Perf,
                    "raw" => StackMode::Raw,
                    "build_id" if user => StackMode::BuildId,
                    // bpftrace falls back to raw addresses: kernel frames have no build id.
                    "build_id" => StackMode::Raw,
                    _ => {
                        return Err(
                            Diagnostic::error(format!("unknown stack mode `{m}`"), a.span)
                                .with_note("modes are bpftrace, perf, raw and build_id"),
                        )
                    }
                }
            }
            ExprKind::Int(n) if (1..=MAX_STACK_DEPTH as u64).contains(n) => limit = *n as u32,
            ExprKind::Int(_) => {
                return Err(Diagnostic::error(
                    format!("a stack limit must be between 1 and {MAX_STACK_DEPTH}"),
                    a.span,
                ))
            }
            _ => {
                return Err(Diagnostic::error(
                    "expected a stack mode or a limit",
                    a.span,
                ))
            }
        }
    }
    Ok((mode, limit))
}

impl TypeRule for Stack {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(0, 2)?;
        let default = match c.options().stack_mode {
            // Kernel frames have no build id (see `parse`).
            StackMode::BuildId if !self.user => StackMode::Raw,
            m => m,
        };
        let (mode, limit) = parse(c.args, default, self.user)?;
        c.needs(crate::sema::Resource::StackMap);
        Ok(Type::Kind(crate::kinds::Stack::of(self.user, mode, limit)))
    }
}

impl Lowering for Stack {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, _: &[Expr]) -> Result<Val<'ctx>> {
        let map = g
            .globals
            .stacks
            .expect("sema asked for a stack map")
            .as_pointer_value();
        let flags = if self.user { BPF_F_USER_STACK } else { 0 };
        let id = g.helper_int(
            GET_STACKID,
            &[g.ctx_ptr.into(), map.into(), g.i64(flags).into()],
        );
        let pid_tgid = g.helper_int(crate::codegen::func::helper::GET_CURRENT_PID_TGID, &[]);
        let pid =
            g.b.build_right_shift(pid_tgid, g.i64(32), false, "pid")
                .unwrap();
        let buf = g.stack(16, "stack");
        g.store_i64(buf, id);
        g.store_i64(g.gep(buf, 8), pid);
        Ok(Val::Tuple(buf, vec![FieldType::Int { signed: true }; 2]))
    }
}
