//! The manifest's jobs and schedules. A job's tasks are flattened into blocks and grouped into
//! steps with `meltano run`'s grammar; a legacy extractor/loader schedule becomes a job of its
//! own name whose one step keeps state under the schedule's name, as `meltano elt
//! --state-id=<schedule>` does (Meltano's `ELTSchedule.elt_args`, `core/schedule.py`).

use std::collections::BTreeSet;

use super::plugins::{env_map, object};
use crate::cron::Interval;
use crate::diagnostics::{Diagnostic, codes};
use crate::manifest::blocks;
use crate::manifest::{Job, Manifest, Schedule, Step};
use crate::project::Project;
use crate::project::model::{self, Named};

/// Fill `manifest.jobs` and `manifest.schedules` (its plugins are already there).
///
/// # Errors
/// A job whose blocks do not parse (validation reports these first), or a legacy schedule
/// named like a job.
pub fn jobs_and_schedules(
    project: &Project,
    manifest: &mut Manifest,
) -> Result<(), Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let mut names = BTreeSet::new();
    let mut jobs = Vec::new();
    let lookup = blocks::Lookup::new(manifest);
    for job in model::jobs(&project.merged) {
        if !names.insert(job.name) {
            continue; // a duplicate never takes effect (validation says so)
        }
        let Some(tasks) = job.node.get("tasks") else {
            continue;
        };
        let blocks: Vec<String> = model::task_tokens(tasks, "")
            .into_iter()
            .map(|token| token.text)
            .collect();
        match lookup.parse(&blocks) {
            Ok(steps) => jobs.push(Job {
                name: job.name.to_owned(),
                blocks,
                steps,
                legacy_schedule: false,
                ephemeral_state: false,
                annotations: object(job.node.get("annotations")),
            }),
            Err(error) => errors.push(
                Diagnostic::new(
                    &codes::TASK_SEQUENCE,
                    format!("job `{}`: {error}", job.name),
                )
                .at(job.name_span, "this job"),
            ),
        }
    }
    manifest.jobs = jobs;
    let mut schedule_names = BTreeSet::new();
    for schedule in model::schedules(&project.merged) {
        if !schedule_names.insert(schedule.name) {
            continue;
        }
        let job = match schedule.get_str("job") {
            Some(job) => job.to_owned(),
            None => match legacy_job(manifest, &schedule, &names) {
                Ok(Some(job)) => {
                    let name = job.name.clone();
                    manifest.jobs.push(job);
                    name
                }
                Ok(None) => continue,
                Err(error) => {
                    errors.push(*error);
                    continue;
                }
            },
        };
        let interval = schedule.get_str("interval").unwrap_or("@manual").to_owned();
        manifest.schedules.push(Schedule {
            name: schedule.name.to_owned(),
            job,
            cron: Interval::parse(&interval)
                .ok()
                .and_then(|interval| interval.cron().map(|cron| cron.expression().to_owned())),
            interval,
            env: env_map(schedule.node.get("env")),
            annotations: object(schedule.node.get("annotations")),
        });
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The job a legacy `extractor`/`loader` schedule runs (`None` when it names neither, which
/// validation reports).
fn legacy_job(
    manifest: &Manifest,
    schedule: &Named<'_>,
    job_names: &BTreeSet<&str>,
) -> Result<Option<Job>, Box<Diagnostic>> {
    let (Some(extractor), Some(loader)) =
        (schedule.get_str("extractor"), schedule.get_str("loader"))
    else {
        return Ok(None);
    };
    if job_names.contains(schedule.name) {
        return Err(Box::new(Diagnostic::new(
            &codes::BUILD_LEGACY_SCHEDULE_NAME,
            format!(
                "the legacy schedule `{}` has the name of a job",
                schedule.name
            ),
        )
        .at(schedule.name_span, "also a job name")
        .help("rename the schedule, or turn it into a job schedule: a job with the task `extractor loader` and `job:` here")));
    }
    let (Some(tap), Some(target)) = (
        manifest.plugin_of_type("extractors", extractor),
        manifest.plugin_of_type("loaders", loader),
    ) else {
        return Ok(None);
    };
    Ok(Some(Job {
        name: schedule.name.to_owned(),
        blocks: vec![extractor.to_owned(), loader.to_owned()],
        steps: vec![Step::ExtractLoad {
            extractor: tap.name.clone(),
            mappings: Vec::new(),
            loader: target.name.clone(),
            state_id: Some(schedule.name.to_owned()),
            incremental: tap.capabilities.iter().any(|c| c == "state"),
        }],
        legacy_schedule: true,
        ephemeral_state: false,
        annotations: serde_json::Map::new(),
    }))
}
