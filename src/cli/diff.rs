//! `meltc diff ENV_A ENV_B`: what differs between two environments, as the resolved values a
//! reviewer reads before promoting one to the other. Both are compiled exactly as `meltc build`
//! compiles them; values stay as written, so a secret shows as its `${VAR}` reference.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use super::args::{BuildFormat, DiffArgs};
use super::build::{Selection, colored_diff, compile_for_review};
use super::{Context, Outcome};
use crate::manifest::{EnvValue, Manifest, SecretLiteral};

/// Run `meltc diff`.
pub fn run(project_root: Option<&Path>, args: &DiffArgs, context: &mut Context<'_>) -> Outcome {
    let selection = Selection::Named(vec![args.from.as_str(), args.to.as_str()]);
    let compiled = match compile_for_review(project_root, &selection, context) {
        Ok(compiled) => compiled,
        Err(outcome) => return outcome,
    };
    let [from, to] = compiled.as_slice() else {
        return Outcome::Failure;
    };
    let (from, to) = (review_lines(&from.manifest), review_lines(&to.manifest));
    let changes: Vec<(&String, Option<&String>, Option<&String>)> = from
        .keys()
        .chain(to.keys().filter(|key| !from.contains_key(*key)))
        .map(|key| (key, from.get(key), to.get(key)))
        .filter(|(_, a, b)| a != b)
        .collect();
    let written = match args.format {
        BuildFormat::Json => {
            let changes: Vec<Value> = changes
                .iter()
                .map(|(key, a, b)| json!({ "key": key, "from": a, "to": b }))
                .collect();
            let document = json!({
                "version": 1,
                "from": args.from,
                "to": args.to,
                "changes": changes,
            });
            writeln!(context.stdout, "{document:#}")
        }
        BuildFormat::Human => {
            let text = |lines: &BTreeMap<String, String>| -> String {
                lines
                    .iter()
                    .map(|(key, value)| format!("{key} = {value}\n"))
                    .collect()
            };
            let (old, new) = (text(&from), text(&to));
            let diff = similar::TextDiff::from_lines(&old, &new)
                .unified_diff()
                .context_radius(2)
                .header(&args.from, &args.to)
                .to_string();
            let summary = if changes.is_empty() {
                format!("`{}` and `{}` are the same", args.from, args.to)
            } else {
                format!(
                    "{} value{} differ between `{}` and `{}`",
                    changes.len(),
                    if changes.len() == 1 { "" } else { "s" },
                    args.from,
                    args.to
                )
            };
            context
                .stdout
                .write_all(colored_diff(&diff, context.style.color).as_bytes())
                .and_then(|()| context.stdout.flush())
                .and_then(|()| writeln!(context.stderr, "{summary}"))
        }
    };
    match (written, changes.is_empty()) {
        (Err(_), _) => Outcome::Failure,
        (Ok(()), true) => Outcome::Clean,
        (Ok(()), false) => Outcome::Findings,
    }
}

/// A manifest as `key = value` lines, one per resolved value a reviewer cares about. The
/// environment's own name (in state IDs) is left out: it always differs.
fn review_lines(manifest: &Manifest) -> BTreeMap<String, String> {
    let mut lines = BTreeMap::new();
    let mut put = |key: String, value: String| {
        lines.insert(key, value);
    };
    put(
        "state.backend".into(),
        format!(
            "{}{}",
            manifest.state.uri,
            if manifest.state.persistent {
                ""
            } else {
                " (lost with the pod)"
            }
        ),
    );
    for (name, value) in &manifest.env {
        put(format!("env.{name}"), env_value(value));
    }
    if let Some(environment) = &manifest.environment {
        for (name, value) in &environment.env {
            put(format!("environment.env.{name}"), env_value(value));
        }
        if let Some(suffix) = &environment.state_id_suffix {
            put("environment.state_id_suffix".into(), suffix.clone());
        }
    }
    for (name, value) in &manifest.settings {
        put(format!("settings.{name}"), compact(value));
    }
    for (key, literal) in &manifest.secret_literals {
        for place in literal
            .written_at
            .iter()
            .filter(|place| place.starts_with("settings."))
        {
            put(
                place.clone(),
                format!("a literal secret, in the Secret key `{key}`"),
            );
        }
    }
    flatten(
        "annotations",
        &Value::Object(manifest.annotations.clone()),
        &mut put,
    );
    for plugin in &manifest.plugins {
        let prefix = format!("{}.{}", plugin.plugin_type, plugin.name);
        put(format!("{prefix}.variant"), plugin.variant.clone());
        if let Some(pip_url) = &plugin.pip_url {
            put(format!("{prefix}.pip_url"), pip_url.clone());
        }
        put(format!("{prefix}.executable"), plugin.executable.clone());
        setting_lines(
            &prefix,
            plugin.settings.iter().chain(&plugin.extras),
            &mut put,
        );
        for mapping in &plugin.mappings {
            // A mapping is a plugin of its own; its copy of the mapper's `mappings` list is
            // the mapper's line already.
            let settings = mapping.settings.iter().chain(&mapping.extras);
            setting_lines(
                &format!("{prefix}.mappings.{}", mapping.name),
                settings.filter(|setting| setting.name != "_mappings"),
                &mut put,
            );
        }
        for block in &plugin.env {
            for (name, value) in &block.vars {
                put(
                    format!("{prefix}.env[{}].{name}", block.from),
                    env_value(value),
                );
            }
        }
    }
    for job in &manifest.jobs {
        put(format!("jobs.{}", job.name), job.blocks.join(" "));
    }
    for schedule in &manifest.schedules {
        put(
            format!("schedules.{}", schedule.name),
            format!(
                "job {} at {} ({})",
                schedule.job,
                schedule.cron.as_deref().unwrap_or("no cron: run by hand"),
                schedule.interval
            ),
        );
        for (name, value) in &schedule.env {
            put(
                format!("schedules.{}.env.{name}", schedule.name),
                env_value(value),
            );
        }
    }
    lines
}

/// One line per setting with a value: `<prefix>.<setting> = value (source[, secret])`.
fn setting_lines<'s>(
    prefix: &str,
    settings: impl Iterator<Item = &'s crate::manifest::Setting>,
    put: &mut impl FnMut(String, String),
) {
    for setting in settings {
        let value = match (&setting.value, &setting.secret_literal) {
            (Some(value), _) => compact(value),
            (None, Some(literal)) => in_secret(literal),
            (None, None) => continue,
        };
        if let Some(source) = &setting.source {
            let secret = if setting.sensitive { ", secret" } else { "" };
            put(
                format!("{prefix}.{}", setting.name),
                format!("{value} ({source}{secret})"),
            );
        }
    }
}

fn flatten(prefix: &str, value: &Value, put: &mut impl FnMut(String, String)) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                flatten(&format!("{prefix}.{key}"), item, put);
            }
        }
        other => put(prefix.to_owned(), compact(other)),
    }
}

/// An `env:` value as a reviewer reads it: as written, or where a literal secret went (never
/// its value).
fn env_value(value: &EnvValue) -> String {
    match value {
        EnvValue::Written(text) => text.clone(),
        EnvValue::Secret { secret_literal } => in_secret(secret_literal),
    }
}

fn in_secret(literal: &SecretLiteral) -> String {
    format!("a literal secret, in the Secret key `{}`", literal.key)
}

fn compact(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
