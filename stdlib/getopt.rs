//! `getopt("name"[, default[, "description"]])`: a named program option, given on the
//! command line after `--` as `--name=value` (or a bare `--name` for a boolean). The value is
//! a compile-time constant: the default's type decides how the text is read.

use std::fmt;
use std::sync::{Arc, Mutex};

use super::Function;
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::{Expr, ExprKind, UnOp};
use crate::sema::{parse_int, CallCheck, Type};

pub struct Getopt;

/// An option's default; its variant is the option's type.
#[derive(Debug, Clone, PartialEq)]
pub enum OptValue {
    Bool(bool),
    Int(i64),
    Str(String),
}

impl fmt::Display for OptValue {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            OptValue::Bool(b) => write!(f, "{b}"),
            OptValue::Int(v) => write!(f, "{v}"),
            OptValue::Str(s) => write!(f, "\"{s}\""),
        }
    }
}

/// One `getopt()` the script makes.
#[derive(Debug, Clone)]
pub struct OptDecl {
    pub name: String,
    pub default: OptValue,
    pub description: Option<String>,
}

/// The named options of one run: what the command line gives and what the script declares.
#[derive(Debug, Clone, Default)]
pub struct NamedOptions {
    /// `--name=value`, or `--name` (no value), in command-line order.
    pub given: Vec<(String, Option<String>)>,
    /// Filled in by getopt's type rule, so that the command line can reject options the
    /// script never reads (and list the ones it does) once sema is done.
    pub declared: Arc<Mutex<Vec<OptDecl>>>,
}

/// A command-line problem with named options, in bpftrace's words.
#[derive(Debug, PartialEq)]
pub struct NamedError {
    /// `None` for `--help`, which only asks for the list.
    pub error: Option<String>,
    pub hint: Option<String>,
}

impl NamedOptions {
    pub fn new(given: Vec<(String, Option<String>)>) -> Self {
        NamedOptions {
            given,
            declared: Arc::default(),
        }
    }

    /// The last value given for `name`: `Some(None)` for a bare `--name`.
    fn given(&self, name: &str) -> Option<Option<&str>> {
        self.given
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_deref())
    }

    /// The value `getopt(name, default)` stands for.
    pub fn value(&self, name: &str, default: &OptValue) -> std::result::Result<OptValue, String> {
        let Some(text) = self.given(name) else {
            return Ok(default.clone());
        };
        let bad = |what: &str| {
            format!(
                "program command line option --{name} invalid {what} (value: {})",
                text.unwrap_or("")
            )
        };
        match default {
            OptValue::Bool(_) => match text {
                None | Some("true") | Some("1") => Ok(OptValue::Bool(true)),
                Some("false") | Some("0") => Ok(OptValue::Bool(false)),
                Some(_) => Err(bad("boolean")),
            },
            OptValue::Int(_) => text
                .and_then(parse_int)
                .map(OptValue::Int)
                .ok_or_else(|| bad("integer")),
            OptValue::Str(_) => Ok(OptValue::Str(text.unwrap_or("").to_string())),
        }
    }

    /// After sema: every option given must be one the script reads, with a value of its type.
    pub fn validate(&self) -> std::result::Result<(), NamedError> {
        let declared = self
            .declared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let hint = || {
            let mut h = String::from("expected program options:");
            if declared.is_empty() {
                h.push_str(" none");
            }
            for d in &declared {
                h.push_str(&format!("\n  --{}", d.name));
                if let Some(desc) = &d.description {
                    h.push_str(&format!(": {desc}"));
                }
            }
            Some(h)
        };
        for (name, _) in &self.given {
            if declared.iter().any(|d| &d.name == name) {
                continue;
            }
            let error = (name != "help")
                .then(|| format!("unexpected program command line option --{name}"));
            return Err(NamedError {
                error,
                hint: hint(),
            });
        }
        for d in &declared {
            self.value(&d.name, &d.default).map_err(|e| NamedError {
                error: Some(e),
                hint: None,
            })?;
        }
        Ok(())
    }
}

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

impl Function for Getopt {
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
        Ok(match named.value(&name, &default) {
            Ok(OptValue::Str(s)) => Type::Str {
                size: s.len() as u32 + 1,
            },
            _ if matches!(default, OptValue::Bool(_)) => Type::Bool,
            // A bad value is the command line's to report, after sema.
            _ => Type::INT,
        })
    }

    fn gen<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        _call: &Expr,
        args: &[Expr],
    ) -> Result<Val<'ctx>> {
        let (name, default) = decl(args)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(given: &[(&str, Option<&str>)], decls: &[(&str, OptValue)]) -> NamedOptions {
        let n = NamedOptions::new(
            given
                .iter()
                .map(|(a, b)| (a.to_string(), b.map(String::from)))
                .collect(),
        );
        for (name, default) in decls {
            let d = OptDecl {
                name: name.to_string(),
                default: default.clone(),
                description: None,
            };
            n.declared.lock().unwrap().push(d);
        }
        n
    }

    #[test]
    fn values_follow_the_default_type() {
        let n = opts(
            &[("aa", Some("0x10")), ("dd", None), ("cc", Some("bye"))],
            &[],
        );
        assert_eq!(n.value("aa", &OptValue::Int(1)), Ok(OptValue::Int(16)));
        assert_eq!(
            n.value("dd", &OptValue::Bool(false)),
            Ok(OptValue::Bool(true))
        );
        assert_eq!(
            n.value("cc", &OptValue::Str("x".into())),
            Ok(OptValue::Str("bye".into()))
        );
        assert_eq!(n.value("zz", &OptValue::Int(-1)), Ok(OptValue::Int(-1)));
    }

    #[test]
    fn bad_values_and_unknown_options() {
        let n = opts(&[("aa", Some("False"))], &[("aa", OptValue::Int(10))]);
        let e = n.validate().unwrap_err();
        assert_eq!(
            e.error.as_deref(),
            Some("program command line option --aa invalid integer (value: False)")
        );
        let n = opts(&[("help", None)], &[("aa", OptValue::Int(10))]);
        assert_eq!(
            n.validate(),
            Err(NamedError {
                error: None,
                hint: Some("expected program options:\n  --aa".into())
            })
        );
        let n = opts(&[("zz", Some("1"))], &[]);
        assert_eq!(
            n.validate().unwrap_err().error.as_deref(),
            Some("unexpected program command line option --zz")
        );
    }
}
