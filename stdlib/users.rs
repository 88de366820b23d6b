//! `username`: the current uid's login name from this host's /etc/passwd, compiled into the
//! program as a switch (bpftrace looks it up in user space; the value is the same). A uid
//! without an entry reads as its number.

use std::sync::OnceLock;

use super::textgen::{switch_text, Appender};
use crate::codegen::func::helper::GET_CURRENT_UID_GID;
use crate::codegen::{FnGen, Val};
use crate::diag::{Result, Span};
use crate::parser::ast::Expr;
use crate::sema::{Checker, Type};

/// (uid, name) of every /etc/passwd entry, first entry of a uid winning.
fn users() -> &'static [(u64, String)] {
    static USERS: OnceLock<Vec<(u64, String)>> = OnceLock::new();
    USERS.get_or_init(|| {
        let text = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let mut out: Vec<(u64, String)> = vec![];
        for line in text.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if let (Some(name), Some(Ok(uid))) = (f.first(), f.get(2).map(|u| u.parse::<u64>())) {
                if !name.is_empty() && !out.iter().any(|(u, _)| *u == uid) {
                    out.push((uid, name.to_string()));
                }
            }
        }
        out
    })
}

/// Room for the longest name, or a 10-digit uid, and a NUL; whole words for the digits.
fn size() -> u32 {
    let longest = users()
        .iter()
        .map(|(_, n)| n.len())
        .max()
        .unwrap_or(0)
        .max(10);
    (longest as u32 + 1).max(16)
}

pub fn username_type(_: &mut Checker, _: Span) -> Result<Type> {
    Ok(Type::Str { size: size() })
}

pub fn username_gen<'ctx>(g: &mut FnGen<'_, 'ctx>, _: &Expr) -> Result<Val<'ctx>> {
    let size = size();
    let ids = g.helper_int(GET_CURRENT_UID_GID, &[]);
    let uid = g.b.build_and(ids, g.i64(0xffff_ffff), "uid").unwrap();
    let buf = g.stack(size as usize, "username");
    let cases: Vec<(u64, &[u8])> = users().iter().map(|(u, n)| (*u, n.as_bytes())).collect();
    switch_text(g, uid, &cases, buf, |g| {
        let mut text = Appender::new(g, 2);
        text.push_decimal(g, uid, 10);
        text.store(g, buf);
    });
    Ok(Val::Str(buf, size))
}
