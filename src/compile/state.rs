//! Whether an environment's incremental state outlives the pod that runs it (README
//! "`meltc build`", "State that a pod would lose"). meltc-run writes `s3://` (Garage, AWS) and
//! `file://` backends; in a CronJob pod a `file://` path is the container's own disk, and the
//! system database is the pod's SQLite file (or a database meltc-run does not write), so both
//! vanish with the pod.

use std::collections::BTreeMap;

use crate::diagnostics::{Diagnostic, codes};
use crate::manifest::{Manifest, Step};
use crate::meltano::template::has_reference;
use crate::project::Project;
use crate::project::model;
use crate::resolve::state_backend::StateBackend;

/// Whether state kept in `backend` survives the pod. A URI read from a variable is taken on
/// trust (the runtime fails loudly on a scheme it cannot write).
#[must_use]
pub fn persistent(backend: &StateBackend<'_>) -> bool {
    match backend.uri {
        Some((uri, _)) => has_reference(uri) || uri.starts_with("s3://"),
        None => false,
    }
}

/// `--allow-ephemeral-state`: when state does not survive the pod, mark every job that runs an
/// incremental extractor, so that meltc-run runs it as the full sync the build promised
/// instead of refusing the backend (and never does so for a job the build did not allow).
pub fn mark_ephemeral(manifest: &mut Manifest) {
    if manifest.state.persistent {
        return;
    }
    for job in &mut manifest.jobs {
        job.ephemeral_state = job.steps.iter().any(|step| {
            matches!(
                step,
                Step::ExtractLoad {
                    incremental: true,
                    ..
                }
            )
        });
    }
}

/// One error per cron schedule whose job runs an incremental extract/load set while state is
/// not persistent.
pub fn lost_state(
    project: &Project,
    manifest: &Manifest,
    backend: &StateBackend<'_>,
) -> Vec<Diagnostic> {
    if manifest.state.persistent {
        return Vec::new();
    }
    let spans: BTreeMap<&str, _> = model::schedules(&project.merged)
        .into_iter()
        .map(|schedule| (schedule.name, schedule.name_span))
        .collect();
    let mut errors = Vec::new();
    for schedule in manifest.schedules.iter().filter(|s| s.cron.is_some()) {
        let Some(job) = manifest.job(&schedule.job) else {
            continue;
        };
        let Some(extractor) = job.steps.iter().find_map(|step| match step {
            Step::ExtractLoad {
                extractor,
                incremental: true,
                ..
            } => Some(extractor),
            _ => None,
        }) else {
            continue;
        };
        let Some(&span) = spans.get(schedule.name.as_str()) else {
            continue;
        };
        let environment = manifest
            .environment
            .as_ref()
            .map_or("", |environment| environment.name.as_str());
        let where_kept = match backend.uri {
            None => "the system database (the default `systemdb`)".to_owned(),
            Some((uri, _)) => format!("`{uri}`"),
        };
        let mut diagnostic = Diagnostic::new(
            &codes::BUILD_STATE_LOST,
            format!(
                "schedule `{}` runs job `{}`, whose extractor `{extractor}` is incremental, but environment `{environment}` keeps state in {where_kept}, which a pod loses",
                schedule.name, schedule.job
            ),
        )
        .at(span, "scheduled here");
        if let Some((_, uri_span)) = backend.uri {
            diagnostic = diagnostic.also(uri_span, "state kept here");
        }
        errors.push(diagnostic.help(
            "keep state in object storage: `state_backend.uri: s3://bucket/prefix` (with `state_backend.s3.endpoint_url` for Garage), or build with `--allow-ephemeral-state` to make every run a full sync",
        ));
    }
    errors
}
