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
            .map(|(name, text)| crate::stdlib::async_out::source_site(name, text, span));
        let id = self.events.len();
        self.events.push(EventSpec::Log {
            error: false,
            fmt: msg.replace('%', "%%"),
            args: vec![],
            site,
        });
        id
    }
}
