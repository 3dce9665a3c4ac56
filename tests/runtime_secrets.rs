//! Literal secrets and self-referencing settings, from meltano.yml to the plugin's process,
//! against the real Meltano: `meltano invoke` runs a plugin whose program writes down its
//! variables and its config file; `meltc build` must keep every literal secret out of the
//! artifacts, and `meltc-run invoke`, given the Secret's keys as a pod is, must hand the same
//! program exactly the same variables and config file.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::meltano_batch;

/// Each literal secret of the project: where meltano.yml writes it (the manifest's
/// `written_at`), and the literal.
const LITERALS: &[(&str, &str)] = &[
    ("env.PROJECT_TOKEN", "project-literal-1"),
    (
        "extractors.tap-dump.env.TAP_DUMP_SERVICE_TOKEN",
        "plugin-literal-2",
    ),
    ("extractors.tap-other.env.OTHER_TOKEN", "other-literal-3"),
    ("environment.env.ENV_SECRET", "environment-literal-4"),
    (
        "extractors.tap-dump.env[environment:tap-dump].ENTRY_PASSWORD",
        "entry-literal-5",
    ),
    ("extractors.tap-dump.password", "prod-literal-pw"),
    ("extractors.tap-dump.pin", "4321"),
];

/// The variables compared between the two runs (absent in both counts as equal).
const COMPARED: &[&str] = &[
    "PROJECT_TOKEN",
    "TAP_DUMP_SERVICE_TOKEN",
    "PLAIN",
    "OTHER_TOKEN",
    "ENV_SECRET",
    "ENTRY_PASSWORD",
    "TAP_DUMP_API_KEY",
    "TAP_DUMP_PASSWORD",
    "TAP_DUMP_PIN",
    "TAP_DUMP_USER",
    "MELTANO_EXTRACT_PASSWORD",
    "MELTANO_EXTRACT_API_KEY",
];

const DUMP: &str = r#"#!/usr/bin/env python3
# Write this process's variables and its config file (if any) to $DUMP_TO.
import json, os, sys
args = sys.argv[1:]
config = None
if "--config" in args:
    config = json.load(open(args[args.index("--config") + 1]))
json.dump({"env": dict(os.environ), "config": config}, open(os.environ["DUMP_TO"], "w"))
"#;

fn project(root: &Path) {
    let dump = root.join("bin/dump");
    fs_err::create_dir_all(dump.parent().unwrap()).unwrap();
    fs_err::write(&dump, DUMP).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        fs_err::set_permissions(&dump, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let yml = format!(
        r#"default_environment: prod
env:
  PROJECT_TOKEN: project-literal-1
plugins:
  extractors:
  - name: tap-dump
    namespace: tap_dump
    executable: {dump}
    settings:
    - name: user
    - name: password
      kind: password
    - name: api_key
      sensitive: true
    - name: pin
      kind: integer
      sensitive: true
    config:
      user: loader
      password: base-literal-pw
      api_key: ${{TAP_DUMP_API_KEY}}
      pin: 4321
    env:
      TAP_DUMP_SERVICE_TOKEN: plugin-literal-2
      PLAIN: plain-value
  - name: tap-other
    namespace: tap_other
    executable: {dump}
    env:
      OTHER_TOKEN: other-literal-3
environments:
- name: prod
  env:
    ENV_SECRET: environment-literal-4
  config:
    plugins:
      extractors:
      - name: tap-dump
        config:
          password: prod-literal-pw
        env:
          ENTRY_PASSWORD: entry-literal-5
"#,
        dump = dump.display()
    );
    fs_err::write(root.join("meltano.yml"), yml).unwrap();
}

fn dumped(path: &Path) -> (BTreeMap<String, String>, Value) {
    let dump: Value = serde_json::from_str(&fs_err::read_to_string(path).unwrap()).unwrap();
    let env = dump["env"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| (name.clone(), value.as_str().unwrap().to_owned()))
        .collect();
    (env, dump["config"].clone())
}

#[test]
fn literal_secrets_reach_the_plugin_exactly_as_meltano_hands_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("project");
    fs_err::create_dir_all(&root).unwrap();
    project(&root);
    let path = std::env::var("PATH").unwrap_or_default();

    // The real Meltano, with only the self-referenced variable in its terminal.
    let meltano_dump = dir.path().join("meltano.json");
    let terminal: BTreeMap<String, String> = [
        ("PATH", path.clone()),
        ("HOME", dir.path().display().to_string()),
        ("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false".to_owned()),
        ("DUMP_TO", meltano_dump.display().to_string()),
        ("TAP_DUMP_API_KEY", "terminal-api-key".to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    let ran = meltano_batch(
        &root,
        &terminal,
        &[vec![
            "--environment=prod".to_owned(),
            "invoke".to_owned(),
            "tap-dump".to_owned(),
        ]],
    );
    assert_eq!(ran[0].code, 0, "meltano invoke: {}", ran[0].stderr);
    let (meltano_env, meltano_config) = dumped(&meltano_dump);

    // The build: no literal anywhere in the artifacts, one Secret key per literal.
    let built = crate::support::meltc(&root, &["build", "--env", "prod"]);
    assert_eq!(built.code, 0, "{}", built.stderr);
    for entry in walkdir::WalkDir::new(root.join("deploy"))
        .into_iter()
        .flatten()
    {
        if entry.file_type().is_file() {
            let text = fs_err::read_to_string(entry.path()).unwrap();
            for (place, literal) in LITERALS.iter().filter(|(_, l)| l.contains("literal")) {
                assert!(
                    !text.contains(literal),
                    "{} holds the literal of {place}",
                    entry.path().display()
                );
            }
        }
    }
    let manifest_text = fs_err::read_to_string(root.join("deploy/prod/manifest.json")).unwrap();
    let manifest: Value = serde_json::from_str(&manifest_text).unwrap();
    let example = fs_err::read_to_string(root.join("deploy/prod/k8s/secret.example.yaml")).unwrap();
    let literals: BTreeMap<&str, &str> = LITERALS.iter().copied().collect();
    let mut pod: Vec<(String, String)> = vec![
        ("PATH".to_owned(), path),
        ("TAP_DUMP_API_KEY".to_owned(), "terminal-api-key".to_owned()),
        (
            "MELTC_MANIFEST".to_owned(),
            root.join("deploy/prod/manifest.json").display().to_string(),
        ),
    ];
    let keys = manifest["secret_literals"].as_object().unwrap();
    assert_eq!(keys.len(), LITERALS.len(), "{keys:#?}");
    for (key, described) in keys {
        let place = described["written_at"][0].as_str().unwrap();
        let literal = literals
            .get(place)
            .unwrap_or_else(|| panic!("{key}: unexpected place {place}"));
        assert!(
            example.contains(&format!("  {key}: \"\"")),
            "{key}\n{example}"
        );
        pod.push((key.clone(), (*literal).to_owned()));
    }
    // The self-referencing setting is an input of the pod, as a secret.
    assert_eq!(manifest["variables"]["TAP_DUMP_API_KEY"]["secret"], true);
    assert!(example.contains("  TAP_DUMP_API_KEY: \"\""), "{example}");

    // meltc-run as in the pod: every key of the Secret set, tap-other's included.
    let ours_dump = dir.path().join("meltc-run.json");
    let output = Command::new(env!("CARGO_BIN_EXE_meltc-run"))
        .args(["invoke", "tap-dump"])
        .current_dir(&root)
        .env_clear()
        .envs(pod.iter().map(|(name, value)| (name, value)))
        .env("DUMP_TO", &ours_dump)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "meltc-run invoke: {log}");
    for (place, literal) in LITERALS.iter().filter(|(_, l)| l.contains("literal")) {
        assert!(
            !log.contains(literal),
            "meltc-run logged the literal of {place}"
        );
    }
    // What Meltano handed over, so that equality below means something.
    for (name, value) in [
        ("PROJECT_TOKEN", "project-literal-1"),
        ("TAP_DUMP_SERVICE_TOKEN", "plugin-literal-2"),
        ("ENV_SECRET", "environment-literal-4"),
        ("ENTRY_PASSWORD", "entry-literal-5"),
        ("TAP_DUMP_API_KEY", "terminal-api-key"),
        ("TAP_DUMP_PASSWORD", "prod-literal-pw"),
    ] {
        assert_eq!(
            meltano_env.get(name).map(String::as_str),
            Some(value),
            "{name}"
        );
    }
    assert_eq!(meltano_env.get("OTHER_TOKEN"), None);
    let (ours_env, ours_config) = dumped(&ours_dump);
    assert_eq!(ours_config, meltano_config, "the config file differs");
    assert_eq!(
        meltano_config["password"], "prod-literal-pw",
        "{meltano_config}"
    );
    assert_eq!(meltano_config["pin"], 4321, "{meltano_config}");
    for name in COMPARED {
        assert_eq!(
            ours_env.get(*name),
            meltano_env.get(*name),
            "variable {name} differs from Meltano's"
        );
    }

    // A pod without one of the keys stops before starting the plugin, naming the key.
    let without: Vec<_> = pod
        .iter()
        .filter(|(name, _)| name != "ENV_SECRET")
        .collect();
    let output = Command::new(env!("CARGO_BIN_EXE_meltc-run"))
        .args(["invoke", "tap-dump"])
        .current_dir(&root)
        .env_clear()
        .envs(without.iter().map(|(name, value)| (name, value)))
        .env("DUMP_TO", dir.path().join("never.json"))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{log}");
    assert!(
        log.contains(
            "the secret variable ENV_SECRET (read by `environment.env.ENV_SECRET`) is not set"
        ),
        "{log}"
    );
    assert!(!dir.path().join("never.json").exists());
}
