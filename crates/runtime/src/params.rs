//! Script parameters given when a program runs: positional ones (`$1`, `$#`) and named
//! ones (`getopt("name", default)`, given as `--name=value` after `--`).
//!
//! A local run compiles their values into the program. An artifact is built before they
//! are known, so the values it reads become slots after the runtime constants in `.rodata`
//! ([`ParamSpec`]), filled in here before the program loads; the verifier still sees them
//! as constants (the section is frozen). What the program needs as a constant at build
//! time (an attach point, a histogram bound) is fixed then, and a run must not ask for
//! another value.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// An integer as bpftrace reads one from the command line: decimal, `0x` hex or leading-0
/// octal, optionally negative; large unsigned values keep their bits.
pub fn parse_int(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    let v = if let Some(h) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        u64::from_str_radix(h, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        u64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse::<u64>().ok()?
    };
    Some(if neg {
        (v as i64).wrapping_neg()
    } else {
        v as i64
    })
}

/// A named option's default; its variant is the option's type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OptValue {
    Bool(bool),
    Int(i64),
    Str(String),
}

impl fmt::Display for OptValue {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            OptValue::Bool(b) => write!(f, "{b}"),
            OptValue::Int(v) => write!(f, "{v}"),
            OptValue::Str(s) => write!(f, "\"{s}\""),
        }
    }
}

/// One named option the script reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptDecl {
    pub name: String,
    pub default: OptValue,
    pub description: Option<String>,
}

/// A command-line problem with named options, in bpftrace's words.
#[derive(Debug, PartialEq)]
pub struct NamedError {
    /// `None` for `--help`, which only asks for the list.
    pub error: Option<String>,
    pub hint: Option<String>,
}

impl NamedError {
    /// As bpftrace prints it.
    pub fn print(&self) {
        if let Some(msg) = &self.error {
            eprintln!("ERROR: {msg}");
        }
        if let Some(hint) = &self.hint {
            eprintln!("HINT: {hint}");
        }
    }
}

/// The last value given for `name` among `--name[=value]`: `Some(None)` for a bare one.
fn given<'a>(given: &'a [(String, Option<String>)], name: &str) -> Option<Option<&'a str>> {
    given
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_deref())
}

/// The value `getopt(name, default)` stands for, given the command line's options.
pub fn option_value(
    options: &[(String, Option<String>)],
    name: &str,
    default: &OptValue,
) -> Result<OptValue, String> {
    let Some(text) = given(options, name) else {
        return Ok(default.clone());
    };
    let bad = |what: &str| {
        format!(
            "program command line option --{name} invalid {what} (value: {})",
            text.unwrap_or("")
        )
    };
    match default {
        OptValue::Bool(_) => match text {
            None | Some("true") | Some("1") => Ok(OptValue::Bool(true)),
            Some("false") | Some("0") => Ok(OptValue::Bool(false)),
            Some(_) => Err(bad("boolean")),
        },
        OptValue::Int(_) => text
            .and_then(parse_int)
            .map(OptValue::Int)
            .ok_or_else(|| bad("integer")),
        OptValue::Str(_) => Ok(OptValue::Str(text.unwrap_or("").to_string())),
    }
}

/// Every option given must be one the script reads, with a value of its type.
pub fn validate_options(
    options: &[(String, Option<String>)],
    declared: &[OptDecl],
) -> Result<(), NamedError> {
    let hint = || {
        let mut h = String::from("expected program options:");
        if declared.is_empty() {
            h.push_str(" none");
        }
        for d in declared {
            h.push_str(&format!("\n  --{}", d.name));
            if let Some(desc) = &d.description {
                h.push_str(&format!(": {desc}"));
            }
        }
        Some(h)
    };
    for (name, _) in options {
        if declared.iter().any(|d| &d.name == name) {
            continue;
        }
        let error =
            (name != "help").then(|| format!("unexpected program command line option --{name}"));
        return Err(NamedError {
            error,
            hint: hint(),
        });
    }
    for d in declared {
        option_value(options, &d.name, &d.default).map_err(|e| NamedError {
            error: Some(e),
            hint: None,
        })?;
    }
    Ok(())
}

/// The arguments after `--` as bpftrace reads them: `--name=value` and `--name` are named
/// options, anything else another positional parameter.
pub fn split_after_dashes(after: Vec<String>) -> (Vec<String>, Vec<(String, Option<String>)>) {
    let (mut positional, mut named) = (vec![], vec![]);
    for arg in after {
        match arg.strip_prefix("--") {
            Some(opt) => match opt.split_once('=') {
                Some((n, v)) => named.push((n.to_string(), Some(v.to_string()))),
                None => named.push((opt.to_string(), None)),
            },
            None => positional.push(arg),
        }
    }
    (positional, named)
}

/// Which parameter a slot holds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Param {
    /// `$N`.
    Positional(u32),
    /// `$#`.
    Count,
    /// `getopt("name", …)`.
    Named(String),
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Param::Positional(n) => write!(f, "${n}"),
            Param::Count => write!(f, "$#"),
            Param::Named(n) => write!(f, "--{n}"),
        }
    }
}

/// What a slot holds: a 64-bit integer (booleans are 0 or 1), or a NUL-terminated string
/// of at most `size` bytes with its NUL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SlotKind {
    Int,
    Str(u32),
}

impl SlotKind {
    pub fn size(self) -> u32 {
        match self {
            SlotKind::Int => 8,
            SlotKind::Str(n) => n.div_ceil(8) * 8,
        }
    }
}

/// Bytes a string parameter of an artifact can hold, NUL included, unless the value it was
/// built with needs more.
pub const STR_SLOT: u32 = 64;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamSlot {
    pub param: Param,
    pub kind: SlotKind,
    /// Bytes from the start of the parameter area (after `rodata::LEN` words).
    pub offset: u32,
}

/// The parameters an artifact takes when it runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ParamSpec {
    pub slots: Vec<ParamSlot>,
    /// Positional parameters used where the program needs a constant, with the value
    /// they were built with (`None`: not given).
    pub fixed: BTreeMap<u32, Option<String>>,
    /// `$#` was used as a constant: the count it was built with.
    pub fixed_count: Option<usize>,
    /// The named options the script reads (all of them: their values are slots).
    pub named: Vec<OptDecl>,
}

impl ParamSpec {
    pub fn is_empty(&self) -> bool {
        *self == ParamSpec::default()
    }

    /// Bytes of the parameter area.
    pub fn size(&self) -> u32 {
        self.slots
            .iter()
            .map(|s| s.offset + s.kind.size())
            .max()
            .unwrap_or(0)
    }

    /// The parameter area for a run with these positional parameters and `--name=value`
    /// options, or what is wrong with them.
    pub fn fill(
        &self,
        positional: &[String],
        options: &[(String, Option<String>)],
    ) -> Result<Vec<u8>, String> {
        for (n, built) in &self.fixed {
            let here = positional.get(*n as usize - 1);
            if here != built.as_ref() {
                let was = match built {
                    Some(v) => format!("`{v}`"),
                    None => "no value".into(),
                };
                return Err(format!(
                    "${n} is fixed in this artifact: the script uses it where the program needs a \
                     constant, and it was built with {was}; build it again with the value you want"
                ));
            }
        }
        if let Some(count) = self.fixed_count {
            if positional.len() != count {
                return Err(format!(
                    "$# is fixed in this artifact: the script uses it where the program needs a \
                     constant, and it was built with {count} positional parameters; this run gives {}",
                    positional.len()
                ));
            }
        }
        validate_options(options, &self.named).map_err(|e| {
            [e.error, e.hint]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("\n")
        })?;
        let mut area = vec![0u8; self.size() as usize];
        for s in &self.slots {
            let at = s.offset as usize;
            let text = match &s.param {
                Param::Positional(n) => positional.get(*n as usize - 1).cloned(),
                Param::Count => Some(positional.len().to_string()),
                Param::Named(name) => {
                    let d = self.named.iter().find(|d| &d.name == name);
                    let d =
                        d.ok_or_else(|| format!("--{name} is not described in the artifact"))?;
                    Some(match option_value(options, name, &d.default)? {
                        OptValue::Bool(b) => (b as u8).to_string(),
                        OptValue::Int(v) => v.to_string(),
                        OptValue::Str(v) => v,
                    })
                }
            };
            match s.kind {
                SlotKind::Int => {
                    let v = match &text {
                        None => 0,
                        Some(t) => parse_int(t).ok_or_else(|| {
                            format!(
                                "{} is a number in this artifact and `{t}` is not one (use \
                                 str({}) in the script to take a string)",
                                s.param, s.param
                            )
                        })?,
                    };
                    area[at..at + 8].copy_from_slice(&v.to_ne_bytes());
                }
                SlotKind::Str(size) => {
                    let t = text.unwrap_or_default();
                    if t.len() >= size as usize {
                        return Err(format!(
                            "{} holds at most {} bytes in this artifact and `{t}` has {} (build it \
                             with a value that long to make room)",
                            s.param,
                            size - 1,
                            t.len()
                        ));
                    }
                    area[at..at + t.len()].copy_from_slice(t.as_bytes());
                }
            }
        }
        Ok(area)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ParamSpec {
        ParamSpec {
            slots: vec![
                ParamSlot {
                    param: Param::Positional(1),
                    kind: SlotKind::Int,
                    offset: 0,
                },
                ParamSlot {
                    param: Param::Positional(2),
                    kind: SlotKind::Str(8),
                    offset: 8,
                },
                ParamSlot {
                    param: Param::Count,
                    kind: SlotKind::Int,
                    offset: 16,
                },
            ],
            fixed: [(3, Some("x".to_string()))].into(),
            fixed_count: None,
            named: vec![],
        }
    }

    #[test]
    fn slots_are_filled_in_order() {
        let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let area = spec().fill(&p(&["0x10", "abc", "x"]), &[]).unwrap();
        assert_eq!(&area[0..8], &16i64.to_ne_bytes());
        assert_eq!(&area[8..16], b"abc\0\0\0\0\0");
        assert_eq!(&area[16..24], &3i64.to_ne_bytes());
        let e = spec().fill(&p(&["1", "abc", "y"]), &[]).unwrap_err();
        assert!(e.starts_with("$3 is fixed in this artifact"), "{e}");
        let e = spec().fill(&p(&["one", "abc", "x"]), &[]).unwrap_err();
        assert!(
            e.starts_with("$1 is a number in this artifact and `one` is not one"),
            "{e}"
        );
        let e = spec().fill(&p(&["1", "abcdefgh", "x"]), &[]).unwrap_err();
        assert!(e.starts_with("$2 holds at most 7 bytes"), "{e}");
    }

    #[test]
    fn values_follow_the_default_type() {
        let given = |v: &[(&str, Option<&str>)]| -> Vec<(String, Option<String>)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.map(String::from)))
                .collect()
        };
        let g = given(&[("aa", Some("0x10")), ("dd", None), ("cc", Some("bye"))]);
        assert_eq!(
            option_value(&g, "aa", &OptValue::Int(1)),
            Ok(OptValue::Int(16))
        );
        assert_eq!(
            option_value(&g, "dd", &OptValue::Bool(false)),
            Ok(OptValue::Bool(true))
        );
        assert_eq!(
            option_value(&g, "cc", &OptValue::Str("x".into())),
            Ok(OptValue::Str("bye".into()))
        );
        assert_eq!(
            option_value(&g, "zz", &OptValue::Int(-1)),
            Ok(OptValue::Int(-1))
        );
        let decl = |n: &str, d: OptValue| OptDecl {
            name: n.into(),
            default: d,
            description: None,
        };
        let e = validate_options(
            &given(&[("aa", Some("False"))]),
            &[decl("aa", OptValue::Int(10))],
        )
        .unwrap_err();
        assert_eq!(
            e.error.as_deref(),
            Some("program command line option --aa invalid integer (value: False)")
        );
        let e = validate_options(&given(&[("help", None)]), &[decl("aa", OptValue::Int(10))])
            .unwrap_err();
        assert_eq!(
            e,
            NamedError {
                error: None,
                hint: Some("expected program options:\n  --aa".into())
            }
        );
        let e = validate_options(&given(&[("zz", Some("1"))]), &[]).unwrap_err();
        assert_eq!(
            e.error.as_deref(),
            Some("unexpected program command line option --zz")
        );
    }
}
