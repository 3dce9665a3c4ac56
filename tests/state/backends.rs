//! The same operations on each backend: the stored bytes, the merged view, list, clear.

use serde_json::json;

use meltc::runtime::state::backend::Beside;
use meltc::runtime::state::{StateStore, TargetLine, commands};

use super::{file_settings, garage_settings, id, open, raw};
use crate::support::garage::Garage;

const ID: &str = "dev:tap-x-to-target-y";

/// Set, merge and overwrite lines, skipped lines, list and clear, checking the stored text.
fn exercise(store: &StateStore) {
    assert_eq!(commands::get(store, ID).unwrap(), "{}");
    commands::set(
        store,
        ID,
        r#"{"singer_state": {"bookmarks": {"a": {"n": 1, "at": 1.0, "who": "Zoë"}}}}"#,
        true,
    )
    .unwrap();
    assert_eq!(
        raw(store, ID).unwrap(),
        r#"{"completed": {"singer_state": {"bookmarks": {"a": {"n": 1, "at": 1.0, "who": "Zo\u00eb"}}}}, "partial": {}}"#
    );

    let line = store
        .record_target_line(&id(ID), r#"{"bookmarks": {"b": {"n": 2}}}"#, true)
        .unwrap();
    assert!(matches!(line, TargetLine::Update(_)));
    assert_eq!(
        raw(store, ID).unwrap(),
        r#"{"completed": {"singer_state": {"bookmarks": {"a": {"n": 1, "at": 1.0, "who": "Zo\u00eb"}}}}, "partial": {"singer_state": {"bookmarks": {"b": {"n": 2}}}}}"#
    );
    assert_eq!(
        commands::get(store, ID).unwrap(),
        r#"{"singer_state":{"bookmarks":{"a":{"n":1,"at":1.0,"who":"Zo\u00eb"},"b":{"n":2}}}}"#
    );

    let before = raw(store, ID);
    for skipped in ["{}", "not json"] {
        let line = store.record_target_line(&id(ID), skipped, false).unwrap();
        assert!(!matches!(line, TargetLine::Update(_)));
    }
    assert_eq!(raw(store, ID), before);

    store
        .record_target_line(&id(ID), r#"{"bookmarks": {"c": [3]}}"#, false)
        .unwrap();
    assert_eq!(
        raw(store, ID).unwrap(),
        r#"{"completed": {"singer_state": {"bookmarks": {"c": [3]}}}, "partial": {}}"#
    );

    commands::set(
        store,
        "prod:tap-x-to-target-y:s",
        r#"{"singer_state": {}}"#,
        true,
    )
    .unwrap();
    assert_eq!(
        commands::list(store, None).unwrap(),
        ["dev:tap-x-to-target-y", "prod:tap-x-to-target-y:s"]
    );
    assert_eq!(
        commands::list(store, Some("prod:*")).unwrap(),
        ["prod:tap-x-to-target-y:s"]
    );

    let error = commands::set(store, ID, r#"{"bookmarks": {}}"#, true).unwrap_err();
    assert!(error.to_string().contains("`singer_state`"), "{error}");
    commands::set(store, ID, r#"{"bookmarks": {}}"#, false).unwrap();
    assert_eq!(commands::get(store, ID).unwrap(), r#"{"bookmarks":{}}"#);

    commands::move_state(
        store,
        "prod:tap-x-to-target-y:s",
        "prod:tap-x-to-target-y:t",
    )
    .unwrap();
    assert_eq!(
        commands::list(store, Some("prod:*")).unwrap(),
        ["prod:tap-x-to-target-y:t"]
    );

    commands::clear(store, ID).unwrap();
    assert_eq!(commands::get(store, ID).unwrap(), "{}");
    assert_eq!(raw(store, ID), None);
    // The cleared IDs keep their history (a clear can be rolled back) and a lease ticket may
    // lie beside them: neither makes a state ID.
    store
        .backend()
        .write_beside(&id(ID), Beside::Lease, "ticket.json", "{}")
        .unwrap();
    assert_eq!(
        commands::list(store, None).unwrap(),
        ["prod:tap-x-to-target-y:t"]
    );
    let reasons: Vec<String> = store
        .history(&id(ID))
        .unwrap()
        .into_iter()
        .map(|entry| entry.reason)
        .collect();
    assert_eq!(reasons, ["clear", "set"]);
    store
        .backend()
        .delete_beside(&id(ID), Beside::Lease, "ticket.json")
        .unwrap();
    // Every lock was released.
    for state_id in [ID, "prod:tap-x-to-target-y:s", "prod:tap-x-to-target-y:t"] {
        assert!(store.backend().read_lock(&id(state_id)).unwrap().is_none());
    }
}

#[test]
fn file_backend_stores_meltanos_layout() {
    let folder = tempfile::tempdir().unwrap();
    let root = folder.path().join("state");
    let store = open(&file_settings(&root));
    assert!(root.is_dir(), "the state folder is created on open");
    exercise(&store);
    // No temporary files; one state ID left, and the history of the cleared ones (Meltano
    // removes a cleared ID's whole folder; meltc-run keeps its history, so that the clear can
    // be rolled back). No lease folder is left behind.
    let left: Vec<String> = walkdir::WalkDir::new(&root)
        .min_depth(1)
        .sort_by_file_name()
        .into_iter()
        .map(|entry| {
            let entry = entry.unwrap();
            entry
                .path()
                .strip_prefix(&root)
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(
        left,
        [
            "dev:tap-x-to-target-y",
            "dev:tap-x-to-target-y/history",
            "dev:tap-x-to-target-y/history/00000001.set.json",
            "dev:tap-x-to-target-y/history/00000002.clear.json",
            "prod:tap-x-to-target-y:s",
            "prod:tap-x-to-target-y:s/history",
            "prod:tap-x-to-target-y:s/history/00000001.clear.json",
            "prod:tap-x-to-target-y:t",
            "prod:tap-x-to-target-y:t/state.json"
        ]
    );
}

#[test]
fn s3_backend_stores_meltanos_layout_on_garage() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let store = open(&garage_settings(&garage, "/some/prefix/"));
    exercise(&store);
    assert_eq!(
        store.backend().location(&id(ID), "state.json"),
        "s3://meltc-state/some/prefix/dev:tap-x-to-target-y/state.json"
    );
    // A second store on the bucket root sees the same objects under their full keys.
    let root = open(&garage_settings(&garage, ""));
    assert_eq!(
        commands::list(&root, None).unwrap(),
        ["some/prefix/prod:tap-x-to-target-y:t"]
    );
}

#[test]
fn ambient_credentials_still_use_the_configured_endpoint() {
    let Some(garage) = Garage::start() else {
        return;
    };
    // Keys from the environment, endpoint from the setting: Meltano would ignore the endpoint
    // here and talk to AWS; meltc-run honours it.
    let mut settings = garage_settings(&garage, "ambient");
    settings.s3.aws_access_key_id = None;
    settings.s3.aws_secret_access_key = None;
    let environment = [
        ("AWS_ACCESS_KEY_ID", garage.key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", garage.secret.as_str()),
    ]
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .into();
    let store = StateStore::open(&settings, &environment).unwrap();
    commands::set(
        &store,
        ID,
        json!({"singer_state": {"x": 1}}).to_string().as_str(),
        true,
    )
    .unwrap();
    assert_eq!(
        commands::get(&store, ID).unwrap(),
        r#"{"singer_state":{"x":1}}"#
    );

    // Everything from the environment, as AWS SDKs read it.
    settings.s3 = Default::default();
    let environment = [
        ("AWS_ACCESS_KEY_ID", garage.key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", garage.secret.as_str()),
        ("AWS_ENDPOINT_URL_S3", garage.endpoint.as_str()),
        ("AWS_DEFAULT_REGION", "garage"),
    ]
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .into();
    let store = StateStore::open(&settings, &environment).unwrap();
    assert_eq!(
        commands::get(&store, ID).unwrap(),
        r#"{"singer_state":{"x":1}}"#
    );
}
