//! Positional and named parameters as sema sees them. A local run knows their values and
//! folds them in. An artifact (`Options::portable`) reads the values it uses as values from
//! slots the runtime fills in (`crate::params`); where the program needs a constant (an
//! attach point, a histogram bound, `fail()`'s condition) the build's value is used and the
//! parameter is recorded as fixed.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use super::{Checked, Checker, Options, Type};
use crate::params::{
    parse_int, NamedError, OptDecl, OptValue, Param, ParamSlot, ParamSpec, SlotKind, STR_SLOT,
};
use crate::parser::ast::{positional, Expr, ExprKind};

/// What an artifact's program makes of its parameters, gathered while checking.
#[derive(Debug, Default, Clone)]
pub struct ParamUse {
    /// `$N` needed as constants.
    fixed: BTreeSet<u32>,
    fixed_count: bool,
    /// Parameters read as values: (parameter, as a string) → bytes of the slot.
    slots: BTreeMap<(Param, bool), u32>,
}

/// The positional parameters for constant uses; for an artifact, each use is recorded.
pub struct Params<'a> {
    values: &'a [String],
    uses: Option<&'a RefCell<ParamUse>>,
}

impl<'a> Params<'a> {
    /// `$n`'s text (`None`: not given).
    pub fn get(&self, n: u32) -> Option<&'a String> {
        if let Some(u) = self.uses {
            u.borrow_mut().fixed.insert(n);
        }
        positional(self.values, n)
    }

    /// `$#`.
    pub fn count(&self) -> usize {
        if let Some(u) = self.uses {
            u.borrow_mut().fixed_count = true;
        }
        self.values.len()
    }
}

/// Whether `e` reads a parameter.
pub fn mentions_params(e: &Expr) -> bool {
    e.any(&mut |e| {
        matches!(e.kind, ExprKind::Positional(_) | ExprKind::PositionalCount)
            || matches!(&e.kind, ExprKind::Call { name, .. } if name == "getopt")
    })
}

impl Checker<'_> {
    pub(crate) fn params(&self) -> Params<'_> {
        Params {
            values: &self.opts.positional,
            uses: self.opts.portable.then_some(&self.param_use),
        }
    }

    fn param_slot(&self, param: Param, size: Option<u32>) -> Type {
        self.param_use
            .borrow_mut()
            .slots
            .insert((param, size.is_some()), size.unwrap_or(8));
        match size {
            Some(size) => Type::Str { size },
            None => Type::INT,
        }
    }

    /// The type of `$n` read as a value (`as_str`: inside `str()`, which takes the text
    /// even of a number): a number when it reads as one, else a string.
    pub(crate) fn positional_type(&self, n: u32, as_str: bool) -> Type {
        let v = positional(&self.opts.positional, n);
        let is_str = as_str || v.is_some_and(|v| parse_int(v).is_none());
        let len = v.map_or(0, |v| v.len() as u32);
        match (self.opts.portable, is_str) {
            (false, true) => Type::Str { size: len + 1 },
            (false, false) => Type::INT,
            (true, true) => self.param_slot(Param::Positional(n), Some(STR_SLOT.max(len + 1))),
            (true, false) => self.param_slot(Param::Positional(n), None),
        }
    }

    /// The type of `$#` read as a value.
    pub(crate) fn count_type(&self) -> Type {
        if self.opts.portable {
            return self.param_slot(Param::Count, None);
        }
        Type::INT
    }

    /// The type of `getopt(name, default)` in an artifact, whose value is a slot; `None`
    /// in a local run.
    pub(crate) fn named_type(
        &self,
        name: &str,
        default: &OptValue,
        given: Option<&str>,
    ) -> Option<Type> {
        if !self.opts.portable {
            return None;
        }
        let param = Param::Named(name.to_string());
        Some(match default {
            OptValue::Bool(_) => {
                self.param_slot(param, None);
                Type::Bool
            }
            OptValue::Int(_) => self.param_slot(param, None),
            OptValue::Str(d) => {
                let len = d.len().max(given.map_or(0, str::len)) as u32;
                self.param_slot(param, Some(STR_SLOT.max(len + 1)))
            }
        })
    }

    /// The artifact's parameters: slots laid out in order, and the fixed values.
    pub(crate) fn param_spec(&self, opts: &Options) -> ParamSpec {
        if !opts.portable {
            return ParamSpec::default();
        }
        let uses = self.param_use.borrow();
        let mut offset = 0;
        let slots = uses
            .slots
            .iter()
            .map(|((param, is_str), size)| {
                let kind = match is_str {
                    true => SlotKind::Str(*size),
                    false => SlotKind::Int,
                };
                let s = ParamSlot {
                    param: param.clone(),
                    kind,
                    offset,
                };
                offset += kind.size();
                s
            })
            .collect();
        ParamSpec {
            slots,
            fixed: uses
                .fixed
                .iter()
                .map(|n| (*n, positional(&opts.positional, *n).cloned()))
                .collect(),
            fixed_count: uses.fixed_count.then_some(opts.positional.len()),
            named: opts.named.declared(),
        }
    }
}

impl Checked {
    /// The positional parameters for constant uses in code generation (sema recorded them).
    pub fn params(&self) -> Params<'_> {
        Params {
            values: &self.options.positional,
            uses: None,
        }
    }

    /// The slot an artifact reads `param` from (as a string or not).
    pub fn param_slot(&self, param: &Param, is_str: bool) -> &ParamSlot {
        self.param_spec
            .slots
            .iter()
            .find(|s| &s.param == param && matches!(s.kind, SlotKind::Str(_)) == is_str)
            .expect("sema laid out every parameter slot")
    }
}

/// The named options of one run: what the command line gives and what the script declares.
#[derive(Debug, Clone, Default)]
pub struct NamedOptions {
    /// `--name=value`, or `--name` (no value), in command-line order.
    pub given: Vec<(String, Option<String>)>,
    /// Filled in by getopt's type rule, so that the command line can reject options the
    /// script never reads (and list the ones it does) once sema is done.
    pub declared: Arc<Mutex<Vec<OptDecl>>>,
}

impl NamedOptions {
    pub fn new(given: Vec<(String, Option<String>)>) -> Self {
        NamedOptions {
            given,
            declared: Arc::default(),
        }
    }

    /// The value `getopt(name, default)` stands for.
    pub fn value(&self, name: &str, default: &OptValue) -> std::result::Result<OptValue, String> {
        crate::params::option_value(&self.given, name, default)
    }

    /// The options the script reads, as declared so far.
    pub fn declared(&self) -> Vec<OptDecl> {
        self.declared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// After sema: every option given must be one the script reads, with a value of its type.
    pub fn validate(&self) -> std::result::Result<(), NamedError> {
        crate::params::validate_options(&self.given, &self.declared())
    }
}
