//! Singer catalog selection, as Meltano does it before a tap runs in sync mode
//! (`SingerTap.apply_catalog_rules` in `core/plugin/singer/tap.py`; `MetadataRule`, `SchemaRule`
//! and `select_metadata_rules` in `core/plugin/singer/catalog.py`).
//!
//! Input: the catalog the tap discovered (or the project's custom `catalog:`), as a
//! [`serde_json::Value`], and the extractor's [`Rules`] (`select`, `metadata`, `schema`,
//! `select_filter`). Output: the same value, changed in place the way Meltano changes it, and
//! the warnings Meltano logs for rules that name a stream or property the catalog lacks. Key
//! order is kept (`serde_json`'s `preserve_order`), new keys are appended where Meltano appends
//! them, and [`catalog_file`] writes the bytes Meltano writes, so the catalog a tap receives
//! from `meltc-run` is the one it would receive from `meltano run`.
//!
//! The order of application is Meltano's:
//! 1. schema rules (`schema:`), in one pass: a named property is created when missing, then
//!    its schema replaced;
//! 2. in one pass over every stream, property and metadata entry, with later rules overwriting
//!    earlier ones on the same node: deselect everything (`!*.*`), the `select` patterns
//!    (inclusions, then exclusions), the `metadata` rules, the `select_filter` rules;
//! 3. while walking, a missing metadata entry is created for each stream and property
//!    (`inclusion: automatic` for streams and top-level properties, `available` deeper), and
//!    `selected: true` is never written on an `inclusion: unsupported` entry.
//!
//! With a custom catalog only `select_filter` applies. Patterns are Python `fnmatch` patterns
//! on the `tap_stream_id` and on the dotted breadcrumb (`properties.a.properties.b`), so `*`
//! crosses nesting levels.
//!
//! This module never runs a tap and never touches a file: discovery and the cache file belong
//! to the caller ([`cache_key`] says when Meltano reuses a discovered catalog).

mod fnmatch;
mod rules;
mod selected;
mod visit;

pub use selected::selected_streams;

use std::collections::BTreeSet;
use std::fmt;

use serde_json::{Map, Value};
use sha1::{Digest, Sha1};

use crate::meltano::python_json;

/// An extractor's selection extras, as resolved for the run (environment merged, `${VAR}`s
/// expanded): the values Meltano's `plugin_config_extras` holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Rules {
    /// `select` (`_select`): `[!]stream[.property[.sub…]]` patterns. Meltano's default is
    /// `["*.*"]` ([`Rules::default`]).
    pub select: Vec<String>,
    /// `metadata` (`_metadata`): `{stream pattern: {key: value}}` or
    /// `{stream pattern: {property: {…: {key: value}}}}`; `null` for none.
    pub metadata: Value,
    /// `schema` (`_schema`): `{stream pattern: {property pattern: JSON schema}}`; `null` for
    /// none.
    pub schema: Value,
    /// `select_filter` (`_select_filter`, also `meltano el --select/--exclude`): stream-level
    /// `[!]stream` patterns.
    pub select_filter: Vec<String>,
    /// Whether the catalog is the project's own file (`catalog:` extra): then only
    /// `select_filter` applies.
    pub custom_catalog: bool,
}

impl Default for Rules {
    /// Meltano's defaults: select every stream and property, no other rule.
    fn default() -> Self {
        Self {
            select: vec!["*.*".to_owned()],
            metadata: Value::Object(Map::new()),
            schema: Value::Object(Map::new()),
            select_filter: Vec::new(),
            custom_catalog: false,
        }
    }
}

/// A catalog or rule set that Meltano would fail on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CatalogError {
    /// A `metadata` leaf without a key: `metadata: {users: true}`.
    #[error(
        "metadata rule `{0}` names no metadata key: write `<stream>.<key>: value` or `<stream>.<property>.<key>: value`"
    )]
    MetadataKey(String),
    /// `metadata`, `schema` or a `schema` stream entry that is not a mapping.
    #[error("`{0}` must be a mapping")]
    NotAnObject(String),
    /// The catalog's shape breaks a rule Meltano relies on.
    #[error("invalid catalog: {0}")]
    Invalid(String),
}

/// A rule that names something the catalog lacks (Meltano logs these and goes on).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Warning {
    /// No stream has this exact `tap_stream_id`.
    MissingStream(String),
    /// The stream exists but has no such property.
    MissingProperty {
        /// The stream's `tap_stream_id`.
        stream: String,
        /// The property path as the rule wrote it (`address.properties.city`).
        property: String,
    },
}

impl fmt::Display for Warning {
    /// Meltano's wording.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingStream(stream) => {
                write!(f, "Stream `{stream}` was not found in the catalog")
            }
            Self::MissingProperty { stream, property } => write!(
                f,
                "Property `{property}` was not found in the schema of stream `{stream}`"
            ),
        }
    }
}

/// What [`apply`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    /// Meltano's warnings, each once, in the order Meltano first logs them.
    pub warnings: Vec<Warning>,
    /// Whether any rule applied. When not (a custom catalog without `select_filter`), Meltano
    /// leaves the catalog file as it was: hand the tap the original bytes, not
    /// [`catalog_file`]'s.
    pub rewritten: bool,
}

/// Apply `rules` to `catalog` in place (module docs).
pub fn apply(catalog: &mut Value, rules: &Rules) -> Result<Selection, CatalogError> {
    let mut schema_rules = Vec::new();
    let mut metadata_rules = Vec::new();
    if !rules.custom_catalog {
        schema_rules = rules::schema_rules(&rules.schema)?;
        metadata_rules.extend(rules::select_rules(&["!*.*"]));
        metadata_rules.extend(rules::select_rules(&rules.select));
        metadata_rules.extend(rules::metadata_rules(&rules.metadata)?);
    }
    metadata_rules.extend(rules::select_filter_rules(&rules.select_filter));

    if !schema_rules.is_empty() {
        let mut executor = visit::SchemaExecutor {
            rules: &schema_rules,
            current: visit::Current::None,
        };
        visit::visit(catalog, &mut executor)?;
    }
    let mut warnings = Vec::new();
    if !metadata_rules.is_empty() {
        warnings = missing_targets(&metadata_rules, catalog)?;
        let mut executor = visit::MetadataExecutor {
            rules: &metadata_rules,
            current: visit::Current::None,
            pending: Vec::new(),
        };
        visit::visit(catalog, &mut executor)?;
    }
    Ok(Selection {
        warnings,
        rewritten: !schema_rules.is_empty() || !metadata_rules.is_empty(),
    })
}

/// Python's `fnmatch.fnmatch(name, pattern)` on POSIX, the matcher of every rule here:
/// `*`, `?`, `[…]`, `[!…]`, case-sensitive, no escape character, `*` crosses `.`.
pub fn fnmatch(name: &str, pattern: &str) -> bool {
    fnmatch::fnmatch(name, pattern)
}

/// `warn_property_not_found`: rules on one literal stream (no `*`) that is not in the catalog,
/// or on a property path (up to its first `*` part) that the stream's schema lacks.
fn missing_targets(
    rules: &[rules::MetadataRule],
    catalog: &Value,
) -> Result<Vec<Warning>, CatalogError> {
    let invalid = |what: &str| CatalogError::Invalid(format!("{what} (Meltano fails here)"));
    let Value::Object(catalog) = catalog else {
        return Err(invalid("the catalog is not a mapping"));
    };
    let listed: Vec<&Value> = match catalog.get("streams") {
        None | Some(Value::Object(_) | Value::String(_)) => Vec::new(),
        Some(Value::Array(streams)) => streams.iter().collect(),
        Some(_) => return Err(invalid("`streams` is not a list")),
    };
    // Later streams with the same ID replace earlier ones, as in Meltano's dict.
    let mut streams = Map::new();
    for stream in listed {
        if let Some(id) = stream.get("tap_stream_id").and_then(Value::as_str) {
            streams.insert(id.to_owned(), stream.clone());
        }
    }
    let mut seen = BTreeSet::new();
    let mut warnings = Vec::new();
    for rule in rules {
        let Some(stream_id) = rule.target.stream.as_deref() else {
            continue;
        };
        if stream_id.contains('*') {
            continue;
        }
        let warning = match streams.get(stream_id) {
            None => Warning::MissingStream(stream_id.to_owned()),
            Some(stream) => {
                let path: Vec<&String> = rule
                    .target
                    .parts
                    .iter()
                    .take_while(|part| !part.contains('*'))
                    .collect();
                if path.len() <= 1 {
                    continue;
                }
                let found = walk(stream.get("schema"), &path)
                    .ok_or_else(|| invalid("a schema node on a rule's path is not a mapping"))?;
                // A missing key is Python's `{}`: false.
                if found.is_some_and(python_json::truthy) {
                    continue;
                }
                Warning::MissingProperty {
                    stream: stream_id.to_owned(),
                    property: rule.target.parts[1..].join("."),
                }
            }
        };
        if seen.insert(warning.clone()) {
            warnings.push(warning);
        }
    }
    Ok(warnings)
}

/// `reduce(lambda d, k: d.get(k, {}), path, stream.get("schema", {}))`: `Some(None)` when a
/// key is missing (Python's `{}`), `None` when `.get` meets a non-mapping (an
/// `AttributeError`).
fn walk<'a>(schema: Option<&'a Value>, path: &[&String]) -> Option<Option<&'a Value>> {
    let mut node = schema;
    for key in path {
        node = match node {
            None => None,
            Some(Value::Object(map)) => map.get(key.as_str()),
            Some(_) => return None,
        };
    }
    Some(node)
}

/// The catalog file's text, byte for byte what Meltano writes after applying the rules
/// (`json.dumps(catalog, indent=2)`, no trailing newline).
pub fn catalog_file(catalog: &Value) -> String {
    python_json::dumps(catalog, Some(2))
}

/// The command-line flag that hands the catalog to a tap: `--catalog` with the `catalog`
/// capability, else `--properties` with `properties`, else none (then Meltano applies no
/// rules either).
pub fn catalog_flag<S: AsRef<str>>(capabilities: &[S]) -> Option<&'static str> {
    let has = |name: &str| capabilities.iter().any(|c| c.as_ref() == name);
    if has("catalog") {
        Some("--catalog")
    } else if has("properties") {
        Some("--properties")
    } else {
        None
    }
}

/// Meltano's catalog cache key (`SingerTap.catalog_cache_key`): the SHA-1, in hex, of
/// `json.dumps({**config, "_schema": schema, "_metadata": metadata})`, where `config` is every
/// non-extra setting of the extractor in definition order, with its resolved value (`null` when
/// unset) under its flat name (`db.host`, not nested). Selection rules are not part of it:
/// `!*.*` resets `selected` on every run. A cached catalog is reused while its stored key
/// equals this one.
///
/// `None` means "never cache", as in Meltano: no `pip_url` (a plugin in development), an
/// editable one (`-e …`), or a custom catalog.
pub fn cache_key(
    pip_url: Option<&str>,
    config: &Map<String, Value>,
    rules: &Rules,
) -> Option<String> {
    let pip_url = pip_url?;
    if pip_url.starts_with("-e") || rules.custom_catalog {
        return None;
    }
    let mut key = config.clone();
    key.insert("_schema".to_owned(), rules.schema.clone());
    key.insert("_metadata".to_owned(), rules.metadata.clone());
    let text = python_json::dumps(&Value::Object(key), None);
    let digest = Sha1::digest(text.as_bytes());
    Some(digest.iter().map(|byte| format!("{byte:02x}")).collect())
}

#[cfg(test)]
mod tests;
