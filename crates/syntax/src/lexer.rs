//! Tokens. Logos lexes statements and expressions; attach points are scanned by hand,
//! because `tracepoint:syscalls:sys_enter_*` or `uprobe:/bin/bash:readline` are not
//! expression tokens and only make sense outside probe bodies.

use logos::Logos;

use crate::diag::Diagnostic;

/// Tokens the `#define`d names of one script may expand to, all uses together.
const MAX_EXPANSION: usize = 1_000_000;

#[derive(Logos, Debug, Clone, PartialEq)]
#[logos(skip r"[ \t\r\n\f]+")]
#[logos(skip(r"//[^\n]*", allow_greedy = true))]
#[logos(skip r"/\*([^*]|\*+[^*/])*\*+/")]
pub enum Tok {
    #[regex(r"[A-Za-z_][A-Za-z0-9_]*", |l| l.slice().to_string())]
    Ident(String),
    #[regex(r"\$[A-Za-z_][A-Za-z0-9_]*", |l| l.slice()[1..].to_string())]
    Var(String),
    #[regex(r"\$[0-9]+", |l| l.slice()[1..].parse::<u32>().ok())]
    Positional(u32),
    #[token("$#")]
    PositionalCount,
    #[regex(r"@[A-Za-z0-9_]*", |l| l.slice().to_string())]
    Map(String),
    #[regex(r"[0-9][0-9_]*([eE][0-9]+)?[uUlL]*", |l| parse_decimal(l.slice()))]
    #[regex(r"0[xX][0-9a-fA-F_]+[uUlL]*", |l| parse_radix(&l.slice()[2..], 16))]
    #[regex(r"0[bB][01_]+[uUlL]*", |l| parse_radix(&l.slice()[2..], 2))]
    #[regex(r"[0-9][0-9_]*(ns|us|ms|s|m|h|d)", |l| parse_duration(l.slice()))]
    Int(u64),
    // A raw newline may stand in a string, as bpftrace allows (`echo` in a shell turns `\n`
    // into one before the script arrives).
    #[regex(r#""([^"\\]|\\.)*""#, |l| unescape(l.slice()))]
    Str(String),
    #[token("int8", |l| l.slice().to_string())]
    #[token("int16", |l| l.slice().to_string())]
    #[token("int32", |l| l.slice().to_string())]
    #[token("int64", |l| l.slice().to_string())]
    #[token("uint8", |l| l.slice().to_string())]
    #[token("uint16", |l| l.slice().to_string())]
    #[token("uint32", |l| l.slice().to_string())]
    #[token("uint64", |l| l.slice().to_string())]
    #[token("bool", |l| l.slice().to_string())]
    #[token("void", |l| l.slice().to_string())]
    // C spellings: `struct task_struct`, `unsigned long`, `uint64_t`, `size_t`.
    #[regex(
        r"(struct|union|enum)[ \t\r\n]+[A-Za-z_][A-Za-z0-9_]*",
        c_type_name,
        priority = 5
    )]
    #[regex(
        r"((unsigned|signed)[ \t]+)?(char|short|int|long|long[ \t]+long)([ \t]+int)?",
        c_type_name,
        priority = 5
    )]
    #[regex(r"unsigned|signed", c_type_name, priority = 5)]
    #[regex(r"[A-Za-z_][A-Za-z0-9_]*_t", c_type_name, priority = 5)]
    // The kernel's short integer typedefs (`u32`, `__u64`, `__be16`), found in its BTF.
    #[regex(
        r"(__)?[us](8|16|32|64)|__(le|be)(16|32|64)",
        c_type_name,
        priority = 5
    )]
    TypeName(String),
    /// A top-level C definition, `struct Foo { … };` (scanner only).
    CDef(String),
    #[token("true")]
    True,
    #[token("false")]
    False,
    #[token("if")]
    If,
    /// `{` / `if` in operand position (scanner only).
    LBraceExpr,
    /// A `(` that opens a cast to a named type (scanner only, see `cast_ahead`).
    CastOpen,
    IfExpr,
    #[token("let")]
    Let,
    /// Top-level keywords, produced by the hand scanner.
    Config,
    Macro,
    Import,
    #[token("for")]
    For,
    #[token("unroll")]
    Unroll,
    #[token("comptime")]
    Comptime,
    #[token("while")]
    While,
    #[token("break")]
    Break,
    #[token("continue")]
    Continue,
    #[token("return")]
    Return,
    #[token("..")]
    DotDot,
    #[token("else")]
    Else,
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token(";")]
    Semi,
    #[token(",")]
    Comma,
    #[token(".")]
    Dot,
    #[token("->")]
    Arrow,
    #[token("?")]
    Question,
    #[token(":")]
    Colon,
    #[token("=")]
    Assign,
    #[token("+=")]
    AddAssign,
    #[token("-=")]
    SubAssign,
    #[token("*=")]
    MulAssign,
    #[token("/=")]
    DivAssign,
    #[token("%=")]
    ModAssign,
    #[token("&=")]
    AndAssign,
    #[token("|=")]
    OrAssign,
    #[token("^=")]
    XorAssign,
    #[token("<<=")]
    ShlAssign,
    #[token(">>=")]
    ShrAssign,
    #[token("==")]
    EqEq,
    #[token("!=")]
    Ne,
    #[token("<")]
    Lt,
    #[token("<=")]
    Le,
    #[token(">")]
    Gt,
    #[token(">=")]
    Ge,
    #[token("<<")]
    Shl,
    #[token(">>")]
    Shr,
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("%")]
    Percent,
    #[token("&")]
    Amp,
    #[token("|")]
    Pipe,
    #[token("^")]
    Caret,
    #[token("~")]
    Tilde,
    #[token("!")]
    Bang,
    #[token("&&")]
    AndAnd,
    #[token("||")]
    OrOr,
    #[token("++")]
    PlusPlus,
    #[token("--")]
    MinusMinus,
    /// Produced by the hand-written scanner only.
    AttachPoint(String),
    /// The `/` opening and closing a predicate (scanner only).
    PredStart,
    PredEnd,
}

fn c_type_name(l: &mut logos::Lexer<Tok>) -> String {
    l.slice().split_whitespace().collect::<Vec<_>>().join(" ")
}

fn parse_decimal(s: &str) -> Option<u64> {
    let s: String = s
        .chars()
        .filter(|c| *c != '_' && !"uUlL".contains(*c))
        .collect();
    if let Some((m, e)) = s.split_once(['e', 'E']) {
        let m: u64 = m.parse().ok()?;
        let e: u32 = e.parse().ok()?;
        return m.checked_mul(10u64.checked_pow(e)?);
    }
    if s.len() > 1 && s.starts_with('0') {
        return parse_radix(&s[1..], 8);
    }
    s.parse().ok()
}

/// A duration literal (`100ms`, `1s`, `2h`): an integer number of nanoseconds.
fn parse_duration(s: &str) -> Option<u64> {
    let unit_at = s.find(|c: char| c.is_ascii_alphabetic())?;
    let scale: u64 = match &s[unit_at..] {
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        _ => return None,
    };
    let n: u64 = s[..unit_at].replace('_', "").parse().ok()?;
    n.checked_mul(scale)
}

fn parse_radix(s: &str, radix: u32) -> Option<u64> {
    let s: String = s
        .chars()
        .filter(|c| *c != '_' && !"uUlL".contains(*c))
        .collect();
    u64::from_str_radix(&s, radix).ok()
}

fn unescape(quoted: &str) -> Option<String> {
    let body = &quoted[1..quoted.len() - 1];
    let mut out = String::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            'x' => {
                let mut v = 0u32;
                let mut n = 0;
                while n < 2 && chars.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                    v = v * 16 + chars.next()?.to_digit(16)?;
                    n += 1;
                }
                if n == 0 {
                    return None;
                }
                out.push(char::from_u32(v)?);
            }
            d @ '0'..='7' => {
                let mut v = d.to_digit(8)?;
                let mut n = 1;
                while n < 3 && chars.peek().is_some_and(|c| ('0'..='7').contains(c)) {
                    v = v * 8 + chars.next()?.to_digit(8)?;
                    n += 1;
                }
                out.push(char::from_u32(v)?);
            }
            _ => return None,
        }
    }
    Some(out)
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Between probes: attach points, `,`, a predicate or a body may come next.
    TopLevel,
    Predicate,
    /// Inside a probe body, `depth` braces deep.
    Body {
        depth: u32,
    },
    /// After `config`, `let` or `macro` at top level: ordinary tokens until the item's `{`
    /// (whose body is then lexed like a probe's) or its closing `;`.
    Header,
}

pub type Spanned = (usize, Tok, usize);

/// The token stream lalrpop consumes.
pub struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    mode: Mode,
    paren_depth: u32,
    /// The previous token inside a body.
    prev: Option<Tok>,
    /// `#define`d names and the tokens of a replacement still to be handed out.
    defines: super::preprocess::Defines,
    pending: std::collections::VecDeque<Spanned>,
    /// Tokens `#define`d names may still expand to, over the whole script.
    expansion_budget: usize,
    /// Which names are builtins or functions (for `cast_ahead`).
    vocab: &'a dyn super::Vocabulary,
}

impl<'a> Lexer<'a> {
    /// A lexer that expands `#define`d names (see `preprocess`).
    pub fn with_defines(
        src: &'a str,
        defines: super::preprocess::Defines,
        vocab: &'a dyn super::Vocabulary,
    ) -> Self {
        Lexer {
            defines,
            ..Lexer::new(src, vocab)
        }
    }

    pub fn new(src: &'a str, vocab: &'a dyn super::Vocabulary) -> Self {
        // A shebang line is a comment to us.
        let pos = if src.starts_with("#!") {
            src.find('\n').unwrap_or(src.len())
        } else {
            0
        };
        Lexer {
            src,
            pos,
            mode: Mode::TopLevel,
            paren_depth: 0,
            prev: None,
            defines: Default::default(),
            pending: Default::default(),
            expansion_budget: MAX_EXPANSION,
            vocab,
        }
    }

    fn skip_trivia(&mut self) {
        loop {
            let rest = &self.src[self.pos..];
            let trimmed = rest.trim_start();
            self.pos += rest.len() - trimmed.len();
            if trimmed.starts_with("//") {
                self.pos += trimmed.find('\n').unwrap_or(trimmed.len());
            } else if trimmed.starts_with("/*") {
                self.pos += trimmed[2..]
                    .find("*/")
                    .map(|i| i + 4)
                    .unwrap_or(trimmed.len());
            } else {
                return;
            }
        }
    }

    /// `config = {…}`, `let @m = hash(N);` and `macro name(…) {…}` are not probes.
    fn top_level_keyword(&mut self) -> Option<Spanned> {
        let rest = &self.src[self.pos..];
        let word_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let tok = match &rest[..word_len] {
            "struct" | "union" | "enum"
                if rest[word_len..].starts_with(|c: char| c.is_whitespace() || c == '{') =>
            {
                return Some(self.scan_cdef());
            }
            "config" => Tok::Config,
            "let" => Tok::Let,
            "macro" => Tok::Macro,
            "import" => Tok::Import,
            _ => return None,
        };
        // `config:…` would be an attach point of a (hypothetical) probe type.
        if rest[word_len..].starts_with(':') {
            return None;
        }
        let start = self.pos;
        self.pos += word_len;
        self.mode = Mode::Header;
        Some((start, tok, self.pos))
    }

    /// `struct X { … } __attribute__((…));` (or an `enum`) as one token: its braces are C,
    /// not a body.
    fn scan_cdef(&mut self) -> Spanned {
        let start = self.pos;
        let b = self.src.as_bytes();
        let mut i = start;
        let mut depth = 0u32;
        while i < b.len() {
            match b[i] {
                b'{' => depth += 1,
                b'}' if depth <= 1 => {
                    i += 1;
                    break;
                }
                b'}' => depth -= 1,
                b';' if depth == 0 => break,
                _ => {}
            }
            i += 1;
        }
        loop {
            let rest = &self.src[i..];
            let ws = rest.len() - rest.trim_start().len();
            if !rest[ws..].starts_with("__attribute__") {
                break;
            }
            i += ws + "__attribute__".len();
            let mut parens = 0u32;
            while i < b.len() {
                match b[i] {
                    b'(' => parens += 1,
                    b')' => parens = parens.saturating_sub(1),
                    c if parens == 0 && !c.is_ascii_whitespace() => break,
                    _ => {}
                }
                i += 1;
                if parens == 0 && b[i - 1] == b')' {
                    break;
                }
            }
        }
        let rest = &self.src[i..];
        if rest.trim_start().starts_with(';') {
            i += rest.len() - rest.trim_start().len() + 1;
        }
        self.pos = i;
        (start, Tok::CDef(self.src[start..i].to_string()), i)
    }

    /// Attach points run to whitespace, `,` or `{`; quoted parts may hold anything.
    fn scan_attach_point(&mut self) -> Result<Spanned, Diagnostic> {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let mut i = start;
        while i < bytes.len() {
            match bytes[i] {
                b'"' => {
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                    if i >= bytes.len() {
                        return Err(Diagnostic::error(
                            "unterminated string in attach point",
                            (start, i),
                        ));
                    }
                    i += 1;
                }
                b',' | b'{' | b'}' | b';' | b'(' | b')' => break,
                c if c.is_ascii_whitespace() => break,
                _ => i += 1,
            }
        }
        self.pos = i;
        Ok((start, Tok::AttachPoint(self.src[start..i].to_string()), i))
    }

    fn next_logos(&mut self) -> Option<Result<Spanned, Diagnostic>> {
        loop {
            if let Some(t) = self.pending.pop_front() {
                return Some(Ok(t));
            }
            let base = self.pos;
            let mut lx = Tok::lexer(&self.src[base..]);
            let tok = lx.next()?;
            let span = lx.span();
            let (start, end) = (base + span.start, base + span.end);
            self.pos = end;
            match tok {
                Ok(Tok::Ident(name)) if self.defines.contains_key(&name) => {
                    let mut budget = self.expansion_budget;
                    let r = self.expand(&name, (start, end), &mut vec![], &mut budget);
                    self.expansion_budget = budget;
                    if let Err(e) = r {
                        return Some(Err(e));
                    }
                }
                Ok(t) => return Some(Ok((start, t, end))),
                Err(()) => return Some(Err(bad_token(&self.src[start..end], (start, end)))),
            }
        }
    }

    /// Queues the tokens of `#define name …`, at the name's place in the script. `active`
    /// holds the names being expanded around this one (a name inside its own expansion is
    /// an error); `budget` is how many more tokens may be produced, because definitions that
    /// each use the previous one twice double at every level.
    fn expand(
        &mut self,
        name: &str,
        (start, end): (usize, usize),
        active: &mut Vec<String>,
        budget: &mut usize,
    ) -> Result<(), Diagnostic> {
        if active.iter().any(|a| a == name) {
            return Err(Diagnostic::error(
                format!("`{name}` expands into itself"),
                (start, end),
            ));
        }
        active.push(name.to_string());
        let text = self.defines[name].clone();
        for (tok, _) in Tok::lexer(&text).spanned() {
            match tok {
                Ok(Tok::Ident(inner)) if inner != name && self.defines.contains_key(&inner) => {
                    self.expand(&inner, (start, end), active, budget)?
                }
                Ok(t) if *budget > 0 => {
                    *budget -= 1;
                    self.pending.push_back((start, t, end))
                }
                Ok(_) => {
                    return Err(Diagnostic::error(
                        format!(
                        "`#define`d names expand to more than {MAX_EXPANSION} tokens, here `{}`",
                        active[0]
                    ),
                        (start, end),
                    ))
                }
                Err(()) => {
                    return Err(Diagnostic::error(
                        format!("`#define {name} {text}`: not a valid expression here"),
                        (start, end),
                    ))
                }
            }
        }
        active.pop();
        Ok(())
    }

    fn next_token(&mut self) -> Option<Result<Spanned, Diagnostic>> {
        self.skip_trivia();
        if self.pos >= self.src.len() {
            return None;
        }
        let start = self.pos;
        match self.mode {
            Mode::TopLevel => {
                let c = self.src.as_bytes()[start];
                let tok = match c {
                    b'{' => {
                        self.mode = Mode::Body { depth: 1 };
                        Tok::LBrace
                    }
                    b',' => Tok::Comma,
                    b'/' => {
                        self.mode = Mode::Predicate;
                        self.paren_depth = 0;
                        Tok::PredStart
                    }
                    c if c.is_ascii_alphanumeric() || b"_*$@\"".contains(&c) => {
                        if let Some(t) = self.top_level_keyword() {
                            return Some(Ok(t));
                        }
                        return Some(self.scan_attach_point());
                    }
                    _ => {
                        let len = self.src[start..].chars().next().map_or(1, char::len_utf8);
                        self.pos += len;
                        return Some(Err(bad_token(
                            &self.src[start..start + len],
                            (start, start + len),
                        )));
                    }
                };
                self.pos += 1;
                Some(Ok((start, tok, start + 1)))
            }
            Mode::Header => {
                let r = self.next_logos()?;
                if let Ok((_, t, _)) = &r {
                    match t {
                        Tok::LBrace => self.mode = Mode::Body { depth: 1 },
                        Tok::Semi => self.mode = Mode::TopLevel,
                        _ => {}
                    }
                }
                Some(r)
            }
            Mode::Predicate => {
                let r = self.next_logos()?;
                Some(r.map(|(s, t, e)| {
                    match t {
                        Tok::LParen => self.paren_depth += 1,
                        Tok::RParen => self.paren_depth = self.paren_depth.saturating_sub(1),
                        // The closing slash is the one followed by the body.
                        Tok::Slash
                            if self.paren_depth == 0
                                && self.src[e..].trim_start().starts_with('{') =>
                        {
                            self.mode = Mode::TopLevel;
                            return (s, Tok::PredEnd, e);
                        }
                        _ => {}
                    }
                    (s, t, e)
                }))
            }
            Mode::Body { depth } => {
                let mut r = self.next_logos()?;
                if let Ok((_, t, _)) = &mut r {
                    // `{` and `if` where an operand is expected start block / if expressions;
                    // telling them apart here keeps the grammar LR(1).
                    let operand_expected = matches!(
                        self.prev,
                        Some(
                            Tok::LParen
                                | Tok::Comma
                                | Tok::Assign
                                | Tok::Question
                                | Tok::Colon
                                | Tok::AddAssign
                                | Tok::SubAssign
                                | Tok::MulAssign
                                | Tok::DivAssign
                        )
                    );
                    match t {
                        Tok::LBrace if operand_expected => *t = Tok::LBraceExpr,
                        Tok::If if operand_expected => *t = Tok::IfExpr,
                        Tok::LParen if cast_ahead(&self.src[self.pos..], self.vocab) => {
                            *t = Tok::CastOpen
                        }
                        _ => {}
                    }
                    match t {
                        Tok::LBrace | Tok::LBraceExpr => {
                            self.mode = Mode::Body { depth: depth + 1 }
                        }
                        Tok::RBrace if depth == 1 => self.mode = Mode::TopLevel,
                        Tok::RBrace => self.mode = Mode::Body { depth: depth - 1 },
                        _ => {}
                    }
                    self.prev = Some(t.clone());
                }
                Some(r)
            }
        }
    }
}

/// Whether the text after a `(` makes it a cast, as bpftrace reads them: `typeof(…)` or an
/// identifier that names no builtin or function, then `*`s, `)`, and the start of an
/// operand (`(myident)*$a` is a cast, `(pid)*tid` a product, `(myident);` a value). Named
/// C types are tokens of their own and need no lookahead.
fn cast_ahead(rest: &str, vocab: &dyn super::Vocabulary) -> bool {
    let b = rest.as_bytes();
    let skip = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    let mut i = skip(0);
    let start = i;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
        i += 1;
    }
    if i == start || b[start].is_ascii_digit() {
        return false;
    }
    let word = &rest[start..i];
    i = skip(i);
    let typeof_call = word == "typeof" && b.get(i) == Some(&b'(');
    if typeof_call {
        let mut depth = 0;
        while i < b.len() {
            match b[i] {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        i = skip(i + 1);
    } else if !matches!(Tok::lexer(word).next(), Some(Ok(Tok::Ident(_))))
        || rest[start..].starts_with("struct ")
        || KEYWORDS.contains(&word)
        || word
            .strip_prefix("arg")
            .is_some_and(|d| d.bytes().all(|c| c.is_ascii_digit()))
        || matches!(word, "retval" | "args" | "func" | "probe" | "ctx")
        || vocab.is_function(word)
        || vocab.is_builtin(word)
    {
        return false;
    }
    while b.get(i) == Some(&b'*') {
        i = skip(i + 1);
    }
    if b.get(i) != Some(&b')') {
        return false;
    }
    let i = skip(i + 1);
    // What may start the operand; `-`, `+`, `&`, `!` and `~` are left to mean operators
    // after a parenthesised value, which is what `(x) - 1` in a macro means.
    let operand = |c: u8| c.is_ascii_alphanumeric() || b"_$@(\"".contains(&c);
    match b.get(i) {
        Some(&c) if operand(c) => true,
        Some(b'*') => true,
        _ => false,
    }
}

/// Words that are never type names.
const KEYWORDS: &[&str] = &[
    "if", "else", "for", "while", "unroll", "return", "break", "continue", "let", "true", "false",
    "sizeof", "offsetof", "comptime",
];

fn bad_token(text: &str, span: (usize, usize)) -> Diagnostic {
    let msg = if text.starts_with('"') {
        "invalid string literal (unterminated, or an unknown escape sequence)".to_string()
    } else if text.starts_with(|c: char| c.is_ascii_digit()) {
        format!("invalid integer literal `{text}`")
    } else {
        format!("unexpected character `{text}`")
    };
    Diagnostic::error(msg, span)
}

impl Iterator for Lexer<'_> {
    type Item = Result<Spanned, Diagnostic>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_token()
    }
}
