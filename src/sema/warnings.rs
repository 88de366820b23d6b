//! Run-time warnings sema arranges for, as bpftrace prints them: a zero divisor (always)
//! and, with `-k`, a map read of a key that is not there. Each is a `warnf`-style event
//! sent from the expression, so the message points at it in the script.

use super::Checker;
use crate::diag::{Diagnostic, Span};
use crate::parser::ast::{Expr, ExprKind};
use crate::program::EventSpec;

const DIVIDE_BY_ZERO: &str = "Divide or modulo by 0 detected. This can lead to unexpected \
                              results. 1 is being used as the result.";
const MAP_FULL: &str = "Map full; can't update element.\n\
                        Try increasing max_map_keys config or manually setting the max entries \
                        in a map declaration e.g. `let @a = hash(5000)`\n\
                        Additional Info - helper: map_update_elem, retcode: -7";
const MISSING_KEY: &str = "Can't lookup map element because it does not exist.\n\
                           Additional Info - helper: map_lookup_elem, retcode: 0";

impl Checker<'_> {
    /// `a / b`, `a % b`: unless `b` is a literal, it may be zero at run time; a literal zero
    /// is also reported now.
    pub(super) fn warn_divide_by_zero(&mut self, e: &Expr, divisor: &Expr) {
        if self.zero_divisor_possible(divisor) {
            self.runtime_warning(e, DIVIDE_BY_ZERO);
        }
    }

    /// `x /= v`, `x %= v` (the statement at `span`): as `x = x / v`, with the event kept
    /// by `v`'s id.
    pub(super) fn warn_compound_divide(&mut self, span: Span, divisor: &Expr) {
        if self.zero_divisor_possible(divisor) {
            let ev = self.warning_event(span, DIVIDE_BY_ZERO);
            self.compound_div_events.insert(divisor.id, ev);
        }
    }

    fn zero_divisor_possible(&mut self, divisor: &Expr) -> bool {
        match divisor.kind {
            ExprKind::Int(0) => {
                self.warnings.push(
                    Diagnostic::warning("division by zero", divisor.span)
                        .with_label("this divisor is 0")
                        .with_note("the result is 1, as in bpftrace, with a warning when it runs"),
                );
                true
            }
            ExprKind::Int(_) => false,
            _ => true,
        }
    }

    /// A write to `@m` (the `target` of the statement or `++` at `span`) fails when a hash
    /// map is full; LRU maps evict instead.
    pub(super) fn warn_map_full(&mut self, target: &Expr, span: Span) {
        // A map without keys holds its one element from the start (`maps::create_scalars`):
        // a write to it never finds the map full.
        let ExprKind::Map { name, keys } = &target.kind else {
            return;
        };
        if keys.is_empty() {
            return;
        }
        let lru = self.decls.get(name).is_some_and(|d| d.kind.contains("lru"));
        if !lru {
            let ev = self.warning_event(span, MAP_FULL);
            self.map_full_events.insert(target.id, ev);
        }
    }

    /// `@m[k]` of a plain-value map, with `-k`.
    pub(super) fn warn_missing_key(&mut self, e: &Expr) {
        if self.opts.helper_warnings {
            self.runtime_warning(e, MISSING_KEY);
        }
    }

    /// `a[i]` with `i` known only at run time (the event is kept by `a[i]`'s id).
    pub(super) fn bounds_error(&mut self, e: &Expr, index: &Expr) {
        let ev = self.warning_event(index.span, "Array access out of bounds");
        if let EventSpec::Log { error, .. } = &mut self.events[ev] {
            *error = true;
        }
        self.call_events.insert(e.id, ev);
    }

    fn runtime_warning(&mut self, e: &Expr, msg: &str) {
        let ev = self.warning_event(e.span, msg);
        self.call_events.insert(e.id, ev);
    }

    /// A `warnf`-style event that points at `span` in the script.
    fn warning_event(&mut self, span: Span, msg: &str) -> usize {
        let site = self
            .opts
            .source
            .as_ref()
            .map(|(name, text)| source_site(name, text, span));
        let id = self.events.len();
        self.warning_events.insert(id);
        self.events.push(EventSpec::Log {
            error: false,
            fmt: msg.replace('%', "%%"),
            args: vec![],
            site,
        });
        id
    }
}

/// Line and columns of a byte span, as bpftrace prints them (1-based, end exclusive).
pub fn source_site(filename: &str, source: &str, (start, end): Span) -> crate::program::SourceSite {
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
    crate::program::SourceSite {
        filename: filename.to_string(),
        line,
        end_line,
        col,
        end_col,
        source_line,
    }
}

#[cfg(test)]
mod site_tests {
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
