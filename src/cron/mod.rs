//! The one cron model: a schedule's `interval:` parsed once into an [`Interval`], used by
//! `meltc validate`, by the manifest and by every emitter.
//!
//! What validates is what croniter accepts ([`croniter`]): croniter runs Meltano's schedules in
//! the orchestrators that read them (Dagster vendors croniter 6.0.0; Airflow uses it), and
//! Meltano itself takes any `interval:` when it loads a project (its own check,
//! `schedule.py` `is_valid_cron`, runs only in `meltano schedule add`). Meltano's presets are
//! `@once`, `@manual` and `@none` (never run by a scheduler; exact case, as
//! `schedule.py` `CRON_INTERVALS` spells them) and croniter's aliases (`@hourly`, `@daily`,
//! `@midnight`, `@weekly`, `@monthly`, `@yearly`, `@annually`, any case).
//!
//! Each orchestrator then says whether it can run the expression: [`Cron::kubernetes`]
//! (a CronJob's `schedule`, parsed by robfig/cron's standard parser: five fields, no `L`,
//! `#` or seconds) and [`Cron::dagster`] (`cron_schedule`, checked by Dagster's
//! `is_valid_cron_string`: croniter's five fields). Messages quote the expression as written.

pub mod croniter;
mod robfig;

use std::fmt;

use croniter::{Field, FieldKind};

/// A schedule's `interval:`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Interval {
    /// `@once`, `@manual` or `@none`: run only when started by hand.
    Manual,
    /// A cron expression (a croniter alias expanded).
    Cron(Cron),
}

/// A cron expression croniter accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    expression: String,
    fields: Vec<Field>,
}

/// Why an orchestrator cannot run an expression, and what to write instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported {
    /// What the orchestrator lacks (`` `L` (the last day of the month) ``).
    pub feature: String,
    /// What to do instead, as a help line.
    pub instead: String,
}

/// The orchestrators meltc writes schedules for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Orchestrator {
    /// Kubernetes CronJobs.
    Kubernetes,
    /// Dagster schedules.
    Dagster,
}

impl fmt::Display for Orchestrator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Orchestrator::Kubernetes => "Kubernetes CronJobs",
            Orchestrator::Dagster => "Dagster schedules",
        })
    }
}

/// croniter's aliases (`croniter._expand`), which Meltano's `CRON_INTERVALS` spells the same.
const ALIASES: &[(&str, &str)] = &[
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
    ("@daily", "0 0 * * *"),
    ("@weekly", "0 0 * * 0"),
    ("@monthly", "0 0 1 * *"),
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
];

impl Interval {
    /// Parse an `interval:`.
    ///
    /// # Errors
    /// Why croniter refuses it, quoting the parts as written.
    pub fn parse(text: &str) -> Result<Interval, String> {
        let text = text.trim();
        if matches!(text, "@once" | "@manual" | "@none") {
            return Ok(Interval::Manual);
        }
        let lower = text.to_lowercase();
        if let Some((_, expression)) = ALIASES.iter().find(|(alias, _)| *alias == lower) {
            return Cron::parse(expression).map(Interval::Cron);
        }
        if let Some(preset) = text.strip_prefix('@') {
            return Err(if matches!(lower.as_str(), "@once" | "@manual" | "@none") {
                format!("`@{preset}` is not a preset: Meltano spells it `{lower}`")
            } else {
                format!("`@{preset}` is not a preset")
            });
        }
        Cron::parse(text).map(Interval::Cron)
    }

    /// The cron expression, `None` for the manual presets.
    #[must_use]
    pub fn cron(&self) -> Option<&Cron> {
        match self {
            Interval::Manual => None,
            Interval::Cron(cron) => Some(cron),
        }
    }
}

impl Cron {
    /// Parse a cron expression (not a preset).
    ///
    /// # Errors
    /// Why croniter refuses it.
    pub fn parse(text: &str) -> Result<Cron, String> {
        let fields = croniter::parse(text)?;
        Ok(Cron {
            expression: text.split_whitespace().collect::<Vec<_>>().join(" "),
            fields,
        })
    }

    /// The expression as written (an alias expanded), fields separated by one space.
    #[must_use]
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The fields, as croniter reads them.
    #[must_use]
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// The `schedule` of a Kubernetes CronJob that runs when croniter runs this expression:
    /// fields robfig/cron reads alike are kept as written, others are written as the values
    /// croniter gives them (`fri-mon` -> `5-6,0-1`, weekday `7` -> `0`).
    ///
    /// # Errors
    /// What a CronJob cannot express, and what to write instead.
    pub fn kubernetes(&self) -> Result<String, Unsupported> {
        self.common_limits(Orchestrator::Kubernetes)?;
        if let Some(problem) = self.day_features() {
            return Err(problem);
        }
        Ok(self
            .fields
            .iter()
            .map(robfig::field_text)
            .collect::<Vec<_>>()
            .join(" "))
    }

    /// The `cron_schedule` of a Dagster schedule.
    ///
    /// # Errors
    /// What Dagster refuses (`is_valid_cron_string`), and what to write instead.
    pub fn dagster(&self) -> Result<String, Unsupported> {
        self.common_limits(Orchestrator::Dagster)?;
        let single = |field: &Field| {
            (field.values.len() == 1 && !field.last_day && field.nth.is_empty())
                .then(|| field.values.first().copied())
                .flatten()
        };
        if let (Some(30 | 31), Some(2)) = (single(&self.fields[2]), single(&self.fields[3])) {
            return Err(Unsupported {
                feature: "February 30th or 31st (Dagster refuses a schedule that never comes)"
                    .to_owned(),
                instead: "write a day February has, or `L` for its last day".to_owned(),
            });
        }
        Ok(self.expression.clone())
    }

    /// Seconds, years and croniter's `R`: neither orchestrator runs them.
    fn common_limits(&self, orchestrator: Orchestrator) -> Result<(), Unsupported> {
        let five = || {
            self.fields[..5]
                .iter()
                .map(|field| field.written.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        };
        match self.fields.len() {
            6 => {
                let seconds_last = format!("`{}` (at second 0)", five());
                // Quartz writes seconds first and a day of week last.
                let last = &self.fields[5].written;
                let first_zero = self.fields[0].written == "0"
                    && (matches!(last.as_str(), "*" | "?")
                        || last.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-'));
                let quartz = first_zero.then(|| {
                    let rest: Vec<&str> = self.fields[1..]
                        .iter()
                        .map(|field| field.written.as_str())
                        .collect();
                    format!(
                        ", or `{}` if the first field was meant as seconds (Quartz)",
                        rest.join(" ")
                    )
                });
                return Err(Unsupported {
                    feature: "seconds field (croniter reads a sixth field as seconds; these run at most once a minute)".to_owned(),
                    instead: format!("write the five fields {seconds_last}{}", quartz.unwrap_or_default()),
                });
            }
            7 => {
                return Err(Unsupported {
                    feature: "seconds or year field (croniter reads a sixth field as seconds, a seventh as the year)".to_owned(),
                    instead: format!("write the five fields `{}`, and remove the schedule when its year is over", five()),
                });
            }
            _ => {}
        }
        if let Some(field) = self.fields.iter().find(|field| field.random) {
            return Err(Unsupported {
                feature: format!(
                    "croniter's `R` (the {} field `{}` picks a new random value each time the expression is read)",
                    field.kind.name(),
                    field.written
                ),
                instead: format!("write a fixed {} for {orchestrator}", field.kind.name()),
            });
        }
        Ok(())
    }

    /// `L` and the n-th weekday, which only croniter (Dagster) runs.
    fn day_features(&self) -> Option<Unsupported> {
        let (minute, hour) = (&self.fields[0].written, &self.fields[1].written);
        let dagster = "let Dagster own the schedules (`annotations.meltc.orchestrator: dagster`, or `meltc build --orchestrator dagster`), which runs it as written";
        if self.fields[2].last_day {
            return Some(Unsupported {
                feature: "`L` (the last day of the month)".to_owned(),
                instead: format!(
                    "{dagster}; or run on days 28-31 (`{minute} {hour} 28-31 * *`) with a job that stops unless tomorrow is the 1st"
                ),
            });
        }
        let weekdays = &self.fields[4];
        if let Some(nth) = weekdays.nth.values().next() {
            let feature = if nth.contains(&None) {
                "`L` after a weekday (the last such weekday of the month)"
            } else {
                "`#` (the n-th weekday of the month)"
            };
            return Some(Unsupported {
                feature: feature.to_owned(),
                instead: format!(
                    "{dagster}; or run on the weekday (`{minute} {hour} * * {}`) with a job that stops on the other weeks",
                    robfig::values_text(&weekdays.values)
                ),
            });
        }
        None
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expression)
    }
}

impl FieldKind {
    /// Whether this is one of the two day fields.
    #[must_use]
    pub fn is_day(self) -> bool {
        matches!(self, FieldKind::DayOfMonth | FieldKind::DayOfWeek)
    }
}

/// Whether robfig/cron's `ParseStandard` (a CronJob's `schedule`) reads `schedule` as five
/// fields meltc writes: for tests of [`Cron::kubernetes`].
#[must_use]
pub fn kubernetes_accepts(schedule: &str) -> bool {
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    fields.len() == 5
        && fields
            .iter()
            .zip(&croniter_kinds())
            .all(|(field, kind)| robfig::parse(field, *kind).is_some())
}

fn croniter_kinds() -> [FieldKind; 5] {
    [
        FieldKind::Minute,
        FieldKind::Hour,
        FieldKind::DayOfMonth,
        FieldKind::Month,
        FieldKind::DayOfWeek,
    ]
}
