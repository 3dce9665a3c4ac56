//! Build meltc's bundled Hub index (`data/hub/`) from a snapshot of the `meltano/hub`
//! repository (github.com/meltano/hub), the folder `meltc dev import-hub --hub DIR` is given.
//!
//! Input: `_data/meltano/<type>/<name>/<variant>.yml` (one definition per variant; the variant
//! is the file name), `_data/default_variants.yml`, and the snapshot's README for the commit
//! and date. Output: the two files described in [`super`], as a map from relative path to
//! bytes, identical for identical input.
//!
//! What is dropped is what the Hub's API drops before Meltano ever sees a definition
//! (`SKIP_FIELDS_BY_TYPE` in `utility_scripts/api/make_files.py` upstream): the website-only keys
//! in [`WEBSITE_ONLY_KEYS`], and `hidden` for every type but extractors and loaders. `docs` goes
//! too, since the API replaces it with the plugin's Hub page (re-added when a definition is
//! read). Everything else is kept as written, in the data file's key order: that order decides
//! the order of the extras in a lock file, and Meltano's lock writer imposes its own order on
//! the named keys anyway. Plugin directories whose name starts with `.` are skipped, as the API
//! skips them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::{DEFINITIONS_FILE, FORMAT, INDEX_FILE};
use crate::diagnostics::{FileId, SourceFile};
use crate::meltano::PluginType;
use crate::resolve::definition::Definition;

/// Keys of a Hub data file used only by the website.
pub const WEBSITE_ONLY_KEYS: [&str; 9] = [
    "keywords",
    "maintenance_status",
    "domain_url",
    "definition",
    "next_steps",
    "settings_preamble",
    "usage",
    "prereq",
    "quality",
];

/// The generated index files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedIndex {
    /// Relative path (`index.json`, `definitions.jsonl`) -> contents.
    pub files: BTreeMap<String, Vec<u8>>,
    /// How many plugins were imported.
    pub plugins: usize,
    /// How many variant definitions were imported.
    pub variants: usize,
}

/// A Hub snapshot that cannot be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A file or directory could not be read or written (the message names the path).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A data file is not valid YAML.
    #[error("{path}: {message}")]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The loader's message.
        message: String,
    },
    /// A data file is not what the Hub's schema allows.
    #[error("{path}: {message}")]
    Data {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// One variant's definition, ready to be written.
struct Variant {
    line: String,
}

/// One plugin: its variants by name.
type Plugins = BTreeMap<String, BTreeMap<String, Variant>>;

/// Import the Hub snapshot at `hub_dir`.
///
/// # Errors
/// When a file cannot be read or parsed, or a data file's `name`/`variant` disagree with its
/// path.
pub fn import_hub(hub_dir: &Path) -> Result<ImportedIndex, ImportError> {
    let (commit, date) = snapshot_version(&hub_dir.join("README.md"))?;
    let defaults = default_variants(&hub_dir.join("_data/default_variants.yml"))?;
    let mut by_type = BTreeMap::new();
    for plugin_type in PluginType::ALL {
        by_type.insert(
            plugin_type,
            read_type(&hub_dir.join("_data/meltano"), plugin_type)?,
        );
    }
    let mut definitions = String::new();
    let mut index = format!(
        "{{\n\"format\": {FORMAT},\n\"source\": {},\n\"date\": {},\n\"plugins\": {{",
        Value::from(format!("meltano/hub@{commit}")),
        Value::from(date)
    );
    let (mut plugin_count, mut variant_count) = (0, 0);
    for (type_position, (plugin_type, plugins)) in by_type.iter().enumerate() {
        let separator = if type_position == 0 { "" } else { "," };
        index.push_str(&format!(
            "{separator}\n{}: {{",
            Value::from(plugin_type.as_str())
        ));
        for (plugin_position, (name, variants)) in plugins.iter().enumerate() {
            let default = defaults
                .get(&(*plugin_type, name.clone()))
                .filter(|variant| variants.contains_key(*variant))
                .map_or(Value::Null, |variant| Value::from(variant.as_str()));
            let mut ranges = Map::new();
            for (variant, definition) in variants {
                ranges.insert(
                    variant.clone(),
                    Value::from(vec![definitions.len(), definition.line.len()]),
                );
                definitions.push_str(&definition.line);
                definitions.push('\n');
                variant_count += 1;
            }
            let entry = serde_json::json!({"default_variant": default, "variants": ranges});
            let separator = if plugin_position == 0 { "" } else { "," };
            index.push_str(&format!(
                "{separator}\n{}: {}",
                Value::from(name.as_str()),
                one_line(&entry)
            ));
            plugin_count += 1;
        }
        index.push_str(if plugins.is_empty() { "}" } else { "\n}" });
    }
    index.push_str("\n}\n}\n");
    let files = BTreeMap::from([
        (INDEX_FILE.to_owned(), index.into_bytes()),
        (DEFINITIONS_FILE.to_owned(), definitions.into_bytes()),
    ]);
    Ok(ImportedIndex {
        files,
        plugins: plugin_count,
        variants: variant_count,
    })
}

/// Import the snapshot at `hub_dir` and write the index files into `out_dir` (for
/// `meltc dev import-hub`).
///
/// # Errors
/// As [`import_hub`], and when a file cannot be written.
pub fn write_index(hub_dir: &Path, out_dir: &Path) -> Result<ImportedIndex, ImportError> {
    let imported = import_hub(hub_dir)?;
    fs_err::create_dir_all(out_dir)?;
    for (name, contents) in &imported.files {
        fs_err::write(out_dir.join(name), contents)?;
    }
    Ok(imported)
}

/// `{"a": 1, "b": [2, 3]}` on one line, for a diff-friendly index with one plugin per line.
fn one_line(value: &Value) -> String {
    crate::meltano::python_json::dumps(value, None)
}

/// The commit and commit date from the snapshot README: ``Commit: `<sha>` (commit date
/// YYYY-MM-DD``.
fn snapshot_version(readme: &Path) -> Result<(String, String), ImportError> {
    let text = fs_err::read_to_string(readme)?;
    let missing = || ImportError::Data {
        path: readme.to_owned(),
        message: "no line ``Commit: `<sha>` (commit date YYYY-MM-DD`` found".to_owned(),
    };
    let after_commit = text.split_once("Commit: `").ok_or_else(missing)?.1;
    let (commit, rest) = after_commit.split_once('`').ok_or_else(missing)?;
    let is_sha = commit.len() == 40 && commit.bytes().all(|byte| byte.is_ascii_hexdigit());
    let date = rest
        .trim_start()
        .strip_prefix("(commit date ")
        .and_then(|rest| rest.get(..10))
        .ok_or_else(missing)?;
    let is_date = date.bytes().enumerate().all(|(index, byte)| match index {
        4 | 7 => byte == b'-',
        _ => byte.is_ascii_digit(),
    });
    if !is_sha || !is_date {
        return Err(missing());
    }
    Ok((commit.to_owned(), date.to_owned()))
}

/// `default_variants.yml`: `(type, name) -> variant`.
fn default_variants(path: &Path) -> Result<BTreeMap<(PluginType, String), String>, ImportError> {
    let document = read_yaml(path)?;
    let bad = |message: &str| ImportError::Data {
        path: path.to_owned(),
        message: message.to_owned(),
    };
    let Value::Object(types) = document else {
        return Err(bad("expected a mapping of plugin types"));
    };
    let mut defaults = BTreeMap::new();
    for (type_name, plugins) in types {
        let plugin_type =
            PluginType::parse(&type_name).ok_or_else(|| bad("unknown plugin type"))?;
        let Value::Object(plugins) = plugins else {
            return Err(bad("expected a mapping of plugin names to variants"));
        };
        for (name, variant) in plugins {
            let Value::String(variant) = variant else {
                return Err(bad("expected a variant name"));
            };
            defaults.insert((plugin_type, name), variant);
        }
    }
    Ok(defaults)
}

/// Every plugin of one type: `<root>/<type>/<name>/<variant>.yml`.
fn read_type(root: &Path, plugin_type: PluginType) -> Result<Plugins, ImportError> {
    let type_dir = root.join(plugin_type.as_str());
    let mut plugins = Plugins::new();
    if !type_dir.is_dir() {
        return Ok(plugins);
    }
    for plugin_dir in sorted_entries(&type_dir)? {
        let Some(name) = file_name(&plugin_dir) else {
            continue;
        };
        if name.starts_with('.') || !plugin_dir.is_dir() {
            continue;
        }
        let mut variants = BTreeMap::new();
        for file in sorted_entries(&plugin_dir)? {
            let Some(variant) = file_name(&file)
                .and_then(|file_name| Some(file_name.strip_suffix(".yml")?.to_owned()))
            else {
                continue;
            };
            let line = read_definition(&file, plugin_type, &name, &variant)?;
            variants.insert(variant, Variant { line });
        }
        plugins.insert(name, variants);
    }
    Ok(plugins)
}

/// One data file as a minified JSON line, checked to be a definition Meltano can read.
fn read_definition(
    path: &Path,
    plugin_type: PluginType,
    name: &str,
    variant: &str,
) -> Result<String, ImportError> {
    let bad = |message: String| ImportError::Data {
        path: path.to_owned(),
        message,
    };
    let Value::Object(mut map) = read_yaml(path)? else {
        return Err(bad("expected a mapping".to_owned()));
    };
    for (key, expected) in [("name", name), ("variant", variant)] {
        let found = map.get(key).and_then(Value::as_str);
        if found != Some(expected) {
            return Err(bad(format!(
                "`{key}` is {found:?}, expected `{expected}` (from the path)"
            )));
        }
    }
    map.retain(|key, _| !dropped_key(plugin_type, key));
    Definition::from_json(plugin_type, map.clone()).map_err(|error| bad(error.to_string()))?;
    serde_json::to_string(&map).map_err(|error| bad(error.to_string()))
}

/// Whether the Hub's API leaves `key` out (or, for `docs`, replaces it).
fn dropped_key(plugin_type: PluginType, key: &str) -> bool {
    WEBSITE_ONLY_KEYS.contains(&key)
        || key == "docs"
        || (key == "hidden" && !matches!(plugin_type, PluginType::Extractors | PluginType::Loaders))
}

fn read_yaml(path: &Path) -> Result<Value, ImportError> {
    let text = fs_err::read_to_string(path)?;
    let source = SourceFile::new(path.display().to_string(), path, text);
    let parsed = crate::yaml::parse(FileId(0), &source);
    if let Some(error) = parsed
        .diagnostics
        .iter()
        .find(|diagnostic| diagnostic.is_error())
    {
        return Err(ImportError::Yaml {
            path: path.to_owned(),
            message: error.message.clone(),
        });
    }
    Ok(parsed.root.map_or(Value::Null, |root| root.to_json()))
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, ImportError> {
    let mut paths = fs_err::read_dir(dir)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<Vec<_>, _>>()?;
    paths.sort();
    Ok(paths)
}

fn file_name(path: &Path) -> Option<String> {
    path.file_name()
        .and_then(|name| name.to_str())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, relative: &str, contents: &str) {
        let path = root.join(relative);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, contents).unwrap();
    }

    fn tiny_hub() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "README.md",
            "- Commit: `0123456789abcdef0123456789abcdef01234567` (commit date 2026-01-02)\n",
        );
        write(
            root,
            "_data/default_variants.yml",
            "extractors:\n  tap-a: b\n  tap-gone: x\nfiles:\n  files-a: missing\n",
        );
        write(
            root,
            "_data/meltano/extractors/tap-a/b.yml",
            "name: tap-a\nnamespace: tap_a\nvariant: b\nkeywords: [k]\nhidden: true\nselect: ['*.*']\ndocs: /d\n",
        );
        write(
            root,
            "_data/meltano/extractors/tap-a/a.yml",
            "name: tap-a\nnamespace: tap_a\nvariant: a\nquality: gold\n",
        );
        write(
            root,
            "_data/meltano/extractors/.hidden/x.yml",
            "name: nope\n",
        );
        write(
            root,
            "_data/meltano/files/files-a/meltano.yml",
            "name: files-a\nnamespace: files_a\nvariant: meltano\nhidden: true\nupdate: {x: true}\n",
        );
        dir
    }

    #[test]
    fn imports_a_tiny_hub() {
        let hub = tiny_hub();
        let imported = import_hub(hub.path()).unwrap();
        let definitions = String::from_utf8(imported.files[DEFINITIONS_FILE].clone()).unwrap();
        assert_eq!(
            definitions,
            concat!(
                r#"{"name":"tap-a","namespace":"tap_a","variant":"a"}"#,
                "\n",
                r#"{"name":"tap-a","namespace":"tap_a","variant":"b","hidden":true,"select":["*.*"]}"#,
                "\n",
                r#"{"name":"files-a","namespace":"files_a","variant":"meltano","update":{"x":true}}"#,
                "\n",
            )
        );
        let index = String::from_utf8(imported.files[INDEX_FILE].clone()).unwrap();
        let expected = r#"{
"format": 1,
"source": "meltano/hub@0123456789abcdef0123456789abcdef01234567",
"date": "2026-01-02",
"plugins": {
"extractors": {
"tap-a": {"default_variant": "b", "variants": {"a": [0, 50], "b": [51, 81]}}
},
"loaders": {},
"transforms": {},
"orchestrators": {},
"transformers": {},
"files": {
"files-a": {"default_variant": null, "variants": {"meltano": [133, 80]}}
},
"utilities": {},
"mappers": {}
}
}
"#;
        assert_eq!(index, expected);
        assert_eq!((imported.plugins, imported.variants), (2, 3));
        // The output reads back.
        let read = super::super::HubIndex::from_parts(&index, &definitions).unwrap();
        let plugin = read.plugin(PluginType::Files, "files-a").unwrap();
        assert_eq!(
            plugin.definition(Some("meltano")).unwrap().unwrap().extras["update"]["x"],
            true
        );
    }

    #[test]
    fn rejects_a_definition_whose_name_disagrees_with_its_path() {
        let hub = tiny_hub();
        write(
            hub.path(),
            "_data/meltano/loaders/target-a/x.yml",
            "name: target-b\nnamespace: t\nvariant: x\n",
        );
        let error = import_hub(hub.path()).unwrap_err().to_string();
        assert!(
            error.ends_with("`name` is Some(\"target-b\"), expected `target-a` (from the path)"),
            "{error}"
        );
    }
}
