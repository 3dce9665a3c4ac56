//! The runtime's configuration from a manifest equals what `meltc config` (tested against the
//! real Meltano in config_meltano.rs) computes from meltano.yml with the same variables: the
//! build keeps everything the run time needs, and the two evaluations agree.

use std::collections::BTreeMap;

use meltc::manifest::Manifest;
use meltc::runtime::settings::{Host, prepare};

use crate::support::{meltc_isolated, repo};

#[test]
fn runtime_config_from_the_manifest_equals_meltc_config() {
    let example = repo().join("examples/lakehouse");
    let root = example.to_string_lossy().into_owned();
    // Variables a pod would get, including a setting set directly by its env var, and
    // variables that env: blocks read.
    let shell: Vec<(String, String)> = [
        ("PG_PASSWORD", "pg-secret"),
        ("GITHUB_TOKEN", "gh-token"),
        ("GARAGE_ACCESS_KEY_ID", "gk"),
        ("GARAGE_SECRET_ACCESS_KEY", "gs"),
        ("TAP_GITHUB_START_DATE", "2024-02-02T00:00:00Z"),
        ("TARGET_JSONL_DO_TIMESTAMP_FILE", "false"),
        ("REPOSITORY_DIR", "/srv/dagster"),
    ]
    .iter()
    .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
    .collect();
    let process: BTreeMap<String, String> = shell.iter().cloned().collect();
    let literals = BTreeMap::new();
    let host = Host {
        process: &process,
        literals: &literals,
        project_root: &root,
        user_agent: meltc::resolve::config::USER_AGENT,
    };
    let mut compared = 0;
    for environment in ["dev", "staging", "prod"] {
        let text =
            fs_err::read_to_string(example.join(format!("deploy/{environment}/manifest.json")))
                .unwrap();
        let manifest = Manifest::from_json(&text).unwrap();
        for plugin in &manifest.plugins {
            let run = meltc_isolated(
                &example,
                &[
                    "config",
                    &plugin.name,
                    "--env",
                    environment,
                    "--format",
                    "json",
                    "--show-secrets",
                ],
                &shell,
            );
            assert_eq!(run.code, 0, "{}", run.stderr);
            let expected: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
            let prepared = prepare(&manifest, plugin, &host)
                .unwrap_or_else(|errors| panic!("{}: {errors:?}", plugin.name));
            assert_eq!(
                serde_json::Value::Object(prepared.config.clone()),
                expected["config"],
                "{environment}: {} config",
                plugin.name
            );
            for (name, value) in expected["env"].as_object().unwrap() {
                assert_eq!(
                    prepared.env.get(name).map(String::as_str),
                    value.as_str(),
                    "{environment}: {} env {name}",
                    plugin.name
                );
            }
            compared += 1;
        }
    }
    assert_eq!(compared, 15);
}
