//! A worked example of Meltano's catalog rules (a discovered catalog, `select`, `metadata` and
//! `schema` extras, and the catalog `SingerTap.apply_catalog_rules` makes of them) and table
//! tests of selection patterns.

use serde_json::{Value, json};

use super::*;

/// The discovered catalog of the worked example.
fn example_catalog() -> Value {
    json!({"streams": [
        {
            "tap_stream_id": "users",
            "schema": {"type": "object", "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "address": {"type": "object", "properties": {
                    "city": {"type": "string"},
                    "zip": {"type": "string"},
                }},
            }},
            "metadata": [
                {"breadcrumb": [], "metadata": {"inclusion": "available"}},
                {"breadcrumb": ["properties", "id"], "metadata": {"inclusion": "automatic"}},
                {"breadcrumb": ["properties", "name"], "metadata": {"inclusion": "available"}},
            ],
        },
        {
            "tap_stream_id": "orders",
            "schema": {"type": "object", "properties": {
                "id": {"type": "integer"},
                "amount": {"type": "number"},
            }},
            "metadata": [{"breadcrumb": [], "metadata": {"inclusion": "available"}}],
        },
        {
            "tap_stream_id": "order_items",
            "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
        },
    ]})
}

fn example_rules() -> Rules {
    Rules {
        select: ["users.*", "!users.name", "orders.id"]
            .map(str::to_owned)
            .to_vec(),
        metadata: json!({
            "users": {"replication-method": "INCREMENTAL", "replication-key": "id"},
            "order*": {"selected-by-default": false},
        }),
        schema: json!({"orders": {"amount": {"type": ["string", "null"]}}}),
        ..Rules::default()
    }
}

fn stream<'a>(catalog: &'a Value, id: &str) -> &'a Value {
    catalog["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|stream| stream["tap_stream_id"] == id)
        .unwrap_or_else(|| panic!("no stream {id}"))
}

/// The metadata object of `stream`'s entry at the dotted property path (`""` = the stream).
fn metadata<'a>(catalog: &'a Value, id: &str, path: &str) -> &'a Value {
    let breadcrumb: Vec<String> = if path.is_empty() {
        Vec::new()
    } else {
        rules::property_breadcrumb(&path.split('.').collect::<Vec<_>>())
    };
    let entries: Vec<&Value> = stream(catalog, id)["metadata"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["breadcrumb"] == json!(breadcrumb))
        .collect();
    assert_eq!(entries.len(), 1, "{id} {path}: {entries:?}");
    &entries[0]["metadata"]
}

#[test]
fn worked_example_of_the_spec() {
    let mut catalog = example_catalog();
    let selection = apply(&mut catalog, &example_rules()).unwrap();
    assert_eq!(selection.warnings, []);
    assert!(selection.rewritten);
    // (stream, property path, inclusion, selected)
    let table = [
        ("users", "", "available", true),
        ("users", "id", "automatic", true),
        ("users", "name", "available", false),
        ("users", "address", "automatic", true),
        ("users", "address.city", "available", true),
        ("users", "address.zip", "available", true),
        ("orders", "", "available", true),
        ("orders", "id", "automatic", true),
        ("orders", "amount", "automatic", false),
        ("order_items", "", "automatic", false),
        ("order_items", "id", "automatic", false),
    ];
    for (id, path, inclusion, selected) in table {
        let entry = metadata(&catalog, id, path);
        assert_eq!(entry["inclusion"], inclusion, "{id} {path}");
        assert_eq!(entry["selected"], selected, "{id} {path}");
    }
    let users = metadata(&catalog, "users", "");
    assert_eq!(users["replication-method"], "INCREMENTAL");
    assert_eq!(users["replication-key"], "id");
    assert_eq!(
        metadata(&catalog, "orders", "")["selected-by-default"],
        false
    );
    assert_eq!(
        metadata(&catalog, "order_items", "")["selected-by-default"],
        false
    );
    // The legacy stream-object keys, with underscores.
    let users = stream(&catalog, "users");
    assert_eq!(
        (
            &users["selected"],
            &users["replication_method"],
            &users["replication_key"]
        ),
        (&json!(true), &json!("INCREMENTAL"), &json!("id"))
    );
    assert_eq!(stream(&catalog, "orders")["selected_by_default"], false);
    assert_eq!(
        stream(&catalog, "orders")["schema"]["properties"]["amount"],
        json!({"type": ["string", "null"]})
    );
    // New keys are appended after the existing ones, in rule order.
    let keys: Vec<&String> = users.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "tap_stream_id",
            "schema",
            "metadata",
            "selected",
            "replication_method",
            "replication_key"
        ]
    );
}

/// One row: select patterns → the selected flag of (stream, property path) pairs.
#[track_caller]
fn check_selection(select: &[&str], expected: &[(&str, &str, bool)]) {
    let mut catalog = example_catalog();
    let rules = Rules {
        select: select.iter().map(|s| (*s).to_owned()).collect(),
        ..Rules::default()
    };
    apply(&mut catalog, &rules).unwrap();
    for (id, path, selected) in expected {
        assert_eq!(
            metadata(&catalog, id, path)["selected"],
            *selected,
            "select {select:?}: {id} {path}"
        );
    }
}

#[test]
fn globs_and_exclusions() {
    // The default selects everything.
    check_selection(
        &["*.*"],
        &[
            ("users", "", true),
            ("users", "address.city", true),
            ("order_items", "id", true),
        ],
    );
    // A bare stream means the stream and all its properties.
    check_selection(
        &["users"],
        &[
            ("users", "", true),
            ("users", "address.zip", true),
            ("orders", "", false),
        ],
    );
    // A property selects its stream and its ancestors, not its siblings.
    check_selection(
        &["users.address.city"],
        &[
            ("users", "", true),
            ("users", "address", true),
            ("users", "address.city", true),
            ("users", "address.zip", false),
            ("users", "id", false),
        ],
    );
    // `*` crosses nesting levels: `users.a*` also reaches `address.city`'s breadcrumb? No:
    // the breadcrumb is `properties.address.properties.city`, which `properties.a*` matches.
    check_selection(
        &["users.a*"],
        &[
            ("users", "address", true),
            ("users", "address.city", true),
            ("users", "id", false),
        ],
    );
    // `!stream.prop` keeps the stream; `!stream.*` and `!stream` drop it too.
    check_selection(
        &["users", "!users.id"],
        &[
            ("users", "", true),
            ("users", "id", false),
            ("users", "name", true),
        ],
    );
    check_selection(
        &["users", "!users.*"],
        &[("users", "", false), ("users", "id", false)],
    );
    check_selection(
        &["users", "!users"],
        &[("users", "", false), ("users", "name", false)],
    );
    // Exclusions win whatever the order they are written in.
    check_selection(&["!users.name", "users.*"], &[("users", "name", false)]);
    // Stream globs, `?` and classes.
    check_selection(
        &["order*.*"],
        &[
            ("orders", "", true),
            ("order_items", "id", true),
            ("users", "", false),
        ],
    );
    check_selection(
        &["order?.id"],
        &[("orders", "id", true), ("order_items", "", false)],
    );
    check_selection(
        &["[ou]*.id"],
        &[
            ("orders", "id", true),
            ("users", "id", true),
            ("users", "name", false),
        ],
    );
    check_selection(&["[!u]*"], &[("orders", "", true), ("users", "", false)]);
    // Nothing selected at all.
    check_selection(&[], &[("users", "", false), ("orders", "id", false)]);
}

#[test]
fn unsupported_is_never_selected() {
    let mut catalog = json!({"streams": [{
        "tap_stream_id": "s",
        "schema": {"properties": {"a": {}, "b": {}}},
        "metadata": [
            {"breadcrumb": [], "metadata": {"inclusion": "available"}},
            {"breadcrumb": ["properties", "a"], "metadata": {"inclusion": "unsupported"}},
            {"breadcrumb": ["properties", "b"], "metadata": {"inclusion": "unsupported", "selected": true}},
        ],
    }]});
    let rules = Rules {
        metadata: json!({"s": {"a": {"selected": true}}}),
        ..Rules::default()
    };
    apply(&mut catalog, &rules).unwrap();
    // `!*.*` wrote `false`; the metadata rule's `true` did not land.
    assert_eq!(
        metadata(&catalog, "s", "a"),
        &json!({"inclusion": "unsupported", "selected": false})
    );
    // `false` still lands (the `!*.*` rule), overwriting the tap's own `true`.
    assert_eq!(
        metadata(&catalog, "s", "b"),
        &json!({"inclusion": "unsupported", "selected": false})
    );
}

#[test]
fn metadata_rules_override_exclusions_and_select_filter_comes_last() {
    let mut catalog = example_catalog();
    let rules = Rules {
        select: vec!["*.*".into(), "!users".into()],
        metadata: json!({"users": {"selected": true}}),
        select_filter: vec!["users".into(), "orders".into(), "!orders".into()],
        ..Rules::default()
    };
    apply(&mut catalog, &rules).unwrap();
    assert_eq!(metadata(&catalog, "users", "")["selected"], true);
    // Property-level: the metadata rule was stream-level only.
    assert_eq!(metadata(&catalog, "users", "id")["selected"], false);
    assert_eq!(metadata(&catalog, "orders", "")["selected"], false);
    assert_eq!(metadata(&catalog, "order_items", "")["selected"], false);
    // select_filter is stream-level: properties keep their selection.
    assert_eq!(metadata(&catalog, "orders", "id")["selected"], true);
}

#[test]
fn custom_catalog_gets_only_the_select_filter() {
    let mut catalog = example_catalog();
    let original = catalog.clone();
    let rules = Rules {
        custom_catalog: true,
        ..example_rules()
    };
    assert!(!apply(&mut catalog, &rules).unwrap().rewritten);
    assert_eq!(catalog, original);
    let rules = Rules {
        select_filter: vec!["users".into()],
        ..rules
    };
    apply(&mut catalog, &rules).unwrap();
    assert_eq!(metadata(&catalog, "orders", "")["selected"], false);
    assert!(metadata(&catalog, "users", "").get("selected").is_none());
    // The walk still creates the missing entries.
    assert_eq!(
        metadata(&catalog, "order_items", "id")["inclusion"],
        "automatic"
    );
}

#[test]
fn schema_rules_create_and_replace() {
    let mut catalog = example_catalog();
    let rules = Rules {
        schema: json!({
            "users": {"*": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"}},
            "nope": {"x": {"type": "string"}},
        }),
        ..Rules::default()
    };
    apply(&mut catalog, &rules).unwrap();
    let properties = &stream(&catalog, "users")["schema"]["properties"];
    let keys: Vec<&String> = properties.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "name", "address", "created_at"]);
    // `*` replaced every existing property, `created_at` was created and then also matched `*`
    // before its own rule replaced it again.
    assert_eq!(properties["id"], json!({"type": "string"}));
    assert_eq!(properties["address"], json!({"type": "string"}));
    assert_eq!(
        properties["created_at"],
        json!({"type": "string", "format": "date-time"})
    );
    // The created property got its metadata entry and is selected by `*.*`.
    assert_eq!(metadata(&catalog, "users", "created_at")["selected"], true);
}

#[test]
fn warnings_for_missing_streams_and_properties() {
    let mut catalog = example_catalog();
    let rules = Rules {
        select: [
            "users.nope",
            "ghost",
            "users.address.city",
            "users.*",
            "gh*st",
        ]
        .map(str::to_owned)
        .to_vec(),
        metadata: json!({"users": {"nope2": {"is-key": true}}, "ghost": {"x": 1}}),
        ..Rules::default()
    };
    let warnings = apply(&mut catalog, &rules).unwrap().warnings;
    let text: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        [
            "Property `nope` was not found in the schema of stream `users`",
            "Stream `ghost` was not found in the catalog",
            "Property `nope2` was not found in the schema of stream `users`",
        ]
    );
}

#[test]
fn metadata_after_schema_matters() {
    // Entries created while walking `schema` only get the rules when `metadata` comes later.
    let mut catalog = json!({"streams": [{
        "tap_stream_id": "s",
        "metadata": [],
        "schema": {"properties": {"a": {}}},
    }]});
    apply(&mut catalog, &Rules::default()).unwrap();
    assert_eq!(
        stream(&catalog, "s")["metadata"],
        json!([
            {"breadcrumb": [], "metadata": {"inclusion": "automatic", "selected": true}},
            {"breadcrumb": ["properties", "a"], "metadata": {"inclusion": "automatic"}},
        ])
    );
}

#[test]
fn errors() {
    let mut catalog = example_catalog();
    let bad_metadata = Rules {
        metadata: json!({"users": true}),
        ..Rules::default()
    };
    assert_eq!(
        apply(&mut catalog, &bad_metadata),
        Err(CatalogError::MetadataKey("users".into()))
    );
    // Meltano's dispatcher swallows the `KeyError` of a stream without an ID: left alone.
    let mut no_id = json!({"streams": [{"schema": {"properties": {"a": {}}}}]});
    let original = no_id.clone();
    apply(&mut no_id, &Rules::default()).unwrap();
    assert_eq!(no_id, original);
    // A `TypeError` fails the run.
    let mut bad_list = json!({"streams": [{"tap_stream_id": "s", "metadata": {}}]});
    assert!(matches!(
        apply(&mut bad_list, &Rules::default()),
        Err(CatalogError::Invalid(_))
    ));
}

#[test]
fn flags_and_cache_key() {
    assert_eq!(catalog_flag(&["catalog", "properties"]), Some("--catalog"));
    assert_eq!(catalog_flag(&["properties", "state"]), Some("--properties"));
    assert_eq!(catalog_flag(&["state"]), None);

    let config: Map<String, Value> =
        serde_json::from_value(json!({"host": "localhost", "port": 5432, "db.name": null}))
            .unwrap();
    let rules = example_rules();
    // Python: sha1(json.dumps({**config, "_schema": …, "_metadata": …}).encode()).hexdigest()
    let key = cache_key(Some("tap-x==1.0"), &config, &rules).unwrap();
    assert_eq!(key, "78b882325a82c02cdc809cd2ddc9aa1494d7bef6");
    assert_eq!(cache_key(None, &config, &rules), None);
    assert_eq!(cache_key(Some("-e ./tap"), &config, &rules), None);
    let custom = Rules {
        custom_catalog: true,
        ..rules.clone()
    };
    assert_eq!(cache_key(Some("tap-x"), &config, &custom), None);
    // Selection does not change the key; metadata does.
    let other_select = Rules {
        select: vec!["x".into()],
        ..rules.clone()
    };
    assert_eq!(
        cache_key(Some("tap-x"), &config, &other_select),
        Some(key.clone())
    );
    let other_metadata = Rules {
        metadata: json!({}),
        ..rules
    };
    assert_ne!(
        cache_key(Some("tap-x"), &config, &other_metadata),
        Some(key)
    );
}

#[test]
fn catalog_file_is_python_indent_2() {
    let catalog = json!({"streams": [{"tap_stream_id": "é", "metadata": []}]});
    assert_eq!(
        catalog_file(&catalog),
        "{\n  \"streams\": [\n    {\n      \"tap_stream_id\": \"\\u00e9\",\n      \"metadata\": []\n    }\n  ]\n}"
    );
}
