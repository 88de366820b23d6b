//! The current task and its ids: what `pid`, `tid`, `comm` and `-p`'s filter read, so the
//! filter every program starts with needs nothing from the function catalogue.

use inkwell::values::{IntValue, PointerValue};
use inkwell::IntPredicate;

use super::func::helper::{self, GET_CURRENT_PID_TGID};
use super::FnGen;
use crate::program::rodata;

/// `bpf_get_ns_current_pid_tgid`.
const GET_NS_CURRENT_PID_TGID: u64 = 120;

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
/// too: one helper call for both (each costs ≈ 12 ns here) rather than two. Which
/// namespace spyglass runs in is known when compiling for this machine
/// (`sema::Host`); an artifact checks `.rodata` when it runs.
pub fn pid_tgid_here<'ctx>(g: &FnGen<'_, 'ctx>) -> IntValue<'ctx> {
    match g.ck.options.host.map(|h| h.init_pid_ns) {
        Some(true) => return ids_plain(g, task_ids(g)),
        Some(false) => {
            let out = g.entry_slot(8, "pidns");
            ids_in_namespace(g, out, g.rodata_word(rodata::PIDNS_INO));
            return g.load_i64(out);
        }
        None => {}
    }
    // The task is fetched before the branch, so `comm`'s read of it reuses the call.
    let task = task_ids(g);
    let out = g.entry_slot(8, "pidns");
    let ino = g.rodata_word(rodata::PIDNS_INO);
    let in_init =
        g.b.build_int_compare(IntPredicate::EQ, ino, g.i64(0), "init_ns")
            .unwrap();
    let (plain, ns, done) = (g.block("pid_plain"), g.block("pid_ns"), g.block("pid_done"));
    g.b.build_conditional_branch(in_init, plain, ns).unwrap();
    g.b.position_at_end(plain);
    let v = ids_plain(g, task);
    g.store_i64(out, v);
    g.b.build_unconditional_branch(done).unwrap();
    g.b.position_at_end(ns);
    ids_in_namespace(g, out, ino);
    g.b.build_unconditional_branch(done).unwrap();
    g.b.position_at_end(done);
    g.load_i64(out)
}

/// The current task and the offsets of its `pid` and `tgid`, where they may be read
/// directly (not in artifacts: the offsets are this kernel's).
fn task_ids<'ctx>(g: &FnGen<'_, 'ctx>) -> Option<(PointerValue<'ctx>, (u64, u64))> {
    static IDS: std::sync::OnceLock<Option<(u64, u64)>> = std::sync::OnceLock::new();
    let ids = match g.ck.options.portable {
        true => None,
        false => *IDS.get_or_init(|| Some((task_member("pid")?, task_member("tgid")?))),
    };
    ids.map(|ids| (current_task(g), ids))
}

/// The ids as the initial namespace numbers them.
fn ids_plain<'ctx>(
    g: &FnGen<'_, 'ctx>,
    task: Option<(PointerValue<'ctx>, (u64, u64))>,
) -> IntValue<'ctx> {
    match task {
        // Loaded as two u32 (the verifier refuses a load across two members).
        Some((task, (pid, tgid))) => {
            let i32t = g.ctx.i32_type();
            let load = |off: u64| {
                let v =
                    g.b.build_load(i32t, g.gep(task, off), "id")
                        .unwrap()
                        .into_int_value();
                g.b.build_int_z_extend(v, g.ctx.i64_type(), "id").unwrap()
            };
            let (pid, tgid) = (load(pid), load(tgid));
            let hi = g.b.build_left_shift(tgid, g.i64(32), "tgid").unwrap();
            g.b.build_or(hi, pid, "pid_tgid").unwrap()
        }
        None => g.helper_int(GET_CURRENT_PID_TGID, &[]),
    }
}

/// Writes the ids as spyglass's namespace (inode `ino`) numbers them to `out` (8 bytes:
/// `struct bpf_pidns_info { u32 pid; u32 tgid; }` reads as the same word).
fn ids_in_namespace<'ctx>(g: &FnGen<'_, 'ctx>, out: PointerValue<'ctx>, ino: IntValue<'ctx>) {
    let dev = g.rodata_word(rodata::PIDNS_DEV);
    g.helper_int(
        GET_NS_CURRENT_PID_TGID,
        &[dev.into(), ino.into(), out.into(), g.i64(8).into()],
    );
}

/// The current task as a typed pointer: `comm`, `pid` and `tid` all read it.
///
/// A call where it is used; the helper is declared without effects, so LLVM keeps a
/// single call where one dominates the others (see `FnGen::helper`).
pub fn current_task<'ctx>(g: &FnGen<'_, 'ctx>) -> PointerValue<'ctx> {
    match g.helper(helper::GET_CURRENT_TASK_BTF, &[], true) {
        crate::codegen::func::BasicTypeEnumValue::Ptr(p) => p,
        crate::codegen::func::BasicTypeEnumValue::Int(_) => unreachable!("asked for a pointer"),
    }
}

/// Offset of a `task_struct` member, remembered per boot (see `current_comm`). The raw
/// scan is the first run's fast path; libbpf's parse is the reference.
pub fn task_member(name: &'static str) -> Option<u64> {
    crate::user_cache::kernel_fact(&format!("task_struct.{name}"), || {
        if let Some(off) = crate::probes::btf_scan::member_offset("task_struct", name) {
            return Some(off as u64);
        }
        let members = crate::probes::btf::struct_members("task_struct")?;
        let (off, _) = members.iter().find(|(_, m)| m.name == name)?;
        Some(*off as u64)
    })
}
