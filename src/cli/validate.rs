//! `meltc validate`.

use std::path::Path;

use super::args::ValidateArgs;
use super::open::{Opened, display_prefix, open, unknown_environment};
use super::{Context, Outcome};
use crate::diagnostics::render::{self, Format};
use crate::diagnostics::{Diagnostic, SourceMap, sort_and_dedup};
use crate::project;
use crate::validate::{self, Options};

/// Load, check and report.
pub fn run(project_root: Option<&Path>, args: &ValidateArgs, context: &mut Context<'_>) -> Outcome {
    let (sources, mut diagnostics, summary) = collect(project_root, args, context);
    sort_and_dedup(&mut diagnostics);
    let outcome = Outcome::of(&diagnostics, args.deny_warnings);
    let written = match args.format {
        Format::Human => {
            let mut text = render::human(&diagnostics, &sources, context.style);
            let denied = if args.deny_warnings
                && outcome == Outcome::Findings
                && !diagnostics.iter().any(Diagnostic::is_error)
            {
                " (warnings denied by --deny-warnings)"
            } else {
                ""
            };
            text.push_str(&match (diagnostics.is_empty(), &summary) {
                (true, Some(summary)) => format!("{summary}: no problems found\n"),
                (_, Some(summary)) => {
                    format!("{summary}: {}{denied}\n", render::summary(&diagnostics))
                }
                (_, None) => format!("{}{denied}\n", render::summary(&diagnostics)),
            });
            context.stderr.write_all(text.as_bytes())
        }
        Format::Json => context
            .stdout
            .write_all(render::json(&diagnostics, &sources).as_bytes()),
        Format::Github => context
            .stdout
            .write_all(render::github(&diagnostics, &sources).as_bytes()),
    };
    if written.is_err() {
        Outcome::Failure
    } else {
        outcome
    }
}

/// Every diagnostic, the files to render them with, and what was checked (for the summary).
fn collect(
    project_root: Option<&Path>,
    args: &ValidateArgs,
    context: &Context<'_>,
) -> (SourceMap, Vec<Diagnostic>, Option<String>) {
    let (project, sources, mut diagnostics) = match open(project_root, context) {
        Opened::Project(project, sources, diagnostics) => (project, sources, diagnostics),
        Opened::Failed(sources, diagnostics) => return (sources, diagnostics, None),
    };
    let environments = validate::environment_names(&project);
    if let Some(wanted) = &args.environment {
        if !environments.contains(wanted) {
            diagnostics.push(unknown_environment(
                wanted,
                &format!("--env {wanted}"),
                &environments,
            ));
            return (sources, diagnostics, None);
        }
    }
    diagnostics.extend(validate::validate(
        &project,
        &Options {
            environment: args.environment.clone(),
        },
    ));
    let files = project.files.len();
    let checked = match &args.environment {
        Some(name) => format!("environment `{name}`"),
        None => format!(
            "{} environment{}",
            environments.len(),
            if environments.len() == 1 { "" } else { "s" }
        ),
    };
    let summary = format!(
        "{}{} ({} file{}, {checked})",
        display_prefix(&project.root, &context.cwd),
        project::PROJECT_FILE,
        files,
        if files == 1 { "" } else { "s" }
    );
    (sources, diagnostics, Some(summary))
}
