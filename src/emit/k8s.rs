//! The Kubernetes files of an environment: a kustomize base under `k8s/`.
//!
//! - `configmap.yaml`: `MELTANO_ENVIRONMENT`, the state backend's URI and endpoint, and a
//!   placeholder for every non-secret variable the pods must be given;
//! - `cronjob-<schedule>.yaml`: one CronJob per schedule (suspended for `@manual`, `@once` and
//!   `@none`, and for every schedule when Dagster owns them), typed with `k8s-openapi`;
//! - `secret.example.yaml`: the Secret the pods read, every key empty, NOT a resource of the
//!   kustomization (applying it would overwrite the real values): every secret variable nothing
//!   in meltano.yml defines, and every key holding a secret meltano.yml writes literally
//!   (kept out of the artifacts, [`crate::manifest::Manifest::secret_literals`]);
//! - `kustomization.yaml`.
//!
//! The CronJob fields and their reasons are in README "Kubernetes (kustomize base)"; the
//! objects are `k8s-openapi` types of the Kubernetes API (`batch/v1` `CronJob`, `core/v1`
//! `ConfigMap` and `Secret`).

mod cronjob;

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

use super::deploy_settings::{self as settings, Deploy};
use super::yaml::{self, Comments};
use super::{Artifacts, Inputs, header};
use crate::manifest::{Manifest, Step};

/// The folder of the Kubernetes files in the output folder.
pub const FOLDER: &str = "k8s";

/// Where a variable the pods need comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Needed {
    /// A Secret key (else a ConfigMap placeholder).
    secret: bool,
    /// What reads it, for the comment.
    used_by: Vec<String>,
    /// The places whose literal secret the key holds, for the comment.
    literal_of: Vec<String>,
    /// Who reads it at run time: `<type>.<plugin>`, `schedule:<name>`, or `project` (the
    /// project's and environment's `env:` and settings, read by every run).
    owners: BTreeSet<String>,
}

/// The objects' names and shared labels.
struct Names {
    config_map: String,
    secret: String,
    labels: BTreeMap<String, String>,
}

/// The k8s emitter.
///
/// # Errors
/// Unusable settings, or a cron expression Kubernetes cannot take.
pub fn emit(manifest: &Manifest, _inputs: &Inputs) -> Result<Artifacts, Vec<String>> {
    let deploy = settings::deploy(manifest)?;
    let environment = manifest
        .environment
        .as_ref()
        .map(|environment| environment.name.clone());
    let base = environment.as_ref().map_or_else(
        || deploy.name.clone(),
        |env| format!("{}-{env}", deploy.name),
    );
    let base = super::names::kubernetes_name(&base, 240);
    let mut labels = BTreeMap::from([
        (
            "app.kubernetes.io/part-of".to_owned(),
            super::names::label_value(&deploy.name),
        ),
        (
            "app.kubernetes.io/managed-by".to_owned(),
            "meltc".to_owned(),
        ),
    ]);
    if let Some(environment) = &environment {
        labels.insert(
            "meltc.dev/environment".to_owned(),
            super::names::label_value(environment),
        );
    }
    let names = Names {
        config_map: format!("{base}-config"),
        secret: format!("{base}-secrets"),
        labels,
    };
    let variables = external_variables(manifest);
    let mut artifacts = Artifacts::new();
    let mut resources = vec!["configmap.yaml".to_owned()];
    artifacts.insert(
        format!("{FOLDER}/configmap.yaml"),
        config_map(manifest, &deploy, &names, &variables),
    );
    let cronjobs = cronjob::cronjobs(manifest, &deploy, &names, &variables)?;
    for (file, text) in cronjobs {
        resources.push(file.clone());
        artifacts.insert(format!("{FOLDER}/{file}"), text);
    }
    if variables.values().any(|needed| needed.secret) {
        artifacts.insert(
            format!("{FOLDER}/secret.example.yaml"),
            secret_example(manifest, &deploy, &names, &variables),
        );
    }
    artifacts.insert(
        format!("{FOLDER}/kustomization.yaml"),
        kustomization(manifest, &names, &resources, &variables),
    );
    Ok(artifacts)
}

/// What the pods must get from the cluster: variables nothing in the manifest defines, and the
/// Secret keys holding literal secrets of meltano.yml.
fn external_variables(manifest: &Manifest) -> BTreeMap<String, Needed> {
    let plugins: BTreeSet<String> = manifest
        .plugins
        .iter()
        .map(|plugin| format!("{}.{}", plugin.plugin_type, plugin.name))
        .collect();
    let mut needed = referenced_variables(manifest, &plugins);
    for (key, literal) in &manifest.secret_literals {
        let entry = needed.entry(key.clone()).or_default();
        entry.secret = true;
        entry.literal_of.clone_from(&literal.written_at);
        // A schedule's literal is read into the schedule's own variable (`valueFrom`), never
        // under the key's name.
        entry.owners.extend(
            literal
                .written_at
                .iter()
                .filter(|place| !place.starts_with("schedules."))
                .filter_map(|place| owner(place, &plugins)),
        );
    }
    needed
}

/// Variables nothing in the manifest defines.
fn referenced_variables(
    manifest: &Manifest,
    plugins: &BTreeSet<String>,
) -> BTreeMap<String, Needed> {
    manifest
        .variables
        .iter()
        .filter(|(_, variable)| variable.defined_by.is_empty())
        .filter(|(_, variable)| variable.used_by.iter().any(|place| !is_install_time(place)))
        .map(|(name, variable)| {
            let owners = variable
                .used_by
                .iter()
                .filter(|place| !is_install_time(place))
                .filter_map(|place| owner(place, plugins))
                .collect();
            (
                name.clone(),
                Needed {
                    secret: variable.secret,
                    used_by: variable.used_by.clone(),
                    literal_of: Vec::new(),
                    owners,
                },
            )
        })
        .collect()
}

/// Who reads a variable at `place` (a manifest `used_by` entry), among `plugins`
/// (`<type>.<name>`, names may hold dots).
fn owner(place: &str, plugins: &BTreeSet<String>) -> Option<String> {
    if ["env.", "environment.", "settings."]
        .iter()
        .any(|prefix| place.starts_with(prefix))
    {
        return Some("project".to_owned());
    }
    if let Some(rest) = place.strip_prefix("schedules.") {
        return rest
            .rsplit_once(".env.")
            .map(|(schedule, _)| format!("schedule:{schedule}"));
    }
    place
        .match_indices('.')
        .map(|(index, _)| &place[..index])
        .find(|candidate| plugins.contains(*candidate))
        .map(str::to_owned)
}

/// A `pip_url` is read when the image is built, never by a pod.
fn is_install_time(place: &str) -> bool {
    place.ends_with(".pip_url")
}

/// The variables a run of `job` (started by `schedule`) reads.
fn needed_by<'v>(
    manifest: &Manifest,
    job: &str,
    schedule: &str,
    variables: &'v BTreeMap<String, Needed>,
) -> Vec<(&'v String, &'v Needed)> {
    let mut plugins = BTreeSet::new();
    if let Some(job) = manifest.job(job) {
        for step in &job.steps {
            match step {
                Step::ExtractLoad {
                    extractor,
                    mappings,
                    loader,
                    ..
                } => {
                    plugins.insert(extractor.as_str());
                    plugins.insert(loader.as_str());
                    plugins.extend(mappings.iter().map(|mapping| mapping.mapper.as_str()));
                }
                Step::Command { plugin, .. } => {
                    plugins.insert(plugin.as_str());
                }
            }
        }
    }
    let mut owners: BTreeSet<String> = manifest
        .plugins
        .iter()
        .filter(|plugin| plugins.contains(plugin.name.as_str()))
        .map(|plugin| format!("{}.{}", plugin.plugin_type, plugin.name))
        .collect();
    owners.insert("project".to_owned());
    owners.insert(format!("schedule:{schedule}"));
    variables
        .iter()
        .filter(|(_, needed)| !needed.owners.is_disjoint(&owners))
        .collect()
}

fn metadata(name: &str, names: &Names, deploy: &Deploy) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: deploy.kubernetes.namespace.clone(),
        labels: Some(names.labels.clone()),
        ..ObjectMeta::default()
    }
}

/// An empty value under `field` for each variable that is (or is not) a secret, with a comment
/// saying what reads it.
fn placeholders(
    variables: &BTreeMap<String, Needed>,
    secret: bool,
    field: &str,
    note: &str,
    data: &mut BTreeMap<String, String>,
    comments: &mut Comments,
) {
    for (name, needed) in variables
        .iter()
        .filter(|(_, needed)| needed.secret == secret)
    {
        data.insert(name.clone(), String::new());
        let mut lines = Vec::new();
        if !needed.literal_of.is_empty() {
            lines.push(format!(
                "{note}The value meltano.yml writes literally at {} (kept out of every artifact): put it here.",
                needed.literal_of.join(", ")
            ));
        }
        if !needed.used_by.is_empty() {
            lines.push(format!("{note}Read by {}.", needed.used_by.join(", ")));
        }
        comments.insert(format!("{field}.{name}"), lines);
    }
}

fn config_map(
    manifest: &Manifest,
    deploy: &Deploy,
    names: &Names,
    variables: &BTreeMap<String, Needed>,
) -> String {
    let mut data = BTreeMap::new();
    let mut comments = Comments::new();
    if let Some(environment) = &manifest.environment {
        data.insert("MELTANO_ENVIRONMENT".to_owned(), environment.name.clone());
    }
    if !manifest.state.uri.contains('$') {
        data.insert(
            "MELTANO_STATE_BACKEND_URI".to_owned(),
            manifest.state.uri.clone(),
        );
    }
    if let Some(Value::String(endpoint)) = manifest.settings.get("state_backend.s3.endpoint_url") {
        if !endpoint.contains('$') {
            data.insert(
                "MELTANO_STATE_BACKEND_S3_ENDPOINT_URL".to_owned(),
                endpoint.clone(),
            );
            // boto3 reads this one when the keys come from AWS_* variables instead.
            data.insert("AWS_ENDPOINT_URL_S3".to_owned(), endpoint.clone());
        }
    }
    placeholders(
        variables,
        false,
        "data",
        "Not set by meltano.yml: give it a value in an overlay. ",
        &mut data,
        &mut comments,
    );
    let object = ConfigMap {
        metadata: metadata(&names.config_map, names, deploy),
        data: Some(data),
        ..ConfigMap::default()
    };
    let mut lines = header(manifest);
    lines.push(
        "Non-secret values every job's pod reads (envFrom). Plugin config is in the image's manifest."
            .to_owned(),
    );
    yaml::document(&lines, &object, &comments)
}

fn secret_example(
    manifest: &Manifest,
    deploy: &Deploy,
    names: &Names,
    variables: &BTreeMap<String, Needed>,
) -> String {
    let mut data = BTreeMap::new();
    let mut comments = Comments::new();
    placeholders(variables, true, "stringData", "", &mut data, &mut comments);
    let object = Secret {
        metadata: metadata(&names.secret, names, deploy),
        type_: Some("Opaque".to_owned()),
        string_data: Some(data),
        ..Secret::default()
    };
    let mut lines = header(manifest);
    lines.extend(
        [
            "",
            "An EXAMPLE of the Secret the CronJobs read: every key they reference, with an empty",
            "placeholder. It is not listed in kustomization.yaml, so `kubectl apply -k` never",
            "overwrites the real values. Create the real one out of git, e.g.",
            &format!(
                "  kubectl create secret generic {} --from-env-file=secrets.env",
                names.secret
            ),
            "or with External Secrets, Sealed Secrets or SOPS, under the same name and keys.",
        ]
        .map(str::to_owned),
    );
    yaml::document(&lines, &object, &comments)
}

fn kustomization(
    manifest: &Manifest,
    names: &Names,
    resources: &[String],
    variables: &BTreeMap<String, Needed>,
) -> String {
    let value = json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
    });
    let mut lines = header(manifest);
    lines.extend(
        [
            "",
            "A kustomize base: `kubectl apply -k` this folder, or better, an overlay of your own",
            "that sets the image (`images:` with the registry and digest CI built) and patches",
            "what differs per cluster; meltc rewrites this folder, never your overlay.",
        ]
        .map(str::to_owned),
    );
    if variables.values().any(|needed| needed.secret) {
        lines.extend(
            [
                "",
                &format!(
                    "The CronJobs read the Secret `{}` (keys: secret.example.yaml), which is",
                    names.secret
                ),
                "deliberately not a resource here: create it out of git first.",
            ]
            .map(str::to_owned),
        );
    }
    yaml::document(&lines, &value, &Comments::new())
}
