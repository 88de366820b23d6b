//! Builtins and functions that read kernel state through helpers: clocks, jiffies, NUMA
//! node, cgroup, and pid/tid as seen from a PID namespace.

use super::Function;
use inkwell::values::IntValue;
use inkwell::IntPredicate;

use super::builtins::{global, pid_part};
use crate::codegen::func::helper::{GET_CURRENT_PID_TGID, KTIME_GET_BOOT_NS};
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::{Expr, ExprKind};
use crate::program::rodata;
use crate::sema::{CallCheck, Type};

/// BPF helper ids (include/uapi/linux/bpf.h) not in `codegen::func::helper`.
pub mod helper {
    pub const KTIME_GET_NS: u64 = 5;
    pub const GET_NUMA_NODE_ID: u64 = 42;
    pub const GET_CURRENT_CGROUP_ID: u64 = 80;
    pub const JIFFIES64: u64 = 118;
    pub const GET_NS_CURRENT_PID_TGID: u64 = 120;
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

impl Function for Nsecs {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(0, 1)?;
        clock(c.args)?;
        Ok(Type::UINT)
    }
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let id = clock(args)?;
        if id == SW_TAI {
            let boot = g.helper_int(KTIME_GET_BOOT_NS, &[]);
            let offset = super::builtins::global(g, crate::program::rodata::TAI_OFFSET);
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

impl Function for PidTid {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(0, 1)?;
        init_ns(c.args)?;
        Ok(Type::UINT)
    }
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let v = pid_tgid(g, init_ns(args)?);
        Ok(pid_part(g, v, if self.tid { 0 } else { 32 }))
    }
}

/// `tgid << 32 | pid` of the current thread, in spyglass's PID namespace unless `init`.
///
/// The runtime leaves the namespace's inode 0 when spyglass runs in the initial namespace;
/// then the plain helper is used, as it is for `init`.
/// Read once per run (`FnGen::once`): the namespace check is a branch around two helper
/// calls, and a probe that reads `pid` and `tid` would otherwise compile it twice.
pub fn pid_tgid<'ctx>(g: &FnGen<'_, 'ctx>, init: bool) -> IntValue<'ctx> {
    if init {
        return g.helper_int(GET_CURRENT_PID_TGID, &[]);
    }
    g.once(PID_TGID, pid_tgid_here)
}

/// The key of `pid_tgid` in `FnGen::once`.
pub const PID_TGID: &str = "pid_tgid";

/// `pid_tgid(g, false)`, computed where the builder is.
///
/// In the initial namespace the ids are read from the current task, which `comm` reads
/// too: one helper call for both (each costs ≈ 12 ns here) rather than two.
pub fn pid_tgid_here<'ctx>(g: &FnGen<'_, 'ctx>) -> IntValue<'ctx> {
    static IDS: std::sync::OnceLock<Option<(u64, u64)>> = std::sync::OnceLock::new();
    let ids = match g.ck.options.portable {
        true => None,
        false => *IDS.get_or_init(|| {
            Some((super::task::task_member("pid")?, super::task::task_member("tgid")?))
        }),
    };
    let task = ids.map(|ids| (super::task::current_task(g), ids));
    // `struct bpf_pidns_info { u32 pid; u32 tgid; }` reads as the same word.
    let out = g.entry_slot(8, "pidns");
    let ino = global(g, rodata::PIDNS_INO);
    let in_init =
        g.b.build_int_compare(IntPredicate::EQ, ino, g.i64(0), "init_ns")
            .unwrap();
    let (plain, ns, done) = (g.block("pid_plain"), g.block("pid_ns"), g.block("pid_done"));
    g.b.build_conditional_branch(in_init, plain, ns).unwrap();
    g.b.position_at_end(plain);
    let v = match task {
        // Loaded as two u32 (the verifier refuses a load across two members).
        Some((task, (pid, tgid))) => {
            let i32t = g.ctx.i32_type();
            let load = |off: u64| {
                let v = g.b.build_load(i32t, g.gep(task, off), "id").unwrap().into_int_value();
                g.b.build_int_z_extend(v, g.ctx.i64_type(), "id").unwrap()
            };
            let (pid, tgid) = (load(pid), load(tgid));
            let hi = g.b.build_left_shift(tgid, g.i64(32), "tgid").unwrap();
            g.b.build_or(hi, pid, "pid_tgid").unwrap()
        }
        None => g.helper_int(GET_CURRENT_PID_TGID, &[]),
    };
    g.store_i64(out, v);
    g.b.build_unconditional_branch(done).unwrap();
    g.b.position_at_end(ns);
    let dev = global(g, rodata::PIDNS_DEV);
    g.helper_int(
        helper::GET_NS_CURRENT_PID_TGID,
        &[dev.into(), ino.into(), out.into(), g.i64(8).into()],
    );
    g.b.build_unconditional_branch(done).unwrap();
    g.b.position_at_end(done);
    g.load_i64(out)
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
