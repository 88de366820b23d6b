//! `ksym(addr)`, `usym(addr)` and `uaddr("sym")`. The kernel side only captures numbers
//! (and, for user addresses, the pid); the runtime names them when printing.

use object::{Object, ObjectSymbol};

use super::{Lowering, TypeRule};
use crate::codegen::func::helper;
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::kinds::{self, ValueKind};
use crate::parser::ast::Expr;
use crate::probes::AttachPoint;
use crate::program::FieldType;
use crate::sema::{CallCheck, Type};

pub struct Ksym;
pub struct Usym;
pub struct Uaddr;

/// The one argument: an integer or a pointer (an address).
fn address_arg(c: &mut CallCheck, name: &str) -> Result<()> {
    c.arity(1, 1)?;
    let t = c.ck.expr(&c.args[0])?;
    if matches!(t, Type::Int { .. } | Type::Ptr { .. }) {
        return Ok(());
    }
    Err(Diagnostic::error(
        format!(
            "{name}() needs an address (an integer or a pointer), not {}",
            t.describe()
        ),
        c.args[0].span,
    ))
}

impl TypeRule for Ksym {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        address_arg(c, "ksym")?;
        Ok(Type::Kind(ValueKind::new(&kinds::KSYM, "")))
    }
}

impl Lowering for Ksym {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        Ok(Val::Int(g.expr(&args[0])?.int()))
    }
}

impl TypeRule for Usym {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        address_arg(c, "usym")?;
        Ok(Type::Kind(ValueKind::new(&kinds::USYM, "")))
    }
}

impl Lowering for Usym {
    /// (address, pid): the process whose mappings name the address.
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let addr = g.expr(&args[0])?.int();
        let pid_tgid = g.helper_int(helper::GET_CURRENT_PID_TGID, &[]);
        let pid =
            g.b.build_right_shift(pid_tgid, g.i64(32), false, "pid")
                .unwrap();
        let buf = g.stack(16, "usym");
        g.store_i64(buf, addr);
        g.store_i64(g.gep(buf, 8), pid);
        Ok(Val::Tuple(buf, vec![FieldType::Int { signed: false }; 2]))
    }
}

/// The address and size of `name` in the ELF file at `path` (functions and objects).
fn elf_symbol(path: &str, name: &str) -> std::result::Result<Option<(u64, u64)>, String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let file = object::File::parse(&*data).map_err(|e| format!("{path}: {e}"))?;
    Ok(file
        .symbols()
        .chain(file.dynamic_symbols())
        .find(|s| s.name() == Ok(name) && s.address() != 0)
        .map(|s| (s.address(), s.size())))
}

/// bpftrace types the result by the symbol's size, as a pointer to an integer that wide.
fn pointer_for(size: u64) -> Type {
    let bits = match size {
        1 => 8,
        2 => 16,
        4 => 32,
        _ => 64,
    };
    Type::ptr(
        Type::Int {
            signed: false,
            bits,
        },
        true,
    )
}

fn uprobe_binaries<'p>(points: impl Iterator<Item = &'p AttachPoint>) -> Option<Vec<String>> {
    let mut out = vec![];
    for ap in points {
        match ap {
            AttachPoint::Uprobe { path, .. } => out.push(path.clone()),
            _ => return None,
        }
    }
    Some(out)
}

impl TypeRule for Uaddr {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 1)?;
        let name = c.str_literal(0, "the argument of uaddr()")?;
        let Some(paths) = uprobe_binaries(c.attach_points()) else {
            return Err(Diagnostic::error(
                "uaddr() can only be used in uprobes and uretprobes",
                c.span(),
            ));
        };
        let mut size = None;
        for p in &paths {
            match elf_symbol(p, &name) {
                Ok(Some((_, s))) => size = Some(s),
                Ok(None) => {
                    return Err(Diagnostic::error(
                        format!("Could not resolve symbol: {p}:{name}"),
                        c.span(),
                    ))
                }
                Err(m) => return Err(Diagnostic::error(m, c.span())),
            }
        }
        Ok(pointer_for(size.unwrap_or(8)))
    }
}

impl Lowering for Uaddr {
    fn gen<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        call: &Expr,
        args: &[Expr],
    ) -> Result<Val<'ctx>> {
        let crate::parser::ast::ExprKind::Str(name) = &args[0].kind else {
            unreachable!("sema: uaddr() of a string literal")
        };
        let AttachPoint::Uprobe { path, .. } = &g.point.attach else {
            unreachable!("sema: uaddr() only in uprobes")
        };
        let addr = elf_symbol(path, name)
            .ok()
            .flatten()
            .ok_or_else(|| {
                Diagnostic::error(
                    format!("Could not resolve symbol: {path}:{name}"),
                    call.span,
                )
            })?
            .0;
        Ok(Val::Int(g.i64(addr)))
    }
}

pub struct PercpuKaddr;

const PER_CPU_PTR: u64 = 153;
const THIS_CPU_PTR: u64 = 154;

/// The type of a kernel variable from the running kernel's BTF (loaded once per thread:
/// sema asks in every round).
fn kernel_var(name: &str) -> Option<Type> {
    thread_local! {
        static BTF: Option<crate::sema::btf::KernelBtf> =
            crate::sema::btf::KernelBtf::load().ok().flatten();
    }
    BTF.with(|b| b.as_ref()?.var_type(name))
}

impl TypeRule for PercpuKaddr {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 2)?;
        let name = c.str_literal(0, "the first argument of percpu_kaddr()")?;
        if c.args.len() == 2 {
            c.int(1, "the cpu of percpu_kaddr()")?;
        }
        let Some(t) = kernel_var(&name) else {
            return Err(Diagnostic::error(
                format!("Could not resolve variable \"{name}\" from BTF"),
                c.args[0].span,
            )
            .with_note("percpu_kaddr() takes the name of a per-CPU kernel variable"));
        };
        Ok(Type::ptr(t, false))
    }
}

impl Lowering for PercpuKaddr {
    /// `bpf_this_cpu_ptr(&var)` or `bpf_per_cpu_ptr(&var, cpu)` (NULL for a CPU that does
    /// not exist); the verifier needs the variable typed, hence a `.ksyms` extern.
    fn gen<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        call: &Expr,
        args: &[Expr],
    ) -> Result<Val<'ctx>> {
        let crate::parser::ast::ExprKind::Str(name) = &args[0].kind else {
            unreachable!("sema: percpu_kaddr() of a string literal")
        };
        let Type::Ptr { to, .. } = g.ck.ty(call.id).clone() else {
            unreachable!("sema: percpu_kaddr() is a pointer")
        };
        let var = g.ksym_ptr(name, &to);
        let p = match args.get(1) {
            None => g.helper_int(THIS_CPU_PTR, &[var.into()]),
            Some(cpu) => {
                let cpu = g.expr(cpu)?.int();
                g.helper_int(PER_CPU_PTR, &[var.into(), cpu.into()])
            }
        };
        Ok(Val::Int(p))
    }
}
