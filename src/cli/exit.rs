//! The one place that decides exit codes (README "`meltc validate`"): 0 ok, 1 findings or
//! drift, 2 usage or I/O errors.

use std::process::ExitCode;

use crate::diagnostics::{Diagnostic, codes};

/// How a command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to report (or only warnings that are allowed).
    Clean,
    /// Findings: errors, denied warnings, or drift.
    Findings,
    /// The command could not do its job: bad usage, a missing project, an unreadable file.
    Failure,
}

impl Outcome {
    /// The process exit code.
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            Outcome::Clean => 0,
            Outcome::Findings => 1,
            Outcome::Failure => 2,
        }
    }

    /// Classify a set of diagnostics.
    #[must_use]
    pub fn of(diagnostics: &[Diagnostic], deny_warnings: bool) -> Self {
        let failure = [
            codes::IO.name,
            codes::PROJECT_NOT_FOUND.name,
            codes::UNKNOWN_ENVIRONMENT_ARGUMENT.name,
            codes::UNKNOWN_PLUGIN_ARGUMENT.name,
        ];
        if diagnostics
            .iter()
            .any(|d| d.is_error() && failure.contains(&d.code.name))
        {
            Outcome::Failure
        } else if diagnostics.iter().any(|d| d.is_error() || deny_warnings) {
            Outcome::Findings
        } else {
            Outcome::Clean
        }
    }
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        ExitCode::from(outcome.code())
    }
}
