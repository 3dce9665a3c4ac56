//! Pinned catalogs: an extractor's discovered catalog stored in the project by
//! `meltc catalog`, so that `meltc build` knows the streams and a pod runs no discovery.
//!
//! The folder is `catalogs/` in the project root: `catalogs/<extractor>.json`, or
//! `catalogs/<extractor>.<environment>.json` for an environment whose discovery differs from
//! the shared file's. A file holds the catalog exactly as the tap printed it (before any
//! selection rule: the rules are applied where Meltano applies them, at build time for the
//! manifest's streams and at run time for the tap) and a `key`.
//!
//! The key decides, as Meltano's cache key does (`SingerTap.catalog_cache_key`), whether a run
//! may use the file instead of discovering: the SHA-1 of the extractor's settings and their
//! values at discovery time. Unlike Meltano's key it leaves the secret settings out: a
//! catalog is committed to git and copied into the image, and must not carry a config value,
//! nor a hash an attacker could test password guesses against; rotating a password does not
//! change what a tap discovers either. `meltc catalog` also refuses a catalog in which any
//! secret value appears (a tap that echoes its config into a description).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use sha1::{Digest, Sha1};

use crate::meltano::python_json;
use crate::meltano::setting_value::SettingValue;

/// The folder in the project root.
pub const FOLDER: &str = "catalogs";
/// The file format's version (the `meltc_catalog` field).
pub const VERSION: u64 = 1;

/// One pinned catalog file.
#[derive(Clone, Debug, PartialEq)]
pub struct Pinned {
    /// [`key`] of the settings the catalog was discovered with.
    pub key: String,
    /// The catalog as the tap printed it.
    pub catalog: Value,
}

impl Pinned {
    /// The file's text: stable key order, two-space indent, a final newline.
    #[must_use]
    pub fn to_text(&self) -> String {
        let document = json!({
            "meltc_catalog": VERSION,
            "key": self.key,
            "catalog": self.catalog,
        });
        let mut text = python_json::dumps(&document, Some(2));
        text.push('\n');
        text
    }

    /// Parse a file's text.
    ///
    /// # Errors
    /// Not JSON (`LINE:COLUMN: ` first), or not a pinned catalog of this version.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut document: Value = serde_json::from_str(text).map_err(|error| {
            format!(
                "{}:{}: not JSON: {}",
                error.line(),
                error.column(),
                strip_position(&error.to_string())
            )
        })?;
        let version = document.get("meltc_catalog").and_then(Value::as_u64);
        if version != Some(VERSION) {
            return Err(format!(
                "not a pinned catalog of version {VERSION} (`meltc_catalog: {VERSION}`); write it again with `meltc catalog`"
            ));
        }
        let key = document
            .get("key")
            .and_then(Value::as_str)
            .ok_or("no `key`")?
            .to_owned();
        let catalog = document
            .get_mut("catalog")
            .filter(|catalog| catalog.get("streams").is_some_and(Value::is_array))
            .map(Value::take)
            .ok_or("no `catalog` with a `streams` list")?;
        Ok(Self { key, catalog })
    }
}

/// The file of `extractor` for `environment` in `folder` (the project's [`FOLDER`], or the
/// image's): the environment's own file when there is one, else the shared one, else `None`.
#[must_use]
pub fn find(folder: &Path, extractor: &str, environment: Option<&str>) -> Option<PathBuf> {
    environment
        .map(|environment| folder.join(format!("{extractor}.{environment}.json")))
        .into_iter()
        .chain([folder.join(format!("{extractor}.json"))])
        .find(|path| path.is_file())
}

/// Read the pinned catalog of `extractor` for `environment`, if there is one.
///
/// # Errors
/// A file that exists but cannot be read or parsed: the path and why.
pub fn load(
    folder: &Path,
    extractor: &str,
    environment: Option<&str>,
) -> Result<Option<(PathBuf, Pinned)>, String> {
    let Some(path) = find(folder, extractor, environment) else {
        return Ok(None);
    };
    let text = fs_err::read_to_string(&path).map_err(|error| error.to_string())?;
    let pinned = Pinned::parse(&text).map_err(|error| located(&path, &error))?;
    Ok(Some((path, pinned)))
}

/// `path:LINE:COLUMN: message` for a parse error that has a position, else `path: message`.
#[must_use]
pub fn located(path: &Path, error: &str) -> String {
    let positioned = error
        .split_once(": ")
        .is_some_and(|(at, _)| at.split(':').all(|n| n.parse::<usize>().is_ok()));
    if positioned {
        format!("{}:{error}", path.display())
    } else {
        format!("{}: {error}", path.display())
    }
}

/// serde_json's message without its ` at line L column C` tail (the position leads instead).
fn strip_position(message: &str) -> &str {
    message
        .rfind(" at line ")
        .map_or(message, |at| &message[..at])
}

/// The key of a catalog discovered with `values` (module docs): the SHA-1, in hex, of
/// `json.dumps({name: value})` over the non-extra, non-secret settings in definition order
/// (`null` when unset).
#[must_use]
pub fn key(values: &[SettingValue]) -> String {
    let config: Map<String, Value> = values
        .iter()
        .filter(|value| !value.setting.name.starts_with('_') && !value.setting.sensitive)
        .map(|value| {
            (
                value.setting.name.clone(),
                value.value.clone().unwrap_or(Value::Null),
            )
        })
        .collect();
    let text = python_json::dumps(&Value::Object(config), None);
    Sha1::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The secret settings of `values` whose value appears in `catalog_text` (by name, never the
/// value). Values shorter than four characters are not searched: they would match by chance.
#[must_use]
pub fn secrets_in(values: &[SettingValue], catalog_text: &str) -> Vec<String> {
    values
        .iter()
        .filter(|value| value.setting.sensitive)
        .filter(|value| {
            let text = match &value.value {
                Some(Value::String(text)) => text.clone(),
                Some(Value::Null) | None => return false,
                Some(other) => other.to_string(),
            };
            text.chars().count() >= 4 && catalog_text.contains(&text)
        })
        .map(|value| value.setting.name.clone())
        .collect()
}

/// One difference between a pinned catalog and a fresh discovery.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// A stream discovery now lists that the pinned catalog lacks.
    StreamAdded(String),
    /// A pinned stream discovery no longer lists.
    StreamRemoved(String),
    /// A new column of a stream.
    ColumnAdded {
        /// The stream's `tap_stream_id`.
        stream: String,
        /// The column.
        column: String,
    },
    /// A column that is gone.
    ColumnRemoved {
        /// The stream's `tap_stream_id`.
        stream: String,
        /// The column.
        column: String,
    },
    /// A column whose JSON schema changed.
    ColumnChanged {
        /// The stream's `tap_stream_id`.
        stream: String,
        /// The column.
        column: String,
    },
    /// Something else of a stream changed (key properties, replication metadata).
    StreamChanged(String),
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::StreamAdded(stream) => write!(f, "stream `{stream}` added"),
            Self::StreamRemoved(stream) => write!(f, "stream `{stream}` removed"),
            Self::ColumnAdded { stream, column } => {
                write!(f, "stream `{stream}`: column `{column}` added")
            }
            Self::ColumnRemoved { stream, column } => {
                write!(f, "stream `{stream}`: column `{column}` removed")
            }
            Self::ColumnChanged { stream, column } => {
                write!(f, "stream `{stream}`: column `{column}` changed type")
            }
            Self::StreamChanged(stream) => {
                write!(f, "stream `{stream}`: keys or metadata changed")
            }
        }
    }
}

/// What changed from `pinned` to `fresh`, streams by `tap_stream_id`, sorted.
#[must_use]
pub fn changes(pinned: &Value, fresh: &Value) -> Vec<Change> {
    let old = streams_by_id(pinned);
    let new = streams_by_id(fresh);
    let mut changes = Vec::new();
    for (id, stream) in &new {
        let Some(before) = old.get(id) else {
            changes.push(Change::StreamAdded(id.clone()));
            continue;
        };
        let columns_before = properties(before);
        let columns_after = properties(stream);
        let names: BTreeSet<&String> = columns_before.keys().chain(columns_after.keys()).collect();
        for column in names {
            let change = match (columns_before.get(column), columns_after.get(column)) {
                (None, Some(_)) => Change::ColumnAdded {
                    stream: id.clone(),
                    column: column.clone(),
                },
                (Some(_), None) => Change::ColumnRemoved {
                    stream: id.clone(),
                    column: column.clone(),
                },
                (Some(a), Some(b)) if a != b => Change::ColumnChanged {
                    stream: id.clone(),
                    column: column.clone(),
                },
                _ => continue,
            };
            changes.push(change);
        }
        let rest = |stream: &Value| {
            let mut stream = stream.clone();
            if let Some(schema) = stream.get_mut("schema").and_then(Value::as_object_mut) {
                schema.remove("properties");
            }
            // Property metadata follows the columns, which are compared above.
            if let Some(Value::Array(entries)) = stream.get_mut("metadata") {
                entries.retain(|entry| {
                    entry
                        .get("breadcrumb")
                        .and_then(Value::as_array)
                        .is_none_or(Vec::is_empty)
                });
            }
            stream
        };
        if rest(before) != rest(stream) {
            changes.push(Change::StreamChanged(id.clone()));
        }
    }
    for id in old.keys() {
        if !new.contains_key(id) {
            changes.push(Change::StreamRemoved(id.clone()));
        }
    }
    changes.sort();
    changes
}

fn streams_by_id(catalog: &Value) -> std::collections::BTreeMap<String, Value> {
    catalog
        .get("streams")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|stream| {
            let id = stream.get("tap_stream_id").and_then(Value::as_str)?;
            Some((id.to_owned(), stream.clone()))
        })
        .collect()
}

fn properties(stream: &Value) -> std::collections::BTreeMap<String, Value> {
    stream
        .pointer("/schema/properties")
        .and_then(Value::as_object)
        .map(|properties| {
            properties
                .iter()
                .map(|(name, schema)| (name.clone(), schema.clone()))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(columns: &[(&str, &str)]) -> Value {
        let properties: Map<String, Value> = columns
            .iter()
            .map(|(name, kind)| ((*name).to_owned(), json!({"type": [kind, "null"]})))
            .collect();
        json!({"streams": [{
            "tap_stream_id": "public-orders",
            "schema": {"type": "object", "properties": properties},
            "metadata": [{"breadcrumb": [], "metadata": {"table-key-properties": ["id"]}}],
        }]})
    }

    #[test]
    fn a_file_round_trips_and_a_foreign_one_is_refused() {
        let pinned = Pinned {
            key: "abc".to_owned(),
            catalog: catalog(&[("id", "integer")]),
        };
        assert_eq!(Pinned::parse(&pinned.to_text()), Ok(pinned));
        let error = Pinned::parse(r#"{"streams": []}"#).unwrap_err();
        assert!(error.contains("meltc_catalog: 1"), "{error}");
    }

    #[test]
    fn changes_name_streams_and_columns() {
        let before = catalog(&[("id", "integer"), ("amount", "number")]);
        let after = catalog(&[("id", "integer"), ("amount", "string"), ("note", "string")]);
        let found: Vec<String> = changes(&before, &after)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            found,
            [
                "stream `public-orders`: column `note` added",
                "stream `public-orders`: column `amount` changed type",
            ]
        );
        assert!(changes(&before, &before).is_empty());
        let none = json!({"streams": []});
        assert_eq!(
            changes(&before, &none),
            [Change::StreamRemoved("public-orders".to_owned())]
        );
    }

    #[test]
    fn the_environment_file_wins_over_the_shared_one() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join(FOLDER);
        assert_eq!(find(&folder, "tap-x", Some("prod")), None);
        fs_err::create_dir_all(&folder).unwrap();
        fs_err::write(dir.path().join("catalogs/tap-x.json"), "{}").unwrap();
        assert_eq!(
            find(&folder, "tap-x", Some("prod")),
            Some(dir.path().join("catalogs/tap-x.json"))
        );
        fs_err::write(dir.path().join("catalogs/tap-x.prod.json"), "{}").unwrap();
        assert_eq!(
            find(&folder, "tap-x", Some("prod")),
            Some(dir.path().join("catalogs/tap-x.prod.json"))
        );
        assert_eq!(
            find(&folder, "tap-x", None),
            Some(dir.path().join("catalogs/tap-x.json"))
        );
    }
}
