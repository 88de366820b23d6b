//! Expression typing.

use super::{Checker, Type};
use crate::diag::{Diagnostic, Result, Span};
use crate::parser::ast::{BinOp, Expr, ExprKind};
use crate::probes::{ArgField, ArgKind};
use crate::program::{EventSpec, FieldType, MapId, MapKind};

/// Bytes a string literal used as a value may take, its NUL included (formats and other
/// compile-time arguments are not values and have no limit).
const MAX_STR_LITERAL: usize = 1024;

impl Checker<'_> {
    pub(crate) fn expr(&mut self, e: &Expr) -> Result<Type> {
        let t = self.expr_inner(e)?;
        self.set_type(e.id, t.clone());
        Ok(t)
    }

    /// Checks an expression that must be an integer.
    pub(crate) fn int_expr(&mut self, e: &Expr, what: &str) -> Result<Type> {
        let t = self.expr(e)?;
        if !t.is_int() {
            return Err(
                Diagnostic::error(format!("{what} must be an integer"), e.span)
                    .with_label(format!("this is {}", t.describe())),
            );
        }
        Ok(t)
    }

    /// A value that can be stored or printed (not `args`, not an aggregation, not void).
    pub(crate) fn value_expr(&mut self, e: &Expr) -> Result<Type> {
        let t = self.expr(e)?;
        self.as_value(e, t)
    }

    /// `e`, already typed `t`, used as a value.
    fn as_value(&mut self, e: &Expr, t: Type) -> Result<Type> {
        match t {
            _ if t.is_plain_value() => Ok(t),
            Type::Struct(_) => self.struct_value(e, &t),
            Type::Args => self.args_value(e),
            Type::Agg(_) => Err(Diagnostic::error(
                "an aggregation function can only be assigned to a map",
                e.span,
            )
            .with_note("e.g. `@calls[comm] = count();`")),
            _ => Err(Diagnostic::error(
                format!("{} cannot be used as a value", t.describe()),
                e.span,
            )),
        }
    }

    fn expr_inner(&mut self, e: &Expr) -> Result<Type> {
        match &e.kind {
            ExprKind::Int(v) => Ok(Type::literal(*v)),
            ExprKind::Bool(_) => Ok(Type::Bool),
            ExprKind::Tuple(elems) => Ok(Type::Tuple(
                elems
                    .iter()
                    .map(|x| self.value_expr(x))
                    .collect::<Result<_>>()?,
            )),
            ExprKind::Record(fields) => {
                let mut names: Vec<String> = vec![];
                let mut types = vec![];
                for (n, x) in fields {
                    if names.contains(n) {
                        return Err(Diagnostic::error(
                            format!("field `{n}` appears twice in this record"),
                            x.span,
                        ));
                    }
                    names.push(n.clone());
                    types.push(self.value_expr(x)?);
                }
                Ok(Type::Record(names, types))
            }
            ExprKind::TupleIndex { base, index } => match self.expr(base)? {
                Type::Tuple(elems) => elems.get(*index as usize).cloned().ok_or_else(|| {
                    Diagnostic::error(
                        format!(
                            "this tuple has {} elements; there is no element {index}",
                            elems.len()
                        ),
                        e.span,
                    )
                }),
                other => Err(Diagnostic::error(
                    format!("{} is not a tuple", other.describe()),
                    base.span,
                )),
            },
            ExprKind::Cast { ty, of, operand } => self.cast(e, ty, of.as_deref(), operand),
            ExprKind::Index { base, index } => self.index(e, base, index),
            ExprKind::Block { stmts, value } => {
                for s in stmts {
                    self.stmt(s, true)?;
                }
                match value {
                    Some(v) => self.expr(v),
                    None => Ok(Type::Void),
                }
            }
            ExprKind::TypeName(name) => Err(Diagnostic::error(
                format!("the type `{name}` is not a value"),
                e.span,
            )
            .with_note("types can be used in casts, `(int8)x`, and in `sizeof(T)`")),
            ExprKind::Str(s) if s.len() >= MAX_STR_LITERAL => Err(Diagnostic::error(
                format!(
                    "this string literal is {} bytes long; a string value holds at most {}",
                    s.len(),
                    MAX_STR_LITERAL - 1
                ),
                e.span,
            )
            .with_note("as in bpftrace, whose max_strlen is 1024 bytes with the NUL")),
            ExprKind::Str(s) => Ok(Type::Str {
                size: s.len() as u32 + 1,
            }),
            ExprKind::Ident(name) => self.ident(e, name),
            ExprKind::Var(name) => {
                let slot = self.slot(name, e.id);
                self.vars.get(&slot).cloned().ok_or_else(|| {
                    Diagnostic::error(
                        format!("variable `${name}` is used before it is assigned"),
                        e.span,
                    )
                })
            }
            ExprKind::Positional(0) => Err(Diagnostic::error("there is no `$0`", e.span)
                .with_note("positional parameters start at `$1`")),
            ExprKind::Positional(n) => Ok(self.positional_type(*n, false)),
            ExprKind::PositionalCount => Ok(self.count_type()),
            ExprKind::Map { name, keys } => self.map_read(e, name, keys),
            ExprKind::Call {
                name,
                name_span,
                args,
            } => self.call(e, name, *name_span, args),
            ExprKind::Binary { op, lhs, rhs } => {
                if matches!(op, BinOp::Div | BinOp::Mod) {
                    self.warn_divide_by_zero(e, rhs);
                }
                self.binary(*op, lhs, rhs)
            }
            ExprKind::Unary { op, operand } => self.unary(e, *op, operand),
            ExprKind::Ternary {
                cond,
                then,
                otherwise,
            } => {
                self.cond_expr(cond, "a `?:` condition")?;
                // `c ? printf(…) : printf(…)` as a statement: both arms void.
                // Each arm is checked once: chains of `?:` nest, and checking twice would
                // double the work at every level.
                let a = self.expr(then)?;
                let b = self.expr(otherwise)?;
                if (&a, &b) == (&Type::Void, &Type::Void) {
                    return Ok(Type::Void);
                }
                let a = self.as_value(then, a)?;
                let b = self.as_value(otherwise, b)?;
                super::types::unify_types(&a, &b).ok_or_else(|| {
                    Diagnostic::error("the branches of `?:` have different types", e.span)
                        .with_secondary(then.span, a.describe())
                        .with_secondary(otherwise.span, b.describe())
                })
            }
            ExprKind::Field { base, field } => self.field(e, base, field),
            ExprKind::IncDec { target, .. } => {
                let t = self.int_target(target)?;
                self.warn_map_full(target, e.span);
                if t.is_ptr() {
                    super::pointers::step(&t, target.span)?;
                    return Ok(t);
                }
                Ok(Type::INT)
            }
        }
    }

    fn ident(&mut self, e: &Expr, name: &str) -> Result<Type> {
        if name == "args" {
            return match self.points.first().and_then(|p| p.args.as_ref()) {
                Some(_) => {
                    self.uses_args = true;
                    Ok(Type::Args)
                }
                None => Err(
                    Diagnostic::error("`args` is not available in this probe", e.span)
                        .with_note("`args` holds a tracepoint's typed fields"),
                ),
            };
        }
        if let Some(ty) = self.cat.builtin(name) {
            if name == "probe" {
                self.uses_probe = true;
            }
            return ty(self, e.span);
        }
        // `count` is `count()`: zero-argument functions may drop the parentheses.
        if self.cat.function(name).is_some() {
            return self.call(e, name, e.span, &[]);
        }
        // Enum constants: the script's, then the kernel's; typed by their enum, so they
        // print by name.
        if let Some((v, def)) = self.structs.enum_const(name) {
            self.consts.insert(e.id, v as u64);
            return Ok(Type::Enum(def));
        }
        if name == "dw_ustack" {
            return Err(dw_ustack(e.span));
        }
        let names = self.cat.builtin_names().into_iter().chain(["args"]);
        let d = Diagnostic::error(format!("unknown identifier `{name}`"), e.span);
        Err(match super::suggest::closest(name, names) {
            Some(s) => d.with_label(format!("did you mean `{s}`?")),
            None => d.with_note("builtins include pid, tid, uid, gid, comm, nsecs, elapsed, cpu, rand, probe, cpid, args"),
        })
    }

    /// The type of the longest `probe` name in this block, for the `probe` builtin.
    /// The attach points of the probe block being checked.
    pub(crate) fn attach_points(&self) -> impl Iterator<Item = &crate::probes::AttachPoint> {
        self.points.iter().map(|p| &p.attach)
    }

    pub(crate) fn probe_name_type(&self) -> Type {
        let longest = self
            .points
            .iter()
            .map(|p| p.attach.name().len())
            .max()
            .unwrap_or(0);
        Type::Str {
            size: longest as u32 + 1,
        }
    }

    fn map_read(&mut self, e: &Expr, name: &str, keys: &[Expr]) -> Result<Type> {
        let key = self.keys(keys)?;
        self.map_key(name, key, e.span)?;
        match self.map_value(name, e.span)? {
            Some(MapKind::Value(f)) => {
                self.warn_missing_key(e);
                Ok(Type::from_field(&f))
            }
            Some(kind) => Self::agg_read_type(&kind, name, e.span),
            // Not known yet: a later round will know (or report it never assigned).
            None => Err(Diagnostic::error(
                format!("map `{name}` is used before it has a type"),
                e.span,
            )),
        }
    }

    /// Reading an aggregation in a probe yields its value merged over all CPUs (bpftrace's
    /// "castable" maps: count, sum, avg, min, max); the others have no single value.
    pub(super) fn agg_read_type(kind: &MapKind, name: &str, span: Span) -> Result<Type> {
        match kind {
            MapKind::Count => Ok(Type::UINT),
            MapKind::Sum { signed } | MapKind::Avg { signed } | MapKind::Min { signed } | MapKind::Max { signed } => {
                Ok(Type::int(*signed))
            }
            _ => Err(Diagnostic::error(
                format!("the {} map `{name}` cannot be read as a value", super::types::agg_name(kind)),
                span,
            )
            .with_label(format!("`{name}` holds {} values", super::types::agg_name(kind)))
            .with_note("only count, sum, avg, min and max maps can be read in a probe; print it with print() instead")),
        }
    }

    /// Key fields of `@m[keys]`. `@m[a, b]` is `@m[(a, b)]` in bpftrace, so a lone tuple
    /// key is spread into its elements (the layout is the same).
    pub(crate) fn keys(&mut self, keys: &[Expr]) -> Result<Vec<FieldType>> {
        let fields: Vec<FieldType> = keys
            .iter()
            .map(|k| {
                let t = self.value_expr(k)?;
                Ok(t.field().expect("value_expr returns storable types"))
            })
            .collect::<Result<_>>()?;
        Ok(match fields.as_slice() {
            [FieldType::Tuple(elems)] => elems.clone(),
            _ => fields,
        })
    }

    fn binary(&mut self, op: BinOp, lhs: &Expr, rhs: &Expr) -> Result<Type> {
        let a = self.value_expr(lhs)?;
        let b = self.value_expr(rhs)?;
        let span = (lhs.span.0, rhs.span.1);
        if a.is_ptr() || b.is_ptr() {
            return self.ptr_binary(op, lhs, &a, rhs, &b);
        }
        match (&a, &b) {
            (x, y) if x.is_int() && y.is_int() => Ok(match op {
                _ if op.is_comparison() => Type::Bool,
                BinOp::LogAnd | BinOp::LogOr => Type::Bool,
                // bpftrace: a subtraction's result is signed.
                BinOp::Sub => Type::INT,
                _ => Type::int(
                    (x.is_signed() && !lhs.is_flexible_literal())
                        || (y.is_signed() && !rhs.is_flexible_literal()),
                ),
            }),
            (Type::Str { .. }, Type::Str { .. }) | (Type::Buf { .. }, Type::Buf { .. })
                if matches!(op, BinOp::Eq | BinOp::Ne) =>
            {
                Ok(Type::Bool)
            }
            // Byte comparison of two values laid out alike.
            (Type::Tuple(..) | Type::Record(..) | Type::Array { .. }, _)
                if matches!(op, BinOp::Eq | BinOp::Ne) && a == b =>
            {
                Ok(Type::Bool)
            }
            _ => Err(Diagnostic::error(
                format!(
                    "`{}` cannot be applied to {} and {}",
                    op.symbol(),
                    a.describe(),
                    b.describe()
                ),
                span,
            )
            .with_secondary(lhs.span, a.describe())
            .with_secondary(rhs.span, b.describe())),
        }
    }

    fn field(&mut self, e: &Expr, base: &Expr, field: &str) -> Result<Type> {
        let bt = self.expr(base)?;
        if super::fields::has_fields(&bt) {
            return self.struct_field(e, base, &bt, field);
        }
        if let Type::Record(names, types) = &bt {
            return match names.iter().position(|n| n == field) {
                Some(i) => Ok(types[i].clone()),
                None => Err(Diagnostic::error(
                    format!("this record has no field `{field}`"),
                    e.span,
                )
                .with_note(format!("its fields are: {}", names.join(", ")))),
            };
        }
        if bt != Type::Args {
            return Err(
                Diagnostic::error(format!("{} has no fields", bt.describe()), base.span)
                    .with_label(format!("this is {}", bt.describe()))
                    .with_note("fields belong to structs, pointers to structs, records and `args`"),
            );
        }
        let mut found: Option<Type> = None;
        for i in 0..self.points.len() {
            let p = &self.points[i];
            let fields = p.args.as_deref().unwrap_or(&[]);
            let f = fields.iter().find(|f| f.name == field).ok_or_else(|| {
                let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                Diagnostic::error(
                    format!("{} has no argument `{field}`", p.attach.name()),
                    e.span,
                )
                .with_note(format!("its arguments are: {}", names.join(", ")))
            })?;
            let f = f.clone();
            let t = self.arg_type(&f);
            found = Some(match found {
                None => t,
                Some(prev) => super::types::unify_types(&prev, &t).ok_or_else(|| {
                    Diagnostic::error(
                        format!("`args.{field}` has different types across these probes"),
                        e.span,
                    )
                })?,
            });
        }
        found.ok_or_else(|| Diagnostic::error("`args` is not available here", base.span))
    }

    /// The type of one field of `args`.
    fn arg_type(&mut self, f: &ArgField) -> Type {
        match f.kind {
            ArgKind::Int => self.tp_int_type(f),
            ArgKind::Pointer { user } => super::pointers::from_c_type(&f.c_type, user),
            ArgKind::DataLocStr => Type::Str {
                size: self.opts.strlen,
            },
            ArgKind::CharArray { len } => Type::Str { size: len },
        }
    }

    /// `args` as a value (`print(args)`, `@[args]`): a record of every field, printed as
    /// bpftrace prints structs. Every attach point of the block must have the same fields.
    fn args_value(&mut self, e: &Expr) -> Result<Type> {
        let mut found: Option<(Vec<String>, Vec<Type>)> = None;
        for i in 0..self.points.len() {
            let fields = self.points[i].args.clone().unwrap_or_default();
            let names: Vec<String> = fields.iter().map(|f| f.name.clone()).collect();
            let types: Vec<Type> = fields.iter().map(|f| self.arg_type(f)).collect();
            match &found {
                Some((n, t)) if *n != names || *t != types => {
                    return Err(Diagnostic::error(
                        "`args` has different fields across these probes",
                        e.span,
                    ))
                }
                _ => found = Some((names, types)),
            }
        }
        let (names, types) = found.unwrap_or_default();
        let rec = Type::Record(names, types);
        if rec.field().is_none() {
            return Err(
                Diagnostic::error("these `args` cannot be copied as a value", e.span)
                    .with_note("print its fields instead, e.g. `args.NAME`"),
            );
        }
        self.set_type(e.id, rec.clone());
        Ok(rec)
    }

    /// Checks the target of `++`, `--` or `op=`: an integer (or pointer) variable or plain
    /// map; returns its type.
    pub(crate) fn int_target(&mut self, target: &Expr) -> Result<Type> {
        match &target.kind {
            ExprKind::Var(name) => {
                let name = &self.slot(name, target.id);
                match self.vars.get(name) {
                    Some(t) if !t.is_truthy() => {
                        return Err(Diagnostic::error(
                            format!("`${name}` is a string, not an integer"),
                            target.span,
                        ))
                    }
                    Some(_) => {}
                    None => {
                        return Err(Diagnostic::error(
                            format!("variable `${name}` is used before it is assigned"),
                            target.span,
                        ))
                    }
                }
                self.set_type(target.id, self.vars[name].clone());
                Ok(self.vars[name].clone())
            }
            ExprKind::Map { name, keys } => {
                let key = self.keys(keys)?;
                let id = self.map_key(name, key, target.span)?;
                // A map already holding a pointer keeps it: `@p = (int32 *)x; @p++`.
                if let Some(MapKind::Value(f @ FieldType::Ptr { .. })) =
                    self.map_value(name, target.span)?
                {
                    let t = Type::from_field(&f);
                    self.set_type(target.id, t.clone());
                    return Ok(t);
                }
                self.map_kind(
                    id,
                    MapKind::Value(FieldType::Int { signed: true }),
                    target.span,
                )?;
                self.set_type(target.id, Type::INT);
                Ok(Type::INT)
            }
            _ => Err(Diagnostic::error(
                "only a variable or a map can be modified",
                target.span,
            )),
        }
    }

    fn call(&mut self, e: &Expr, name: &str, name_span: Span, args: &[Expr]) -> Result<Type> {
        if name == "dw_ustack" {
            return Err(dw_ustack(name_span));
        }
        let f = self.cat.function(name).ok_or_else(|| {
            let d = Diagnostic::error(format!("unknown function `{name}`"), name_span);
            match super::suggest::closest(name, self.cat.function_names()) {
                Some(s) => d.with_label(format!("did you mean `{s}`?")),
                None => d,
            }
        })?;
        if let Some(what) = f.destructive().filter(|_| !self.opts.unsafe_mode) {
            return Err(Diagnostic::error(
                format!("{name}() is unsafe. To use you need the --unsafe flag"),
                e.span,
            )
            .with_note(what));
        }
        let mut c = CallCheck {
            ck: self,
            call: e,
            args,
            name_span,
        };
        f.check(&mut c)
    }
}

/// What a stdlib function's type rule sees of its call.
pub struct CallCheck<'c, 'a> {
    pub ck: &'c mut Checker<'a>,
    pub call: &'c Expr,
    pub args: &'c [Expr],
    pub name_span: Span,
}

impl CallCheck<'_, '_> {
    /// The program needs `r` (a stack map, a perf array) because of this call.
    pub fn needs(&mut self, r: super::Resource) {
        self.ck.resources.insert(r);
    }

    pub fn span(&self) -> Span {
        self.call.span
    }

    pub fn arity(&self, min: usize, max: usize) -> Result<()> {
        let n = self.args.len();
        if n >= min && n <= max {
            return Ok(());
        }
        let want = match (min, max) {
            (a, b) if a == b => format!("{a} argument{}", if a == 1 { "" } else { "s" }),
            (a, usize::MAX) => format!("at least {a} argument{}", if a == 1 { "" } else { "s" }),
            (a, b) => format!("{a} to {b} arguments"),
        };
        Err(Diagnostic::error(
            format!("this function takes {want}, but {n} were given"),
            self.call.span,
        ))
    }

    pub fn int(&mut self, i: usize, what: &str) -> Result<Type> {
        self.ck.int_expr(&self.args[i], what)
    }

    pub fn value(&mut self, i: usize) -> Result<Type> {
        self.ck.value_expr(&self.args[i])
    }

    pub fn str_literal(&self, i: usize, what: &str) -> Result<String> {
        match &self.args[i].kind {
            ExprKind::Str(s) => Ok(s.clone()),
            _ => Err(Diagnostic::error(
                format!("{what} must be a string literal"),
                self.args[i].span,
            )),
        }
    }

    /// A compile-time integer: a literal, possibly negated, or a positional parameter.
    pub fn const_int(&mut self, i: usize, what: &str) -> Result<i64> {
        let a = &self.args[i];
        self.ck.int_expr(a, what)?;
        super::consts::int(a, &self.ck.params())
            .ok_or_else(|| Diagnostic::error(format!("{what} must be a constant integer"), a.span))
    }

    /// An argument naming a whole map (`@m`); returns its name.
    pub fn map_ref(&mut self, i: usize) -> Result<String> {
        match &self.args[i].kind {
            ExprKind::Map { name, keys } if keys.is_empty() => {
                self.ck.map_id(name, self.args[i].span);
                Ok(name.clone())
            }
            _ => Err(Diagnostic::error(
                "expected a map, like `@name`",
                self.args[i].span,
            )),
        }
    }

    /// A map element (`@m[k]`), with its keys checked; returns the map id.
    pub fn map_elem(&mut self, i: usize) -> Result<MapId> {
        let a = &self.args[i];
        match &a.kind {
            ExprKind::Map { name, keys } => {
                let key = self.ck.keys(keys)?;
                self.ck.map_key(name, key, a.span)
            }
            _ => Err(Diagnostic::error(
                "expected a map element, like `@name[key]`",
                a.span,
            )),
        }
    }

    pub fn map_id_of(&self, name: &str) -> Option<MapId> {
        self.ck.map_ids.get(name).copied()
    }

    pub fn event(&mut self, event: EventSpec) -> usize {
        self.ck.add_event(self.call.id, event)
    }

    pub fn options(&self) -> &super::Options {
        self.ck.opts
    }

    pub fn probe_name_type(&self) -> Type {
        self.ck.probe_name_type()
    }

    /// The attach points of the block being checked.
    pub fn attach_points(&self) -> impl Iterator<Item = &crate::probes::AttachPoint> {
        self.ck.points.iter().map(|p| &p.attach)
    }
}

pub use crate::params::parse_int;

/// `dw_ustack` unwinds user stacks with DWARF call-frame information inside BPF, which
/// bpftrace builds only with LLVM 21 or later (and as an unstable feature); spyglass is
/// built on LLVM 19.
fn dw_ustack(span: Span) -> Diagnostic {
    Diagnostic::error(
        "`dw_ustack` needs DWARF unwinding in BPF, which needs LLVM 21 or later; spyglass is built on LLVM 19",
        span,
    )
    .with_note("use `ustack`, which follows frame pointers")
}
