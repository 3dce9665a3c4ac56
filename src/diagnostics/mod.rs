//! Diagnostics: what every stage reports to the user.
//!
//! A [`Diagnostic`] has a stable [`Code`] (`meltc::ref::unknown-plugin`), a [`Severity`], a
//! message, a primary location, optional further locations (possibly in other files), and a
//! help line saying what to do. Stages return `Vec<Diagnostic>` and never stop at the first
//! finding; `render` turns them into miette reports, JSON or GitHub annotations.

pub mod codes;
pub mod explain;
pub mod render;
pub mod source;
pub mod suggest;

pub use codes::Code;
pub use source::{FileId, SourceFile, SourceMap, Span};

use serde::Serialize;

/// How bad a finding is (README "`meltc validate`").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Meltano rejects it, the run it describes fails, or Meltano silently drops a definition.
    Error,
    /// Meltano accepts it, but it is probably wrong.
    Warning,
}

impl Severity {
    /// `error` or `warning`, as in reports.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A location with a short note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What is there (shown next to the snippet).
    pub message: String,
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable identifier, also the key for `meltc explain`.
    pub code: &'static Code,
    /// Error or warning; starts as the code's default.
    pub severity: Severity,
    /// One line, lowercase, no trailing period.
    pub message: String,
    /// The main location, when there is one.
    pub primary: Option<Label>,
    /// Other places that matter (the first definition of a duplicate, the cycle's other edge).
    pub secondary: Vec<Label>,
    /// What to do about it.
    pub help: Option<String>,
    /// Places holding a secret: a report that shows their lines shows `*` instead of their text
    /// (in every diagnostic of the report, since another finding's context lines may show them).
    pub secrets: Vec<Span>,
}

impl Diagnostic {
    /// A finding of `code` with its default severity.
    #[must_use]
    pub fn new(code: &'static Code, message: impl Into<String>) -> Self {
        Self {
            code,
            severity: code.severity,
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            help: None,
            secrets: Vec::new(),
        }
    }

    /// Mark `span` as holding a secret (see [`Diagnostic::secrets`]).
    #[must_use]
    pub fn hiding(mut self, span: Span) -> Self {
        self.secrets.push(span);
        self
    }

    /// Set the primary location.
    #[must_use]
    pub fn at(mut self, span: Span, label: impl Into<String>) -> Self {
        self.primary = Some(Label {
            span,
            message: label.into(),
        });
        self
    }

    /// Add a secondary location.
    #[must_use]
    pub fn also(mut self, span: Span, label: impl Into<String>) -> Self {
        self.secondary.push(Label {
            span,
            message: label.into(),
        });
        self
    }

    /// Set the help line.
    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Set the help line when there is one.
    #[must_use]
    pub fn maybe_help(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    /// Whether this finding is an error.
    #[must_use]
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Order for output: by file, position, then code and message (stable across runs).
    #[must_use]
    pub fn sort_key(&self) -> (Option<(FileId, usize, usize)>, &'static str, &str) {
        (
            self.primary
                .as_ref()
                .map(|label| (label.span.file, label.span.start, label.span.end)),
            self.code.name,
            &self.message,
        )
    }
}

/// `an extractor`, `a loader`: a noun with its indefinite article, for messages.
#[must_use]
pub fn with_article(noun: &str) -> String {
    let article = if noun.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {noun}")
}

/// Sort findings for output and drop repeats: the exact same finding reached twice (e.g. once
/// per environment), and a schema error at a place where a more specific error already is.
pub fn sort_and_dedup(diagnostics: &mut Vec<Diagnostic>) {
    diagnostics.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    diagnostics.dedup();
    let specific: std::collections::BTreeSet<Span> = diagnostics
        .iter()
        .filter(|d| d.is_error() && d.code != &codes::SCHEMA)
        .filter_map(|d| d.primary.as_ref().map(|label| label.span))
        .collect();
    diagnostics.retain(|d| {
        d.code != &codes::SCHEMA
            || d.primary
                .as_ref()
                .is_none_or(|label| !specific.contains(&label.span))
    });
}
