//! `has_key(@m, k)` and `len(@m)`: questions about a keyed map, answered in the kernel.

use inkwell::llvm_sys::core::{LLVMAddFunction, LLVMGetGlobalParent, LLVMGetNamedFunction};
use inkwell::module::Linkage;
use inkwell::types::AsTypeRef;
use inkwell::values::{AsValueRef, FunctionValue};

use super::{Lowering, TypeRule};
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::{Expr, ExprKind};
use crate::program::MapKind;
use crate::sema::{CallCheck, Type};

/// `bpf_for_each_map_elem` (include/uapi/linux/bpf.h).
const FOR_EACH_MAP_ELEM: u64 = 164;

pub struct HasKey;
pub struct Len;

/// `has_key(@m, (a, b))` looks up `@m[a, b]`.
fn key_exprs(e: &Expr) -> Vec<Expr> {
    match &e.kind {
        ExprKind::Tuple(elems) => elems.clone(),
        _ => vec![e.clone()],
    }
}

fn map_name(e: &Expr) -> &str {
    match &e.kind {
        ExprKind::Map { name, .. } => name,
        _ => unreachable!("sema: a map argument"),
    }
}

impl TypeRule for HasKey {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(2, 2)?;
        let name = c.map_ref(0)?;
        let keys = key_exprs(&c.args[1]);
        let key = c.ck.keys(&keys)?;
        let span = c.args[1].span;
        c.ck.map_key(&name, key, span)?;
        // A histogram's bucket is an extra key field: its user keys cannot be looked up.
        if c.ck
            .map_value(&name, span)?
            .as_ref()
            .is_some_and(MapKind::bucketed)
        {
            return Err(Diagnostic::error(
                "has_key() of a hist()/lhist()/tseries() map is not supported yet",
                c.args[0].span,
            ));
        }
        Ok(Type::Bool)
    }
}

impl Lowering for HasKey {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let (id, _) = g.ck.map(map_name(&args[0]));
        let key = g.map_key(id, &key_exprs(&args[1]), None)?;
        let p = g.lookup(id, key);
        let found = g.b.build_is_not_null(p, "found").unwrap();
        Ok(Val::Int(g.widen(found)))
    }
}

impl TypeRule for Len {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 1)?;
        c.map_ref(0)?;
        Ok(Type::UINT)
    }
}

impl Lowering for Len {
    /// `bpf_for_each_map_elem` returns how many elements it visited; the callback only
    /// says "continue".
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, _: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let (id, spec) = g.ck.map(map_name(&args[0]));
        // Checked here: sema knows a map's keys only once every round is done.
        if spec.key.is_empty() {
            return Err(
                Diagnostic::error("len() expects a map with keys", args[0].span)
                    .with_label(format!("`{}` is a scalar map", spec.name)),
            );
        }
        if spec.kind.bucketed() {
            return Err(Diagnostic::error(
                "len() of a hist()/lhist()/tseries() map is not supported yet",
                args[0].span,
            ));
        }
        let cb = continue_callback(g).as_global_value().as_pointer_value();
        let null = g.ptr_type().const_null();
        let n = g.helper_int(
            FOR_EACH_MAP_ELEM,
            &[
                g.map_ptr(id).into(),
                cb.into(),
                null.into(),
                g.i64(0).into(),
            ],
        );
        Ok(Val::Int(n))
    }
}

/// `static long cb(map, key, value, ctx) { return 0; }`, shared by every `len()`.
fn continue_callback<'ctx>(g: &FnGen<'_, 'ctx>) -> FunctionValue<'ctx> {
    const NAME: &std::ffi::CStr = c"spyglass_len_continue";
    // SAFETY: the module comes from this generator's live function; the type is of its context.
    let (existing, f) = unsafe {
        let module = LLVMGetGlobalParent(g.func.as_value_ref());
        if let Some(f) = FunctionValue::new(LLVMGetNamedFunction(module, NAME.as_ptr())) {
            (true, f)
        } else {
            let ptr = g.ptr_type();
            let ty = g
                .ctx
                .i64_type()
                .fn_type(&[ptr.into(), ptr.into(), ptr.into(), ptr.into()], false);
            (
                false,
                FunctionValue::new(LLVMAddFunction(module, NAME.as_ptr(), ty.as_type_ref()))
                    .expect("a function"),
            )
        }
    };
    if !existing {
        f.set_linkage(Linkage::Internal);
        f.set_section(Some(".text"));
        let name = NAME.to_str().expect("ASCII");
        g.globals
            .describe_function(f, name, &["map", "key", "value", "ctx"], true);
        let b = g.ctx.create_builder();
        b.position_at_end(g.ctx.append_basic_block(f, "entry"));
        b.build_return(Some(&g.i64(0))).unwrap();
    }
    f
}
