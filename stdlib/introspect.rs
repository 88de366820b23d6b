//! `sizeof(T | expr)` and `offsetof(struct T, field)`: compile-time constants, with C
//! layout rules as bpftrace uses them. Sema computes them; codegen emits the number.
//! `typeof(x)` names a type; as the value of `let $v: typeof(x) [= v]` (which the parser
//! rewrites to `let $v = typeof(x[, v])`) it is `v`, or zero, with `x`'s type.

use super::{Lowering, TypeRule};
use crate::codegen::{FnGen, Val};
use crate::diag::{Diagnostic, Result};
use crate::parser::ast::{Expr, ExprKind};
use crate::program::FieldType;
use crate::sema::{CallCheck, Type};

pub struct Sizeof;

impl TypeRule for Sizeof {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 1)?;
        let a = &c.args[0];
        let t = match type_operand(c.ck, a)? {
            Some(t) => t,
            // The operand is only typed: a struct stays a struct, not a copy of its fields.
            None => match c.ck.expr(a)? {
                t @ (Type::Struct(_) | Type::Array { .. }) => t,
                _ => c.value(0)?,
            },
        };
        if matches!(t, Type::Void | Type::Opaque(_)) {
            return Err(Diagnostic::error(
                format!("`{}` has no known size", t.describe_c()),
                a.span,
            ));
        }
        if let Type::Struct(r) = &t {
            c.ck.core_size(c.call.id, r);
        }
        c.ck.consts.insert(c.call.id, t.c_layout().0);
        Ok(Type::UINT)
    }
}

impl Lowering for Sizeof {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, e: &Expr, _: &[Expr]) -> Result<Val<'ctx>> {
        // The operand is not evaluated, as in C.
        Ok(Val::Int(g.layout_value(e.id)))
    }
}

/// `typeinfo(T or expr)` (unstable, `unstable_typeinfo`): a record of the BTF id (0:
/// spyglass's types are its own, as bpftrace's still are), the base kind of the type
/// (`integer`, `pointer`, `string`, `tuple`, …) and its full name.
pub struct Typeinfo;

impl TypeRule for Typeinfo {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 1)?;
        match c.options().unstable_typeinfo.as_str() {
            "enable" => {}
            "warn" => c.ck.warnings.push(Diagnostic::warning(
                "typeinfo() is an unstable feature",
                c.span(),
            )),
            _ => {
                return Err(
                    Diagnostic::error("typeinfo() is an unstable feature", c.span())
                        .with_note("enable it with `config = { unstable_typeinfo = enable }`"),
                )
            }
        }
        let a = &c.args[0];
        let t = match type_operand(c.ck, a)? {
            Some(t) => t,
            None => c.ck.expr(a)?,
        };
        // Kept on the operand, which is not evaluated, for code generation.
        c.ck.set_type(a.id, t.clone());
        let (base, full) = typeinfo_names(&t);
        Ok(Type::Record(
            vec!["btf_id".into(), "base_type".into(), "full_type".into()],
            vec![
                Type::UINT,
                Type::Str {
                    size: base.len() as u32 + 1,
                },
                Type::Str {
                    size: full.len() as u32 + 1,
                },
            ],
        ))
    }
}

impl Lowering for Typeinfo {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, e: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let Type::Record(names, types) = g.ck.ty(e.id).clone() else {
            unreachable!("typeinfo is a record")
        };
        let (base, full) = typeinfo_names(g.ck.ty(args[0].id));
        let fields: Vec<FieldType> = types.iter().map(|t| t.field().expect("storable")).collect();
        let buf = g.stack(FieldType::Tuple(fields.clone()).size(), "typeinfo");
        let vals = [
            Val::Int(g.i64(0)),
            g.str_const(base.as_bytes()),
            g.str_const(full.as_bytes()),
        ];
        for ((v, f), off) in vals
            .into_iter()
            .zip(&fields)
            .zip(FieldType::offsets(&fields))
        {
            g.store_field(g.gep(buf, off as u64), v, f);
        }
        Ok(Val::Record(buf, names, fields))
    }
}

/// bpftrace's names for a type's kind, and the type in full.
fn typeinfo_names(t: &Type) -> (&'static str, String) {
    let base = match t {
        Type::Int { .. } => "integer",
        Type::Bool => "boolean",
        Type::Str { .. } => "string",
        Type::Buf { .. } => "buffer",
        Type::Ptr { .. } => "pointer",
        Type::Tuple(_) => "tuple",
        Type::Record(..) | Type::Struct(_) | Type::Args => "record",
        Type::Array { .. } => "array",
        Type::Enum(_) => "enum",
        Type::Kind(k) => k.kind().typeinfo(),
        Type::Opaque(_) => "c_struct",
        Type::Agg(_) => "aggregation",
        Type::Void => "none",
    };
    (base, t.describe())
}

/// The type a type operand names: `T`, `typeof(T)` or `typeof(expr)` (as macros pass
/// them on); `None` for a plain expression.
fn type_operand(ck: &mut crate::sema::Checker, a: &Expr) -> Result<Option<Type>> {
    match &a.kind {
        ExprKind::TypeName(name) => ck.resolve_type(name, a.span).map(Some),
        ExprKind::Call { name, args, .. } if name == "typeof" && args.len() == 1 => {
            match type_operand(ck, &args[0])? {
                Some(t) => Ok(Some(t)),
                None => ck.expr(&args[0]).map(Some),
            }
        }
        _ => Ok(None),
    }
}

pub struct Offsetof;

impl TypeRule for Offsetof {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(2, 2)?;
        let (a, f) = (&c.args[0], &c.args[1]);
        let mut t = match &a.kind {
            ExprKind::TypeName(name) => c.ck.resolve_type(name, a.span)?,
            // `offsetof(expr, f)`: the expression's struct type (it is not evaluated).
            _ => match struct_operand(c, a)? {
                t @ Type::Struct(_) => t,
                Type::Opaque(n) if crate::sema::structs::is_struct_name(&n) => {
                    c.ck.resolve_type(&n, a.span)?
                }
                _ => {
                    return Err(Diagnostic::error(
                        "the first argument of offsetof must be a struct type or value",
                        a.span,
                    )
                    .with_note("e.g. `offsetof(struct task_struct, pid)`"))
                }
            },
        };
        let offset = member_offset(c, &mut t, a.span, f)?;
        c.ck.consts.insert(c.call.id, offset);
        Ok(Type::UINT)
    }
}

impl Lowering for Offsetof {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, e: &Expr, _: &[Expr]) -> Result<Val<'ctx>> {
        Ok(Val::Int(g.layout_value(e.id)))
    }
}

/// The type of `offsetof`'s expression operand, which is never evaluated: `*p` is `p`'s
/// pointee (a struct too large to copy is fine here).
fn struct_operand(c: &mut CallCheck, a: &Expr) -> Result<Type> {
    if let ExprKind::Unary {
        op: crate::parser::ast::UnOp::Deref,
        operand,
    } = &a.kind
    {
        if let Type::Ptr { to, .. } = c.ck.expr(operand)? {
            return Ok(*to);
        }
    }
    c.ck.expr(a)
}

/// The offset of the member `f` (`a.b.c`) in `t`; `t` becomes the member's type.
fn member_offset(c: &mut CallCheck, t: &mut Type, at: crate::diag::Span, f: &Expr) -> Result<u64> {
    let mut path = vec![];
    field_path(f, &mut path)?;
    let mut offset = 0;
    let mut steps = vec![];
    for (name, span) in path {
        let layout = c.ck.struct_layout(t, at)?;
        let m = c.ck.member(&layout, &name, span)?;
        offset += m.offset;
        *t = m.ty.clone();
        steps.push((layout, m));
    }
    c.ck.core_offset(c.call.id, &steps);
    Ok(offset)
}

/// `container_of(ptr, TYPE, member)`: the `TYPE *` whose `member` `ptr` points at.
pub struct ContainerOf;

impl TypeRule for ContainerOf {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(3, 3)?;
        let user = match c.value(0)? {
            Type::Ptr { user, .. } => user,
            t => {
                return Err(Diagnostic::error(
                    "container_of() needs a pointer to a member",
                    c.args[0].span,
                )
                .with_label(format!("this is {}", t.describe())))
            }
        };
        let a = &c.args[1];
        let container = match &a.kind {
            ExprKind::TypeName(name) => c.ck.resolve_type(name, a.span)?,
            _ => {
                return Err(Diagnostic::error(
                    "the second argument of container_of must be a struct type",
                    a.span,
                )
                .with_note("e.g. `container_of($p, struct task_struct, tasks)`"))
            }
        };
        let mut t = container.clone();
        let offset = member_offset(c, &mut t, a.span, &c.args[2].clone())?;
        c.ck.consts.insert(c.call.id, offset);
        Ok(Type::ptr(container, user))
    }
}

impl Lowering for ContainerOf {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, e: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let p = g.expr(&args[0])?.int();
        let off = g.layout_value(e.id);
        Ok(Val::Int(g.b.build_int_sub(p, off, "container").unwrap()))
    }
}

/// `a.b.c` as written: field names, outermost first.
fn field_path(e: &Expr, out: &mut Vec<(String, crate::diag::Span)>) -> Result<()> {
    match &e.kind {
        ExprKind::Ident(n) => out.push((n.clone(), e.span)),
        ExprKind::Field { base, field } => {
            field_path(base, out)?;
            out.push((field.clone(), (e.span.1 - field.len(), e.span.1)));
        }
        _ => {
            return Err(Diagnostic::error(
                "expected a field name, like `pid` or `se.vruntime`",
                e.span,
            ))
        }
    }
    Ok(())
}

pub struct Typeof;

impl TypeRule for Typeof {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        c.arity(1, 2)?;
        // `x` is only typed, never evaluated.
        let t = match type_operand(c.ck, &c.args[0])? {
            Some(t) => t,
            None => c.value(0)?,
        };
        if t.field().is_none() {
            return Err(Diagnostic::error(
                format!("a variable cannot hold {}", t.describe()),
                c.args[0].span,
            ));
        }
        if c.args.len() == 2 {
            let v = c.value(1)?;
            let fits = (v.is_int() && t.is_int())
                || crate::sema::types::unify_types(&v, &t).is_some_and(|u| u == t);
            if !fits {
                return Err(Diagnostic::error(
                    format!(
                        "the declared type is {}, but this is {}",
                        t.describe(),
                        v.describe()
                    ),
                    c.args[1].span,
                )
                .with_secondary(c.args[0].span, t.describe()));
            }
        }
        Ok(t)
    }
}

impl Lowering for Typeof {
    fn gen<'a, 'ctx>(&self, g: &mut FnGen<'a, 'ctx>, e: &Expr, args: &[Expr]) -> Result<Val<'ctx>> {
        let t = g.ck.ty(e.id).clone();
        if let Some(v) = args.get(1) {
            return Ok(match g.expr(v)? {
                Val::Int(i) => Val::Int(g.cast(i, &t)),
                v => v,
            });
        }
        let f = t.field().expect("sema: a storable type");
        Ok(match f {
            crate::program::FieldType::Int { .. } | crate::program::FieldType::Bool => {
                Val::Int(g.i64(0))
            }
            f => {
                let buf = g.stack(f.size(), "zero");
                g.load_field(buf, &f)
            }
        })
    }
}
