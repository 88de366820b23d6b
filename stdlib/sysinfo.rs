//! Builtins and functions that read kernel state through helpers: clocks, jiffies, NUMA
//! node, cgroup, and pid/tid as seen from a PID namespace.

use super::{Lowering, TypeRule};
use inkwell::IntPredicate;

use super::builtins::pid_part;
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

/// `nsecs(boot|monotonic|tai|sw_tai)`; plain `nsecs` is the boot clock. `sw_tai` is the
/// boot clock plus the TAI offset user space measured at startup: TAI without the
/// `bpf_ktime_get_tai_ns` helper (kernels before 6.1), as bpftrace defines it.
pub struct Nsecs;

/// Not a helper: `nsecs(sw_tai)` (see `Nsecs`).
const SW_TAI: u64 = u64::MAX;

const CLOCKS: &[(&str, u64)] = &[
    ("boot", KTIME_GET_BOOT_NS),
    ("monotonic", helper::KTIME_GET_NS),
    ("tai", helper::KTIME_GET_TAI_NS),
];

fn clock(args: &[Expr]) -> Result<u64> {
    let Some(a) = args.first() else {
        return Ok(KTIME_GET_BOOT_NS);
    };
    let name = match &a.kind {
        ExprKind::Ident(n) => n.as_str(),
        _ => "",
    };
    if name == "sw_tai" {
        return Ok(SW_TAI);
    }
    CLOCKS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, id)| *id)
        .ok_or_else(|| {
            Diagnostic::error(
                "nsecs() takes a clock: boot, monotonic, tai or sw_tai",
                a.span,
            )
            .with_label("expected a clock name here")
        })
}

impl TypeRule for Nsecs {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(0, 1)?;
        clock(c.args)?;
        Ok(Type::UINT)
    }
}

impl Lowering for Nsecs {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let id = clock(args)?;
        if id == SW_TAI {
            let boot = g.helper_int(KTIME_GET_BOOT_NS, &[]);
            let offset = g.rodata_word(crate::program::rodata::TAI_OFFSET);
            return Ok(Val::Int(g.b.build_int_add(boot, offset, "sw_tai").unwrap()));
        }
        Ok(Val::Int(g.helper_int(id, &[])))
    }
}

/// `pid(curr_ns|init)`, `tid(curr_ns|init)`; plain `pid`/`tid` are `curr_ns`.
pub struct PidTid {
    pub tid: bool,
}

/// Whether the argument asks for the initial namespace.
fn init_ns(args: &[Expr]) -> Result<bool> {
    let Some(a) = args.first() else {
        return Ok(false);
    };
    match &a.kind {
        ExprKind::Ident(n) if n == "curr_ns" => Ok(false),
        ExprKind::Ident(n) if n == "init" => Ok(true),
        _ => Err(Diagnostic::error(
            "expected a PID namespace: curr_ns or init",
            a.span,
        )),
    }
}

impl TypeRule for PidTid {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(0, 1)?;
        init_ns(c.args)?;
        Ok(Type::UINT)
    }
}

impl Lowering for PidTid {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let v = crate::codegen::task::pid_tgid(g, init_ns(args)?);
        Ok(pid_part(g, v, if self.tid { 0 } else { 32 }))
    }
}

/// `usermode`: 1 when the probe interrupted user code. Perf-event probes read the saved
/// registers' privilege level; `begin`/`end` run on behalf of spyglass in user space.
pub fn usermode_gen<'ctx>(g: &mut FnGen<'_, 'ctx>, e: &Expr) -> Result<Val<'ctx>> {
    if !cfg!(target_arch = "x86_64") {
        return Err(Diagnostic::error(
            "'usermode' builtin is only supported on x86_64",
            e.span,
        ));
    }
    let ap = &g.point.attach;
    if ap.is_test_run() {
        return Ok(Val::Int(g.i64(1)));
    }
    if crate::probes::of(ap).section(ap) != "perf_event" {
        return Err(Diagnostic::error(
            format!("`usermode` is not available in `{}`", ap.name()),
            e.span,
        )
        .with_note(
            "it needs saved registers: use it in profile, interval, software or hardware probes",
        ));
    }
    // `struct bpf_perf_event_data` starts with `struct pt_regs`, whose `cs` is at 136.
    const PT_REGS_CS: u64 = 136;
    let cs = g.load_i64(g.gep(g.ctx_ptr, PT_REGS_CS));
    let ring = g.b.build_and(cs, g.i64(3), "ring").unwrap();
    let user =
        g.b.build_int_compare(IntPredicate::EQ, ring, g.i64(3), "user")
            .unwrap();
    Ok(Val::Int(g.widen(user)))
}
