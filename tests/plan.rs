//! `meltc plan`: the JSON Schema is current and the real `check-jsonschema` accepts every JSON
//! plan; the golden cases' deployed manifests are what their `before/` projects build; the
//! three kinds of `--against` (manifest file, build output folder, git revision) give the same
//! plan; `--read-state` reads which state IDs hold bookmarks from a file backend and from
//! Garage, through the backends meltc-run uses.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::garage::{self, Garage};
use crate::support::{bless, copy_tree, diff, git, meltc, meltc_with, repo, tool};

/// The golden cases whose `before/` project is the deployed side.
const CASES: [&str; 6] = [
    "plan-renamed-plugin",
    "plan-renamed-environment",
    "plan-changed-schedule",
    "plan-new-secret",
    "plan-earlier-start-date",
    "plan-nothing-to-deploy",
];

#[test]
fn plan_schema_file_is_generated_from_the_types() {
    let path = repo().join("schemas/plan.schema.json");
    let generated = meltc::plan::schema_json();
    if bless() {
        fs_err::write(&path, &generated).unwrap();
    }
    let on_disk = fs_err::read_to_string(&path).unwrap();
    assert!(
        on_disk == generated,
        "schemas/plan.schema.json is stale: run `cargo run -- dev plan-schema`\n{}",
        diff(&on_disk, &generated)
    );
}

/// The environment a `before/` project deploys (its last `- name:` line).
fn deployed_environment(before: &Path) -> String {
    let text = fs_err::read_to_string(before.join("meltano.yml")).unwrap();
    text.lines()
        .filter_map(|line| line.strip_prefix("- name: "))
        .next_back()
        .unwrap()
        .to_owned()
}

#[test]
fn golden_deployed_manifests_are_built_from_their_before_projects() {
    for case in CASES {
        let root = repo().join("golden").join(case);
        let before = root.join("before");
        let environment = deployed_environment(&before);
        let out = tempfile::tempdir().unwrap();
        let out_arg = out.path().to_str().unwrap();
        let built = meltc(&before, &["build", "--env", &environment, "--out", out_arg]);
        assert_eq!(built.code, 0, "{case}: {}", built.stderr);
        let generated =
            fs_err::read_to_string(out.path().join(&environment).join("manifest.json")).unwrap();
        let committed = root.join("project/deployed/manifest.json");
        if bless() {
            fs_err::write(&committed, &generated).unwrap();
        }
        let on_disk = fs_err::read_to_string(&committed).unwrap();
        assert!(
            on_disk == generated,
            "{case}: project/deployed/manifest.json is stale (MELTC_BLESS=1 rewrites it)\n{}",
            diff(&on_disk, &generated)
        );
    }
}

/// `meltc plan ... --format json` in `cwd`: exit code and document.
fn plan_json(cwd: &Path, against: &str, env: &[(&str, &str)], extra: &[&str]) -> (i32, Value) {
    let mut args = vec![
        "plan",
        "--env",
        "prod",
        "--against",
        against,
        "--format",
        "json",
    ];
    args.extend(extra);
    let run = meltc_with(cwd, &args, env);
    assert!(
        run.code == 0 || run.code == 1,
        "meltc {args:?} exited {}:\n{}",
        run.code,
        run.stderr
    );
    let document = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|error| panic!("not JSON ({error}):\n{}", run.stdout));
    (run.code, document)
}

#[test]
fn every_json_plan_is_valid_against_the_schema_with_check_jsonschema() {
    let folder = tempfile::tempdir().unwrap();
    let mut instances = Vec::new();
    for case in CASES {
        let project = repo().join("golden").join(case).join("project");
        let (_, document) = plan_json(&project, "deployed/manifest.json", &[], &[]);
        let path = folder.path().join(format!("{case}.json"));
        fs_err::write(&path, document.to_string()).unwrap();
        instances.push(path);
    }
    let output = Command::new(tool("check-jsonschema"))
        .arg("--schemafile")
        .arg(repo().join("schemas/plan.schema.json"))
        .args(&instances)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // And the schema refuses what a plan never is.
    let bad = folder.path().join("bad.json");
    fs_err::write(&bad, r#"{"version": 1, "changes": "yes"}"#).unwrap();
    let refused = Command::new(tool("check-jsonschema"))
        .arg("--schemafile")
        .arg(repo().join("schemas/plan.schema.json"))
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!refused.status.success());
}

/// A git repository holding `case`'s deployed project, built and committed, with the new
/// meltano.yml in the working tree.
fn repository_with_deployed(case: &str) -> tempfile::TempDir {
    let root = repo().join("golden").join(case);
    let folder = tempfile::tempdir().unwrap();
    copy_tree(&root.join("before"), folder.path());
    let built = meltc(folder.path(), &["build", "--env", "prod"]);
    assert_eq!(built.code, 0, "{}", built.stderr);
    for args in [
        &["init", "-q"][..],
        &["add", "-A"],
        &["commit", "-q", "-m", "deployed"],
    ] {
        let output = git(folder.path(), args);
        assert!(output.status.success(), "git {args:?}: {output:?}");
    }
    fs_err::copy(
        root.join("project/meltano.yml"),
        folder.path().join("meltano.yml"),
    )
    .unwrap();
    folder
}

#[test]
fn a_manifest_a_folder_and_a_git_revision_give_the_same_plan() {
    let folder = repository_with_deployed("plan-renamed-plugin");
    let dir = folder.path();
    let (code, from_manifest) = plan_json(dir, "deploy/prod/manifest.json", &[], &[]);
    assert_eq!(code, 1);
    assert_eq!(from_manifest["against"]["kind"], "manifest");
    let fresh = &from_manifest["state"]["fresh"][0];
    assert_eq!(fresh["state_id"], "prod:tap-shop-to-target-postgres");
    assert_eq!(fresh["renamed"], "prod:tap-postgres-to-target-postgres");
    let without_against = |mut document: Value| {
        document.as_object_mut().unwrap().remove("against");
        document
    };
    let expected = without_against(from_manifest);
    for (against, kind) in [
        ("deploy/prod", "folder"),
        ("deploy", "folder"),
        ("HEAD", "git"),
        ("HEAD:deploy/prod", "git"),
        ("HEAD:deploy/prod/manifest.json", "git"),
    ] {
        let (code, document) = plan_json(dir, against, &[], &[]);
        assert_eq!(code, 1, "{against}");
        assert_eq!(document["against"]["kind"], kind, "{against}");
        assert_eq!(without_against(document), expected, "--against {against}");
    }
    // From a subfolder, a bare revision still finds the environment's build output folder.
    let sub = dir.join("notes");
    fs_err::create_dir_all(&sub).unwrap();
    let (_, document) = plan_json(&sub, "HEAD", &[], &[]);
    assert_eq!(without_against(document), expected);
}

#[test]
fn a_folder_with_a_hand_edited_file_shows_it_and_a_redeploy_restores_it() {
    let folder = repository_with_deployed("plan-nothing-to-deploy");
    let dir = folder.path();
    let (code, document) = plan_json(dir, "deploy/prod", &[], &[]);
    assert_eq!(code, 0, "{document:#}");
    assert_eq!(document["changes"], false);
    // Someone changed the deployed ConfigMap by hand: the plan puts it back.
    let configmap = dir.join("deploy/prod/k8s/configmap.yaml");
    let text = fs_err::read_to_string(&configmap).unwrap();
    fs_err::write(
        &configmap,
        text.replace("MELTANO_ENVIRONMENT: prod", "MELTANO_ENVIRONMENT: test"),
    )
    .unwrap();
    let (code, document) = plan_json(dir, "deploy/prod", &[], &[]);
    assert_eq!(code, 1);
    assert_eq!(
        document["config_map"],
        serde_json::json!([{"name": "MELTANO_ENVIRONMENT", "change": "changed", "before": "test", "after": "prod"}])
    );
    assert_eq!(
        document["files"],
        serde_json::json!([{"name": "k8s/configmap.yaml", "change": "changed"}])
    );
    // A revision that does not exist is an error, exit 2, nothing on stdout.
    let run = meltc(
        dir,
        &["plan", "--env", "prod", "--against", "no-such-revision"],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr
            .contains("git knows no revision `no-such-revision`"),
        "{}",
        run.stderr
    );
}

/// Store a bookmark under `state_id` with meltc-run (as a run would have), with `env`.
fn store_bookmark(dir: &Path, state_id: &str, env: &[(&str, &str)]) {
    let output = Command::new(env!("CARGO_BIN_EXE_meltc-run"))
        .args(["--manifest", "deploy/prod/manifest.json", "state", "set", state_id])
        .arg(r#"{"singer_state": {"bookmarks": {"public-orders": {"replication_key": "updated_at", "replication_key_value": "2025-06-01T00:00:00+00:00"}}}}"#)
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
}

/// `--read-state` with `env` (the backend's variables): no bookmark, no ineffective change;
/// with one, the earlier `start_date` is reported for its state ID.
fn read_state_decides_ineffective(env: &[(&str, &str)], backend_shown: &str) {
    let folder = repository_with_deployed("plan-earlier-start-date");
    let dir = folder.path();
    let (code, assumed) = plan_json(dir, "deploy/prod", env, &[]);
    assert_eq!(code, 1);
    assert_eq!(assumed["state"]["bookmarks_from"], "assumed");
    assert_eq!(assumed["state"]["ineffective"].as_array().unwrap().len(), 1);

    let (code, read) = plan_json(dir, "deploy/prod", env, &["--read-state"]);
    assert_eq!(code, 1, "the start_date change is still a change");
    assert_eq!(read["state"]["bookmarks_from"], backend_shown);
    assert_eq!(read["state"]["ineffective"], serde_json::json!([]));

    store_bookmark(dir, "prod:tap-postgres-to-target-postgres", env);
    let (_, read) = plan_json(dir, "deploy/prod", env, &["--read-state"]);
    let ineffective = &read["state"]["ineffective"][0];
    assert_eq!(ineffective["setting"], "extractors.tap-postgres.start_date");
    assert_eq!(
        ineffective["state_ids"],
        serde_json::json!(["prod:tap-postgres-to-target-postgres"])
    );
}

#[test]
fn read_state_from_a_file_backend() {
    let state = tempfile::tempdir().unwrap();
    let uri = format!("file://{}", state.path().display());
    read_state_decides_ineffective(&[("MELTANO_STATE_BACKEND_URI", &uri)], &uri);
    assert!(
        state
            .path()
            .join("prod:tap-postgres-to-target-postgres/state.json")
            .is_file()
    );
}

#[test]
fn read_state_from_garage() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let uri = format!("s3://{}/plan", garage::BUCKET);
    read_state_decides_ineffective(
        &[
            ("MELTANO_STATE_BACKEND_URI", &uri),
            ("MELTANO_STATE_BACKEND_S3_ENDPOINT_URL", &garage.endpoint),
            ("STATE_KEY_ID", &garage.key_id),
            ("STATE_SECRET", &garage.secret),
            ("AWS_DEFAULT_REGION", garage::REGION),
        ],
        &uri,
    );
}

#[test]
fn read_state_without_a_readable_backend_is_an_error() {
    let folder = repository_with_deployed("plan-earlier-start-date");
    let run = meltc_with(
        folder.path(),
        &[
            "plan",
            "--env",
            "prod",
            "--against",
            "deploy/prod",
            "--read-state",
        ],
        &[("MELTANO_STATE_BACKEND_URI", "gs://bucket/state")],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr.starts_with("error: --read-state: "),
        "{}",
        run.stderr
    );
}
