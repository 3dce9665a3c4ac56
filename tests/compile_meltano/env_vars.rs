//! Each plugin's settings as environment variables, in one environment: the `env` of the
//! plugin in `meltano compile`'s manifest, which Meltano computes with its run-time settings
//! machinery (`PluginSettingsService.as_env`, every setting and extra with its resolved value),
//! against the `env` of `meltc config` run in the same process environment.
//!
//! Meltano's `env` also holds the plugin's `env:` blocks (settings win there:
//! `Manifest._merge_env_vars`, `core/manifest/manifest.py`); those variables are left out
//! unless a setting writes them too. Meltano writes the project root as
//! `${MELTANO_PROJECT_ROOT}`, so meltc's values are compared the same way.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use meltc::manifest::Manifest;
use serde_json::Value;

use super::{Departure, Finding, Tally};
use crate::support::differential;

/// Compare every plugin both manifests have.
pub fn compare(
    root: &Path,
    env: &BTreeMap<String, String>,
    environment: Option<&str>,
    theirs: &Value,
    ours: &Manifest,
    tally: &mut Tally,
) {
    let label = environment.unwrap_or("(no environment)");
    for (plugin_type, list) in theirs["plugins"].as_object().into_iter().flatten() {
        for entry in list.as_array().into_iter().flatten() {
            let name = entry["name"].as_str().unwrap_or_default();
            let Some(our) = ours
                .plugins
                .iter()
                .find(|plugin| plugin.plugin_type.as_str() == plugin_type && plugin.name == name)
            else {
                continue; // a phantom of compile's: the shape comparison counts it
            };
            let subject = format!("{label} {plugin_type}/{name} env");
            let findings =
                match differential::meltc_config(root, env, plugin_type, name, environment) {
                    Ok(document) => {
                        let blocks: BTreeSet<&String> =
                            our.env.iter().flat_map(|block| block.vars.keys()).collect();
                        plugin(root, plugin_type, entry, &document, &blocks)
                    }
                    Err(error) => vec![Finding::new("meltc config fails", "", error)],
                };
            tally.unit(&subject, findings);
        }
    }
}

fn plugin(
    root: &Path,
    plugin_type: &str,
    entry: &Value,
    document: &Value,
    blocks: &BTreeSet<&String>,
) -> Vec<Finding> {
    let roots: Vec<String> = [Some(root.to_path_buf()), root.canonicalize().ok()]
        .into_iter()
        .flatten()
        .map(|path| path.display().to_string())
        .collect();
    let ours: BTreeMap<String, String> = document["env"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(key, value)| {
            let mut value = value.as_str().unwrap_or_default().to_owned();
            for root in &roots {
                value = value.replace(root.as_str(), "${MELTANO_PROJECT_ROOT}");
            }
            (key.clone(), value)
        })
        .collect();
    let theirs: BTreeMap<String, String> = entry["env"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(key, _)| !blocks.contains(key) || ours.contains_key(*key))
        .map(|(key, value)| (key.clone(), value.as_str().unwrap_or_default().to_owned()))
        .collect();
    let carries_mappings =
        plugin_type == "mappers" && theirs.keys().any(|key| key.ends_with("__MAPPING_NAME"));
    let mut by_departure: BTreeMap<Option<Departure>, Vec<&String>> = BTreeMap::new();
    let keys: BTreeSet<&String> = theirs.keys().chain(ours.keys()).collect();
    for key in keys {
        let (their, our) = (theirs.get(key), ours.get(key));
        if their == our {
            continue;
        }
        let departure = if carries_mappings {
            Some(Departure::MapperCarriesMappings)
        } else if their.is_some_and(|value| value.contains("Meltano/"))
            && our.is_some_and(|value| value.contains("meltc/"))
        {
            Some(Departure::UserAgent)
        } else if our.is_none() && defaults_to_project_setting(document, key) {
            Some(Departure::ProjectSettingVariable)
        } else {
            None
        };
        by_departure.entry(departure).or_default().push(key);
    }
    by_departure
        .into_iter()
        .map(|(departure, keys)| {
            let pick = |side: &BTreeMap<String, String>| -> Vec<(String, Option<String>)> {
                keys.iter()
                    .map(|key| ((*key).clone(), side.get(*key).cloned()))
                    .collect()
            };
            Finding::new("variables", pick(&theirs), pick(&ours)).because(departure)
        })
        .collect()
}

/// Whether the setting that writes `key` is unset in meltc only because its default is one of
/// Meltano's project settings (`$MELTANO_DATABASE_URI`), which meltc does not model.
fn defaults_to_project_setting(document: &Value, key: &str) -> bool {
    document["settings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|setting| {
            setting["env_written"]
                .as_array()
                .is_some_and(|written| written.iter().any(|name| name == key))
        })
        .any(|setting| {
            setting["source"]["kind"] == "default"
                && setting["variables"].as_array().is_some_and(|variables| {
                    variables.iter().any(|variable| {
                        variable["set"] == false
                            && variable["name"]
                                .as_str()
                                .is_some_and(|name| name.starts_with("MELTANO_"))
                    })
                })
        })
}
