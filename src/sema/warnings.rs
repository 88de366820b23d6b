//! Run-time warnings sema arranges for, as bpftrace prints them: a zero divisor (always)
//! and, with `-k`, a map read of a key that is not there. Each is a `warnf`-style event
//! sent from the expression, so the message points at it in the script.

use super::Checker;
use crate::parser::ast::{Expr, ExprKind};
use crate::program::EventSpec;

const DIVIDE_BY_ZERO: &str = "Divide or modulo by 0 detected. This can lead to unexpected \
                              results. 1 is being used as the result.";
const MISSING_KEY: &str = "Can't lookup map element because it does not exist.\n\
                           Additional Info - helper: map_lookup_elem, retcode: 0";

impl Checker<'_> {
    /// `a / b`, `a % b`: unless `b` is a literal, it may be zero at run time.
    pub(super) fn warn_divide_by_zero(&mut self, e: &Expr, divisor: &Expr) {
        if matches!(divisor.kind, ExprKind::Int(_)) {
            return;
        }
        self.runtime_warning(e, DIVIDE_BY_ZERO);
    }

    /// `@m[k]` of a plain-value map, with `-k`.
    pub(super) fn warn_missing_key(&mut self, e: &Expr) {
        if self.opts.helper_warnings {
            self.runtime_warning(e, MISSING_KEY);
        }
    }

    fn runtime_warning(&mut self, e: &Expr, msg: &str) {
        let site = self
            .opts
            .source
            .as_ref()
            .map(|(name, text)| crate::stdlib::async_out::source_site(name, text, e.span));
        self.add_event(
            e.id,
            EventSpec::Log {
                error: false,
                fmt: msg.replace('%', "%%"),
                args: vec![],
                site,
            },
        );
    }
}
