//! `kprobe:FUNCTION[+OFFSET]`, `kprobe:MODULE:FUNCTION` (alias `k`) and
//! `kretprobe:FUNCTION` (alias `kr`): kernel function entries and returns.
//!
//! Functions come from /proc/kallsyms (text symbols), so wildcards expand the same whether
//! or not tracefs lets us read `available_filter_functions`. Arguments are read from the
//! probe's `pt_regs`, as for uprobes.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use libbpf_rs::AsRawLibbpf;

use super::elf::has_wildcard;
use super::{tracefs, ArgLoc, AttachPoint, Attachment, ProbeType};
use super::{AttachContext, ExpandError};

/// `kprobe` (false) or `kretprobe` (true).
pub struct Kprobe(pub bool);

/// A kernel function: its name and the module it lives in (`None` for vmlinux).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct KernelFunc {
    name: String,
    module: Option<String>,
}

static TRACEABLE: OnceLock<Vec<KernelFunc>> = OnceLock::new();

/// `--traceable-functions FILE`: the functions that may be probed, in the format of
/// tracefs's `available_filter_functions` (`name` or `name [module]` per line), in place
/// of the running kernel's list.
pub fn set_traceable_functions(text: &str) {
    let set: BTreeSet<KernelFunc> = text
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let name = it.next()?.to_string();
            let module = it
                .next()
                .map(|m| m.trim_start_matches('[').trim_end_matches(']').to_string());
            Some(KernelFunc { name, module })
        })
        .collect();
    let _ = TRACEABLE.set(set.into_iter().collect());
}

/// Whether `name` may be probed: always, unless `--traceable-functions` says otherwise.
pub(crate) fn traceable(name: &str) -> bool {
    TRACEABLE
        .get()
        .is_none_or(|fs| fs.iter().any(|f| f.name == name))
}

/// Text symbols of the running kernel and its modules, read once (or the
/// `--traceable-functions` list).
fn kernel_funcs() -> &'static [KernelFunc] {
    if let Some(fs) = TRACEABLE.get() {
        return fs;
    }
    static FUNCS: OnceLock<Vec<KernelFunc>> = OnceLock::new();
    FUNCS.get_or_init(|| {
        let text = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
        let set: BTreeSet<KernelFunc> = text.lines().filter_map(parse_kallsyms_line).collect();
        set.into_iter().collect()
    })
}

/// `ffffffff81000000 T name [module]` → the function, when it is one kprobes can name.
fn parse_kallsyms_line(line: &str) -> Option<KernelFunc> {
    let mut it = line.split_whitespace();
    let (_addr, kind, name) = (it.next()?, it.next()?, it.next()?);
    if !matches!(kind, "t" | "T") {
        return None;
    }
    // Padding and CFI stubs in front of functions, not functions.
    if name.starts_with("__pfx_") || name.starts_with("__cfi_") {
        return None;
    }
    let module = it
        .next()
        .map(|m| m.trim_start_matches('[').trim_end_matches(']').to_string());
    Some(KernelFunc {
        name: name.to_string(),
        module,
    })
}

/// Whether this kernel can attach kprobes at all: the `kprobe` PMU, or legacy
/// `kprobe_events` in tracefs.
pub fn attachable() -> bool {
    std::path::Path::new("/sys/bus/event_source/devices/kprobe/type").exists()
        || tracefs::root().is_ok_and(|r| r.join("kprobe_events").exists())
}

impl ProbeType for Kprobe {
    fn support(&self) -> Option<super::Support> {
        // Listed once, under the entry form's name.
        (!self.0).then_some(super::Support {
            rank: 0,
            needs: super::KernelNeed::Kprobes,
        })
    }

    fn owns(&self, ap: &AttachPoint) -> bool {
        matches!(ap, AttachPoint::Kprobe { ret, .. } if *ret == self.0)
    }
    fn display(&self, ap: &AttachPoint) -> String {
        let AttachPoint::Kprobe { func, offset, .. } = ap else {
            unreachable!("not a kprobe")
        };
        let kind = self.names()[0];
        match offset {
            0 => format!("{kind}:{func}"),
            off => format!("{kind}:{func}+{off}"),
        }
    }
    fn listing(&self) -> Option<Result<Vec<String>, String>> {
        Some(listing(self.names()[0]))
    }

    fn names(&self) -> &'static [&'static str] {
        if self.0 {
            &["kretprobe", "kr"]
        } else {
            &["kprobe", "k"]
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
        let (module, spec) = match parts {
            [f] if !f.is_empty() => (None, *f),
            [m, f] if !m.is_empty() && !f.is_empty() => (Some(*m), *f),
            _ => {
                return Err(
                    format!("expected `{kind}:FUNCTION` or `{kind}:MODULE:FUNCTION`").into(),
                )
            }
        };
        let (name, offset) = match spec.rsplit_once('+') {
            Some((n, off)) => match super::parse_num(off) {
                Some(o) => (n, o),
                None => return Err(format!("`{off}` is not a valid function offset").into()),
            },
            None => (spec, 0),
        };
        if self.0 && offset != 0 {
            return Err("kretprobe does not take an offset: it fires on return".into());
        }
        let wildcard = has_wildcard(name) || module.is_some_and(has_wildcard);
        if wildcard && offset != 0 {
            return Err("an offset cannot follow a wildcard function name".into());
        }
        let in_module = |f: &KernelFunc| match module {
            None => true,
            Some(m) => tracefs::glob_match(m, f.module.as_deref().unwrap_or("vmlinux")),
        };
        // A plain vmlinux function name is checked in BTF, much quicker than reading all of
        // /proc/kallsyms (which stays the source for wildcards, modules and functions BTF
        // does not describe).
        if !wildcard
            && module.is_none()
            && TRACEABLE.get().is_none()
            && super::btf::has(name, libbpf_sys::BTF_KIND_FUNC)
        {
            return Ok(vec![AttachPoint::Kprobe {
                ret: self.0,
                func: name.to_string(),
                offset,
                wildcard,
            }]);
        }
        let mut out: Vec<AttachPoint> = vec![];
        // A name in several modules (or static in several files) is probed once.
        let mut seen = std::collections::HashSet::new();
        for f in kernel_funcs() {
            if in_module(f) && tracefs::glob_match(name, &f.name) && seen.insert(&f.name) {
                out.push(AttachPoint::Kprobe {
                    ret: self.0,
                    func: f.name.clone(),
                    offset,
                    wildcard,
                });
            }
        }
        if out.is_empty() {
            return Err(if wildcard {
                ExpandError::missing(format!("no kernel function matches `{spec}`"))
            } else if TRACEABLE.get().is_some() {
                ExpandError::missing(format!(
                    "kernel function `{name}` is not in the --traceable-functions list"
                ))
            } else {
                ExpandError::missing(format!(
                    "kernel function `{name}` does not exist on this kernel"
                ))
            });
        }
        Ok(out)
    }

    fn section(&self, _: &AttachPoint) -> String {
        self.names()[0].into()
    }

    fn arg(&self, _: &AttachPoint, n: u32) -> Result<ArgLoc, String> {
        if self.0 {
            return Err(format!(
                "`arg{n}` is not available in kretprobe probes: the arguments are gone when \
                 the function returns (use `retval`)"
            ));
        }
        super::pt_regs::ARGS
            .get(n as usize)
            .map(|&off| ArgLoc::Ctx(off))
            .ok_or_else(|| {
                format!(
                    "`arg{n}` is not available: kprobes read arguments arg0…arg5 from registers"
                )
            })
    }

    fn retval(&self, _: &AttachPoint) -> Result<ArgLoc, String> {
        if self.0 {
            Ok(ArgLoc::Ctx(super::pt_regs::AX))
        } else {
            Err("`retval` is only available in kretprobe probes".into())
        }
    }

    fn func(&self, ap: &AttachPoint) -> Result<String, String> {
        let AttachPoint::Kprobe { func, .. } = ap else {
            unreachable!("not a kprobe")
        };
        Ok(func.clone())
    }

    fn attach(
        &self,
        prog: &libbpf_rs::ProgramMut,
        ap: &AttachPoint,
        _: &AttachContext,
    ) -> Result<Vec<Attachment>, String> {
        let AttachPoint::Kprobe {
            func,
            offset,
            wildcard,
            ..
        } = ap
        else {
            unreachable!("not a kprobe")
        };
        if !attachable() {
            return Err(
                "this kernel cannot attach kprobes (built without CONFIG_KPROBES: no kprobe PMU \
                 and no kprobe_events); the program itself passed the verifier"
                    .into(),
            );
        }
        let link = if *offset == 0 {
            let opts = libbpf_rs::KprobeOpts {
                cookie: super::uprobe::cookie(func),
                ..Default::default()
            };
            prog.attach_kprobe_with_opts(self.0, func, opts)
                .map_err(|e| format!("{e:#}"))
        } else {
            attach_at_offset(prog, func, *offset)
        };
        match link {
            Ok(link) => Ok(vec![Box::new(link)]),
            // Not every text symbol can be probed (notrace, blacklisted): one such function
            // must not sink a wildcard.
            Err(e) if *wildcard => {
                eprintln!("WARNING: could not attach {}, skipping: {e}", ap.name());
                Ok(vec![])
            }
            Err(e) => Err(format!("attaching to {} failed: {e}", ap.name())),
        }
    }
}

/// `kprobe:func+off`: libbpf-rs's options have no offset, libbpf's do.
fn attach_at_offset(
    prog: &libbpf_rs::ProgramMut,
    func: &str,
    offset: u64,
) -> Result<libbpf_rs::Link, String> {
    let name = std::ffi::CString::new(func).map_err(|e| e.to_string())?;
    let opts = libbpf_sys::bpf_kprobe_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_kprobe_opts>() as _,
        offset: offset as _,
        bpf_cookie: super::uprobe::cookie(func),
        ..Default::default()
    };
    // SAFETY: the program pointer is live for the call; name and opts outlive it.
    let ptr = unsafe {
        libbpf_sys::bpf_program__attach_kprobe_opts(
            prog.as_libbpf_object().as_ptr(),
            name.as_ptr(),
            &opts,
        )
    };
    let Some(ptr) = std::ptr::NonNull::new(ptr) else {
        return Err(std::io::Error::last_os_error().to_string());
    };
    // libbpf returns errors encoded in the pointer.
    let raw = ptr.as_ptr() as isize;
    if (-4095..0).contains(&raw) {
        return Err(std::io::Error::from_raw_os_error(-raw as i32).to_string());
    }
    // SAFETY: a valid link just created by libbpf, owned from here on.
    Ok(unsafe { libbpf_rs::Link::from_ptr(ptr) })
}

/// `kprobe:*` for `-l`: every probeable kernel function, `kprobe:module:func` for modules.
pub(crate) fn listing(provider: &str) -> Result<Vec<String>, String> {
    Ok(kernel_funcs()
        .iter()
        .map(|f| match &f.module {
            Some(m) => format!("{provider}:{m}:{}", f.name),
            None => format!("{provider}:{}", f.name),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kallsyms_lines_give_text_symbols_with_their_module() {
        let f = parse_kallsyms_line("ffffffffc0a01000 t nft_do_chain\t[nf_tables]").unwrap();
        assert_eq!(f.name, "nft_do_chain");
        assert_eq!(f.module.as_deref(), Some("nf_tables"));
        assert!(parse_kallsyms_line("ffffffff82000000 D jiffies").is_none());
        assert!(parse_kallsyms_line("ffffffff81000000 T __pfx_vfs_read").is_none());
        assert_eq!(
            parse_kallsyms_line("ffffffff81000000 T vfs_read")
                .unwrap()
                .module,
            None
        );
    }
}
