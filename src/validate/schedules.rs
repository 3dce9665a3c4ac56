//! Schedules: the job or plugins they name, and their interval (reference/meltano-spec.md §5.2).
//!
//! Intervals are checked with `meltano schedule add`'s rules: an `@` preset, or exactly five
//! fields where each is `*` or a list of `n`, `a-b` and `x/step`, with `?` in day-of-month and
//! day-of-week, `L` in day-of-month, month and weekday names, and weekday 7 or wrap-around
//! ranges (`fri-mon`). Field values are range-checked by the `croner` crate.

use croner::parser::{CronParser, Seconds, Year};

use super::ProjectIndex;
use crate::diagnostics::{Diagnostic, codes, suggest};
use crate::project::PluginType;
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
                if let Err(reason) = check_interval(text) {
                    diagnostics.push(
                        Diagnostic::new(&codes::SCHEDULE_CRON, format!("schedule `{}` has an invalid interval `{text}`: {reason}", schedule.name))
                            .at(interval.span, "invalid cron expression")
                            .help("use five fields (`minute hour day-of-month month day-of-week`, e.g. `0 2 * * *`) or a preset: @hourly, @daily, @weekly, @monthly, @yearly, @once, @manual"),
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

/// The cron expression of an interval that [`check_interval`] accepted, without checking it
/// again: a preset's five fields, `None` for the manual presets, else the fields as written
/// (lower-cased, single spaces).
#[must_use]
pub fn cron_expression(text: &str) -> Option<String> {
    let lower = text.trim().to_lowercase();
    match lower.strip_prefix('@') {
        Some("hourly") => Some("0 * * * *".into()),
        Some("daily" | "midnight") => Some("0 0 * * *".into()),
        Some("weekly") => Some("0 0 * * 0".into()),
        Some("monthly") => Some("0 0 1 * *".into()),
        Some("yearly" | "annually") => Some("0 0 1 1 *".into()),
        Some(_) => None,
        None => Some(lower.split_whitespace().collect::<Vec<_>>().join(" ")),
    }
}

/// The cron expression of an interval: `Ok(None)` for the manual presets.
///
/// # Errors
/// Why the interval is not valid.
pub fn check_interval(text: &str) -> Result<Option<String>, String> {
    let lower = text.trim().to_lowercase();
    if let Some(preset) = lower.strip_prefix('@') {
        return match preset {
            "hourly" | "daily" | "midnight" | "weekly" | "monthly" | "yearly" | "annually"
            | "once" | "manual" | "none" => Ok(cron_expression(text)),
            _ => Err(format!("`@{preset}` is not a preset")),
        };
    }
    let fields: Vec<&str> = lower.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("expected 5 fields, found {}", fields.len()));
    }
    const FIELD_NAMES: [&str; 5] = ["minute", "hour", "day-of-month", "month", "day-of-week"];
    for (position, field) in fields.iter().enumerate() {
        if !field_syntax_ok(field, position) {
            return Err(format!(
                "the {} field `{field}` is not valid",
                FIELD_NAMES[position]
            ));
        }
    }
    if let Some(problem) = out_of_range(&fields) {
        return Err(problem);
    }
    let normalised = normalise_weekday_ranges(&fields);
    let parser = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build();
    parser
        .parse(&normalised)
        .map_err(|error| error.to_string())?;
    Ok(Some(fields.join(" ")))
}

/// Meltano's per-field grammar (`core/schedule_service.py`).
fn field_syntax_ok(field: &str, position: usize) -> bool {
    if field == "*"
        || (field == "?" && matches!(position, 2 | 4))
        || (field == "l" && position == 2)
    {
        return true;
    }
    field.split(',').all(|item| {
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => (base, Some(step)),
            None => (item, None),
        };
        let step_ok =
            step.is_none_or(|step| !step.is_empty() && step.bytes().all(|b| b.is_ascii_digit()));
        let base_ok = base == "*"
            || match base.split_once('-') {
                Some((from, to)) => atom_ok(from, position) && atom_ok(to, position),
                None => atom_ok(base, position),
            };
        step_ok && base_ok
    })
}

fn atom_ok(atom: &str, position: usize) -> bool {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    (!atom.is_empty() && atom.bytes().all(|b| b.is_ascii_digit()))
        || (position == 3 && MONTHS.contains(&atom))
        || (position == 4 && DAYS.contains(&atom))
}

/// The first number outside its field's range, said in words (croner's own message does not
/// name the field).
fn out_of_range(fields: &[&str]) -> Option<String> {
    const RANGES: [(&str, u32, u32); 5] = [
        ("minute", 0, 59),
        ("hour", 0, 23),
        ("day-of-month", 1, 31),
        ("month", 1, 12),
        ("day-of-week", 0, 7),
    ];
    for (field, (name, low, high)) in fields.iter().zip(RANGES) {
        // Only values count, not steps: in `1-3/2` the step `2` is not checked.
        let values = field
            .split(',')
            .flat_map(|item| item.split('/').next().unwrap_or_default().split('-'));
        if values
            .filter_map(|atom| atom.parse::<u32>().ok())
            .any(|number| number < low || number > high)
        {
            return Some(format!(
                "the {name} field `{field}` is out of range ({low}-{high})"
            ));
        }
    }
    None
}

/// croner refuses wrap-around weekday ranges (`fri-mon`) that Meltano accepts: split them.
fn normalise_weekday_ranges(fields: &[&str]) -> String {
    let day = |atom: &str| -> Option<u32> {
        const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
        atom.parse().ok().or_else(|| {
            DAYS.iter()
                .position(|d| *d == atom)
                .and_then(|i| u32::try_from(i).ok())
        })
    };
    let weekdays = fields[4]
        .split(',')
        .map(|item| match item.split_once('-') {
            Some((from, to)) if !to.contains('/') => match (day(from), day(to)) {
                (Some(start), Some(end)) if start > end => format!("{start}-7,0-{end}"),
                _ => item.to_owned(),
            },
            _ => item.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",");
    format!(
        "{} {} {} {} {weekdays}",
        fields[0], fields[1], fields[2], fields[3]
    )
}

#[cfg(test)]
mod tests {
    use super::check_interval;

    #[test]
    fn meltano_cron_rules() {
        for ok in [
            "0 2 * * *",
            "*/15 * * * *",
            "0 0 L * ?",
            "0 9 * jan-mar mon-fri",
            "0 0 * * fri-mon",
            "0 0 * * 7",
            "5,10 1-3/2 * * *",
            "@daily",
            "@Hourly",
            "@manual",
            "@once",
            "@annually",
        ] {
            assert!(check_interval(ok).is_ok(), "{ok}: {:?}", check_interval(ok));
        }
        for bad in [
            "0 2 * *",
            "0 0 2 * * *",
            "61 * * * *",
            "0 25 * * *",
            "@sometimes",
            "0 0 * * 1#2",
            "0 0 * * mon-",
            "x * * * *",
            "0 0 32 * *",
            "0 0 * 13 *",
            "",
        ] {
            assert!(check_interval(bad).is_err(), "{bad} should fail");
        }
        assert_eq!(check_interval("@weekly"), Ok(Some("0 0 * * 0".to_owned())));
        assert_eq!(
            check_interval("61 * * * *"),
            Err("the minute field `61` is out of range (0-59)".to_owned())
        );
        assert_eq!(
            check_interval("0 9 * * 1-8"),
            Err("the day-of-week field `1-8` is out of range (0-7)".to_owned())
        );
        assert!(check_interval("*/90 * * * *").is_ok());
        assert_eq!(check_interval("@none"), Ok(None));
    }
}
