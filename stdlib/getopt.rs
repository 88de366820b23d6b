//! `getopt("name"[, default[, "description"]])`: a named program option, given on the
//! command line after `--` as `--name=value` (or a bare `--name` for a boolean). The value is
//! a compile-time constant: the default's type decides how the text is read.

use super::{Lowering, TypeRule};
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::{Expr, ExprKind, UnOp};
use crate::sema::{CallCheck, Type};

pub struct Getopt;

pub use crate::params::{NamedError, OptDecl, OptValue};
pub use crate::sema::params::NamedOptions;

/// The default as written: a string, integer or boolean literal.
fn literal_default(e: &Expr) -> Result<OptValue> {
    let bad = || {
        Diagnostic::error(
            "getopt()'s default must be a string, integer or boolean literal",
            e.span,
        )
    };
    match &e.kind {
        ExprKind::Str(s) => Ok(OptValue::Str(s.clone())),
        ExprKind::Int(v) => Ok(OptValue::Int(*v as i64)),
        ExprKind::Unary {
            op: UnOp::Neg,
            operand,
        } => match operand.kind {
            ExprKind::Int(v) => Ok(OptValue::Int((v as i64).wrapping_neg())),
            _ => Err(bad()),
        },
        ExprKind::Bool(b) => Ok(OptValue::Bool(*b)),
        _ => Err(bad()),
    }
}

fn decl(args: &[Expr]) -> Result<(String, OptValue)> {
    let name = match &args[0].kind {
        ExprKind::Str(s) => s.clone(),
        _ => {
            return Err(Diagnostic::error(
                "getopt()'s option name must be a string literal",
                args[0].span,
            ))
        }
    };
    let default = match args.get(1) {
        Some(a) => literal_default(a)?,
        None => OptValue::Bool(false),
    };
    Ok((name, default))
}

impl TypeRule for Getopt {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 3)?;
        let (name, default) = decl(c.args)?;
        let description = match c.args.len() {
            3 => Some(c.str_literal(2, "getopt()'s description")?),
            _ => None,
        };
        let named = &c.options().named;
        {
            let mut declared = named.declared.lock().unwrap_or_else(|e| e.into_inner());
            match declared.iter_mut().find(|d| d.name == name) {
                Some(d) if d.default != default => {
                    return Err(Diagnostic::error(
                        format!("option `{name}` needs the same default everywhere it is read"),
                        c.span(),
                    )
                    .with_note(format!(
                        "it was declared before with the default {}",
                        d.default
                    )))
                }
                Some(d) => d.description = d.description.take().or(description),
                None => declared.push(OptDecl {
                    name: name.clone(),
                    default: default.clone(),
                    description,
                }),
            }
        }
        let given = named.value(&name, &default);
        let given_text = match &given {
            Ok(OptValue::Str(s)) => Some(s.as_str()),
            _ => None,
        };
        if let Some(t) = c.ck.named_type(&name, &default, given_text) {
            return Ok(t);
        }
        Ok(match given {
            Ok(OptValue::Str(s)) => Type::Str {
                size: s.len() as u32 + 1,
            },
            _ if matches!(default, OptValue::Bool(_)) => Type::Bool,
            // A bad value is the command line's to report, after sema.
            _ => Type::INT,
        })
    }
}

impl Lowering for Getopt {
    fn gen<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        _call: &Expr,
        args: &[Expr],
    ) -> Result<Val<'ctx>> {
        let (name, default) = decl(args)?;
        if g.ck.options.portable {
            let is_str = matches!(default, OptValue::Str(_));
            return Ok(g.param_value(&crate::params::Param::Named(name), is_str));
        }
        let value =
            g.ck.options
                .named
                .value(&name, &default)
                .map_err(Diagnostic::global)?;
        Ok(match value {
            OptValue::Bool(b) => Val::Int(g.i64(b as u64)),
            OptValue::Int(v) => Val::Int(g.i64(v as u64)),
            OptValue::Str(s) => g.str_const(s.as_bytes()),
        })
    }
}
