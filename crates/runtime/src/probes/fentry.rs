//! `fentry:[MODULE:]FUNCTION` (aliases `f`, `kfunc`) and `fexit:…` (`fr`, `kretfunc`):
//! BPF trampolines on kernel functions. Their context is the function's arguments as u64s,
//! typed and named from the kernel's BTF (`args.NAME`); an `fexit` program also sees the
//! return value after them (`retval`, typed too) and, unlike a kretprobe, the arguments.
//!
//! Functions come from vmlinux BTF. libbpf finds the attach target from the section name
//! when loading.

use super::elf::has_wildcard;
use super::{AttachContext, ExpandError};
use std::os::fd::AsRawFd;

use super::{bpf_progs, btf, tracefs, ArgField, ArgLoc, AttachPoint, Attachment, ProbeType};

/// `fentry` (false) or `fexit` (true).
pub struct Fentry(pub bool);

impl ProbeType for Fentry {
    fn support(&self) -> Option<super::Support> {
        // Listed once, under the entry form's name.
        (!self.0).then_some(super::Support {
            rank: 9,
            needs: super::KernelNeed::ProgType(libbpf_sys::BPF_PROG_TYPE_TRACING),
        })
    }

    fn owns(&self, ap: &AttachPoint) -> bool {
        matches!(ap, AttachPoint::Fentry { ret, .. } if *ret == self.0)
    }
    fn display(&self, ap: &AttachPoint) -> String {
        let AttachPoint::Fentry { func, prog, .. } = ap else {
            unreachable!("not an fentry probe")
        };
        let kind = self.names()[0];
        match prog {
            Some(id) => format!("{kind}:bpf:{id}:{func}"),
            None => format!("{kind}:{func}"),
        }
    }
    fn listing(&self) -> Option<Result<Vec<String>, String>> {
        Some(Ok(listing(self.names()[0])))
    }

    fn names(&self) -> &'static [&'static str] {
        match self.0 {
            false => &["fentry", "f", "kfunc"],
            true => &["fexit", "fr", "kretfunc"],
        }
    }

    /// Each program is loaded for its function's trampoline.
    fn one_program_each(&self) -> bool {
        true
    }

    fn expand(&self, parts: &[&str]) -> Result<Vec<AttachPoint>, ExpandError> {
        let kind = self.names()[0];
        if parts.first() == Some(&"bpf") {
            return self.expand_bpf(&parts[1..]);
        }
        let (module, func) = match parts {
            [f] => (None, *f),
            [m, f] => (Some(*m), *f),
            _ => {
                return Err(
                    format!("expected `{kind}:FUNCTION` or `{kind}:MODULE:FUNCTION`").into(),
                )
            }
        };
        if func.is_empty() {
            return Err(format!("expected `{kind}:FUNCTION`").into());
        }
        if let Some(m) = module.filter(|m| !tracefs::glob_match(m, "vmlinux")) {
            let mut have: Vec<String> = std::fs::read_dir("/sys/kernel/btf")
                .map(|d| {
                    d.flatten()
                        .filter_map(|e| e.file_name().into_string().ok())
                        .collect()
                })
                .unwrap_or_default();
            have.sort();
            return Err(ExpandError::missing(
                if has_wildcard(m) || have.iter().any(|h| h == m) {
                    format!(
                        "functions of kernel modules (`{m}`) cannot be traced yet: spyglass reads \
                     only vmlinux's BTF"
                    )
                } else {
                    format!(
                        "module `{m}` has no BTF on this kernel (not loaded, or built in); \
                     /sys/kernel/btf has: {}",
                        have.join(", ")
                    )
                },
            ));
        }
        let mut funcs: Vec<String> = if has_wildcard(func) {
            let mut all = btf::names_of_kind(libbpf_sys::BTF_KIND_FUNC);
            all.retain(|f| tracefs::glob_match(func, f));
            all.sort();
            all.dedup();
            all
        } else if btf::has(func, libbpf_sys::BTF_KIND_FUNC) {
            vec![func.to_string()]
        } else {
            vec![]
        };
        funcs.retain(|f| super::kprobe::traceable(f));
        if funcs.is_empty() {
            return Err(ExpandError::missing(if has_wildcard(func) {
                format!("no kernel function in BTF matches `{func}`")
            } else {
                format!("kernel function `{func}` is not in this kernel's BTF")
            }));
        }
        Ok(funcs
            .into_iter()
            .map(|func| AttachPoint::Fentry {
                ret: self.0,
                func,
                prog: None,
            })
            .collect())
    }

    fn section(&self, ap: &AttachPoint) -> String {
        let AttachPoint::Fentry { ret, func, .. } = ap else {
            unreachable!("not an fentry probe")
        };
        format!("{}/{func}", if *ret { "fexit" } else { "fentry" })
    }

    fn args(&self, ap: &AttachPoint) -> Result<Option<Vec<ArgField>>, String> {
        if matches!(ap, AttachPoint::Fentry { prog: Some(_), .. }) {
            return Ok(None);
        }
        Ok(Some(
            params(ap)?
                .iter()
                .enumerate()
                .map(|(i, p)| p.arg_field(8 * i as u32))
                .collect(),
        ))
    }

    fn arg(&self, ap: &AttachPoint, _: u32) -> Result<ArgLoc, String> {
        Err(format!(
            "{} probes name their arguments: use `args.NAME` (`spyglass -lv '{}'` lists them)",
            self.names()[0],
            ap.name()
        ))
    }

    /// After the arguments in the context; typed by `retval_field`.
    fn retval(&self, ap: &AttachPoint) -> Result<ArgLoc, String> {
        if !self.0 {
            return Err("`retval` is only available in fexit probes".into());
        }
        if matches!(ap, AttachPoint::Fentry { prog: Some(_), .. }) {
            return Err("`retval` is not available on BPF programs (`fexit:bpf:…`)".into());
        }
        Ok(ArgLoc::Ctx(8 * params(ap)?.len() as u32))
    }

    fn func(&self, ap: &AttachPoint) -> Result<String, String> {
        let AttachPoint::Fentry { func, .. } = ap else {
            unreachable!("not an fentry probe")
        };
        Ok(func.clone())
    }

    fn before_load(
        &self,
        prog: &mut libbpf_rs::OpenProgramMut,
        ap: &AttachPoint,
    ) -> Result<Option<std::os::fd::OwnedFd>, String> {
        let AttachPoint::Fentry {
            func,
            prog: Some(id),
            ..
        } = ap
        else {
            return Ok(None);
        };
        let fd = bpf_progs::prog_fd(*id)?;
        prog.set_attach_target(fd.as_raw_fd(), Some(func.clone()))
            .map_err(|e| format!("cannot target {}: {e}", ap.name()))?;
        Ok(Some(fd))
    }

    fn attach(
        &self,
        prog: &libbpf_rs::ProgramMut,
        ap: &AttachPoint,
        _: &AttachContext,
    ) -> Result<Vec<Attachment>, String> {
        let link = prog
            .attach_trace()
            .map_err(|e| format!("attaching to {} failed: {e}", ap.name()))?;
        Ok(vec![Box::new(link)])
    }
}

impl Fentry {
    /// `fentry:bpf:NAME`, `fentry:bpf:ID:NAME` (ID may be `*`): functions of running BPF
    /// programs, names as globs.
    fn expand_bpf(&self, parts: &[&str]) -> Result<Vec<AttachPoint>, ExpandError> {
        let kind = self.names()[0];
        let (id, name) = match parts {
            [n] => (None, *n),
            [i, n] => match *i {
                "*" => (None, *n),
                i => match i.parse::<u32>() {
                    Ok(id) => (Some(id), *n),
                    Err(_) => return Err(format!("`{i}` is not a BPF program id").into()),
                },
            },
            _ => return Err(format!("expected `{kind}:bpf:[ID:]NAME`").into()),
        };
        if name.is_empty() {
            return Err(format!("expected `{kind}:bpf:[ID:]NAME`").into());
        }
        let out: Vec<AttachPoint> = bpf_progs::running()
            .into_iter()
            .filter(|f| id.is_none_or(|i| i == f.prog_id) && tracefs::glob_match(name, &f.name))
            .map(|f| AttachPoint::Fentry {
                ret: self.0,
                func: f.name,
                prog: Some(f.prog_id),
            })
            .collect();
        if out.is_empty() {
            return Err(ExpandError::missing(match id {
                Some(i) => format!("no function `{name}` in a running BPF program with id {i}"),
                None => format!("no running BPF program has a function `{name}`"),
            }));
        }
        Ok(out)
    }
}

/// Whether `fexit`'s `retval` is signed at `ap` (an `int`, a `long`, …).
pub fn retval_signed(ap: &AttachPoint) -> bool {
    match ap {
        AttachPoint::Fentry {
            ret: true,
            func,
            prog: None,
        } => btf::func_return(func).is_some_and(|p| p.signed && !p.pointer),
        _ => false,
    }
}

fn params(ap: &AttachPoint) -> Result<Vec<btf::Param>, String> {
    let AttachPoint::Fentry { func, .. } = ap else {
        unreachable!("not an fentry probe")
    };
    btf::func_params(func).ok_or_else(|| format!("kernel function `{func}` is not in BTF"))
}

/// `-l 'fentry:bpf:*'` lines: `fentry:bpf:ID:NAME` for every function of a running
/// program.
pub fn bpf_listing(kind: &str) -> Vec<String> {
    bpf_progs::running()
        .into_iter()
        .map(|f| format!("{kind}:bpf:{}:{}", f.prog_id, f.name))
        .collect()
}

/// `-l` lines, bpftrace's naming: `fentry:vmlinux:vfs_read`.
pub fn listing(kind: &str) -> Vec<String> {
    let mut names = btf::names_of_kind(libbpf_sys::BTF_KIND_FUNC);
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|f| super::kprobe::traceable(f))
        .map(|f| format!("{kind}:vmlinux:{f}"))
        .collect()
}

/// `-lv` lines: `    struct file * file;`, and for fexit the return value.
pub fn param_lines(func: &str, ret: bool) -> Vec<String> {
    let mut lines: Vec<String> = btf::func_params(func)
        .unwrap_or_default()
        .iter()
        .map(|p| format!("    {} {};", p.c_type, p.name))
        .collect();
    if let Some(r) = btf::func_return(func).filter(|_| ret) {
        lines.push(format!("    {} retval;", r.c_type));
    }
    lines
}
