//! Diagnostics are values with spans; this is the one place they become text.

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term;

pub type Span = (usize, usize);

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
        let file = SimpleFile::new(source_name, source);
        let clamp = |(a, b): Span| {
            let a = a.min(source.len());
            a..b.clamp(a, source.len())
        };
        let mut labels = vec![];
        if let Some(span) = self.span {
            labels.push(Label::primary((), clamp(span)).with_message(&self.label));
        }
        for (span, msg) in &self.secondary {
            labels.push(Label::secondary((), clamp(*span)).with_message(msg));
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
        term::emit_into_string(&term::Config::default(), &file, &d)
            .unwrap_or_else(|_| format!("error: {}\n", self.message))
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
