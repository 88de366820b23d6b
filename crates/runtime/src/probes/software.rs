//! `software:EVENT[:COUNT]` (alias `s`): a kernel software perf event on every CPU; the
//! program runs every COUNT occurrences. Event names, aliases and default counts are
//! bpftrace's. The parsing here is shared with `hardware`, which differs only in its table.

use super::perf::{PerfEvent, Sample, Scope};
use super::{AttachContext, ExpandError};
use super::{AttachPoint, Attachment, ProbeType};
use libbpf_sys as sys;

/// One perf event name a probe may use.
pub(crate) struct EventDef {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub config: u64,
    /// The sample period when the probe gives no count.
    pub default_count: u64,
}

pub(crate) const fn ev(
    name: &'static str,
    alias: Option<&'static str>,
    config: u32,
    default_count: u64,
) -> EventDef {
    EventDef {
        name,
        alias,
        config: config as u64,
        default_count,
    }
}

pub(crate) const EVENTS: &[EventDef] = &[
    ev(
        "alignment-faults",
        None,
        sys::PERF_COUNT_SW_ALIGNMENT_FAULTS,
        1,
    ),
    ev("bpf-output", None, sys::PERF_COUNT_SW_BPF_OUTPUT, 1),
    ev(
        "context-switches",
        Some("cs"),
        sys::PERF_COUNT_SW_CONTEXT_SWITCHES,
        1000,
    ),
    ev(
        "cpu-clock",
        Some("cpu"),
        sys::PERF_COUNT_SW_CPU_CLOCK,
        1_000_000,
    ),
    ev("cpu-migrations", None, sys::PERF_COUNT_SW_CPU_MIGRATIONS, 1),
    ev("dummy", None, sys::PERF_COUNT_SW_DUMMY, 1),
    ev(
        "emulation-faults",
        None,
        sys::PERF_COUNT_SW_EMULATION_FAULTS,
        1,
    ),
    ev("major-faults", None, sys::PERF_COUNT_SW_PAGE_FAULTS_MAJ, 1),
    ev(
        "minor-faults",
        None,
        sys::PERF_COUNT_SW_PAGE_FAULTS_MIN,
        100,
    ),
    ev(
        "page-faults",
        Some("faults"),
        sys::PERF_COUNT_SW_PAGE_FAULTS,
        100,
    ),
    ev("task-clock", None, sys::PERF_COUNT_SW_TASK_CLOCK, 1),
];

pub struct Software;

impl ProbeType for Software {
    fn support(&self) -> Option<super::Support> {
        Some(super::Support {
            rank: 5,
            needs: super::KernelNeed::ProgType(libbpf_sys::BPF_PROG_TYPE_PERF_EVENT),
        })
    }

    fn owns(&self, ap: &AttachPoint) -> bool {
        matches!(ap, AttachPoint::Software { .. })
    }
    fn display(&self, ap: &AttachPoint) -> String {
        let AttachPoint::Software { event, count } = ap else {
            unreachable!("not a software probe")
        };
        display("software", event, *count)
    }
    fn listing(&self) -> Option<Result<Vec<String>, String>> {
        Some(Ok(listing("software", EVENTS)))
    }

    // Counting is limited to the process at attach time instead (`perf::Scope`).
    fn pid_filtered(&self) -> bool {
        false
    }

    fn names(&self) -> &'static [&'static str] {
        &["software", "s"]
    }
    fn never_nested(&self) -> bool {
        true
    }
    fn regs(&self) -> Option<u32> {
        // pt_regs, or bpf_perf_event_data, whose first member is the pt_regs.
        Some(0)
    }
    fn expand(&self, parts: &[&str]) -> Result<Vec<AttachPoint>, ExpandError> {
        let (event, count) = parse("software", EVENTS, parts)?;
        Ok(vec![AttachPoint::Software { event, count }])
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
        let AttachPoint::Software { event, count } = ap else {
            unreachable!("not a software probe")
        };
        let def = lookup(EVENTS, event).expect("expand checked the event name");
        let perf = PerfEvent {
            type_: sys::PERF_TYPE_SOFTWARE,
            config: def.config,
        };
        let period = count.unwrap_or(def.default_count);
        super::perf::attach_perf_event(prog, &Scope::sampling(cx), perf, Sample::Period(period))
            .map_err(|e| format!("attaching {} failed: {e}", ap.name()))
    }
}

pub(crate) fn lookup<'t>(table: &'t [EventDef], event: &str) -> Option<&'t EventDef> {
    table
        .iter()
        .find(|d| d.name == event || d.alias == Some(event))
}

/// Parses `EVENT[:COUNT]` against `table`; a count of 0 or `*` means the event's default.
pub(crate) fn parse(
    kind: &str,
    table: &[EventDef],
    parts: &[&str],
) -> Result<(String, Option<u64>), String> {
    let usage = || {
        format!(
            "expected `{kind}:EVENT[:COUNT]`, e.g. `{kind}:{}:1000`",
            table[0].name
        )
    };
    let (event, count) = match parts {
        [event] => (*event, None),
        [event, count] => (*event, Some(*count)),
        _ => return Err(usage()),
    };
    if event.is_empty() {
        return Err(format!("{kind} probes need an event name; {}", usage()));
    }
    if event.contains(['*', '?', '[']) {
        return Err(format!("wildcards are not allowed in {kind} event names"));
    }
    if lookup(table, event).is_none() {
        let names: Vec<String> = table
            .iter()
            .map(|d| match d.alias {
                Some(a) => format!("{} ({a})", d.name),
                None => d.name.to_string(),
            })
            .collect();
        return Err(format!(
            "`{event}` is not a {kind} event; {kind} events are: {}",
            names.join(", ")
        ));
    }
    let count = match count {
        None | Some("*") => None,
        Some(text) => match parse_count(text) {
            Some(0) => None,
            Some(n) => Some(n),
            None => {
                return Err(format!(
                    "invalid count `{text}` for a {kind} probe: expected a positive integer"
                ))
            }
        },
    };
    Ok((event.to_string(), count))
}

/// bpftrace's attach-point integers: `_` separators, `0x`/`0b`/leading-`0` bases, and
/// `NeM` scientific notation.
pub(crate) fn parse_count(text: &str) -> Option<u64> {
    let t: String = text.trim().chars().filter(|&c| c != '_').collect();
    let radix = |p: &str, r| u64::from_str_radix(p, r).ok();
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return radix(h, 16);
    }
    if let Some(b) = t.strip_prefix("0b").or_else(|| t.strip_prefix("0B")) {
        return radix(b, 2);
    }
    if let Some((m, e)) = t.split_once(['e', 'E']) {
        let (m, e): (u64, u32) = (m.parse().ok()?, e.parse().ok()?);
        return m.checked_mul(10u64.checked_pow(e)?);
    }
    if t.len() > 1 && t.starts_with('0') {
        return radix(&t[1..], 8);
    }
    t.parse().ok()
}

/// The probe name as bpftrace prints it: the event as written, the count only if given.
pub(crate) fn display(kind: &str, event: &str, count: Option<u64>) -> String {
    match count {
        Some(n) => format!("{kind}:{event}:{n}"),
        None => format!("{kind}:{event}"),
    }
}

/// `-l` lines: every name and alias, with bpftrace's trailing colon.
pub(crate) fn listing(kind: &str, table: &[EventDef]) -> Vec<String> {
    table
        .iter()
        .flat_map(|d| std::iter::once(d.name).chain(d.alias))
        .map(|n| format!("{kind}:{n}:"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_parse_like_bpftrace() {
        assert_eq!(parse_count("1e6"), Some(1_000_000));
        assert_eq!(parse_count("1_000"), Some(1000));
        assert_eq!(parse_count("0x10"), Some(16));
        assert_eq!(parse_count("010"), Some(8));
        assert_eq!(parse_count("0"), Some(0));
        assert_eq!(parse_count("1e30"), None);
        assert_eq!(parse_count("ten"), None);
    }

    #[test]
    fn aliases_and_defaults() {
        assert_eq!(
            parse("software", EVENTS, &["faults"]),
            Ok(("faults".into(), None))
        );
        assert_eq!(
            parse("software", EVENTS, &["cpu", "1e6"]),
            Ok(("cpu".into(), Some(1_000_000)))
        );
        assert_eq!(lookup(EVENTS, "cs").unwrap().default_count, 1000);
        assert!(parse("software", EVENTS, &["nonsense"])
            .unwrap_err()
            .contains("is not a software event"));
        assert_eq!(
            display("software", "cpu", Some(100000)),
            "software:cpu:100000"
        );
    }
}
