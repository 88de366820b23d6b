//! `tracepoint:CATEGORY:NAME` (alias `t`), typed from the kernel's format files.

use std::os::fd::{AsFd, OwnedFd};

use super::perf::{self, PerfLink};
use super::tracefs::{self, TpFieldKind};
use super::{ArgField, ArgKind, AttachPoint, Attachment, ProbeType};
use super::{AttachContext, ExpandError};

pub struct Tracepoint;

impl ProbeType for Tracepoint {
    fn support(&self) -> Option<super::Support> {
        Some(super::Support {
            rank: 1,
            needs: super::KernelNeed::Tracepoints,
        })
    }

    fn owns(&self, ap: &AttachPoint) -> bool {
        matches!(ap, AttachPoint::Tracepoint { .. })
    }
    fn display(&self, ap: &AttachPoint) -> String {
        let AttachPoint::Tracepoint { category, name } = ap else {
            unreachable!("not a tracepoint")
        };
        format!("tracepoint:{category}:{name}")
    }
    fn listing(&self) -> Option<Result<Vec<String>, String>> {
        Some(tracefs::all_tracepoints().map(|all| {
            all.into_iter()
                .map(|(c, n)| format!("tracepoint:{c}:{n}"))
                .collect()
        }))
    }

    fn names(&self) -> &'static [&'static str] {
        &["tracepoint", "t"]
    }
    fn never_nested(&self) -> bool {
        true
    }

    fn expand(&self, parts: &[&str]) -> Result<Vec<AttachPoint>, ExpandError> {
        let (cat, name) = match parts {
            [cat, name] => (*cat, *name),
            // `t:*open*`: any category.
            [name] if name.contains('*') => ("*", *name),
            _ => return Err("expected `tracepoint:CATEGORY:NAME`".into()),
        };
        if cat.is_empty() || name.is_empty() {
            return Err("expected `tracepoint:CATEGORY:NAME`".into());
        }
        let found = tracefs::matching(cat, name)?;
        if found.is_empty() {
            return Err(if cat.contains('*') || name.contains('*') {
                ExpandError::missing(format!("no tracepoint matches `{cat}:{name}`"))
            } else {
                ExpandError::missing(format!(
                    "tracepoint `{cat}:{name}` does not exist on this kernel"
                ))
            });
        }
        Ok(found
            .into_iter()
            .map(|(category, name)| AttachPoint::Tracepoint { category, name })
            .collect())
    }

    /// System-call entries and exits run in the calling task, interrupts on; other
    /// tracepoints may fire in interrupt context.
    fn process_context(&self, ap: &AttachPoint) -> bool {
        matches!(ap, AttachPoint::Tracepoint { category, .. } if category == "syscalls" || category == "raw_syscalls")
    }

    fn section(&self, ap: &AttachPoint) -> String {
        let AttachPoint::Tracepoint { category, name } = ap else {
            unreachable!("not a tracepoint")
        };
        format!("tracepoint/{category}/{name}")
    }

    fn args(&self, ap: &AttachPoint) -> Result<Option<Vec<ArgField>>, String> {
        let AttachPoint::Tracepoint { category, name } = ap else {
            unreachable!("not a tracepoint")
        };
        // Syscall arguments are user-space pointers; everything else points into the kernel.
        let user = category == "syscalls";
        let fields = tracefs::format(category, name)?
            .into_iter()
            .filter(|f| !f.common)
            .map(|f| ArgField {
                kind: match f.kind {
                    TpFieldKind::Pointer { .. } => ArgKind::Pointer { user },
                    TpFieldKind::DataLoc { is_string: true } => ArgKind::DataLocStr,
                    TpFieldKind::CharArray { len } => ArgKind::CharArray { len },
                    _ => ArgKind::Int,
                },
                name: f.name,
                c_type: f.c_type,
                offset: f.offset,
                size: f.size,
                signed: f.signed,
                on_stack: false,
            })
            .collect();
        Ok(Some(fields))
    }

    fn attach(
        &self,
        prog: &libbpf_rs::ProgramMut,
        ap: &AttachPoint,
        _: &AttachContext,
    ) -> Result<Vec<Attachment>, String> {
        let AttachPoint::Tracepoint { category, name } = ap else {
            unreachable!("not a tracepoint")
        };
        let event = open_event(category, name)?;
        let link = PerfLink::new(prog.as_fd(), event)
            .map_err(|e| format!("attaching to tracepoint:{category}:{name} failed: {e}"))?;
        Ok(vec![Box::new(link)])
    }
}

/// The tracepoint's perf event, opened disabled: `PerfLink` enables it once the program
/// is attached. One event, on CPU 0, is enough: the program runs wherever the tracepoint
/// fires.
fn open_event(category: &str, name: &str) -> Result<OwnedFd, String> {
    let dir = tracefs::root()?.join("events").join(category).join(name);
    let unreadable =
        |e: &dyn std::fmt::Display| format!("cannot read tracepoint:{category}:{name}'s id: {e}");
    let text = crate::user_cache::read_small(dir.join("id")).map_err(|e| match e.kind() {
        // Said plainly: an artifact built elsewhere may name one this kernel lacks.
        std::io::ErrorKind::NotFound => {
            format!("tracepoint:{category}:{name} does not exist on this kernel")
        }
        _ => unreadable(&e),
    })?;
    let id = text.trim().parse::<u64>().map_err(|e| unreadable(&e))?;
    // SAFETY: perf_event_attr is plain data; all-zero is its default.
    let mut attr: libbpf_sys::perf_event_attr = unsafe { std::mem::zeroed() };
    attr.type_ = libbpf_sys::PERF_TYPE_TRACEPOINT;
    attr.size = std::mem::size_of::<libbpf_sys::perf_event_attr>() as u32;
    attr.config = id;
    attr.set_disabled(1);
    perf::open(&attr, -1, 0).map_err(|e| {
        format!("attaching to tracepoint:{category}:{name} failed: perf_event_open: {e}")
    })
}
