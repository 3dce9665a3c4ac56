//! `dagster/definitions.py`: one Dagster job (of one op) per Meltano job, running
//! `meltc-run job NAME` through `PipesSubprocessClient`, and one `ScheduleDefinition` per cron
//! schedule. It imports only `dagster`, and every name is a literal: no Meltano, no project
//! files at load time (reference/deploy-artifacts.md §5.2).
//!
//! Dagster names match `^[A-Za-z0-9_]+$`; names that sanitise alike get a stable hash suffix
//! ([`super::names`]), so hundreds of jobs and look-alike names load.

use serde::Serialize;

use super::names::dagster_names;
use super::settings::{self, Orchestrator};
use super::{Artifacts, Inputs, header, templates};
use crate::manifest::Manifest;

/// The definitions file, in the output folder.
pub const FILE: &str = "dagster/definitions.py";

#[derive(Serialize)]
struct JobContext {
    name: String,
    job_name: String,
    op_name: String,
    description: String,
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
    let jobs = manifest
        .jobs
        .iter()
        .map(|job| JobContext {
            name: literal(&job.name),
            job_name: literal(&job_names[&job.name]),
            op_name: literal(&op_names[&job.name]),
            description: literal(&format!(
                "Meltano job `{}`: meltc-run job {} ({})",
                job.name,
                job.name,
                job.blocks.join(" ")
            )),
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
        schedules,
        left_out,
    };
    let text = templates::render(templates::DAGSTER_DEFINITIONS, &context).map_err(|e| vec![e])?;
    Ok(Artifacts::from([(FILE.to_owned(), text)]))
}
