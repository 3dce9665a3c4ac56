//! Schedules: the job or plugins they name, and their interval (Meltano's `JobSchedule`,
//! `ELTSchedule` and `Schedule.cron_interval` in `core/schedule.py`).
//!
//! An interval validates when croniter accepts it ([`crate::cron`], the model `meltc build`
//! and every emitter use too); whether the orchestrator that owns the schedules can run it is
//! `meltc build`'s question (`meltc::build::cron-unsupported`).

use super::ProjectIndex;
use crate::cron::Interval;
use crate::diagnostics::{Diagnostic, codes, suggest};
use crate::meltano::PluginType;
use crate::project::model::{self, Named};

/// Check every schedule.
pub fn check(index: &ProjectIndex<'_>, diagnostics: &mut Vec<Diagnostic>) {
    for schedule in model::schedules(&index.project.merged) {
        if let Some(job) = schedule.node.get("job") {
            if let Some(name) = job.as_str().filter(|name| !index.jobs.contains_key(name)) {
                diagnostics.push(
                    Diagnostic::new(
                        &codes::UNKNOWN_JOB,
                        format!(
                            "schedule `{}` runs the job `{name}`, which does not exist",
                            schedule.name
                        ),
                    )
                    .at(job.span, "unknown job")
                    .maybe_help(
                        suggest::help_line(name, index.jobs.keys().copied()).or_else(|| {
                            Some("define the job under `jobs:` or fix the name".to_owned())
                        }),
                    ),
                );
            }
        } else if schedule.node.get("extractor").is_some() {
            legacy(index, &schedule, diagnostics);
        }
        if let Some(interval) = schedule.node.get("interval") {
            if let Some(text) = interval.as_str() {
                if let Err(reason) = Interval::parse(text) {
                    diagnostics.push(
                        Diagnostic::new(&codes::SCHEDULE_CRON, format!("schedule `{}` has an invalid interval `{text}`: {reason}", schedule.name))
                            .at(interval.span, "invalid cron expression")
                            .help("write five fields (`minute hour day-of-month month day-of-week`, e.g. `0 2 * * *`) or a preset: @hourly, @daily, @weekly, @monthly, @yearly, @once, @manual"),
                    );
                }
            }
        }
    }
}

fn legacy(index: &ProjectIndex<'_>, schedule: &Named<'_>, diagnostics: &mut Vec<Diagnostic>) {
    // `meltano elt --transform run|only` adds (or only runs) the legacy dbt transform, which
    // meltc-run does not run: say so where the schedule asks for it.
    let transform = schedule
        .node
        .get("transform")
        .and_then(|node| node.as_str().map(|text| (text, node.span)))
        .filter(|(text, _)| matches!(*text, "run" | "only"));
    let diagnostic = Diagnostic::new(
        &codes::SCHEDULE_LEGACY,
        format!(
            "schedule `{}` uses the pre-jobs extractor/loader form",
            schedule.name
        ),
    );
    let diagnostic = match transform {
        Some((text, span)) => diagnostic
            .at(span, "meltc-run does not run the legacy dbt transform")
            .help(format!("meltc runs only its extract/load, as a job whose state ID is `{}`; `transform: {text}` is not carried out: write a job with the task `<extractor> <loader> dbt:run` (or just `dbt:run`) and point the schedule at it with `job:`", schedule.name)),
        None => diagnostic.at(schedule.name_span, "legacy schedule").help(format!("meltc runs it as a job whose state ID is `{}` (as `meltano elt` does); prefer a job and `job:` in the schedule", schedule.name)),
    };
    diagnostics.push(diagnostic);
    for (key, plugin_type) in [
        ("extractor", PluginType::Extractors),
        ("loader", PluginType::Loaders),
    ] {
        let Some(node) = schedule.node.get(key) else {
            continue;
        };
        let Some(name) = node.as_str() else { continue };
        if index.plugin_of_type(plugin_type, name).is_none() {
            let candidates = index
                .plugins
                .iter()
                .filter(|p| p.plugin_type == plugin_type)
                .map(|p| p.name());
            diagnostics.push(
                Diagnostic::new(
                    &codes::SCHEDULE_UNKNOWN_PLUGIN,
                    format!(
                        "schedule `{}` names the {key} `{name}`, which is not defined",
                        schedule.name
                    ),
                )
                .at(node.span, format!("unknown {key}"))
                .maybe_help(suggest::help_line(name, candidates)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::cron::Interval;

    #[test]
    fn intervals_croniter_accepts() {
        for ok in [
            "0 2 * * *",
            "*/15 * * * *",
            "0 0 L * ?",
            "0 6 L * *",
            "0 9 * JAN-MAR MON-FRI",
            "0 0 * * fri-mon",
            "0 0 * * 7",
            "0 0 * * 1#2",
            "0 0 * * l5",
            "0 0 2 * * *",
            "5,10 1-3/2 * * *",
            "@daily",
            "@Hourly",
            "@manual",
            "@once",
            "@annually",
            "*/90 * * * *",
        ] {
            assert!(
                Interval::parse(ok).is_ok(),
                "{ok}: {:?}",
                Interval::parse(ok)
            );
        }
        for bad in [
            "0 2 * *",
            "61 * * * *",
            "0 25 * * *",
            "@sometimes",
            "@Manual",
            "0 0 * * mon-",
            "x * * * *",
            "0 0 32 * *",
            "0 0 * 13 *",
            "0 0 LW * *",
            "0 0 * * 5L",
            "0 0 * * 1#6",
            "",
        ] {
            assert!(Interval::parse(bad).is_err(), "{bad} should fail");
        }
        assert_eq!(
            Interval::parse("61 * * * *"),
            Err("the minute field `61` is out of range (0-59)".to_owned())
        );
        assert_eq!(
            Interval::parse("0 0 LW * *"),
            Err("the day-of-month field `LW` holds something croniter does not read (it takes numbers, names, `*`, `?`, `L`, `#`, ranges and steps)".to_owned())
        );
        assert_eq!(Interval::parse("@none"), Ok(Interval::Manual));
    }
}
