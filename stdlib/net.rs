//! `ntop([af,] addr)` and `pton("a.b.c.d")`, IPv4 only for now.
//!
//! An IPv4 address is its four bytes in network order, read from memory: a `char[4]`
//! tracepoint field (a 4-byte string here) or an integer whose little-endian bytes are
//! the address (`ntop(0x0100007f)` is `127.0.0.1`). `pton` yields such an integer.
//! An IPv6 address is 16 bytes (`in6_addr`'s `u6_addr8`). The text of either is written
//! in user space (see `SymKind::Inet`).

use std::net::Ipv4Addr;

use super::Function;
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::Expr;
use crate::program::{FieldType, SymKind};
use crate::sema::{CallCheck, Type};

pub struct Ntop;
pub struct Pton;

const AF_INET: i64 = 2;
const AF_INET6: i64 = 10;

impl Function for Ntop {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 2)?;
        let addr = c.args.len() - 1;
        let family = if addr == 1 {
            let af = c.const_int(0, "ntop()'s address family")?;
            if af != AF_INET && af != AF_INET6 {
                return Err(Diagnostic::error(
                    format!("unknown address family {af}"),
                    c.args[0].span,
                )
                .with_note("use 2 (AF_INET) or 10 (AF_INET6)"));
            }
            Some(af)
        } else {
            None
        };
        match (family, c.value(addr)?) {
            (None | Some(AF_INET), Type::Int { .. } | Type::Str { size: 4 })
            | (None | Some(AF_INET6), Type::Str { size: 16 }) => Ok(Type::Sym(SymKind::Inet)),
            (_, t) => Err(Diagnostic::error(
                "ntop() needs an IPv4 address (an integer or 4 bytes) or an IPv6 address (16 bytes)",
                c.args[addr].span,
            )
            .with_label(format!("this is {}", t.describe()))),
        }
    }
    /// (family, address): the text is written in user space.
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let out = g.stack(24, "inet");
        let family = match g.expr(args.last().expect("sema: one or two arguments"))? {
            Val::Int(v) => {
                let v32 = g.b.build_int_truncate(v, g.ctx.i32_type(), "ip").unwrap();
                g.b.build_store(g.gep(out, 8), v32).unwrap();
                AF_INET
            }
            Val::Str(p, 4) => {
                g.b.build_memcpy(g.gep(out, 8), 8, p, 1, g.i64(4)).unwrap();
                AF_INET
            }
            Val::Str(p, _) => {
                g.b.build_memcpy(g.gep(out, 8), 8, p, 1, g.i64(16)).unwrap();
                AF_INET6
            }
            _ => unreachable!("sema: an integer, 4 or 16 bytes"),
        };
        g.store_i64(out, g.i64(family as u64));
        Ok(Val::Tuple(out, vec![FieldType::Int { signed: false }; 3]))
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

pub struct Macaddr;

impl Function for Macaddr {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 1)?;
        match c.value(0)? {
            Type::Str { size } if size >= 6 => {}
            Type::Int { .. } | Type::Ptr { .. } => {}
            t => {
                return Err(Diagnostic::error(
                    "macaddr() needs six bytes: a char[6], a pointer to them or an integer",
                    c.args[0].span,
                )
                .with_label(format!("this is {}", t.describe())))
            }
        }
        Ok(Type::Sym(SymKind::Mac))
    }
    /// The six bytes in one word; the text is written in user space.
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let user = matches!(g.ck.ty(args[0].id), Type::Ptr { user: true, .. });
        let pointer = matches!(g.ck.ty(args[0].id), Type::Ptr { .. });
        let word = match g.expr(&args[0])? {
            Val::Int(p) if pointer => {
                let out = g.stack(8, "mac");
                let read = match user {
                    true => crate::codegen::func::helper::PROBE_READ_USER,
                    false => crate::codegen::func::helper::PROBE_READ_KERNEL,
                };
                g.helper_int(read, &[out.into(), g.i64(6).into(), p.into()]);
                g.load_i64(out)
            }
            Val::Int(v) => v,
            Val::Str(p, _) => {
                let out = g.stack(8, "mac");
                g.b.build_memcpy(out, 8, p, 1, g.i64(6)).unwrap();
                g.load_i64(out)
            }
            _ => unreachable!("sema: six bytes"),
        };
        let mask = g.i64(0xffff_ffff_ffff);
        Ok(Val::Int(g.b.build_and(word, mask, "mac").unwrap()))
    }
}
