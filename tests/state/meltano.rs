//! Differential: the real `meltano` 4.4.1 and meltc on the same state store. What one writes
//! the other reads identically, the stored bytes are the same for the same input, and both
//! list the same state IDs.

use std::collections::BTreeMap;
use std::path::Path;

use meltc::runtime::state::{StateBackendSettings, StateStore, commands};

use super::raw;
use crate::support::garage::{self, Garage};
use crate::support::meltano_batch;

/// Bookmarks with what a byte comparison can trip on: non-ASCII text, floats in both
/// notations, big integers, lists, key order.
const FIRST: &str = r#"{"singer_state": {"bookmarks": {"users": {"replication_key_value": "2024-05-01T00:00:00+00:00", "name": "Zoë 😀", "ratio": 0.1, "tiny": 1e-07, "big": 12345678901234567, "whole": 100.0, "ids": [3, 1, 2]}, "accounts": {"z": null, "a": true}}, "currently_syncing": null}}"#;
const SECOND: &str =
    r#"{"singer_state": {"bookmarks": {"orders": {"n": 1, "nested": {"keep": "x"}}}}}"#;
/// Merged into SECOND as an incomplete state (`meltano state merge`, `--state-strategy merge`).
const PARTIAL: &str = r#"{"singer_state": {"bookmarks": {"orders": {"n": 2, "nested": {"more": "y"}}, "new": {"n": 1}}}}"#;

/// A project Meltano accepts, with the `dev` environment the state IDs name.
fn project(root: &Path) {
    fs_err::write(
        root.join("meltano.yml"),
        "version: 1\nproject_id: meltc-state-differential\ndefault_environment: dev\n\
         environments:\n- name: dev\n- name: prod\n",
    )
    .unwrap();
}

fn environment(home: &Path, backend: &[(&str, String)]) -> BTreeMap<String, String> {
    let mut environment: BTreeMap<String, String> = [
        ("PATH", "/usr/local/bin:/usr/bin:/bin".to_owned()),
        ("HOME", home.display().to_string()),
        ("LANG", "C.UTF-8".to_owned()),
        ("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false".to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    environment.extend(
        backend
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone())),
    );
    environment
}

fn argv(args: &[&str]) -> Vec<String> {
    args.iter().map(|arg| (*arg).to_owned()).collect()
}

/// meltc writes, meltano reads and writes, meltc reads; the stored bytes are compared.
fn round_trip(environment: &BTreeMap<String, String>, root: &Path) {
    let settings = StateBackendSettings::from_meltano_env(environment)
        .unwrap()
        .expect("MELTANO_STATE_BACKEND_URI is set");
    let store = StateStore::open(&settings, environment).unwrap();

    // 1. meltc writes: a complete state, one with a partial merged in, one cleared.
    commands::set(&store, "dev:tap-a-to-target-a", FIRST, true).unwrap();
    commands::set(&store, "dev:tap-b-to-target-b", SECOND, true).unwrap();
    let partial = serde_json::from_str(PARTIAL).unwrap();
    store
        .update(
            &super::id("dev:tap-b-to-target-b"),
            meltc::runtime::state::StateDocument::incomplete(partial),
        )
        .unwrap();
    commands::set(&store, "prod:tap-c-to-target-c:gone", SECOND, true).unwrap();
    commands::clear(&store, "prod:tap-c-to-target-c:gone").unwrap();
    // meltc-run's own files lie beside them while Meltano reads: the cleared ID's history, a
    // history entry and a run lease ticket of a listed ID.
    assert_eq!(
        store
            .history(&super::id("prod:tap-c-to-target-c:gone"))
            .unwrap()
            .len(),
        1
    );
    commands::set(&store, "dev:tap-b-to-target-b", SECOND, true).unwrap();
    store
        .update(
            &super::id("dev:tap-b-to-target-b"),
            meltc::runtime::state::StateDocument::incomplete(
                serde_json::from_str(PARTIAL).unwrap(),
            ),
        )
        .unwrap();
    assert_eq!(
        store
            .history(&super::id("dev:tap-b-to-target-b"))
            .unwrap()
            .len(),
        1
    );
    let lease = store
        .lease(
            &super::id("dev:tap-a-to-target-a"),
            &meltc::runtime::state::lease::Holder::this_process("test"),
        )
        .unwrap();

    // 2. meltano reads them, lists them, writes the same states under other IDs.
    let runs = meltano_batch(
        root,
        environment,
        &[
            argv(&["state", "get", "dev:tap-a-to-target-a"]),
            argv(&["state", "get", "dev:tap-b-to-target-b"]),
            argv(&["state", "get", "prod:tap-c-to-target-c:gone"]),
            argv(&["state", "set", "--force", "dev:tap-m-to-target-m", FIRST]),
            argv(&["state", "set", "--force", "dev:tap-n-to-target-n", SECOND]),
            argv(&["state", "merge", "dev:tap-n-to-target-n", PARTIAL]),
            argv(&["state", "list"]),
            argv(&["state", "list", "--pattern", "dev:tap-[ab]*"]),
        ],
    );
    for (index, run) in runs.iter().enumerate() {
        assert_eq!(
            run.code, 0,
            "meltano command {index} failed:\n{}",
            run.stderr
        );
    }
    lease.release().unwrap();
    let printed = |index: usize| runs[index].stdout.trim_end_matches('\n').to_owned();

    // meltano reads what meltc wrote exactly as meltc does.
    for (index, state_id) in [(0, "dev:tap-a-to-target-a"), (1, "dev:tap-b-to-target-b")] {
        assert_eq!(
            printed(index),
            commands::get(&store, state_id).unwrap(),
            "{state_id}"
        );
    }
    assert_eq!(printed(2), "{}");

    // 3. meltc reads what meltano wrote, and the stored bytes are the same for the same input.
    for (ours, theirs) in [
        ("dev:tap-a-to-target-a", "dev:tap-m-to-target-m"),
        ("dev:tap-b-to-target-b", "dev:tap-n-to-target-n"),
    ] {
        assert_eq!(
            commands::get(&store, theirs).unwrap(),
            commands::get(&store, ours).unwrap()
        );
        let (ours_bytes, theirs_bytes) = (raw(&store, ours).unwrap(), raw(&store, theirs).unwrap());
        assert_eq!(
            ours_bytes, theirs_bytes,
            "state.json of {ours} and {theirs}"
        );
        assert!(ours_bytes.is_ascii() && !ours_bytes.ends_with('\n'));
    }

    // Both list the same IDs (Meltano in storage order, meltc sorted).
    let mut listed: Vec<String> = printed(6).lines().map(str::to_owned).collect();
    listed.sort();
    assert_eq!(listed, commands::list(&store, None).unwrap());
    assert_eq!(
        listed,
        [
            "dev:tap-a-to-target-a",
            "dev:tap-b-to-target-b",
            "dev:tap-m-to-target-m",
            "dev:tap-n-to-target-n"
        ]
    );
    let mut matched: Vec<String> = printed(7).lines().map(str::to_owned).collect();
    matched.sort();
    assert_eq!(
        matched,
        commands::list(&store, Some("dev:tap-[ab]*")).unwrap()
    );
    assert_eq!(matched.len(), 2);

    // No lock is left behind by either tool.
    for state_id in &listed {
        assert!(
            store
                .backend()
                .read_lock(&super::id(state_id))
                .unwrap()
                .is_none()
        );
    }
}

#[test]
fn meltano_and_meltc_share_a_file_backend() {
    let folder = tempfile::tempdir().unwrap();
    project(folder.path());
    let state = folder.path().join("state");
    let environment = environment(
        &folder.path().join("home"),
        &[(
            "MELTANO_STATE_BACKEND_URI",
            format!("file://{}", state.display()),
        )],
    );
    round_trip(&environment, folder.path());
}

#[test]
fn meltano_and_meltc_share_an_s3_backend_on_garage() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    project(folder.path());
    let environment = environment(
        &folder.path().join("home"),
        &[
            (
                "MELTANO_STATE_BACKEND_URI",
                format!("s3://{}/meltano/state", garage::BUCKET),
            ),
            (
                "MELTANO_STATE_BACKEND_S3_AWS_ACCESS_KEY_ID",
                garage.key_id.clone(),
            ),
            (
                "MELTANO_STATE_BACKEND_S3_AWS_SECRET_ACCESS_KEY",
                garage.secret.clone(),
            ),
            (
                "MELTANO_STATE_BACKEND_S3_ENDPOINT_URL",
                garage.endpoint.clone(),
            ),
            // boto3 signs for this region; Garage checks it against its s3_region.
            ("AWS_DEFAULT_REGION", garage::REGION.to_owned()),
        ],
    );
    round_trip(&environment, folder.path());
}
