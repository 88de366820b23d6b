//! `printf`, `print` and `time`: values travel to user space as ring-buffer events and are
//! formatted there (`runtime::format`).

use super::{Lowering, TypeRule};
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::{Expr, ExprKind};
use crate::program::{EventSpec, FieldType};
use crate::runtime::format::printf::{arg_kinds, ArgKind};
use crate::sema::{CallCheck, Type};

pub struct Printf;
pub struct Print;
pub struct Time;

/// Lowers the arguments and sends them with the call's event.
pub(super) fn send<'ctx>(g: &mut FnGen<'_, 'ctx>, call: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
    let id = g.event_of(call);
    let fields = g.ck.events[id].payload();
    let mut vals = vec![];
    for (a, f) in args.iter().zip(fields) {
        vals.push((g.expr(a)?, f));
    }
    g.emit_event(id, &vals);
    Ok(Val::Void)
}

/// Checks `fmt, args…` of a printf-like call; gives the format and the argument fields.
pub(super) fn format_args(c: &mut CallCheck, what: &str) -> Result<(String, Vec<FieldType>)> {
    c.arity(1, 129)?;
    let fmt = c.str_literal(0, &format!("{what}'s format"))?;
    let kinds = arg_kinds(&fmt)
        .map_err(|m| Diagnostic::error(format!("bad format string: {m}"), c.args[0].span))?;
    let given = c.args.len() - 1;
    if kinds.len() != given {
        return Err(Diagnostic::error(
            format!(
                "the format string has {} conversion(s) but {given} argument(s) follow",
                kinds.len()
            ),
            c.span(),
        )
        .with_secondary(c.args[0].span, "format string"));
    }
    let mut fields = vec![];
    for (i, kind) in kinds.iter().enumerate() {
        let t = c.value(i + 1)?;
        match kind {
            ArgKind::Int if !t.is_truthy() => {
                return Err(Diagnostic::error(
                    format!(
                        "conversion {} expects an integer, but this is {}",
                        i + 1,
                        t.describe()
                    ),
                    c.args[i + 1].span,
                ))
            }
            ArgKind::Buffer if !matches!(t, Type::Buf { .. } | Type::Str { .. }) => {
                return Err(Diagnostic::error(
                    format!(
                        "conversion {} (%r) expects a buffer, but this is {}",
                        i + 1,
                        t.describe()
                    ),
                    c.args[i + 1].span,
                ))
            }
            _ => {}
        }
        fields.push(t.field().expect("printable"));
    }
    Ok((fmt, fields))
}

impl TypeRule for Printf {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        let (fmt, args) = format_args(c, "printf")?;
        c.event(EventSpec::Printf { fmt, args });
        Ok(Type::Void)
    }
}

impl Lowering for Printf {
    fn gen<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        call: &Expr,
        args: &[Expr],
    ) -> Result<Val<'ctx>> {
        send(g, call, &args[1..])
    }
}

impl TypeRule for Print {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 3)?;
        if let ExprKind::Map { keys, .. } = &c.args[0].kind {
            if keys.is_empty() {
                let name = c.map_ref(0)?;
                let top = if c.args.len() > 1 {
                    c.const_int(1, "print()'s top")?.max(0) as u64
                } else {
                    0
                };
                let div = if c.args.len() > 2 {
                    c.const_int(2, "print()'s divisor")?.max(0) as u64
                } else {
                    0
                };
                let map = c.map_id_of(&name).expect("map_ref registered it");
                c.event(EventSpec::PrintMap { map, top, div });
                return Ok(Type::Void);
            }
        }
        c.arity(1, 1)?;
        let t = c.value(0)?;
        c.event(EventSpec::Print {
            value: t.field().expect("printable"),
        });
        Ok(Type::Void)
    }
}

impl Lowering for Print {
    fn gen<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        call: &Expr,
        args: &[Expr],
    ) -> Result<Val<'ctx>> {
        let id = g.event_of(call);
        match g.ck.events[id] {
            EventSpec::PrintMap { .. } => {
                g.emit_event(id, &[]);
                Ok(Val::Void)
            }
            _ => send(g, call, args),
        }
    }
}

impl TypeRule for Time {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(0, 1)?;
        let fmt = if c.args.is_empty() {
            "%H:%M:%S\n".to_string()
        } else {
            c.str_literal(0, "time()'s format")?
        };
        c.event(EventSpec::Time { fmt });
        Ok(Type::Void)
    }
}

impl Lowering for Time {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, call: &Expr, _: &[Expr]) -> Result<Val<'ctx>> {
        let id = g.event_of(call);
        g.emit_event(id, &[]);
        Ok(Val::Void)
    }
}
