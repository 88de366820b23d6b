//! Editing the BPF object LLVM wrote: adding a program that is a copy of one already in it
//! (its code patched), as if LLVM had compiled it.
//!
//! A program is a global function in an executable section (named for its attach point),
//! the section's relocations within it, a BTF `FUNC` named after it (libbpf's linker
//! wants BTF for every global symbol) and its `.BTF.ext` records (`btf.rs`). A copy gets
//! all of them under its own names, at the end of the section named for its attach point.
//! New sections, strings, symbols and types go at the ends of their tables, so nothing
//! already in the object is renumbered; the object is then laid out again.

use object::elf::{FileHeader64, SectionHeader64, Sym64, SHT_NOBITS, SHT_REL, SHT_SYMTAB};
use object::endian::LittleEndian as Le;
use object::pod;

use super::btf;

/// A relocation, by the name of the symbol it refers to (indices differ between objects).
#[derive(PartialEq, Eq, Debug)]
pub struct Reloc {
    pub offset: u64,
    pub kind: u32,
    pub symbol: String,
}

/// A program's code and relocations as compiled.
pub struct Program<'a> {
    pub code: &'a [u8],
    pub relocs: Vec<Reloc>,
}

/// A program to add: a copy of the template's section under new names, with `code`.
pub struct Copy {
    pub name: String,
    pub section: String,
    pub code: Vec<u8>,
}

#[derive(Clone)]
pub struct Object {
    header: FileHeader64<Le>,
    sections: Vec<(SectionHeader64<Le>, Vec<u8>)>,
}

type Res<T> = std::result::Result<T, String>;

fn read<T: object::Pod>(data: &[u8], at: usize) -> Res<&T> {
    data.get(at..)
        .and_then(|d| pod::from_bytes::<T>(d).ok())
        .map(|(v, _)| v)
        .ok_or_else(|| format!("truncated ELF at {at}"))
}

impl Object {
    pub fn parse(data: &[u8]) -> Res<Self> {
        let header = *read::<FileHeader64<Le>>(data, 0)?;
        let (off, num) = (header.e_shoff.get(Le) as usize, header.e_shnum.get(Le));
        let mut sections = vec![];
        for i in 0..num as usize {
            let sh = *read::<SectionHeader64<Le>>(data, off + 64 * i)?;
            let body = match sh.sh_type.get(Le) {
                SHT_NOBITS => vec![],
                _ => {
                    let (at, size) = (sh.sh_offset.get(Le) as usize, sh.sh_size.get(Le) as usize);
                    data.get(at..at + size)
                        .ok_or("section past the end of the ELF")?
                        .to_vec()
                }
            };
            sections.push((sh, body));
        }
        Ok(Object { header, sections })
    }

    fn name_of(&self, strtab: usize, off: u32) -> &str {
        let t = &self.sections[strtab].1;
        let s = t.get(off as usize..).unwrap_or_default();
        let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
        std::str::from_utf8(&s[..end]).unwrap_or_default()
    }

    fn section_name(&self, i: usize) -> &str {
        let names = self.header.e_shstrndx.get(Le) as usize;
        self.name_of(names, self.sections[i].0.sh_name.get(Le))
    }

    fn index_of(&self, name: &str) -> Option<usize> {
        (0..self.sections.len()).find(|&i| self.section_name(i) == name)
    }

    fn symtab(&self) -> Res<usize> {
        (0..self.sections.len())
            .find(|&i| self.sections[i].0.sh_type.get(Le) == SHT_SYMTAB)
            .ok_or_else(|| "no symbol table".into())
    }

    fn symbols(&self, symtab: usize) -> Res<&[Sym64<Le>]> {
        let data = &self.sections[symtab].1;
        pod::slice_from_bytes::<Sym64<Le>>(data, data.len() / 24)
            .map(|(s, _)| s)
            .map_err(|_| "bad symbol table".into())
    }

    /// The section and symbol of the program `name`.
    fn find(&self, name: &str) -> Res<(usize, Sym64<Le>)> {
        let symtab = self.symtab()?;
        let strtab = self.sections[symtab].0.sh_link.get(Le) as usize;
        let sym = *self
            .symbols(symtab)?
            .iter()
            .find(|s| self.name_of(strtab, s.st_name.get(Le)) == name)
            .ok_or_else(|| format!("no symbol {name}"))?;
        let sec = sym.st_shndx.get(Le) as usize;
        let end = sym.st_value.get(Le) + sym.st_size.get(Le);
        if self
            .sections
            .get(sec)
            .is_none_or(|s| (s.1.len() as u64) < end)
        {
            return Err(format!("{name} is not in its section"));
        }
        Ok((sec, sym))
    }

    fn relocations_of(&self, sec: usize) -> Option<usize> {
        (0..self.sections.len()).find(|&i| {
            let sh = &self.sections[i].0;
            sh.sh_type.get(Le) == SHT_REL && sh.sh_info.get(Le) as usize == sec
        })
    }

    /// The relocation entries of section `sec` within `range`, offsets made relative to it.
    fn relocs_in(&self, sec: usize, range: std::ops::Range<u64>) -> Vec<[u8; 16]> {
        let Some(r) = self.relocations_of(sec) else {
            return vec![];
        };
        let mut out = vec![];
        for rel in self.sections[r].1.chunks_exact(16) {
            let off = u64::from_le_bytes(rel[..8].try_into().unwrap_or_default());
            if range.contains(&off) {
                let mut e = [0u8; 16];
                e.copy_from_slice(rel);
                e[..8].copy_from_slice(&(off - range.start).to_le_bytes());
                out.push(e);
            }
        }
        out
    }

    /// The program `name`'s code and relocations.
    pub fn program(&self, name: &str) -> Res<Program<'_>> {
        let (sec, sym) = self.find(name)?;
        let (at, size) = (sym.st_value.get(Le), sym.st_size.get(Le));
        let symtab = self.symtab()?;
        let strtab = self.sections[symtab].0.sh_link.get(Le) as usize;
        let syms = self.symbols(symtab)?;
        let mut relocs = vec![];
        for rel in self.relocs_in(sec, at..at + size) {
            let info = u64::from_le_bytes(rel[8..].try_into().unwrap_or_default());
            let sym = syms.get((info >> 32) as usize).ok_or("bad relocation")?;
            // A section symbol's name is its section's.
            let symbol = match sym.st_name.get(Le) {
                0 => self.section_name(sym.st_shndx.get(Le) as usize),
                n => self.name_of(strtab, n),
            };
            relocs.push(Reloc {
                offset: u64::from_le_bytes(rel[..8].try_into().unwrap_or_default()),
                kind: info as u32,
                symbol: symbol.to_string(),
            });
        }
        Ok(Program {
            code: &self.sections[sec].1[at as usize..(at + size) as usize],
            relocs,
        })
    }

    /// Appends `s` to string table `table`, returning its offset.
    fn add_string(&mut self, table: usize, s: &str) -> u32 {
        let t = &mut self.sections[table].1;
        let off = t.len() as u32;
        t.extend_from_slice(s.as_bytes());
        t.push(0);
        off
    }

    /// The code section named `name` (with its relocation section), made like `like`'s
    /// if there is none: libbpf's linker finds a section's `.BTF.ext` records by its name,
    /// so programs of one section name must share one section.
    fn section_for(&mut self, name: &str, like: usize) -> Res<(usize, usize)> {
        let found = (0..self.sections.len()).find(|&i| {
            self.sections[i].0.sh_type.get(Le) == object::elf::SHT_PROGBITS
                && self.section_name(i) == name
        });
        let code = match found {
            Some(i) => i,
            None => {
                let names = self.header.e_shstrndx.get(Le) as usize;
                let mut sh = self.sections[like].0;
                sh.sh_name.set(Le, self.add_string(names, name));
                self.sections.push((sh, vec![]));
                self.sections.len() - 1
            }
        };
        let rel = match self.relocations_of(code) {
            Some(r) => r,
            None => {
                let names = self.header.e_shstrndx.get(Le) as usize;
                let symtab = self.symtab()?;
                // Every field is set below.
                let mut sh = self.sections[symtab].0;
                sh.sh_name
                    .set(Le, self.add_string(names, &format!(".rel{name}")));
                sh.sh_type.set(Le, SHT_REL);
                sh.sh_flags.set(Le, object::elf::SHF_INFO_LINK as u64);
                sh.sh_link.set(Le, symtab as u32);
                sh.sh_info.set(Le, code as u32);
                sh.sh_addralign.set(Le, 8);
                sh.sh_entsize.set(Le, 16);
                self.sections.push((sh, vec![]));
                self.sections.len() - 1
            }
        };
        if self.sections.len() >= object::elf::SHN_LORESERVE as usize {
            return Err("too many sections".into());
        }
        Ok((code, rel))
    }

    /// Adds `copies` of the program `template`; on failure the object is as it was (the
    /// copies are then compiled instead, and must not be here twice).
    pub fn add_copies(&mut self, template: &str, copies: &[Copy]) -> Res<()> {
        let mut edit = self.clone();
        edit.add_all(template, copies)?;
        *self = edit;
        Ok(())
    }

    fn add_all(&mut self, template: &str, copies: &[Copy]) -> Res<()> {
        let (sec, sym) = self.find(template)?;
        let (at, size) = (sym.st_value.get(Le), sym.st_size.get(Le));
        let relocs = self.relocs_in(sec, at..at + size);
        let symtab = self.symtab()?;
        let strtab = self.sections[symtab].0.sh_link.get(Le) as usize;
        let template_section = self.section_name(sec).to_string();
        // libbpf's linker wants a BTF `FUNC` for every global function.
        let b = self.index_of(".BTF").ok_or("no BTF")?;
        let e = self.index_of(".BTF.ext");
        let mut btf = btf::Btf::parse(&self.sections[b].1)?;
        let mut ext = e
            .map(|e| btf::Ext::parse(&self.sections[e].1))
            .transpose()?;
        // The template's records, and the FUNC record's id field to set per copy.
        let mut records = [vec![], vec![]];
        if let Some(ext) = &ext {
            let name = btf.intern(&template_section);
            let range = at as u32..(at + size) as u32;
            if !ext.records(btf::CORE_RELOS, name, range.clone()).is_empty() {
                return Err("the template has CO-RE relocations".into());
            }
            for k in [btf::FUNC_INFO, btf::LINE_INFO] {
                records[k] = ext.records(k, name, range.clone());
            }
            if records[btf::FUNC_INFO].len() != 1 {
                return Err("the template has subprograms".into());
            }
        }
        for c in copies {
            if c.code.len() as u64 != size {
                return Err("a copy's code differs in size".into());
            }
            let (code, rel) = self.section_for(&c.section, sec)?;
            let body = &mut self.sections[code].1;
            body.resize(body.len().next_multiple_of(8), 0);
            let place = body.len() as u64;
            body.extend_from_slice(&c.code);
            for r in &relocs {
                let mut r = *r;
                let off = u64::from_le_bytes(r[..8].try_into().unwrap_or_default());
                r[..8].copy_from_slice(&(off + place).to_le_bytes());
                self.sections[rel].1.extend_from_slice(&r);
            }
            let name = self.add_string(strtab, &c.name);
            let mut s = sym;
            s.st_name.set(Le, name);
            s.st_shndx.set(Le, code as u16);
            s.st_value.set(Le, place);
            self.sections[symtab].1.extend_from_slice(pod::bytes_of(&s));
            let func = btf.add_func(&c.name, template)?;
            if let Some(ext) = &mut ext {
                let sec_name = btf.intern(&c.section);
                let mut funcs = records[btf::FUNC_INFO].clone();
                funcs[0][4..8].copy_from_slice(&func.to_le_bytes());
                ext.add(btf::FUNC_INFO, sec_name, place as u32, &funcs);
                ext.add(
                    btf::LINE_INFO,
                    sec_name,
                    place as u32,
                    &records[btf::LINE_INFO],
                );
            }
        }
        self.sections[b].1 = btf.write();
        if let (Some(e), Some(ext)) = (e, ext) {
            self.sections[e].1 = ext.write();
        }
        Ok(())
    }

    /// The object, laid out again: sections in order, then their headers.
    pub fn write(mut self) -> Vec<u8> {
        let mut out = vec![0u8; 64];
        for (sh, body) in self.sections.iter_mut().skip(1) {
            let align = sh.sh_addralign.get(Le).max(1) as usize;
            out.resize(out.len().next_multiple_of(align), 0);
            sh.sh_offset.set(Le, out.len() as u64);
            if sh.sh_type.get(Le) != SHT_NOBITS {
                sh.sh_size.set(Le, body.len() as u64);
                out.extend_from_slice(body);
            }
        }
        out.resize(out.len().next_multiple_of(8), 0);
        self.header.e_shoff.set(Le, out.len() as u64);
        self.header.e_shnum.set(Le, self.sections.len() as u16);
        for (sh, _) in &self.sections {
            out.extend_from_slice(pod::bytes_of(sh));
        }
        out[..64].copy_from_slice(pod::bytes_of(&self.header));
        out
    }
}
