//! The BTF side of a copied program: a `FUNC` under its name (the template's prototype)
//! and `.BTF.ext` function and line records in its section. Layouts: the kernel's
//! `Documentation/bpf/btf.rst` and libbpf's `btf.h`.

use std::collections::HashMap;

type Res<T> = std::result::Result<T, String>;

const BTF_MAGIC: u16 = 0xeb9f;
const KIND_FUNC: u32 = 12;

fn u32_at(d: &[u8], at: usize) -> Res<u32> {
    d.get(at..at + 4)
        .map(|b| u32::from_le_bytes(b.try_into().unwrap_or_default()))
        .ok_or_else(|| format!("BTF truncated at {at}"))
}

fn put_u32(d: &mut [u8], at: usize, v: u32) {
    d[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Bytes a type's record takes after its 12-byte common part.
fn extra(kind: u32, vlen: usize) -> Res<usize> {
    Ok(match kind {
        2 | 7..=12 | 16 | 18 => 0,
        1 | 14 | 17 => 4,
        3 => 12,
        4 | 5 | 15 | 19 => 12 * vlen,
        6 | 13 => 8 * vlen,
        k => return Err(format!("unknown BTF kind {k}")),
    })
}

/// `.BTF`: types and strings, to be added to at the end.
pub struct Btf {
    hdr: Vec<u8>,
    types: Vec<u8>,
    strs: Vec<u8>,
    count: u32,
    /// FUNC name → (info, prototype).
    funcs: HashMap<Vec<u8>, (u32, u32)>,
    /// Strings looked up or added so far.
    known: HashMap<String, u32>,
}

impl Btf {
    pub fn parse(btf: &[u8]) -> Res<Btf> {
        if btf.len() < 24 || u16::from_le_bytes([btf[0], btf[1]]) != BTF_MAGIC {
            return Err("not BTF".into());
        }
        let hdr = u32_at(btf, 4)? as usize;
        let (type_off, type_len) = (u32_at(btf, 8)? as usize, u32_at(btf, 12)? as usize);
        let (str_off, str_len) = (u32_at(btf, 16)? as usize, u32_at(btf, 20)? as usize);
        let part = |off: usize, len: usize| {
            btf.get(hdr + off..hdr + off + len)
                .map(<[u8]>::to_vec)
                .ok_or("BTF truncated")
        };
        let mut b = Btf {
            hdr: btf.get(..hdr).ok_or("BTF truncated")?.to_vec(),
            types: part(type_off, type_len)?,
            strs: part(str_off, str_len)?,
            count: 0,
            funcs: HashMap::new(),
            known: HashMap::new(),
        };
        let mut at = 0;
        while at < b.types.len() {
            let (name, info) = (u32_at(&b.types, at)?, u32_at(&b.types, at + 4)?);
            let kind = (info >> 24) & 0x1f;
            b.count += 1;
            if kind == KIND_FUNC {
                let proto = u32_at(&b.types, at + 8)?;
                b.funcs.insert(b.string(name).to_vec(), (info, proto));
            }
            at += 12 + extra(kind, (info & 0xffff) as usize)?;
        }
        Ok(b)
    }

    pub fn string(&self, off: u32) -> &[u8] {
        let s = self.strs.get(off as usize..).unwrap_or_default();
        &s[..s.iter().position(|&b| b == 0).unwrap_or(s.len())]
    }

    /// The offset of string `s`, added if it is not there.
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(&off) = self.known.get(s) {
            return off;
        }
        let mut at = 0;
        let found = loop {
            if at >= self.strs.len() {
                break None;
            }
            if self.string(at as u32) == s.as_bytes() {
                break Some(at as u32);
            }
            at += self.string(at as u32).len() + 1;
        };
        let off = found.unwrap_or_else(|| {
            let off = self.strs.len() as u32;
            self.strs.extend_from_slice(s.as_bytes());
            self.strs.push(0);
            off
        });
        self.known.insert(s.to_string(), off);
        off
    }

    /// Adds a FUNC `name` like the FUNC `like`; returns its id.
    pub fn add_func(&mut self, name: &str, like: &str) -> Res<u32> {
        let &(info, proto) = self
            .funcs
            .get(like.as_bytes())
            .ok_or_else(|| format!("no BTF FUNC {like}"))?;
        let name_off = self.intern(name);
        for v in [name_off, info, proto] {
            self.types.extend_from_slice(&v.to_le_bytes());
        }
        self.count += 1;
        Ok(self.count)
    }

    pub fn write(&self) -> Vec<u8> {
        let mut out = self.hdr.clone();
        put_u32(&mut out, 8, 0);
        put_u32(&mut out, 12, self.types.len() as u32);
        put_u32(&mut out, 16, self.types.len() as u32);
        put_u32(&mut out, 20, self.strs.len() as u32);
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.strs);
        out
    }
}

/// Sub-sections of `.BTF.ext`, in order.
pub const FUNC_INFO: usize = 0;
pub const LINE_INFO: usize = 1;
pub const CORE_RELOS: usize = 2;

/// `.BTF.ext`: per sub-section (function records, line records, CO-RE relocations), the
/// record size and the records of each section, by its name's string offset.
pub struct Ext {
    hdr: Vec<u8>,
    subs: Vec<Sub>,
}

/// A sub-section: its record size, and each section's records (by name offset).
type Sub = (u32, Vec<(u32, Vec<u8>)>);

impl Ext {
    pub fn parse(ext: &[u8]) -> Res<Ext> {
        let hdr = u32_at(ext, 4)? as usize;
        let mut subs = vec![];
        for k in 0..(hdr.saturating_sub(8)) / 8 {
            let (off, len) = (
                u32_at(ext, 8 + 8 * k)? as usize,
                u32_at(ext, 12 + 8 * k)? as usize,
            );
            let sub = ext
                .get(hdr + off..hdr + off + len)
                .ok_or(".BTF.ext truncated")?;
            let rec = if len > 0 { u32_at(sub, 0)? } else { 0 };
            let mut blocks = vec![];
            let mut at = 4;
            while at < sub.len() {
                let (sec, n) = (u32_at(sub, at)?, u32_at(sub, at + 4)? as usize);
                let recs = sub.get(at + 8..at + 8 + n * rec as usize);
                blocks.push((sec, recs.ok_or(".BTF.ext truncated")?.to_vec()));
                at += 8 + n * rec as usize;
            }
            subs.push((rec, blocks));
        }
        Ok(Ext {
            hdr: ext[..hdr].to_vec(),
            subs,
        })
    }

    /// The records of sub-section `k` for bytes `range` of section `sec`, their offsets
    /// made relative to the range's start.
    pub fn records(&self, k: usize, sec: u32, range: std::ops::Range<u32>) -> Vec<Vec<u8>> {
        let Some((rec, blocks)) = self.subs.get(k) else {
            return vec![];
        };
        let mut out = vec![];
        for (_, recs) in blocks.iter().filter(|b| b.0 == sec) {
            for r in recs.chunks_exact(*rec as usize) {
                let off = u32::from_le_bytes(r[..4].try_into().unwrap_or_default());
                if range.contains(&off) {
                    let mut r = r.to_vec();
                    put_u32(&mut r, 0, off - range.start);
                    out.push(r);
                }
            }
        }
        out
    }

    /// Adds `records` to sub-section `k` for section `sec`, their offsets moved by `at`.
    pub fn add(&mut self, k: usize, sec: u32, at: u32, records: &[Vec<u8>]) {
        let Some((_, blocks)) = self.subs.get_mut(k) else {
            return;
        };
        if records.is_empty() {
            return;
        }
        let i = match blocks.iter().position(|b| b.0 == sec) {
            Some(i) => i,
            None => {
                blocks.push((sec, vec![]));
                blocks.len() - 1
            }
        };
        for r in records {
            let start = blocks[i].1.len();
            blocks[i].1.extend_from_slice(r);
            let off = u32::from_le_bytes(r[..4].try_into().unwrap_or_default());
            put_u32(&mut blocks[i].1, start, off + at);
        }
    }

    pub fn write(&self) -> Vec<u8> {
        let mut out = self.hdr.clone();
        let mut body = vec![];
        for (k, (rec, blocks)) in self.subs.iter().enumerate() {
            let start = body.len();
            if *rec > 0 {
                body.extend_from_slice(&rec.to_le_bytes());
                for (sec, recs) in blocks {
                    body.extend_from_slice(&sec.to_le_bytes());
                    body.extend_from_slice(&((recs.len() / *rec as usize) as u32).to_le_bytes());
                    body.extend_from_slice(recs);
                }
            }
            put_u32(&mut out, 8 + 8 * k, start as u32);
            put_u32(&mut out, 12 + 8 * k, (body.len() - start) as u32);
        }
        out.extend_from_slice(&body);
        out
    }
}
