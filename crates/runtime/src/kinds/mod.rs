//! Value kinds: values a stdlib function hands the runtime to show (`ntop`'s addresses,
//! `ksym`'s names, `strftime`'s times, `kstack`'s frames).
//!
//! Each kind is one entry in `KINDS` and one file here: its record size, how its bytes
//! decode, how what is left a number is resolved when the output is written, its type's
//! names. Text and JSON show the decoded or resolved value (a string, or a stack's
//! frames). Sema, codegen and the printers treat every kind alike, through `ValueKind`;
//! the function that makes one is one file in `stdlib/` (its type rule and its code).
//! Adding a kind adds no variant anywhere.

mod cgroup;
mod net;
mod stack;
mod symbols;
mod time;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::runtime::format::value::Value;
use crate::runtime::stacks::Stacks;

pub use cgroup::CGROUP_PATH;
pub use net::{INET, MACADDR};
pub use stack::{Stack, KSTACK, USTACK};
pub use symbols::{KSYM, USYM};
pub use time::TIMESTAMP;

/// Every kind, by the name program descriptions and artifacts use.
pub static KINDS: &[&dyn Kind] = &[
    &KSYM,
    &USYM,
    &CGROUP_PATH,
    &INET,
    &MACADDR,
    &TIMESTAMP,
    &KSTACK,
    &USTACK,
];

/// One value kind.
pub trait Kind: Sync {
    /// Its name in program descriptions and artifacts.
    fn name(&self) -> &'static str;
    /// Its type's name (`typeof`, diagnostics).
    fn type_name(&self) -> &'static str;
    /// Its family, as messages about map kinds name it.
    fn family(&self) -> &'static str {
        "symbol"
    }
    /// Its name in `typeinfo`.
    fn typeinfo(&self) -> &'static str {
        self.family()
    }
    /// Bytes in a record, key or value; a multiple of 8. Eight-byte kinds are one word in
    /// registers, larger ones are copied as a whole.
    fn size(&self) -> usize {
        8
    }
    /// The value read from BPF memory. `arg` is what the call fixed when it was compiled
    /// (`strftime`'s format, `cgroup_path`'s filter).
    fn decode(&self, bytes: &[u8], arg: &str) -> Value;
    /// Resolves a value `decode` left as a number (`Value::Sym`): addresses and stack ids
    /// need the symbolizer, the stack map and the process, which exist only while the
    /// output is written.
    fn resolve(&self, addr: u64, _pid: u32, _arg: &str, _stacks: &Stacks) -> Value {
        Value::Str(format!("{addr:#x}"))
    }
    /// Whether showing it names kernel addresses.
    fn names_kernel_addresses(&self) -> bool {
        false
    }
}

/// A kind and what its call fixed when it was compiled.
#[derive(Clone)]
pub struct ValueKind {
    kind: &'static dyn Kind,
    pub arg: String,
}

impl ValueKind {
    pub fn new(kind: &'static dyn Kind, arg: impl Into<String>) -> Self {
        ValueKind {
            kind,
            arg: arg.into(),
        }
    }

    pub fn kind(&self) -> &'static dyn Kind {
        self.kind
    }

    pub fn is(&self, kind: &dyn Kind) -> bool {
        self.kind.name() == kind.name()
    }

    pub fn decode(&self, bytes: &[u8]) -> Value {
        self.kind.decode(bytes, &self.arg)
    }

    /// See `Kind::resolve`.
    pub fn resolve(&self, addr: u64, pid: u32, stacks: &Stacks) -> Value {
        self.kind.resolve(addr, pid, &self.arg, stacks)
    }
}

impl PartialEq for ValueKind {
    fn eq(&self, other: &Self) -> bool {
        self.kind.name() == other.kind.name() && self.arg == other.arg
    }
}

impl Eq for ValueKind {}

impl std::hash::Hash for ValueKind {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.kind.name().hash(h);
        self.arg.hash(h);
    }
}

impl std::fmt::Debug for ValueKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.arg.is_empty() {
            true => write!(f, "{}", self.kind.name()),
            false => write!(f, "{}({:?})", self.kind.name(), self.arg),
        }
    }
}

/// How a kind is written in a description: by name, so the order of `KINDS` is free.
#[derive(Serialize, Deserialize)]
struct Named {
    kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    arg: String,
}

impl Serialize for ValueKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Named {
            kind: self.kind.name().to_string(),
            arg: self.arg.clone(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for ValueKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = Named::deserialize(d)?;
        let kind = by_name(&n.kind)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown value kind `{}`", n.kind)))?;
        Ok(ValueKind::new(kind, n.arg))
    }
}

pub fn by_name(name: &str) -> Option<&'static dyn Kind> {
    KINDS.iter().copied().find(|k| k.name() == name)
}

/// The 8-byte word at `off` (zero past the end).
pub(crate) fn word_at(bytes: &[u8], off: usize) -> u64 {
    let mut b = [0u8; 8];
    let src = bytes.get(off..).unwrap_or(&[]);
    let n = src.len().min(8);
    b[..n].copy_from_slice(&src[..n]);
    u64::from_ne_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_sizes_whole_words() {
        for (i, k) in KINDS.iter().enumerate() {
            assert!(
                KINDS[..i].iter().all(|o| o.name() != k.name()),
                "{}",
                k.name()
            );
            assert_eq!(k.size() % 8, 0, "{}", k.name());
        }
    }

    #[test]
    fn a_kind_goes_through_a_description_by_name() {
        let k = ValueKind::new(&CGROUP_PATH, "unified");
        let text = serde_json::to_string(&k).unwrap();
        assert_eq!(text, r#"{"kind":"cgroup_path","arg":"unified"}"#);
        assert_eq!(serde_json::from_str::<ValueKind>(&text).unwrap(), k);
        let e = serde_json::from_str::<ValueKind>(r#"{"kind":"nope"}"#).unwrap_err();
        assert!(e.to_string().contains("unknown value kind `nope`"), "{e}");
    }
}
