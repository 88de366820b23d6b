//! `exit([code])`: asks user space to shut down (detach, run `end`, print maps);
//! `unwatch(addr)`: asks it to remove the watchpoints on an address.

use super::{Lowering, TypeRule};
use crate::codegen::{FnGen, Val};
use crate::diag::Result;
use crate::parser::ast::Expr;
use crate::program::{EventSpec, FieldType};
use crate::sema::{CallCheck, Type};

pub struct Exit;
pub struct Unwatch;

impl TypeRule for Unwatch {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 1)?;
        c.int(0, "the watched address")?;
        c.event(EventSpec::Unwatch);
        Ok(Type::Void)
    }
}

impl Lowering for Unwatch {
    /// Asynchronous, as documented: the watchpoint goes when user space reads the record,
    /// so a write or two more may still fire it.
    fn gen<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        call: &Expr,
        args: &[Expr],
    ) -> Result<Val<'ctx>> {
        let addr = g.expr(&args[0])?;
        let id = g.event_of(call);
        g.emit_event(id, &[(addr, FieldType::Int { signed: false })]);
        Ok(Val::Void)
    }
}

impl TypeRule for Exit {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(0, 1)?;
        if c.ck.in_map_loop() {
            return Err(crate::diag::Diagnostic::error(
                "`exit()` cannot be used inside a `for` over a map",
                c.span(),
            )
            .with_note("use `break`, then exit() after the loop"));
        }
        if !c.args.is_empty() {
            c.int(0, "the exit code")?;
        }
        c.event(EventSpec::Exit);
        Ok(Type::Void)
    }
}

impl Lowering for Exit {
    fn gen<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        call: &Expr,
        args: &[Expr],
    ) -> Result<Val<'ctx>> {
        let code = match args.first() {
            Some(a) => g.expr(a)?,
            None => Val::Int(g.i64(0)),
        };
        let id = g.event_of(call);
        g.emit_event(id, &[(code, FieldType::Int { signed: true })]);
        // bpftrace: nothing after exit() runs in this probe.
        g.ret_and_continue();
        Ok(Val::Void)
    }
}
