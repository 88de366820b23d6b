//! `iter:TARGET` (alias `it`): the kernel's BPF iterators (`task`, `task_file`, `task_vma`,
//! …). The program is a tracing program (`iter/TARGET`) the kernel runs once per object
//! while user space reads the iterator; `ctx` is the target's `struct bpf_iter__TARGET`.
//!
//! Targets are found in kernel BTF: each has a `bpf_iter_TARGET` function and a
//! `bpf_iter__TARGET` context struct.

use std::sync::OnceLock;

use libbpf_rs::AsRawLibbpf;
use libbpf_sys as sys;

use super::{btf, AttachPoint, Attachment, ProbeType};
use super::{AttachContext, ExpandError};

pub struct Iter;

/// An attached iterator; the runtime creates iterator fds from it and reads them.
pub struct IterLink(pub libbpf_rs::Link);

/// Targets that iterate over one object the attach must name (a map, a cgroup): spyglass
/// attaches iterators over everything, so these are refused.
const NEED_AN_OBJECT: &[(&str, &str)] = &[
    ("bpf_map_elem", "a BPF map"),
    ("bpf_sk_storage_map", "a BPF map"),
    ("sockmap", "a BPF map"),
    ("cgroup", "a cgroup"),
];

/// Every iterator target of the running kernel that spyglass can attach, sorted.
pub fn targets() -> &'static [String] {
    static ALL: OnceLock<Vec<String>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut v: Vec<String> = btf::names_of_kind(sys::BTF_KIND_STRUCT)
            .into_iter()
            .filter_map(|n| n.strip_prefix("bpf_iter__").map(String::from))
            .filter(|t| btf::has(&format!("bpf_iter_{t}"), sys::BTF_KIND_FUNC))
            .filter(|t| !NEED_AN_OBJECT.iter().any(|(n, _)| n == t))
            .collect();
        v.sort();
        v.dedup();
        v
    })
}

fn target(ap: &AttachPoint) -> &str {
    match ap {
        AttachPoint::Iter { target } => target,
        _ => unreachable!("not an iterator"),
    }
}

impl ProbeType for Iter {
    fn support(&self) -> Option<super::Support> {
        Some(super::Support {
            rank: 10,
            needs: super::KernelNeed::IterTargets,
        })
    }

    fn owns(&self, ap: &AttachPoint) -> bool {
        matches!(ap, AttachPoint::Iter { .. })
    }
    fn display(&self, ap: &AttachPoint) -> String {
        let AttachPoint::Iter { target } = ap else {
            unreachable!("not an iterator")
        };
        format!("iter:{target}")
    }
    fn listing(&self) -> Option<Result<Vec<String>, String>> {
        Some(listing())
    }

    fn pid_filtered(&self) -> bool {
        false
    }

    /// An iterator program is loaded for its target.
    fn one_program_each(&self) -> bool {
        true
    }
    fn names(&self) -> &'static [&'static str] {
        &["iter", "it"]
    }

    fn expand(&self, parts: &[&str]) -> Result<Vec<AttachPoint>, ExpandError> {
        let name = match parts {
            [name] if !name.is_empty() => *name,
            [name, pin] if !pin.is_empty() => {
                return Err(format!(
                    "pinning iterators (`iter:{name}:{pin}`) is not supported: \
                     spyglass reads the iterator itself (use `iter:{name}`)"
                )
                .into())
            }
            _ => return Err("expected `iter:TARGET`".into()),
        };
        if name.contains(['*', '?', '[']) {
            return Err("iter probes do not take wildcards".into());
        }
        if let Some((_, what)) = NEED_AN_OBJECT.iter().find(|(n, _)| *n == name) {
            return Err(format!(
                "iter:{name} iterates over {what} named when attaching, which spyglass does not support"
            ).into());
        }
        if !targets().iter().any(|t| t == name) {
            return Err(if targets().is_empty() {
                "this kernel has no BPF iterators (or no BTF to find them in)".into()
            } else {
                ExpandError::missing(format!(
                    "iterator `{name}` does not exist on this kernel \
                     (`spyglass -l 'iter:*'` lists the ones it has)"
                ))
            });
        }
        Ok(vec![AttachPoint::Iter {
            target: name.to_string(),
        }])
    }

    fn section(&self, ap: &AttachPoint) -> String {
        format!("iter/{}", target(ap))
    }

    fn ctx_type(&self, ap: &AttachPoint) -> Option<String> {
        Some(format!("struct bpf_iter__{}", target(ap)))
    }

    fn skip_unless_set(&self, ap: &AttachPoint) -> Option<u32> {
        // The kernel calls the program once more after the last object, with the object
        // pointer (the member after `meta`) NULL; bpftrace's blocks never see that call.
        let members = btf::struct_members(&format!("bpf_iter__{}", target(ap)))?;
        members
            .iter()
            .find(|(_, m)| m.name != "meta" && m.pointer)
            .map(|(off, _)| *off)
    }

    fn process_context(&self, _: &AttachPoint) -> bool {
        true
    }

    fn attach(
        &self,
        prog: &libbpf_rs::ProgramMut,
        ap: &AttachPoint,
        _: &AttachContext,
    ) -> Result<Vec<Attachment>, String> {
        // SAFETY: a loaded program; NULL options attach to every object of the target.
        let ptr = unsafe {
            sys::bpf_program__attach_iter(prog.as_libbpf_object().as_ptr(), std::ptr::null())
        };
        let raw = ptr as isize;
        if ptr.is_null() || (-4095..0).contains(&raw) {
            let err = if (-4095..0).contains(&raw) {
                std::io::Error::from_raw_os_error(-raw as i32)
            } else {
                std::io::Error::last_os_error()
            };
            return Err(format!("attaching to {} failed: {err}", ap.name()));
        }
        // SAFETY: a valid link just created by libbpf, owned from here on.
        let link = unsafe { libbpf_rs::Link::from_ptr(std::ptr::NonNull::new(ptr).unwrap()) };
        Ok(vec![Box::new(IterLink(link))])
    }
}

/// `-l` lines.
pub(crate) fn listing() -> Result<Vec<String>, String> {
    Ok(targets().iter().map(|t| format!("iter:{t}")).collect())
}

/// `-lv` lines: the context's members, `    struct task_struct * task;`.
pub fn params(name: &str) -> Vec<String> {
    btf::struct_members(&format!("bpf_iter__{name}"))
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, m)| m.name != "meta")
        .map(|(_, m)| format!("    {} {};", m.c_type, m.name))
        .collect()
}
