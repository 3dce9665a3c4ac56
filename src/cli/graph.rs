//! `meltc graph`: validate and compile one environment (or the project without one) exactly as
//! `meltc build` does, then draw the manifest (`crate::graph`) on stdout.

use std::path::Path;

use super::args::{GraphArgs, GraphFormat};
use super::build::{Selection, compile_for_review};
use super::{Context, Outcome};
use crate::graph::{self, Graph};

/// Run `meltc graph`.
pub fn run(project_root: Option<&Path>, args: &GraphArgs, context: &mut Context<'_>) -> Outcome {
    let selection = match &args.environment {
        Some(name) => Selection::Named(vec![name.as_str()]),
        None => Selection::Project,
    };
    let compiled = match compile_for_review(project_root, &selection, context) {
        Ok(compiled) => compiled,
        Err(outcome) => return outcome,
    };
    let Some(compiled) = compiled.first() else {
        return Outcome::Failure;
    };
    let graph = Graph::from_manifest(&compiled.manifest);
    let text = match args.format {
        GraphFormat::Mermaid => graph::mermaid::render(&graph),
        GraphFormat::Dot => graph::dot::render(&graph),
    };
    match context.stdout.write_all(text.as_bytes()) {
        Ok(()) => Outcome::Clean,
        Err(_) => Outcome::Failure,
    }
}
