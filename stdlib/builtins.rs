//! Value builtins: one table row each, with its type and its code.

use super::sysinfo::helper as sys;
use super::Builtin;
use crate::codegen::func::helper;
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::Expr;
use crate::program::rodata;
use crate::sema::Type;

fn uint(_: &mut crate::sema::Checker, _: crate::diag::Span) -> Result<Type> {
    Ok(Type::UINT)
}

fn shifted<'ctx>(g: &FnGen<'_, 'ctx>, id: u64, shift: u64) -> Val<'ctx> {
    let v = g.helper_int(id, &[]);
    let v = g.b.build_right_shift(v, g.i64(shift), false, "hi").unwrap();
    Val::Int(g.b.build_and(v, g.i64(0xffff_ffff), "lo32").unwrap())
}

/// One half of a `tgid << 32 | pid` word.
pub(super) fn pid_part<'ctx>(
    g: &FnGen<'_, 'ctx>,
    v: inkwell::values::IntValue<'ctx>,
    shift: u64,
) -> Val<'ctx> {
    let v = g.b.build_right_shift(v, g.i64(shift), false, "hi").unwrap();
    Val::Int(g.b.build_and(v, g.i64(0xffff_ffff), "lo32").unwrap())
}

pub static ALL: &[Builtin] = &[
    Builtin {
        name: "pid",
        ty: uint,
        gen: |g, _| Ok(pid_part(g, crate::codegen::task::pid_tgid(g, false), 32)),
    },
    Builtin {
        name: "tid",
        ty: uint,
        gen: |g, _| Ok(pid_part(g, crate::codegen::task::pid_tgid(g, false), 0)),
    },
    Builtin {
        name: "uid",
        ty: uint,
        gen: |g, _| Ok(shifted(g, helper::GET_CURRENT_UID_GID, 0)),
    },
    Builtin {
        name: "gid",
        ty: uint,
        gen: |g, _| Ok(shifted(g, helper::GET_CURRENT_UID_GID, 32)),
    },
    Builtin {
        name: "cpu",
        ty: uint,
        gen: |g, _| Ok(Val::Int(g.helper_int(helper::GET_SMP_PROCESSOR_ID, &[]))),
    },
    Builtin {
        name: "rand",
        ty: uint,
        gen: |g, _| Ok(Val::Int(g.helper_int(helper::GET_PRANDOM_U32, &[]))),
    },
    Builtin {
        name: "nsecs",
        ty: uint,
        gen: |g, _| Ok(Val::Int(g.helper_int(helper::KTIME_GET_BOOT_NS, &[]))),
    },
    Builtin {
        name: "jiffies",
        ty: uint,
        gen: |g, _| Ok(Val::Int(g.helper_int(sys::JIFFIES64, &[]))),
    },
    Builtin {
        name: "numaid",
        ty: uint,
        gen: |g, _| Ok(Val::Int(g.helper_int(sys::GET_NUMA_NODE_ID, &[]))),
    },
    Builtin {
        name: "cgroup",
        ty: uint,
        gen: |g, _| Ok(Val::Int(g.helper_int(sys::GET_CURRENT_CGROUP_ID, &[]))),
    },
    Builtin {
        name: "username",
        ty: super::users::username_type,
        gen: super::users::username_gen,
    },
    Builtin {
        name: "usermode",
        ty: uint,
        gen: super::sysinfo::usermode_gen,
    },
    Builtin {
        name: "ncpus",
        ty: uint,
        gen: |g, _| Ok(Val::Int(g.rodata_word(rodata::NCPUS))),
    },
    Builtin {
        name: "elapsed",
        ty: uint,
        gen: |g, _| {
            let now = g.helper_int(helper::KTIME_GET_BOOT_NS, &[]);
            let start = g.rodata_word(rodata::START_NS);
            Ok(Val::Int(g.b.build_int_sub(now, start, "elapsed").unwrap()))
        },
    },
    Builtin {
        name: "cpid",
        ty: |ck, span| {
            // As in bpftrace: 0 without a child, with a warning.
            if !ck.options().has_child {
                ck.warnings.push(
                    Diagnostic::warning("`cpid` is 0: no child process was started", span)
                        .with_note("run a command with `-c CMD`; its pid is `cpid`"),
                );
            }
            Ok(Type::UINT)
        },
        gen: |g, _| Ok(Val::Int(g.rodata_word(rodata::CPID))),
    },
    Builtin {
        name: "comm",
        ty: |_, _| Ok(Type::Str { size: 16 }),
        gen: |g, _| {
            let buf = g.stack(16, "comm");
            super::task::current_comm(g, buf);
            Ok(Val::Str(buf, 16))
        },
    },
    Builtin {
        name: "probe",
        ty: |ck, _| Ok(ck.probe_name_type()),
        gen: |g, e: &Expr| {
            let Type::Str { size } = *g.ck.ty(e.id) else {
                unreachable!("probe is a string")
            };
            Ok(g.probe_name(g.point.attach.name().as_bytes(), size))
        },
    },
    Builtin {
        name: "curtask",
        // Named only: BTF is read when a field is first used (`sema::structs`).
        ty: |_, _| Ok(Type::ptr(Type::Opaque("struct task_struct".into()), false)),
        gen: |g, _| Ok(Val::Int(g.helper_int(helper::GET_CURRENT_TASK, &[]))),
    },
];
