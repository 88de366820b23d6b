//! `skboutput(path, skb, len, offset)`: writes a packet's bytes to a PCAP file, through
//! the kernel's `bpf_skb_output`. The helper copies `len` bytes of the `struct sk_buff`
//! after a header of ours into a perf event array; user space (`runtime::pcap`) drops the
//! first `offset` bytes and appends the rest to the file as a raw-IP packet.
//!
//! The helper wants the skb as a kernel object the verifier knows by type, which
//! trampolines give, and raw tracepoints once compiled as `tp_btf` programs.

use super::{Lowering, TypeRule};
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::Expr;
use crate::program::{EventSpec, SKB_META_SIZE};
use crate::sema::{CallCheck, Type};

pub struct SkbOutput;

/// `bpf_skb_output`
const SKB_OUTPUT: u64 = 111;
/// `BPF_F_CURRENT_CPU`: the perf buffer of the CPU the program runs on.
const CURRENT_CPU: u64 = 0xffff_ffff;

impl TypeRule for SkbOutput {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(4, 4)?;
        super::process::only_in(c, "skboutput()", &["fentry", "fexit", "rawtracepoint"])?;
        let path = c.str_literal(0, "the PCAP file's path")?;
        if !matches!(c.value(1)?, Type::Ptr { .. }) {
            return Err(Diagnostic::error(
                "skboutput() needs a `struct sk_buff *`",
                c.args[1].span,
            ));
        }
        c.int(2, "the number of bytes to capture")?;
        c.int(3, "the offset to start the capture at")?;
        c.needs(crate::sema::Resource::SkbOutput);
        c.ck.uses_btf_ctx = true;
        c.event(EventSpec::SkbOutput { path });
        Ok(Type::INT)
    }
}

impl Lowering for SkbOutput {
    /// The helper's return value: 0, or a negative error (the skb is shorter than `len`).
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, e: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let skb = g.expr(&args[1])?.int();
        let len = g.expr(&args[2])?.int();
        let offset = g.expr(&args[3])?.int();
        let meta = g.stack(SKB_META_SIZE, "skbmeta");
        let now = g.helper_int(super::sysinfo::helper::KTIME_GET_NS, &[]);
        let id = g.i64(g.event_of(e) as u64);
        for (i, v) in [id, offset, now, len].into_iter().enumerate() {
            g.store_i64(g.gep(meta, 8 * i as u64), v);
        }
        let b = &g.b;
        let len32 = b.build_and(len, g.i64(0xffff_ffff), "skblen").unwrap();
        let flags = b
            .build_or(
                b.build_left_shift(len32, g.i64(32), "skbflags").unwrap(),
                g.i64(CURRENT_CPU),
                "skbflags",
            )
            .unwrap();
        let map = g
            .globals
            .skb
            .expect("sema declared the skb map")
            .as_pointer_value();
        let r = g.helper_int(
            SKB_OUTPUT,
            &[
                skb.into(),
                map.into(),
                flags.into(),
                meta.into(),
                g.i64(SKB_META_SIZE as u64).into(),
            ],
        );
        Ok(Val::Int(r))
    }
}
