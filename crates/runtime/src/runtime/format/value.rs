//! Decoded map keys/values and their plain-text rendering.

use crate::kinds::ValueKind;
use crate::program::{FieldType, StackMode};

/// One key field or plain value, decoded from BPF memory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    Int(i64),
    UInt(u64),
    Str(String),
    Bool(bool),
    Tuple(Vec<Value>),
    Record(Vec<(String, Value)>),
    /// Symbolized frames, outermost last, as `mode` writes them; `user` tells the flame
    /// graph which are kernel frames.
    Stack {
        user: bool,
        mode: StackMode,
        frames: Vec<String>,
    },
    /// An address: hex in text, a number in JSON.
    Ptr(u64),
    /// `buf()` bytes (only the written length).
    Buf(Vec<u8>),
    /// A kind's value as read from BPF (`ksym`'s address, `kstack`'s id and pid); the
    /// runtime resolves it (`kinds::Kind::resolve`: a `Str`, a `Stack`) before printing.
    Sym {
        kind: ValueKind,
        addr: u64,
        pid: u32,
    },
    /// An enum value and how text shows it (its enumerator, or the number); JSON shows
    /// the number.
    Enum {
        value: u64,
        text: String,
    },
    /// A C array: `[1,2,3]`.
    Array(Vec<Value>),
}

/// One map entry's value, already merged across CPUs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AggValue {
    /// `MapKind::Value`.
    Plain(Value),
    Count(u64),
    /// Int or UInt per `MapKind::Sum { signed }`.
    Sum(Value),
    /// Printed value is `total / count` (0 when `count == 0`), signed per the map kind.
    Avg {
        count: u64,
        total: i64,
    },
    Min(Value),
    Max(Value),
    Stats {
        count: u64,
        total: i64,
    },
    /// Bucket counts indexed by bucket index (`hist_index` / `lhist_index`), and the sum
    /// of the values when the map keeps it (`MapSpec::hist_sum`).
    Hist {
        counts: Vec<u64>,
        sum: Option<i64>,
    },
    /// One value per interval (`Int`/`UInt`), by epoch (ns / interval); epoch 0 is a slot
    /// that was zeroed or never completed.
    Tseries(std::collections::BTreeMap<u64, Value>),
}

/// One map entry; `key` is empty for a scalar map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapEntry {
    pub key: Vec<Value>,
    pub value: AggValue,
}

/// How `print(v)` or a key field shows a value: strings raw, integers in decimal.
pub fn value_text(v: &Value) -> String {
    let mut s = String::new();
    write_value(&mut s, v);
    s
}

/// `value_text`, appended to `out` (exit-time dumps write 100,000 rows into one buffer).
pub fn write_value(out: &mut String, v: &Value) {
    use std::fmt::Write;
    match v {
        Value::Int(i) => out.push_str(itoa::Buffer::new().format(*i)),
        Value::UInt(u) => out.push_str(itoa::Buffer::new().format(*u)),
        Value::Str(s) => out.push_str(s),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Ptr(p) | Value::Sym { addr: p, .. } => {
            let _ = write!(out, "{p:#x}");
        }
        Value::Buf(b) => out.push_str(&super::printf::buffer_text(b, super::printf::Conv::R)),
        // One frame a line, each indented 8 spaces, after a line break (bpftrace).
        Value::Stack { frames, .. } => {
            for f in frames {
                out.push_str("\n        ");
                out.push_str(f);
            }
            out.push('\n');
        }
        Value::Enum { text, .. } => out.push_str(text),
        Value::Array(xs) => {
            out.push('[');
            write_joined(out, xs, ",");
            out.push(']');
        }
        Value::Record(fields) => {
            out.push_str("{ ");
            for (i, (n, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push('.');
                out.push_str(n);
                out.push_str(" = ");
                write_value(out, v);
            }
            out.push_str(" }");
        }
        Value::Tuple(t) => {
            out.push('(');
            write_joined(out, t, ", ");
            out.push(')');
        }
    }
}

fn write_joined(out: &mut String, vs: &[Value], sep: &str) {
    for (i, v) in vs.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        write_value(out, v);
    }
}

/// Text between the brackets of `@name[...]`.
///
/// bpftrace renders a multi-field key as a tuple and then strips one pair of outer
/// parentheses; it applies the same stripping to a single key, so a string key
/// `"(x)"` prints as `x`. Reproduced for fidelity.
pub fn key_text(key: &[Value]) -> String {
    let mut s = String::new();
    write_key(&mut s, key);
    s
}

/// `key_text`, appended to `out`.
pub fn write_key(out: &mut String, key: &[Value]) {
    let start = out.len();
    match key {
        [one] => write_value(out, one),
        _ => {
            out.push('(');
            write_joined(out, key, ", ");
            out.push(')');
        }
    }
    let written = &out[start..];
    if written.len() >= 2 && written.starts_with('(') && written.ends_with(')') {
        out.pop();
        out.remove(start);
    }
}

/// `str_trunc_trailer`, appended to strings that filled their buffer (set per run; `None`
/// is bpftrace's default, `..`).
static TRAILER: std::sync::RwLock<Option<String>> = std::sync::RwLock::new(None);

/// The run's `str_trunc_trailer`.
pub fn set_trunc_trailer(t: &str) {
    *TRAILER.write().unwrap_or_else(|e| e.into_inner()) = Some(t.to_string());
}

/// Decodes one field as laid out in BPF memory (native-endian 8-byte ints,
/// NUL-padded strings). A string with no NUL inside its declared size was
/// truncated by the kernel side, so bpftrace marks it with `..`.
pub fn decode_field(ft: &FieldType, bytes: &[u8]) -> Value {
    match ft {
        FieldType::Int { signed } => {
            let mut b = [0u8; 8];
            let n = bytes.len().min(8);
            b[..n].copy_from_slice(&bytes[..n]);
            let raw = u64::from_ne_bytes(b);
            if *signed {
                Value::Int(raw as i64)
            } else {
                Value::UInt(raw)
            }
        }
        FieldType::Bool => Value::Bool(bytes.iter().take(8).any(|b| *b != 0)),
        FieldType::Ptr { .. } => {
            let mut b = [0u8; 8];
            let n = bytes.len().min(8);
            b[..n].copy_from_slice(&bytes[..n]);
            Value::Ptr(u64::from_ne_bytes(b))
        }
        FieldType::Str { size } => {
            let limit = (*size as usize).min(bytes.len());
            let len = bytes[..limit].iter().position(|&c| c == 0).unwrap_or(limit);
            let mut s = String::from_utf8_lossy(&bytes[..len]).into_owned();
            if len == *size as usize {
                let t = TRAILER.read().unwrap_or_else(|e| e.into_inner());
                s.push_str(t.as_deref().unwrap_or(".."));
            }
            Value::Str(s)
        }
        FieldType::Buf { size } => {
            let len = u64::from_ne_bytes(
                bytes
                    .get(..8)
                    .and_then(|b| b.try_into().ok())
                    .unwrap_or([0; 8]),
            );
            let data = bytes.get(8..).unwrap_or(&[]);
            let len = (len as usize).min(*size as usize).min(data.len());
            Value::Buf(data[..len].to_vec())
        }
        FieldType::Kind(k) => k.decode(bytes),
        FieldType::Enum(def) => {
            let value = word_at(bytes, 0);
            let text = def
                .name_of(value)
                .map_or_else(|| value.to_string(), str::to_string);
            Value::Enum { value, text }
        }
        FieldType::Array {
            elem,
            elem_size,
            len,
        } => {
            let size = *elem_size as usize;
            Value::Array(
                (0..*len as usize)
                    .map(|i| {
                        let at = (i * size).min(bytes.len());
                        let raw = &bytes[at..(at + size).min(bytes.len())];
                        decode_elem(elem, raw)
                    })
                    .collect(),
            )
        }
        FieldType::Record(names, elems) => {
            match decode_field(&FieldType::Tuple(elems.clone()), bytes) {
                Value::Tuple(vals) => Value::Record(names.iter().cloned().zip(vals).collect()),
                _ => unreachable!("a tuple decodes to a tuple"),
            }
        }
        FieldType::Tuple(elems) => Value::Tuple(
            elems
                .iter()
                .zip(FieldType::offsets(elems))
                .map(|(f, off)| {
                    let end = (off + f.size()).min(bytes.len());
                    decode_field(f, &bytes[off.min(end)..end])
                })
                .collect(),
        ),
    }
}

/// The native-endian u64 at `off` (missing bytes read as zero).
fn word_at(bytes: &[u8], off: usize) -> u64 {
    let mut b = [0u8; 8];
    let src = bytes.get(off..).unwrap_or(&[]);
    let n = src.len().min(8);
    b[..n].copy_from_slice(&src[..n]);
    u64::from_ne_bytes(b)
}

/// One array element, `raw` being its C bytes: integers narrower than 8 bytes are
/// extended by their sign.
fn decode_elem(elem: &FieldType, raw: &[u8]) -> Value {
    let bits = (raw.len() * 8).min(64) as u32;
    let v = word_at(raw, 0);
    match elem {
        FieldType::Int { signed: true } if bits > 0 && bits < 64 => {
            let shift = 64 - bits;
            Value::Int(((v << shift) as i64) >> shift)
        }
        FieldType::Int { signed: true } => Value::Int(v as i64),
        _ => decode_field(elem, raw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::Str(x.into())
    }

    #[test]
    fn text_of_values() {
        assert_eq!(value_text(&Value::Int(-5)), "-5");
        assert_eq!(value_text(&Value::UInt(u64::MAX)), "18446744073709551615");
        assert_eq!(value_text(&s("a b")), "a b");
    }

    #[test]
    fn key_texts() {
        assert_eq!(key_text(&[Value::Int(2), Value::Int(1)]), "2, 1");
        assert_eq!(key_text(&[s("bash"), Value::UInt(1234)]), "bash, 1234");
        assert_eq!(key_text(&[s("x")]), "x");
        assert_eq!(key_text(&[s("(x)")]), "x");
        assert_eq!(key_text(&[s("(")]), "(");
        assert_eq!(key_text(&[]), "");
        assert_eq!(key_text(&[Value::Ptr(0x32)]), "0x32");
        assert_eq!(value_text(&Value::Ptr(0)), "0x0");
    }

    #[test]
    fn decode() {
        let b = (-3i64).to_ne_bytes();
        assert_eq!(
            decode_field(&FieldType::Int { signed: true }, &b),
            Value::Int(-3)
        );
        assert_eq!(
            decode_field(&FieldType::Int { signed: false }, &b),
            Value::UInt((-3i64) as u64)
        );
        let mut buf = [0u8; 8];
        buf[..3].copy_from_slice(b"abc");
        assert_eq!(decode_field(&FieldType::Str { size: 8 }, &buf), s("abc"));
        assert_eq!(
            decode_field(&FieldType::Str { size: 3 }, b"abcdefgh"),
            s("abc..")
        );
        assert_eq!(
            decode_field(&FieldType::Str { size: 4 }, b"abc\0zzzz"),
            s("abc")
        );
    }
}

/// An IPv6 address as glibc's `inet_ntop` writes it: like RFC 5952 (Rust's `Ipv6Addr`),
/// except that IPv4-compatible addresses (`::a.b.c.d`, but not `::` and `::1`) keep the
/// dotted quad.
pub fn inet6_text(a: [u8; 16]) -> String {
    let ip = std::net::Ipv6Addr::from(a);
    let seg = ip.segments();
    if seg[..6] == [0; 6] && seg[6] != 0 {
        return format!("::{}.{}.{}.{}", a[12], a[13], a[14], a[15]);
    }
    ip.to_string()
}

#[cfg(test)]
mod inet6_tests {
    use super::inet6_text;

    #[test]
    fn ipv6_text_like_inet_ntop() {
        let parse = |s: &str| s.parse::<std::net::Ipv6Addr>().unwrap().octets();
        for (addr, text) in [
            ("::", "::"),
            ("::1", "::1"),
            ("2001:db8::1", "2001:db8::1"),
            ("fe80::1234", "fe80::1234"),
            ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
            ("::1.2.3.4", "::1.2.3.4"),
            ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
        ] {
            assert_eq!(inet6_text(parse(addr)), text, "{addr}");
        }
    }
}
