//! `cat(fmt, …)`, `system(fmt, …)`, `errorf(fmt, …)` and `warnf(fmt, …)`: printf-like
//! calls whose text user space turns into a file's contents, a command's output or a
//! located message.

use super::output::{format_args, send};
use super::Function;
use crate::codegen::{FnGen, Val};
use crate::diag::{Result, Span};
use crate::parser::ast::Expr;
use crate::program::{EventSpec, SourceSite};
use crate::sema::{CallCheck, Type};

pub struct Cat;
pub struct Errorf;
pub struct Warnf;
pub struct System;

impl Function for Cat {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        let (fmt, args) = format_args(c, "cat")?;
        c.event(EventSpec::Cat { fmt, args });
        Ok(Type::Void)
    }
    fn gen<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        call: &Expr,
        args: &[Expr],
    ) -> Result<Val<'ctx>> {
        send(g, call, &args[1..])
    }
}

impl Function for System {
    fn destructive(&self) -> Option<&'static str> {
        Some("it runs a shell command for every call")
    }
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        let (fmt, args) = format_args(c, "system")?;
        c.event(EventSpec::System { fmt, args });
        Ok(Type::Void)
    }
    fn gen<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        call: &Expr,
        args: &[Expr],
    ) -> Result<Val<'ctx>> {
        send(g, call, &args[1..])
    }
}

fn log(c: &mut CallCheck, error: bool) -> Result<Type> {
    let (fmt, args) = format_args(c, if error { "errorf" } else { "warnf" })?;
    let site = script_source(c).map(|(name, text)| source_site(name, text, c.span()));
    c.event(EventSpec::Log {
        error,
        fmt,
        args,
        site,
    });
    Ok(Type::Void)
}

impl Function for Errorf {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        log(c, true)
    }
    fn gen<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        call: &Expr,
        args: &[Expr],
    ) -> Result<Val<'ctx>> {
        send(g, call, &args[1..])
    }
}

impl Function for Warnf {
    fn check(&self, c: &mut CallCheck) -> Result<Type> {
        log(c, false)
    }
    fn gen<'a, 'ctx>(
        &self,
        g: &mut FnGen<'a, 'ctx>,
        call: &Expr,
        args: &[Expr],
    ) -> Result<Val<'ctx>> {
        send(g, call, &args[1..])
    }
}

/// The script's name and text, when sema was given them.
fn script_source<'c>(c: &'c CallCheck) -> Option<(&'c str, &'c str)> {
    c.options()
        .source
        .as_ref()
        .map(|(n, s)| (n.as_str(), s.as_str()))
}

/// Line and columns of a byte span, as bpftrace prints them (1-based, end exclusive).
pub fn source_site(filename: &str, source: &str, (start, end): Span) -> SourceSite {
    // A span in an imported file is reported in that file.
    let len = end.saturating_sub(start);
    let (filename, source, start) = &crate::diag::locate(filename, source, start);
    let (filename, source, start) = (filename.as_str(), source.as_str(), *start);
    let end = start + len;
    let pos = |at: usize| {
        let at = at.min(source.len());
        let before = &source[..at];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (
            before.matches('\n').count() as u64 + 1,
            before[line_start..].chars().count() as u64 + 1,
            line_start,
        )
    };
    let (line, col, line_start) = pos(start);
    let (end_line, end_col, _) = pos(end);
    let source_line = source[line_start..]
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    SourceSite {
        filename: filename.to_string(),
        line,
        end_line,
        col,
        end_col,
        source_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_are_one_based_with_exclusive_ends() {
        let src = "begin {\n  errorf(\"x\");\n}";
        let start = src.find("errorf").unwrap();
        let s = source_site("stdin", src, (start, start + 11));
        assert_eq!((s.line, s.end_line, s.col, s.end_col), (2, 2, 3, 14));
        assert_eq!(s.source_line, "  errorf(\"x\");");
        let s = source_site("a.bt", src, (0, src.len()));
        assert_eq!((s.line, s.end_line), (1, 3));
    }
}
