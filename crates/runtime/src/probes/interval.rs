//! `interval:UNIT:N`: a timer on one CPU.

use super::perf::Scope;
use super::{AttachContext, ExpandError};
use super::{AttachPoint, Attachment, ProbeType};

pub struct Interval;

/// Parses `UNIT:N` (or `N` with a duration suffix / plain ns) into a period in ns.
/// Shared with `profile`, which also accepts `hz`.
pub(crate) fn period(kind: &str, parts: &[&str]) -> Result<Rate, String> {
    let usage =
        || format!("expected `{kind}:UNIT:N` with UNIT one of s, ms, us, hz (e.g. `{kind}:s:1`)");
    match parts {
        [unit, n] => {
            let n: u64 = n
                .trim()
                .parse()
                .map_err(|_| format!("`{n}` is not a positive integer; {}", usage()))?;
            if n == 0 {
                return Err(format!("the rate must be positive; {}", usage()));
            }
            let ns = match *unit {
                "s" => n.checked_mul(1_000_000_000),
                "ms" => n.checked_mul(1_000_000),
                "us" => n.checked_mul(1_000),
                "ns" => Some(n),
                "hz" => return Ok(Rate::Hz(n)),
                _ => return Err(format!("unknown unit `{unit}`; {}", usage())),
            };
            ns.map(Rate::Ns)
                .ok_or_else(|| "the period is too long".to_string())
        }
        [n] => {
            let text = n.trim();
            let split = text
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(text.len());
            let (num, unit) = text.split_at(split);
            if num.is_empty() {
                return Err(usage());
            }
            if unit.is_empty() {
                return period(kind, &["ns", num]);
            }
            period(kind, &[unit, num])
        }
        _ => Err(usage()),
    }
}

pub(crate) enum Rate {
    Ns(u64),
    Hz(u64),
}

/// `interval:s:1` style display name of a period.
pub(crate) fn display(period_ns: u64, kind: &str) -> String {
    for (unit, scale) in [("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)] {
        if period_ns % scale == 0 {
            return format!("{kind}:{unit}:{}", period_ns / scale);
        }
    }
    format!("{kind}:ns:{period_ns}")
}

impl ProbeType for Interval {
    fn support(&self) -> Option<super::Support> {
        Some(super::Support {
            rank: 4,
            needs: super::KernelNeed::ProgType(libbpf_sys::BPF_PROG_TYPE_PERF_EVENT),
        })
    }

    fn owns(&self, ap: &AttachPoint) -> bool {
        matches!(ap, AttachPoint::Interval { .. })
    }
    fn display(&self, ap: &AttachPoint) -> String {
        let AttachPoint::Interval { period_ns } = ap else {
            unreachable!("not an interval")
        };
        display(*period_ns, "interval")
    }
    fn listing(&self) -> Option<Result<Vec<String>, String>> {
        Some(Ok(time_units("interval")))
    }

    fn in_full_list(&self) -> bool {
        false
    }

    // A timer: no process to filter on.
    fn pid_filtered(&self) -> bool {
        false
    }

    fn names(&self) -> &'static [&'static str] {
        &["interval", "i"]
    }
    fn never_nested(&self) -> bool {
        true
    }
    fn regs(&self) -> Option<u32> {
        // pt_regs, or bpf_perf_event_data, whose first member is the pt_regs.
        Some(0)
    }
    fn expand(&self, parts: &[&str]) -> Result<Vec<AttachPoint>, ExpandError> {
        let period_ns = match period("interval", parts)? {
            Rate::Ns(ns) => ns,
            Rate::Hz(hz) => 1_000_000_000 / hz.max(1),
        };
        Ok(vec![AttachPoint::Interval { period_ns }])
    }
    fn section(&self, _: &AttachPoint) -> String {
        "perf_event".into()
    }
    fn attach(
        &self,
        prog: &libbpf_rs::ProgramMut,
        ap: &AttachPoint,
        _: &AttachContext,
    ) -> Result<Vec<Attachment>, String> {
        let AttachPoint::Interval { period_ns } = ap else {
            unreachable!("not an interval")
        };
        let cpu = super::perf::online_cpus().first().copied().unwrap_or(0);
        super::perf::attach_cpu_clock(prog, &Scope::Cpus(vec![cpu]), None, Some(*period_ns))
    }
}

/// `interval`/`profile` as `-l` shows them: one entry per unit.
pub(crate) fn time_units(kind: &str) -> Vec<String> {
    ["hz", "ms", "s", "us"]
        .iter()
        .map(|u| format!("{kind}:{u}:"))
        .collect()
}
