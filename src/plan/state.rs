//! What a deploy does to incremental state: the state IDs it starts fresh (their first run is
//! a full sync) or orphans (their bookmarks stay unused), a changed state backend (every ID
//! starts fresh there), and changes that existing bookmarks make ineffective (an earlier
//! `start_date`: a tap resumes from its bookmark and never looks at `start_date` again).
//!
//! State IDs are formed by [`crate::meltano::state_id::for_step`], the function meltc-run
//! uses, with the environment's `state_id_suffix` as written.
//!
//! Whether a bookmark exists is not known from the artifacts. By default every incremental
//! state ID of the deployed build is taken to have one when its state is persistent (it has
//! been deployed, so its schedule has run or will); `--read-state` lists the IDs the backend
//! holds instead, through the backends meltc-run uses ([`Bookmarks`]).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{Change, ChangeKind, Ineffective, StateIdChange, StatePlan};
use crate::manifest::{Manifest, Step};
use crate::meltano::state_id;
use crate::runtime::state::uri::redact;

/// The state IDs a backend holds (`--read-state`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bookmarks {
    /// The backend, credentials redacted.
    pub from: String,
    /// The IDs with stored state.
    pub ids: BTreeSet<String>,
}

/// An incremental state ID of a build and what uses it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Use {
    jobs: BTreeSet<String>,
    extractors: BTreeSet<String>,
    /// `<tap>-to-<target>[:suffix]`: the ID without its environment.
    without_environment: String,
}

/// Every incremental state ID of `manifest`, as meltc-run forms it.
fn state_ids(manifest: &Manifest) -> BTreeMap<String, Use> {
    let environment = manifest.environment.as_ref().map(|environment| {
        (
            environment.name.as_str(),
            environment.state_id_suffix.as_deref(),
        )
    });
    let mut ids: BTreeMap<String, Use> = BTreeMap::new();
    for job in &manifest.jobs {
        for step in &job.steps {
            let Step::ExtractLoad {
                extractor,
                state_id: Some(base),
                incremental: true,
                ..
            } = step
            else {
                continue;
            };
            // An ID meltc-run cannot form fails that run; the plan still shows it.
            let id = state_id::for_step(base, environment, None)
                .map_or_else(|_| base.clone(), |id| id.as_str().to_owned());
            let without_environment = environment
                .and_then(|(name, _)| id.strip_prefix(name))
                .and_then(|rest| rest.strip_prefix(':'))
                .unwrap_or(&id)
                .to_owned();
            let entry = ids.entry(id.clone()).or_default();
            entry.jobs.insert(job.name.clone());
            entry.extractors.insert(extractor.clone());
            entry.without_environment = without_environment;
        }
    }
    ids
}

/// The state part of the plan.
#[must_use]
pub fn plan(deployed: &Manifest, built: &Manifest, bookmarks: Option<&Bookmarks>) -> StatePlan {
    let (before, after) = (state_ids(deployed), state_ids(built));
    let fresh_ids: Vec<&String> = after
        .keys()
        .filter(|id| !before.contains_key(*id))
        .collect();
    let orphaned_ids: Vec<&String> = before
        .keys()
        .filter(|id| !after.contains_key(*id))
        .collect();
    let renames = renames(&fresh_ids, &orphaned_ids, &before, &after);
    let stored = |id: &str| bookmarks.map(|bookmarks| bookmarks.ids.contains(id));
    let change =
        |id: &String, uses: &BTreeMap<String, Use>, renamed: Option<&String>| StateIdChange {
            state_id: id.clone(),
            jobs: uses[id].jobs.iter().cloned().collect(),
            renamed: renamed.cloned(),
            stored: stored(id),
        };
    let fresh = fresh_ids
        .iter()
        .map(|id| {
            let from = renames
                .iter()
                .find(|(_, to)| to.as_str() == id.as_str())
                .map(|(from, _)| *from);
            change(id, &after, from)
        })
        .collect();
    let orphaned = orphaned_ids
        .iter()
        .map(|id| change(id, &before, renames.get(*id).copied()))
        .collect();
    let has_bookmark = |id: &str| match bookmarks {
        Some(bookmarks) => bookmarks.ids.contains(id),
        None => deployed.state.persistent,
    };
    StatePlan {
        bookmarks_from: bookmarks.map_or_else(|| "assumed".to_owned(), |b| b.from.clone()),
        backend: backend_change(deployed, built),
        fresh,
        orphaned,
        ineffective: ineffective(deployed, built, &before, &after, &has_bookmark),
    }
}

/// Whether an orphaned ID's use and a fresh one's look like the same pipeline renamed.
type PairRule = &'static dyn Fn(&Use, &Use) -> bool;

/// Orphaned ID -> the fresh ID that probably replaces it: one used by the same job (a renamed
/// plugin), else the same `<tap>-to-<target>` (a renamed environment). Each pairs once.
fn renames<'a>(
    fresh: &[&'a String],
    orphaned: &[&'a String],
    before: &BTreeMap<String, Use>,
    after: &BTreeMap<String, Use>,
) -> BTreeMap<&'a String, &'a String> {
    let mut pairs: BTreeMap<&String, &String> = BTreeMap::new();
    let rules: [PairRule; 2] = [
        &|old: &Use, new: &Use| old.without_environment == new.without_environment,
        &|old: &Use, new: &Use| !old.jobs.is_disjoint(&new.jobs),
    ];
    for rule in rules {
        for new in fresh {
            if pairs.values().any(|taken| taken == new) {
                continue;
            }
            let found = orphaned
                .iter()
                .filter(|old| !pairs.contains_key(**old))
                .find(|old| rule(&before[old.as_str()], &after[new.as_str()]));
            if let Some(old) = found {
                pairs.insert(old, new);
            }
        }
    }
    pairs
}

/// The state backend URI, when the deploy changes it (credentials redacted).
fn backend_change(deployed: &Manifest, built: &Manifest) -> Option<Change> {
    (deployed.state != built.state).then(|| {
        let describe = |manifest: &Manifest| {
            let persistent = if manifest.state.persistent {
                ""
            } else {
                " (not persistent)"
            };
            format!("{}{persistent}", redact(&manifest.state.uri))
        };
        Change {
            name: "state_backend.uri".to_owned(),
            change: ChangeKind::Changed,
            before: Some(describe(deployed)),
            after: Some(describe(built)),
        }
    })
}

/// An earlier `start_date` (any setting whose name ends in `start_date`) of an extractor whose
/// state ID is kept and has a bookmark.
fn ineffective(
    deployed: &Manifest,
    built: &Manifest,
    before: &BTreeMap<String, Use>,
    after: &BTreeMap<String, Use>,
    has_bookmark: &dyn Fn(&str) -> bool,
) -> Vec<Ineffective> {
    let mut found = Vec::new();
    for plugin in built
        .plugins
        .iter()
        .filter(|p| p.plugin_type == "extractors")
    {
        let Some(old_plugin) = deployed.plugin_of_type("extractors", &plugin.name) else {
            continue;
        };
        for setting in plugin
            .settings
            .iter()
            .filter(|s| s.name.ends_with("start_date"))
        {
            let old = old_plugin
                .settings
                .iter()
                .find(|old| old.name == setting.name)
                .and_then(|old| old.value.as_ref())
                .and_then(Value::as_str);
            let new = setting.value.as_ref().and_then(Value::as_str);
            let (Some(old), Some(new)) = (old, new) else {
                continue;
            };
            if !is_earlier(new, old) {
                continue;
            }
            let state_ids: Vec<String> = after
                .iter()
                .filter(|(id, uses)| {
                    uses.extractors.contains(&plugin.name)
                        && before.contains_key(*id)
                        && has_bookmark(id)
                })
                .map(|(id, _)| id.clone())
                .collect();
            if state_ids.is_empty() {
                continue;
            }
            found.push(Ineffective {
                setting: format!("extractors.{}.{}", plugin.name, setting.name),
                before: old.to_owned(),
                after: new.to_owned(),
                reason: format!(
                    "the tap resumes from the bookmark of each stream and reads `{}` only for streams without one, so the earlier date loads nothing older; to backfill, run once with `--full-refresh`, or clear the streams' bookmarks (`meltc-run state clear ID --stream NAME`)",
                    setting.name
                ),
                state_ids,
            });
        }
    }
    found
}

/// Whether the date-time `new` is earlier than `old`, both ISO 8601 as written (`2024-01-01`,
/// `2024-01-01T00:00:00Z`): by the date, then by the rest when the dates are equal and both
/// are written the same way. `false` when either is not a date (a `${VAR}` reference).
fn is_earlier(new: &str, old: &str) -> bool {
    let split = |text: &str| -> Option<(String, String)> {
        let date = text.get(..10)?;
        let bytes = date.as_bytes();
        let shaped = bytes.iter().enumerate().all(|(index, byte)| match index {
            4 | 7 => *byte == b'-',
            _ => byte.is_ascii_digit(),
        });
        shaped.then(|| (date.to_owned(), text[10..].to_owned()))
    };
    match (split(new), split(old)) {
        (Some((new_date, new_rest)), Some((old_date, old_rest))) => {
            new_date < old_date
                || (new_date == old_date && new_rest.len() == old_rest.len() && new_rest < old_rest)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earlier_dates() {
        assert!(is_earlier("2020-01-01", "2024-01-01"));
        assert!(is_earlier("2020-01-01T00:00:00Z", "2024-01-01"));
        assert!(is_earlier("2024-01-01T00:00:00Z", "2024-01-01T06:00:00Z"));
        assert!(!is_earlier("2024-01-01", "2024-01-01"));
        assert!(!is_earlier("2025-01-01", "2024-01-01"));
        assert!(!is_earlier("${START}", "2024-01-01"));
        assert!(!is_earlier("2020-01-01", "${START}"));
        assert!(!is_earlier("2020", "2024-01-01"));
    }
}
