//! `ntop([af,] addr)` and `pton("address")`.
//!
//! An IPv4 address is its four bytes in network order, read from memory: a `char[4]`
//! tracepoint field (a 4-byte string here), a `uint8[4]` (what `pton` gives) or an integer
//! whose little-endian bytes are the address (`ntop(0x0100007f)` is `127.0.0.1`).
//! An IPv6 address is 16 bytes (`in6_addr`'s `u6_addr8`, `pton("::1")`). The text of
//! either is written in user space (see `kinds::INET`).

use std::net::IpAddr;

use super::{Lowering, TypeRule};
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::kinds::{self, ValueKind};
use crate::parser::ast::Expr;
use crate::program::FieldType;
use crate::sema::{CallCheck, Type};

pub struct Ntop;
pub struct Pton;

const AF_INET: i64 = 2;
const AF_INET6: i64 = 10;

impl TypeRule for Ntop {
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
        let t = c.value(addr)?;
        let bytes = match &t {
            Type::Str { size } => Some(*size as u64),
            Type::Array { elem, len } if matches!(**elem, Type::Int { bits: 8, .. }) => Some(*len),
            _ => None,
        };
        match (family, &t, bytes) {
            (None | Some(AF_INET), Type::Int { .. }, _)
            | (None | Some(AF_INET), _, Some(4))
            | (None | Some(AF_INET6), _, Some(16)) => Ok(Type::Kind(ValueKind::new(&kinds::INET, ""))),
            _ => Err(Diagnostic::error(
                "ntop() needs an IPv4 address (an integer or 4 bytes) or an IPv6 address (16 bytes)",
                c.args[addr].span,
            )
            .with_label(format!("this is {}", t.describe()))),
        }
    }
}

impl Lowering for Ntop {
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
            Val::Tuple(p, f) => {
                let FieldType::Array { elem_size, len, .. } = f[0] else {
                    unreachable!("sema: a byte array")
                };
                let n = elem_size as u64 * len as u64;
                g.b.build_memcpy(g.gep(out, 8), 8, p, 1, g.i64(n)).unwrap();
                if n == 4 {
                    AF_INET
                } else {
                    AF_INET6
                }
            }
            _ => unreachable!("sema: an integer, 4 or 16 bytes"),
        };
        g.store_i64(out, g.i64(family as u64));
        Ok(Val::Tuple(out, vec![FieldType::Int { signed: false }; 3]))
    }
}

fn parse(c: &CallCheck) -> Result<IpAddr> {
    let text = c.str_literal(0, "pton()'s address")?;
    text.parse::<IpAddr>().map_err(|_| {
        Diagnostic::error(
            format!("`{text}` is not an IPv4 or IPv6 address"),
            c.args[0].span,
        )
    })
}

fn octets(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// `pton("addr")`: the address's bytes in network order, a `uint8[4]` or `uint8[16]`.
impl TypeRule for Pton {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 1)?;
        let len = octets(parse(c)?).len() as u64;
        Ok(Type::Array {
            elem: Box::new(Type::Int {
                signed: false,
                bits: 8,
            }),
            len,
        })
    }
}

impl Lowering for Pton {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, e: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let text = match &args[0].kind {
            crate::parser::ast::ExprKind::Str(s) => s.clone(),
            _ => unreachable!("sema: a string literal"),
        };
        let bytes = octets(text.parse().expect("sema parsed it"));
        let field = g.ck.ty(e.id).field().expect("sema: a byte array");
        let buf = g.stack(bytes.len(), "pton");
        for (i, word) in bytes.chunks(8).enumerate() {
            let mut w = [0u8; 8];
            w[..word.len()].copy_from_slice(word);
            g.store_i64(g.gep(buf, 8 * i as u64), g.i64(u64::from_le_bytes(w)));
        }
        Ok(Val::Tuple(buf, vec![field]))
    }
}

pub struct Macaddr;

impl TypeRule for Macaddr {
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
        Ok(Type::Kind(ValueKind::new(&kinds::MACADDR, "")))
    }
}

impl Lowering for Macaddr {
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
