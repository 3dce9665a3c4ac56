//! Whether the orchestrator that owns the schedules (`annotations.meltc.orchestrator`,
//! `meltc build --orchestrator`) can run each schedule's cron expression ([`crate::cron`]).
//! `meltc build` turns every finding into a located error before any emitter runs; the
//! orchestrator that does not own the schedules writes them suspended or leaves them out.

use super::settings::{self, Orchestrator};
use crate::cron::{self, Unsupported};
use crate::manifest::Manifest;

/// A schedule the owner cannot run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CannotRun {
    /// The schedule's name.
    pub schedule: String,
    /// Its cron expression, as written.
    pub cron: String,
    /// The owner.
    pub orchestrator: cron::Orchestrator,
    /// What it lacks and what to write instead.
    pub unsupported: Unsupported,
}

/// The schedules the owner cannot run, when the owner's emitter is among `selected` (all when
/// empty). Unusable settings are the emitters' to report.
#[must_use]
pub fn cannot_run(manifest: &Manifest, selected: &[String]) -> Vec<CannotRun> {
    let Ok(deploy) = settings::deploy(manifest) else {
        return Vec::new();
    };
    let (orchestrator, emitter) = match deploy.orchestrator {
        Orchestrator::Kubernetes => (cron::Orchestrator::Kubernetes, "k8s"),
        Orchestrator::Dagster => (cron::Orchestrator::Dagster, "dagster"),
    };
    if !selected.is_empty() && !selected.iter().any(|name| name == emitter) {
        return Vec::new();
    }
    manifest
        .schedules
        .iter()
        .filter(|schedule| manifest.job(&schedule.job).is_some())
        .filter_map(|schedule| {
            let expression = schedule.cron.as_ref()?;
            let parsed = cron::Cron::parse(expression).ok()?;
            let result = match orchestrator {
                cron::Orchestrator::Kubernetes => parsed.kubernetes(),
                cron::Orchestrator::Dagster => parsed.dagster(),
            };
            result.err().map(|unsupported| CannotRun {
                schedule: schedule.name.clone(),
                cron: expression.clone(),
                orchestrator,
                unsupported,
            })
        })
        .collect()
}
