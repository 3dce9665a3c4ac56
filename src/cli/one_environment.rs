//! The build of the one environment a command works on (`meltc plan`, `meltc catalog`): the
//! `--env` given, or the project's only one. Ephemeral state is allowed, as these commands
//! deploy nothing.

use std::path::Path;

use super::build::{Compiled, Selection, compile_selected};
use super::{Context, Outcome};
use crate::compile::Options;
use crate::project::Project;

/// Open, validate, resolve and compile `environment` (diagnostics printed to stderr); `Err`
/// is the outcome to exit with: always [`Outcome::Failure`] (exit 2), because for these
/// commands exit 1 means "changes" (`plan`) or "changed upstream" (`catalog --check`), never
/// "the project has errors".
pub fn compile_one(
    project_root: Option<&Path>,
    environment: Option<&str>,
    context: &mut Context<'_>,
) -> Result<(Project, Compiled), Outcome> {
    let selection = match environment {
        Some(name) => Selection::Named(vec![name]),
        None => Selection::Unspecified,
    };
    let options = Options {
        allow_ephemeral_state: true,
    };
    let (project, compiled) = compile_selected(project_root, &selection, &options, context)
        .map_err(|_| Outcome::Failure)?;
    let compiled = compiled.into_iter().next().ok_or(Outcome::Failure)?;
    Ok((project, compiled))
}
