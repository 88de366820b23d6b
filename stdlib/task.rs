//! `ctx` (the probe's typed context, for `iter:` probes) and `comm(pid)`.

use inkwell::values::{IntValue, PointerValue};
use inkwell::IntPredicate;

use super::{Builtin, Lowering, TypeRule};
use crate::codegen::func::helper;
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::Expr;
use crate::sema::{CallCheck, Type};

pub static ALL: &[Builtin] = &[Builtin {
    name: "ctx",
    ty: |ck, span| {
        let mut names: Vec<Option<String>> = ck
            .attach_points()
            .map(|ap| crate::probes::of(ap).ctx_type(ap))
            .collect();
        names.dedup();
        match names.as_slice() {
            [Some(name)] => Ok(Type::ptr(Type::Opaque(name.clone()), false)),
            [_, _, ..] => Err(Diagnostic::error(
                "`ctx` has a different type at each of these attach points",
                span,
            )),
            _ => Err(
                Diagnostic::error("`ctx` is not available in this probe", span)
                    .with_note("`ctx` is the typed context of iter probes"),
            ),
        }
    },
    // The context lives in kernel memory: fields are read through it like any pointer.
    gen: |g, _| {
        let p =
            g.b.build_ptr_to_int(g.ctx_ptr, g.ctx.i64_type(), "ctx")
                .unwrap();
        Ok(Val::Int(p))
    },
}];

/// `comm` and `comm(pid)`.
pub struct Comm;

impl TypeRule for Comm {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(0, 1)?;
        if c.args.len() == 1 {
            c.int(0, "the pid given to comm()")?;
        }
        Ok(Type::Str { size: 16 })
    }
}

impl Lowering for Comm {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let buf = g.stack(16, "comm");
        let Some(arg) = args.first() else {
            current_comm(g, buf);
            return Ok(Val::Str(buf, 16));
        };
        let want = g.expr(arg)?.int();
        let cur = crate::codegen::task::pid_tgid(g, false);
        let cur = g.b.build_right_shift(cur, g.i64(32), false, "cur").unwrap();
        let same =
            g.b.build_int_compare(IntPredicate::EQ, cur, want, "same")
                .unwrap();
        let (read, other, done) = (
            g.block("comm_self"),
            g.block("comm_other"),
            g.block("comm_done"),
        );
        g.b.build_conditional_branch(same, read, other).unwrap();
        g.b.position_at_end(read);
        current_comm(g, buf);
        g.b.build_unconditional_branch(done).unwrap();
        g.b.position_at_end(other);
        search_tasks(g, want, buf);
        g.b.build_unconditional_branch(done).unwrap();
        g.b.position_at_end(done);
        Ok(Val::Str(buf, 16))
    }
}

/// Fills `buf` (16 bytes, 8-byte aligned) with the current task's name.
///
/// Read straight from the task, a typed pointer programs may load from: the
/// `bpf_get_current_comm` call it replaces cost ≈ 65 ns here, as much as the rest of a
/// `printf` (each call and return pays the CPU's speculation mitigations), and the kernel
/// keeps `comm` NUL-padded, as the helper would leave it. Without kernel BTF (or with an
/// odd layout), and in artifacts (`Options::portable`: the offset is this kernel's), the
/// helper is used.
pub fn current_comm<'ctx>(g: &FnGen<'_, 'ctx>, buf: PointerValue<'ctx>) {
    static COMM: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    // Remembered per boot: loading the kernel's BTF to find it costs ≈ 8 ms, more than
    // compiling a one-liner.
    let at = match g.ck.options.portable {
        true => None,
        false => {
            *COMM.get_or_init(|| crate::codegen::task::task_member("comm").filter(|o| o % 8 == 0))
        }
    };
    let Some(at) = at else {
        g.helper_int(helper::GET_CURRENT_COMM, &[buf.into(), g.i64(16).into()]);
        return;
    };
    let task = crate::codegen::task::current_task(g);
    for word in 0..2 {
        let v = g.load_i64(g.gep(task, at + 8 * word));
        g.store_i64(g.gep(buf, 8 * word), v);
    }
}

/// Processes searched for another pid's comm: the kernel's (circular) list of processes
/// is walked from the current one, a bounded loop the verifier follows step by step.
const MAX_TASKS: u64 = 1024;

/// Offsets of `group_leader`, `tasks`, `tgid` and `comm` in a task.
fn task_list() -> Option<(u64, u64, u64, u64)> {
    static FOUND: std::sync::OnceLock<Option<(u64, u64, u64, u64)>> = std::sync::OnceLock::new();
    *FOUND.get_or_init(|| {
        Some((
            crate::codegen::task::task_member("group_leader")?,
            crate::codegen::task::task_member("tasks")?,
            crate::codegen::task::task_member("tgid")?,
            crate::codegen::task::task_member("comm")?,
        ))
    })
}

/// Leaves `buf` zeroed when no process has the pid (or the task list cannot be found).
fn search_tasks<'ctx>(g: &mut FnGen<'_, 'ctx>, want: IntValue<'ctx>, buf: PointerValue<'ctx>) {
    let Some((leader, tasks, tgid, comm)) = task_list() else {
        return;
    };
    let tmp = g.stack(8, "task_word");
    let i64t = g.ctx.i64_type();
    let read = |g: &FnGen<'_, 'ctx>, addr: IntValue<'ctx>, size: u64| {
        let src = g.b.build_int_to_ptr(addr, g.ptr_type(), "src").unwrap();
        g.store_i64(tmp, g.i64(0));
        g.helper_int(
            helper::PROBE_READ_KERNEL,
            &[tmp.into(), g.i64(size).into(), src.into()],
        );
        g.load_i64(tmp)
    };
    let cur = g.helper_int(helper::GET_CURRENT_TASK, &[]);
    let at_leader = g.b.build_int_add(cur, g.i64(leader), "leader_at").unwrap();
    let init = read(g, at_leader, 8);
    let start = g.b.get_insert_block().unwrap();
    let (head, body, found, out) = (
        g.block("tasks_head"),
        g.block("tasks_body"),
        g.block("tasks_found"),
        g.block("tasks_out"),
    );
    g.b.build_unconditional_branch(head).unwrap();
    g.b.position_at_end(head);
    let i = g.b.build_phi(i64t, "i").unwrap();
    let t = g.b.build_phi(i64t, "t").unwrap();
    i.add_incoming(&[(&g.i64(0), start)]);
    t.add_incoming(&[(&init, start)]);
    let (iv, tv) = (
        i.as_basic_value().into_int_value(),
        t.as_basic_value().into_int_value(),
    );
    let more =
        g.b.build_int_compare(IntPredicate::ULT, iv, g.i64(MAX_TASKS), "more")
            .unwrap();
    g.b.build_conditional_branch(more, body, out).unwrap();
    g.b.position_at_end(body);
    let link = g.b.build_int_add(tv, g.i64(tasks), "link").unwrap();
    let next = read(g, link, 8);
    let next = g.b.build_int_sub(next, g.i64(tasks), "next").unwrap();
    let back =
        g.b.build_int_compare(IntPredicate::EQ, next, init, "back")
            .unwrap();
    let at_tgid = g.b.build_int_add(next, g.i64(tgid), "tgid_at").unwrap();
    let pid = read(g, at_tgid, 4);
    let hit =
        g.b.build_int_compare(IntPredicate::EQ, pid, want, "hit")
            .unwrap();
    let step = g.block("tasks_step");
    let check = g.block("tasks_check");
    g.b.build_conditional_branch(back, out, check).unwrap();
    g.b.position_at_end(check);
    g.b.build_conditional_branch(hit, found, step).unwrap();
    g.b.position_at_end(step);
    let i1 = g.b.build_int_add(iv, g.i64(1), "i1").unwrap();
    i.add_incoming(&[(&i1, step)]);
    t.add_incoming(&[(&next, step)]);
    g.b.build_unconditional_branch(head).unwrap();
    g.b.position_at_end(found);
    let at_comm = g.b.build_int_add(next, g.i64(comm), "comm_at").unwrap();
    let src = g.b.build_int_to_ptr(at_comm, g.ptr_type(), "src").unwrap();
    g.helper_int(
        helper::PROBE_READ_KERNEL,
        &[buf.into(), g.i64(16).into(), src.into()],
    );
    g.b.build_unconditional_branch(out).unwrap();
    g.b.position_at_end(out);
}
