//! `rawtracepoint:[MODULE:]EVENT` (alias `rt`): the kernel's raw tracepoints. The program
//! gets the tracepoint's own C arguments as `u64 args[]` (read with `arg0`…), not the
//! formatted record a `tracepoint` gets.
//!
//! Raw tracepoints are found in kernel BTF: every one has a `btf_trace_EVENT` typedef of a
//! pointer to its probe's prototype `(void *, args…)`, which also gives the argument count.
//! Without BTF, tracefs event names stand in (argument counts then unknown).

use std::ffi::CStr;
use std::sync::OnceLock;

use super::{btf, tracefs, ArgField, ArgLoc, AttachPoint, Attachment, ProbeType};
use super::{AttachContext, ExpandError};
use libbpf_sys as sys;

pub struct RawTracepoint;

/// The kernel passes at most this many u64 arguments (MAX_BPF_FUNC_ARGS).
const MAX_ARGS: u32 = 12;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RawTp {
    pub module: String,
    pub name: String,
    pub nargs: Option<u32>,
}

impl ProbeType for RawTracepoint {
    fn support(&self) -> Option<super::Support> {
        Some(super::Support {
            rank: 2,
            needs: super::KernelNeed::ProgType(libbpf_sys::BPF_PROG_TYPE_RAW_TRACEPOINT),
        })
    }

    fn owns(&self, ap: &AttachPoint) -> bool {
        matches!(ap, AttachPoint::RawTracepoint { .. })
    }
    fn display(&self, ap: &AttachPoint) -> String {
        let AttachPoint::RawTracepoint { module, name } = ap else {
            unreachable!("not a raw tracepoint")
        };
        format!("rawtracepoint:{module}:{name}")
    }
    fn listing(&self) -> Option<Result<Vec<String>, String>> {
        Some(listing())
    }

    fn names(&self) -> &'static [&'static str] {
        &["rawtracepoint", "rt"]
    }

    fn expand(&self, parts: &[&str]) -> Result<Vec<AttachPoint>, ExpandError> {
        let (module, name) = match parts {
            [name] => ("*", *name),
            [module, name] => (*module, *name),
            _ => return Err("expected `rawtracepoint:[MODULE:]EVENT`".into()),
        };
        if module.is_empty() || name.is_empty() {
            return Err("expected `rawtracepoint:[MODULE:]EVENT`".into());
        }
        let found: Vec<AttachPoint> = all()?
            .iter()
            .filter(|t| {
                tracefs::glob_match(module, &t.module) && tracefs::glob_match(name, &t.name)
            })
            .map(|t| AttachPoint::RawTracepoint {
                module: t.module.clone(),
                name: t.name.clone(),
            })
            .collect();
        if found.is_empty() {
            let what = if module == "*" {
                name.to_string()
            } else {
                format!("{module}:{name}")
            };
            // `rt:sched:sched_switch`: a tracepoint category where the module goes.
            if let Some(t) = all()?.iter().find(|t| tracefs::glob_match(name, &t.name)) {
                return Err(format!(
                    "no raw tracepoint `{name}` in module `{module}`; it is in `{}` \
                     (the optional part is a kernel module, not a tracepoint category): \
                     use `rawtracepoint:{name}`",
                    t.module
                )
                .into());
            }
            return Err(if what.contains(['*', '?', '[']) {
                ExpandError::missing(format!("no raw tracepoint matches `{what}`"))
            } else {
                ExpandError::missing(format!(
                    "raw tracepoint `{what}` does not exist on this kernel"
                ))
            });
        }
        Ok(found)
    }

    fn section(&self, ap: &AttachPoint) -> String {
        let AttachPoint::RawTracepoint { name, .. } = ap else {
            unreachable!("not a raw tracepoint")
        };
        format!("raw_tp/{name}")
    }

    fn btf_section(&self, ap: &AttachPoint) -> Option<String> {
        let AttachPoint::RawTracepoint { name, .. } = ap else {
            unreachable!("not a raw tracepoint")
        };
        Some(format!("tp_btf/{name}"))
    }

    /// Named and typed from the tracepoint's `__probestub_EVENT` (or, lacking that, its
    /// `btf_trace_EVENT` prototype, where arguments are `arg0`…): `args.action`.
    fn args(&self, ap: &AttachPoint) -> Result<Option<Vec<ArgField>>, String> {
        let AttachPoint::RawTracepoint { name, .. } = ap else {
            unreachable!("not a raw tracepoint")
        };
        Ok(Some(
            params(name)
                .iter()
                .enumerate()
                .map(|(i, p)| p.arg_field(8 * i as u32))
                .collect(),
        ))
    }

    fn arg(&self, ap: &AttachPoint, n: u32) -> Result<ArgLoc, String> {
        let AttachPoint::RawTracepoint { module, name } = ap else {
            unreachable!("not a raw tracepoint")
        };
        let nargs = all()
            .ok()
            .and_then(|ts| ts.iter().find(|t| &t.module == module && &t.name == name))
            .and_then(|t| t.nargs);
        match nargs {
            Some(k) if n >= k => Err(format!(
                "`arg{n}` does not exist at {}: it has {k} argument{}",
                ap.name(),
                if k == 1 { "" } else { "s" }
            )),
            _ if n >= MAX_ARGS => Err(format!(
                "`arg{n}` does not exist: raw tracepoints have at most {MAX_ARGS} arguments"
            )),
            // The kernel rejects the attach if the program reads past the last argument.
            _ => Ok(ArgLoc::Ctx(8 * n)),
        }
    }

    fn attach(
        &self,
        prog: &libbpf_rs::ProgramMut,
        ap: &AttachPoint,
        _: &AttachContext,
    ) -> Result<Vec<Attachment>, String> {
        let AttachPoint::RawTracepoint { name, .. } = ap else {
            unreachable!("not a raw tracepoint")
        };
        // A `tp_btf` program (see `btf_section`) attaches through its BTF target.
        let link = if prog.prog_type() == libbpf_rs::ProgramType::Tracing {
            prog.attach_trace()
        } else {
            prog.attach_raw_tracepoint(name)
        }
        .map_err(|e| format!("attaching to {} failed: {e}", ap.name()))?;
        Ok(vec![Box::new(link)])
    }
}

/// Every raw tracepoint of the running kernel, sorted by module and name.
pub(crate) fn all() -> Result<&'static [RawTp], String> {
    static ALL: OnceLock<Result<Vec<RawTp>, String>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut found = match from_btf() {
            Some(v) => v,
            None => tracefs::all_tracepoints()?
                .into_iter()
                .map(|(_, name)| RawTp {
                    module: "vmlinux".into(),
                    name,
                    nargs: None,
                })
                .collect(),
        };
        found.sort();
        found.dedup_by(|a, b| a.module == b.module && a.name == b.name);
        Ok(found)
    })
    .as_ref()
    .map(Vec::as_slice)
    .map_err(Clone::clone)
}

/// An owned libbpf BTF object.
struct Btf(*mut sys::btf);

impl Drop for Btf {
    fn drop(&mut self) {
        unsafe { sys::btf__free(self.0) }
    }
}

const BTF_DIR: &str = "/sys/kernel/btf";

fn from_btf() -> Option<Vec<RawTp>> {
    let path = std::ffi::CString::new(format!("{BTF_DIR}/vmlinux")).ok()?;
    let base = unsafe { sys::btf__parse(path.as_ptr(), std::ptr::null_mut()) };
    if base.is_null() {
        return None;
    }
    let base = Btf(base);
    let mut out = vec![];
    trace_typedefs(base.0, 1, "vmlinux", &mut out);
    let first_module_id = unsafe { sys::btf__type_cnt(base.0) };
    let mut modules: Vec<String> = std::fs::read_dir(BTF_DIR)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    modules.retain(|m| m != "vmlinux");
    for module in modules {
        let Ok(path) = std::ffi::CString::new(format!("{BTF_DIR}/{module}")) else {
            continue;
        };
        let split = unsafe { sys::btf__parse_split(path.as_ptr(), base.0) };
        if split.is_null() {
            continue;
        }
        let split = Btf(split);
        trace_typedefs(split.0, first_module_id, &module, &mut out);
    }
    Some(out)
}

/// Collects `btf_trace_*` typedefs with type ids from `first` on.
fn trace_typedefs(btf: *const sys::btf, first: u32, module: &str, out: &mut Vec<RawTp>) {
    let kind = |t: &sys::btf_type| (t.info >> 24) & 0x1f;
    let target =
        |t: &sys::btf_type| unsafe { sys::btf__type_by_id(btf, t.__bindgen_anon_1.type_).as_ref() };
    let count = unsafe { sys::btf__type_cnt(btf) };
    for id in first..count {
        let Some(t) = (unsafe { sys::btf__type_by_id(btf, id).as_ref() }) else {
            continue;
        };
        if kind(t) != sys::BTF_KIND_TYPEDEF {
            continue;
        }
        let name = unsafe { sys::btf__name_by_offset(btf, t.name_off) };
        if name.is_null() {
            continue;
        }
        let name = unsafe { CStr::from_ptr(name) }.to_string_lossy();
        let Some(event) = name.strip_prefix("btf_trace_") else {
            continue;
        };
        let proto = target(t)
            .filter(|p| kind(p) == sys::BTF_KIND_PTR)
            .and_then(target);
        // The first parameter is the probe's private data, not a tracepoint argument.
        let nargs = proto
            .filter(|p| kind(p) == sys::BTF_KIND_FUNC_PROTO)
            .map(|p| (p.info & 0xffff).saturating_sub(1));
        out.push(RawTp {
            module: module.into(),
            name: event.into(),
            nargs,
        });
    }
}

/// The tracepoint's arguments, without the probe's private data pointer first.
pub(crate) fn params(event: &str) -> Vec<btf::Param> {
    let mut ps = btf::func_params(&format!("__probestub_{event}"))
        .or_else(|| btf::typedef_proto_params(&format!("btf_trace_{event}")))
        .unwrap_or_default();
    if !ps.is_empty() {
        ps.remove(0);
    }
    ps
}

/// `-lv` lines: `    struct irqaction * action;`.
pub fn param_lines(event: &str) -> Vec<String> {
    params(event)
        .iter()
        .map(|p| format!("    {} {};", p.c_type, p.name))
        .collect()
}

/// `-l` lines, bpftrace's naming.
pub(crate) fn listing() -> Result<Vec<String>, String> {
    Ok(all()?
        .iter()
        .map(|t| format!("rawtracepoint:{}:{}", t.module, t.name))
        .collect())
}
