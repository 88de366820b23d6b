//! `usdt:BINARY:[PROVIDER:]NAME` (alias `U`): statically defined tracepoints in user
//! programs (`<sys/sdt.h>`'s `DTRACE_PROBE`). Each probe is a `nop` whose address, optional
//! semaphore and argument locations are recorded in the binary's `.note.stapsdt` notes; it
//! is attached as a uprobe at that address, with the kernel counting the semaphore up
//! while attached (uprobe `ref_ctr_offset`), so the program's `if (…_ENABLED())` holds.
//!
//! Arguments are the notes' x86-64 operand specs, `SIZE@OPERAND`: `-4@%edi` (a register),
//! `8@-8(%rbp)` and `4@8(%rax,%rdx,4)` (user memory), `4@$5` (a constant).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use object::{Object, ObjectSection, ObjectSymbol};
use serde::{Deserialize, Serialize};

use super::elf::{self};
use super::{tracefs, ArgLoc, AttachPoint, Attachment, ProbeType};
use super::{AttachContext, ExpandError};

pub struct Usdt;

/// One probe location, from a `stapsdt` note.
#[derive(Debug, Clone)]
struct Note {
    provider: String,
    name: String,
    /// The probe's address, adjusted by `.stapsdt.base` for prelinked files.
    pc: u64,
    /// The semaphore's address, or 0.
    semaphore: u64,
    args: String,
    /// Addresses of the symbols `%rip`-relative arguments name (`8@counter(%rip)`).
    symbols: Vec<(String, u64)>,
}

/// How to read one USDT argument at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsdtArg {
    /// 1, 2, 4 or 8 bytes.
    pub size: u8,
    pub signed: bool,
    pub at: UsdtLoc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UsdtLoc {
    Const(i64),
    /// A register: its offset in `struct pt_regs`.
    Reg(u32),
    /// User memory at `base + index * scale + disp` (registers as `pt_regs` offsets).
    Mem {
        base: u32,
        index: Option<(u32, u8)>,
        disp: i64,
    },
}

impl ProbeType for Usdt {
    fn support(&self) -> Option<super::Support> {
        Some(super::Support {
            rank: 8,
            needs: super::KernelNeed::ProgType(libbpf_sys::BPF_PROG_TYPE_KPROBE),
        })
    }

    fn owns(&self, ap: &AttachPoint) -> bool {
        matches!(ap, AttachPoint::Usdt { .. })
    }
    fn display(&self, ap: &AttachPoint) -> String {
        let AttachPoint::Usdt {
            path,
            provider,
            name,
            ..
        } = ap
        else {
            unreachable!("not a USDT probe")
        };
        format!("usdt:{path}:{provider}:{name}")
    }
    fn names(&self) -> &'static [&'static str] {
        &["usdt", "U"]
    }
    fn never_nested(&self) -> bool {
        true
    }
    fn regs(&self) -> Option<u32> {
        Some(0)
    }
    /// Each location may keep its arguments in different registers.
    fn one_program_each(&self) -> bool {
        true
    }

    fn expand(&self, parts: &[&str]) -> Result<Vec<AttachPoint>, ExpandError> {
        let (target, provider, name) = match parts {
            // With `-p`/`-c` the binary may be left out: every binary of the process.
            [n] if elf::has_target_process() => ("*", "*", *n),
            [t, n] => (*t, "*", *n),
            [t, p, n] => (*t, *p, *n),
            _ => return Err("expected `usdt:BINARY:[PROVIDER:]NAME`".into()),
        };
        if target.is_empty() || provider.is_empty() || name.is_empty() {
            return Err("expected `usdt:BINARY:[PROVIDER:]NAME`".into());
        }
        let mut out = vec![];
        for path in elf::resolve(target)? {
            // Over many binaries, one that cannot be read has no probes.
            let found = match notes(&path) {
                Err(_) if elf::has_wildcard(target) => continue,
                found => found?,
            };
            for (index, n) in found.iter().enumerate() {
                if tracefs::glob_match(provider, &n.provider) && tracefs::glob_match(name, &n.name)
                {
                    out.push(AttachPoint::Usdt {
                        path: path.clone(),
                        provider: n.provider.clone(),
                        name: n.name.clone(),
                        index,
                    });
                }
            }
        }
        if out.is_empty() {
            let what = match provider {
                "*" => name.to_string(),
                p => format!("{p}:{name}"),
            };
            return Err(ExpandError::missing(format!(
                "no USDT probe `{what}` in {target}"
            )));
        }
        Ok(out)
    }

    fn section(&self, _: &AttachPoint) -> String {
        "uprobe".into()
    }

    fn arg(&self, ap: &AttachPoint, n: u32) -> Result<ArgLoc, String> {
        let note = note_of(ap)?;
        let sym = |name: &str| {
            note.symbols
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, a)| *a)
        };
        let args = parse_args(&note.args, &sym, note.pc)?;
        args.get(n as usize)
            .cloned()
            .map(ArgLoc::Usdt)
            .ok_or_else(|| {
                format!(
                    "`arg{n}` does not exist at {}: it has {} argument{}",
                    ap.name(),
                    args.len(),
                    if args.len() == 1 { "" } else { "s" }
                )
            })
    }

    fn user_addresses(&self) -> bool {
        true
    }

    fn process_context(&self, _: &AttachPoint) -> bool {
        true
    }

    fn runs_newest_first(&self) -> bool {
        true
    }

    fn attach(
        &self,
        prog: &libbpf_rs::ProgramMut,
        ap: &AttachPoint,
        cx: &AttachContext,
    ) -> Result<Vec<Attachment>, String> {
        let AttachPoint::Usdt { path, .. } = ap else {
            unreachable!("not a usdt probe")
        };
        let note = note_of(ap)?;
        let img = elf::image(path)?;
        let offset = |addr: u64| {
            img.file_offset(addr)
                .ok_or_else(|| format!("address 0x{addr:x} of {} is not in {path}", ap.name()))
        };
        let opts = libbpf_rs::UprobeOpts {
            ref_ctr_offset: match note.semaphore {
                0 => 0,
                s => offset(s)? as usize,
            },
            ..Default::default()
        };
        let pid = cx.pid_or_any();
        prog.attach_uprobe_with_opts(pid, path, offset(note.pc)? as usize, opts)
            .map(|l| vec![Box::new(l) as Attachment])
            .map_err(|e| format!("attaching to {} failed: {e:#}", ap.name()))
    }
}

fn note_of(ap: &AttachPoint) -> Result<Note, String> {
    let AttachPoint::Usdt { path, index, .. } = ap else {
        unreachable!("not a usdt probe")
    };
    notes(path)?
        .get(*index)
        .cloned()
        .ok_or_else(|| format!("{} changed since it was compiled", ap.name()))
}

/// The `stapsdt` notes of a file, read once.
fn notes(path: &str) -> Result<Arc<Vec<Note>>, String> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Vec<Note>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(n) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(path) {
        return Ok(Arc::clone(n));
    }
    let data = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let file =
        object::File::parse(&*data).map_err(|e| format!("{path} is not an ELF file: {e}"))?;
    let base = file.section_by_name(".stapsdt.base").map(|s| s.address());
    let mut out = vec![];
    if let Some(raw) = file
        .section_by_name(".note.stapsdt")
        .and_then(|s| s.data().ok())
    {
        parse_notes(raw, base, &mut out);
    }
    for note in out.iter_mut().filter(|n| n.args.contains("(%rip)")) {
        note.symbols = rip_symbols(&note.args)
            .filter_map(|name| {
                let s = file
                    .symbol_by_name(name)
                    .or_else(|| file.dynamic_symbols().find(|s| s.name() == Ok(name)))?;
                Some((name.to_string(), s.address()))
            })
            .collect();
    }
    let out = Arc::new(out);
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(path.into(), Arc::clone(&out));
    Ok(out)
}

/// ELF notes: `namesz`, `descsz`, `type`, then the name and the descriptor, each padded to
/// 4 bytes. A `stapsdt` descriptor (type 3) is the probe's address, the link-time address
/// of `.stapsdt.base`, the semaphore's address, then provider, name and arguments as C
/// strings.
fn parse_notes(raw: &[u8], base: Option<u64>, out: &mut Vec<Note>) {
    let u32_at = |i: usize| {
        raw.get(i..i + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
    };
    let u64_at = |d: &[u8], i: usize| {
        d.get(i..i + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
    };
    let pad = |n: usize| (n + 3) & !3;
    let mut at = 0;
    while let (Some(namesz), Some(descsz), Some(kind)) =
        (u32_at(at), u32_at(at + 4), u32_at(at + 8))
    {
        let name_at = at + 12;
        let desc_at = name_at + pad(namesz as usize);
        let next = desc_at + pad(descsz as usize);
        let (Some(name), Some(desc)) = (
            raw.get(name_at..name_at + namesz as usize),
            raw.get(desc_at..desc_at + descsz as usize),
        ) else {
            break;
        };
        at = next;
        if kind != 3 || name != b"stapsdt\0" {
            continue;
        }
        let (Some(pc), Some(link_base), Some(semaphore)) =
            (u64_at(desc, 0), u64_at(desc, 8), u64_at(desc, 16))
        else {
            continue;
        };
        let mut strings = desc[24..]
            .split(|b| *b == 0)
            .map(|s| String::from_utf8_lossy(s).into_owned());
        let (Some(provider), Some(pname), args) = (strings.next(), strings.next(), strings.next())
        else {
            continue;
        };
        let pc = match base {
            Some(b) if link_base != 0 => pc.wrapping_add(b).wrapping_sub(link_base),
            _ => pc,
        };
        out.push(Note {
            provider,
            name: pname,
            pc,
            semaphore,
            args: args.unwrap_or_default(),
            symbols: vec![],
        });
    }
}

/// The symbols `%rip`-relative operands of an argument spec name.
fn rip_symbols(spec: &str) -> impl Iterator<Item = &str> {
    spec.split_whitespace().filter_map(|a| {
        let op = a.split_once('@')?.1.strip_suffix("(%rip)")?;
        rip_terms(op)?.0
    })
}

/// A `%rip`-relative displacement as the assembler writes it, `sym`, `sym+8`, `8+sym`,
/// `sym-4`: the symbol (if any) and the sum of the numbers.
fn rip_terms(d: &str) -> Option<(Option<&str>, i64)> {
    let mut sym = None;
    let mut sum = 0i64;
    let mut rest = d;
    let mut neg = false;
    loop {
        let end = rest.find(['+', '-']).unwrap_or(rest.len());
        let term = &rest[..end];
        match parse_int(term) {
            Some(v) => sum = sum.wrapping_add(if neg { -v } else { v }),
            None if term.is_empty() || sym.is_some() || neg => return None,
            None => sym = Some(term),
        }
        if end == rest.len() {
            return Some((sym, sum));
        }
        neg = rest.as_bytes()[end] == b'-';
        rest = &rest[end + 1..];
    }
}

/// The x86-64 argument specs of a note at address `pc`; `symbol` gives the link-time
/// address of a variable that a `%rip`-relative operand names.
pub(crate) fn parse_args(
    spec: &str,
    symbol: &dyn Fn(&str) -> Option<u64>,
    pc: u64,
) -> Result<Vec<UsdtArg>, String> {
    spec.split_whitespace()
        .map(|a| parse_arg(a, symbol, pc))
        .collect()
}

fn parse_arg(a: &str, symbol: &dyn Fn(&str) -> Option<u64>, pc: u64) -> Result<UsdtArg, String> {
    let bad = || format!("unsupported USDT argument `{a}`");
    let (size, op) = a.split_once('@').ok_or_else(bad)?;
    let n: i8 = size.parse().map_err(|_| bad())?;
    let bytes = n.unsigned_abs();
    if !matches!(bytes, 1 | 2 | 4 | 8) {
        return Err(bad());
    }
    let at = if let Some(imm) = op.strip_prefix('$') {
        UsdtLoc::Const(parse_int(imm).ok_or_else(bad)?)
    } else if op.starts_with('%') {
        UsdtLoc::Reg(reg(op).ok_or_else(bad)?)
    } else {
        // `disp(%base[,%index[,scale]])`
        let open = op.find('(').ok_or_else(bad)?;
        let inner = op[open + 1..].strip_suffix(')').ok_or_else(bad)?;
        let mut parts = inner.split(',').map(str::trim);
        let base = reg(parts.next().ok_or_else(bad)?).ok_or_else(bad)?;
        let index = match parts.next() {
            Some(i) => {
                let scale: u8 = parts.next().unwrap_or("1").parse().map_err(|_| bad())?;
                Some((reg(i).ok_or_else(bad)?, scale))
            }
            None => None,
        };
        let ip = super::pt_regs::offset("ip").unwrap_or(u32::MAX);
        if base == ip {
            // `sym[+N](%rip)` is the variable's address. At a uprobe the kernel sets the
            // saved ip to the probed instruction, so the variable is at ip plus its
            // link-time distance from the probe, wherever the file was loaded.
            let (name, off) = rip_terms(&op[..open]).ok_or_else(bad)?;
            let addr = match name {
                Some(name) => symbol(name).ok_or_else(|| {
                    format!(
                        "{} (a %rip-relative operand naming an unknown symbol)",
                        bad()
                    )
                })?,
                // A bare number is relative to the next instruction, whose length the
                // note does not give.
                None => return Err(format!("{} (a %rip-relative number)", bad())),
            };
            let disp = (addr as i64).wrapping_add(off).wrapping_sub(pc as i64);
            return Ok(UsdtArg {
                size: bytes,
                signed: n < 0,
                at: UsdtLoc::Mem { base, index, disp },
            });
        }
        let disp = match &op[..open] {
            "" => 0,
            d => parse_int(d).ok_or_else(bad)?,
        };
        UsdtLoc::Mem { base, index, disp }
    };
    Ok(UsdtArg {
        size: bytes,
        signed: n < 0,
        at,
    })
}

fn parse_int(s: &str) -> Option<i64> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let v = match s.strip_prefix("0x") {
        Some(h) => i64::from_str_radix(h, 16).ok()?,
        None => s.parse().ok()?,
    };
    Some(if neg { -v } else { v })
}

/// `%eax`, `%r8d`, `%sil`, …: the `pt_regs` offset of the full register.
fn reg(op: &str) -> Option<u32> {
    let r = op.strip_prefix('%')?;
    let full = match r {
        "rax" | "eax" | "ax" | "al" | "ah" => "ax",
        "rbx" | "ebx" | "bx" | "bl" | "bh" => "bx",
        "rcx" | "ecx" | "cx" | "cl" | "ch" => "cx",
        "rdx" | "edx" | "dx" | "dl" | "dh" => "dx",
        "rsi" | "esi" | "si" | "sil" => "si",
        "rdi" | "edi" | "di" | "dil" => "di",
        "rbp" | "ebp" | "bp" | "bpl" => "bp",
        "rsp" | "esp" | "sp" | "spl" => "sp",
        "rip" => "ip",
        _ => {
            let n = r.strip_prefix('r')?.trim_end_matches(['d', 'w', 'b']);
            match n.parse::<u8>().ok()? {
                8..=15 => return super::pt_regs::offset(&format!("r{n}")),
                _ => return None,
            }
        }
    };
    super::pt_regs::offset(full)
}

/// `usdt:PATH:PROVIDER:NAME` for `-l`, for the binaries a glob names.
pub(crate) fn listing(target: &str) -> Result<Vec<String>, String> {
    let mut out = vec![];
    for path in elf::resolve(target)? {
        for n in notes(&path)?.iter() {
            let line = format!("usdt:{path}:{}:{}", n.provider, n.name);
            if !out.contains(&line) {
                out.push(line);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_specs() {
        let none = |_: &str| None;
        let args =
            parse_args("-4@%edi 8@-8(%rbp) 4@$5 8@16(%rax,%rdx,8) 2@%r9w", &none, 0).unwrap();
        let off = |r| super::super::pt_regs::offset(r).unwrap();
        assert_eq!(
            args[0],
            UsdtArg {
                size: 4,
                signed: true,
                at: UsdtLoc::Reg(off("di"))
            }
        );
        assert_eq!(
            args[1].at,
            UsdtLoc::Mem {
                base: off("bp"),
                index: None,
                disp: -8
            }
        );
        assert_eq!(args[2].at, UsdtLoc::Const(5));
        assert_eq!(
            args[3].at,
            UsdtLoc::Mem {
                base: off("ax"),
                index: Some((off("dx"), 8)),
                disp: 16
            }
        );
        assert_eq!(
            args[4],
            UsdtArg {
                size: 2,
                signed: false,
                at: UsdtLoc::Reg(off("r9"))
            }
        );
        assert!(parse_args("8@foo(%rip)", &none, 0).is_err());
        // `counter` at 0x4010, the probe at 0x1052: read at ip + 0x2fbe (+ 4 for `+4`).
        let sym = |n: &str| (n == "counter").then_some(0x4010);
        let args = parse_args("-8@counter(%rip) 4@4+counter(%rip)", &sym, 0x1052).unwrap();
        let ip = off("ip");
        assert_eq!(
            args[0].at,
            UsdtLoc::Mem {
                base: ip,
                index: None,
                disp: 0x2fbe
            }
        );
        assert_eq!(
            args[1].at,
            UsdtLoc::Mem {
                base: ip,
                index: None,
                disp: 0x2fc2
            }
        );
        assert_eq!(
            rip_symbols("-8@counter(%rip) 4@x+4(%rip) 4@8+y-2(%rip) 4@%eax").collect::<Vec<_>>(),
            ["counter", "x", "y"]
        );
    }
}
