//! Environments: `default_environment`, plugins configured per environment (and their literal
//! secrets, [`super::secrets`]), state that a pod would lose.

use std::collections::BTreeMap;

use super::ProjectIndex;
use crate::diagnostics::{Diagnostic, Span, codes, suggest};
use crate::meltano::PluginType;
use crate::meltano::template::has_reference;
use crate::project::model::{self, Named, Plugin};
use crate::resolve::state_backend::{StateBackend, state_backend};

/// Run the environment checks for `selected` environments (and the base project's secrets).
pub fn check(index: &ProjectIndex<'_>, selected: &[Named<'_>], diagnostics: &mut Vec<Diagnostic>) {
    let document = &index.project.merged;
    let all = model::environments(document);
    // With `environments` of the wrong shape (a schema error) every name would look unknown.
    let environments_listed = document
        .get("environments")
        .is_none_or(|e| e.as_sequence().is_some() || e.is_null());
    if let Some(default) = document
        .get("default_environment")
        .filter(|_| environments_listed)
    {
        if let Some(name) = default
            .as_str()
            // meltano.yml settings are expanded at run time: a `${VAR}` names its value elsewhere.
            .filter(|name| !has_reference(name) && !all.iter().any(|e| e.name == *name))
        {
            diagnostics.push(
                Diagnostic::new(
                    &codes::UNKNOWN_ENVIRONMENT,
                    format!("`default_environment` is `{name}`, which is not an environment here"),
                )
                .at(default.span, "unknown environment")
                .maybe_help(
                    suggest::help_line(name, all.iter().map(|e| e.name)).or_else(|| {
                        let names: Vec<_> = all.iter().map(|e| format!("`{}`", e.name)).collect();
                        Some(if names.is_empty() {
                            "the project defines no environments: add one under `environments:`"
                                .to_owned()
                        } else {
                            format!("the project's environments are {}", names.join(", "))
                        })
                    }),
                ),
            );
        }
    }
    for plugin in &index.plugins {
        super::secrets::config_literals(
            index,
            plugin,
            plugin.entry.node.get("config"),
            diagnostics,
        );
    }
    for environment in selected {
        for entry in model::environment_plugins(environment) {
            match index.plugin_of_type(entry.plugin_type, entry.name()) {
                Some(plugin) => super::secrets::config_literals(
                    index,
                    &plugin,
                    entry.entry.node.get("config"),
                    diagnostics,
                ),
                None => {
                    let candidates = index
                        .plugins
                        .iter()
                        .filter(|p| p.plugin_type == entry.plugin_type)
                        .map(Plugin::name);
                    diagnostics.push(
                        Diagnostic::new(&codes::ENVIRONMENT_UNKNOWN_PLUGIN, format!("environment `{}` configures the {} `{}`, which the project does not define", environment.name, entry.plugin_type.singular(), entry.name()))
                            .at(entry.entry.name_span, "not a plugin of the project")
                            .maybe_help(suggest::help_line(entry.name(), candidates).or_else(|| Some("Meltano ignores this entry: remove it or define the plugin".to_owned()))),
                    );
                }
            }
        }
    }
    ephemeral_state(index, selected, diagnostics);
}

/// Incremental jobs whose state would stay in the system database on SQLite, which a pod
/// loses (`systemdb`, Meltano's default `state_backend.uri`; README "`meltc build`", "State that
/// a pod would lose").
fn ephemeral_state(
    index: &ProjectIndex<'_>,
    selected: &[Named<'_>],
    diagnostics: &mut Vec<Diagnostic>,
) {
    let mut lost: BTreeMap<(&str, Span), Vec<&str>> = BTreeMap::new();
    // The base project's backend is used without an environment (`meltano el`, `meltano state`).
    if let Some(error) = state_backend(index.project, None).unknown_scheme_error() {
        diagnostics.push(error);
    }
    let mut incremental_jobs = None;
    for environment in selected {
        let backend = state_backend(index.project, Some(environment));
        if let Some(error) = backend.unknown_scheme_error() {
            diagnostics.push(error);
        }
        if !backend.is_ephemeral() {
            continue;
        }
        // Which jobs are incremental does not depend on the environment: work it out once.
        let jobs = incremental_jobs.get_or_insert_with(|| {
            model::jobs(&index.project.merged)
                .into_iter()
                .filter(|job| job_is_incremental(index, job))
                .collect::<Vec<_>>()
        });
        for job in jobs.iter() {
            lost.entry((job.name, job.name_span))
                .or_default()
                .push(environment.name);
        }
    }
    for ((job, span), environments) in lost {
        diagnostics.push(
            Diagnostic::new(&codes::STATE_EPHEMERAL, format!("job `{job}` keeps incremental state in the system database (SQLite) in environment{} {}", if environments.len() == 1 { "" } else { "s" }, environments.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(", ")))
                .at(span, "state lost with the pod")
                .help("set `state_backend.uri` (e.g. `s3://bucket/prefix` with `state_backend.s3.endpoint_url` for Garage) or `MELTANO_STATE_BACKEND_URI` in the environment's `env:`"),
        );
    }
}

fn job_is_incremental(index: &ProjectIndex<'_>, job: &Named<'_>) -> bool {
    index.blocks(job).iter().any(|token| {
        index
            .plugin_of_type(PluginType::Extractors, &token.text)
            .is_some_and(|plugin| index.facts(&plugin).capabilities.contains("state"))
    })
}

impl StateBackend<'_> {
    fn is_ephemeral(&self) -> bool {
        let uri = self.uri.map(|(uri, _)| uri);
        let systemdb = uri.is_none_or(|uri| uri == "systemdb");
        let sqlite = self.database_uri.is_none_or(|db| db.starts_with("sqlite"));
        systemdb
            && sqlite
            && !uri.is_some_and(has_reference)
            && !self.database_uri.is_some_and(has_reference)
    }

    fn unknown_scheme_error(&self) -> Option<Diagnostic> {
        const SCHEMES: &[&str] = &[
            "file",
            "s3",
            "gs",
            "azure",
            "dbm",
            "postgresql",
            "postgres",
            "snowflake",
        ];
        let (uri, span) = self.uri?;
        if uri == "systemdb" || has_reference(uri) {
            return None;
        }
        let scheme = uri.split_once("://").map(|(scheme, _)| scheme);
        if scheme.is_some_and(|scheme| SCHEMES.contains(&scheme)) {
            return None;
        }
        Some(
            Diagnostic::new(&codes::STATE_UNKNOWN_SCHEME, format!("state backend `{uri}` has no scheme a Meltano state backend provides"))
                .at(span, "unknown state backend")
                .help("use `systemdb`, `file:///path`, `s3://bucket/prefix`, `gs://…`, `azure://…` or an add-on's scheme"),
        )
    }
}
