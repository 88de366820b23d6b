//! `buf(ptr, len)` / `buf(array)`: raw bytes, printed with `\xNN` escapes (`%r`, `%rx`,
//! `%rh` in printf). Laid out as a length word and the data, NUL-padded, so equal buffers
//! have equal bytes and work as map keys.

use inkwell::IntPredicate;

use super::{Lowering, TypeRule};
use crate::codegen::func::helper;
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::Expr;
use crate::sema::{CallCheck, Type};

pub struct Buf;

impl TypeRule for Buf {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 2)?;
        let strlen = c.options().strlen;
        let t = c.value(0)?;
        if c.args.len() == 1 {
            return match t {
                Type::Str { size } => Ok(Type::Buf { size }),
                Type::Array { elem, len } => {
                    let bytes = elem.c_layout().0 * len;
                    Ok(Type::Buf {
                        size: bytes.min(u64::from(strlen)) as u32,
                    })
                }
                other => Err(Diagnostic::error(
                    format!(
                        "buf() of {} needs a length: buf(ptr, len)",
                        other.describe()
                    ),
                    c.args[0].span,
                )),
            };
        }
        if !(t.is_int() || t.is_ptr() || t.is_str()) {
            return Err(Diagnostic::error(
                format!("buf() reads from an address, not {}", t.describe()),
                c.args[0].span,
            ));
        }
        // A constant length fixes the size; otherwise it is a run-time length, capped.
        let size = match c.const_int(1, "buf()'s length") {
            Ok(n) if n <= 0 => {
                return Err(Diagnostic::error(
                    "buf()'s length must be positive",
                    c.args[1].span,
                ))
            }
            Ok(n) => (n as u64).min(u64::from(strlen)) as u32,
            Err(_) => {
                c.int(1, "buf()'s length")?;
                strlen
            }
        };
        Ok(Type::Buf { size })
    }
}

impl Lowering for Buf {
    fn gen<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        call: &Expr,
        args: &[Expr],
    ) -> Result<Val<'ctx>> {
        let Type::Buf { size } = *g.ck.ty(call.id) else {
            unreachable!("buf() is a buffer")
        };
        let field = crate::program::FieldType::Buf { size };
        let out = g.stack(field.size(), "buf");
        let data = g.gep(out, 8);
        let src = g.expr(&args[0])?;
        let len = match args.get(1) {
            Some(n) => {
                let n = g.expr(n)?.int();
                let cap = g.i64(u64::from(size));
                let fits =
                    g.b.build_int_compare(IntPredicate::ULE, n, cap, "fits")
                        .unwrap();
                g.b.build_select(fits, n, cap, "len")
                    .unwrap()
                    .into_int_value()
            }
            None => g.i64(u64::from(size)),
        };
        g.store_i64(out, len);
        match src {
            Val::Str(p, s) => {
                let n = u64::from(s.min(size));
                g.copy(data, p, n, false);
            }
            Val::Int(addr) => {
                let read = if user_pointer(g, &args[0]) {
                    helper::PROBE_READ_USER
                } else {
                    helper::PROBE_READ_KERNEL
                };
                let src = g.b.build_int_to_ptr(addr, g.ptr_type(), "src").unwrap();
                g.helper_int(read, &[data.into(), len.into(), src.into()]);
            }
            Val::Tuple(p, elems) => {
                // An array value held in memory.
                let n = elems
                    .iter()
                    .map(crate::program::FieldType::size)
                    .sum::<usize>()
                    .min(size as usize);
                g.copy(data, p, n as u64, false);
            }
            Val::Record(..) | Val::Void => {
                return Err(Diagnostic::error(
                    "buf() cannot read this value",
                    args[0].span,
                ))
            }
        }
        Ok(Val::Tuple(out, vec![field]))
    }
}

/// As `str()`: user-memory pointers, and plain integers in probes on user code.
fn user_pointer(g: &FnGen, e: &Expr) -> bool {
    match g.ck.ty(e.id) {
        Type::Ptr { user, .. } => *user,
        _ => crate::probes::of(&g.point.attach).user_addresses(),
    }
}
