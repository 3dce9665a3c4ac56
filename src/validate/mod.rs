//! Validation: every finding about a loaded project, in one run.
//!
//! 1. `schema`: each file against meltc's JSON Schema (schemas/meltano.schema.json), errors
//!    mapped back to file:line:column.
//! 2. `values`: plain scalars that Meltano's two YAML readers disagree on.
//! 3. `keys`: keys Meltano does not know (warnings, with did-you-mean); `lint` and
//!    `capabilities`: what Meltano's own lint (`meltano compile --lint`) reports that meltc's
//!    schema accepts (warnings).
//! 4. `names`: duplicate plugins, jobs, schedules and environments across all files.
//! 5. `plugins`: legacy types, `inherit_from` parents and cycles; `local_paths`: plugins
//!    installed from a path of the project, which the image must be able to carry;
//!    `mappings`: mapping names that never find their mapping (a mapping is a plugin too).
//! 6. `jobs` and `schedules`: task references and block grammar, cron expressions.
//! 7. `environments`: `default_environment`, environment plugin entries, state that a pod would
//!    lose.
//! 8. `secrets`: secrets written literally in `config:`, project settings and `env:` blocks.
//! 9. `casts`: literal setting values Meltano cannot cast to their kind.
//!
//! Checks read the project and return diagnostics; none of them stops the others.

mod capabilities;
mod casts;
mod environments;
mod facts;
mod index;
mod jobs;
mod keys;
mod lint;
mod local_paths;
mod mappings;
mod names;
mod plugins;
mod schedules;
mod schema;
mod secrets;
mod values;

pub use index::ProjectIndex;
pub use schema::SCHEMA;

use std::sync::Arc;

use crate::diagnostics::Diagnostic;
use crate::project::{Project, model};
use crate::resolve::Resolved;

/// What to validate.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Only this environment (the caller has checked it exists); `None` = every environment.
    pub environment: Option<String>,
}

/// Run every check over `project`.
#[must_use]
pub fn validate(project: &Project, options: &Options) -> Vec<Diagnostic> {
    validate_resolved(project, Arc::new(crate::resolve::resolve(project)), options)
}

/// [`validate`] with the project's resolution already made (`crate::resolve::resolve(project)`),
/// for a caller that compiles from it next: `meltc build` resolves once.
#[must_use]
pub fn validate_resolved<'a>(
    project: &'a Project,
    resolved: Arc<Resolved<'a>>,
    options: &Options,
) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    schema::check(project, &mut diagnostics);
    values::check(project, &mut diagnostics);
    lint::check(project, &mut diagnostics);
    names::check(project, &mut diagnostics);
    let index = ProjectIndex::with_resolved(project, resolved);
    keys::check(&index, &mut diagnostics);
    plugins::check(&index, &mut diagnostics);
    local_paths::check(&index, &mut diagnostics);
    mappings::check(&index, &mut diagnostics);
    jobs::check(&index, &mut diagnostics);
    schedules::check(&index, &mut diagnostics);
    let environments = model::environments(&project.merged);
    let selected: Vec<_> = environments
        .iter()
        .filter(|environment| {
            options
                .environment
                .as_deref()
                .is_none_or(|name| name == environment.name)
        })
        .copied()
        .collect();
    environments::check(&index, &selected, &mut diagnostics);
    secrets::check(&index, &selected, &mut diagnostics);
    casts::check(&index, &selected, &mut diagnostics);
    diagnostics
}

/// The names of the project's environments (for `--env` checks and suggestions).
#[must_use]
pub fn environment_names(project: &Project) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for environment in model::environments(&project.merged) {
        // A duplicate is reported elsewhere; count and suggest each name once.
        if !names.iter().any(|name| name == environment.name) {
            names.push(environment.name.to_owned());
        }
    }
    names
}
