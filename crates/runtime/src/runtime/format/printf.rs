//! printf() format strings: parsing (for sema) and C-printf rendering (for the runtime).
//!
//! bpftrace hands each conversion to snprintf after casting the 64-bit argument to the
//! C type the length modifier names, so `%d`/`%x` without a modifier see only the low
//! 32 bits (`printf("%x", 0x12345678abcdef)` prints `78abcdef`), `%hhx` the low 8, and
//! `%lx`/`%llx`/`%jx`/`%zx`/`%tx` all 64.

use super::value::{value_text, Value};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    pub minus: bool,
    pub plus: bool,
    pub space: bool,
    pub hash: bool,
    pub zero: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    None,
    Hh,
    H,
    L,
    Ll,
    J,
    Z,
    T,
    /// `L`: accepted; integers are 64-bit with it, as with `ll`.
    BigL,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conv {
    D,
    I,
    U,
    O,
    X,
    UpperX,
    C,
    S,
    P,
    /// `%r`, `%rx`, `%rh`: a buffer, pre-rendered by `buffer_text`.
    R,
    Rx,
    Rh,
    /// `%gr`: GFP flags by name.
    Gr,
}

/// What sema must check for the argument of a conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// d i u o x X c p: an integer (or bool/pointer/enum).
    Int,
    /// s: anything printable.
    Any,
    /// r rx rh: a buffer.
    Buffer,
}

/// One parsed conversion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatSpec {
    pub flags: Flags,
    pub width: Option<usize>,
    pub precision: Option<usize>,
    pub length: Length,
    pub conv: Conv,
    /// The conversion as written, e.g. `%-5lu`.
    pub text: String,
}

impl FormatSpec {
    pub fn arg_kind(&self) -> ArgKind {
        match self.conv {
            Conv::S => ArgKind::Any,
            Conv::R | Conv::Rx | Conv::Rh => ArgKind::Buffer,
            _ => ArgKind::Int,
        }
    }

    /// Bits of the integer the conversion reads.
    pub fn int_bits(&self) -> u32 {
        match (self.conv, self.length) {
            (Conv::C, _) => 8,
            (Conv::P, _) => 64,
            (_, Length::Hh) => 8,
            (_, Length::H) => 16,
            (_, Length::None) => 32,
            _ => 64,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Lit(String),
    Spec(FormatSpec),
}

/// Splits a format string. `%%` becomes a literal `%`. A `%` that does not start a
/// conversion (`100%`, `50%)`) stays literal text, as in bpftrace; C conversions
/// bpftrace does not support (`%f`, `%n`, ...) and `*` widths are errors.
pub fn parse_format(fmt: &str) -> Result<Vec<Piece>, String> {
    let b = fmt.as_bytes();
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            let next = fmt[i..].find('%').map_or(b.len(), |p| i + p);
            lit.push_str(&fmt[i..next]);
            i = next;
            continue;
        }
        match parse_spec(fmt, i)? {
            Parsed::Percent(end) => {
                lit.push('%');
                i = end;
            }
            Parsed::Spec(spec, end) => {
                if !lit.is_empty() {
                    pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                pieces.push(Piece::Spec(spec));
                i = end;
            }
            Parsed::NotASpec => {
                lit.push('%');
                i += 1;
            }
        }
    }
    if !lit.is_empty() {
        pieces.push(Piece::Lit(lit));
    }
    Ok(pieces)
}

enum Parsed {
    Percent(usize),
    Spec(FormatSpec, usize),
    NotASpec,
}

fn parse_spec(fmt: &str, start: usize) -> Result<Parsed, String> {
    let b = fmt.as_bytes();
    let mut i = start + 1;
    let mut flags = Flags::default();
    while i < b.len() {
        match b[i] {
            b'-' => flags.minus = true,
            b'+' => flags.plus = true,
            b' ' => flags.space = true,
            b'#' => flags.hash = true,
            b'0' => flags.zero = true,
            _ => break,
        }
        i += 1;
    }
    let digits = |i: &mut usize| -> Option<usize> {
        let s = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        (s != *i).then(|| fmt[s..*i].parse().unwrap_or(usize::MAX))
    };
    let width = digits(&mut i);
    let mut precision = None;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        precision = Some(digits(&mut i).unwrap_or(0));
    }
    if i < b.len() && b[i] == b'*' {
        return Err(format!(
            "printf: '*' width or precision is not supported: {}",
            &fmt[start..=i]
        ));
    }
    let (length, len_end) = parse_length(b, i);
    i = len_end;
    let Some(&c) = b.get(i) else {
        return Ok(Parsed::NotASpec);
    };
    let mut end = i + 1;
    let conv = match c {
        b'%' => return Ok(Parsed::Percent(end)),
        b'd' => Conv::D,
        b'i' => Conv::I,
        b'u' => Conv::U,
        b'o' => Conv::O,
        b'x' => Conv::X,
        b'X' => Conv::UpperX,
        b'c' => Conv::C,
        b's' => Conv::S,
        b'p' => Conv::P,
        b'r' => match b.get(end) {
            Some(b'x') => {
                end += 1;
                Conv::Rx
            }
            Some(b'h') => {
                end += 1;
                Conv::Rh
            }
            _ => Conv::R,
        },
        b'g' if b.get(end) == Some(&b'r') => {
            end += 1;
            Conv::Gr
        }
        b'f' | b'F' | b'e' | b'E' | b'g' | b'G' | b'a' | b'A' | b'n' => {
            let text = &fmt[start..end];
            return Err(format!("printf: unsupported format specifier: {text}"));
        }
        _ => return Ok(Parsed::NotASpec),
    };
    let text = fmt[start..end].to_string();
    Ok(Parsed::Spec(
        FormatSpec {
            flags,
            width,
            precision,
            length,
            conv,
            text,
        },
        end,
    ))
}

fn parse_length(b: &[u8], i: usize) -> (Length, usize) {
    let two = |x: u8, y: u8| b.get(i) == Some(&x) && b.get(i + 1) == Some(&y);
    if two(b'h', b'h') {
        return (Length::Hh, i + 2);
    }
    if two(b'l', b'l') {
        return (Length::Ll, i + 2);
    }
    let one = match b.get(i) {
        Some(b'h') => Length::H,
        Some(b'l') => Length::L,
        Some(b'j') => Length::J,
        Some(b'z') => Length::Z,
        Some(b't') => Length::T,
        Some(b'L') => Length::BigL,
        _ => return (Length::None, i),
    };
    (one, i + 1)
}

fn specs(fmt: &str) -> Result<Vec<FormatSpec>, String> {
    Ok(parse_format(fmt)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Spec(s) => Some(s),
            Piece::Lit(_) => None,
        })
        .collect())
}

/// Number of arguments the format string consumes.
pub fn conversion_count(fmt: &str) -> Result<usize, String> {
    Ok(specs(fmt)?.len())
}

/// Per argument, what kind of value the conversion accepts.
pub fn arg_kinds(fmt: &str) -> Result<Vec<ArgKind>, String> {
    Ok(specs(fmt)?.iter().map(FormatSpec::arg_kind).collect())
}

/// bpftrace's buffer rendering for %r (printable ASCII kept, other bytes `\xNN`),
/// %rx (every byte `\xNN`) and %rh (`0a fe`).
pub fn buffer_text(bytes: &[u8], conv: Conv) -> String {
    let keep_ascii = matches!(conv, Conv::R);
    let escape_hex = !matches!(conv, Conv::Rh);
    let mut out = String::new();
    for (i, &c) in bytes.iter().enumerate() {
        if keep_ascii && (32..=126).contains(&c) {
            out.push(c as char);
        } else if escape_hex {
            out.push_str(&format!("\\x{c:02x}"));
        } else if i + 1 == bytes.len() {
            out.push_str(&format!("{c:02x}"));
        } else {
            out.push_str(&format!("{c:02x} "));
        }
    }
    out
}

/// Renders parsed pieces with their arguments. A conversion without an argument is
/// printed as written.
pub fn format(pieces: &[Piece], args: &[Value]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    for p in pieces {
        match p {
            Piece::Lit(s) => out.push_str(s),
            Piece::Spec(spec) => match args.next() {
                Some(v) => out.push_str(&format_one(spec, v)),
                None => out.push_str(&spec.text),
            },
        }
    }
    out
}

/// Parses and renders in one go; a bad format is printed as is.
pub fn format_str(fmt: &str, args: &[Value]) -> String {
    match parse_format(fmt) {
        Ok(p) => format(&p, args),
        Err(_) => fmt.to_string(),
    }
}

fn format_one(spec: &FormatSpec, v: &Value) -> String {
    let raw = match v {
        Value::Int(i) => *i as u64,
        Value::UInt(u) | Value::Ptr(u) | Value::Enum { value: u, .. } => *u,
        Value::Bool(b) if matches!(spec.conv, Conv::S) => return pad_str(spec, &value_text(v)),
        Value::Bool(b) => *b as u64,
        // Only %s/%r take strings and tuples (sema's job); anything else falls back to text.
        Value::Str(s) => return pad_str(spec, s),
        Value::Buf(b) => {
            return match spec.conv {
                Conv::R | Conv::Rx | Conv::Rh => pad_str(spec, &buffer_text(b, spec.conv)),
                _ => pad_str(spec, &value_text(v)),
            }
        }
        Value::Tuple(_)
        | Value::Record(_)
        | Value::Stack { .. }
        | Value::Array(_)
        | Value::Sym { .. } => return pad_str(spec, &value_text(v)),
    };
    match spec.conv {
        Conv::S | Conv::R | Conv::Rx | Conv::Rh => pad_str(spec, &value_text(v)),
        Conv::C => {
            let byte = raw as u8;
            // snprintf output is copied up to the first NUL, so a NUL char cuts the
            // conversion's output there.
            let c = if byte < 0x80 {
                byte as char
            } else {
                char::REPLACEMENT_CHARACTER
            };
            let s = pad(spec.flags.minus, spec.width, c.to_string(), c.len_utf8());
            s.split('\0').next().unwrap_or("").to_string()
        }
        Conv::Gr => pad_str(spec, &super::gfp::gfp_text(raw)),
        Conv::P if raw == 0 => {
            let spec = FormatSpec {
                precision: None,
                ..spec.clone()
            };
            pad_str(&spec, "(nil)")
        }
        _ => format_int(spec, raw),
    }
}

/// %s: precision truncates (at a char boundary), width pads with spaces, in bytes.
fn pad_str(spec: &FormatSpec, s: &str) -> String {
    let mut end = spec.precision.unwrap_or(usize::MAX).min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let s = &s[..end];
    pad(spec.flags.minus, spec.width, s.to_string(), s.len())
}

fn pad(left: bool, width: Option<usize>, s: String, len: usize) -> String {
    let fill = width.unwrap_or(0).saturating_sub(len);
    if fill == 0 {
        s
    } else if left {
        s + &" ".repeat(fill)
    } else {
        " ".repeat(fill) + &s
    }
}

fn format_int(spec: &FormatSpec, raw: u64) -> String {
    let bits = spec.int_bits();
    let masked = if bits == 64 {
        raw
    } else {
        raw & ((1u64 << bits) - 1)
    };
    let signed = matches!(spec.conv, Conv::D | Conv::I);
    let (neg, mag) = if signed {
        let shift = 64 - bits;
        let v = ((masked << shift) as i64) >> shift;
        (v < 0, v.unsigned_abs())
    } else {
        (false, masked)
    };
    let mut digits = match spec.conv {
        Conv::O => format!("{mag:o}"),
        Conv::X | Conv::P => format!("{mag:x}"),
        Conv::UpperX => format!("{mag:X}"),
        _ => mag.to_string(),
    };
    if let Some(p) = spec.precision {
        if p == 0 && mag == 0 {
            digits.clear();
        } else if digits.len() < p {
            digits = "0".repeat(p - digits.len()) + &digits;
        }
    }
    let f = spec.flags;
    let mut prefix = String::new();
    if neg {
        prefix.push('-');
    } else if signed || spec.conv == Conv::P {
        if f.plus {
            prefix.push('+');
        } else if f.space {
            prefix.push(' ');
        }
    }
    match spec.conv {
        Conv::O if f.hash && !digits.starts_with('0') => digits.insert(0, '0'),
        Conv::X if f.hash && mag != 0 => prefix.push_str("0x"),
        Conv::UpperX if f.hash && mag != 0 => prefix.push_str("0X"),
        Conv::P => prefix.push_str("0x"),
        _ => {}
    }
    let len = prefix.len() + digits.len();
    let width = spec.width.unwrap_or(0);
    if f.zero && !f.minus && spec.precision.is_none() && len < width {
        return prefix + &"0".repeat(width - len) + &digits;
    }
    pad(f.minus, spec.width, prefix + &digits, len)
}

#[cfg(test)]
#[path = "printf_tests.rs"]
mod tests;
