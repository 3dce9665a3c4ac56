//! Added, changed and removed, one list per kind of thing a deploy changes. Manifests are
//! compared as typed values; each list is sorted by name.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{Change, ChangeKind, Side};
use crate::manifest::{Manifest, Schedule};

/// Two maps of descriptions compared by key.
#[must_use]
pub fn maps(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<Change> {
    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    names
        .into_iter()
        .filter_map(|name| {
            let (old, new) = (before.get(name), after.get(name));
            let change = match (old, new) {
                (None, Some(_)) => ChangeKind::Added,
                (Some(_), None) => ChangeKind::Removed,
                (Some(old), Some(new)) if old != new => ChangeKind::Changed,
                _ => return None,
            };
            Some(Change {
                name: name.clone(),
                change,
                before: old.cloned(),
                after: new.cloned(),
            })
        })
        .collect()
}

/// Two sets of names compared (keys whose values are not shown).
#[must_use]
pub fn keys(before: &BTreeSet<String>, after: &BTreeSet<String>) -> Vec<Change> {
    let only = |set: &BTreeSet<String>, other: &BTreeSet<String>, change| {
        set.difference(other)
            .map(|name| Change {
                name: name.clone(),
                change,
                before: None,
                after: None,
            })
            .collect::<Vec<_>>()
    };
    let mut changes = only(after, before, ChangeKind::Added);
    changes.extend(only(before, after, ChangeKind::Removed));
    changes.sort();
    changes
}

/// Jobs by name, described by their blocks (the steps and state IDs follow from them; state
/// IDs are compared in [`super::state`]).
#[must_use]
pub fn jobs(before: &Manifest, after: &Manifest) -> Vec<Change> {
    let describe = |manifest: &Manifest| -> BTreeMap<String, String> {
        manifest
            .jobs
            .iter()
            .map(|job| (job.name.clone(), job.blocks.join(" ")))
            .collect()
    };
    maps(&describe(before), &describe(after))
}

/// Schedules by name: the job, when it runs, and the names of its `env:` entries.
#[must_use]
pub fn schedules(before: &Manifest, after: &Manifest) -> Vec<Change> {
    let describe = |manifest: &Manifest| -> BTreeMap<String, String> {
        manifest
            .schedules
            .iter()
            .map(|schedule| (schedule.name.clone(), schedule_text(schedule)))
            .collect()
    };
    maps(&describe(before), &describe(after))
}

fn schedule_text(schedule: &Schedule) -> String {
    let when = match &schedule.cron {
        Some(cron) if *cron == schedule.interval => cron.clone(),
        Some(cron) => format!("{} ({cron})", schedule.interval),
        None => schedule.interval.clone(),
    };
    let mut text = format!("job {} at {when}", schedule.job);
    if !schedule.env.is_empty() {
        let names: Vec<&str> = schedule.env.keys().map(String::as_str).collect();
        text.push_str(&format!(", env {}", names.join(" ")));
    }
    text
}

/// Plugins by `<type>.<name>`: what is installed (variant, `pip_url`, Python).
#[must_use]
pub fn plugins(before: &Manifest, after: &Manifest) -> Vec<Change> {
    let describe = |manifest: &Manifest| -> BTreeMap<String, String> {
        manifest
            .plugins
            .iter()
            .map(|plugin| {
                let mut text = format!("variant {}", plugin.variant);
                if let Some(pip_url) = &plugin.pip_url {
                    text.push_str(&format!(", pip_url {pip_url}"));
                }
                if let Some(python) = &plugin.python {
                    text.push_str(&format!(", python {python}"));
                }
                (format!("{}.{}", plugin.plugin_type, plugin.name), text)
            })
            .collect()
    };
    maps(&describe(before), &describe(after))
}

/// Setting and extra values as written, by `<type>.<plugin>.<setting>`, for the plugins on
/// both sides (a plugin added or removed is listed in [`plugins`]).
#[must_use]
pub fn settings(before: &Manifest, after: &Manifest) -> Vec<Change> {
    let plugins_after: BTreeSet<(&str, &str)> = after
        .plugins
        .iter()
        .map(|plugin| (plugin.plugin_type.as_str(), plugin.name.as_str()))
        .collect();
    // Compared by the raw value, shown masked: two different literals of a sensitive setting
    // are a change even though both show the same mask.
    let describe = |manifest: &Manifest| -> (BTreeMap<String, String>, BTreeMap<String, String>) {
        let (mut raw, mut shown) = (BTreeMap::new(), BTreeMap::new());
        for plugin in &manifest.plugins {
            let in_both = plugins_after
                .contains(&(plugin.plugin_type.as_str(), plugin.name.as_str()))
                && before
                    .plugin_of_type(&plugin.plugin_type, &plugin.name)
                    .is_some();
            if !in_both {
                continue;
            }
            for setting in plugin.settings.iter().chain(&plugin.extras) {
                if let Some(value) = &setting.value {
                    let key = format!("{}.{}.{}", plugin.plugin_type, plugin.name, setting.name);
                    raw.insert(key.clone(), value.to_string());
                    shown.insert(key, shown_value(value, setting.sensitive));
                }
            }
        }
        (raw, shown)
    };
    let (raw_before, shown_before) = describe(before);
    let (raw_after, shown_after) = describe(after);
    let mut changes = maps(&raw_before, &raw_after);
    for change in &mut changes {
        change.before = shown_before.get(&change.name).cloned();
        change.after = shown_after.get(&change.name).cloned();
        if change.before == change.after {
            change.before = Some(HIDDEN_CHANGED.to_owned());
            change.after = Some(HIDDEN_CHANGED.to_owned());
        }
    }
    changes
}

/// What a sensitive literal shows as.
const HIDDEN: &str = "(sensitive, hidden)";
/// What a sensitive literal that changed shows as.
const HIDDEN_CHANGED: &str = "(sensitive, hidden: changed)";

/// A value as written; a sensitive one only when it is a single `${VAR}` reference.
fn shown_value(value: &Value, sensitive: bool) -> String {
    match value {
        Value::String(text) if !sensitive || is_one_reference(text) => text.clone(),
        _ if sensitive => HIDDEN.to_owned(),
        other => other.to_string(),
    }
}

fn is_one_reference(text: &str) -> bool {
    text.strip_prefix("${")
        .and_then(|rest| rest.strip_suffix('}'))
        .is_some_and(|name| {
            !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// Every generated file that differs, by path; `manifest.json` when the typed manifests
/// differ.
#[must_use]
pub fn files(before: &Side, after: &Side) -> Vec<Change> {
    let paths: BTreeSet<&String> = before.files.keys().chain(after.files.keys()).collect();
    let mut changes: Vec<Change> = paths
        .into_iter()
        .filter_map(|path| {
            let change = match (before.files.get(path), after.files.get(path)) {
                (None, Some(_)) => ChangeKind::Added,
                (Some(_), None) => ChangeKind::Removed,
                (Some(old), Some(new)) if old != new => ChangeKind::Changed,
                _ => return None,
            };
            Some(Change {
                name: path.clone(),
                change,
                before: None,
                after: None,
            })
        })
        .collect();
    if before.manifest != after.manifest {
        changes.push(Change {
            name: crate::manifest::FILE_NAME.to_owned(),
            change: ChangeKind::Changed,
            before: None,
            after: None,
        });
        changes.sort();
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_values_show_only_as_references() {
        assert_eq!(
            shown_value(&Value::from("${PG_PASSWORD}"), true),
            "${PG_PASSWORD}"
        );
        assert_eq!(shown_value(&Value::from("hunter2"), true), HIDDEN);
        assert_eq!(shown_value(&Value::from("x${A}y"), true), HIDDEN);
        assert_eq!(shown_value(&Value::from(5), true), HIDDEN);
        assert_eq!(shown_value(&Value::from("hunter2"), false), "hunter2");
        assert_eq!(shown_value(&Value::from(5), false), "5");
    }

    #[test]
    fn maps_and_keys_list_added_changed_removed() {
        let a = BTreeMap::from([
            ("x".to_owned(), "1".to_owned()),
            ("y".to_owned(), "2".to_owned()),
        ]);
        let b = BTreeMap::from([
            ("y".to_owned(), "3".to_owned()),
            ("z".to_owned(), "4".to_owned()),
        ]);
        let kinds: Vec<(String, ChangeKind)> = maps(&a, &b)
            .into_iter()
            .map(|c| (c.name, c.change))
            .collect();
        assert_eq!(
            kinds,
            [
                ("x".to_owned(), ChangeKind::Removed),
                ("y".to_owned(), ChangeKind::Changed),
                ("z".to_owned(), ChangeKind::Added)
            ]
        );
        let set = |names: &[&str]| {
            names
                .iter()
                .map(|n| (*n).to_owned())
                .collect::<BTreeSet<_>>()
        };
        let kinds: Vec<(String, ChangeKind)> = keys(&set(&["A", "B"]), &set(&["B", "C"]))
            .into_iter()
            .map(|c| (c.name, c.change))
            .collect();
        assert_eq!(
            kinds,
            [
                ("A".to_owned(), ChangeKind::Removed),
                ("C".to_owned(), ChangeKind::Added)
            ]
        );
    }
}
