//! Finding and loading the project, shared by the commands.

use std::path::Path;

use super::Context;
use crate::diagnostics::{Diagnostic, SourceMap, codes, suggest};
use crate::project::{self, DiscoverError, Project};

/// A loaded project, or the files read so far and why it could not be loaded.
pub enum Opened {
    /// The project, its files, and the problems found while loading.
    Project(Project, SourceMap, Vec<Diagnostic>),
    /// No project: the files read so far and what went wrong.
    Failed(SourceMap, Vec<Diagnostic>),
}

/// Find the project root (`-C`, `MELTANO_PROJECT_ROOT`, the nearest meltano.yml upward) and load
/// it, naming files relative to the working directory when the project is below it.
pub fn open(project_root: Option<&Path>, context: &Context<'_>) -> Opened {
    let root = match find_root(project_root, context) {
        Ok(root) => root,
        Err(diagnostic) => return Opened::Failed(SourceMap::default(), vec![*diagnostic]),
    };
    let loaded = project::load(&root, &display_prefix(&root, &context.cwd));
    match loaded.project {
        Some(project) => Opened::Project(project, loaded.sources, loaded.diagnostics),
        None => Opened::Failed(loaded.sources, loaded.diagnostics),
    }
}

/// The project root from `--project-root`, `MELTANO_PROJECT_ROOT` or the working directory, or
/// the diagnostic saying that there is none.
pub fn find_root(
    project_root: Option<&Path>,
    context: &Context<'_>,
) -> Result<std::path::PathBuf, Box<Diagnostic>> {
    project::find_root(project_root, context.env_project_root.as_deref(), &context.cwd).map_err(|error| {
        let message = match error {
            DiscoverError::NoFileInRoot(root) => format!("no meltano.yml in `{}`", shown_path(&root, &context.cwd)),
            DiscoverError::NotFound(_) => "no meltano.yml in the working directory or any parent folder".to_owned(),
        };
        Box::new(Diagnostic::new(&codes::PROJECT_NOT_FOUND, message).help(
            "run meltc inside a Meltano project, or point at one with `--project-root DIR` (or `MELTANO_PROJECT_ROOT`)",
        ))
    })
}

/// The usage error for an environment name the project does not define; `origin` says where
/// the name came from (`--env dve`, `MELTANO_ENVIRONMENT=dve`).
#[must_use]
pub fn unknown_environment(wanted: &str, origin: &str, environments: &[String]) -> Diagnostic {
    Diagnostic::new(
        &codes::UNKNOWN_ENVIRONMENT_ARGUMENT,
        format!("`{origin}`: the project has no environment `{wanted}`"),
    )
    .maybe_help(
        suggest::help_line(wanted, environments.iter().map(String::as_str)).or_else(|| {
            Some(if environments.is_empty() {
                "the project defines no environments".to_owned()
            } else {
                format!("its environments are {}", environments.join(", "))
            })
        }),
    )
}

/// A path as the user would write it: relative to the working directory when below it.
pub fn shown_path(path: &Path, cwd: &Path) -> String {
    match path.strip_prefix(cwd) {
        Ok(relative) if relative.as_os_str().is_empty() => ".".to_owned(),
        Ok(relative) => project::slash_path(relative),
        Err(_) => path.display().to_string(),
    }
}

/// How file names are shown: relative to the working directory when the project is below it
/// (`meltano/meltano.yml` from a repository root), else from the project root.
pub fn display_prefix(root: &Path, cwd: &Path) -> String {
    let cwd = cwd.canonicalize().unwrap_or_else(|_| cwd.to_path_buf());
    match root.strip_prefix(&cwd) {
        Ok(relative) if relative.as_os_str().is_empty() => String::new(),
        Ok(relative) => format!("{}/", project::slash_path(relative)),
        Err(_) => String::new(),
    }
}
