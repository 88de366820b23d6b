//! The untyped syntax tree. Every node carries its byte span; expressions carry an id that
//! later stages use to attach facts (types) without rebuilding the tree.

use crate::diag::Span;

#[derive(Clone, PartialEq)]
pub struct Program {
    pub probes: Vec<Probe>,
    /// Expression ids run from 0 to `expr_count - 1`.
    pub expr_count: u32,
    /// `config = { key = value; … }`
    pub config: Vec<ConfigEntry>,
    /// `let @name = hash(N);`
    pub map_decls: Vec<MapDecl>,
    /// `macro name(params) { … }`; expanded away by `parser::macros` before sema.
    pub macros: Vec<MacroDef>,
    /// `struct Foo { … }`: C definitions, laid out by sema.
    pub cdefs: Vec<CDef>,
    /// `import "path";`, resolved by `parser::imports` (empty once parsed).
    pub imports: Vec<(String, Span)>,
}

/// A C struct or union definition as written, `__attribute__`s and `;` included.
#[derive(Debug, Clone, PartialEq)]
pub struct CDef {
    pub text: String,
    pub span: Span,
}

// By hand so that scripts without C definitions print as they always did.
impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Program");
        d.field("probes", &self.probes)
            .field("expr_count", &self.expr_count)
            .field("config", &self.config)
            .field("map_decls", &self.map_decls)
            .field("macros", &self.macros);
        if !self.cdefs.is_empty() {
            d.field("cdefs", &self.cdefs);
        }
        if !self.imports.is_empty() {
            d.field("imports", &self.imports);
        }
        d.finish()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct MacroDef {
    pub name: String,
    pub params: Vec<MacroParam>,
    pub body: Block,
    pub span: Span,
}

/// `x` takes any expression (substituted), `$x` a variable and `@x` a map (both aliased).
#[derive(Debug, Clone, PartialEq)]
pub enum MacroParam {
    Expr(String),
    Var(String),
    Map(String),
}

/// A top-level item, in source order.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Probe(Probe),
    Config(Vec<ConfigEntry>),
    MapDecl(MapDecl),
    Macro(MacroDef),
    CDef(CDef),
    Import(String, Span),
}

impl Program {
    pub fn from_items(items: Vec<Item>, expr_count: u32) -> Program {
        let mut p = Program {
            probes: vec![],
            expr_count,
            config: vec![],
            map_decls: vec![],
            macros: vec![],
            cdefs: vec![],
            imports: vec![],
        };
        for item in items {
            match item {
                Item::Probe(x) => p.probes.push(x),
                Item::Config(c) => p.config.extend(c),
                Item::MapDecl(d) => p.map_decls.push(d),
                Item::Macro(m) => p.macros.push(m),
                Item::CDef(c) => p.cdefs.push(c),
                Item::Import(path, span) => p.imports.push((path, span)),
            }
        }
        p
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConfigEntry {
    pub key: String,
    pub value: ConfigValue,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    Int(u64),
    Str(String),
    /// A bare word, e.g. `stack_mode = perf`.
    Word(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct MapDecl {
    pub name: String,
    /// `hash`, `lruhash`, `percpuhash`, `percpulruhash`
    pub kind: String,
    pub size: u64,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub attach_points: Vec<AttachPointText>,
    pub predicate: Option<Expr>,
    pub body: Block,
    pub span: Span,
}

impl Probe {
    /// Span covering the attach-point list, where probe-level diagnostics point.
    pub fn head_span(&self) -> Span {
        let first = self
            .attach_points
            .first()
            .map(|a| a.span)
            .unwrap_or(self.span);
        let last = self
            .attach_points
            .last()
            .map(|a| a.span)
            .unwrap_or(self.span);
        (first.0, last.1)
    }
}

/// An attach point as written (`tracepoint:syscalls:sys_enter_*`); probe providers parse it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachPointText {
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StmtKind {
    Expr(Expr),
    /// `target = value`, or `target op= value` when `op` is set.
    Assign {
        target: Expr,
        op: Option<BinOp>,
        value: Expr,
    },
    If {
        cond: Expr,
        then: Block,
        otherwise: Option<Block>,
    },
    Block(Block),
    /// `for ($var : a..b)` or `for ($var : @map)`.
    For {
        var: String,
        iter: ForIter,
        body: Block,
    },
    /// `unroll (N) { … }`: the body N times over (N a constant, 1..=100).
    Unroll {
        count: Expr,
        body: Block,
    },
    While {
        cond: Expr,
        body: Block,
    },
    Break,
    Continue,
    /// Ends the probe; the value is the program's return code (a `test:` block fails on
    /// non-zero).
    Return(Option<Expr>),
    /// `let $x;`, `let $x: uint16;`, `let $x = e;`, `let $x: T = e;`
    Let {
        var: String,
        ty: Option<String>,
        value: Option<Expr>,
    },
}

impl Stmt {
    /// Whether `f` holds for any expression in this statement (nested blocks included).
    pub fn any(&self, f: &mut dyn FnMut(&Expr) -> bool) -> bool {
        let block = |b: &Block, f: &mut dyn FnMut(&Expr) -> bool| b.stmts.iter().any(|s| s.any(f));
        match &self.kind {
            StmtKind::Expr(e) | StmtKind::Return(Some(e)) => e.any(f),
            StmtKind::Assign { target, value, .. } => target.any(f) || value.any(f),
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => cond.any(f) || block(then, f) || otherwise.as_ref().is_some_and(|b| block(b, f)),
            StmtKind::Block(b) => block(b, f),
            StmtKind::For { iter, body, .. } => {
                let it = match iter {
                    ForIter::Range(a, b) => a.any(f) || b.any(f),
                    ForIter::Map { .. } => false,
                };
                it || block(body, f)
            }
            StmtKind::Unroll { count: e, body } | StmtKind::While { cond: e, body } => {
                e.any(f) || block(body, f)
            }
            StmtKind::Let { value, .. } => value.as_ref().is_some_and(|v| v.any(f)),
            StmtKind::Break | StmtKind::Continue | StmtKind::Return(None) => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ForIter {
    /// Half-open `start..end`, both evaluated once.
    Range(Expr, Expr),
    /// Every element of a map: the variable is `(key, value)`.
    Map { name: String, span: Span },
}

pub type ExprId = u32;

/// The value of `$n` among the positional parameters (`$1` is the first; there is no `$0`).
pub fn positional(params: &[String], n: u32) -> Option<&String> {
    params.get((n as usize).checked_sub(1)?)
}

impl Expr {
    /// Whether `f` holds for this expression or any inside it (statements of macro blocks
    /// included).
    pub fn any(&self, f: &mut dyn FnMut(&Expr) -> bool) -> bool {
        if f(self) {
            return true;
        }
        let mut sub = |e: &Expr| e.any(f);
        match &self.kind {
            ExprKind::Tuple(es)
            | ExprKind::Call { args: es, .. }
            | ExprKind::Map { keys: es, .. } => es.iter().any(sub),
            ExprKind::Record(fs) => fs.iter().any(|(_, e)| sub(e)),
            ExprKind::TupleIndex { base, .. } | ExprKind::Field { base, .. } => sub(base),
            ExprKind::Index { base, index } => sub(base) || sub(index),
            ExprKind::Cast { of, operand, .. } => {
                of.as_deref().is_some_and(&mut sub) || sub(operand)
            }
            ExprKind::Block { stmts, value } => {
                stmts.iter().any(|s| s.any(f)) || value.as_deref().is_some_and(|v| v.any(f))
            }
            ExprKind::Binary { lhs, rhs, .. } => sub(lhs) || sub(rhs),
            ExprKind::Unary { operand, .. } => sub(operand),
            ExprKind::Ternary {
                cond,
                then,
                otherwise,
            } => sub(cond) || sub(then) || sub(otherwise),
            ExprKind::IncDec { target, .. } => sub(target),
            ExprKind::Int(_)
            | ExprKind::Bool(_)
            | ExprKind::TypeName(_)
            | ExprKind::Str(_)
            | ExprKind::Ident(_)
            | ExprKind::Var(_)
            | ExprKind::Positional(_)
            | ExprKind::PositionalCount => false,
        }
    }

    /// A non-negative integer literal: in arithmetic and comparisons it takes the other
    /// operand's signedness (bpftrace's "sign-flexible" literals), so `$u > 0` compares
    /// unsigned.
    pub fn is_flexible_literal(&self) -> bool {
        matches!(self.kind, ExprKind::Int(v) if v <= i64::MAX as u64)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub id: ExprId,
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Int(u64),
    Bool(bool),
    /// `(a, b, …)`
    Tuple(Vec<Expr>),
    /// `(name = a, other = b, …)`
    Record(Vec<(String, Expr)>),
    /// `t.0`
    TupleIndex {
        base: Box<Expr>,
        index: u32,
    },
    /// `a[i]`: an element of an array, a string, a pointer's target or a tuple.
    Index {
        base: Box<Expr>,
        index: Box<Expr>,
    },
    /// `(int8)x`
    Cast {
        ty: String,
        /// `(typeof(x)*)v`: the type is `x`'s (a `TypeName` or an expression, never
        /// evaluated) and `ty` holds only the `*`s.
        of: Option<Box<Expr>>,
        operand: Box<Expr>,
    },
    /// A type used as a value, only valid as `sizeof(T)`'s argument.
    TypeName(String),
    /// Statements, then the value of the last expression (an expanded macro call).
    Block {
        stmts: Vec<Stmt>,
        value: Option<Box<Expr>>,
    },
    Str(String),
    /// A bare identifier: builtin (`pid`, `comm`, `args`) or zero-argument call.
    Ident(String),
    /// `$name`
    Var(String),
    /// `$1`, `$2`, …
    Positional(u32),
    /// `$#`
    PositionalCount,
    /// `@name[keys]`; `name` includes the `@`; no keys for a scalar map.
    Map {
        name: String,
        keys: Vec<Expr>,
    },
    Call {
        name: String,
        name_span: Span,
        args: Vec<Expr>,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Unary {
        op: UnOp,
        operand: Box<Expr>,
    },
    Ternary {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    /// `e.field` or `e->field`
    Field {
        base: Box<Expr>,
        field: String,
    },
    /// `++x`, `x--`, …
    IncDec {
        target: Box<Expr>,
        increment: bool,
        prefix: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    LogAnd,
    LogOr,
}

impl BinOp {
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge
        )
    }
    pub fn symbol(self) -> &'static str {
        use BinOp::*;
        match self {
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Mod => "%",
            BitAnd => "&",
            BitOr => "|",
            BitXor => "^",
            Shl => "<<",
            Shr => ">>",
            Eq => "==",
            Ne => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            LogAnd => "&&",
            LogOr => "||",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Plus,
    Not,
    BitNot,
    /// `*p`
    Deref,
    /// `&$var`
    AddrOf,
}
