//! Meltano's plugin lock files: `plugins/<type>/<name>--<variant>.lock`
//! (`PluginLockService.plugin_lock_path`, `core/plugin_lock_service.py`).
//!
//! Reading gives a [`Definition`]. Writing produces the bytes Meltano writes when it locks a Hub
//! definition (`PluginLockService.save_definition`): the definition becomes a
//! `StandalonePlugin` ([`standalone`]), which `json.dump(indent=2)` prints followed by a newline
//! ([`render`]). The rules of `Canonical.__iter__` (`core/behavior/canonical.py`) decide what is
//! kept: a value is written when it is truthy in Python's sense or is the boolean `false`; a
//! setting's `value` is written unless it is null; extras are written as they are, even when
//! empty. Meltano drops `hidden` on the way (it becomes a presentation attribute of the
//! definition) and writes `label` as the plugin name when the Hub has none.
//!
//! Lock files written before Meltano 3.6 have no trailing newline; [`render`] always adds it.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::definition::{Definition, DefinitionError, NAMED_KEYS};
use crate::meltano::PluginType;
use crate::meltano::SettingKind;
use crate::meltano::python_json;
use crate::meltano::setting_kind::normalize_kind;

/// The top-level keys of a lock file, in the order `StandalonePlugin` writes them; extras follow.
pub const PLUGIN_KEYS: [&str; 20] = [
    "plugin_type",
    "name",
    "namespace",
    "variant",
    "label",
    "docs",
    "repo",
    "pip_url",
    "python",
    "executable",
    "description",
    "logo_url",
    "capabilities",
    "settings_group_validation",
    "settings",
    "commands",
    "requires",
    "requires_meltano",
    "env",
    "supported_python_versions",
];

/// The keys of a setting, in the order `SettingDefinition` writes them; other keys follow.
const SETTING_KEYS: [&str; 18] = [
    "name",
    "aliases",
    "env",
    "env_aliases",
    "kind",
    "value",
    "label",
    "documentation",
    "description",
    "tooltip",
    "options",
    "oauth",
    "placeholder",
    "env_specific",
    "hidden",
    "sensitive",
    "value_processor",
    "value_post_processor",
];

/// Setting keys Meltano consumes without writing them back (`custom` becomes `_custom`).
const SETTING_DROPPED_KEYS: [&str; 1] = ["custom"];

/// The keys of a command's mapping form, in `Command`'s order.
const COMMAND_KEYS: [&str; 3] = ["args", "description", "executable"];

/// The keys of a command's `container_spec`, in `ContainerSpec`'s order.
const CONTAINER_SPEC_KEYS: [&str; 6] =
    ["image", "command", "entrypoint", "ports", "volumes", "env"];

/// A lock file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// It could not be read (the message names the path).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// It is not JSON.
    #[error("{path}: not valid JSON: {source}")]
    Json {
        /// The lock file.
        path: PathBuf,
        /// The parser's message.
        source: serde_json::Error,
    },
    /// It is JSON but not an object.
    #[error("{path}: expected a JSON object")]
    NotAnObject {
        /// The lock file.
        path: PathBuf,
    },
    /// It is an object without the shape of a definition.
    #[error("{path}: {source}")]
    Definition {
        /// The lock file.
        path: PathBuf,
        /// What is wrong.
        source: DefinitionError,
    },
}

/// Where Meltano keeps the lock file of `name` (an inheriting plugin's `inherit_from`) and
/// `variant` under `project_root`: `<name>.lock` when the variant is missing or empty.
#[must_use]
pub fn path(
    project_root: &Path,
    plugin_type: PluginType,
    name: &str,
    variant: Option<&str>,
) -> PathBuf {
    let file = match variant {
        Some(variant) if !variant.is_empty() => format!("{name}--{variant}.lock"),
        _ => format!("{name}.lock"),
    };
    project_root
        .join("plugins")
        .join(plugin_type.as_str())
        .join(file)
}

/// Read the lock file at `path`, a definition of `plugin_type`.
///
/// # Errors
/// When it cannot be read, is not a JSON object, or does not have a definition's shape.
pub fn read(path: &Path, plugin_type: PluginType) -> Result<Definition, LockError> {
    let text = crate::project::read_text(path)?;
    parse(path, plugin_type, &text)
}

/// Parse lock file text (`path` is only used in errors).
///
/// # Errors
/// As [`read`], except for I/O.
pub fn parse(path: &Path, plugin_type: PluginType, text: &str) -> Result<Definition, LockError> {
    let value: Value = serde_json::from_str(text).map_err(|source| LockError::Json {
        path: path.to_owned(),
        source,
    })?;
    let Value::Object(map) = value else {
        return Err(LockError::NotAnObject {
            path: path.to_owned(),
        });
    };
    Definition::from_json(plugin_type, map).map_err(|source| LockError::Definition {
        path: path.to_owned(),
        source,
    })
}

/// The lock file Meltano writes for `definition` (from the Hub), byte for byte.
///
/// Rendering a definition read from a lock file gives that file back when Meltano wrote it from
/// the same data, except where Meltano's normalisation is not idempotent: a setting written as
/// `kind: password` + `sensitive: true` reads back as `kind: string`. To write a lock file
/// back unchanged, use [`to_text`] on [`Definition::raw`].
#[must_use]
pub fn render(definition: &Definition) -> String {
    to_text(&standalone(definition))
}

/// A JSON object as Meltano writes a lock file: `json.dump(indent=2)` and a newline.
#[must_use]
pub fn to_text(object: &Map<String, Value>) -> String {
    let mut text = python_json::dumps(&Value::Object(object.clone()), Some(2));
    text.push('\n');
    text
}

/// A lock file that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write `{}`: {source}", path.display())]
pub struct WriteError {
    /// The lock file (not the temporary file beside it).
    pub path: PathBuf,
    /// What failed.
    pub source: std::io::Error,
}

/// Write the lock file for `definition` to `path` (see [`write_text`]).
///
/// # Errors
/// When the directory or file cannot be written.
pub fn write(path: &Path, definition: &Definition) -> Result<(), WriteError> {
    write_text(path, &render(definition))
}

/// Write `text` to `path` atomically, creating its directory: the text goes to a temporary file
/// in the same directory, which then replaces `path` by a rename. A reader (Meltano in another
/// shell) sees the old file or the new one, and a failure leaves the old one and no temporary.
///
/// # Errors
/// When the directory or file cannot be written; the error names `path`.
#[allow(
    clippy::disallowed_methods,
    reason = "WriteError carries the path already"
)]
pub fn write_text(path: &Path, text: &str) -> Result<(), WriteError> {
    use std::io::Write as _;
    let error = |source| WriteError {
        path: path.to_owned(),
        source,
    };
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(directory).map_err(error)?;
    let file_name = path.file_name().unwrap_or_default().to_string_lossy();
    // One writer per process and file: the process id keeps two meltc runs apart.
    let temporary = directory.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let written = std::fs::File::create(&temporary)
        .and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written.map_err(error)
}

/// The `StandalonePlugin` object Meltano builds from `definition` (its `canonical()` form).
#[must_use]
pub fn standalone(definition: &Definition) -> Map<String, Value> {
    let raw = definition.raw();
    let mut out = Map::new();
    for key in PLUGIN_KEYS {
        let value = match key {
            "plugin_type" => Some(Value::from(definition.plugin_type.as_str())),
            // `PluginDefinition` defaults its label to the name.
            "label" => Some(
                present(raw, key)
                    .cloned()
                    .unwrap_or_else(|| Value::from(definition.name.as_str())),
            ),
            "settings" => present(raw, key).map(|settings| map_array(settings, setting)),
            "commands" => present(raw, key).map(|commands| map_object(commands, command)),
            "requires" => present(raw, key)
                .map(|requires| map_object(requires, |items| map_array(items, requirement))),
            _ => present(raw, key).cloned(),
        };
        if let Some(value) = value {
            insert_if_kept(&mut out, key, value);
        }
    }
    // Extras are flattened into the object unfiltered (`Canonical._flattened`).
    for (key, value) in raw {
        if !NAMED_KEYS.contains(&key.as_str()) {
            out.insert(key.clone(), value.clone());
        }
    }
    out
}

/// `SettingDefinition.canonical()`.
fn setting(raw: &Value) -> Value {
    let Some(map) = raw.as_object() else {
        return raw.clone();
    };
    let flag = |key: &str| map.get(key).and_then(Value::as_bool);
    let kind = map
        .get("kind")
        .and_then(Value::as_str)
        .and_then(SettingKind::parse);
    let (kind, hidden, sensitive) = normalize_kind(kind, flag("hidden"), flag("sensitive"));
    let mut out = Map::new();
    for key in SETTING_KEYS {
        let value = match key {
            "kind" => kind.map(|kind| Value::from(kind.as_str())),
            "hidden" => hidden.map(Value::from),
            "sensitive" => sensitive.map(Value::from),
            _ => present(map, key).cloned(),
        };
        match value {
            // `value` is `_verbatim`: kept whenever it is not None, even `0` or `""`.
            Some(value) if key == "value" => {
                out.insert(key.to_owned(), value);
            }
            Some(value) => insert_if_kept(&mut out, key, value),
            None => {}
        }
    }
    for (key, value) in map {
        if !SETTING_KEYS.contains(&key.as_str()) && !SETTING_DROPPED_KEYS.contains(&key.as_str()) {
            insert_if_kept(&mut out, key, value.clone());
        }
    }
    Value::Object(out)
}

/// `Command.canonical()`: the bare `args` string when nothing else is set.
fn command(raw: &Value) -> Value {
    let map = match raw {
        Value::Object(map) => map.clone(),
        other => Map::from_iter([("args".to_owned(), other.clone())]),
    };
    let mut out = Map::new();
    for key in COMMAND_KEYS {
        if let Some(value) = present(&map, key) {
            insert_if_kept(&mut out, key, value.clone());
        }
    }
    if let Some(Value::Object(spec)) = present(&map, "container_spec") {
        let spec = pick(spec, &CONTAINER_SPEC_KEYS);
        // An empty Canonical is skipped like a falsy value.
        if !spec.is_empty() {
            out.insert("container_spec".to_owned(), Value::Object(spec));
        }
    }
    match (out.len(), out.get("args")) {
        (1, Some(args)) => args.clone(),
        _ => Value::Object(out),
    }
}

/// `PluginRequirement.canonical()`.
fn requirement(raw: &Value) -> Value {
    match raw.as_object() {
        Some(map) => Value::Object(pick(map, &["name", "variant"])),
        None => raw.clone(),
    }
}

/// The kept values of `keys` from `map`, in the order of `keys`.
fn pick(map: &Map<String, Value>, keys: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    for &key in keys {
        if let Some(value) = present(map, key) {
            insert_if_kept(&mut out, key, value.clone());
        }
    }
    out
}

fn present<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).filter(|value| !value.is_null())
}

/// `Canonical.__iter__`: keep truthy values and `false`.
fn insert_if_kept(out: &mut Map<String, Value>, key: &str, value: Value) {
    if truthy(&value) || value == Value::Bool(false) {
        out.insert(key.to_owned(), value);
    }
}

/// Python's truthiness of a JSON value.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_f64().is_some_and(|number| number != 0.0),
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

fn map_array(value: &Value, each: impl Fn(&Value) -> Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(each).collect()),
        other => other.clone(),
    }
}

fn map_object(value: &Value, each: impl Fn(&Value) -> Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.clone(), each(value)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[track_caller]
    fn check(plugin_type: PluginType, definition: Value, expected: &str) {
        let Value::Object(map) = definition else {
            panic!("test input must be an object")
        };
        let definition = Definition::from_json(plugin_type, map).unwrap();
        assert_eq!(render(&definition), expected);
    }

    #[test]
    fn orders_keys_and_drops_empty_values_like_meltano() {
        let definition = json!({
            "capabilities": [],
            "description": "",
            "dialect": "sqlite",
            "hidden": true,
            "name": "target-x",
            "namespace": "target_x",
            "pip_url": "target-x",
            "settings": [
                {"description": "D", "kind": "password", "label": "P", "name": "password"},
                {"kind": "boolean", "name": "flag", "value": false, "sensitive": false},
                {"name": "count", "value": 0, "options": [], "custom": true, "extra": 0, "other": "é"}
            ],
            "settings_group_validation": [],
            "target_schema": null,
            "variant": "v"
        });
        let expected = r#"{
  "plugin_type": "loaders",
  "name": "target-x",
  "namespace": "target_x",
  "variant": "v",
  "label": "target-x",
  "pip_url": "target-x",
  "settings": [
    {
      "name": "password",
      "kind": "password",
      "label": "P",
      "description": "D",
      "sensitive": true
    },
    {
      "name": "flag",
      "kind": "boolean",
      "value": false,
      "sensitive": false
    },
    {
      "name": "count",
      "value": 0,
      "other": "\u00e9"
    }
  ],
  "dialect": "sqlite",
  "target_schema": null
}
"#;
        check(PluginType::Loaders, definition, expected);
    }

    #[test]
    fn commands_collapse_to_args_and_requirements_keep_their_order() {
        let definition = json!({
            "name": "u",
            "namespace": "u",
            "commands": {
                "a": "--a",
                "b": {"args": "--b"},
                "c": {"description": "C", "args": "--c", "container_spec": {"ports": {}, "image": "i"}},
                "d": {"args": "", "description": "D"}
            },
            "requires": {"files": [{"variant": "meltano", "name": "files-u"}]},
            "label": "U"
        });
        let expected = r#"{
  "plugin_type": "utilities",
  "name": "u",
  "namespace": "u",
  "label": "U",
  "commands": {
    "a": "--a",
    "b": "--b",
    "c": {
      "args": "--c",
      "description": "C",
      "container_spec": {
        "image": "i"
      }
    },
    "d": {
      "description": "D"
    }
  },
  "requires": {
    "files": [
      {
        "name": "files-u",
        "variant": "meltano"
      }
    ]
  }
}
"#;
        check(PluginType::Utilities, definition, expected);
    }

    #[test]
    fn lock_paths_follow_meltano() {
        let root = Path::new("/p");
        let cases = [
            (
                Some("meltanolabs"),
                "/p/plugins/extractors/tap-x--meltanolabs.lock",
            ),
            (Some(""), "/p/plugins/extractors/tap-x.lock"),
            (None, "/p/plugins/extractors/tap-x.lock"),
        ];
        for (variant, expected) in cases {
            assert_eq!(
                path(root, PluginType::Extractors, "tap-x", variant),
                Path::new(expected)
            );
        }
    }
}
