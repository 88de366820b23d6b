//! `bench:NAME` and `test:NAME`: blocks that only `--mode bench` / `--mode test` (also
//! `--bench`, `--test`) run, with BPF_PROG_TEST_RUN like `begin`; otherwise they are
//! compiled and verified but never run.

use super::{AttachContext, ExpandError};
use super::{AttachPoint, Attachment, ProbeType};

/// `bench` (false) or `test` (true).
pub struct SelfTest(pub bool);

impl ProbeType for SelfTest {
    fn owns(&self, ap: &AttachPoint) -> bool {
        match self.0 {
            false => matches!(ap, AttachPoint::Bench { .. }),
            true => matches!(ap, AttachPoint::Test { .. }),
        }
    }
    fn display(&self, ap: &AttachPoint) -> String {
        match ap {
            AttachPoint::Bench { name } => format!("bench:{name}"),
            AttachPoint::Test { name } => format!("test:{name}"),
            _ => unreachable!("not a bench or test block"),
        }
    }
    fn names(&self) -> &'static [&'static str] {
        if self.0 {
            &["test"]
        } else {
            &["bench"]
        }
    }

    fn probetype(&self) -> &'static str {
        if self.0 {
            "test"
        } else {
            "benchmark"
        }
    }

    fn expand(&self, parts: &[&str]) -> Result<Vec<AttachPoint>, ExpandError> {
        let kind = self.names()[0];
        let [name] = parts else {
            return Err(format!("expected `{kind}:NAME`").into());
        };
        if name.is_empty() {
            return Err(format!("expected `{kind}:NAME`: the block needs a name").into());
        }
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "`{name}` is not a valid {kind} name: use letters, digits and `_`"
            )
            .into());
        }
        let name = name.to_string();
        Ok(vec![if self.0 {
            AttachPoint::Test { name }
        } else {
            AttachPoint::Bench { name }
        }])
    }

    fn section(&self, _: &AttachPoint) -> String {
        // Like `begin`: raw-tracepoint programs can be test-run and have the tracing helpers.
        "raw_tp".into()
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
}
