//! `profile:UNIT:N`: a timer on every CPU.

use super::interval::{period, Rate};
use super::perf::Scope;
use super::{AttachContext, ExpandError};
use super::{AttachPoint, Attachment, ProbeType};

pub struct Profile;

impl ProbeType for Profile {
    fn support(&self) -> Option<super::Support> {
        Some(super::Support {
            rank: 3,
            needs: super::KernelNeed::ProgType(libbpf_sys::BPF_PROG_TYPE_PERF_EVENT),
        })
    }

    fn owns(&self, ap: &AttachPoint) -> bool {
        matches!(ap, AttachPoint::Profile { .. })
    }
    fn display(&self, ap: &AttachPoint) -> String {
        match ap {
            AttachPoint::Profile {
                freq_hz: Some(hz), ..
            } => format!("profile:hz:{hz}"),
            AttachPoint::Profile { period_ns, .. } => {
                super::interval::display(period_ns.unwrap_or(0), "profile")
            }
            _ => unreachable!("not a profile probe"),
        }
    }
    fn listing(&self) -> Option<Result<Vec<String>, String>> {
        Some(Ok(super::interval::time_units("profile")))
    }

    fn in_full_list(&self) -> bool {
        false
    }

    // Sampling is limited to the process at attach time instead (`perf::Scope`).
    fn pid_filtered(&self) -> bool {
        false
    }

    fn names(&self) -> &'static [&'static str] {
        &["profile", "p"]
    }
    fn never_nested(&self) -> bool {
        true
    }
    fn regs(&self) -> Option<u32> {
        // pt_regs, or bpf_perf_event_data, whose first member is the pt_regs.
        Some(0)
    }
    fn expand(&self, parts: &[&str]) -> Result<Vec<AttachPoint>, ExpandError> {
        Ok(vec![match period("profile", parts)? {
            Rate::Hz(hz) => AttachPoint::Profile {
                freq_hz: Some(hz),
                period_ns: None,
            },
            Rate::Ns(ns) => AttachPoint::Profile {
                freq_hz: None,
                period_ns: Some(ns),
            },
        }])
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
        let AttachPoint::Profile { freq_hz, period_ns } = ap else {
            unreachable!("not a profile")
        };
        super::perf::attach_cpu_clock(prog, &Scope::sampling(cx), *freq_hz, *period_ns)
    }
}
