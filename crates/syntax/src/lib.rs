//! spyglass's front end, source text → AST. The lexer (logos + a hand scanner for attach
//! points) feeds the lalrpop grammar in `grammar/spyglass.lalrpop`; errors become span
//! diagnostics. It depends on the diagnostics alone: what it must know of the function
//! catalogue comes in through `Vocabulary`.

pub use spyglass_diag as diag;

pub mod ast;
mod imports;
pub mod lexer;
pub mod macros;
mod preprocess;

use std::cell::Cell;

use lalrpop_util::{lalrpop_mod, ParseError};

use crate::diag::Diagnostic;
use ast::{Expr, ExprKind, Program, Stmt, StmtKind};
use lexer::{Lexer, Tok};

lalrpop_mod!(
    #[allow(clippy::all, unused)]
    grammar,
    "/spyglass.rs"
);

/// A script's bytes as text. Invalid UTF-8 is an error at the first bad byte; the text
/// returned with it (bad bytes replaced by U+FFFD, which keeps every earlier offset) is what
/// the diagnostic is shown against.
pub fn decode(bytes: Vec<u8>) -> Result<String, (String, Diagnostic)> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bad = e.as_bytes()[at];
        let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
        let d = Diagnostic::error(
            "the script is not valid UTF-8",
            (at, at + '\u{fffd}'.len_utf8()),
        )
        .with_label(format!("byte 0x{bad:02x} here"))
        .with_note("scripts are UTF-8 text");
        (text, d)
    })
}

/// What the parser must know of the function catalogue: whether a name is a builtin or a
/// function (bpftrace reads `(name)` before an operand as a cast unless it names one, and a
/// macro may not hide them). The catalogue (`stdlib`) sits above the compiler and hands
/// itself in, so the parser never depends on it.
pub trait Vocabulary: Sync {
    fn is_function(&self, name: &str) -> bool;
    fn is_builtin(&self, name: &str) -> bool;
    /// The catalogue's own macros (bpftrace's stdlib macros), in the script language.
    fn prelude(&self) -> &'static str;
}

/// Parses a whole script.
pub fn parse(source: &str, vocab: &dyn Vocabulary) -> Result<Program, Diagnostic> {
    parse_with(source, &Includes::default(), vocab)
}

/// `-I DIR` and `--include FILE`: where `#include` looks first, and headers read before
/// the script; `script_dir`: where `import` paths start (the working directory for `-e`).
#[derive(Debug, Clone, Default)]
pub struct Includes {
    pub dirs: Vec<std::path::PathBuf>,
    pub files: Vec<String>,
    pub script_dir: Option<std::path::PathBuf>,
}

pub fn parse_with(
    source: &str,
    includes: &Includes,
    vocab: &dyn Vocabulary,
) -> Result<Program, Diagnostic> {
    let ids = Cell::new(0);
    let mut program = parse_file(source, 0, &ids, includes, vocab)?;
    let dir = includes
        .script_dir
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from("."));
    imports::resolve(
        &mut program,
        &ids,
        includes,
        &dir,
        &mut Default::default(),
        0,
        vocab,
    )?;
    program.expr_count = ids.get();
    let program = macros::expand(program, vocab)?;
    if program.probes.is_empty() {
        return Err(
            Diagnostic::error("the script has no probes", (0, source.len())).with_note(
                "a probe looks like: tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }",
            ),
        );
    }
    Ok(program)
}

/// One file's items, macros not yet expanded; its spans start at `base` (0 for the
/// script, see `diag::add_source` for imported files). Expression ids continue `ids`.
pub(crate) fn parse_file(
    source: &str,
    base: usize,
    ids: &Cell<u32>,
    includes: &Includes,
    vocab: &dyn Vocabulary,
) -> Result<Program, Diagnostic> {
    let (text, defines) = preprocess::preprocess(source, includes).map_err(|d| d.shifted(base))?;
    let tokens = Lexer::with_defines(&text, defines, vocab).map(|t| match t {
        Ok((l, tok, r)) => Ok((l + base, tok, r + base)),
        Err(d) => Err(d.shifted(base)),
    });
    grammar::ProgramParser::new()
        .parse(ids, tokens)
        .map_err(|e| match e {
            // Already located: by the lexer or a grammar action, in shifted positions.
            ParseError::User { error } => error,
            e => to_diagnostic(e.map_location(|l| l - base), source).shifted(base),
        })
}

/// Whether the catalogue's prelude defines a macro of this name: a scan of its text, so
/// scripts that use none of them never pay for parsing it.
pub(crate) fn prelude_defines(vocab: &dyn Vocabulary, name: &str) -> bool {
    vocab
        .prelude()
        .lines()
        .filter_map(|l| l.strip_prefix("macro ")?.split('(').next())
        .any(|n| n == name)
}

/// The catalogue's macros, parsed once per prelude text (there is one catalogue in a
/// process, but nothing here relies on it).
pub(crate) fn prelude(vocab: &dyn Vocabulary) -> &'static [ast::MacroDef] {
    type Parsed = Vec<(&'static str, &'static [ast::MacroDef])>;
    static PARSED: std::sync::Mutex<Parsed> = std::sync::Mutex::new(vec![]);
    let text = vocab.prelude();
    let mut parsed = PARSED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, m)) = parsed.iter().find(|(t, _)| std::ptr::eq(*t, text)) {
        return m;
    }
    let (source, defines) =
        preprocess::preprocess(text, &Includes::default()).expect("the prelude preprocesses");
    let ids = Cell::new(0);
    let macros = grammar::ProgramParser::new()
        .parse(&ids, Lexer::with_defines(&source, defines, vocab))
        .expect("the prelude parses")
        .macros;
    let macros: &'static [ast::MacroDef] = Vec::leak(macros);
    parsed.push((text, macros));
    macros
}

/// `c ?: f` is `{ $t = c; $t ? $t : f }`: `c` is evaluated once.
pub(crate) fn elvis(ids: &Cell<u32>, span: (usize, usize), c: Expr, f: Expr) -> Expr {
    let var = format!("__elvis{}", ids.get());
    let v = |ids: &Cell<u32>| mk(ids, c.span, ExprKind::Var(var.clone()));
    let assign = ast::Stmt {
        kind: ast::StmtKind::Assign {
            target: v(ids),
            op: None,
            value: c.clone(),
        },
        span: c.span,
    };
    let pick = ExprKind::Ternary {
        cond: Box::new(v(ids)),
        then: Box::new(v(ids)),
        otherwise: Box::new(f),
    };
    let value = mk(ids, span, pick);
    mk(
        ids,
        span,
        ExprKind::Block {
            stmts: vec![assign],
            value: Some(Box::new(value)),
        },
    )
}

pub(crate) fn mk(ids: &Cell<u32>, span: (usize, usize), kind: ExprKind) -> Expr {
    let id = ids.get();
    ids.set(id + 1);
    Expr { id, kind, span }
}

/// `{ stmts; value }`: the last statement, if it is an expression (or an `if`/`else` whose
/// branches both end in one), is the block's value.
pub(crate) fn block_expr(ids: &Cell<u32>, span: (usize, usize), mut stmts: Vec<Stmt>) -> Expr {
    let value = match stmts.last() {
        Some(Stmt {
            kind: StmtKind::Expr(_),
            ..
        }) => match stmts.pop().map(|s| s.kind) {
            Some(StmtKind::Expr(e)) => Some(Box::new(e)),
            _ => unreachable!(),
        },
        Some(Stmt {
            kind: StmtKind::If {
                otherwise: Some(_), ..
            },
            ..
        }) => {
            let Some(Stmt {
                kind:
                    StmtKind::If {
                        cond,
                        then,
                        otherwise: Some(o),
                    },
                span,
            }) = stmts.pop()
            else {
                unreachable!()
            };
            Some(Box::new(if_expr(
                ids,
                span,
                cond,
                then,
                block_expr(ids, o.span, o.stmts),
            )))
        }
        _ => None,
    };
    mk(ids, span, ExprKind::Block { stmts, value })
}

/// `if c { a } else { b }` used as a value is `c ? {a} : {b}`.
pub(crate) fn if_expr(
    ids: &Cell<u32>,
    span: (usize, usize),
    cond: Expr,
    then: ast::Block,
    otherwise: Expr,
) -> Expr {
    let then = block_expr(ids, then.span, then.stmts);
    mk(
        ids,
        span,
        ExprKind::Ternary {
            cond: Box::new(cond),
            then: Box::new(then),
            otherwise: Box::new(otherwise),
        },
    )
}

/// `s` before `rest`, in a list kept in reverse order.
pub(crate) fn push_front_reversed(s: Stmt, mut rest: Vec<Stmt>) -> Vec<Stmt> {
    rest.push(s);
    rest
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("identifier `{s}`"),
        Tok::Var(s) => format!("variable `${s}`"),
        Tok::Positional(n) => format!("`${n}`"),
        Tok::PositionalCount => "`$#`".into(),
        Tok::Map(s) => format!("map `{s}`"),
        Tok::Int(v) => format!("integer `{v}`"),
        Tok::Str(_) => "string literal".into(),
        Tok::TypeName(t) => format!("type `{t}`"),
        Tok::CDef(_) => "C definition".into(),
        Tok::AttachPoint(s) => format!("attach point `{s}`"),
        Tok::PredStart | Tok::PredEnd => "`/`".into(),
        other => {
            let dbg = format!("{other:?}");
            format!("`{}`", token_text(&dbg))
        }
    }
}

/// The source form of punctuation tokens, for messages.
fn token_text(debug_name: &str) -> &str {
    match debug_name {
        "If" => "if",
        "Else" => "else",
        "LBrace" => "{",
        "RBrace" => "}",
        "LParen" => "(",
        "RParen" => ")",
        "LBracket" => "[",
        "RBracket" => "]",
        "Semi" => ";",
        "Comma" => ",",
        "Dot" => ".",
        "Arrow" => "->",
        "Question" => "?",
        "Colon" => ":",
        "Assign" => "=",
        other => other,
    }
}

/// lalrpop names terminals as they appear in the grammar; say them as a user would.
fn expected_name(terminal: &str) -> String {
    match terminal {
        "Ident" => "an identifier".into(),
        "Var" => "a $variable".into(),
        "Positional" => "a $N parameter".into(),
        "MapName" => "a @map".into(),
        "Int" => "an integer".into(),
        "Str" => "a string".into(),
        "TypeName" => "a type".into(),
        "CDefText" => "a C definition".into(),
        "AttachPoint" => "a probe".into(),
        "PredStart" | "PredEnd" => "`/`".into(),
        quoted => format!("`{}`", quoted.trim_matches('"')),
    }
}

fn to_diagnostic(e: ParseError<usize, Tok, Diagnostic>, source: &str) -> Diagnostic {
    let expected_note = |expected: &[String]| {
        let mut names: Vec<String> = expected.iter().map(|s| expected_name(s)).collect();
        names.dedup();
        if names.len() > 8 {
            names.truncate(8);
            format!("expected one of {}, …", names.join(", "))
        } else {
            format!("expected one of {}", names.join(", "))
        }
    };
    match e {
        ParseError::User { error } => error,
        ParseError::InvalidToken { location } => {
            Diagnostic::error("invalid token", (location, location + 1))
        }
        ParseError::UnrecognizedEof { location, expected } => {
            let end = source.len();
            let unclosed = source.matches('{').count() > source.matches('}').count();
            let d = Diagnostic::error("unexpected end of input", (location.min(end), end))
                .with_label("the script ends here");
            let d = if unclosed {
                d.with_note("a `}` is missing")
            } else {
                d
            };
            d.with_note(expected_note(&expected))
        }
        ParseError::UnrecognizedToken {
            token: (l, t, r),
            expected,
        } => {
            let mut d = Diagnostic::error(format!("unexpected {}", describe(&t)), (l, r))
                .with_note(expected_note(&expected));
            if matches!(t, Tok::AttachPoint(_)) {
                d = d.with_note("missing `;` or `}` before this point?");
            }
            d
        }
        ParseError::ExtraToken { token: (l, t, r) } => {
            Diagnostic::error(format!("unexpected {}", describe(&t)), (l, r))
        }
    }
}
