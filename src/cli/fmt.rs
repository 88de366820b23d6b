//! `--fmt FILE`: the script in one standard layout, on stdout. The script must parse; its
//! text is then re-laid out token by token, so comments and string literals stay exactly
//! as written and the program does not change:
//! - a probe's attach points one per line, its predicate on its own line, `{` on the next;
//! - one statement per line, two spaces per block level, `} else {` joined;
//! - single spaces between words, none inside parentheses and brackets or before `;`
//!   and `,`, one after `,`;
//! - at most one blank line kept between statements, exactly one between top-level items;
//! - preprocessor lines (`#include`, `#define`) and the shebang kept as they are.

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A run of text: words, numbers, operators, attach points.
    Text(String),
    /// `"…"`, verbatim.
    Str(String),
    /// `// …` (to the end of the line) or `/* … */`, verbatim.
    Comment(String),
    /// A line that starts with `#`, verbatim.
    Directive(String),
    Punct(char),
    /// Whitespace that held at least one empty line.
    Blank,
}

/// Tokens, each with what came before it in the source: 0 nothing, 1 spaces, 2 a line
/// break.
fn scan(src: &str) -> Vec<(Tok, u8)> {
    let b = src.as_bytes();
    let mut toks: Vec<Tok> = vec![];
    let mut spaced: Vec<u8> = vec![];
    let mut space = 0u8;
    let out = &mut toks;
    let mut i = 0;
    let mut line_start = true;
    let mut text = String::new();
    let flush = |text: &mut String, out: &mut Vec<Tok>| {
        if !text.is_empty() {
            out.push(Tok::Text(std::mem::take(text)));
        }
    };
    // Which tokens whitespace preceded, noted as they are pushed.
    let mark = |out: &Vec<Tok>, spaced: &mut Vec<u8>, space: &mut u8| {
        while spaced.len() < out.len() {
            spaced.push(*space);
            *space = 0;
        }
    };
    while i < b.len() {
        mark(out, &mut spaced, &mut space);
        let c = b[i] as char;
        if line_start && (c == '#') {
            let end = src[i..].find('\n').map_or(b.len(), |n| i + n);
            flush(&mut text, out);
            out.push(Tok::Directive(src[i..end].trim_end().to_string()));
            i = end;
            continue;
        }
        if c.is_whitespace() {
            flush(&mut text, out);
            let start = i;
            while i < b.len() && (b[i] as char).is_whitespace() {
                i += 1;
            }
            if src[start..i].matches('\n').count() >= 2 {
                out.push(Tok::Blank);
            }
            mark(out, &mut spaced, &mut space);
            line_start = src[start..i].contains('\n');
            space = if line_start { 2 } else { 1 };
            continue;
        }
        line_start = false;
        if src[i..].starts_with("//") || src[i..].starts_with("/*") {
            flush(&mut text, out);
            let end = if src[i..].starts_with("//") {
                src[i..].find('\n').map_or(b.len(), |n| i + n)
            } else {
                src[i + 2..].find("*/").map_or(b.len(), |n| i + 2 + n + 2)
            };
            out.push(Tok::Comment(src[i..end].trim_end().to_string()));
            i = end;
            continue;
        }
        if c == '"' {
            flush(&mut text, out);
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(b.len());
            out.push(Tok::Str(src[i..end].to_string()));
            i = end;
            continue;
        }
        if "{}();,[]".contains(c) {
            flush(&mut text, out);
            out.push(Tok::Punct(c));
            i += 1;
            continue;
        }
        let ch = src[i..].chars().next().expect("in bounds");
        text.push(ch);
        i += ch.len_utf8();
    }
    flush(&mut text, out);
    mark(out, &mut spaced, &mut space);
    toks.into_iter().zip(spaced).collect()
}

/// The formatted script.
pub fn format(src: &str) -> String {
    let toks = scan(src);
    let mut f = Fmt::default();
    let mut i = 0;
    while i < toks.len() {
        let (t, before) = &toks[i];
        f.spaced = *before > 0;
        let next_at = toks[i + 1..].iter().find(|(t, _)| !matches!(t, Tok::Blank));
        let next = next_at.map(|(t, _)| t);
        // A comment on the same line as the statement before it stays there.
        let trailing_comment = matches!(next_at, Some((Tok::Comment(_), b)) if *b < 2);
        let next_on_new_line = next_at.is_none_or(|(_, b)| *b == 2);
        match t {
            Tok::Blank => {
                if f.depth > 0 && !f.line.is_empty() {
                    f.newline();
                }
                if f.depth > 0 {
                    f.blank_pending = true;
                }
            }
            Tok::Directive(d) => {
                f.newline();
                f.out.push_str(d);
                f.out.push('\n');
            }
            Tok::Comment(c) => {
                f.word(c);
                if c.starts_with("//") || f.deferred_newline || next_on_new_line {
                    f.deferred_newline = false;
                    f.newline();
                }
            }
            Tok::Str(s) => f.word(s),
            Tok::Text(t) if f.depth == 0 && f.parens == 0 => f.header_text(t),
            Tok::Text(t) => f.word(t),
            Tok::Punct('{') => {
                if f.depth == 0 && f.parens == 0 && f.header {
                    f.newline();
                    f.out.push_str("{\n");
                } else {
                    f.word("{");
                    f.newline();
                }
                f.header = false;
                f.depth += 1;
            }
            Tok::Punct('}') => {
                f.newline();
                f.blank_pending = false;
                f.depth = f.depth.saturating_sub(1);
                f.word("}");
                if matches!(next, Some(Tok::Text(t)) if t == "else") {
                    // `} else {` stays on one line.
                } else if matches!(next, Some(Tok::Punct(';' | ')' | ','))) {
                } else if trailing_comment && f.depth > 0 {
                    f.deferred_newline = true;
                } else {
                    f.newline();
                    if f.depth == 0 {
                        f.top_item_done();
                    }
                }
            }
            Tok::Punct('(') | Tok::Punct('[') => {
                f.glue(&t_char(t).to_string());
                f.parens += 1;
            }
            Tok::Punct(')') | Tok::Punct(']') => {
                f.parens = f.parens.saturating_sub(1);
                f.attach(&t_char(t).to_string());
            }
            Tok::Punct(';') => {
                f.attach(";");
                if f.parens == 0 && trailing_comment && f.depth > 0 {
                    f.deferred_newline = true;
                } else if f.parens == 0 {
                    f.newline();
                    if f.depth == 0 {
                        f.top_item_done();
                    }
                }
            }
            Tok::Punct(',') => {
                f.attach(",");
                if f.depth == 0 && f.parens == 0 {
                    f.newline();
                }
            }
            Tok::Punct(c) => f.word(&c.to_string()),
        }
        i += 1;
    }
    f.newline();
    let mut out = f.out.trim_end().to_string();
    out.push('\n');
    out
}

fn t_char(t: &Tok) -> char {
    match t {
        Tok::Punct(c) => *c,
        _ => unreachable!("punctuation"),
    }
}

#[derive(Default)]
struct Fmt {
    out: String,
    line: String,
    depth: usize,
    parens: usize,
    /// Between a probe's first attach point and its `{`.
    header: bool,
    /// Inside a predicate's slashes.
    predicate: bool,
    blank_pending: bool,
    /// The last thing written was `(` or `[`: no space before the next word.
    glued: bool,
    /// Whitespace came before the current token in the source: kept as one space.
    spaced: bool,
    /// A statement ended, but its trailing comment comes first.
    deferred_newline: bool,
}

impl Fmt {
    fn indent(&self) -> String {
        "  ".repeat(self.depth)
    }

    /// A word, one space after the previous one on the line.
    fn word(&mut self, w: &str) {
        if self.line.is_empty() {
            if self.blank_pending {
                self.out.push('\n');
                self.blank_pending = false;
            }
            self.line.push_str(&self.indent());
        } else if (!self.glued && self.spaced && !self.line.ends_with(' '))
            || self.line.ends_with(',')
        {
            self.line.push(' ');
        }
        self.line.push_str(w);
        self.glued = false;
    }

    /// `(`/`[`: glued to a preceding name (`f(`, `@m[`), spaced after an operator.
    fn glue(&mut self, p: &str) {
        let after_name = self
            .line
            .chars()
            .last()
            .is_some_and(|c| c.is_alphanumeric() || "_@$)]".contains(c));
        if after_name && !self.glued && !self.spaced {
            self.line.push_str(p);
        } else {
            self.word(p);
        }
        self.glued = true;
    }

    /// `)`, `]`, `;`, `,`: no space before.
    fn attach(&mut self, p: &str) {
        if self.line.is_empty() {
            self.line.push_str(&self.indent());
        }
        while self.line.ends_with(' ') {
            self.line.pop();
        }
        self.line.push_str(p);
        self.glued = false;
    }

    fn newline(&mut self) {
        if !self.line.trim().is_empty() {
            self.out.push_str(self.line.trim_end());
            self.out.push('\n');
        }
        self.line.clear();
        self.glued = false;
    }

    /// After a top-level item: one blank line before the next.
    fn top_item_done(&mut self) {
        self.header = false;
        if !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }

    /// Text at the top level: attach points (each on its line) and predicates (between
    /// slashes, on their own line); `config`, `macro`, `let` read as words.
    fn header_text(&mut self, t: &str) {
        let is_attach = !self.header
            && self.line.is_empty()
            && (t.contains(':') || matches!(t, "begin" | "end" | "BEGIN" | "END"));
        if is_attach {
            self.header = true;
        }
        if self.header && t.starts_with('/') && !self.predicate {
            self.newline();
            self.predicate = true;
        }
        self.word(t);
        if self.predicate && t.ends_with('/') && !(t == "/" && self.line.trim() == "/") {
            self.predicate = false;
            self.newline();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::format;

    #[test]
    fn lays_out_probes_statements_and_comments() {
        let src = "#!/usr/bin/env spyglass\n// count opens\ntracepoint:syscalls:sys_enter_openat,tracepoint:syscalls:sys_enter_open /pid  ==  1/ { @[comm]=count( ) ; if ( $x ) { printf(\"a  b\\n\" , 1 ) ; } else { $y = 2; }\n\n\n $z = 3; /* keep */ }\nend{print( @ )}";
        assert_eq!(
            format(src),
            "#!/usr/bin/env spyglass\n// count opens\ntracepoint:syscalls:sys_enter_openat,\ntracepoint:syscalls:sys_enter_open\n/pid == 1/\n{\n  @[comm]=count();\n  if ($x) {\n    printf(\"a  b\\n\", 1);\n  } else {\n    $y = 2;\n  }\n\n  $z = 3; /* keep */\n}\n\nend\n{\n  print(@)\n}\n"
        );
    }

    #[test]
    fn formatting_is_stable() {
        let src = "config = { max_strlen = 64 }\nmacro add(a, b) { a + b }\nbegin { $a = add(1, 2); exit(); }\n";
        let once = format(src);
        assert_eq!(format(&once), once);
    }
}
