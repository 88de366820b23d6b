//! Typing of pointers, as bpftrace has them: casts to `T*`, `*p`, `&$var`, `p ± n`,
//! comparisons and truthiness. bpftrace's rules: a pointer plus or minus an integer is a
//! pointer of the same type; pointers compare with pointers and integers; nothing else.

use super::{Checker, Type};
use crate::diag::{Diagnostic, Result, Span};
use crate::parser::ast::{BinOp, Expr, ExprKind, UnOp};

impl Checker<'_> {
    /// A condition (`if`, `while`, `?:`, predicates): an integer, a bool or a pointer.
    pub(crate) fn cond_expr(&mut self, e: &Expr, what: &str) -> Result<Type> {
        let t = self.expr(e)?;
        if !t.is_truthy() {
            return Err(Diagnostic::error(
                format!("{what} must be an integer or a pointer"),
                e.span,
            )
            .with_label(format!("this is {}", t.describe())));
        }
        Ok(t)
    }

    pub(super) fn unary(&mut self, e: &Expr, op: UnOp, operand: &Expr) -> Result<Type> {
        match op {
            UnOp::Deref => self.deref(e, operand),
            UnOp::AddrOf => self.addr_of(operand),
            _ => {
                let t = self.int_expr(operand, &format!("the operand of `{}`", unop_symbol(op)))?;
                Ok(match op {
                    UnOp::Neg => Type::INT,
                    UnOp::Not => Type::Bool,
                    UnOp::BitNot => Type::int(t.is_signed()),
                    _ => t,
                })
            }
        }
    }

    fn deref(&mut self, e: &Expr, operand: &Expr) -> Result<Type> {
        match self.expr(operand)? {
            Type::Ptr { to, .. } => match *to {
                Type::Void => Err(Diagnostic::error("a `void *` cannot be dereferenced", e.span)
                    .with_note("cast it to a sized pointer first, e.g. `*(uint64 *)p`")),
                Type::Opaque(name) if super::structs::is_struct_name(&name) => {
                    let l = self.struct_layout(&Type::Opaque(name), e.span)?;
                    Ok(Type::Struct(l.r.clone()))
                }
                Type::Opaque(name) => Err(Diagnostic::error(
                    format!("cannot read a `{name}`: spyglass does not know its layout"),
                    e.span,
                )
                .with_note("cast the pointer to an integer pointer to read a field, e.g. `*(uint64 *)(p + 8)`")),
                t => Ok(t),
            },
            // bpftrace reads a uint64 at an integer address.
            Type::Int { .. } => Ok(Type::UINT),
            t => Err(Diagnostic::error(format!("{} is not a pointer and cannot be dereferenced", t.describe()), operand.span)),
        }
    }

    fn addr_of(&mut self, operand: &Expr) -> Result<Type> {
        // `&p->field`: the member's address, in the struct's address space.
        if let ExprKind::Field { .. } = operand.kind {
            let t = self.expr(operand)?;
            if let Some(a) = self.struct_fields.get(&operand.id) {
                if a.bitfield.is_some() {
                    return Err(Diagnostic::error("a bitfield has no address", operand.span));
                }
                return Ok(Type::ptr(t, a.user));
            }
        }
        if let ExprKind::Map { name, .. } = &operand.kind {
            // In bpftrace `&@m` is the map itself, for functions of imported `.bpf.c`
            // files: it has no value of its own in a script.
            return Err(Diagnostic::error(
                format!("`&{name}` passes a map to an external BPF C function, and spyglass does not compile C"),
                operand.span,
            )
            .with_note("`import \"x.bpf.c\"` needs a C compiler; `.bt` imports and macros take maps by name (`@m` parameters)"));
        }
        if !matches!(operand.kind, ExprKind::Var(_)) {
            return Err(Diagnostic::error(
                "only the address of a variable or a struct member can be taken",
                operand.span,
            )
            .with_note("e.g. `$p = &$x;`, `&curtask->pid`"));
        }
        let t = self.value_expr(operand)?;
        Ok(Type::ptr(t, false))
    }

    pub(super) fn cast(
        &mut self,
        e: &Expr,
        ty: &str,
        of: Option<&Expr>,
        operand: &Expr,
    ) -> Result<Type> {
        let target = match of {
            // `(typeof(x)**)v`: `x`'s type (never evaluated), then a pointer per `*`.
            Some(x) => {
                let mut t = match &x.kind {
                    ExprKind::TypeName(name) => self.resolve_type(name, x.span)?,
                    _ => self.expr(x)?,
                };
                for _ in 0..ty.len() {
                    t = Type::ptr(t, false);
                }
                t
            }
            None => {
                if let Some(arr) = ty.strip_suffix(']') {
                    return self.array_cast(e, arr, operand);
                }
                self.resolve_type(ty, e.span)?
            }
        };
        let t = self.expr(operand)?;
        if let (Type::Enum(d), ExprKind::Int(v)) = (&target, &operand.kind) {
            if d.name_of(*v).is_none() {
                return Err(Diagnostic::error(
                    format!("`{}` has no enumerator with the value {v}", d.name),
                    operand.span,
                ));
            }
        }
        // An integer array's bytes read back as an integer of the same size.
        if let Type::Array { .. } = t {
            if target.is_int() && t.c_layout().0 == target.c_layout().0 {
                return Ok(target);
            }
        }
        if let Type::Struct(r) = &target {
            return Err(
                Diagnostic::error(format!("cannot cast to `{}`", r.name), e.span)
                    .with_note(format!("cast to a pointer instead, `({} *)`", r.name)),
            );
        }
        if target == Type::Void {
            return Err(Diagnostic::error("cannot cast to void", e.span)
                .with_note("did you mean `(void *)`?"));
        }
        if !t.is_truthy() {
            return Err(Diagnostic::error(
                format!("cannot cast {} to {}", t.describe(), target.describe()),
                e.span,
            )
            .with_secondary(operand.span, t.describe()));
        }
        Ok(match (target, &t) {
            // A pointer cast keeps the address space of the pointer it converts.
            (Type::Ptr { to, .. }, Type::Ptr { user, .. }) => Type::Ptr { to, user: *user },
            // An address made from an integer in a uprobe is a user address (bpftrace).
            (Type::Ptr { to, .. }, _) => Type::Ptr {
                to,
                user: self.in_user_probe(),
            },
            (target, _) => target,
        })
    }

    /// `(int8[8])x`, `(uint8[])"str"`: an integer's or string's bytes as an array of
    /// integers (`arr` is the type without its closing bracket); without a length, the
    /// operand's size decides.
    fn array_cast(&mut self, e: &Expr, arr: &str, operand: &Expr) -> Result<Type> {
        let (elem, n) = arr.split_once('[').unwrap_or((arr, ""));
        let elem = self.resolve_type(elem.trim(), e.span)?;
        if !elem.is_int() {
            return Err(Diagnostic::error(
                format!("cannot cast to an array of {}", elem.describe_c()),
                e.span,
            )
            .with_note("only integers and strings cast to arrays of integers"));
        }
        let es = elem.c_layout().0.max(1);
        let t = self.expr(operand)?;
        let have = match &t {
            Type::Str { size } => *size as u64,
            t if t.is_int() => t.c_layout().0,
            t => {
                return Err(Diagnostic::error(
                    format!("cannot cast {} to an array", t.describe()),
                    e.span,
                )
                .with_secondary(operand.span, t.describe()))
            }
        };
        // Integers are 8 bytes in registers: narrower ones extend to fill the array.
        let room = if t.is_int() { 8 } else { have };
        let len = match n.trim() {
            "" if have % es == 0 => have / es,
            "" => {
                return Err(Diagnostic::error(
                    format!(
                        "cannot tell the array's length: {} is not a whole number of {}",
                        t.describe(),
                        elem.describe()
                    ),
                    e.span,
                ))
            }
            n => n.parse::<u64>().unwrap_or(0),
        };
        if len == 0 || len * es > room {
            return Err(Diagnostic::error(
                format!(
                    "cannot cast {} to {}[{len}]: it has {room} bytes",
                    t.describe(),
                    elem.describe()
                ),
                e.span,
            ));
        }
        Ok(Type::Array {
            elem: Box::new(elem),
            len,
        })
    }

    /// Every attach point of this probe is in user space.
    fn in_user_probe(&self) -> bool {
        !self.points.is_empty()
            && self
                .points
                .iter()
                .all(|p| crate::probes::of(&p.attach).user_addresses())
    }

    /// `a op b` where `a` or `b` is a pointer.
    pub(super) fn ptr_binary(
        &mut self,
        op: BinOp,
        lhs: &Expr,
        a: &Type,
        rhs: &Expr,
        b: &Type,
    ) -> Result<Type> {
        let span = (lhs.span.0, rhs.span.1);
        if op.is_comparison() || matches!(op, BinOp::LogAnd | BinOp::LogOr) {
            if a.is_truthy() && b.is_truthy() {
                return Ok(Type::Bool);
            }
        } else if matches!(op, BinOp::Add | BinOp::Sub) {
            let (p, other, pe) = if a.is_ptr() { (a, b, lhs) } else { (b, a, rhs) };
            // `n - p` has no meaning; `n + p` is `p + n`.
            if other.is_int() && (a.is_ptr() || op == BinOp::Add) {
                let p = self.sized_pointer(pe, p);
                step(&p, span)?;
                return Ok(p);
            }
        }
        let d = Diagnostic::error(
            format!(
                "`{}` cannot be applied to {} and {}",
                op.symbol(),
                a.describe(),
                b.describe()
            ),
            span,
        )
        .with_secondary(lhs.span, a.describe())
        .with_secondary(rhs.span, b.describe());
        Err(if a.is_ptr() && b.is_ptr() {
            d.with_note("pointers can be compared; arithmetic only adds an integer to a pointer or subtracts one from it")
        } else {
            d.with_note(
                "a pointer can be compared, tested, or moved by adding or subtracting an integer",
            )
        })
    }

    /// `p` with a struct pointee known by name only (`curtask`, map values) resolved to
    /// its layout, so arithmetic can step by its size; recorded as `e`'s type for codegen.
    fn sized_pointer(&mut self, e: &Expr, p: &Type) -> Type {
        let Type::Ptr { to, user } = p else {
            return p.clone();
        };
        let Type::Opaque(name) = &**to else {
            return p.clone();
        };
        match self.structs.layout(name) {
            Some(l) if super::structs::is_struct_name(name) => {
                let t = Type::ptr(Type::Struct(l.r.clone()), *user);
                self.set_type(e.id, t.clone());
                t
            }
            _ => p.clone(),
        }
    }

    /// The target of `op=`: an integer, or a pointer moved by `+=`/`-=`.
    pub(crate) fn compound_target(&mut self, target: &Expr, op: BinOp) -> Result<()> {
        let t = self.int_target(target)?;
        if t.is_ptr() {
            if !matches!(op, BinOp::Add | BinOp::Sub) {
                return Err(Diagnostic::error(
                    format!("`{}=` cannot be applied to {}", op.symbol(), t.describe()),
                    target.span,
                )
                .with_note("a pointer only moves with `+=` and `-=`"));
            }
            step(&t, target.span)?;
        }
        Ok(())
    }
}

/// Bytes one step of pointer `p` moves; an error when the pointee's size is unknown.
pub(crate) fn step(p: &Type, span: Span) -> Result<u64> {
    let Type::Ptr { to, .. } = p else {
        return Ok(1);
    };
    pointee_size(to).ok_or_else(|| {
        Diagnostic::error(
            format!(
                "cannot move a `{}`: spyglass does not know the size of `{}`",
                p.describe(),
                to.describe()
            ),
            span,
        )
        .with_note("cast it to a pointer of known size first, e.g. `(uint8 *)p + n`")
    })
}

pub(super) fn unop_symbol(op: UnOp) -> &'static str {
    match op {
        UnOp::Neg => "-",
        UnOp::Plus => "+",
        UnOp::Not => "!",
        UnOp::BitNot => "~",
        UnOp::Deref => "*",
        UnOp::AddrOf => "&",
    }
}

/// The pointee a `FieldType::Ptr` names (`Type::describe_c` of it), for typing map values.
pub fn pointee_from_name(name: &str, user: bool) -> Type {
    let name = name.trim();
    if let Some(base) = name.strip_suffix('*') {
        return Type::ptr(pointee_from_name(base, user), user);
    }
    if let Some(n) = name
        .strip_prefix("string[")
        .and_then(|r| r.strip_suffix(']'))
    {
        if let Ok(size) = n.parse() {
            return Type::Str { size };
        }
    }
    Type::from_name(name).unwrap_or_else(|| Type::Opaque(name.to_string()))
}

/// The type of a value declared in C as `c_type` (a tracepoint field): `const char *` is
/// `int8 *`; types spyglass cannot lay out (structs, unknown typedefs) are opaque.
pub fn from_c_type(c_type: &str, user: bool) -> Type {
    let stars = c_type.matches('*').count();
    let words: Vec<&str> = c_type
        .split(|c: char| c == '*' || c.is_whitespace())
        .filter(|w| {
            !w.is_empty()
                && !matches!(
                    *w,
                    "const" | "volatile" | "restrict" | "__user" | "__rcu" | "__iomem" | "__percpu"
                )
        })
        .collect();
    let (mut signed, mut rest) = (None, vec![]);
    for w in &words {
        match *w {
            "signed" => signed = Some(true),
            "unsigned" => signed = Some(false),
            w => rest.push(w),
        }
    }
    let int = |bits: u8, default_signed: bool| Type::Int {
        signed: signed.unwrap_or(default_signed),
        bits,
    };
    let mut t = match rest.join(" ").as_str() {
        "void" => Type::Void,
        "bool" | "_Bool" => Type::Bool,
        "char" => int(8, true),
        "short" | "short int" => int(16, true),
        "" | "int" => int(32, true),
        "long" | "long int" | "long long" | "long long int" => int(64, true),
        "u8" | "__u8" | "uint8_t" => Type::Int {
            signed: false,
            bits: 8,
        },
        "u16" | "__u16" | "uint16_t" => Type::Int {
            signed: false,
            bits: 16,
        },
        "u32" | "__u32" | "uint32_t" => Type::Int {
            signed: false,
            bits: 32,
        },
        "u64" | "__u64" | "uint64_t" | "size_t" => Type::UINT,
        "s8" | "__s8" | "int8_t" => Type::Int {
            signed: true,
            bits: 8,
        },
        "s16" | "__s16" | "int16_t" => Type::Int {
            signed: true,
            bits: 16,
        },
        "s32" | "__s32" | "int32_t" | "pid_t" => Type::Int {
            signed: true,
            bits: 32,
        },
        "s64" | "__s64" | "int64_t" | "ssize_t" | "loff_t" => Type::INT,
        other => Type::Opaque(other.to_string()),
    };
    for _ in 0..stars {
        t = Type::ptr(t, user);
    }
    t
}

/// Bytes one step of pointer arithmetic moves (`sizeof` the pointee); `None` when
/// spyglass does not know the pointee's size. `void *` moves by bytes, as in GNU C.
pub fn pointee_size(to: &Type) -> Option<u64> {
    match to {
        Type::Void => Some(1),
        Type::Int { .. }
        | Type::Enum(_)
        | Type::Bool
        | Type::Ptr { .. }
        | Type::Str { .. }
        | Type::Tuple(_)
        | Type::Struct(_)
        | Type::Array { .. } => Some(to.c_layout().0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_types() {
        let i8p = Type::ptr(
            Type::Int {
                signed: true,
                bits: 8,
            },
            true,
        );
        assert_eq!(from_c_type("const char *", true), i8p);
        assert_eq!(from_c_type("const char __user *", true), i8p);
        assert_eq!(
            from_c_type("unsigned char*", false),
            Type::ptr(
                Type::Int {
                    signed: false,
                    bits: 8
                },
                false
            )
        );
        assert_eq!(
            from_c_type("const char *const *", true),
            Type::ptr(i8p, true)
        );
        assert_eq!(from_c_type("void *", false), Type::ptr(Type::Void, false));
        assert_eq!(
            from_c_type("unsigned long *", false),
            Type::ptr(Type::UINT, false)
        );
        assert_eq!(
            from_c_type("struct stat *", true),
            Type::ptr(Type::Opaque("struct stat".into()), true)
        );
    }

    #[test]
    fn names_round_trip() {
        for t in [
            Type::ptr(
                Type::Int {
                    signed: false,
                    bits: 16,
                },
                false,
            ),
            Type::ptr(Type::ptr(Type::Void, true), true),
            Type::ptr(Type::Str { size: 6 }, false),
            Type::ptr(Type::Opaque("struct task_struct".into()), false),
        ] {
            assert_eq!(Type::from_field(&t.field().unwrap()), t);
        }
        assert_eq!(
            Type::from_name("int32*"),
            Some(Type::ptr(
                Type::Int {
                    signed: true,
                    bits: 32
                },
                false
            ))
        );
        assert_eq!(
            Type::from_name("void**"),
            Some(Type::ptr(Type::ptr(Type::Void, false), false))
        );
        assert_eq!(Type::ptr(Type::Void, false).describe(), "void *");
    }
}
