//! Meltano's own lint against `meltc validate`: every finding of the real `meltano compile
//! --lint` (4.4.1) on every corpus project and every `golden/*-lint-*` case must be reported by
//! `meltc validate` too, at the same place, or be a listed departure.
//!
//! Meltano lints twice (`Manifest._validate_against_manifest_schema`,
//! `core/manifest/manifest.py`): the project files (meltano.yml and its included files,
//! merged) and the compiled manifest, which adds what the plugins' lock files (or the Hub)
//! define. A finding in the project files is located by its path in the merged document; it is
//! covered when a meltc diagnostic starts inside that node or at its key. A finding in the
//! compiled manifest is traced back to the plugin it is about (by name, in the manifest Meltano
//! wrote): when the offending key or value is not in the project's own entry, it comes from
//! the plugin's definition (a lock file, which `meltano lock` writes from the Hub, so nobody
//! edits it, or a custom definition Meltano appends again); those are counted, not reported
//! ([`LOCK_CONTENT`]). Anything else in the compiled manifest is checked like a
//! project finding. A finding that only echoes another ([`Finding::is_cascade`]) is counted.
//!
//! Meltano runs offline (every Hub address points at a closed port) with `--no-environment`:
//! an environment only merges values into the plugins, which adds no schema finding, and a
//! project whose plugins need the Hub stops after the project files are linted. Two projects
//! run at a time, one `meltano` process each (Meltano caches its project per process).
//!
//! [`DEPARTURES`] lists what meltc deliberately accepts without a word, each with its reason
//! (schemas/README.md, "Departures"); a listed departure that no longer occurs fails the test,
//! so the list stays true.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use meltc::diagnostics::{Diagnostic, Span};
use meltc::yaml::Node;
use serde_json::Value;

use crate::support::{copy_tree, repo, shared, tool};

/// Findings meltc deliberately leaves unreported: (input, Meltano's path, why).
const DEPARTURES: &[(&str, &str, &str)] = &[
    ("golden/206-lint-accepted-shapes", "$", SETTINGS),
    (
        "golden/206-lint-accepted-shapes",
        "$.plugins.extractors.1",
        PRESENTATION,
    ),
    (
        "golden/206-lint-accepted-shapes",
        "$.plugins.extractors.0.settings.0.options.0",
        OPTION_LABEL,
    ),
    (
        "golden/206-lint-accepted-shapes",
        "$.plugins.extractors.0.settings.0.options.1",
        OPTION_LABEL,
    ),
    (
        "golden/206-lint-accepted-shapes",
        "$.plugins.extractors.0.settings.1",
        ENV_ALIASES,
    ),
    (
        "golden/206-lint-accepted-shapes",
        "$.plugins.extractors.0.settings.3.oauth",
        OAUTH_PROVIDER,
    ),
    (
        "golden/206-lint-accepted-shapes",
        "$.plugins.loaders.0",
        LOADER_EXTRAS,
    ),
    (
        "golden/206-lint-accepted-shapes",
        "$.plugins.loaders.0.capabilities.2",
        SDK_CAPABILITY,
    ),
    (
        "golden/206-lint-accepted-shapes",
        "$.plugins.loaders.0.capabilities.3",
        SDK_CAPABILITY,
    ),
    (
        "golden/206-lint-accepted-shapes",
        "$.plugins.loaders.0.capabilities.4",
        SDK_CAPABILITY,
    ),
    (
        "golden/206-lint-accepted-shapes",
        "$.plugins.mappers.0",
        SDK_CAPABILITY,
    ),
    (
        "golden/206-lint-accepted-shapes",
        "$.plugins.mappers.0.capabilities.2",
        SDK_CAPABILITY,
    ),
    (
        "golden/206-lint-accepted-shapes",
        "$.plugins.mappers.0.capabilities.3",
        SDK_CAPABILITY,
    ),
    (
        "golden/206-lint-accepted-shapes",
        "$.schedules.0.interval",
        INTERVAL,
    ),
    (
        "golden/206-lint-accepted-shapes",
        "$.schedules.1.interval",
        INTERVAL,
    ),
    (
        "golden/206-lint-accepted-shapes",
        "$.environments.0",
        STATE_ID_SUFFIX,
    ),
    (
        "golden/206-lint-accepted-shapes",
        "$.environments.0.config.plugins.loaders.0",
        LOADER_EXTRAS,
    ),
    (
        "golden/204-lint-plugin-log-parser",
        "$.plugins.loaders.0",
        LOADER_EXTRAS,
    ),
];

/// `disable_tracking` is a real project setting (`core/bundle/settings.yml`) that Meltano's
/// schema does not list at the top level.
const SETTINGS: &str = "a real project setting Meltano's schema lacks";
/// `description` and `hidden` are attributes Meltano reads (`ProjectPlugin`'s fallbacks and
/// presentation attributes); its schema lacks them.
const PRESENTATION: &str = "plugin attributes Meltano reads, missing from its schema";
/// Meltano reads only an option's `value` (`SettingDefinition` casts with `opt["value"]`);
/// `label` is for the UI, and the Hub's own lock files leave it out (corpus 49, 51).
const OPTION_LABEL: &str = "an option without a UI label";
/// `env_aliases` is a `SettingDefinition` parameter Meltano reads (`SettingDefinition.__init__`,
/// `core/setting_definition.py`).
const ENV_ALIASES: &str = "a setting parameter Meltano reads, missing from its schema";
/// Nothing at run time reads `oauth.provider`.
const OAUTH_PROVIDER: &str = "an oauth setting without the provider nothing reads";
/// `target_schema` and `log_parser` are extras Meltano passes on for every Singer plugin
/// (`SingerPlugin.EXTRA_SETTINGS`); the Hub's definitions set `target_schema` (corpus 02, 31,
/// 45, 46); Meltano's schema allows them on extractors only.
const LOADER_EXTRAS: &str = "loader extras Meltano reads, its schema allows on extractors only";
/// The Singer SDK's capabilities Meltano's schema does not list yet
/// (`singer_sdk/helpers/capabilities.py`); Meltano never reads them.
const SDK_CAPABILITY: &str = "a Singer SDK capability newer than Meltano's schema";
/// A cron croniter runs (`mon-fri`, `@manual`) that the schema's regex rejects; meltc checks
/// cron itself (`meltc::schedule::invalid-cron`).
const INTERVAL: &str = "a valid interval the schema's regex rejects";
/// `state_id_suffix` is an `Environment` parameter (`Environment.__init__` in
/// `core/environment.py`, read by `generate_state_id` in `core/block/extract_load.py`).
const STATE_ID_SUFFIX: &str = "a real environment parameter Meltano's schema lacks";

/// Why findings about definition content are counted, not reported.
const LOCK_CONTENT: &str = "definitions merged into the compiled manifest: lock files, which `meltano lock` writes from the Hub with keys Meltano's schema lags behind (`protected`, `supported_python_versions`, options without labels...), and a custom plugin's own definition, which Meltano's compile appends a second time";

/// A finding of Meltano's lint.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Finding {
    /// In the compiled manifest (else in the project files).
    compiled: bool,
    /// `$.plugins.extractors.0`.
    path: String,
    message: String,
}

impl Finding {
    fn segments(&self) -> Vec<&str> {
        self.path
            .trim_start_matches('$')
            .split('.')
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// Whether the finding only echoes another: jsonschema reports every key of an object as
    /// unevaluated when one of its parts fails (`name` among them, which every entry has and
    /// the schema always defines); the part's own finding is checked.
    fn is_cascade(&self) -> bool {
        self.unexpected_keys().iter().any(|key| key == "name")
    }

    /// The keys an `Additional`/`Unevaluated properties` message names.
    fn unexpected_keys(&self) -> Vec<String> {
        if !self.message.contains("properties are not allowed") {
            return Vec::new();
        }
        let Some(list) = self
            .message
            .split_once('(')
            .and_then(|(_, rest)| rest.rsplit_once(" w"))
            .map(|(list, _)| list)
        else {
            return Vec::new();
        };
        list.split(", ")
            .map(|key| key.trim_matches('\'').to_owned())
            .collect()
    }
}

/// What one input contributes.
#[derive(Default)]
struct Outcome {
    findings: usize,
    covered: usize,
    cascades: usize,
    lock_content: usize,
    departures: BTreeSet<String>,
    missed: Vec<String>,
}

#[test]
fn shared_corpus_findings_include_every_finding_of_meltanos_lint() {
    let inputs = inputs();
    let queue = Mutex::new(inputs.clone());
    let results = Mutex::new(BTreeMap::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let Some((name, dir)) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let outcome = compare(&name, &dir);
                    results.lock().unwrap().insert(name, outcome);
                }
            });
        }
    });
    let results = results.into_inner().unwrap();
    let mut missed = Vec::new();
    let mut found_departures = BTreeSet::new();
    let (mut findings, mut covered, mut cascades, mut lock_content) = (0, 0, 0, 0);
    for (name, outcome) in &results {
        findings += outcome.findings;
        covered += outcome.covered;
        cascades += outcome.cascades;
        lock_content += outcome.lock_content;
        missed.extend(outcome.missed.iter().map(|m| format!("{name}: {m}")));
        found_departures.extend(outcome.departures.iter().map(|p| (name.clone(), p.clone())));
    }
    println!(
        "meltano compile --lint vs meltc validate: {} inputs, {findings} findings: {covered} reported by meltc, {} departures, {cascades} echoes of another finding, {lock_content} about definition content ({LOCK_CONTENT})",
        inputs.len(),
        found_departures.len()
    );
    let listed: BTreeSet<(String, String)> = DEPARTURES
        .iter()
        .filter(|(input, ..)| results.contains_key(*input))
        .map(|(input, path, _)| ((*input).to_owned(), (*path).to_owned()))
        .collect();
    let stale: Vec<_> = listed.difference(&found_departures).collect();
    assert!(
        missed.is_empty() && stale.is_empty(),
        "findings of Meltano's lint that meltc validate does not report (report them, or list them in DEPARTURES with a reason):\n{}\nlisted departures Meltano no longer reports: {stale:?}",
        missed.join("\n")
    );
    let everything = std::env::var_os("MELTC_LINT_INPUTS").is_none();
    assert!(
        !everything || (lock_content > 0 && findings >= 60),
        "only {findings} findings ({lock_content} about definitions): did Meltano run?"
    );
}

/// Every corpus project and every lint golden case, by name.
fn inputs() -> Vec<(String, PathBuf)> {
    let mut inputs: Vec<(String, PathBuf)> = fs_err::read_dir(shared().join("corpus"))
        .expect("corpus")
        .flatten()
        .filter(|entry| entry.path().join("meltano.yml").is_file())
        .map(|entry| {
            (
                entry.file_name().to_string_lossy().into_owned(),
                entry.path(),
            )
        })
        .collect();
    for entry in fs_err::read_dir(repo().join("golden"))
        .expect("golden")
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.contains("-lint-") {
            inputs.push((format!("golden/{name}"), entry.path().join("project")));
        }
    }
    // `MELTC_LINT_INPUTS=206` runs only the inputs whose name contains it (for a quick look).
    if let Ok(only) = std::env::var("MELTC_LINT_INPUTS") {
        inputs.retain(|(name, _)| name.contains(&only));
    }
    inputs.sort();
    inputs
}

fn compare(name: &str, dir: &Path) -> Outcome {
    let temp = tempfile::tempdir().expect("temp dir");
    let root = temp.path().join("project");
    copy_tree(dir, &root);
    let (findings, manifest) = run_meltano(temp.path(), &root);
    let loaded = meltc::project::load(&root, "");
    let project = loaded.project.expect("the inputs load");
    let mut diagnostics = loaded.diagnostics;
    diagnostics.extend(meltc::validate::validate(
        &project,
        &meltc::validate::Options::default(),
    ));
    let project_paths: BTreeSet<&str> = findings
        .iter()
        .filter(|f| !f.compiled)
        .map(|f| f.path.as_str())
        .collect();
    let departures: BTreeSet<&str> = DEPARTURES
        .iter()
        .filter(|(input, ..)| *input == name)
        .map(|(_, path, _)| *path)
        .collect();
    let mut outcome = Outcome {
        findings: findings.len(),
        ..Outcome::default()
    };
    for finding in &findings {
        if finding.is_cascade() {
            outcome.cascades += 1;
            continue;
        }
        let place = if finding.compiled {
            if project_paths.contains(finding.path.as_str()) {
                outcome.covered += 1; // the same finding in the project files, checked there
                continue;
            }
            match from_project(finding, manifest.as_ref(), &project.merged) {
                Some(place) => place,
                None => {
                    outcome.lock_content += 1;
                    continue;
                }
            }
        } else {
            place(&project.merged, finding, &finding.segments())
                .unwrap_or_else(|| panic!("{name}: cannot place {finding:?}"))
        };
        if reported(&diagnostics, &place) {
            outcome.covered += 1;
        } else if departures.contains(finding.path.as_str()) {
            outcome.departures.insert(finding.path.clone());
        } else {
            outcome
                .missed
                .push(format!("{} {}", finding.path, finding.message));
        }
    }
    outcome
}

/// The real `meltano compile --lint`: its findings, and the manifest it compiled (none when
/// it stopped before, needing the Hub).
fn run_meltano(temp: &Path, root: &Path) -> (Vec<Finding>, Option<Value>) {
    let out = temp.join("out");
    let home = temp.join("home");
    fs_err::create_dir_all(&home).expect("home");
    let output = Command::new(tool("meltano"))
        .args([
            "--no-environment",
            "--log-level=warning",
            "--log-format=json",
        ])
        .args(["compile", "--lint", "--directory"])
        .arg(&out)
        .current_dir(root)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &home)
        .env("LANG", "C.UTF-8")
        .env("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false")
        .env("MELTANO_HUB_URL", "http://127.0.0.1:9")
        .env("MELTANO_HUB_API_ROOT", "http://127.0.0.1:9/meltano/api/v1")
        .output()
        .expect("meltano runs");
    let mut findings = BTreeSet::new();
    for line in String::from_utf8_lossy(&output.stderr).lines() {
        let Ok(event) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let text = event["event"].as_str().unwrap_or_default();
        if !text.starts_with("Failed to validate") {
            continue;
        }
        let compiled = text.contains("newly compiled manifest");
        for detail in text.lines().filter_map(|l| l.trim().split_once("::$")) {
            let (path, message) = detail.1.split_once(": ").unwrap_or((detail.1, ""));
            findings.insert(Finding {
                compiled,
                path: format!("${path}"),
                message: message.to_owned(),
            });
        }
    }
    let manifest = fs_err::read_to_string(out.join("meltano-manifest.json"))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    (findings.into_iter().collect(), manifest)
}

/// Where a finding is in the project: the node's span and, when it is a mapping's value, its
/// key's.
struct Place<'n> {
    spans: Vec<Span>,
    node: &'n Node,
}

fn locate<'n>(root: &'n Node, segments: &[&str]) -> Option<Place<'n>> {
    let mut node = root;
    let mut key = None;
    for segment in segments {
        let (next, next_key) = match node.as_mapping() {
            Some(mapping) => {
                let (k, v) = mapping.get(*segment)?;
                (v, Some(k))
            }
            None => (
                node.as_sequence()?.get(segment.parse::<usize>().ok()?)?,
                None,
            ),
        };
        node = next;
        key = next_key;
    }
    let mut spans = vec![node.span];
    spans.extend(key.map(|k| k.span));
    Some(Place { spans, node })
}

/// The place of a finding: for unexpected keys, those keys and their values (a meltc finding
/// elsewhere in the mapping says nothing about them); else the node.
fn place<'n>(root: &'n Node, finding: &Finding, segments: &[&str]) -> Option<Place<'n>> {
    let whole = locate(root, segments)?;
    let keys = finding.unexpected_keys();
    let spans: Vec<Span> = keys
        .iter()
        .filter_map(|key| whole.node.as_mapping()?.get(key.as_str()))
        .flat_map(|(key, value)| [key.span, value.span])
        .collect();
    if spans.is_empty() {
        Some(whole)
    } else {
        Some(Place {
            spans,
            node: whole.node,
        })
    }
}

/// A compiled-manifest finding about a plugin: where it is in the project's own entry, or
/// `None` when the project's entry does not have what the finding is about (lock content).
fn from_project<'n>(
    finding: &Finding,
    manifest: Option<&Value>,
    merged: &'n Node,
) -> Option<Place<'n>> {
    let segments = finding.segments();
    let ["plugins", plugin_type, index, rest @ ..] = segments.as_slice() else {
        return place(merged, finding, &segments);
    };
    let name = manifest?["plugins"][*plugin_type][index.parse::<usize>().ok()?]["name"].as_str()?;
    let entry = merged
        .get("plugins")?
        .get(plugin_type)?
        .as_sequence()?
        .iter()
        .find(|item| item.get_str("name") == Some(name))?;
    let found = place(entry, finding, rest)?;
    let keys = finding.unexpected_keys();
    let own = keys.is_empty() || keys.iter().any(|key| found.node.get(key).is_some());
    own.then_some(found)
}

/// Whether a diagnostic starts inside one of the place's spans.
fn reported(diagnostics: &[Diagnostic], place: &Place) -> bool {
    diagnostics.iter().any(|diagnostic| {
        diagnostic
            .primary
            .iter()
            .chain(&diagnostic.secondary)
            .any(|label| {
                place.spans.iter().any(|span| {
                    span.file == label.span.file
                        && label.span.start >= span.start
                        && label.span.start <= span.end
                })
            })
    })
}
