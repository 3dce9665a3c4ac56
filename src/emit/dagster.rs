//! `dagster/definitions.py`: one Dagster job (of one op) per Meltano job, running
//! `meltc-run job NAME` through `PipesSubprocessClient`, and one `ScheduleDefinition` per cron
//! schedule. It imports only `dagster`, and every name is a literal: no Meltano, no project
//! files at load time, so that loading costs milliseconds at any project size (README "Dagster
//! (`dagster/definitions.py`)").
//!
//! With pinned catalogs (`meltc catalog`, `manifest::PinnedCatalog`) each extract-load step
//! whose extractor has one is a `multi_asset` of the streams it selects: keys `[loader,
//! stream]` (or `annotations.meltc.dagster.asset_keys`), kinds the tap and the target, the
//! group of the first job that runs it, the selected columns as `dagster/column_schema`. A job
//! made only of such steps becomes an asset job over their assets. Without pinned catalogs the
//! file is what it was.
//!
//! Dagster names match `^[A-Za-z0-9_]+$`; names that sanitise alike get a stable hash suffix
//! ([`super::names`]), so hundreds of jobs and look-alike names load.

use std::collections::BTreeMap;

use serde::Serialize;

use super::deploy_settings::{self as settings, Orchestrator};
use super::names::dagster_names;
use super::{Artifacts, Inputs, header, templates};
use crate::manifest::{Manifest, Step, Stream};

/// The definitions file, in the output folder.
pub const FILE: &str = "dagster/definitions.py";

#[derive(Serialize)]
struct JobContext {
    name: String,
    job_name: String,
    op_name: String,
    description: String,
    /// An asset job: its assets' keys (Python literals, comma-separated); empty for an op job.
    selection: String,
}

#[derive(Serialize)]
struct StepContext {
    name: String,
    /// `meltc-run run` arguments (Python literals, comma-separated).
    blocks: String,
    description: String,
    group: String,
    kinds: String,
    specs: Vec<SpecContext>,
}

#[derive(Serialize)]
struct SpecContext {
    /// The stream's name as the extractor writes it (a Python literal): meltc-run reports
    /// its records under the asset key the file gives it.
    stream: String,
    key: String,
    description: String,
    tags: String,
    columns: Vec<ColumnContext>,
}

#[derive(Serialize)]
struct ColumnContext {
    name: String,
    kind: String,
}

#[derive(Serialize)]
struct ScheduleContext {
    name: String,
    original: String,
    job: String,
    interval: String,
    cron: String,
}

#[derive(Serialize)]
struct DefinitionsContext {
    header: Vec<String>,
    environment: String,
    environment_literal: String,
    schedule_status: &'static str,
    schedules_owner: String,
    jobs: Vec<JobContext>,
    steps: Vec<StepContext>,
    schedules: Vec<ScheduleContext>,
    /// Schedules Dagster cannot run (Kubernetes owns them), said in a comment.
    left_out: Vec<String>,
}

/// The `cron_schedule` of a manifest's cron expression ([`crate::cron`]).
///
/// # Errors
/// What Dagster cannot run.
pub fn dagster_schedule(cron: &str) -> Result<String, crate::cron::Unsupported> {
    crate::cron::Cron::parse(cron)
        .map_err(|reason| crate::cron::Unsupported {
            feature: format!("reading of it ({reason})"),
            instead: "write an expression croniter accepts".to_owned(),
        })?
        .dagster()
}

/// A Python string literal (a JSON string is one).
fn literal(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// The dagster emitter.
///
/// # Errors
/// Unusable settings.
pub fn emit(manifest: &Manifest, _inputs: &Inputs) -> Result<Artifacts, Vec<String>> {
    let deploy = settings::deploy(manifest)?;
    let job_names = dagster_names(manifest.jobs.iter().map(|job| job.name.as_str()), "");
    let op_names = dagster_names(manifest.jobs.iter().map(|job| job.name.as_str()), "run_");
    let schedule_names = dagster_names(
        manifest
            .schedules
            .iter()
            .map(|schedule| schedule.name.as_str()),
        "",
    );
    let (steps, step_keys) = asset_steps(manifest, &deploy.asset_keys)?;
    let jobs = manifest
        .jobs
        .iter()
        .map(|job| {
            // An asset job when every step is one of the assets' steps.
            let keys: Option<Vec<&String>> = job
                .steps
                .iter()
                .map(|step| step_keys.get(&step_label(step)?))
                .collect::<Option<Vec<_>>>()
                .map(|keys| keys.into_iter().flatten().collect());
            let selection = keys
                .filter(|keys| !keys.is_empty())
                .map(|keys| {
                    keys.iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            JobContext {
                name: literal(&job.name),
                job_name: literal(&job_names[&job.name]),
                op_name: literal(&op_names[&job.name]),
                description: literal(&format!(
                    "Meltano job `{}`: meltc-run job {} ({})",
                    job.name,
                    job.name,
                    job.blocks.join(" ")
                )),
                selection,
            }
        })
        .collect();
    let mut schedules = Vec::new();
    let mut left_out = Vec::new();
    for schedule in manifest
        .schedules
        .iter()
        .filter(|schedule| manifest.job(&schedule.job).is_some())
    {
        let Some(cron) = &schedule.cron else {
            continue;
        };
        match dagster_schedule(cron) {
            Ok(cron) => schedules.push(ScheduleContext {
                name: literal(&schedule_names[&schedule.name]),
                original: literal(&schedule.name),
                job: literal(&schedule.job),
                interval: format!("{:?}", schedule.interval),
                cron: literal(&cron),
            }),
            // The build stops earlier when Dagster owns the schedules (a located error).
            Err(unsupported) if deploy.orchestrator == Orchestrator::Dagster => {
                return Err(vec![format!(
                    "{} cannot run `{cron}`: they have no {}; {}",
                    crate::cron::Orchestrator::Dagster,
                    unsupported.feature,
                    unsupported.instead
                )]);
            }
            // Kubernetes runs it; Dagster would refuse to load the whole file.
            Err(unsupported) => left_out.push(format!(
                "{} ({cron}): left out, Dagster has no {}",
                schedule.name, unsupported.feature
            )),
        }
    }
    let environment = manifest
        .environment
        .as_ref()
        .map(|environment| environment.name.clone());
    let (schedule_status, schedules_owner) = match deploy.orchestrator {
        Orchestrator::Dagster => (
            "RUNNING",
            "Dagster owns them (annotations.meltc.orchestrator: dagster), so they start RUNNING;\nthe Kubernetes CronJobs meltc writes for this environment are suspended.",
        ),
        Orchestrator::Kubernetes => (
            "STOPPED",
            "Kubernetes CronJobs own them (the default), so these start STOPPED and nothing runs\ntwice; set annotations.meltc.orchestrator: dagster to hand them to Dagster.",
        ),
    };
    let context = DefinitionsContext {
        header: header(manifest),
        environment: environment.clone().unwrap_or_else(|| "none".to_owned()),
        environment_literal: environment
            .as_deref()
            .map_or_else(|| "None".to_owned(), literal),
        schedule_status,
        schedules_owner: schedules_owner.to_owned(),
        jobs,
        steps,
        schedules,
        left_out,
    };
    let text = templates::render(templates::DAGSTER_DEFINITIONS, &context).map_err(|e| vec![e])?;
    Ok(Artifacts::from([(FILE.to_owned(), text)]))
}

/// `tap [mapper:mapping...] target` of an extract-load step whose extractor has a pinned
/// catalog; `None` for any other step.
fn step_label(step: &Step) -> Option<String> {
    let Step::ExtractLoad {
        extractor,
        mappings,
        loader,
        ..
    } = step
    else {
        return None;
    };
    let mut blocks = vec![extractor.clone()];
    blocks.extend(mappings.iter().map(|m| m.mapping.clone()));
    blocks.push(loader.clone());
    Some(blocks.join(" "))
}

/// A Dagster name of `text`: other characters become `_`.
fn dagster_part(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The column type shown: the JSON types but `null`, and the format (`string (date-time)`).
fn column_kind(types: &[String], format: Option<&str>) -> String {
    let mut kinds: Vec<&str> = types
        .iter()
        .map(String::as_str)
        .filter(|kind| *kind != "null")
        .collect();
    if kinds.is_empty() {
        kinds.push("any");
    }
    let mut kind = kinds.join(" | ");
    if let Some(format) = format {
        kind.push_str(&format!(" ({format})"));
    }
    kind
}

/// The multi-assets of the manifest's extract-load steps with pinned catalogs (each distinct
/// step once, in job order) and each step's asset keys (Python literals) by its label.
#[allow(clippy::type_complexity, reason = "a private pair")]
fn asset_steps(
    manifest: &Manifest,
    given: &BTreeMap<(String, String), Vec<String>>,
) -> Result<(Vec<StepContext>, BTreeMap<String, Vec<String>>), Vec<String>> {
    let mut labels: Vec<(String, &str, &Step)> = Vec::new();
    for job in &manifest.jobs {
        for step in &job.steps {
            let Some(label) = step_label(step) else {
                continue;
            };
            let Step::ExtractLoad { extractor, .. } = step else {
                continue;
            };
            // A step without a selected stream has no asset (Dagster refuses an empty
            // multi_asset): its jobs stay op jobs.
            let has_catalog = manifest
                .plugin_of_type("extractors", extractor)
                .and_then(|plugin| plugin.catalog.as_ref())
                .is_some_and(|catalog| !catalog.streams.is_empty());
            if has_catalog && !labels.iter().any(|(known, _, _)| *known == label) {
                labels.push((label, job.name.as_str(), step));
            }
        }
    }
    let names = dagster_names(
        labels.iter().map(|(label, _, _)| label.as_str()),
        "meltano_",
    );
    let mut steps = Vec::new();
    let mut keys_by_label = BTreeMap::new();
    let mut owners: BTreeMap<Vec<String>, String> = BTreeMap::new();
    let mut problems = Vec::new();
    for (label, job, step) in &labels {
        let Step::ExtractLoad {
            extractor, loader, ..
        } = step
        else {
            continue;
        };
        let Some(catalog) = manifest
            .plugin_of_type("extractors", extractor)
            .and_then(|plugin| plugin.catalog.as_ref())
        else {
            continue;
        };
        let mut specs = Vec::new();
        let mut keys = Vec::new();
        for stream in &catalog.streams {
            let key = given
                .get(&(extractor.clone(), stream.tap_stream_id.clone()))
                .cloned()
                .unwrap_or_else(|| vec![dagster_part(loader), dagster_part(&stream.tap_stream_id)]);
            if let Some(other) = owners.insert(key.clone(), (*label).clone()) {
                problems.push(format!(
                    "the asset key {} of stream `{}` in step `{label}` is also a key of step `{other}`: give one of them its own under annotations.meltc.dagster.asset_keys",
                    key.join("/"),
                    stream.tap_stream_id
                ));
            }
            let key_literal = format!(
                "[{}]",
                key.iter()
                    .map(|part| literal(part))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            keys.push(key_literal.clone());
            specs.push(spec(extractor, loader, stream, key_literal));
        }
        let mut blocks = vec![literal(extractor)];
        if let Step::ExtractLoad { mappings, .. } = step {
            blocks.extend(mappings.iter().map(|m| literal(&m.mapping)));
        }
        blocks.push(literal(loader));
        steps.push(StepContext {
            name: literal(&names[label]),
            blocks: blocks.join(", "),
            description: literal(&format!("meltc-run run {label}")),
            group: literal(&dagster_part(job)),
            kinds: format!("{{{}, {}}}", literal(extractor), literal(loader)),
            specs,
        });
        keys_by_label.insert((*label).clone(), keys);
    }
    if problems.is_empty() {
        Ok((steps, keys_by_label))
    } else {
        Err(problems)
    }
}

fn spec(extractor: &str, loader: &str, stream: &Stream, key: String) -> SpecContext {
    let mut description = format!(
        "Stream `{}` of {extractor}, loaded by {loader}",
        stream.tap_stream_id
    );
    if let Some(table) = &stream.table_name {
        description.push_str(&format!(" (table `{table}`)"));
    }
    if !stream.key_properties.is_empty() {
        description.push_str(&format!("; key {}", stream.key_properties.join(", ")));
    }
    if let Some(method) = &stream.replication_method {
        description.push_str(&format!("; {method}"));
        if let Some(key) = &stream.replication_key {
            description.push_str(&format!(" on {key}"));
        }
    }
    let mut tags = vec![format!(
        "\"meltano/stream\": {}",
        literal(&dagster_part(&stream.tap_stream_id))
    )];
    if let Some(method) = &stream.replication_method {
        tags.push(format!("\"meltano/replication\": {}", literal(method)));
    }
    SpecContext {
        stream: literal(&stream.tap_stream_id),
        key,
        description: literal(&description),
        tags: format!("{{{}}}", tags.join(", ")),
        columns: stream
            .columns
            .iter()
            .map(|column| ColumnContext {
                name: literal(&column.name),
                kind: literal(&column_kind(&column.types, column.format.as_deref())),
            })
            .collect(),
    }
}
