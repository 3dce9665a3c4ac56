//! `meltc build` against the manifests Meltano's own repository committed for its example
//! project (`tests/data/meltano-manifest-example/expected-manifests`, copied with its
//! `SOURCE.md`): the same jobs, schedules, plugins and configuration, except where
//! `meltano compile` disagrees with Meltano's run time (README "`meltc build` and
//! `meltano compile`") and meltc follows the run time. Each such difference is recognised by
//! its kind and counted; anything else fails.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::leaves;
use crate::support::{meltc, repo};

#[test]
fn build_agrees_with_meltano_compile_except_where_run_time_differs() {
    let example = repo().join("tests/data/meltano-manifest-example");
    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().to_string_lossy().into_owned();
    // Meltano's example keeps incremental state in its system database.
    let run = meltc(
        &example,
        &[
            "build",
            "--all-envs",
            "--allow-ephemeral-state",
            "--out",
            &out_arg,
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut appended_lists = 0;
    let mut phantom_plugins = 0;
    let mut kept_out = 0;
    let mut compared_values = 0;
    for environment in ["cicd", "jigsaw", "prod", "staging", "userdev"] {
        let theirs: Value = serde_json::from_str(
            &fs_err::read_to_string(example.join(format!(
                "expected-manifests/meltano-manifest.{environment}.json"
            )))
            .unwrap(),
        )
        .unwrap();
        let ours: Value = serde_json::from_str(
            &fs_err::read_to_string(out.path().join(environment).join("manifest.json")).unwrap(),
        )
        .unwrap();

        let their_jobs: BTreeMap<&str, Vec<String>> = theirs["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|job| {
                let tasks = job["tasks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|task| {
                        task.as_str()
                            .unwrap()
                            .split(' ')
                            .map(str::to_owned)
                            .collect::<Vec<_>>()
                    })
                    .collect();
                (job["name"].as_str().unwrap(), tasks)
            })
            .collect();
        let our_jobs: BTreeMap<&str, Vec<String>> = ours["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|job| {
                let blocks = job["blocks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|block| block.as_str().unwrap().to_owned())
                    .collect();
                (job["name"].as_str().unwrap(), blocks)
            })
            .collect();
        assert_eq!(their_jobs, our_jobs, "{environment}: jobs");

        let schedules = |manifest: &Value| -> BTreeSet<(String, String, String)> {
            manifest["schedules"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    (
                        s["name"].as_str().unwrap().to_owned(),
                        s["job"].as_str().unwrap().to_owned(),
                        s["interval"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        };
        assert_eq!(
            schedules(&theirs),
            schedules(&ours),
            "{environment}: schedules"
        );

        let our_plugins: BTreeMap<(String, String), &Value> = ours["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    (
                        p["type"].as_str().unwrap().to_owned(),
                        p["name"].as_str().unwrap().to_owned(),
                    ),
                    p,
                )
            })
            .collect();
        let mut their_plugins = BTreeSet::new();
        for (plugin_type, list) in theirs["plugins"].as_object().unwrap() {
            for plugin in list.as_array().unwrap() {
                let name = plugin["name"].as_str().unwrap().to_owned();
                let key = (plugin_type.clone(), name.clone());
                let Some(our) = our_plugins.get(&key) else {
                    // An environment entry for a plugin that does not exist appears in the
                    // compiled manifest as a bare {name, config} (`Manifest._merge_env_vars`);
                    // the run time ignores it.
                    let keys: BTreeSet<&str> = plugin
                        .as_object()
                        .unwrap()
                        .keys()
                        .map(String::as_str)
                        .collect();
                    assert!(
                        keys.is_subset(&BTreeSet::from(["name", "config", "env"])),
                        "{environment}: {plugin_type}/{name} missing from meltc's manifest"
                    );
                    phantom_plugins += 1;
                    continue;
                };
                their_plugins.insert(key);
                let mut their_config = BTreeMap::new();
                if plugin["config"].is_object() {
                    leaves("", &plugin["config"], &mut their_config);
                }
                let mut our_config = BTreeMap::new();
                // Literal secrets are kept out of the manifest: a key of the Secret instead.
                let mut in_secret = BTreeSet::new();
                for setting in our["settings"].as_array().unwrap() {
                    let source = setting["source"].as_str().unwrap_or_default();
                    if setting.get("secret_literal").is_some() {
                        in_secret.insert(setting["name"].as_str().unwrap().to_owned());
                    } else if source == "meltano.yml" || source == "environment" {
                        leaves(
                            setting["name"].as_str().unwrap(),
                            &setting["value"],
                            &mut our_config,
                        );
                    }
                }
                for (path, value) in &their_config {
                    compared_values += 1;
                    let secret = in_secret
                        .iter()
                        .any(|name| path == name || path.starts_with(&format!("{name}.")));
                    if secret {
                        assert!(!value.is_null(), "{path}: a secret kept out, yet no value");
                        kept_out += 1;
                        continue;
                    }
                    match (our_config.get(path), value) {
                        (Some(ours), theirs) if ours == theirs => {}
                        // Compile appends an environment's list to the base list (`deep_merge`
                        // in `Manifest._merge_env_vars`); at run time the environment's list
                        // replaces it.
                        (Some(Value::Array(ours)), Value::Array(theirs))
                            if theirs.len() > ours.len() && theirs.ends_with(ours) =>
                        {
                            appended_lists += 1;
                        }
                        (ours, _) => panic!(
                            "{environment}: {plugin_type}/{name} `{path}`: meltano compile {value}, meltc {ours:?}"
                        ),
                    }
                }
                for path in our_config.keys() {
                    assert!(
                        their_config.contains_key(path),
                        "{environment}: {plugin_type}/{name} `{path}` only in meltc's manifest"
                    );
                }
            }
        }
        let ours_set: BTreeSet<(String, String)> = our_plugins.keys().cloned().collect();
        assert_eq!(their_plugins, ours_set, "{environment}: plugins");
    }
    assert!(
        compared_values > 150,
        "compared only {compared_values} values"
    );
    // The reviewed differences, by kind (README "Compared with meltano compile"): literal
    // secrets that meltc keeps out of the manifest (a key of the Secret instead) as well.
    assert_eq!((appended_lists, phantom_plugins, kept_out), (1, 4, 15));
}
