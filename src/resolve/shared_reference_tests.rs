//! Tests against the shared reference data next to the repository (`../shared`): the bundled
//! Hub index is current, every bundled definition reads, real lock files round-trip, and locks
//! written from the Hub match the ones Meltano wrote where the Hub data has not changed since.
//!
//! These tests fail, never skip, when `../shared` is missing: CI checks it out next to the repo.
//! `MELTC_BLESS=1` rewrites `data/hub/` from the snapshot.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Definition;
use super::hub::{HubIndex, import};
use super::lockfile;
use crate::meltano::PluginType;

fn shared_dir() -> PathBuf {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    assert!(
        shared.join("reference/hub/_data").is_dir() && shared.join("corpus").is_dir(),
        "{} is missing: these tests need the shared reference data (the Hub snapshot and the corpus) checked out \
         next to the repository",
        shared.display()
    );
    shared
}

#[test]
fn bundled_hub_index_is_current() {
    let hub = shared_dir().join("reference/hub");
    let imported = import::import_hub(&hub).unwrap();
    assert_eq!(
        imported,
        import::import_hub(&hub).unwrap(),
        "importing twice gave different bytes"
    );
    let data_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/hub");
    if std::env::var_os("MELTC_BLESS").is_some_and(|value| value == "1") {
        import::write_index(&hub, &data_dir).unwrap();
        return;
    }
    for (name, expected) in &imported.files {
        let committed = fs_err::read(data_dir.join(name)).unwrap_or_default();
        assert!(
            committed == *expected,
            "data/hub/{name} is out of date with {}: run `MELTC_BLESS=1 cargo test bundled_hub_index_is_current` \
             (or `meltc dev import-hub`) and commit the result",
            hub.display()
        );
    }
}

#[test]
fn every_bundled_definition_reads_and_locks() {
    let index = HubIndex::bundled();
    let mut count = 0;
    for plugin_type in PluginType::ALL {
        for name in index.names(plugin_type) {
            let plugin = index.plugin(plugin_type, name).unwrap();
            for variant in plugin.variants() {
                let definition = plugin.definition(Some(variant)).unwrap().unwrap();
                assert_eq!(
                    (definition.name.as_str(), definition.variant.as_deref()),
                    (name, Some(variant))
                );
                let lock = lockfile::render(&definition);
                let reread = lockfile::parse(Path::new("x.lock"), plugin_type, &lock).unwrap();
                assert_eq!(
                    reread.settings.len(),
                    definition.settings.len(),
                    "{plugin_type} {name} {variant}"
                );
                count += 1;
            }
        }
    }
    assert!(
        count > 1000,
        "only {count} definitions in the bundled index"
    );
}

/// Every `plugins/<type>/*.lock` of the corpus and of Meltano's examples, with its type.
fn lock_files() -> Vec<(PathBuf, PluginType)> {
    let shared = shared_dir();
    let mut files = Vec::new();
    for root in [
        shared.join("corpus"),
        shared.join("reference/meltano/examples"),
    ] {
        for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
            let path = entry.unwrap().into_path();
            let type_dir = path
                .parent()
                .filter(|_| path.extension().is_some_and(|ext| ext == "lock"));
            let in_plugins = type_dir
                .and_then(Path::parent)
                .and_then(Path::file_name)
                .is_some_and(|dir| dir == "plugins");
            let plugin_type = type_dir
                .and_then(Path::file_name)
                .and_then(|dir| PluginType::parse(dir.to_str()?));
            if let (true, Some(plugin_type)) = (in_plugins, plugin_type) {
                files.push((path, plugin_type));
            }
        }
    }
    files
}

#[test]
fn lock_files_round_trip() {
    let files = lock_files();
    let (mut without_newline, mut canonical) = (0, 0);
    for (path, plugin_type) in &files {
        let mut original = fs_err::read_to_string(path).unwrap();
        // Meltano before 3.6 wrote no trailing newline.
        if !original.ends_with('\n') {
            without_newline += 1;
            original.push('\n');
        }
        let definition = lockfile::read(path, *plugin_type).unwrap();
        let rewritten = lockfile::to_text(definition.raw());
        assert!(
            rewritten == original,
            "{} does not round-trip:\n{}",
            path.display(),
            first_difference(&original, &rewritten)
        );
        if lockfile::render(&definition) == original {
            canonical += 1;
        }
    }
    println!(
        "{} lock files round-trip ({without_newline} without the trailing newline); {canonical} are also unchanged by \
         Meltano's lock writer",
        files.len()
    );
    assert!(files.len() > 150, "only {} lock files found", files.len());
}

#[test]
fn locks_written_from_the_hub_match_meltanos_where_the_data_agrees() {
    let index = HubIndex::bundled();
    let mut outcomes: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (path, plugin_type) in lock_files() {
        let example = lockfile::read(&path, plugin_type).unwrap();
        let label = path
            .strip_prefix(shared_dir())
            .unwrap_or(&path)
            .display()
            .to_string();
        let Some(hub) = hub_definition(index, &example) else {
            outcomes
                .entry("not in the hub snapshot")
                .or_default()
                .push(label);
            continue;
        };
        let written = lockfile::render(&hub);
        let mut original = fs_err::read_to_string(&path).unwrap();
        if !original.ends_with('\n') {
            original.push('\n');
        }
        let (original_value, written_value) = (json(&original), json(&written));
        let outcome = if written == original {
            "identical"
        } else if sorted(&original_value) == sorted(&written_value) {
            "same data, other key order"
        } else if same_order(&original_value, &written_value) {
            "hub data changed"
        } else {
            "hub data changed, other key order"
        };
        let detail = if written == original {
            label
        } else {
            format!("{label}: {}", describe(&original_value, &written_value))
        };
        outcomes.entry(outcome).or_default().push(detail);
    }
    for (outcome, details) in &outcomes {
        println!("{outcome}: {}", details.len());
        for detail in details {
            println!("  {detail}");
        }
    }
    // Same data must give the same bytes; anything else is the writer's fault.
    assert!(
        !outcomes.contains_key("same data, other key order"),
        "the lock writer's key order differs from Meltano's"
    );
    assert!(
        outcomes
            .get("identical")
            .is_some_and(|labels| labels.len() >= 10)
    );
}

fn hub_definition(index: &HubIndex<'_>, example: &Definition) -> Option<Definition> {
    let plugin = index.plugin(example.plugin_type, &example.name)?;
    let variant = plugin.variant(Some(example.variant.as_deref()?))?;
    Some(variant.definition().unwrap())
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// The value with every object's keys sorted, to compare data regardless of order.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<_, _> = map
                .iter()
                .map(|(key, value)| (key.clone(), sorted(value)))
                .collect();
            Value::Object(sorted.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Whether the keys both objects have come in the same relative order (top level and per
/// setting).
fn same_order(original: &Value, written: &Value) -> bool {
    let common = |a: &Value, b: &Value| -> Vec<String> {
        let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
            return Vec::new();
        };
        a.keys()
            .filter(|key| b.contains_key(*key))
            .cloned()
            .collect()
    };
    let mut pairs = [(original, written)]
        .into_iter()
        .chain(settings_by_name(original, written));
    pairs.all(|(a, b)| common(a, b) == common(b, a))
}

fn settings_by_name<'v>(original: &'v Value, written: &'v Value) -> Vec<(&'v Value, &'v Value)> {
    let settings = |value: &'v Value| {
        value["settings"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
    };
    settings(original)
        .iter()
        .filter_map(|a| {
            Some((
                a,
                settings(written).iter().find(|b| b["name"] == a["name"])?,
            ))
        })
        .collect()
}

/// Which top-level keys differ, and how the settings changed.
fn describe(original: &Value, written: &Value) -> String {
    let (Some(a), Some(b)) = (original.as_object(), written.as_object()) else {
        return String::new();
    };
    let mut keys: Vec<&str> = a.keys().chain(b.keys()).map(String::as_str).collect();
    keys.sort_unstable();
    keys.dedup();
    let changed: Vec<&str> = keys
        .into_iter()
        .filter(|key| a.get(*key) != b.get(*key))
        .collect();
    let names = |value: &Value| -> Vec<String> {
        value["settings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["name"].as_str().map(str::to_owned))
            .collect()
    };
    let (before, after) = (names(original), names(written));
    let added = after.iter().filter(|name| !before.contains(name)).count();
    let removed = before.iter().filter(|name| !after.contains(name)).count();
    let edited = settings_by_name(original, written)
        .iter()
        .filter(|(a, b)| a != b)
        .count();
    format!(
        "{} (settings +{added} -{removed} ~{edited})",
        changed.join(", ")
    )
}

fn first_difference(expected: &str, actual: &str) -> String {
    let line = expected
        .lines()
        .zip(actual.lines())
        .position(|(a, b)| a != b)
        .unwrap_or(0);
    let context = |text: &str| {
        text.lines()
            .skip(line.saturating_sub(2))
            .take(5)
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "line {}\n--- expected\n{}\n--- actual\n{}",
        line + 1,
        context(expected),
        context(actual)
    )
}
