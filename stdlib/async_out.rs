//! `cat(fmt, …)`, `system(fmt, …)`, `errorf(fmt, …)` and `warnf(fmt, …)`: printf-like
//! calls whose text user space turns into a file's contents, a command's output or a
//! located message.

use super::output::{format_args, send};
use super::{Lowering, TypeRule};
use crate::codegen::{FnGen, Val};
use crate::diag::Result;
use crate::parser::ast::Expr;
use crate::program::EventSpec;
use crate::sema::{source_site, CallCheck, Type};

pub struct Cat;
pub struct Errorf;
pub struct Warnf;
pub struct System;

impl TypeRule for Cat {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        let (fmt, args) = format_args(c, "cat")?;
        c.event(EventSpec::Cat { fmt, args });
        Ok(Type::Void)
    }
}

impl Lowering for Cat {
    fn gen<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        call: &Expr,
        args: &[Expr],
    ) -> Result<Val<'ctx>> {
        send(g, call, &args[1..])
    }
}

impl TypeRule for System {
    fn destructive(&self) -> Option<&'static str> {
        Some("it runs a shell command for every call")
    }
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        let (fmt, args) = format_args(c, "system")?;
        c.event(EventSpec::System { fmt, args });
        Ok(Type::Void)
    }
}

impl Lowering for System {
    fn gen<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        call: &Expr,
        args: &[Expr],
    ) -> Result<Val<'ctx>> {
        send(g, call, &args[1..])
    }
}

fn log(c: &mut CallCheck, error: bool) -> Result<Type> {
    let (fmt, args) = format_args(c, if error { "errorf" } else { "warnf" })?;
    let site = script_source(c).map(|(name, text)| source_site(name, text, c.span()));
    c.event(EventSpec::Log {
        error,
        fmt,
        args,
        site,
    });
    Ok(Type::Void)
}

impl TypeRule for Errorf {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        log(c, true)
    }
}

impl Lowering for Errorf {
    fn gen<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        call: &Expr,
        args: &[Expr],
    ) -> Result<Val<'ctx>> {
        send(g, call, &args[1..])
    }
}

impl TypeRule for Warnf {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        log(c, false)
    }
}

impl Lowering for Warnf {
    fn gen<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        call: &Expr,
        args: &[Expr],
    ) -> Result<Val<'ctx>> {
        send(g, call, &args[1..])
    }
}

/// The script's name and text, when sema was given them.
fn script_source<'c>(c: &'c CallCheck) -> Option<(&'c str, &'c str)> {
    c.options()
        .source
        .as_ref()
        .map(|(n, s)| (n.as_str(), s.as_str()))
}
