//! `meltc validate`.

use std::path::{Path, PathBuf};

use super::args::ValidateArgs;
use super::{Context, Outcome};
use crate::diagnostics::render::{self, Format};
use crate::diagnostics::{Diagnostic, SourceMap, codes, sort_and_dedup, suggest};
use crate::project::{self, DiscoverError};
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
    let root = match find_root(project_root, context) {
        Ok(root) => root,
        Err(diagnostic) => return (SourceMap::default(), vec![*diagnostic], None),
    };
    let loaded = project::load(&root, &display_prefix(&root, &context.cwd));
    let mut diagnostics = loaded.diagnostics;
    let Some(project) = loaded.project else {
        return (loaded.sources, diagnostics, None);
    };
    let environments = validate::environment_names(&project);
    if let Some(wanted) = &args.environment {
        if !environments.contains(wanted) {
            diagnostics.push(
                Diagnostic::new(
                    &codes::UNKNOWN_ENVIRONMENT_ARGUMENT,
                    format!("`--env {wanted}`: the project has no environment `{wanted}`"),
                )
                .maybe_help(
                    suggest::help_line(wanted, environments.iter().map(String::as_str)).or_else(
                        || {
                            Some(if environments.is_empty() {
                                "the project defines no environments".to_owned()
                            } else {
                                format!("its environments are {}", environments.join(", "))
                            })
                        },
                    ),
                ),
            );
            return (loaded.sources, diagnostics, None);
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
    (loaded.sources, diagnostics, Some(summary))
}

/// The project root from `--project-root`, `MELTANO_PROJECT_ROOT` or the working directory, or
/// the diagnostic saying that there is none.
pub(super) fn find_root(
    project_root: Option<&Path>,
    context: &Context<'_>,
) -> Result<PathBuf, Box<Diagnostic>> {
    project::find_root(
        project_root,
        context.env_project_root.as_deref(),
        &context.cwd,
    )
    .map_err(|error| {
        let message = match error {
            DiscoverError::NoFileInRoot(root) => {
                format!("no meltano.yml in `{}`", shown_path(&root, &context.cwd))
            }
            DiscoverError::NotFound(_) => {
                "no meltano.yml in the working directory or any parent folder".to_owned()
            }
        };
        Box::new(Diagnostic::new(&codes::PROJECT_NOT_FOUND, message)
            .help("run meltc inside a Meltano project, or point at one with `--project-root DIR` (or `MELTANO_PROJECT_ROOT`)"))
    })
}

/// A path as the user would write it: relative to the working directory when below it.
fn shown_path(path: &Path, cwd: &Path) -> String {
    match path.strip_prefix(cwd) {
        Ok(relative) if relative.as_os_str().is_empty() => ".".to_owned(),
        Ok(relative) => project::slash_path(relative),
        Err(_) => path.display().to_string(),
    }
}

/// How file names are shown: relative to the working directory when the project is below it
/// (`meltano/meltano.yml` from a repository root), else from the project root.
pub(super) fn display_prefix(root: &Path, cwd: &Path) -> String {
    let cwd = cwd.canonicalize().unwrap_or_else(|_| cwd.to_path_buf());
    match root.strip_prefix(&cwd) {
        Ok(relative) if relative.as_os_str().is_empty() => String::new(),
        Ok(relative) => format!("{}/", project::slash_path(relative)),
        Err(_) => String::new(),
    }
}
