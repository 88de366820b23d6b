//! `hardware:EVENT[:COUNT]` (alias `h`): a CPU performance counter (PMU) on every CPU;
//! the program runs every COUNT events. Virtual machines often have no PMU, so attaching
//! says so plainly.

use super::perf::{PerfError, PerfEvent, Sample, Scope};
use super::software::{self, ev, EventDef};
use super::{AttachContext, ExpandError};
use super::{AttachPoint, Attachment, ProbeType};
use libbpf_sys as sys;

pub(crate) const EVENTS: &[EventDef] = &[
    ev(
        "backend-stalls",
        None,
        sys::PERF_COUNT_HW_STALLED_CYCLES_BACKEND,
        1_000_000,
    ),
    ev(
        "branch-instructions",
        Some("branches"),
        sys::PERF_COUNT_HW_BRANCH_INSTRUCTIONS,
        100_000,
    ),
    ev(
        "branch-misses",
        None,
        sys::PERF_COUNT_HW_BRANCH_MISSES,
        100_000,
    ),
    ev("bus-cycles", None, sys::PERF_COUNT_HW_BUS_CYCLES, 100_000),
    ev(
        "cache-misses",
        None,
        sys::PERF_COUNT_HW_CACHE_MISSES,
        1_000_000,
    ),
    ev(
        "cache-references",
        None,
        sys::PERF_COUNT_HW_CACHE_REFERENCES,
        1_000_000,
    ),
    ev(
        "cpu-cycles",
        Some("cycles"),
        sys::PERF_COUNT_HW_CPU_CYCLES,
        1_000_000,
    ),
    ev(
        "frontend-stalls",
        None,
        sys::PERF_COUNT_HW_STALLED_CYCLES_FRONTEND,
        1_000_000,
    ),
    ev(
        "instructions",
        None,
        sys::PERF_COUNT_HW_INSTRUCTIONS,
        1_000_000,
    ),
    ev(
        "ref-cycles",
        None,
        sys::PERF_COUNT_HW_REF_CPU_CYCLES,
        1_000_000,
    ),
];

pub struct Hardware;

impl ProbeType for Hardware {
    fn support(&self) -> Option<super::Support> {
        Some(super::Support {
            rank: 6,
            needs: super::KernelNeed::ProgType(libbpf_sys::BPF_PROG_TYPE_PERF_EVENT),
        })
    }

    fn owns(&self, ap: &AttachPoint) -> bool {
        matches!(ap, AttachPoint::Hardware { .. })
    }
    fn display(&self, ap: &AttachPoint) -> String {
        let AttachPoint::Hardware { event, count } = ap else {
            unreachable!("not a hardware probe")
        };
        software::display("hardware", event, *count)
    }
    fn listing(&self) -> Option<Result<Vec<String>, String>> {
        Some(Ok(software::listing("hardware", EVENTS)))
    }

    // Counting is limited to the process at attach time instead (`perf::Scope`).
    fn pid_filtered(&self) -> bool {
        false
    }

    fn names(&self) -> &'static [&'static str] {
        &["hardware", "h"]
    }
    fn never_nested(&self) -> bool {
        true
    }
    fn regs(&self) -> Option<u32> {
        // pt_regs, or bpf_perf_event_data, whose first member is the pt_regs.
        Some(0)
    }
    fn expand(&self, parts: &[&str]) -> Result<Vec<AttachPoint>, ExpandError> {
        let (event, count) = software::parse("hardware", EVENTS, parts)?;
        Ok(vec![AttachPoint::Hardware { event, count }])
    }
    fn section(&self, _: &AttachPoint) -> String {
        "perf_event".into()
    }
    fn attach(
        &self,
        prog: &libbpf_rs::ProgramMut,
        ap: &AttachPoint,
        cx: &AttachContext,
    ) -> Result<Vec<Attachment>, String> {
        let AttachPoint::Hardware { event, count } = ap else {
            unreachable!("not a hardware probe")
        };
        let def = software::lookup(EVENTS, event).expect("expand checked the event name");
        let perf = PerfEvent {
            type_: sys::PERF_TYPE_HARDWARE,
            config: def.config,
        };
        let period = count.unwrap_or(def.default_count);
        super::perf::attach_perf_event(prog, &Scope::sampling(cx), perf, Sample::Period(period)).map_err(|e| match e {
            PerfError::Open { err, .. } if no_counter(&err) && !has_cpu_pmu() => format!(
                "cannot attach {}: this machine exposes no hardware performance counters (no CPU PMU, \
                 as is common in virtual machines; perf_event_open: {err})",
                ap.name()
            ),
            PerfError::Open { err, .. } if no_counter(&err) => format!(
                "cannot attach {}: this CPU's performance counters do not support `{}` (perf_event_open: {err})",
                ap.name(),
                def.name
            ),
            e => format!("attaching {} failed: {e}", ap.name()),
        })
    }
}

/// The CPU's PMU registers as the raw-event type (PERF_TYPE_RAW) in sysfs.
fn has_cpu_pmu() -> bool {
    let raw = sys::PERF_TYPE_RAW.to_string();
    std::fs::read_dir("/sys/bus/event_source/devices")
        .map(|d| {
            d.flatten().any(|e| {
                std::fs::read_to_string(e.path().join("type")).is_ok_and(|t| t.trim() == raw)
            })
        })
        .unwrap_or(false)
}

/// The errors perf_event_open gives when there is no PMU or it lacks this event.
fn no_counter(err: &std::io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::ENOENT | libc::ENODEV | libc::EOPNOTSUPP)
    )
}
