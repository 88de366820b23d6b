//! Macro expansion: `macro name(params) { … }` calls are replaced by block expressions
//! before sema sees the program, so the rest of the pipeline never knows macros existed.
//!
//! Hygiene as in bpftrace: a macro's own `$variables` are renamed per expansion, so they
//! never clash with the caller's; `$x`/`@x` parameters alias the caller's variable or map;
//! plain `x` parameters are replaced by the argument expression.

use std::collections::HashMap;

use super::ast::*;
use crate::diag::{Diagnostic, Result};

const MAX_DEPTH: u32 = 64;

struct Expander<'a> {
    macros: &'a [MacroDef],
    vocab: &'a dyn super::Vocabulary,
    next_id: u32,
    expansions: u32,
    /// The macros being expanded, outermost first (a repeat is recursion).
    chain: Vec<&'a MacroDef>,
}

pub fn expand(mut program: Program, vocab: &dyn super::Vocabulary) -> Result<Program> {
    let macros = std::mem::take(&mut program.macros);
    check_definitions(&macros, vocab)?;
    let mut ex = Expander {
        macros: &macros,
        vocab,
        next_id: program.expr_count,
        expansions: 0,
        chain: vec![],
    };
    for probe in &mut program.probes {
        if let Some(p) = &mut probe.predicate {
            ex.expr(p, 0, false)?;
        }
        ex.block(&mut probe.body, 0, false)?;
    }
    program.expr_count = ex.next_id;
    program.macros = macros;
    Ok(program)
}

fn check_definitions(macros: &[MacroDef], vocab: &dyn super::Vocabulary) -> Result<()> {
    for m in macros {
        check_params(m, vocab)?;
        check_hygiene(m)?;
    }
    for (i, m) in macros.iter().enumerate() {
        if let Some(prev) = macros[..i]
            .iter()
            .find(|p| p.name == m.name && p.params.len() == m.params.len())
        {
            return Err(
                Diagnostic::error(format!("macro `{}` is defined twice", m.name), m.span)
                    .with_secondary(prev.span, "first defined here"),
            );
        }
    }
    Ok(())
}

fn param_name(p: &MacroParam) -> &str {
    match p {
        MacroParam::Expr(n) | MacroParam::Var(n) | MacroParam::Map(n) => n,
    }
}

/// Builtins a parameter may not hide: the body could no longer reach them.
fn is_builtin_name(n: &str, vocab: &dyn super::Vocabulary) -> bool {
    const MORE: &[&str] = &[
        "pid", "tid", "nsecs", "comm", "args", "retval", "func", "probe",
    ];
    MORE.contains(&n)
        || vocab.is_builtin(n)
        || n.strip_prefix("arg")
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()))
}

/// Parameter names: distinct, and not the name of a builtin.
fn check_params(m: &MacroDef, vocab: &dyn super::Vocabulary) -> Result<()> {
    for (i, p) in m.params.iter().enumerate() {
        let n = param_name(p);
        if m.params[..i].iter().any(|q| q == p) {
            return Err(Diagnostic::error(
                format!("macro `{}` has two parameters named `{n}`", m.name),
                m.span,
            ));
        }
        if matches!(p, MacroParam::Expr(_)) && is_builtin_name(n, vocab) {
            return Err(Diagnostic::error(
                format!(
                    "macro `{}`: `{n}` is a builtin and cannot name a parameter",
                    m.name
                ),
                m.span,
            ));
        }
    }
    Ok(())
}

/// A macro touches only the maps passed to it, and never redeclares a `$` parameter.
fn check_hygiene(m: &MacroDef) -> Result<()> {
    let mut body = m.body.clone();
    let mut err = None;
    walk_block(&mut body, &mut |node| {
        if err.is_some() {
            return;
        }
        match node {
            Node::Expr(e) => {
                if let ExprKind::Map { name, .. } = &e.kind {
                    if !m.params.contains(&MacroParam::Map(name.clone())) {
                        err = Some(
                            Diagnostic::error(
                                format!("Unhygienic access to map `{name}` in macro `{}`", m.name),
                                e.span,
                            )
                            .with_note("a macro may only use maps passed to it as `@` parameters"),
                        );
                    }
                }
            }
            Node::Stmt(s) => {
                if let StmtKind::Let { var, .. } = &s.kind {
                    if m.params.contains(&MacroParam::Var(var.clone())) {
                        err = Some(Diagnostic::error(
                            format!("`let ${var}` shadows a parameter of macro `{}`", m.name),
                            s.span,
                        ));
                    }
                }
            }
        }
    });
    err.map_or(Ok(()), Err)
}

enum Node<'x> {
    Stmt(&'x Stmt),
    Expr(&'x Expr),
}

/// Every statement and expression of `b`, nested blocks included.
fn walk_block(b: &mut Block, f: &mut dyn FnMut(Node)) {
    for s in &mut b.stmts {
        walk_stmt(s, f);
    }
}

fn walk_stmt(s: &mut Stmt, f: &mut dyn FnMut(Node)) {
    f(Node::Stmt(s));
    each_stmt_expr(s, &mut |e| walk_expr(e, f));
    match &mut s.kind {
        StmtKind::If {
            then, otherwise, ..
        } => {
            walk_block(then, f);
            if let Some(o) = otherwise {
                walk_block(o, f);
            }
        }
        StmtKind::Block(b)
        | StmtKind::For { body: b, .. }
        | StmtKind::While { body: b, .. }
        | StmtKind::Unroll { body: b, .. } => walk_block(b, f),
        _ => {}
    }
}

fn walk_expr(e: &mut Expr, f: &mut dyn FnMut(Node)) {
    f(Node::Expr(e));
    if let ExprKind::Block { stmts, .. } = &mut e.kind {
        for s in stmts {
            walk_stmt(s, f);
        }
    }
    let _ = each_child(e, &mut |c| {
        walk_expr(c, f);
        Ok(())
    });
}

impl<'a> Expander<'a> {
    fn block(&mut self, b: &mut Block, depth: u32, lib: bool) -> Result<()> {
        for s in &mut b.stmts {
            self.stmt(s, depth, lib)?;
        }
        Ok(())
    }

    fn stmt(&mut self, s: &mut Stmt, depth: u32, lib: bool) -> Result<()> {
        match &mut s.kind {
            StmtKind::Expr(e) => self.expr(e, depth, lib),
            StmtKind::Assign { target, value, .. } => {
                self.expr(target, depth, lib)?;
                self.expr(value, depth, lib)
            }
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                self.expr(cond, depth, lib)?;
                self.block(then, depth, lib)?;
                match otherwise {
                    Some(b) => self.block(b, depth, lib),
                    None => Ok(()),
                }
            }
            StmtKind::Block(b) => self.block(b, depth, lib),
            StmtKind::For { iter, body, .. } => {
                if let ForIter::Range(a, b) = iter {
                    self.expr(a, depth, lib)?;
                    self.expr(b, depth, lib)?;
                }
                self.block(body, depth, lib)
            }
            StmtKind::While { cond, body } | StmtKind::Unroll { count: cond, body } => {
                self.expr(cond, depth, lib)?;
                self.block(body, depth, lib)
            }
            StmtKind::Let { value: Some(v), .. } | StmtKind::Return(Some(v)) => {
                self.expr(v, depth, lib)
            }
            StmtKind::Let { value: None, .. }
            | StmtKind::Break
            | StmtKind::Continue
            | StmtKind::Return(None) => Ok(()),
        }
    }

    /// `lib`: the expression is part of a prelude macro's body, whose calls always mean
    /// the prelude's own macros.
    fn expr(&mut self, e: &mut Expr, depth: u32, lib: bool) -> Result<()> {
        let call = match &e.kind {
            ExprKind::Call { name, args, .. } => {
                self.find(name, args.len(), lib).map(|m| (m, args.clone()))
            }
            ExprKind::Ident(name) => self.find(name, 0, lib).map(|m| (m, vec![])),
            _ => None,
        };
        if let Some(((m, from_lib), mut args)) = call {
            if self.chain.iter().any(|c| std::ptr::eq(*c, m)) {
                let names: Vec<&str> = self
                    .chain
                    .iter()
                    .skip_while(|c| !std::ptr::eq(**c, m))
                    .map(|c| c.name.as_str())
                    .chain([m.name.as_str()])
                    .collect();
                return Err(Diagnostic::error(
                    format!("Recursive macro call detected: {}", names.join(" -> ")),
                    e.span,
                ));
            }
            if depth >= MAX_DEPTH {
                return Err(Diagnostic::error(
                    format!("macro `{}` expands too deeply (recursive?)", m.name),
                    e.span,
                ));
            }
            for a in &mut args {
                self.expr(a, depth, lib)?;
            }
            let mut expanded = self.instantiate(m, args, e.span, from_lib)?;
            self.chain.push(m);
            let r = self.expr(&mut expanded, depth + 1, from_lib);
            self.chain.pop();
            r?;
            *e = expanded;
            return Ok(());
        }
        if let ExprKind::Call { name, args, .. } = &e.kind {
            let own: Vec<&MacroDef> = self.macros.iter().filter(|m| m.name == *name).collect();
            if !own.is_empty() && !self.vocab.is_function(name) {
                let mut d = Diagnostic::error(
                    format!(
                        "the {} argument{} do not match any definition of macro `{name}`",
                        args.len(),
                        if args.len() == 1 { "" } else { "s" }
                    ),
                    e.span,
                );
                for m in own {
                    d = d.with_secondary(m.span, format!("this one takes {}", m.params.len()));
                }
                return Err(d);
            }
            let arities: Vec<usize> = prelude_named(name, self.vocab)
                .filter(|m| m.name == *name)
                .map(|m| m.params.len())
                .collect();
            if !arities.is_empty() && !self.macros.iter().any(|m| m.name == *name) {
                let takes: Vec<String> = arities.iter().map(usize::to_string).collect();
                return Err(Diagnostic::error(
                    format!(
                        "{name}() takes {} argument{}, but {} were given",
                        takes.join(" or "),
                        if arities == [1] { "" } else { "s" },
                        args.len()
                    ),
                    e.span,
                ));
            }
        }
        if let ExprKind::Block { stmts, .. } = &mut e.kind {
            for s in stmts {
                self.stmt(s, depth, lib)?;
            }
        }
        each_child(e, &mut |c| self.expr(c, depth, lib))
    }

    /// The macro a call means, and whether it is the prelude's.
    fn find(&self, name: &str, arity: usize, lib: bool) -> Option<(&'a MacroDef, bool)> {
        let matches = |m: &&MacroDef| m.name == name && m.params.len() == arity;
        let own = (!lib).then(|| self.macros.iter().find(matches)).flatten();
        own.map(|m| (m, false)).or_else(|| {
            prelude_named(name, self.vocab)
                .find(matches)
                .map(|m| (m, true))
        })
    }

    /// The macro body with parameters bound, locals renamed and fresh expression ids.
    fn instantiate(
        &mut self,
        m: &MacroDef,
        args: Vec<Expr>,
        call_span: crate::diag::Span,
        from_lib: bool,
    ) -> Result<Expr> {
        self.expansions += 1;
        let tag = self.expansions;
        let mut exprs = HashMap::new();
        let mut vars = HashMap::new();
        let mut maps = HashMap::new();
        for (p, a) in m.params.iter().zip(args) {
            match (p, &a.kind) {
                (MacroParam::Expr(n), _) => {
                    exprs.insert(n.clone(), a);
                }
                (MacroParam::Var(n), ExprKind::Var(caller)) => {
                    vars.insert(n.clone(), caller.clone());
                }
                (MacroParam::Map(n), ExprKind::Map { name, keys }) if keys.is_empty() => {
                    maps.insert(n.clone(), name.clone());
                }
                (MacroParam::Var(n), _) => {
                    let d = Diagnostic::error(
                        format!("macro `{}` needs a variable for `${n}`", m.name),
                        a.span,
                    );
                    return Err(defined_here(d, m, from_lib));
                }
                (MacroParam::Map(n), _) => {
                    let d = Diagnostic::error(
                        format!("macro `{}` needs a map for `{n}`", m.name),
                        a.span,
                    );
                    return Err(defined_here(d, m, from_lib));
                }
            }
        }
        // The body's last expression (or `if`/`else`) is the call's value; ids are
        // renumbered below.
        let body = m.body.clone();
        let mut out = super::block_expr(&std::cell::Cell::new(0), call_span, body.stmts);
        let mut bind = Binder {
            exprs: &exprs,
            vars: &vars,
            maps: &maps,
            tag,
            next_id: &mut self.next_id,
            span: from_lib.then_some(call_span),
        };
        bind.expr(&mut out);
        Ok(out)
    }
}

/// The prelude's macros called `name` (none, without parsing it, for other names).
fn prelude_named<'n>(
    name: &'n str,
    vocab: &dyn super::Vocabulary,
) -> impl Iterator<Item = &'static MacroDef> + 'n {
    let all: &'static [MacroDef] = match super::prelude_defines(vocab, name) {
        true => super::prelude(vocab),
        false => &[],
    };
    all.iter().filter(move |m| m.name == name)
}

/// Points at the definition, when it is in the script.
fn defined_here(d: Diagnostic, m: &MacroDef, from_lib: bool) -> Diagnostic {
    if from_lib {
        d.with_note(format!("`{}` is part of the standard library", m.name))
    } else {
        d.with_secondary(m.span, "defined here")
    }
}

/// Rewrites one instantiated body: parameters, locals, ids.
struct Binder<'a> {
    exprs: &'a HashMap<String, Expr>,
    vars: &'a HashMap<String, String>,
    maps: &'a HashMap<String, String>,
    tag: u32,
    next_id: &'a mut u32,
    /// For prelude macros: the call's span, given to every node of the body.
    span: Option<crate::diag::Span>,
}

impl Binder<'_> {
    fn fresh(&mut self) -> u32 {
        let id = *self.next_id;
        *self.next_id += 1;
        id
    }

    fn var(&self, name: &str) -> String {
        self.vars
            .get(name)
            .cloned()
            .unwrap_or_else(|| format!("__macro{}_{name}", self.tag))
    }

    fn expr(&mut self, e: &mut Expr) {
        match &mut e.kind {
            // `(a*)v` with a type parameter `a`: the argument's type, given as a type name
            // or `typeof(x)`.
            ExprKind::Cast { ty, of, .. } if of.is_none() => {
                let base = ty.trim_end_matches('*').trim();
                if let Some(arg) = self.exprs.get(base) {
                    let stars = ty.len() - ty.trim_end_matches('*').len();
                    let mut arg = arg.clone();
                    renumber(&mut arg, self.next_id);
                    match arg.kind {
                        ExprKind::TypeName(t) => *ty = t + &"*".repeat(stars),
                        ExprKind::Call { name, mut args, .. }
                            if name == "typeof" && args.len() == 1 =>
                        {
                            *ty = "*".repeat(stars);
                            *of = Some(Box::new(args.remove(0)));
                        }
                        _ => {
                            *ty = "*".repeat(stars);
                            *of = Some(Box::new(arg));
                        }
                    }
                }
            }
            ExprKind::Ident(n) if self.exprs.contains_key(n.as_str()) => {
                let mut arg = self.exprs[n.as_str()].clone();
                renumber(&mut arg, self.next_id);
                *e = arg;
                return;
            }
            ExprKind::Var(n) => *n = self.var(n),
            ExprKind::Map { name, .. } => {
                if let Some(to) = self.maps.get(name.as_str()) {
                    *name = to.clone();
                }
            }
            _ => {}
        }
        e.id = self.fresh();
        if let Some(span) = self.span {
            e.span = span;
        }
        if let ExprKind::Block { stmts, .. } = &mut e.kind {
            for s in stmts {
                self.stmt(s);
            }
        }
        let _ = each_child(e, &mut |c| {
            self.expr(c);
            Ok(())
        });
    }

    fn stmt(&mut self, s: &mut Stmt) {
        if let Some(span) = self.span {
            s.span = span;
        }
        match &mut s.kind {
            StmtKind::For { var, .. } | StmtKind::Let { var, .. } => *var = self.var(var),
            _ => {}
        }
        each_stmt_expr(s, &mut |e| self.expr(e));
        if let StmtKind::For { body, .. }
        | StmtKind::While { body, .. }
        | StmtKind::Unroll { body, .. }
        | StmtKind::Block(body) = &mut s.kind
        {
            for st in &mut body.stmts {
                self.stmt(st);
            }
        }
        if let StmtKind::If {
            then, otherwise, ..
        } = &mut s.kind
        {
            for st in then
                .stmts
                .iter_mut()
                .chain(otherwise.iter_mut().flat_map(|b| b.stmts.iter_mut()))
            {
                self.stmt(st);
            }
        }
    }
}

/// Gives an argument copy fresh ids (its types may differ per use site).
fn renumber(e: &mut Expr, next: &mut u32) {
    e.id = *next;
    *next += 1;
    let _ = each_child(e, &mut |c| {
        renumber(c, next);
        Ok(())
    });
}

/// The expressions a statement holds directly (not those of nested blocks).
fn each_stmt_expr(s: &mut Stmt, f: &mut dyn FnMut(&mut Expr)) {
    match &mut s.kind {
        StmtKind::Expr(e) => f(e),
        StmtKind::Assign { target, value, .. } => {
            f(target);
            f(value);
        }
        StmtKind::If { cond, .. }
        | StmtKind::While { cond, .. }
        | StmtKind::Unroll { count: cond, .. } => f(cond),
        StmtKind::For {
            iter: ForIter::Range(a, b),
            ..
        } => {
            f(a);
            f(b);
        }
        StmtKind::Let { value: Some(v), .. } | StmtKind::Return(Some(v)) => f(v),
        _ => {}
    }
}

/// Calls `f` on each direct sub-expression (block-expression statements excluded).
fn each_child(e: &mut Expr, f: &mut dyn FnMut(&mut Expr) -> Result<()>) -> Result<()> {
    match &mut e.kind {
        ExprKind::Tuple(xs) | ExprKind::Call { args: xs, .. } | ExprKind::Map { keys: xs, .. } => {
            for x in xs {
                f(x)?;
            }
        }
        ExprKind::TupleIndex { base, .. } | ExprKind::Field { base, .. } => f(base)?,
        ExprKind::Cast {
            operand,
            of: Some(of),
            ..
        } => {
            f(of)?;
            f(operand)?
        }
        ExprKind::Cast { operand, .. } | ExprKind::Unary { operand, .. } => f(operand)?,
        ExprKind::IncDec { target, .. } => f(target)?,
        ExprKind::Binary { lhs, rhs, .. }
        | ExprKind::Index {
            base: lhs,
            index: rhs,
        } => {
            f(lhs)?;
            f(rhs)?;
        }
        ExprKind::Ternary {
            cond,
            then,
            otherwise,
        } => {
            f(cond)?;
            f(then)?;
            f(otherwise)?;
        }
        ExprKind::Block { value: Some(v), .. } => f(v)?,
        _ => {}
    }
    Ok(())
}
