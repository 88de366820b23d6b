//! `uprobe:BINARY:FUNCTION[+OFFSET]`, `uprobe:BINARY:ADDRESS` (alias `u`) and
//! `uretprobe:BINARY:FUNCTION` (alias `ur`): user-space function entries and returns.
//!
//! BINARY is a path (globs allowed), a program on PATH or a library name (`libc`); FUNCTION
//! may hold wildcards. Symbols come from the file's ELF tables (see `elf`), and the kernel
//! is given the file offset of the probed instruction.

use super::elf::{self, has_wildcard};
use super::{tracefs, ArgField, ArgKind, ArgLoc, AttachPoint, Attachment, ProbeType};
use super::{AttachContext, ExpandError};

/// `uprobe` (false) or `uretprobe` (true).
pub struct Uprobe(pub bool);

impl ProbeType for Uprobe {
    fn support(&self) -> Option<super::Support> {
        // Listed once, under the entry form's name.
        (!self.0).then_some(super::Support {
            rank: 7,
            needs: super::KernelNeed::ProgType(libbpf_sys::BPF_PROG_TYPE_KPROBE),
        })
    }

    fn owns(&self, ap: &AttachPoint) -> bool {
        matches!(ap, AttachPoint::Uprobe { ret, .. } if *ret == self.0)
    }
    fn display(&self, ap: &AttachPoint) -> String {
        let AttachPoint::Uprobe {
            path,
            func,
            offset,
            source,
            ..
        } = ap
        else {
            unreachable!("not a uprobe")
        };
        let kind = self.names()[0];
        if let Some(at) = source {
            return format!("{kind}:{path}@{at}");
        }
        match (func.as_str(), offset) {
            ("", addr) => format!("{kind}:{path}:{addr}"),
            (f, 0) => format!("{kind}:{path}:{f}"),
            (f, off) => format!("{kind}:{path}:{f}+{off}"),
        }
    }
    fn names(&self) -> &'static [&'static str] {
        if self.0 {
            &["uretprobe", "ur"]
        } else {
            &["uprobe", "u"]
        }
    }
    fn never_nested(&self) -> bool {
        true
    }
    fn regs(&self) -> Option<u32> {
        // pt_regs, or bpf_perf_event_data, whose first member is the pt_regs.
        Some(0)
    }

    fn expand(&self, parts: &[&str]) -> Result<Vec<AttachPoint>, ExpandError> {
        let kind = self.names()[0];
        if let Some((target, file)) = parts.first().and_then(|t| t.split_once('@')) {
            return self.at_source(target, file, &parts[1..]);
        }
        // `uprobe:BIN:cpp:"NS::fn*"` matches C++ functions by their demangled names.
        let (target, spec, cpp) = match parts {
            // With `-p`/`-c` the binary may be left out: every binary of the process.
            [f] if !f.is_empty() && elf::has_target_process() => ("*", *f, false),
            [t, f] if !t.is_empty() && !f.is_empty() => (*t, *f, false),
            [t, "cpp", f] if !t.is_empty() && !f.is_empty() => (*t, *f, true),
            [_, lang, _] => {
                return Err(format!("unknown language `{lang}`: only `cpp` is supported").into())
            }
            _ => return Err(format!("expected `{kind}:BINARY:FUNCTION`").into()),
        };
        // Over several binaries, one lacking the function is no error.
        let many = has_wildcard(target);
        let mut out = vec![];
        for path in elf::resolve(target)? {
            let img = elf::image(&path)?;
            let at = |func: String, offset: u64| AttachPoint::Uprobe {
                ret: self.0,
                path: path.clone(),
                func,
                offset,
                wildcard: has_wildcard(target) || has_wildcard(spec),
                source: None,
            };
            if cpp {
                let before = out.len();
                out.extend(
                    img.funcs
                        .iter()
                        .filter(|f| demangled_matches(spec, &f.name))
                        .map(|f| at(f.name.clone(), 0)),
                );
                if out.len() == before && !has_wildcard(spec) && !many {
                    return Err(ExpandError::missing(format!(
                        "C++ function `{spec}` not found in {path}"
                    )));
                }
                continue;
            }
            if let Some(addr) = super::parse_num(spec) {
                if many {
                    return Err("an address needs one binary, not a wildcard".into());
                }
                if img.func_at(addr).is_none() {
                    return Err(format!(
                        "could not resolve address {spec} in {path}: no function holds it"
                    )
                    .into());
                }
                out.push(at(String::new(), addr));
                continue;
            }
            let (name, offset) = match spec.rsplit_once('+') {
                Some((n, off)) => match super::parse_num(off) {
                    Some(o) => (n, o),
                    None => return Err(format!("`{off}` is not a valid function offset").into()),
                },
                None => (spec, 0),
            };
            if self.0 && offset != 0 {
                return Err("uretprobe does not take an offset: it fires on return".into());
            }
            if has_wildcard(name) {
                if offset != 0 {
                    return Err("an offset cannot follow a wildcard function name".into());
                }
                out.extend(
                    img.funcs
                        .iter()
                        .filter(|f| tracefs::glob_match(name, &f.name))
                        .map(|f| at(f.name.clone(), 0)),
                );
                continue;
            }
            let Some(f) = img.func(name) else {
                if many {
                    continue;
                }
                return Err(ExpandError::missing(format!(
                    "function `{name}` not found in {path}"
                )));
            };
            if f.size > 0 && offset >= f.size {
                return Err(format!(
                    "Offset outside the function bounds ('{name}' size is {})",
                    f.size
                )
                .into());
            }
            out.push(at(name.to_string(), offset));
        }
        if out.is_empty() {
            return Err(ExpandError::missing(format!(
                "no function in {target} matches `{spec}`"
            )));
        }
        Ok(out)
    }

    fn section(&self, _: &AttachPoint) -> String {
        self.names()[0].into()
    }

    /// From the binary's DWARF, when it has some for the function: each integer or
    /// pointer parameter (and each struct of up to 8 bytes) where the x86-64 calling
    /// convention puts it, in a register or on the caller's stack.
    fn args(&self, ap: &AttachPoint) -> Result<Option<Vec<ArgField>>, String> {
        let AttachPoint::Uprobe { path, .. } = ap else {
            unreachable!("not a uprobe")
        };
        if self.0 {
            return Ok(None);
        }
        let func = symbol(ap)?;
        Ok(super::dwarf::classified_params(path, &func).map(|ps| place_args(&ps)))
    }

    fn arg(&self, _: &AttachPoint, n: u32) -> Result<ArgLoc, String> {
        if self.0 {
            return Err(format!(
                "`arg{n}` is not available in uretprobe probes: the arguments are gone when \
                 the function returns (use `retval`)"
            ));
        }
        Ok(match super::pt_regs::ARGS.get(n as usize) {
            Some(&off) => ArgLoc::Ctx(off),
            // The rest are on the stack, above the return address.
            None => ArgLoc::UserStack {
                sp: super::pt_regs::SP,
                offset: 8 * (n - super::pt_regs::ARGS.len() as u32 + 1),
            },
        })
    }

    fn retval(&self, _: &AttachPoint) -> Result<ArgLoc, String> {
        if self.0 {
            Ok(ArgLoc::Ctx(super::pt_regs::AX))
        } else {
            Err("`retval` is only available in uretprobe probes".into())
        }
    }

    /// The function's name as `func` prints it: C++ names demangled (`ns::fn(int)`), as
    /// bpftrace does with its default `cpp_demangle`.
    fn func(&self, ap: &AttachPoint) -> Result<String, String> {
        let name = symbol(ap)?;
        Ok(demangle(&name).unwrap_or(name))
    }

    fn user_addresses(&self) -> bool {
        true
    }

    fn process_context(&self, _: &AttachPoint) -> bool {
        true
    }

    /// Each attachment is a uprobe consumer, and the kernel adds consumers at the head of
    /// the probed instruction's list.
    fn runs_newest_first(&self) -> bool {
        true
    }

    fn attach(
        &self,
        prog: &libbpf_rs::ProgramMut,
        ap: &AttachPoint,
        cx: &AttachContext,
    ) -> Result<Vec<Attachment>, String> {
        let AttachPoint::Uprobe {
            path,
            func,
            offset,
            wildcard,
            ..
        } = ap
        else {
            unreachable!("not a uprobe")
        };
        let img = elf::image(path)?;
        let addr = if func.is_empty() {
            *offset
        } else {
            let f = img
                .func(func)
                .ok_or_else(|| format!("function `{func}` not found in {path}"))?;
            f.addr + offset
        };
        let file_offset = img
            .file_offset(addr)
            .ok_or_else(|| format!("address 0x{addr:x} of {} is not in {path}", ap.name()))?;
        let opts = libbpf_rs::UprobeOpts {
            retprobe: self.0,
            cookie: cookie(&self.func(ap)?),
            ..Default::default()
        };
        let pid = cx.pid_or_any();
        match prog.attach_uprobe_with_opts(pid, path, file_offset as usize, opts) {
            Ok(link) => Ok(vec![Box::new(link)]),
            // Some instructions cannot be probed (`lock`-prefixed ones, for one): one such
            // function must not sink a wildcard over a whole library.
            Err(e) if *wildcard => {
                eprintln!(
                    "WARNING: could not attach {}, skipping: {}",
                    ap.name(),
                    why(&e)
                );
                Ok(vec![])
            }
            Err(e) => Err(format!("attaching to {} failed: {}", ap.name(), why(&e))),
        }
    }
}

impl Uprobe {
    /// `uprobe:BIN@FILE:LINE[:COL]`: the statement's address from the DWARF line table,
    /// probed as an offset into the function that holds it.
    fn at_source(
        &self,
        target: &str,
        file: &str,
        rest: &[&str],
    ) -> Result<Vec<AttachPoint>, ExpandError> {
        let num = |s: &str| s.parse::<u64>().ok().filter(|&n| n > 0);
        let (line, col) = match rest {
            [l] => (num(l), None),
            [l, c] => (
                num(l),
                Some(num(c).ok_or(format!("`{c}` is not a column number"))?),
            ),
            _ => (None, None),
        };
        let line = line.ok_or("expected `uprobe:BINARY@FILE:LINE[:COLUMN]`")?;
        if self.0 {
            return Err("uretprobe cannot be placed at a source line: it fires on return".into());
        }
        if has_wildcard(target) || has_wildcard(file) {
            return Err("a source-location uprobe cannot use wildcards".into());
        }
        let mut out = vec![];
        for path in elf::resolve(target)? {
            let addr = super::dwarf::line_address(&path, file, line, col)?;
            let img = elf::image(&path)?;
            let (func, offset) = match img.func_at(addr) {
                Some(f) => (f.name.clone(), addr - f.addr),
                None => (String::new(), addr),
            };
            let at = match col {
                Some(c) => format!("{file}:{line}:{c}"),
                None => format!("{file}:{line}"),
            };
            out.push(AttachPoint::Uprobe {
                ret: false,
                path,
                func,
                offset,
                wildcard: false,
                source: Some(at),
            });
        }
        Ok(out)
    }
}

/// Where the System V x86-64 convention passes each parameter at function entry: integer
/// classes in di, si, dx, cx, r8, r9 (structs of 9–16 bytes in two of them), floats in
/// SSE registers, and what does not fit (or structs over 16 bytes) on the stack above
/// the return address. Parameters that land in SSE registers or are larger than 8 bytes
/// are not readable as one value and are left out of `args`.
fn place_args(params: &[(super::btf::Param, super::dwarf::Class)]) -> Vec<ArgField> {
    use super::dwarf::Class;
    let regs = super::pt_regs::ARGS;
    let (mut gp, mut sse, mut stack) = (0usize, 0usize, 8u32);
    let mut out = vec![];
    for (p, class) in params {
        let slots = p.size.div_ceil(8).max(1) as usize;
        let in_regs = match class {
            Class::Int | Class::Aggregate if p.size <= 16 && gp + slots <= regs.len() => {
                gp += slots;
                Some(regs[gp - slots])
            }
            Class::Float if sse < 8 && p.size <= 8 => {
                sse += 1;
                continue;
            }
            _ => None,
        };
        let mut f = match in_regs {
            Some(off) => p.arg_field(off),
            None => {
                let at = stack;
                stack += slots as u32 * 8;
                let mut f = p.arg_field(at);
                f.on_stack = true;
                f
            }
        };
        if p.size > 8 || *class == Class::Float {
            continue;
        }
        if p.pointer {
            f.kind = ArgKind::Pointer { user: true };
        }
        out.push(f);
    }
    out
}

/// The symbol of the probed function, as the ELF names it.
fn symbol(ap: &AttachPoint) -> Result<String, String> {
    let AttachPoint::Uprobe {
        path, func, offset, ..
    } = ap
    else {
        unreachable!("not a uprobe")
    };
    if !func.is_empty() {
        return Ok(func.clone());
    }
    let img = elf::image(path)?;
    Ok(match img.func_at(*offset) {
        Some(f) => f.name.clone(),
        None => format!("0x{offset:x}"),
    })
}

fn demangle(mangled: &str) -> Option<String> {
    if !mangled.starts_with("_Z") {
        return None;
    }
    cpp_demangle::Symbol::new(mangled).ok()?.demangle().ok()
}

/// Whether a C++ symbol's demangled name, with or without its parameter list, matches.
fn demangled_matches(pattern: &str, mangled: &str) -> bool {
    let Some(full) = demangle(mangled) else {
        return false;
    };
    let bare = full.split('(').next().unwrap_or(&full);
    tracefs::glob_match(pattern, &full) || tracefs::glob_match(pattern, bare)
}

fn why(e: &libbpf_rs::Error) -> String {
    let text = format!("{e:#}");
    // ENOTSUPP, the kernel's own code for an instruction uprobes cannot single-step.
    if text.ends_with("(os error 524)") {
        "the kernel cannot place a uprobe on the instruction there".into()
    } else {
        text
    }
}

/// The attach cookie that tells the program which function fired when one program serves
/// several (`func`): a hash of the function's name.
pub fn cookie(func: &str) -> u64 {
    func.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// `-lv` lines of a uprobe: its DWARF parameters, `    int n`.
pub fn param_lines(path: &str, func: &str) -> Vec<String> {
    super::dwarf::func_params(path, func)
        .unwrap_or_default()
        .iter()
        .map(|p| format!("    {} {}", p.c_type, p.name))
        .collect()
}

/// `uprobe:BINARY:*` for `-l`: every function of the binaries a glob names.
pub(crate) fn listing(provider: &str, target: &str) -> Result<Vec<String>, String> {
    let mut out = vec![];
    for path in elf::resolve(target)? {
        let img = elf::image(&path)?;
        out.extend(
            img.funcs
                .iter()
                .map(|f| format!("{provider}:{path}:{}", f.name)),
        );
    }
    Ok(out)
}
