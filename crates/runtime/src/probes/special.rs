//! `begin` / `end`: not attached anywhere; the runtime runs them once with
//! BPF_PROG_TEST_RUN (before attaching, and after detaching). `self:signal:SIGUSR1` runs
//! the same way each time spyglass receives the signal.

use super::{AttachContext, ExpandError};
use super::{AttachPoint, Attachment, ProbeType};

pub struct Begin;
pub struct End;

/// Raw-tracepoint programs support test runs and have the tracing helpers.
const SECTION: &str = "raw_tp";

/// What the blocks spyglass runs itself share: a test-runnable program, attached nowhere.
macro_rules! run_by_spyglass {
    () => {
        fn section(&self, _: &AttachPoint) -> String {
            SECTION.into()
        }
        fn process_context(&self, _: &AttachPoint) -> bool {
            true
        }
        fn attach(
            &self,
            _: &libbpf_rs::ProgramMut,
            _: &AttachPoint,
            _: &AttachContext,
        ) -> Result<Vec<Attachment>, String> {
            Ok(vec![])
        }
    };
}

impl ProbeType for Begin {
    fn owns(&self, ap: &AttachPoint) -> bool {
        matches!(ap, AttachPoint::Begin)
    }
    fn display(&self, _: &AttachPoint) -> String {
        "begin".into()
    }
    fn names(&self) -> &'static [&'static str] {
        &["begin"]
    }
    fn probetype(&self) -> &'static str {
        "special"
    }
    fn expand(&self, parts: &[&str]) -> Result<Vec<AttachPoint>, ExpandError> {
        no_parts("begin", parts)?;
        Ok(vec![AttachPoint::Begin])
    }
    run_by_spyglass!();
}

impl ProbeType for End {
    fn owns(&self, ap: &AttachPoint) -> bool {
        matches!(ap, AttachPoint::End)
    }
    fn display(&self, _: &AttachPoint) -> String {
        "end".into()
    }
    fn names(&self) -> &'static [&'static str] {
        &["end"]
    }
    fn probetype(&self) -> &'static str {
        "special"
    }
    fn expand(&self, parts: &[&str]) -> Result<Vec<AttachPoint>, ExpandError> {
        no_parts("end", parts)?;
        Ok(vec![AttachPoint::End])
    }
    run_by_spyglass!();
}

pub struct SelfProbe;

impl ProbeType for SelfProbe {
    fn owns(&self, ap: &AttachPoint) -> bool {
        matches!(ap, AttachPoint::SelfSignal { .. })
    }
    fn display(&self, ap: &AttachPoint) -> String {
        let AttachPoint::SelfSignal { signal } = ap else {
            unreachable!("not a self probe")
        };
        format!("self:signal:{signal}")
    }
    fn names(&self) -> &'static [&'static str] {
        &["self"]
    }
    fn probetype(&self) -> &'static str {
        "special"
    }
    fn expand(&self, parts: &[&str]) -> Result<Vec<AttachPoint>, ExpandError> {
        match parts {
            ["signal", "SIGUSR1"] => Ok(vec![AttachPoint::SelfSignal {
                signal: "SIGUSR1".into(),
            }]),
            ["signal", other] => {
                Err(format!("`self:signal:{other}`: only SIGUSR1 can trigger a self probe").into())
            }
            _ => Err("expected `self:signal:SIGUSR1`".into()),
        }
    }
    run_by_spyglass!();
}

fn no_parts(name: &str, parts: &[&str]) -> Result<(), String> {
    if parts.is_empty() {
        Ok(())
    } else {
        Err(format!("`{name}` takes no arguments"))
    }
}
