//! Catalog selection against the real Meltano (the pinned PyPI install of
//! `scripts/setup-test-env`), two ways:
//!
//! - `selection_matches_meltano_invoke`: a project whose extractors are a script that prints
//!   a fixed catalog on `--discover` and keeps the catalog it is handed on sync; `meltano
//!   invoke` runs each (discovery, then Meltano's rules), and the kept bytes must equal
//!   `catalog::apply` + `catalog::catalog_file` on the same discovered catalog. Cases: the
//!   spec's worked example and rule sets on the real tap-postgres catalog
//!   (`tests/data/catalog/tap-postgres.json`, from `scripts/capture-tap-postgres-catalog`).
//! - `selection_matches_meltano_on_generated_cases`: hundreds of generated catalogs and rule
//!   sets (odd names, nesting, missing and broken metadata, globs, exclusions, schema rules,
//!   `select_filter`, custom catalogs) through Meltano's own `apply_catalog_rules`
//!   (`tests/support/meltano_catalog.py`), comparing the catalog file, the failure, the
//!   warnings and the cache key; and Python's `fnmatch` against ours on generated patterns.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use meltc::resolve::python_json;
use meltc::runtime::catalog::{self, Rules};
use serde_json::{Map, Value, json};

use crate::support::{repo, tool};

fn meltano_python() -> PathBuf {
    fs_err::canonicalize(tool("meltano"))
        .expect("meltano resolves")
        .parent()
        .expect("venv bin")
        .join("python")
}

fn tap_postgres_catalog() -> Value {
    let path = repo().join("tests/data/catalog/tap-postgres.json");
    serde_json::from_str(&fs_err::read_to_string(path).unwrap()).unwrap()
}

/// What the tap receives from meltc: the rewritten catalog, or the original bytes when no rule
/// applied.
fn ours(discovered: &Value, original_text: &str, rules: &Rules) -> Result<String, String> {
    let mut catalog = discovered.clone();
    let selection = catalog::apply(&mut catalog, rules).map_err(|e| e.to_string())?;
    Ok(if selection.rewritten {
        catalog::catalog_file(&catalog)
    } else {
        original_text.to_owned()
    })
}

/// The `select`/`metadata`/`schema` extras of a case, as `meltano.yml` and [`Rules`] see them.
struct Case {
    name: &'static str,
    discovered: Value,
    extras: Value,
}

impl Case {
    fn rules(&self, custom_catalog: bool) -> Rules {
        let strings = |key: &str| -> Vec<String> {
            self.extras
                .get(key)
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .map(|item| item.as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_else(|| vec!["*.*".to_owned()])
        };
        Rules {
            select: strings("select"),
            metadata: self.extras.get("metadata").cloned().unwrap_or(json!({})),
            schema: self.extras.get("schema").cloned().unwrap_or(json!({})),
            select_filter: Vec::new(),
            custom_catalog,
        }
    }
}

fn invoke_cases() -> Vec<Case> {
    let worked_example = json!({"streams": [
        {"tap_stream_id": "users",
         "schema": {"type": "object", "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"},
            "address": {"type": "object", "properties": {"city": {"type": "string"}, "zip": {"type": "string"}}}}},
         "metadata": [
            {"breadcrumb": [], "metadata": {"inclusion": "available"}},
            {"breadcrumb": ["properties", "id"], "metadata": {"inclusion": "automatic"}},
            {"breadcrumb": ["properties", "name"], "metadata": {"inclusion": "available"}}]},
        {"tap_stream_id": "orders",
         "schema": {"type": "object", "properties": {"id": {"type": "integer"}, "amount": {"type": "number"}}},
         "metadata": [{"breadcrumb": [], "metadata": {"inclusion": "available"}}]},
        {"tap_stream_id": "order_items", "schema": {"type": "object", "properties": {"id": {"type": "integer"}}}},
    ]});
    vec![
        Case {
            name: "worked-example",
            discovered: worked_example,
            extras: json!({
                "select": ["users.*", "!users.name", "orders.id"],
                "metadata": {"users": {"replication-method": "INCREMENTAL", "replication-key": "id"},
                             "order*": {"selected-by-default": false}},
                "schema": {"orders": {"amount": {"type": ["string", "null"]}}},
            }),
        },
        Case {
            name: "postgres-default",
            discovered: tap_postgres_catalog(),
            extras: json!({}),
        },
        Case {
            name: "postgres-rules",
            discovered: tap_postgres_catalog(),
            extras: json!({
                "select": ["public-customers.*", "!public-customers.first-name", "public-orders.id", "audit-*.*"],
                "metadata": {
                    "public-customers": {"replication-method": "INCREMENTAL", "replication-key": "created_at"},
                    "public-orders": {"id": {"is-key": true}, "selected": true},
                },
                "schema": {"public-customers": {"profile": {"type": ["object", "null"]}, "extra_col": {"type": "string"}}},
            }),
        },
        Case {
            name: "postgres-globs",
            discovered: tap_postgres_catalog(),
            extras: json!({
                "select": ["public-*.*", "!*.balance", "audit-events", "!public-big_orders", "public-c?stomers.t*"],
                "metadata": {"*": {"replication-method": "FULL_TABLE"}, "public-orders": {"note": {"selected": false}}},
            }),
        },
        Case {
            name: "postgres-nothing",
            discovered: tap_postgres_catalog(),
            extras: json!({"select": ["nope.*"], "schema": {"*": {"*": {"type": "string"}}}}),
        },
    ]
}

#[test]
fn selection_matches_meltano_invoke() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let script = root.join("tap-fake.sh");
    fs_err::write(
        &script,
        r#"#!/bin/sh
# Discover: print this extractor's catalog. Sync: keep the catalog Meltano handed over.
here=$(dirname "$0")
catalog=""
discover=0
while [ $# -gt 0 ]; do
  case "$1" in
    --catalog) catalog=$2; shift ;;
    --discover) discover=1 ;;
  esac
  shift
done
if [ "$discover" = 1 ]; then
  exec cat "$here/discovered-$MELTANO_EXTRACTOR_NAME.json"
fi
cp "$catalog" "$here/received-$MELTANO_EXTRACTOR_NAME.json"
"#,
    )
    .unwrap();
    make_executable(&script);

    let cases = invoke_cases();
    // Each extractor inherits the script; its rules are written as JSON, which is YAML.
    let mut extractors = vec![json!({
        "name": "tap-fake", "namespace": "tap_fake",
        "executable": script.to_str().unwrap(), "capabilities": ["catalog", "discover"],
    })];
    let mut commands = Vec::new();
    for case in &cases {
        let text = python_json::dumps(&case.discovered, None);
        fs_err::write(root.join(format!("discovered-{}.json", case.name)), text).unwrap();
        let mut entry = json!({"name": case.name, "inherit_from": "tap-fake"});
        entry
            .as_object_mut()
            .unwrap()
            .extend(case.extras.as_object().unwrap().clone());
        extractors.push(entry);
        commands.push(json!(["invoke", case.name]));
    }
    // A custom catalog: only select_filter would apply, so the file arrives untouched.
    let custom = tap_postgres_catalog();
    let custom_text = serde_json::to_string_pretty(&custom).unwrap();
    fs_err::write(root.join("custom.json"), &custom_text).unwrap();
    extractors.push(json!({"name": "custom", "inherit_from": "tap-fake",
        "catalog": "custom.json", "select": ["public-orders.id"]}));
    commands.push(json!(["invoke", "custom"]));

    let project = format!(
        "version: 1\ndefault_environment: dev\nenvironments:\n- name: dev\nplugins:\n  extractors:\n{}",
        extractors
            .iter()
            .map(|entry| format!("  - {entry}\n"))
            .collect::<String>()
    );
    fs_err::write(root.join("meltano.yml"), project).unwrap();
    let results = run_meltano_batch(root, &Value::Array(commands));
    for result in results.as_array().unwrap() {
        assert_eq!(result["code"], 0, "meltano failed: {result:#}");
    }

    for case in &cases {
        let received =
            fs_err::read_to_string(root.join(format!("received-{}.json", case.name))).unwrap();
        let text = python_json::dumps(&case.discovered, None);
        let expected = ours(&case.discovered, &text, &case.rules(false)).unwrap();
        assert!(
            received == expected,
            "{}: the catalog differs from Meltano's:\n{}",
            case.name,
            crate::support::diff(&received, &expected)
        );
    }
    let received = fs_err::read_to_string(root.join("received-custom.json")).unwrap();
    let rules = Rules {
        select: vec!["public-orders.id".into()],
        custom_catalog: true,
        ..Rules::default()
    };
    assert_eq!(ours(&custom, &custom_text, &rules).unwrap(), received);

    // `meltc-run invoke NAME` in the built image hands the tap the same catalog bytes as
    // `meltano invoke NAME`: discovery, then the rules, in sync mode (no arguments).
    let names: Vec<&str> = cases
        .iter()
        .map(|case| case.name)
        .chain(["custom"])
        .collect();
    let meltanos: Vec<String> = names
        .iter()
        .map(|name| {
            let path = root.join(format!("received-{name}.json"));
            let text = fs_err::read_to_string(&path).unwrap();
            fs_err::remove_file(&path).unwrap();
            text
        })
        .collect();
    let built = crate::support::meltc(root, &["build", "--env", "dev", "--emit", "manifest"]);
    assert_eq!(built.code, 0, "{}", built.stderr);
    for (name, meltanos) in names.iter().zip(&meltanos) {
        let output = Command::new(env!("CARGO_BIN_EXE_meltc-run"))
            .args(["invoke", name])
            .current_dir(root)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("MELTC_MANIFEST", root.join("deploy/dev/manifest.json"))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "meltc-run invoke {name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let received = fs_err::read_to_string(root.join(format!("received-{name}.json")))
            .unwrap_or_else(|_| panic!("meltc-run invoke {name} handed the tap no catalog"));
        assert!(
            received == *meltanos,
            "{name}: meltc-run invoke's catalog differs from meltano invoke's:\n{}",
            crate::support::diff(&received, meltanos)
        );
    }
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Run `meltano` commands in `root` through `tests/support/meltano_batch.py`.
fn run_meltano_batch(root: &Path, commands: &Value) -> Value {
    let driver = repo().join("tests/support/meltano_batch.py");
    let mut child = Command::new(meltano_python())
        .arg(driver)
        .current_dir(root)
        .env("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false")
        .env_remove("MELTANO_PROJECT_ROOT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    serde_json::to_writer(child.stdin.take().unwrap(), commands).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "the meltano batch driver failed");
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A small deterministic generator (xorshift64*): the same cases on every run; set
/// `MELTC_SEED` to explore others.
struct Random(u64);

impl Random {
    fn new() -> Self {
        let seed = std::env::var("MELTC_SEED")
            .ok()
            .and_then(|seed| seed.parse().ok())
            .unwrap_or(0x5EED_CA7A_1065_u64);
        Self(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n as u64)).unwrap()
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const STREAMS: &[&str] = &[
    "users",
    "orders",
    "order_items",
    "a.b",
    "public-users",
    "é",
    "x1",
];
const PROPERTIES: &[&str] = &[
    "id",
    "name",
    "address",
    "city",
    "first-name",
    "properties",
    "a.b",
    "é",
    "type",
    "items",
];

fn generate_schema(random: &mut Random, depth: usize) -> Value {
    let mut properties = Map::new();
    for _ in 0..random.below(4) {
        let name = (*random.pick(PROPERTIES)).to_owned();
        let value = match random.below(6) {
            0 if depth < 2 => {
                json!({"type": "object", "properties": generate_schema(random, depth + 1)})
            }
            1 if depth < 2 => {
                json!({"type": "array", "items": {"type": "object", "properties": generate_schema(random, depth + 1)}})
            }
            2 if depth < 2 => {
                json!({"anyOf": [{"type": "object", "properties": generate_schema(random, depth + 1)}, {"type": "null"}]})
            }
            3 => json!({}),
            _ => json!({"type": random.pick(&["string", "integer"])}),
        };
        properties.insert(name, value);
    }
    Value::Object(properties)
}

/// Every property breadcrumb of a schema's `properties` mapping (nested objects only).
fn breadcrumbs(properties: &Value, prefix: &[String], out: &mut Vec<Vec<String>>) {
    for (name, schema) in properties.as_object().into_iter().flatten() {
        let mut breadcrumb = prefix.to_vec();
        breadcrumb.extend(["properties".to_owned(), name.clone()]);
        out.push(breadcrumb.clone());
        if let Some(inner) = schema.get("properties") {
            breadcrumbs(inner, &breadcrumb, out);
        }
    }
}

fn generate_metadata(random: &mut Random, known: &[Vec<String>]) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut candidates: Vec<Vec<String>> = vec![Vec::new()];
    candidates.extend(known.iter().cloned());
    candidates.push(vec!["properties".into(), "ghost".into()]);
    for breadcrumb in candidates {
        if !random.chance(60) {
            continue;
        }
        let mut metadata = Map::new();
        if random.chance(80) {
            let inclusion = *random.pick(&["automatic", "available", "unsupported"]);
            metadata.insert("inclusion".into(), json!(inclusion));
        }
        if random.chance(30) {
            metadata.insert("selected".into(), json!(random.chance(50)));
        }
        if random.chance(20) {
            metadata.insert("selected-by-default".into(), json!(random.chance(50)));
        }
        // Rarely broken the ways Meltano skips (no metadata, no breadcrumb) or fails on (a
        // breadcrumb that is a string or holds a number, an entry that is not a mapping).
        let entry = match random.below(150) {
            0 => json!({"breadcrumb": breadcrumb}),
            1 => json!({"metadata": metadata}),
            2 => json!({"breadcrumb": breadcrumb.join("."), "metadata": metadata}),
            3 => json!({"breadcrumb": [1], "metadata": metadata}),
            4 => json!("entry"),
            _ => json!({"breadcrumb": breadcrumb, "metadata": metadata}),
        };
        entries.push(entry);
    }
    entries
}

fn generate_catalog(random: &mut Random) -> Value {
    let mut streams = Vec::new();
    for _ in 0..=random.below(3) {
        let id = *random.pick(STREAMS);
        let properties = generate_schema(random, 0);
        let mut known = Vec::new();
        breadcrumbs(&properties, &[], &mut known);
        let metadata = generate_metadata(random, &known);
        let mut parts: Vec<(&str, Value)> = vec![
            ("tap_stream_id", json!(id)),
            (
                "schema",
                json!({"type": "object", "properties": properties}),
            ),
            ("metadata", Value::Array(metadata)),
        ];
        // Key order matters to Meltano's walk; some streams lack a part.
        if random.chance(40) {
            parts.swap(1, 2);
        }
        if random.chance(15) {
            parts.remove(1 + random.below(2));
        }
        if random.chance(3) {
            parts.remove(0);
        } else if random.chance(2) {
            parts[0].1 = json!(7);
        }
        let stream: Map<String, Value> = parts
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect();
        streams.push(Value::Object(stream));
    }
    json!({"streams": streams})
}

fn stream_pattern(random: &mut Random) -> String {
    let name = *random.pick(STREAMS);
    match random.below(8) {
        0 => "*".to_owned(),
        1 => format!("{}*", name.chars().take(2).collect::<String>()),
        2 => name.replacen(|c: char| c.is_ascii_alphabetic(), "?", 1),
        3 => "[ou]*".to_owned(),
        4 => "[!u]*".to_owned(),
        5 => name.replace('.', "\\."),
        _ => name.to_owned(),
    }
}

fn property_pattern(random: &mut Random) -> String {
    match random.below(7) {
        0 => "*".to_owned(),
        1 => format!("{}.{}", random.pick(PROPERTIES), random.pick(PROPERTIES)),
        2 => format!("{}*", random.pick(PROPERTIES).chars().next().unwrap()),
        3 => "*.id".to_owned(),
        _ => (*random.pick(PROPERTIES)).to_owned(),
    }
}

fn generate_case(random: &mut Random) -> (Value, Rules) {
    let catalog = generate_catalog(random);
    let mut select = Vec::new();
    for _ in 0..random.below(5) {
        let negated = if random.chance(30) { "!" } else { "" };
        let property = if random.chance(70) {
            format!(".{}", property_pattern(random))
        } else {
            String::new()
        };
        select.push(format!("{negated}{}{property}", stream_pattern(random)));
    }
    let mut metadata = Map::new();
    for _ in 0..random.below(3) {
        let key = *random.pick(&[
            "selected",
            "replication-method",
            "selected-by-default",
            "inclusion",
        ]);
        let value = if key == "replication-method" {
            json!("INCREMENTAL")
        } else if key == "inclusion" {
            json!("available")
        } else {
            json!(random.chance(50))
        };
        let leaf = json!({key: value});
        let rule = if random.chance(50) {
            json!({property_pattern(random): leaf})
        } else {
            leaf
        };
        metadata.insert(stream_pattern(random), rule);
    }
    let mut schema = Map::new();
    if random.chance(30) {
        let property = *random.pick(&["id", "*", "new_col", "a*", "é"]);
        schema.insert(
            stream_pattern(random),
            json!({property: {"type": ["string", "null"]}}),
        );
    }
    let mut select_filter = Vec::new();
    if random.chance(25) {
        for _ in 0..=random.below(2) {
            let negated = if random.chance(40) { "!" } else { "" };
            select_filter.push(format!("{negated}{}", stream_pattern(random)));
        }
    }
    let rules = Rules {
        select: if random.chance(10) {
            vec!["*.*".into()]
        } else {
            select
        },
        metadata: Value::Object(metadata),
        schema: Value::Object(schema),
        select_filter,
        custom_catalog: random.chance(8),
    };
    (catalog, rules)
}

fn generate_fnmatch_pairs(random: &mut Random, count: usize) -> Vec<(String, String)> {
    const PATTERN: &[char] = &[
        'a', 'b', 'c', 'z', '-', '!', '^', ']', '[', '*', '?', '.', '\\', '&', 'é',
    ];
    const NAME: &[char] = &[
        'a', 'b', 'c', 'z', '-', '!', '^', ']', '[', '.', '\\', '&', 'é',
    ];
    (0..count)
        .map(|_| {
            let pattern: String = (0..random.below(8))
                .map(|_| *random.pick(PATTERN))
                .collect();
            let name: String = (0..random.below(6)).map(|_| *random.pick(NAME)).collect();
            (name, pattern)
        })
        .collect()
}

/// A catalog, its rules, the extractor's config and `pip_url` (for the cache key).
type GeneratedCase = (Value, Rules, Map<String, Value>, Option<&'static str>);

#[test]
fn selection_matches_meltano_on_generated_cases() {
    let mut random = Random::new();
    let pairs = generate_fnmatch_pairs(&mut random, 20_000);
    let mut cases: Vec<GeneratedCase> = Vec::new();
    for index in 0..600 {
        let (catalog, rules) = generate_case(&mut random);
        let config: Map<String, Value> = serde_json::from_value(
            json!({"host": "h", "port": index, "db.name": null, "ratio": 0.5}),
        )
        .unwrap();
        let pip_url = *random.pick(&[None, Some("-e ./tap"), Some("tap-x==1.0")]);
        cases.push((catalog, rules, config, pip_url));
    }
    // Real catalogs too.
    for select in [
        vec!["*.*"],
        vec!["public-*.*", "!*.first-name"],
        vec!["audit-events.payload"],
    ] {
        let rules = Rules {
            select: select.into_iter().map(str::to_owned).collect(),
            ..Rules::default()
        };
        cases.push((
            tap_postgres_catalog(),
            rules,
            Map::new(),
            Some("tap-postgres"),
        ));
    }

    let request = json!({
        "fnmatch": pairs.iter().map(|(name, pattern)| json!([name, pattern])).collect::<Vec<_>>(),
        "cases": cases.iter().map(|(catalog, rules, config, pip_url)| json!({
            "catalog": catalog,
            "extras": {
                "_select": rules.select, "_metadata": rules.metadata, "_schema": rules.schema,
                "_select_filter": rules.select_filter,
                "_catalog": if rules.custom_catalog { Some("custom.json") } else { None },
            },
            "config": config,
            "pip_url": pip_url,
        })).collect::<Vec<_>>(),
    });
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.json");
    let mut child = Command::new(meltano_python())
        .arg(repo().join("tests/support/meltano_catalog.py"))
        .arg(&output)
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    serde_json::to_writer(child.stdin.take().unwrap(), &request).unwrap();
    assert!(child.wait().unwrap().success(), "the catalog driver failed");
    let answer: Value = serde_json::from_str(&fs_err::read_to_string(&output).unwrap()).unwrap();

    let mut failures = Vec::new();
    for ((name, pattern), expected) in pairs.iter().zip(answer["fnmatch"].as_array().unwrap()) {
        if catalog::fnmatch(name, pattern) != expected.as_bool().unwrap() {
            failures.push(format!(
                "fnmatch({name:?}, {pattern:?}) should be {expected}"
            ));
        }
    }
    let (mut rewritten, mut errors, mut warned) = (0, 0, 0);
    for (index, ((catalog, rules, config, pip_url), expected)) in cases
        .iter()
        .zip(answer["cases"].as_array().unwrap())
        .enumerate()
    {
        let original = python_json::dumps(catalog, None);
        let mut ours_catalog = catalog.clone();
        let label = format!("case {index}: rules {rules:?}\ncatalog {original}");
        match catalog::apply(&mut ours_catalog, rules) {
            Err(error) => {
                errors += 1;
                if expected["error"].is_null() {
                    failures.push(format!("{label}\nwe fail ({error}), Meltano does not"));
                }
            }
            Ok(selection) => {
                if !expected["error"].is_null() {
                    failures.push(format!(
                        "{label}\nMeltano fails ({}), we do not",
                        expected["error"]
                    ));
                    continue;
                }
                let text = if selection.rewritten {
                    rewritten += 1;
                    catalog::catalog_file(&ours_catalog)
                } else {
                    original.clone()
                };
                if expected["catalog_file"] != text {
                    failures.push(format!(
                        "{label}\n{}",
                        crate::support::diff(expected["catalog_file"].as_str().unwrap(), &text)
                    ));
                }
                let warnings: Vec<String> =
                    selection.warnings.iter().map(ToString::to_string).collect();
                warned += usize::from(!warnings.is_empty());
                if json!(warnings) != expected["warnings"] {
                    failures.push(format!(
                        "{label}\nwarnings {warnings:?} != Meltano's {}",
                        expected["warnings"]
                    ));
                }
                let key = catalog::cache_key(*pip_url, config, rules);
                if selection.rewritten && json!(key) != expected["cache_key"] {
                    failures.push(format!(
                        "{label}\ncache key {key:?} != Meltano's {}",
                        expected["cache_key"]
                    ));
                }
            }
        }
    }
    println!(
        "catalog selection vs Meltano: {} generated cases ({rewritten} rewritten, {errors} failing in both, {warned} with warnings), {} fnmatch pairs",
        cases.len(),
        pairs.len()
    );
    assert!(
        failures.is_empty(),
        "{} differences with Meltano, first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}
