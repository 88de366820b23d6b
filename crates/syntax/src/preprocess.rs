//! The C preprocessor lines bpftrace scripts carry: `#include`, object-like `#define`s
//! (expanded by the lexer wherever the name appears as an identifier), `#undef`, and
//! `#if`/`#ifdef`/`#ifndef`/`#elif`/`#else`/`#endif`, with `BPFTRACE_HAVE_BTF` defined as
//! bpftrace defines it.
//!
//! Types come from the kernel's BTF, so an included header is only read for its
//! object-like macros (`AF_INET`, `TASK_RUNNING`): leniently, since system headers use more
//! of C than scripts do, and a header that is not installed is no error.
//!
//! Directive lines and inactive regions are blanked (newlines kept), so every span in the
//! rest of the script is unchanged.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::diag::Diagnostic;

/// Object-like macros: name → replacement text.
pub type Defines = HashMap<String, String>;

/// Names defined before the script starts, as bpftrace does for its C definitions.
const PREDEFINED: &[(&str, &str)] = &[("BPFTRACE_HAVE_BTF", "1"), ("__x86_64__", "1")];

struct Cond {
    /// This branch is live.
    active: bool,
    /// Some branch of this `#if` chain was taken already.
    taken: bool,
    /// The enclosing region is live.
    outer: bool,
    /// The `#if` line, for an unterminated block's diagnostic.
    line: (usize, usize),
}

pub fn preprocess(src: &str, includes: &super::Includes) -> Result<(String, Defines), Diagnostic> {
    let mut pre = Pre {
        defines: PREDEFINED
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        seen: Default::default(),
        dirs: includes.dirs.clone(),
    };
    // `--include FILE`: as if the script began with `#include "FILE"`.
    for f in &includes.files {
        pre.include(f, 0);
    }
    let mut out = String::with_capacity(src.len());
    let mut stack: Vec<Cond> = vec![];
    let mut at = 0;
    let in_comment = comment_starts(src);
    // The shebang line stays for the lexer, which treats it as a comment.
    let mut first = true;
    while at < src.len() {
        let line_end = logical_line_end(src, at);
        let line = &src[at..line_end];
        let live = stack.last().is_none_or(|c| c.active);
        let indent = line.len() - line.trim_start().len();
        let directive = line
            .trim_start()
            .strip_prefix('#')
            .filter(|_| !(first && line.starts_with("#!")) && !in_comment[at + indent]);
        first = false;
        match directive {
            Some(d) => {
                pre.directive(d, (at, line_end), &mut stack, live)?;
                blank(&mut out, line);
            }
            None if live => out.push_str(line),
            None => blank(&mut out, line),
        }
        at = line_end;
        if at < src.len() {
            out.push('\n');
            at += 1;
        }
    }
    if let Some(c) = stack.last() {
        return Err(Diagnostic::error("`#if` without `#endif`", c.line)
            .with_label("this block is never closed"));
    }
    Ok((out, pre.defines))
}

/// For each byte, whether it lies inside a `/* */` comment (strings and `//` comments
/// respected), so a `#` there starts no directive.
fn comment_starts(src: &str) -> Vec<bool> {
    let b = src.as_bytes();
    let mut inside = vec![false; b.len() + 1];
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end = src[i + 2..].find("*/").map_or(b.len(), |j| i + 2 + j + 2);
                inside[i..end].iter_mut().for_each(|x| *x = true);
                i = end;
            }
            _ => i += 1,
        }
    }
    inside
}

/// Where `#include <…>` looks, in order.
fn include_dirs() -> Vec<PathBuf> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let build = PathBuf::from(format!("/lib/modules/{}/build", release.trim()));
    let mut dirs: Vec<PathBuf> = [
        "/usr/local/include",
        "/usr/include/x86_64-linux-gnu",
        "/usr/include",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    // Kernel-internal headers (`linux/sched.h`'s TASK_RUNNING), when installed.
    for sub in [
        "include",
        "arch/x86/include",
        "arch/x86/include/generated",
        "include/uapi",
    ] {
        dirs.push(build.join(sub));
    }
    dirs
}

struct Pre {
    defines: Defines,
    /// Headers already read (include guards are not needed to stop cycles).
    seen: std::collections::HashSet<PathBuf>,
    /// `-I` directories, searched before the system's.
    dirs: Vec<PathBuf>,
}

impl Pre {
    fn directive(
        &mut self,
        d: &str,
        span: (usize, usize),
        stack: &mut Vec<Cond>,
        live: bool,
    ) -> Result<(), Diagnostic> {
        directive_line(d, span, self, stack, live, false)
    }

    /// `#include <name>` / `"name"`: reads the header's macros, if it is installed.
    fn include(&mut self, spec: &str, depth: u32) {
        let name = spec.trim().trim_matches(|c| matches!(c, '<' | '>' | '"'));
        if depth > 32 || name.is_empty() {
            return;
        }
        let Some(path) = self
            .dirs
            .iter()
            .cloned()
            .chain(std::iter::once(PathBuf::new()).filter(|_| name.starts_with('/')))
            .chain(include_dirs())
            .map(|d| d.join(name))
            .find(|p| p.is_file())
        else {
            return;
        };
        if !self.seen.insert(path.clone()) {
            return;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            return;
        };
        let text = strip_comments(&text);
        let mut stack: Vec<Cond> = vec![];
        let mut at = 0;
        while at < text.len() {
            let line_end = logical_line_end(&text, at);
            let live = stack.last().is_none_or(|c| c.active);
            if let Some(d) = text[at..line_end].trim_start().strip_prefix('#') {
                // Headers use C this preprocessor does not evaluate: skip what fails.
                if d.trim_start().starts_with("include") {
                    if live {
                        self.include(d.trim_start()["include".len()..].trim(), depth + 1);
                    }
                } else {
                    let _ = directive_line(d, (at, line_end), self, &mut stack, live, true);
                }
            }
            at = line_end + 1;
        }
    }
}

/// C comments removed (replaced by a space), so `#define X 1 /* … */` reads as `1`.
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        out.push(' ');
        // Keep line structure inside long comments.
        let body_end = rest[i + 2..]
            .find("*/")
            .map_or(rest.len(), |j| i + 2 + j + 2);
        out.extend(rest[i..body_end].chars().filter(|&c| c == '\n'));
        rest = &rest[body_end..];
    }
    out.push_str(rest);
    out.lines()
        .map(|l| l.split_once("//").map_or(l, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The end of the line at `at`, following `\`-newline continuations.
fn logical_line_end(src: &str, at: usize) -> usize {
    let mut end = at;
    loop {
        let nl = src[end..].find('\n').map_or(src.len(), |i| end + i);
        if nl < src.len() && src[..nl].ends_with('\\') {
            end = nl + 1;
        } else {
            return nl;
        }
    }
}

/// Spaces for every byte but newlines, so byte offsets stay where they were.
fn blank(out: &mut String, text: &str) {
    for c in text.chars() {
        if c == '\n' {
            out.push('\n');
        } else {
            out.extend(std::iter::repeat_n(' ', c.len_utf8()));
        }
    }
}

/// One directive. In a header (`header`), a condition this preprocessor cannot evaluate
/// is false and function-like macros are skipped rather than refused.
fn directive_line(
    d: &str,
    span: (usize, usize),
    pre: &mut Pre,
    stack: &mut Vec<Cond>,
    live: bool,
    header: bool,
) -> Result<(), Diagnostic> {
    let defines = &mut pre.defines;
    let d = d.replace("\\\n", " ");
    let d = d.trim();
    let (word, rest) = d
        .split_once(|c: char| c.is_whitespace())
        .map_or((d, ""), |(w, r)| (w, r.trim()));
    let err = |msg: String| Diagnostic::error(msg, span);
    match word {
        "if" | "ifdef" | "ifndef" => {
            let cond = match word {
                "ifdef" => defines.contains_key(rest),
                "ifndef" => !defines.contains_key(rest),
                _ if header => eval(rest, defines).unwrap_or(false),
                _ => eval(rest, defines).map_err(err)?,
            };
            stack.push(Cond {
                active: live && cond,
                taken: cond,
                outer: live,
                line: span,
            });
        }
        "elif" | "else" => {
            let Some(c) = stack.last_mut() else {
                return Err(err(format!("`#{word}` without `#if`")));
            };
            let cond = word == "else"
                || if header {
                    eval(rest, defines).unwrap_or(false)
                } else {
                    eval(rest, defines).map_err(err)?
                };
            c.active = c.outer && !c.taken && cond;
            c.taken |= cond;
        }
        "endif" => {
            if stack.pop().is_none() {
                return Err(err("`#endif` without `#if`".into()));
            }
        }
        _ if !live => {}
        "include" => pre.include(rest, 0),
        "define" => {
            let name_len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let name = &rest[..name_len];
            if name.is_empty() {
                return Err(err("`#define` needs a name".into()));
            }
            if rest[name_len..].starts_with('(') {
                if header {
                    return Ok(());
                }
                return Err(err(format!(
                    "`#define {name}(…)`: function-like C macros are not supported; \
                     write a bpftrace `macro {name}(…) {{ … }}` instead"
                )));
            }
            defines.insert(name.to_string(), rest[name_len..].trim().to_string());
        }
        "undef" => {
            defines.remove(rest);
        }
        "pragma" | "error" | "warning" | "line" => {
            if word == "error" {
                return Err(err(format!("#error {rest}")));
            }
        }
        _ => return Err(err(format!("unknown preprocessor directive `#{word}`"))),
    }
    Ok(())
}

/// `#if` conditions: integers, `defined(NAME)`/`defined NAME`, `!`, `&&`, `||`,
/// parentheses and macro names (an undefined name is 0, as in C).
fn eval(expr: &str, defines: &Defines) -> Result<bool, String> {
    let toks = tokens(expr)?;
    let mut p = CondParser {
        toks,
        at: 0,
        defines,
    };
    let v = p.or()?;
    if p.at != p.toks.len() {
        return Err(format!("cannot evaluate `#if {expr}`"));
    }
    Ok(v != 0)
}

fn tokens(s: &str) -> Result<Vec<String>, String> {
    let mut out = vec![];
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphanumeric() || c == '_' {
            let start = i;
            while i < b.len() && ((b[i] as char).is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(s[start..i].to_string());
        } else if s[i..].starts_with("&&") || s[i..].starts_with("||") {
            out.push(s[i..i + 2].to_string());
            i += 2;
        } else if "!()".contains(c) {
            out.push(c.to_string());
            i += 1;
        } else {
            return Err(format!("unsupported `{c}` in an `#if` condition"));
        }
    }
    Ok(out)
}

struct CondParser<'a> {
    toks: Vec<String>,
    at: usize,
    defines: &'a Defines,
}

impl CondParser<'_> {
    fn peek(&self) -> Option<&str> {
        self.toks.get(self.at).map(String::as_str)
    }
    fn take(&mut self) -> Option<String> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }
    fn or(&mut self) -> Result<i64, String> {
        let mut v = self.and()?;
        while self.peek() == Some("||") {
            self.at += 1;
            let r = self.and()?;
            v = ((v != 0) || (r != 0)) as i64;
        }
        Ok(v)
    }
    fn and(&mut self) -> Result<i64, String> {
        let mut v = self.unary()?;
        while self.peek() == Some("&&") {
            self.at += 1;
            let r = self.unary()?;
            v = ((v != 0) && (r != 0)) as i64;
        }
        Ok(v)
    }
    fn unary(&mut self) -> Result<i64, String> {
        match self.take().as_deref() {
            Some("!") => Ok((self.unary()? == 0) as i64),
            Some("(") => {
                let v = self.or()?;
                match self.take().as_deref() {
                    Some(")") => Ok(v),
                    _ => Err("missing `)` in an `#if` condition".into()),
                }
            }
            Some("defined") => {
                let paren = self.peek() == Some("(");
                if paren {
                    self.at += 1;
                }
                let name = self.take().ok_or("`defined` needs a name")?;
                if paren && self.take().as_deref() != Some(")") {
                    return Err("missing `)` after `defined(`".into());
                }
                Ok(self.defines.contains_key(&name) as i64)
            }
            Some(t) if t.chars().all(|c| c.is_ascii_digit()) => {
                t.parse().map_err(|_| format!("bad number `{t}`"))
            }
            Some(name) => Ok(self
                .defines
                .get(name)
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)),
            None => Err("an `#if` condition is missing".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_are_blanked_and_spans_kept() {
        let src = "#include <linux/sched.h>\n#define N 3\nbegin { print(N); }\n";
        let (out, defs) = preprocess(src, &Default::default()).unwrap();
        assert_eq!(out.len(), src.len());
        assert_eq!(&out[out.find("begin").unwrap()..], "begin { print(N); }\n");
        assert_eq!(defs["N"], "3");
    }

    #[test]
    fn conditionals_choose_the_btf_branch() {
        let src = "#ifndef BPFTRACE_HAVE_BTF\nA\n#else\nB\n#endif\n#if 0\nC\n#elif defined(X) || 1\nD\n#endif";
        let (out, _) = preprocess(src, &Default::default()).unwrap();
        let kept: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(kept, ["B", "D"]);
    }

    #[test]
    fn a_hash_inside_a_comment_is_no_directive() {
        let src = "/*\n # need changes\n */\nbegin { print(\"#x\"); }\n";
        let (out, _) = preprocess(src, &Default::default()).unwrap();
        assert_eq!(out, src);
    }

    #[test]
    fn unbalanced_and_function_like_are_errors() {
        assert!(preprocess("#if 1\nbegin {}", &Default::default()).is_err());
        assert!(preprocess("#endif", &Default::default()).is_err());
        assert!(preprocess("#define F(x) x", &Default::default()).is_err());
    }
}
