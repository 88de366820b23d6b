//! `bswap(n)` and `kaddr("sym")`.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{Lowering, TypeRule};
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::Expr;
use crate::sema::{CallCheck, Type};

pub struct Bswap;
pub struct Kaddr;

impl TypeRule for Bswap {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 1)?;
        match c.int(0, "the argument of bswap()")? {
            Type::Bool => Err(Diagnostic::error(
                "bswap() needs an integer, not a bool",
                c.args[0].span,
            )),
            t => Ok(t),
        }
    }
}

impl Lowering for Bswap {
    /// Reverses the bytes of the operand's declared width; the result has its type.
    fn gen<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        call: &Expr,
        args: &[Expr],
    ) -> Result<Val<'ctx>> {
        let Type::Int { signed, bits } = *g.ck.ty(call.id) else {
            unreachable!("sema: bswap() of an integer")
        };
        let v = g.expr(&args[0])?.int();
        let n = (bits / 8).max(1) as u64;
        let mut out = g.i64(0);
        for k in 0..n {
            let byte = g.b.build_right_shift(v, g.i64(8 * k), false, "b").unwrap();
            let byte = g.b.build_and(byte, g.i64(0xff), "b").unwrap();
            let byte =
                g.b.build_left_shift(byte, g.i64(8 * (n - 1 - k)), "b")
                    .unwrap();
            out = g.b.build_or(out, byte, "swapped").unwrap();
        }
        if signed && n < 8 {
            let up = g.i64(64 - 8 * n);
            let hi = g.b.build_left_shift(out, up, "hi").unwrap();
            out = g.b.build_right_shift(hi, up, true, "sext").unwrap();
        }
        Ok(Val::Int(out))
    }
}

/// `/proc/kallsyms` lookups, remembered: sema checks a call in several rounds.
fn kernel_symbol(name: &str) -> Option<u64> {
    static CACHE: Mutex<Option<HashMap<String, Option<u64>>>> = Mutex::new(None);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let cache = cache.get_or_insert_with(HashMap::new);
    if let Some(v) = cache.get(name) {
        return *v;
    }
    let found = std::fs::read_to_string("/proc/kallsyms")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                let mut f = l.split_whitespace();
                let (addr, _kind, sym) = (f.next()?, f.next()?, f.next()?);
                (sym == name)
                    .then(|| u64::from_str_radix(addr, 16).ok())
                    .flatten()
            })
        });
    cache.insert(name.to_string(), found);
    found
}

impl TypeRule for Kaddr {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 1)?;
        let span = c.args[0].span;
        let name = crate::sema::consts::string(&c.args[0], &c.ck.params()).ok_or_else(|| {
            Diagnostic::error("kaddr() needs a symbol name as a string literal", span)
        })?;
        match kernel_symbol(&name) {
            // Without privileges kallsyms lists every address as 0.
            Some(0) => Err(Diagnostic::error(
                format!("cannot read the address of kernel symbol `{name}`"),
                c.span(),
            )
            .with_note("/proc/kallsyms shows addresses only to root (see kernel.kptr_restrict)")),
            Some(_) => Ok(Type::UINT),
            None => Err(Diagnostic::error(
                format!("Failed to resolve kernel symbol: {name}"),
                c.span(),
            )),
        }
    }
}

impl Lowering for Kaddr {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let name = crate::sema::consts::string(&args[0], &g.ck.params()).unwrap_or_default();
        Ok(Val::Int(g.i64(kernel_symbol(&name).unwrap_or(0))))
    }
}
