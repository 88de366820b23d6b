//! `debugf(fmt, args…)`: a printf into the kernel's trace buffer (`bpf_trace_vprintk`),
//! read from tracefs (`trace_pipe`), not by spyglass. Integers and strings only, as the
//! kernel's formatter takes them: a string argument is passed by address.

use super::{Lowering, TypeRule};
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::{Expr, ExprKind};
use crate::sema::{CallCheck, Type};

pub struct Debugf;

/// The kernel's formatter takes at most this many arguments (MAX_BPRINTF_VARARGS).
const MAX_ARGS: usize = 12;
/// `bpf_trace_vprintk`
const TRACE_VPRINTK: u64 = 177;

impl TypeRule for Debugf {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 1 + MAX_ARGS)?;
        let fmt = c.str_literal(0, "debugf()'s format")?;
        let wanted = conversions(&fmt)
            .map_err(|m| Diagnostic::error(format!("bad debugf() format: {m}"), c.args[0].span))?;
        let given = c.args.len() - 1;
        if wanted != given {
            return Err(Diagnostic::error(
                format!(
                    "the format string has {wanted} conversion(s) but {given} argument(s) follow"
                ),
                c.span(),
            ));
        }
        for i in 1..c.args.len() {
            match c.value(i)? {
                t if t.is_int() => {}
                Type::Str { .. } => {}
                t => {
                    return Err(Diagnostic::error(
                        format!("debugf() prints integers and strings, not {}", t.describe()),
                        c.args[i].span,
                    ))
                }
            }
        }
        Ok(Type::Void)
    }
}

impl Lowering for Debugf {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let ExprKind::Str(fmt) = &args[0].kind else {
            unreachable!("sema: a literal format")
        };
        let fmt = kernel_format(fmt);
        let Val::Str(fmt_p, fmt_len) = g.str_const(fmt.as_bytes()) else {
            unreachable!()
        };
        let n = args.len() - 1;
        let data = g.stack(8 * n.max(1), "debugf_args");
        for (i, a) in args[1..].iter().enumerate() {
            let word = match g.expr(a)? {
                Val::Int(v) => v,
                // The kernel formatter reads `%s` through the pointer.
                Val::Str(p, _) => g.b.build_ptr_to_int(p, g.ctx.i64_type(), "s").unwrap(),
                _ => unreachable!("sema: integers and strings"),
            };
            g.store_i64(g.gep(data, 8 * i as u64), word);
        }
        let data_arg = if n == 0 {
            g.ptr_type().const_null()
        } else {
            data
        };
        g.helper_int(
            TRACE_VPRINTK,
            &[
                fmt_p.into(),
                g.i64(fmt_len as u64).into(),
                data_arg.into(),
                g.i64(8 * n as u64).into(),
            ],
        );
        Ok(Val::Void)
    }
}

/// Conversions in a format, `%%` aside.
fn conversions(fmt: &str) -> std::result::Result<usize, String> {
    let mut n = 0;
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            continue;
        }
        while chars
            .peek()
            .is_some_and(|c| "-+ #0123456789.hlzjt".contains(*c))
        {
            chars.next();
        }
        match chars.next() {
            Some('d' | 'i' | 'u' | 'x' | 'X' | 'o' | 's' | 'c' | 'p') => n += 1,
            Some(c) => return Err(format!("`%{c}` is not a conversion the kernel formats")),
            None => return Err("the format ends in `%`".into()),
        }
    }
    Ok(n)
}

/// Every integer conversion as 64-bit (`%d` → `%lld`): arguments travel as u64.
fn kernel_format(fmt: &str) -> String {
    let mut out = String::with_capacity(fmt.len() + 8);
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '%' {
            continue;
        }
        if chars.peek() == Some(&'%') {
            out.push(chars.next().unwrap());
            continue;
        }
        let mut spec = String::new();
        while let Some(&c) = chars.peek() {
            if "-+ #0123456789.".contains(c) {
                spec.push(c);
                chars.next();
            } else {
                break;
            }
        }
        while chars.peek().is_some_and(|c| "hlzjt".contains(*c)) {
            chars.next();
        }
        out.push_str(&spec);
        if let Some(conv) = chars.next() {
            if "diuxXo".contains(conv) {
                out.push_str("ll");
            }
            out.push(conv);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_conversions_become_64_bit() {
        assert_eq!(
            kernel_format("%d %-5u %lx %s %%d"),
            "%lld %-5llu %llx %s %%d"
        );
        assert_eq!(conversions("%d %s %%"), Ok(2));
        assert!(conversions("%f").is_err());
    }
}
