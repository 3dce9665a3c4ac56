//! Unquoted timestamps against the real Meltano: every timestamp shape ruamel.yaml resolves
//! (and some that stay strings) × every place a value comes from, compared three ways.
//!
//! One project holds a plugin per origin (declared by the project with kind `date_iso8601`,
//! `string` or none; undeclared; from a lock file definition with each kind; inherited;
//! overridden by an environment; a setting's `value:` default with each kind; nested in an
//! object; an object default; a `$VAR` of the project's `env:`), each with one key per shape.
//! For each plugin, in environment `dev`:
//!
//! - `meltano config --unsafe print` against `meltc config --format json`;
//! - `meltano config --unsafe print --format env` against the settings' variables meltc prints;
//! - the config file `meltano invoke` hands the plugin against the one `meltc-run invoke`
//!   hands it (from `meltc build`'s manifest), both captured by the same fake executable.
//!
//! Differences must be listed in [`DEPARTURES`] with their reason (and README
//! "Compatibility"); a listed departure that no longer differs fails the test too.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::differential::base_env;
use crate::support::meltano_batch;

/// Unquoted scalars: timestamps of every shape, and look-alikes that stay strings.
const SHAPES: &[&str] = &[
    "2021-03-04",
    "2021-03-04T05:06:07",
    "2021-03-04T05:06:07Z",
    "2021-03-04t05:06:07",
    "2021-03-04T05:06:07+01:00",
    "2021-03-04T05:06:07-05",
    "2021-03-04T05:06:07-00:00",
    "2021-03-04T05:06:07.5",
    "2021-03-04T05:06:07.123456789",
    "2021-03-04T05:06:07.9999999",
    "2021-12-31T23:59:59.9999995",
    "2021-03-04T05:06:07.0000005+01:99",
    "2021-03-04T05:06:07.",
    "2021-03-04T05:06:07.000",
    "2021-03-04T05:06:07 Z",
    "2021-03-04T5:06:07Z",
    "2021-03-04T05:06:07.5Z",
    "2021-03-04 05:06:07",
    "2021-03-04 05:06:07Z",
    "2021-03-04   05:06:07   Z",
    "2021-03-04 05:06:07 +01:00",
    "2021-03-04 05:06:07.5",
    "2021-03-04 05:06:07.25 -03:30",
    "2021-03-04 05:06:07.5+01:00",
    "2021-3-4 5:06:07",
    // Strings for the YAML reader.
    "2021-3-4",
    "2021-03-04T05:06:07z",
    "2021-03-04T05:06:07+0100",
];

/// Known, deliberate differences: plugins × keys (shape indexes) × what differs, and why.
/// See README "Compatibility".
const DEPARTURES: &[Departure] = &[
    Departure {
        plugins: &["tap-declared-date", "tap-locked-date", "tap-defaults-date"],
        shapes: &[25, 26, 27],
        seen: &["config", "file"],
        why: DATEPARSER,
    },
    Departure {
        plugins: &["tap-nested-defaults"],
        shapes: &[2, 4, 5, 6, 7, 8, 11, 14, 15, 16, 20, 22, 23],
        seen: &["env"],
        why: NESTED_DEFAULT_VARIABLE,
    },
];

/// Plugins × shapes (indexes into [`SHAPES`]) × what is seen (`config`, `env`, `file`) that
/// differ from Meltano, and why.
struct Departure {
    plugins: &'static [&'static str],
    shapes: &'static [usize],
    seen: &'static [&'static str],
    why: &'static str,
}

/// A `date_iso8601` setting whose text is not Meltano's strict ISO form goes through the
/// `dateparser` library in Meltano (`2021-3-4` -> `2021-03-04T00:00:00`, a `z` or `+0100` zone
/// rewritten); meltc keeps the text (as it keeps relative dates). These shapes are strings for
/// the YAML reader: quoted text behaves the same.
const DATEPARSER: &str = "date_iso8601 text that is not strict ISO: Meltano's dateparser";

/// A timestamp nested in an object or array `value:` default: Meltano's config (and the
/// plugin's config file) gets it copied, without fraction and zone, like every config value,
/// but the setting's variable is the JSON of the object as loaded, with them. meltc gives the
/// variable the config's text.
const NESTED_DEFAULT_VARIABLE: &str =
    "a timestamp nested in a default: the variable keeps the zone Meltano's config drops";

fn departures() -> BTreeSet<(&'static str, String, &'static str)> {
    DEPARTURES
        .iter()
        .flat_map(|departure| {
            assert!(!departure.why.is_empty());
            departure.plugins.iter().flat_map(move |plugin| {
                departure.shapes.iter().flat_map(move |shape| {
                    departure
                        .seen
                        .iter()
                        .map(move |seen| (*plugin, format!("k{shape}"), *seen))
                })
            })
        })
        .collect()
}

/// One plugin of the project: its name and its meltano.yml entry (keys `k<i>` per shape).
struct Origin {
    name: &'static str,
    entry: String,
}

fn keys(indent: &str, value: impl Fn(usize, &str) -> String) -> String {
    SHAPES
        .iter()
        .enumerate()
        .map(|(index, shape)| format!("{indent}k{index}: {}\n", value(index, shape)))
        .collect()
}

fn settings(kind: Option<&str>, default: Option<&dyn Fn(&str) -> String>) -> String {
    let mut text = String::from("    settings:\n");
    for (index, shape) in SHAPES.iter().enumerate() {
        let _ = writeln!(text, "    - name: k{index}");
        if let Some(kind) = kind {
            let _ = writeln!(text, "      kind: {kind}");
        }
        if let Some(default) = default {
            let _ = writeln!(text, "      value: {}", default(shape));
        }
    }
    text
}

fn custom(name: &str) -> String {
    format!(
        "  - name: {name}\n    namespace: {}\n    executable: ./fake-plugin\n",
        name.replace('-', "_")
    )
}

fn origins() -> Vec<Origin> {
    let plain = |_: usize, shape: &str| shape.to_owned();
    let mut origins = Vec::new();
    for (suffix, kind) in [
        ("date", Some("date_iso8601")),
        ("string", Some("string")),
        ("none", None),
    ] {
        let declared: &'static str = Box::leak(format!("tap-declared-{suffix}").into_boxed_str());
        origins.push(Origin {
            name: declared,
            entry: format!(
                "{}{}    config:\n{}",
                custom(declared),
                settings(kind, None),
                keys("      ", plain)
            ),
        });
        let locked: &'static str = Box::leak(format!("tap-locked-{suffix}").into_boxed_str());
        origins.push(Origin {
            name: locked,
            entry: format!(
                "  - name: {locked}\n    variant: v\n    executable: ./fake-plugin\n    config:\n{}",
                keys("      ", plain)
            ),
        });
        let defaults: &'static str = Box::leak(format!("tap-defaults-{suffix}").into_boxed_str());
        let value = |shape: &str| shape.to_owned();
        origins.push(Origin {
            name: defaults,
            entry: format!("{}{}", custom(defaults), settings(kind, Some(&value))),
        });
    }
    origins.push(Origin {
        name: "tap-undeclared",
        entry: format!(
            "{}    config:\n{}",
            custom("tap-undeclared"),
            keys("      ", plain)
        ),
    });
    origins.push(Origin {
        name: "tap-inherited",
        entry: "  - name: tap-inherited\n    inherit_from: tap-locked-string\n".to_owned(),
    });
    origins.push(Origin {
        name: "tap-overridden",
        entry: "  - name: tap-overridden\n    inherit_from: tap-locked-none\n    config: {}\n"
            .to_owned(),
    });
    let nested = |_: usize, shape: &str| format!("{{at: {shape}, list: [{shape}]}}");
    origins.push(Origin {
        name: "tap-nested",
        entry: format!(
            "{}{}    config:\n{}",
            custom("tap-nested"),
            settings(Some("object"), None),
            keys("      ", nested)
        ),
    });
    let object_default = |shape: &str| format!("{{at: {shape}}}");
    origins.push(Origin {
        name: "tap-nested-defaults",
        entry: format!(
            "{}{}",
            custom("tap-nested-defaults"),
            settings(Some("object"), Some(&object_default))
        ),
    });
    origins.push(Origin {
        name: "tap-project-env",
        entry: format!(
            "{}    config:\n{}",
            custom("tap-project-env"),
            keys("      ", |index, _| format!("$TS_{index}"))
        ),
    });
    origins
}

/// The project: meltano.yml, the lock files and the fake plugin.
fn write_project(root: &Path, origins: &[Origin]) {
    let mut yaml = String::from("project_id: timestamps\nenv:\n");
    yaml.push_str(
        &SHAPES
            .iter()
            .enumerate()
            .map(|(index, shape)| format!("  TS_{index}: {shape}\n"))
            .collect::<String>(),
    );
    yaml.push_str("environments:\n- name: dev\n  config:\n    plugins:\n      extractors:\n      - name: tap-overridden\n        config:\n");
    yaml.push_str(&keys("          ", |_, shape| shape.to_owned()));
    yaml.push_str("plugins:\n  extractors:\n");
    for origin in origins {
        yaml.push_str(&origin.entry);
    }
    fs_err::write(root.join("meltano.yml"), yaml).unwrap();
    let locks = root.join("plugins/extractors");
    fs_err::create_dir_all(&locks).unwrap();
    for (suffix, kind) in [
        ("date", Some("date_iso8601")),
        ("string", Some("string")),
        ("none", None),
    ] {
        let settings: Vec<Value> = (0..SHAPES.len())
            .map(|index| match kind {
                Some(kind) => serde_json::json!({"name": format!("k{index}"), "kind": kind}),
                None => serde_json::json!({"name": format!("k{index}")}),
            })
            .collect();
        let lock = serde_json::json!({
            "plugin_type": "extractors",
            "name": format!("tap-locked-{suffix}"),
            "namespace": format!("tap_locked_{suffix}"),
            "variant": "v",
            "settings": settings,
        });
        fs_err::write(
            locks.join(format!("tap-locked-{suffix}--v.lock")),
            serde_json::to_string_pretty(&lock).unwrap(),
        )
        .unwrap();
    }
    // Copies the file after `--config` to $OUT/<plugin>.json, as both tools start plugins.
    let script = root.join("fake-plugin");
    fs_err::write(
        &script,
        "#!/bin/sh\nwhile [ $# -gt 0 ]; do\n  if [ \"$1\" = --config ]; then cp \"$2\" \"$OUT/$MELTANO_EXTRACTOR_NAME.json\"; fi\n  shift\ndone\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    fs_err::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// What one tool hands one plugin: its config, its settings' variables, its config file.
#[derive(Default)]
struct Seen {
    config: Value,
    env: Value,
    file: Value,
}

fn meltano_side(
    root: &Path,
    env: &BTreeMap<String, String>,
    origins: &[Origin],
) -> BTreeMap<&'static str, Seen> {
    let out = root.join("out-meltano");
    fs_err::create_dir_all(&out).unwrap();
    let mut env = env.clone();
    env.insert("OUT".to_owned(), out.display().to_string());
    let argv: Vec<Vec<String>> = origins
        .iter()
        .flat_map(|origin| {
            let print: Vec<String> = [
                "--environment=dev",
                "config",
                "--unsafe",
                "print",
                origin.name,
            ]
            .map(str::to_owned)
            .to_vec();
            let mut print_env = print.clone();
            print_env.push("--format=env".to_owned());
            let invoke: Vec<String> = ["--environment=dev", "invoke", origin.name]
                .map(str::to_owned)
                .to_vec();
            [print, print_env, invoke]
        })
        .collect();
    let runs = meltano_batch(root, &env, &argv);
    origins
        .iter()
        .zip(runs.chunks(3))
        .map(|(origin, runs)| {
            for run in runs {
                assert_eq!(
                    run.code, 0,
                    "meltano failed for {}:\n{}",
                    origin.name, run.stderr
                );
            }
            let file = fs_err::read_to_string(out.join(format!("{}.json", origin.name))).unwrap();
            (
                origin.name,
                Seen {
                    config: serde_json::from_str(&runs[0].stdout).unwrap(),
                    env: crate::config_meltano::parse_meltano_env(&runs[1].stdout),
                    file: serde_json::from_str(&file).unwrap(),
                },
            )
        })
        .collect()
}

fn meltc_side(
    root: &Path,
    env: &BTreeMap<String, String>,
    origins: &[Origin],
) -> BTreeMap<&'static str, Seen> {
    let run = |program: &str, args: &[&str], extra: &[(&str, &str)]| {
        let output = Command::new(program)
            .args(args)
            .current_dir(root)
            .env_clear()
            .envs(env)
            .envs(extra.iter().copied())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{program} {args:?}:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let meltc = env!("CARGO_BIN_EXE_meltc");
    run(
        meltc,
        &[
            "build", "--env", "dev", "--emit", "manifest", "--out", "deploy",
        ],
        &[],
    );
    let out = root.join("out-meltc");
    fs_err::create_dir_all(&out).unwrap();
    let out_text = out.display().to_string();
    let manifest = root.join("deploy/dev/manifest.json").display().to_string();
    origins
        .iter()
        .map(|origin| {
            let shown: Value = serde_json::from_str(&run(
                meltc,
                &[
                    "config",
                    origin.name,
                    "--env",
                    "dev",
                    "--format",
                    "json",
                    "--show-secrets",
                ],
                &[],
            ))
            .unwrap();
            run(
                env!("CARGO_BIN_EXE_meltc-run"),
                &["invoke", origin.name],
                &[("OUT", &out_text), ("MELTC_MANIFEST", &manifest)],
            );
            let file = fs_err::read_to_string(out.join(format!("{}.json", origin.name))).unwrap();
            (
                origin.name,
                Seen {
                    config: shown["config"].clone(),
                    env: written_env(&shown),
                    file: serde_json::from_str(&file).unwrap(),
                },
            )
        })
        .collect()
}

/// The settings' own variables of `meltc config --format json` (what `--format env` prints).
fn written_env(shown: &Value) -> Value {
    let written: BTreeSet<&str> = shown["settings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|setting| setting["extra"] == false)
        .flat_map(|setting| setting["env_written"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    Value::Object(
        shown["env"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(name, _)| written.contains(name.as_str()))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect(),
    )
}

/// The value of key `k<index>` in what was seen (the env var ends in `_K<index>`).
fn pick<'v>(seen: &'v Seen, what: &str, key: &str) -> Option<&'v Value> {
    match what {
        "config" => seen.config.get(key),
        "file" => seen.file.get(key),
        _ => {
            let suffix = format!("_{}", key.to_uppercase());
            seen.env
                .as_object()?
                .iter()
                .find(|(name, _)| name.ends_with(&suffix) && !name.starts_with("MELTANO_"))
                .map(|(_, value)| value)
        }
    }
}

#[test]
fn timestamps_reach_the_plugin_as_meltano_hands_them() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("project");
    fs_err::create_dir_all(&root).unwrap();
    let origins = origins();
    write_project(&root, &origins);
    let env = base_env(temp.path());
    let theirs = meltano_side(&root, &env, &origins);
    let ours = meltc_side(&root, &env, &origins);
    let mut differences = BTreeMap::new();
    let mut compared = 0;
    for origin in &origins {
        for (index, shape) in SHAPES.iter().enumerate() {
            let key = format!("k{index}");
            for what in ["config", "env", "file"] {
                let meltano = pick(&theirs[origin.name], what, &key);
                let meltc = pick(&ours[origin.name], what, &key);
                compared += 1;
                if meltano != meltc {
                    differences.insert(
                        (origin.name, key.clone(), what),
                        format!(
                            "{} {key} `{shape}` ({what}): meltano {meltano:?}, meltc {meltc:?}",
                            origin.name
                        ),
                    );
                }
            }
        }
    }
    let listed = departures();
    let unexpected: Vec<&String> = differences
        .iter()
        .filter(|(found, _)| !listed.contains(*found))
        .map(|(_, text)| text)
        .collect();
    let found: BTreeSet<_> = differences.keys().cloned().collect();
    let stale: Vec<_> = listed.difference(&found).collect();
    println!(
        "timestamps: {} shapes x {} origins, {compared} values compared, {} listed departures",
        SHAPES.len(),
        origins.len(),
        listed.len()
    );
    assert!(
        unexpected.is_empty() && stale.is_empty(),
        "differences with Meltano (fix them, or list them in DEPARTURES with a reason):\n{}\nlisted departures that no longer differ: {stale:?}",
        unexpected
            .iter()
            .map(|text| text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Shapes Meltano refuses: (what, meltano.yml, the line of the value in it, the Meltano command
/// that fails, its error, the meltc code reported at that line).
const REFUSED: &[(&str, &str, usize, &str, &str, &str)] = &[
    (
        "impossible day",
        "plugins:\n  extractors:\n  - name: tap-x\n    namespace: tap_x\n    executable: ./fake-plugin\n    config:\n      start_date: 2024-02-30\n",
        7,
        "config",
        "day is out of range for month",
        "meltc::yaml::impossible-date",
    ),
    (
        "hour 24, in annotations",
        "annotations:\n  audit: {at: 2024-01-31T24:00:00}\nplugins:\n  extractors:\n  - name: tap-x\n    namespace: tap_x\n    executable: ./fake-plugin\n",
        2,
        "config",
        "hour must be in 0..23",
        "meltc::yaml::impossible-date",
    ),
    (
        "a zone of 24 hours",
        "plugins:\n  extractors:\n  - name: tap-x\n    namespace: tap_x\n    executable: ./fake-plugin\n    config:\n      end: 2024-01-31T00:00:00+24:00\n",
        7,
        "config",
        "offset must be a timedelta strictly between",
        "meltc::yaml::impossible-date",
    ),
    (
        "a date in a plugin's env",
        "plugins:\n  extractors:\n  - name: tap-x\n    namespace: tap_x\n    executable: ./fake-plugin\n    env:\n      SINCE: 2024-01-01\n",
        7,
        "invoke",
        "TypeError: expected str, bytes or os.PathLike object, not date",
        "meltc::env::not-text",
    ),
    (
        "a number in an environment's env",
        "environments:\n- name: dev\n  env:\n    PORT: 5432\nplugins:\n  extractors:\n  - name: tap-x\n    namespace: tap_x\n    executable: ./fake-plugin\n",
        4,
        "invoke",
        "TypeError: expected str, bytes or os.PathLike object, not int",
        "meltc::env::not-text",
    ),
    (
        "a boolean in an environment's plugin env",
        "environments:\n- name: dev\n  config:\n    plugins:\n      extractors:\n      - name: tap-x\n        env:\n          DEBUG: true\nplugins:\n  extractors:\n  - name: tap-x\n    namespace: tap_x\n    executable: ./fake-plugin\n",
        8,
        "invoke",
        "TypeError: expected str, bytes or os.PathLike object, not bool",
        "meltc::env::not-text",
    ),
];

#[test]
fn shapes_meltano_refuses_are_located_errors() {
    let mut failures = String::new();
    for (what, yaml, line, command, meltano_error, code) in REFUSED {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("project");
        fs_err::create_dir_all(&root).unwrap();
        write_project(&root, &[]);
        fs_err::write(
            root.join("meltano.yml"),
            format!("project_id: refused\n{yaml}"),
        )
        .unwrap();
        let mut env = base_env(temp.path());
        env.insert("OUT".to_owned(), temp.path().display().to_string());
        let mut argv: Vec<String> = Vec::new();
        if yaml.contains("environments:") {
            argv.push("--environment=dev".to_owned());
        }
        argv.extend(match *command {
            "invoke" => ["invoke", "tap-x"].map(str::to_owned).to_vec(),
            _ => ["config", "--unsafe", "print", "tap-x"]
                .map(str::to_owned)
                .to_vec(),
        });
        let meltano = meltano_batch(&root, &env, &[argv]).remove(0);
        if meltano.code == 0 || !meltano.stderr.contains(meltano_error) {
            let _ = writeln!(
                failures,
                "{what}: Meltano exit {} without `{meltano_error}`:\n{}",
                meltano.code, meltano.stderr
            );
        }
        let meltc = crate::support::meltc(&root, &["validate"]);
        // `project_id:` comes first in the file.
        let located = meltc.stderr.contains(&format!("meltano.yml:{}:", line + 1));
        if meltc.code != 1 || !meltc.stderr.contains(code) || !located {
            let _ = writeln!(
                failures,
                "{what}: meltc validate exit {} without `{code}` at line {}:\n{}",
                meltc.code,
                line + 1,
                meltc.stderr
            );
        }
    }
    assert!(failures.is_empty(), "{failures}");
}
