//! The shape of what runs, in one environment: the jobs, the schedules and the plugins of
//! `meltano compile`'s manifest against `meltc build`'s.
//!
//! Meltano's manifest holds each plugin as written (its meltano.yml entry, the environment's
//! entry and its lock file deep-merged), so a value a plugin inherits is read from its
//! `inherit_from` parent there, as the run time reads it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use meltc::manifest::{Manifest, Plugin};
use serde_json::{Map, Value};

use super::{Departure, Finding, Tally, leaves};

/// Compare the jobs, the schedules and every plugin.
pub fn compare(root: &Path, label: &str, theirs: &Value, ours: &Manifest, tally: &mut Tally) {
    tally.unit(&format!("{label} jobs"), jobs(theirs, ours));
    tally.unit(&format!("{label} schedules"), schedules(theirs, ours));
    plugins(root, label, theirs, ours, tally);
}

/// Each job's blocks: Meltano's `tasks` split as its run time splits them
/// (`core/task_sets.py` `_flat_split`: on single spaces, lists flattened).
fn jobs(theirs: &Value, ours: &Manifest) -> Vec<Finding> {
    fn split(tasks: &Value, out: &mut Vec<String>) {
        match tasks {
            Value::String(text) => out.extend(text.split(' ').map(str::to_owned)),
            Value::Array(items) => items.iter().for_each(|item| split(item, out)),
            _ => {}
        }
    }
    let their_jobs: BTreeMap<String, Vec<String>> = array(&theirs["jobs"])
        .iter()
        .map(|job| {
            let mut blocks = Vec::new();
            split(&job["tasks"], &mut blocks);
            (text(&job["name"]), blocks)
        })
        .collect();
    let our_jobs: BTreeMap<String, Vec<String>> = ours
        .jobs
        .iter()
        .filter(|job| !job.legacy_schedule)
        .map(|job| (job.name.clone(), job.blocks.clone()))
        .collect();
    differing("jobs", &their_jobs, &our_jobs)
}

/// What a schedule runs.
#[derive(Debug, PartialEq, Eq)]
enum Runs {
    Job(String),
    ExtractLoad(String, String),
}

/// Each schedule: what it runs, its interval as written, its `env`.
fn schedules(theirs: &Value, ours: &Manifest) -> Vec<Finding> {
    type Shape = (Runs, String, BTreeMap<String, String>);
    let their_schedules: BTreeMap<String, Shape> = array(&theirs["schedules"])
        .iter()
        .map(|schedule| {
            let runs = match schedule.get("job") {
                Some(job) => Runs::Job(text(job)),
                None => Runs::ExtractLoad(text(&schedule["extractor"]), text(&schedule["loader"])),
            };
            let env = schedule["env"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(key, value)| (key.clone(), text(value)))
                .collect();
            (
                text(&schedule["name"]),
                (runs, text(&schedule["interval"]), env),
            )
        })
        .collect();
    let our_schedules: BTreeMap<String, Shape> = ours
        .schedules
        .iter()
        .map(|schedule| {
            let job = ours.jobs.iter().find(|job| job.name == schedule.job);
            let runs = match job {
                Some(job) if job.legacy_schedule => Runs::ExtractLoad(
                    job.blocks.first().cloned().unwrap_or_default(),
                    job.blocks.get(1).cloned().unwrap_or_default(),
                ),
                _ => Runs::Job(schedule.job.clone()),
            };
            // A literal secret is kept out of meltc's manifest (a key of the Secret instead).
            let env = schedule
                .env
                .iter()
                .map(|(key, value)| {
                    let text = value.written().unwrap_or("(kept in the Secret)");
                    (key.clone(), text.to_owned())
                })
                .collect();
            (
                schedule.name.clone(),
                (runs, schedule.interval.clone(), env),
            )
        })
        .collect();
    differing("schedules", &their_schedules, &our_schedules)
}

/// One finding naming the entries that differ, if any do.
fn differing<V: PartialEq + std::fmt::Debug>(
    what: &str,
    theirs: &BTreeMap<String, V>,
    ours: &BTreeMap<String, V>,
) -> Vec<Finding> {
    let names: BTreeSet<&String> = theirs.keys().chain(ours.keys()).collect();
    let differ: Vec<&&String> = names
        .iter()
        .filter(|name| theirs.get(**name) != ours.get(**name))
        .collect();
    if differ.is_empty() {
        return Vec::new();
    }
    let pick = |side: &BTreeMap<String, V>| -> String {
        let entries: Vec<(&String, Option<&V>)> = differ
            .iter()
            .map(|name| (**name, side.get(**name)))
            .collect();
        format!("{entries:?}")
    };
    vec![Finding::new(what, Raw(pick(theirs)), Raw(pick(ours)))]
}

/// Text shown as it is in a finding.
struct Raw(String);

impl std::fmt::Debug for Raw {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// The lock file data `meltano compile` merged into an entry.
type LockOf<'a> = dyn Fn(&Map<String, Value>) -> Map<String, Value> + 'a;

type TheirPlugins<'v> = BTreeMap<(String, String), &'v Map<String, Value>>;

fn plugins(root: &Path, label: &str, theirs: &Value, ours: &Manifest, tally: &mut Tally) {
    let mut their_plugins: TheirPlugins<'_> = BTreeMap::new();
    for (plugin_type, list) in theirs["plugins"].as_object().into_iter().flatten() {
        for plugin in array(list) {
            if let Some(entry) = plugin.as_object() {
                their_plugins.insert((plugin_type.clone(), text(&plugin["name"])), entry);
            }
        }
    }
    let our_plugins: BTreeMap<(String, String), &Plugin> = ours
        .plugins
        .iter()
        .map(|plugin| {
            (
                (plugin.plugin_type.as_str().to_owned(), plugin.name.clone()),
                plugin,
            )
        })
        .collect();
    for (key, entry) in &their_plugins {
        let subject = format!("{label} {}/{}", key.0, key.1);
        match our_plugins.get(key) {
            Some(our) => tally.unit(&subject, facts(root, &their_plugins, key, entry, our)),
            None => {
                let keys: Vec<&String> = entry.keys().collect();
                let departure = if key.0 == "files" {
                    Some(Departure::FilesBundleNotRun)
                } else {
                    is_phantom(key, entry, ours).then_some(Departure::PhantomPlugin)
                };
                tally.unit(
                    &subject,
                    vec![
                        Finding::new("only in meltano compile's manifest", keys, "")
                            .because(departure),
                    ],
                );
            }
        }
    }
    for key in our_plugins.keys() {
        if !their_plugins.contains_key(key) {
            tally.unit(
                &format!("{label} {}/{}", key.0, key.1),
                vec![Finding::new("only in meltc's manifest", "", key)],
            );
        }
    }
}

/// An environment's entry for a plugin that does not exist (only `name`, `config`, `env`), or
/// the Hub parent a plugin of the project inherits from.
fn is_phantom(key: &(String, String), entry: &Map<String, Value>, ours: &Manifest) -> bool {
    let bare = entry
        .keys()
        .all(|field| ["name", "config", "env"].contains(&field.as_str()));
    let hub_parent = ours.plugins.iter().any(|plugin| {
        plugin.plugin_type.as_str() == key.0
            && plugin.inherit_from.as_deref() == Some(key.1.as_str())
    });
    bare || hub_parent
}

/// A plugin's entry and its `inherit_from` parents in Meltano's manifest, nearest first.
fn chain<'v>(
    plugins: &TheirPlugins<'v>,
    plugin_type: &str,
    entry: &'v Map<String, Value>,
) -> Vec<&'v Map<String, Value>> {
    let mut chain = vec![entry];
    while let Some(parent) = chain[chain.len() - 1]
        .get("inherit_from")
        .and_then(Value::as_str)
        .and_then(|parent| plugins.get(&(plugin_type.to_owned(), parent.to_owned())))
    {
        if chain.len() > plugins.len() || chain.iter().any(|seen| std::ptr::eq(*seen, *parent)) {
            break;
        }
        chain.push(parent);
    }
    chain
}

/// The first value of `field` along the chain, and the entry it is written in.
fn inherited<'v>(
    chain: &[&'v Map<String, Value>],
    field: &str,
) -> Option<(&'v Value, &'v Map<String, Value>)> {
    chain.iter().find_map(|entry| {
        entry
            .get(field)
            .filter(|value| !value.is_null())
            .map(|value| (value, *entry))
    })
}

/// The lock file `meltano compile` merged into `entry` (`PluginLockService.get_standalone_data`:
/// `<inherit_from or name>--<variant>.lock`), if there is one.
fn lock_of(
    root: &Path,
    plugin_type: &str,
    entry: &Map<String, Value>,
    our: &Plugin,
) -> Option<Map<String, Value>> {
    let name = entry
        .get("inherit_from")
        .or_else(|| entry.get("name"))
        .and_then(Value::as_str)?;
    let variants = [
        entry.get("variant").and_then(Value::as_str),
        Some("default"),
        Some(our.variant.as_str()),
    ];
    variants.into_iter().flatten().find_map(|variant| {
        let path = root.join(format!("plugins/{plugin_type}/{name}--{variant}.lock"));
        let text = fs_err::read_to_string(path).ok()?;
        serde_json::from_str::<Value>(&text)
            .ok()?
            .as_object()
            .cloned()
    })
}

/// What runs for one plugin, and with what.
fn facts(
    root: &Path,
    plugins: &TheirPlugins<'_>,
    key: &(String, String),
    entry: &Map<String, Value>,
    our: &Plugin,
) -> Vec<Finding> {
    let chain = chain(plugins, &key.0, entry);
    let lock = |owner: &Map<String, Value>| lock_of(root, &key.0, owner, our).unwrap_or_default();
    let mut findings = Vec::new();
    // Definition scalars: an inheriting plugin's namespace is its own (Meltano derives it from
    // its name), the others come from the nearest entry that sets them.
    let scalars: [(&str, Option<&str>, bool); 4] = [
        ("namespace", Some(our.namespace.as_str()), false),
        ("pip_url", our.pip_url.as_deref(), true),
        ("executable", Some(our.executable.as_str()), true),
        ("variant", Some(our.variant.as_str()), true),
    ];
    for (field, ours, inherits) in scalars {
        let found = if inherits {
            inherited(&chain, field)
        } else {
            entry.get(field).map(|value| (value, entry))
        };
        let Some((theirs, owner)) = found else {
            continue;
        };
        if theirs.as_str() != ours {
            let from_lock = lock(owner).get(field) == Some(theirs);
            findings.push(
                Finding::new(field, theirs, ours)
                    .because(from_lock.then_some(Departure::LockMerged)),
            );
        }
    }
    if let Some((theirs, owner)) = inherited(&chain, "capabilities") {
        let their_set = strings(theirs);
        let our_set: BTreeSet<String> = our.capabilities.iter().cloned().collect();
        if their_set != our_set {
            let with_lock: BTreeSet<String> = our_set
                .iter()
                .cloned()
                .chain(strings(
                    lock(owner).get("capabilities").unwrap_or(&Value::Null),
                ))
                .collect();
            findings.push(
                Finding::new("capabilities", &their_set, &our_set)
                    .because((their_set == with_lock).then_some(Departure::LockMerged)),
            );
        }
    }
    findings.extend(commands(&chain, our, &lock(entry)));
    findings.extend(config(entry, our));
    findings.extend(extras(&chain, our, &lock));
    findings.extend(mappings(entry, our));
    findings
}

/// A command as the run time reads it: its arguments and its own executable.
fn command(value: &Value) -> (String, Option<String>) {
    match value {
        Value::String(args) => (args.clone(), None),
        other => (
            text(&other["args"]),
            other
                .get("executable")
                .and_then(Value::as_str)
                .map(str::to_owned),
        ),
    }
}

/// Commands, parents' first; a command only Meltano's manifest has, or has otherwise, is the
/// lock file's when the lock explains it.
fn commands(
    chain: &[&Map<String, Value>],
    our: &Plugin,
    lock: &Map<String, Value>,
) -> Vec<Finding> {
    let mut theirs: BTreeMap<String, (String, Option<String>)> = BTreeMap::new();
    for entry in chain.iter().rev() {
        for (name, value) in entry
            .get("commands")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            theirs.insert(name.clone(), command(value));
        }
    }
    let ours: BTreeMap<String, (String, Option<String>)> = our
        .commands
        .iter()
        .map(|(name, command)| {
            (
                name.clone(),
                (command.args.clone(), command.executable.clone()),
            )
        })
        .collect();
    let lock_commands: BTreeMap<String, (String, Option<String>)> = lock
        .get("commands")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, value)| (name.clone(), command(value)))
        .collect();
    let mut findings = Vec::new();
    let names: BTreeSet<&String> = theirs.keys().chain(ours.keys()).collect();
    for name in names {
        let (their, our) = (theirs.get(name), ours.get(name));
        if their != our {
            let from_lock = their.is_some() && their == lock_commands.get(name);
            findings.push(
                Finding::new(format!("command `{name}`"), their, our)
                    .because(from_lock.then_some(Departure::LockMerged)),
            );
        }
    }
    findings
}

/// The `config` written in the project (the entry's and the environment's), leaf by leaf; a
/// `null` leaf sets nothing. meltc names a value by its setting, Meltano's manifest as written
/// (a setting's alias).
fn config(entry: &Map<String, Value>, our_plugin: &Plugin) -> Vec<Finding> {
    let our = our_plugin;
    let mut theirs = BTreeMap::new();
    // A setting written as `null` is unset; a `null` inside a value is data (`stream_maps`).
    let written: Map<String, Value> = entry
        .get("config")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(_, value)| !value.is_null())
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    leaves("", &Value::Object(written), &mut theirs);
    let mut ours = BTreeMap::new();
    for setting in &our.settings {
        if matches!(
            setting.source.as_deref(),
            Some("meltano.yml" | "environment")
        ) {
            if let Some(value) = &setting.value {
                leaves(&setting.name, value, &mut ours);
            }
        }
    }
    let canonical = |path: &String| -> String {
        our.settings
            .iter()
            .find(|setting| setting.aliases.contains(path))
            .map_or_else(|| path.clone(), |setting| setting.name.clone())
    };
    // A key written under a setting's alias is that setting, and also a setting of its own
    // name in Meltano's run time (`meltano config print` lists both, with the same value), as it
    // is in meltc's manifest.
    let theirs: BTreeMap<String, Value> = theirs
        .into_iter()
        .flat_map(|(path, value)| {
            let name = canonical(&path);
            let also_own = name != path && our.settings.iter().any(|setting| setting.name == path);
            let own = also_own.then(|| (path.clone(), value.clone()));
            std::iter::once((name, value)).chain(own)
        })
        .collect();
    let mut findings = Vec::new();
    let paths: BTreeSet<&String> = theirs.keys().chain(ours.keys()).collect();
    for path in paths {
        let (their, our) = (theirs.get(path), ours.get(path));
        if their != our {
            let appended = matches!(
                (their, our),
                (Some(Value::Array(their)), Some(Value::Array(our)))
                    if their.len() > our.len() && their.ends_with(our)
            );
            let in_secret = our.is_none()
                && our_plugin
                    .settings
                    .iter()
                    .any(|setting| &setting.name == path && setting.secret_literal.is_some());
            let departure = if appended {
                Some(Departure::EnvironmentListAppended)
            } else if in_secret {
                Some(Departure::SecretLiteralInSecret)
            } else {
                None
            };
            findings.push(Finding::new(format!("config `{path}`"), their, our).because(departure));
        }
    }
    findings
}

/// The extras that choose what runs (`select`, `metadata`, `schema`, `select_filter`), where
/// Meltano's manifest has them: the lock file's list appended to the project's, or the
/// environment's appended to the base, are departures.
fn extras(chain: &[&Map<String, Value>], our: &Plugin, lock: &LockOf<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for extra in ["select", "metadata", "schema", "select_filter"] {
        let Some((theirs, owner)) = inherited(chain, extra) else {
            continue;
        };
        let ours = our
            .extras
            .iter()
            .find(|setting| setting.name == format!("_{extra}"))
            .and_then(|setting| setting.value.clone())
            .unwrap_or(Value::Null);
        let (mut their_leaves, mut our_leaves) = (BTreeMap::new(), BTreeMap::new());
        leaves("", theirs, &mut their_leaves);
        leaves("", &ours, &mut our_leaves);
        if their_leaves == our_leaves {
            continue;
        }
        let departure = match (theirs, &ours) {
            (Value::Array(their), Value::Array(our)) if their.len() > our.len() => {
                let lock_list = lock(owner).get(extra).cloned().unwrap_or(Value::Null);
                if their.starts_with(our)
                    && Some(&their[our.len()..]) == lock_list.as_array().map(Vec::as_slice)
                {
                    Some(Departure::LockMerged)
                } else if their.ends_with(our) {
                    Some(Departure::EnvironmentListAppended)
                } else {
                    None
                }
            }
            _ => None,
        };
        findings.push(Finding::new(format!("extra `{extra}`"), theirs, &ours).because(departure));
    }
    findings
}

/// A mapper's mappings: name and config.
fn mappings(entry: &Map<String, Value>, our: &Plugin) -> Vec<Finding> {
    let Some(their_mappings) = entry.get("mappings") else {
        return Vec::new();
    };
    let theirs: BTreeMap<String, Value> = array(their_mappings)
        .iter()
        .map(|mapping| {
            let config = mapping.get("config").filter(|config| !config.is_null());
            (
                text(&mapping["name"]),
                config.cloned().unwrap_or_else(|| Value::Object(Map::new())),
            )
        })
        .collect();
    let ours: BTreeMap<String, Value> = our
        .mappings
        .iter()
        .map(|mapping| (mapping.name.clone(), Value::Object(mapping.config.clone())))
        .collect();
    differing("mappings", &theirs, &ours)
}

fn array(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}

fn strings(value: &Value) -> BTreeSet<String> {
    array(value).iter().map(text).collect()
}

/// A scalar as text (a string without quotes).
fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
