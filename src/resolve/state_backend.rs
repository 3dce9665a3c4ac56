//! The state backend a project (or one of its environments) configures, read from the files
//! only (Meltano's `state_store_manager_from_project_settings`, `core/state_store/__init__.py`):
//! `MELTANO_STATE_BACKEND_URI` in the environment's `env:`, then in the project's `env:`, then
//! `state_backend.uri` in meltano.yml.

use crate::diagnostics::Span;
use crate::project::Project;
use crate::project::model::Named;

/// The state backend an environment ends up with.
pub struct StateBackend<'a> {
    /// `state_backend.uri` (or `MELTANO_STATE_BACKEND_URI` in an `env:` block) and where.
    pub uri: Option<(&'a str, Span)>,
    /// `database_uri` (or `MELTANO_DATABASE_URI` in an `env:` block).
    pub database_uri: Option<&'a str>,
}

/// `state_backend.uri` and `database_uri` as an environment sees them: its own `env:`, then the
/// project `env:`, then meltano.yml.
#[must_use]
pub fn state_backend<'a>(
    project: &'a Project,
    environment: Option<&Named<'a>>,
) -> StateBackend<'a> {
    let document = &project.merged;
    let from_env = |variable: &str| -> Option<(&'a str, Span)> {
        environment
            .and_then(|e| e.node.get("env"))
            .and_then(|env| env.get(variable))
            .or_else(|| document.get("env").and_then(|env| env.get(variable)))
            .and_then(|node| node.as_str().map(|text| (text, node.span)))
    };
    let setting = |dotted: &str, nested: &[&str]| -> Option<(&'a str, Span)> {
        let node = document
            .get(dotted)
            .or_else(|| nested.iter().try_fold(document, |node, key| node.get(key)))?;
        node.as_str().map(|text| (text, node.span))
    };
    StateBackend {
        uri: from_env("MELTANO_STATE_BACKEND_URI")
            .or_else(|| setting("state_backend.uri", &["state_backend", "uri"])),
        database_uri: from_env("MELTANO_DATABASE_URI")
            .or_else(|| setting("database_uri", &["database_uri"]))
            .map(|(uri, _)| uri),
    }
}
