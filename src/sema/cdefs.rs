//! C struct and union definitions written in a script (`struct Foo { int x; char c; }`),
//! laid out as GCC does on x86-64 and arm64: members aligned to their type, bitfields packed
//! into units of their declared type, `__attribute__((packed))` and `aligned(N)` honoured.
//! Enums (`enum Foo { A = 1, B }`) define constants.

use super::structs::{Layout, Member, Registry};
use super::types::{StructRef, Type};
use crate::diag::{Diagnostic, Result, Span};

/// Defines every struct in `text` (a top-level item starting at `base` in the source).
pub fn define(reg: &mut Registry, text: &str, base: usize) -> Result<()> {
    let toks = tokenize(text, base)?;
    let mut p = Parser {
        toks,
        pos: 0,
        end: (base + text.len(), base + text.len()),
        reg,
        anon: 0,
    };
    if p.peek() == Some("enum") {
        p.pos += 1;
        return p.enum_body();
    }
    let (t, span) = p.type_spec()?;
    if !matches!(t, Type::Struct(_)) {
        return Err(Diagnostic::error(
            "expected a struct or union definition",
            span,
        ));
    }
    p.attributes()?;
    p.eat(";");
    if p.pos < p.toks.len() {
        return Err(Diagnostic::error(
            "unexpected text after the definition",
            p.span(),
        ));
    }
    Ok(())
}

fn tokenize(text: &str, base: usize) -> Result<Vec<(String, Span)>> {
    let b = text.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if text[i..].starts_with("//") {
            i += text[i..].find('\n').unwrap_or(text.len() - i);
            continue;
        }
        if text[i..].starts_with("/*") {
            i += text[i..].find("*/").map_or(text.len() - i, |e| e + 2);
            continue;
        }
        if c.is_ascii_alphanumeric() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
        } else if b"{}[]();:,*=-".contains(&c) {
            i += 1;
        } else {
            return Err(Diagnostic::error(
                format!("unexpected `{}` in a C definition", c as char),
                (base + i, base + i + 1),
            ));
        }
        out.push((text[start..i].to_string(), (base + start, base + i)));
    }
    Ok(out)
}

struct Parser<'r> {
    toks: Vec<(String, Span)>,
    pos: usize,
    end: Span,
    reg: &'r mut Registry,
    anon: u32,
}

/// What `__attribute__((…))` asked for.
#[derive(Default)]
struct Attrs {
    packed: bool,
    aligned: Option<u64>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&str> {
        self.toks.get(self.pos).map(|t| t.0.as_str())
    }
    fn span(&self) -> Span {
        self.toks.get(self.pos).map_or(self.end, |t| t.1)
    }
    fn eat(&mut self, s: &str) -> bool {
        if self.peek() == Some(s) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, s: &str) -> Result<()> {
        if self.eat(s) {
            return Ok(());
        }
        let found = self.peek().map_or("the end".into(), |t| format!("`{t}`"));
        Err(Diagnostic::error(
            format!("expected `{s}`, found {found}"),
            self.span(),
        ))
    }
    fn ident(&mut self) -> Option<String> {
        let t = self.peek()?;
        if t.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            let t = t.to_string();
            self.pos += 1;
            return Some(t);
        }
        None
    }
    fn number(&mut self) -> Result<u64> {
        let span = self.span();
        let t = self.peek().unwrap_or("").to_string();
        let v = super::parse_int(&t).filter(|v| *v >= 0);
        match v {
            Some(v) => {
                self.pos += 1;
                Ok(v as u64)
            }
            None => Err(Diagnostic::error("expected a number", span)),
        }
    }

    /// `[name] { A [= value], … };` after `enum`; a value is a number or an earlier constant.
    fn enum_body(&mut self) -> Result<()> {
        let name = self.ident().map_or(String::new(), |n| format!("enum {n}"));
        self.expect("{")?;
        let (mut variants, mut next): (Vec<(String, i64)>, i64) = (vec![], 0);
        while !self.eat("}") {
            let span = self.span();
            let v = self
                .ident()
                .ok_or_else(|| Diagnostic::error("expected an enum constant", span))?;
            if self.eat("=") {
                let neg = self.eat("-");
                let vspan = self.span();
                next = match self.ident() {
                    Some(prev) => variants
                        .iter()
                        .find(|(n, _)| *n == prev)
                        .map(|(_, x)| *x)
                        .ok_or_else(|| {
                            Diagnostic::error(format!("unknown constant `{prev}`"), vspan)
                        })?,
                    None => self.number()? as i64,
                };
                if neg {
                    next = -next;
                }
            }
            variants.push((v, next));
            next += 1;
            if !self.eat(",") {
                self.expect("}")?;
                break;
            }
        }
        self.attributes()?;
        self.eat(";");
        if self.pos < self.toks.len() {
            return Err(Diagnostic::error(
                "unexpected text after the definition",
                self.span(),
            ));
        }
        self.reg.define_enum(&name, variants);
        Ok(())
    }

    /// `__attribute__((packed, aligned(N)))`, any number of times.
    fn attributes(&mut self) -> Result<Attrs> {
        let mut a = Attrs::default();
        while self.eat("__attribute__") {
            self.expect("(")?;
            self.expect("(")?;
            loop {
                match self.ident().as_deref() {
                    Some("packed" | "__packed__") => a.packed = true,
                    Some("aligned" | "__aligned__") => {
                        self.expect("(")?;
                        a.aligned = Some(self.number()?);
                        self.expect(")")?;
                    }
                    Some(_) => {}
                    None => break,
                }
                if !self.eat(",") {
                    break;
                }
            }
            self.expect(")")?;
            self.expect(")")?;
        }
        Ok(a)
    }

    /// A member's type before its declarator: `unsigned long`, `struct X`, `struct { … }`.
    fn type_spec(&mut self) -> Result<(Type, Span)> {
        while matches!(self.peek(), Some("const" | "volatile")) {
            self.pos += 1;
        }
        let start = self.span();
        let word = self.peek().unwrap_or("").to_string();
        if word == "struct" || word == "union" {
            self.pos += 1;
            let pre = self.attributes()?;
            let name = self.ident();
            if self.peek() != Some("{") {
                let Some(name) = name else {
                    return Err(Diagnostic::error("expected a struct name", self.span()));
                };
                let full = format!("{word} {name}");
                // Only a pointer may name a struct defined later (or itself).
                return Ok((
                    self.reg.resolve(&full).unwrap_or(Type::Opaque(full)),
                    (start.0, self.toks[self.pos - 1].1 .1),
                ));
            }
            let full = match name {
                Some(n) => format!("{word} {n}"),
                None => {
                    self.anon += 1;
                    format!("{word} <anon {}>", self.anon)
                }
            };
            let l = self.body(&full, word == "union", pre)?;
            let r = l.r.clone();
            self.reg.define(l);
            return Ok((Type::Struct(r), (start.0, self.toks[self.pos - 1].1 .1)));
        }
        if word == "enum" {
            self.pos += 1;
            let name = self.ident().unwrap_or_default();
            let span = (start.0, self.toks[self.pos - 1].1 .1);
            let t = self
                .reg
                .resolve(&format!("enum {name}"))
                .map_err(|m| Diagnostic::error(m, span))?;
            return Ok((t, span));
        }
        let mut words = vec![];
        while let Some(w) = self.peek() {
            let c_word = matches!(
                w,
                "char" | "short" | "int" | "long" | "signed" | "unsigned" | "const" | "volatile"
            );
            if !(c_word || words.is_empty()) {
                break;
            }
            words.push(w.to_string());
            self.pos += 1;
            if !c_word {
                break;
            }
        }
        let span = (
            start.0,
            self.toks
                .get(self.pos.max(1) - 1)
                .map_or(start.1, |t| t.1 .1),
        );
        let name: Vec<&str> = words
            .iter()
            .map(String::as_str)
            .filter(|w| !matches!(*w, "const" | "volatile"))
            .collect();
        if name.is_empty() {
            return Err(Diagnostic::error("expected a type", start));
        }
        let name = name.join(" ");
        let t = self
            .reg
            .resolve(&name)
            .map_err(|m| Diagnostic::error(m, span))?;
        Ok((t, span))
    }

    /// `{ members } attributes`, laid out.
    fn body(&mut self, name: &str, union: bool, pre: Attrs) -> Result<Layout> {
        self.expect("{")?;
        let mut decls = vec![];
        while !self.eat("}") {
            if self.pos >= self.toks.len() {
                return Err(Diagnostic::error("a `}` is missing", self.end));
            }
            let (base, base_span) = self.type_spec()?;
            loop {
                decls.push(self.declarator(&base, base_span)?);
                if !self.eat(",") {
                    break;
                }
            }
            self.attributes()?;
            // Clang (and so bpftrace) lets the last member's `;` go missing.
            if self.peek() != Some("}") {
                self.expect(";")?;
            }
        }
        let post = self.attributes()?;
        let attrs = Attrs {
            packed: pre.packed || post.packed,
            aligned: post.aligned.or(pre.aligned),
        };
        Ok(lay_out(name, union, decls, &attrs))
    }

    /// `*name[N]` or `name : bits`.
    fn declarator(&mut self, base: &Type, base_span: Span) -> Result<Decl> {
        let mut t = base.clone();
        while self.eat("*") {
            t = Type::ptr(t, false);
        }
        let name = self.ident().unwrap_or_default();
        let mut dims = vec![];
        while self.eat("[") {
            dims.push(self.number()?);
            self.expect("]")?;
        }
        for n in dims.into_iter().rev() {
            t = match t {
                Type::Int { bits: 8, .. } => Type::Str { size: n as u32 },
                elem => Type::Array {
                    elem: Box::new(elem),
                    len: n,
                },
            };
        }
        let bits = if self.eat(":") {
            let w = self.number()?;
            if !t.is_int() || w > t.c_layout().0 * 8 {
                return Err(Diagnostic::error(
                    format!("a bitfield of {} cannot be {w} bits wide", t.describe()),
                    base_span,
                ));
            }
            Some(w as u32)
        } else {
            None
        };
        if matches!(t, Type::Opaque(_) | Type::Void) {
            return Err(Diagnostic::error(
                format!("`{}` has no known size", t.describe_c()),
                base_span,
            )
            .with_note("only a pointer to it can be a member"));
        }
        Ok(Decl { name, ty: t, bits })
    }
}

struct Decl {
    name: String,
    ty: Type,
    bits: Option<u32>,
}

fn lay_out(name: &str, union: bool, decls: Vec<Decl>, a: &Attrs) -> Layout {
    let (mut bit, mut size_bits, mut align) = (0u64, 0u64, 1u64);
    let mut members = vec![];
    for d in decls {
        let (size, natural) = d.ty.c_layout();
        let al = if a.packed { 1 } else { natural.max(1) };
        if union {
            bit = 0;
        }
        let at = match d.bits {
            // A zero-width bitfield only pads to its unit.
            Some(0) => {
                bit = bit.div_ceil(al * 8) * al * 8;
                continue;
            }
            Some(w) => {
                let unit = al * 8;
                if !a.packed && (bit % unit) + w as u64 > size * 8 {
                    bit = bit.div_ceil(unit) * unit;
                }
                bit
            }
            None => bit.div_ceil(al * 8) * al * 8,
        };
        align = align.max(al);
        let width = d.bits.map_or(size * 8, u64::from);
        bit = at + width;
        size_bits = size_bits.max(bit);
        if !d.name.is_empty() {
            members.push(Member {
                name: d.name,
                offset: at / 8,
                bitfield: d.bits.map(|w| ((at % 8) as u32, w)),
                ty: d.ty,
            });
        }
    }
    if let Some(n) = a.aligned {
        align = if a.packed { n.max(1) } else { align.max(n) };
    }
    let size = size_bits.div_ceil(8).div_ceil(align) * align;
    Layout {
        r: StructRef {
            name: name.to_string(),
            size,
            align,
        },
        members,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(src: &str) -> Layout {
        let mut reg = Registry::default();
        define(&mut reg, src, 0).unwrap();
        let name = src.split('{').next().unwrap().trim().to_string();
        (*reg.layout(&name).unwrap()).clone()
    }

    #[test]
    fn sizes() {
        assert_eq!(layout("struct Foo { int x; char c; }").r.size, 8);
        assert_eq!(
            layout("struct A {int32_t a; int32_t b; char c[28] };")
                .r
                .size,
            36
        );
        let s = "struct bar { int x; char y; int z; } __attribute__((packed))";
        assert_eq!(layout(s).r.size, 9);
        let s = "struct bar { int x; char y; int z; } __attribute__((packed)) __attribute__((aligned(1)))";
        assert_eq!(layout(s).r.size, 9);
        assert_eq!(layout("union u { char c; long l; }").r.size, 8);
        let l = layout("struct n { struct n *next; short s; }");
        assert_eq!((l.r.size, l.members[1].offset), (16, 8));
    }

    #[test]
    fn enums() {
        let mut reg = Registry::default();
        define(&mut reg, "enum Foo { A, B = 5, C, D = -2, E = B };", 0).unwrap();
        let v: Vec<_> = ["A", "B", "C", "D", "E"]
            .iter()
            .map(|n| reg.enum_value(n).unwrap())
            .collect();
        assert_eq!(v, [0, 5, 6, -2, 5]);
    }

    #[test]
    fn bitfields() {
        let l = layout(
            "struct foo { unsigned long long x_0:1; unsigned long long x_1:1; unsigned long long x_2:2; }",
        );
        assert_eq!(l.r.size, 8);
        let at: Vec<_> = l.members.iter().map(|m| (m.offset, m.bitfield)).collect();
        assert_eq!(
            at,
            [(0, Some((0, 1))), (0, Some((1, 1))), (0, Some((2, 2)))]
        );
        let l = layout("struct b { char a; int x:30; int y:4; }");
        let at: Vec<_> = l.members.iter().map(|m| m.offset).collect();
        assert_eq!((at, l.r.size), (vec![0, 4, 8], 12));
    }
}
