//! `meltc plan --env E --against WHAT`: compile the environment exactly as `meltc build` does,
//! read what is deployed (`crate::plan::load`), and print what a deploy would change. Exit
//! codes as `meltc build --check`: 0 nothing to deploy, 1 changes, 2 errors (an invalid
//! project included: there is no plan to show).

use std::path::Path;

use super::args::{PlanArgs, PlanFormat};
use super::build::{DEFAULT_OUT, inputs_of, set_orchestrator};
use super::one_environment::compile_one;
use super::{Context, Outcome};
use crate::emit;
use crate::manifest::Manifest;
use crate::plan::{self, Against, Side, load, render, state::Bookmarks};

/// Run `meltc plan`.
pub fn run(project_root: Option<&Path>, args: &PlanArgs, context: &mut Context<'_>) -> Outcome {
    let (project, compiled) = match compile_one(project_root, args.environment.as_deref(), context)
    {
        Ok(compiled) => compiled,
        Err(outcome) => return outcome,
    };
    let mut manifest = compiled.manifest;
    if let Some(owner) = &args.orchestrator {
        set_orchestrator(&mut manifest, owner);
    }
    match plan_for(&project.root, manifest, args, context) {
        Ok(outcome) => outcome,
        Err(message) => {
            let _ = writeln!(context.stderr, "error: {message}");
            Outcome::Failure
        }
    }
}

fn plan_for(
    root: &Path,
    manifest: Manifest,
    args: &PlanArgs,
    context: &mut Context<'_>,
) -> Result<Outcome, String> {
    let folder_name = emit::folder_name(&manifest).to_owned();
    // The files as `meltc build` writes them into its default output folder.
    let folder = root.join(DEFAULT_OUT).join(&folder_name);
    let inputs = inputs_of(root, &folder, &manifest).map_err(|error| error.to_string())?;
    let files = emit::emit(&manifest, &inputs, &args.emit)
        .map_err(|problems| format!("cannot generate the files: {}", problems.join("; ")))?;
    let built = Side::new(manifest, files)?;
    let (mut deployed, kind) = load::load(&load::Request {
        given: &args.against,
        cwd: &context.cwd,
        build_folder: &root.join(DEFAULT_OUT).join(&folder_name),
        folder_name: &folder_name,
        inputs: &inputs,
    })?;
    if !args.emit.is_empty() {
        // Only the selected emitters' files are compared (the manifest always).
        deployed.files.retain(|path, _| {
            built.files.contains_key(path) || !emitted_by_other(path, &args.emit)
        });
    }
    let bookmarks = if args.read_state {
        Some(read_bookmarks(&deployed.manifest, root, context)?)
    } else {
        None
    };
    let against = Against {
        given: args.against.clone(),
        kind,
    };
    let plan = plan::plan(&deployed, &built, against, bookmarks.as_ref());
    let text = match args.format {
        PlanFormat::Human => render::human(&plan),
        PlanFormat::Markdown => render::markdown(&plan),
        PlanFormat::Json => {
            let mut text = serde_json::to_string_pretty(&plan).map_err(|e| e.to_string())?;
            text.push('\n');
            text
        }
    };
    context
        .stdout
        .write_all(text.as_bytes())
        .map_err(|error| error.to_string())?;
    Ok(if plan.changes {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

/// Whether `path` belongs to an emitter that `--emit` left out (such files on the deployed
/// side are not compared).
fn emitted_by_other(path: &str, selected: &[String]) -> bool {
    let emitter = if path.starts_with("k8s/") {
        "k8s"
    } else if path.starts_with("dagster/") {
        "dagster"
    } else {
        "docker"
    };
    !selected.iter().any(|name| name == emitter)
}

/// The state IDs the deployed environment's backend holds, read as meltc-run reads them: its
/// `MELTANO_STATE_BACKEND_*` settings layered over this process's environment.
fn read_bookmarks(
    manifest: &Manifest,
    root: &Path,
    context: &Context<'_>,
) -> Result<Bookmarks, String> {
    use crate::runtime::prepare::{Host, project_variables, split_literals};
    use crate::runtime::state::{StateBackendSettings, StateStore};
    // As meltc-run splits the pod's environment: literal secrets are not plain variables.
    let (process, literals) = split_literals(manifest, context.env.clone());
    let host = Host {
        process: &process,
        literals: &literals,
        project_root: root.to_str().unwrap_or("."),
        user_agent: crate::meltano::env_layers::USER_AGENT,
    };
    let variables: std::collections::BTreeMap<String, String> =
        project_variables(manifest, &host).into_iter().collect();
    let failed = |error: crate::runtime::state::StateError| format!("--read-state: {error}");
    let settings = StateBackendSettings::from_meltano_env(&variables)
        .map_err(failed)?
        .ok_or_else(|| {
            format!(
                "--read-state: the environment keeps state in `{}`, which meltc-run does not read; set MELTANO_STATE_BACKEND_URI",
                crate::runtime::state::uri::redact(&manifest.state.uri)
            )
        })?;
    let store = StateStore::open(&settings, &variables).map_err(failed)?;
    let ids = store.list(None).map_err(failed)?;
    Ok(Bookmarks {
        from: store.description().to_owned(),
        ids: ids.into_iter().collect(),
    })
}
