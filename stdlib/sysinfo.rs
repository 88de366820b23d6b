//! Builtins and functions that read kernel state through helpers: clocks, jiffies, NUMA
//! node, cgroup.

use super::Function;
use crate::codegen::func::helper::KTIME_GET_BOOT_NS;
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::{Expr, ExprKind};
use crate::sema::{CallCheck, Type};

/// BPF helper ids (include/uapi/linux/bpf.h) not in `codegen::func::helper`.
pub mod helper {
    pub const KTIME_GET_NS: u64 = 5;
    pub const GET_NUMA_NODE_ID: u64 = 42;
    pub const GET_CURRENT_CGROUP_ID: u64 = 80;
    pub const JIFFIES64: u64 = 118;
    pub const KTIME_GET_TAI_NS: u64 = 208;
}

/// `nsecs(boot|monotonic|tai)`; plain `nsecs` is the boot clock.
pub struct Nsecs;

const CLOCKS: &[(&str, u64)] =
    &[("boot", KTIME_GET_BOOT_NS), ("monotonic", helper::KTIME_GET_NS), ("tai", helper::KTIME_GET_TAI_NS)];

fn clock(args: &[Expr]) -> Result<u64> {
    let Some(a) = args.first() else { return Ok(KTIME_GET_BOOT_NS) };
    let name = match &a.kind {
        ExprKind::Ident(n) => n.as_str(),
        _ => "",
    };
    if name == "sw_tai" {
        return Err(Diagnostic::error("nsecs(sw_tai) is not supported yet", a.span).with_note("use nsecs(tai)"));
    }
    CLOCKS.iter().find(|(n, _)| *n == name).map(|(_, id)| *id).ok_or_else(|| {
        Diagnostic::error("nsecs() takes a clock: boot, monotonic or tai", a.span)
            .with_label("expected a clock name here")
    })
}

impl Function for Nsecs {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(0, 1)?;
        clock(c.args)?;
        Ok(Type::UINT)
    }
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        Ok(Val::Int(g.helper_int(clock(args)?, &[])))
    }
}
