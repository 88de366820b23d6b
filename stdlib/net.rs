//! `ntop([af,] addr)` and `pton("a.b.c.d")`, IPv4 only for now.
//!
//! An IPv4 address is its four bytes in network order, read from memory: a `char[4]`
//! tracepoint field (a 4-byte string here) or an integer whose little-endian bytes are
//! the address (`ntop(0x0100007f)` is `127.0.0.1`). `pton` yields such an integer.

use std::net::Ipv4Addr;

use super::textgen::Appender;
use super::Function;
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::Expr;
use crate::sema::{CallCheck, Type};

pub struct Ntop;
pub struct Pton;

const AF_INET: i64 = 2;
const AF_INET6: i64 = 10;
/// `255.255.255.255` and its NUL.
const TEXT_SIZE: u32 = 16;

impl Function for Ntop {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 2)?;
        let addr = c.args.len() - 1;
        if addr == 1 {
            let af = c.const_int(0, "ntop()'s address family")?;
            if af == AF_INET6 {
                return Err(Diagnostic::error(
                    "ntop() of IPv6 addresses is not supported yet",
                    c.args[0].span,
                ));
            }
            if af != AF_INET {
                return Err(Diagnostic::error(
                    format!("unknown address family {af}"),
                    c.args[0].span,
                )
                .with_note("use 2 (AF_INET)"));
            }
        }
        match c.value(addr)? {
            Type::Int { .. } | Type::Str { size: 4 } => Ok(Type::Str { size: TEXT_SIZE }),
            t => Err(Diagnostic::error(
                "ntop() needs an IPv4 address: an integer or a char[4]",
                c.args[addr].span,
            )
            .with_label(format!("this is {}", t.describe()))),
        }
    }
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let addr = match g.expr(args.last().expect("sema: one or two arguments"))? {
            Val::Int(v) => v,
            Val::Str(p, _) => {
                let v =
                    g.b.build_load(g.ctx.i32_type(), p, "ip")
                        .unwrap()
                        .into_int_value();
                g.b.build_int_z_extend(v, g.ctx.i64_type(), "ip").unwrap()
            }
            _ => unreachable!("sema: an integer or char[4]"),
        };
        let mut text = Appender::new(g, 2);
        for i in 0..4u64 {
            if i > 0 {
                text.push_const(g, b'.');
            }
            let octet =
                g.b.build_right_shift(addr, g.i64(8 * i), false, "o")
                    .unwrap();
            let octet = g.b.build_and(octet, g.i64(0xff), "o").unwrap();
            text.push_decimal(g, octet, 3);
        }
        let buf = g.stack(TEXT_SIZE as usize, "ntop");
        text.store(g, buf);
        Ok(Val::Str(buf, TEXT_SIZE))
    }
}

fn parse(c: &CallCheck) -> Result<Ipv4Addr> {
    let text = c.str_literal(0, "pton()'s address")?;
    text.parse::<Ipv4Addr>().map_err(|_| {
        let d = Diagnostic::error(format!("`{text}` is not an IPv4 address"), c.args[0].span);
        if text.contains(':') {
            d.with_note("IPv6 addresses are not supported yet")
        } else {
            d
        }
    })
}

impl Function for Pton {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 1)?;
        parse(c)?;
        Ok(Type::UINT)
    }
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let text = match &args[0].kind {
            crate::parser::ast::ExprKind::Str(s) => s.clone(),
            _ => unreachable!("sema: a string literal"),
        };
        let ip: Ipv4Addr = text.parse().expect("sema parsed it");
        Ok(Val::Int(g.i64(u32::from_le_bytes(ip.octets()) as u64)))
    }
}
