//! `strerror(errno)`: the C library's message for an error number, as a string.
//!
//! The messages are this host's strerror(3) texts, compiled into the program as a switch;
//! numbers without one read `Unknown error N`, as glibc prints them.

use inkwell::values::{IntValue, PointerValue};
use inkwell::IntPredicate;

use super::textgen::{switch_text, Appender};
use super::{Lowering, TypeRule};
use crate::codegen::{FnGen, Val};
use crate::diag::Result;
use crate::parser::ast::Expr;
use crate::sema::{CallCheck, Type};

pub struct Strerror;

/// Error numbers with a message of their own (Linux has fewer than 134).
const MAX_ERRNO: i32 = 200;
const UNKNOWN: &str = "Unknown error ";
/// Digits shown for unknown numbers; `Unknown error -9999999` fits in 24 bytes.
const UNKNOWN_DIGITS: u32 = 7;

fn messages() -> Vec<(i32, String)> {
    (0..=MAX_ERRNO)
        .filter_map(|n| {
            let s = std::io::Error::from_raw_os_error(n).to_string();
            let s = s.split(" (os error").next().unwrap_or("").to_string();
            (!s.starts_with("Unknown error") && !s.is_empty()).then_some((n, s))
        })
        .collect()
}

fn buffer_size() -> u32 {
    let longest = messages().iter().map(|(_, m)| m.len()).max().unwrap_or(0);
    (longest.max(UNKNOWN.len() + 1 + UNKNOWN_DIGITS as usize) as u32 + 1 + 7) & !7
}

impl TypeRule for Strerror {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 1)?;
        c.int(0, "the argument of strerror()")?;
        Ok(Type::Str {
            size: buffer_size(),
        })
    }
}

impl Lowering for Strerror {
    fn gen<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        call: &Expr,
        args: &[Expr],
    ) -> Result<Val<'ctx>> {
        let Type::Str { size } = *g.ck.ty(call.id) else {
            unreachable!("strerror() is a string")
        };
        let n = g.expr(&args[0])?.int();
        let buf = g.stack(size as usize, "strerror");
        let msgs = messages();
        let cases: Vec<(u64, &[u8])> = msgs
            .iter()
            .map(|(num, m)| (*num as u64, m.as_bytes()))
            .collect();
        switch_text(g, n, &cases, buf, |g| number_text(g, buf, UNKNOWN, n));
        Ok(Val::Str(buf, size))
    }
}

/// `prefix` then N, with N's sign and up to `UNKNOWN_DIGITS` digits (`Unknown error N`).
pub(super) fn number_text<'ctx>(
    g: &FnGen<'_, 'ctx>,
    buf: PointerValue<'ctx>,
    prefix: &str,
    n: IntValue<'ctx>,
) {
    let words = (prefix.len() + 1 + UNKNOWN_DIGITS as usize).div_ceil(8);
    let mut text = Appender::new(g, words);
    for c in prefix.bytes() {
        text.push_const(g, c);
    }
    let neg =
        g.b.build_int_compare(IntPredicate::SLT, n, g.i64(0), "neg")
            .unwrap();
    text.push(g, g.i64(b'-' as u64), g.widen(neg));
    let mag = g.b.build_int_neg(n, "mag").unwrap();
    let mag =
        g.b.build_select(neg, mag, n, "mag")
            .unwrap()
            .into_int_value();
    text.push_decimal(g, mag, UNKNOWN_DIGITS);
    text.store(g, buf);
}
