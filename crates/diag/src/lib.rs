//! Diagnostics are values with spans; this is the one place they become text.

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term;

pub type Span = (usize, usize);

/// Where imported files' spans start: file `k` (from 0) has its offsets shifted by
/// `(k + 1) << 32`, so one `Span` type names a place in any file of the program.
const FILE_SHIFT: u32 = 32;

/// Files read besides the script (`import`): name, text, offset base.
static SOURCES: std::sync::Mutex<Vec<(String, String, usize)>> = std::sync::Mutex::new(Vec::new());

/// Registers an imported file; its spans are to be shifted by the returned base.
pub fn add_source(name: String, text: String) -> usize {
    let mut s = SOURCES.lock().unwrap_or_else(|e| e.into_inner());
    let base = (s.len() + 1) << FILE_SHIFT;
    s.push((name, text, base));
    base
}

/// The file a position is in: the script's (`name`, `text`) or an imported one, with the
/// position made relative to that file.
pub fn locate(name: &str, text: &str, pos: usize) -> (String, String, usize) {
    if pos >> FILE_SHIFT == 0 {
        return (name.to_string(), text.to_string(), pos);
    }
    let s = SOURCES.lock().unwrap_or_else(|e| e.into_inner());
    match s
        .iter()
        .find(|(_, _, base)| *base == (pos >> FILE_SHIFT) << FILE_SHIFT)
    {
        Some((n, t, base)) => (n.clone(), t.clone(), pos - base),
        None => (name.to_string(), text.to_string(), pos),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    /// Primary location and what to say there.
    pub span: Option<Span>,
    pub label: String,
    /// Further locations (e.g. where a map got its first type).
    pub secondary: Vec<(Span, String)>,
    pub notes: Vec<String>,
    /// A warning reports and lets the compile go on.
    pub warning: bool,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>, span: Span) -> Self {
        Diagnostic {
            message: message.into(),
            span: Some(span),
            label: String::new(),
            secondary: vec![],
            notes: vec![],
            warning: false,
        }
    }

    /// Something suspicious at `span` that does not stop the compile.
    pub fn warning(message: impl Into<String>, span: Span) -> Self {
        Diagnostic {
            warning: true,
            ..Diagnostic::error(message, span)
        }
    }

    /// An error with no useful source location (privileges, missing kernel features).
    pub fn global(message: impl Into<String>) -> Self {
        Diagnostic {
            span: None,
            ..Diagnostic::error(message, (0, 0))
        }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub fn with_secondary(mut self, span: Span, label: impl Into<String>) -> Self {
        self.secondary.push((span, label.into()));
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Renders as plain text (no colour), the form tests snapshot and users see.
    pub fn render(&self, source_name: &str, source: &str) -> String {
        // The script is file 0; imported files are added as labels point into them.
        let mut files = SimpleFiles::new();
        let mut ids: Vec<(String, usize)> = vec![];
        let mut file_of = |span: Span| {
            let (name, text, start) = locate(source_name, source, span.0);
            let end = start + span.1.saturating_sub(span.0);
            let id = match ids.iter().find(|(n, _)| *n == name) {
                Some((_, id)) => *id,
                None => {
                    let id = files.add(name.clone(), text.clone());
                    ids.push((name, id));
                    id
                }
            };
            let a = start.min(text.len());
            (id, a..end.clamp(a, text.len()))
        };
        let mut labels = vec![];
        if let Some(span) = self.span {
            let (id, r) = file_of(span);
            labels.push(Label::primary(id, r).with_message(&self.label));
        }
        for (span, msg) in &self.secondary {
            let (id, r) = file_of(*span);
            labels.push(Label::secondary(id, r).with_message(msg));
        }
        let d = if self.warning {
            CsDiagnostic::warning()
        } else {
            CsDiagnostic::error()
        };
        let d = d
            .with_message(&self.message)
            .with_labels(labels)
            .with_notes(self.notes.clone());
        term::emit_into_string(&term::Config::default(), &files, &d)
            .unwrap_or_else(|_| format!("error: {}\n", self.message))
    }

    /// The same diagnostic for a file whose spans start at `base` (see `add_source`).
    pub fn shifted(mut self, base: usize) -> Self {
        let shift = |(a, b): Span| (a + base, b + base);
        self.span = self.span.map(shift);
        for (s, _) in &mut self.secondary {
            *s = shift(*s);
        }
        self
    }
}

pub type Result<T> = std::result::Result<T, Diagnostic>;

/// An I/O error as the C library words it, without Rust's "(os error N)".
pub fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.split_once(" (os error") {
        Some((why, _)) => why.to_string(),
        None => text,
    }
}
