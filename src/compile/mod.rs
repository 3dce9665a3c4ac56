//! Compile: one environment of a validated, resolved project -> the [`Manifest`].
//!
//! Hermetic by construction: it reads the project's files (through the earlier stages) and
//! nothing else: no process environment, no `.env`, no clock, no absolute path. Values keep
//! their `${VAR}` references; the runtime expands them. Where `meltano compile` and Meltano's
//! run time disagree (README "`meltc build` and `meltano compile`"), this follows the run
//! time: an environment's lists replace the base lists, `meltano.yml` wins over a lock file's
//! scalars, the first of two plugins of the same name is kept, and `env:` wins over
//! settings-derived variables (the runtime layers them that way).

mod jobs;
mod plugins;
pub mod requirements;
mod secret_literals;
mod state;
pub mod variables;

use indexmap::IndexMap;
use serde_json::Value;

use crate::diagnostics::Diagnostic;
use crate::manifest::{
    EnvironmentInfo, Generator, MANIFEST_VERSION, Manifest, ProjectInfo, StateInfo,
};
use crate::project::model::{self, Named};
use crate::resolve::Resolved;
use crate::resolve::hub::HubIndex;
use crate::resolve::secrets::SecretNames;
use crate::yaml::Node;

/// How to compile.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Build an environment whose scheduled incremental jobs would lose their state.
    pub allow_ephemeral_state: bool,
}

/// Compile `environment` (`None`: the project without one) of a project that validated
/// without errors.
///
/// # Errors
/// What validation cannot see: a scheduled incremental job whose state would be lost (unless
/// allowed), a legacy schedule named like a job, conflicting setting values.
pub fn compile(
    resolved: &Resolved<'_>,
    environment: Option<&str>,
    options: &Options,
) -> Result<Manifest, Vec<Diagnostic>> {
    let project = resolved.project;
    let document = &project.merged;
    let environment: Option<Named<'_>> = environment.and_then(|wanted| {
        model::environments(document)
            .into_iter()
            .find(|candidate| candidate.name == wanted)
    });
    let mut errors = Vec::new();
    let plugins = plugins::plugins(resolved, environment).unwrap_or_else(|problems| {
        errors.extend(problems);
        Vec::new()
    });
    let backend = crate::resolve::state_backend::state_backend(project, environment.as_ref());
    let mut manifest = Manifest {
        manifest_version: MANIFEST_VERSION,
        generator: Generator {
            name: concat!("meltc ", env!("CARGO_PKG_VERSION")).to_owned(),
            hub_snapshot: HubIndex::bundled().date().to_owned(),
        },
        project: ProjectInfo {
            project_id: document.get("project_id").and_then(Node::scalar_text),
            default_environment: document.get_str("default_environment").map(str::to_owned),
        },
        environment: environment.map(|environment| EnvironmentInfo {
            name: environment.name.to_owned(),
            env: plugins::env_map(environment.node.get("env")),
            state_id_suffix: environment
                .node
                .get("state_id_suffix")
                .and_then(Node::scalar_text),
        }),
        annotations: annotations(document, environment.as_ref()),
        env: plugins::env_map(document.get("env")),
        settings: project_settings(document),
        state: StateInfo {
            uri: backend.uri.map_or("systemdb", |(uri, _)| uri).to_owned(),
            persistent: state::persistent(&backend),
        },
        plugins,
        jobs: Vec::new(),
        schedules: Vec::new(),
        variables: std::collections::BTreeMap::new(),
        secret_literals: std::collections::BTreeMap::new(),
    };
    if let Err(problems) = jobs::jobs_and_schedules(project, &mut manifest) {
        errors.extend(problems);
    }
    if environment.is_some() {
        if options.allow_ephemeral_state {
            state::mark_ephemeral(&mut manifest);
        } else {
            errors.extend(state::lost_state(project, &manifest, &backend));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let secrets = SecretNames::new(resolved);
    secret_literals::keep_out(&mut manifest, &secrets);
    manifest.variables = variables::variables(&manifest, &secrets);
    Ok(manifest)
}

/// The project's annotations with the environment's merged over them.
fn annotations(document: &Node, environment: Option<&Named<'_>>) -> serde_json::Map<String, Value> {
    let mut merged = plugins::object(document.get("annotations"));
    if let Some(environment) = environment {
        for (key, value) in plugins::object(environment.node.get("annotations")) {
            merge_json(merged.entry(key).or_insert(Value::Null), value);
        }
    }
    merged
}

/// `over` merged into `base`: objects key by key, anything else replaced.
fn merge_json(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (key, value) in over {
                merge_json(base.entry(key).or_insert(Value::Null), value);
            }
        }
        (base, over) => *base = over,
    }
}

/// Project settings written at the top level, flattened to dotted names, as written.
fn project_settings(document: &Node) -> IndexMap<String, Value> {
    let mut settings = IndexMap::new();
    for (key, value) in model::project_settings(document) {
        flatten(key, value, &mut settings);
    }
    settings
}

fn flatten(path: &str, node: &Node, out: &mut IndexMap<String, Value>) {
    match node.as_mapping() {
        Some(mapping) if !mapping.is_empty() => {
            for (key, (_, value)) in mapping {
                flatten(&format!("{path}.{key}"), value, out);
            }
        }
        _ => {
            out.insert(path.to_owned(), node.to_json());
        }
    }
}
