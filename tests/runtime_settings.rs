//! The runtime's configuration from a manifest equals what `meltc config` (tested against the
//! real Meltano in config_meltano.rs) computes from meltano.yml with the same variables: the
//! build keeps everything the run time needs, and the two evaluations agree.

use std::collections::BTreeMap;

use meltc::manifest::Manifest;
use meltc::runtime::prepare::{Host, prepare};

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
        user_agent: meltc::meltano::env_layers::USER_AGENT,
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

/// The plugin class is computed once at build time and read by the runtime: an `airflow-dev`
/// inheriting from `airflow` is Airflow (its config values nested and stringified, as
/// `Airflow.process_config` hands them over), where re-deriving the class from the name would
/// make it a plain utility with a flat config.
#[test]
fn an_inheriting_orchestrator_keeps_its_parents_class_at_run_time() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path();
    fs_err::write(
        project.join("meltano.yml"),
        "version: 1\n\
         default_environment: dev\n\
         environments:\n- name: dev\n\
         plugins:\n  orchestrators:\n  - name: airflow\n    variant: apache\n\
         \x20 - name: airflow-dev\n    inherit_from: airflow\n    config:\n      core.dags_folder: /dags\n      webserver:\n        web_server_port: 8080\n",
    )
    .unwrap();
    let built = meltc_isolated(project, &["build", "--env", "dev"], &[]);
    assert_eq!(built.code, 0, "{}", built.stderr);
    let text = fs_err::read_to_string(project.join("deploy/dev/manifest.json")).unwrap();
    let manifest = Manifest::from_json(&text).unwrap();
    let plugin = manifest.plugin("airflow-dev").unwrap();
    assert_eq!(plugin.class, meltc::meltano::PluginClass::Airflow);

    let process = BTreeMap::new();
    let literals = BTreeMap::new();
    let root = project.to_string_lossy().into_owned();
    let host = Host {
        process: &process,
        literals: &literals,
        project_root: &root,
        user_agent: meltc::meltano::env_layers::USER_AGENT,
    };
    let prepared = prepare(&manifest, plugin, &host).unwrap();
    let config = serde_json::Value::Object(prepared.config);
    assert_eq!(config["core"]["dags_folder"], "/dags");
    assert_eq!(config["webserver"]["web_server_port"], "8080", "{config}");
    let shown = meltc_isolated(
        project,
        &["config", "airflow-dev", "--env", "dev", "--format", "json"],
        &[],
    );
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    let expected: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(config, expected["config"]);
}
