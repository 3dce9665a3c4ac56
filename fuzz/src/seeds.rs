//! The seed inputs of every fuzz target, built from the repository (golden/, examples/,
//! tests/data/) and the shared corpus of real projects (`../shared/corpus`). The replay test
//! runs each target over them; `scripts/fuzz` writes them out as libFuzzer's starting corpus.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::harness::FILE_MARKER;

/// Stored state documents as Meltano writes and reads them, and the near misses.
const STATE_DOCUMENTS: [&str; 9] = [
    r#"{"completed": {"singer_state": {"bookmarks": {"users": {"n": 3}}}}, "partial": {}}"#,
    r#"{"completed": {}, "partial": {"singer_state": {"bookmarks": {"users": {"n": 3}}}}}"#,
    r#"{"completed": {"singer_state": {"a": [1, 2.5, null, true]}}, "partial": {"singer_state": {"a": {"b": 1}}}}"#,
    r#"{"singer_state": {"bookmarks": {}}}"#,
    r#"{"completed": null, "partial": []}"#,
    "[]",
    "{}",
    r#"{"completed": {"singer_state": {"x": "\u00e9\ud83d\ude00"}}, "partial": {"k": 1e400}}"#,
    "dev:tap-github-to-target-postgres:blue",
];

/// Select and filter pattern lines, Meltano's grammar including its odd corners.
const PATTERN_LINES: [&str; 6] = [
    "*.*",
    "users.*,!users.n",
    "!*.*,users.n",
    "[a-z]*.id,?sers.*",
    "users.address.properties.city,[!u]*",
    "*,[,[]],**.*.*",
];

/// Each target's seed inputs.
#[must_use]
pub fn seeds(repo: &Path, shared: &Path, target: &str) -> Vec<Vec<u8>> {
    let projects = project_folders(repo, shared);
    match target {
        "project_load" | "validate" => projects.iter().map(|p| project_input(p)).collect(),
        "expand" => template_lines(&projects),
        "select_match" => catalog_inputs(repo),
        "state_document" => STATE_DOCUMENTS
            .iter()
            .map(|d| d.as_bytes().to_vec())
            .collect(),
        _ => Vec::new(),
    }
}

/// Every folder that holds a meltano.yml: the golden inputs, the example, the corpus.
fn project_folders(repo: &Path, shared: &Path) -> Vec<PathBuf> {
    let mut folders = BTreeSet::new();
    for base in [
        repo.join("golden"),
        repo.join("golden-build"),
        repo.join("examples"),
        repo.join("tests/fixtures"),
        shared.join("corpus"),
    ] {
        for entry in walkdir::WalkDir::new(base).into_iter().flatten() {
            if entry.file_name() == "meltano.yml" {
                if let Some(parent) = entry.path().parent() {
                    folders.insert(parent.to_path_buf());
                }
            }
        }
    }
    folders.into_iter().collect()
}

/// A project as one input: meltano.yml, then each other YAML file under a marker line.
pub fn project_input(folder: &Path) -> Vec<u8> {
    let mut text = fs_err::read_to_string(folder.join("meltano.yml")).unwrap_or_default();
    let mut others: Vec<PathBuf> = walkdir::WalkDir::new(folder)
        .min_depth(1)
        .into_iter()
        .flatten()
        .map(walkdir::DirEntry::into_path)
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == "yml" || ext == "yaml")
                && path != &folder.join("meltano.yml")
        })
        .collect();
    others.sort();
    for path in others {
        let name = path.strip_prefix(folder).unwrap_or(&path).to_string_lossy();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!("{FILE_MARKER}{name}\n"));
        text.push_str(&fs_err::read_to_string(&path).unwrap_or_default());
    }
    text.into_bytes()
}

/// The values with a `$` in them, one input each.
fn template_lines(projects: &[PathBuf]) -> Vec<Vec<u8>> {
    let mut lines = BTreeSet::new();
    for folder in projects {
        let text = String::from_utf8_lossy(&project_input(folder)).into_owned();
        for line in text.lines().filter(|line| line.contains('$')) {
            let value = line.split_once(": ").map_or(line, |(_, value)| value);
            lines.insert(value.trim().to_owned());
        }
    }
    lines.into_iter().map(String::into_bytes).collect()
}

/// Each pattern line over each catalog of tests/data/catalog.
fn catalog_inputs(repo: &Path) -> Vec<Vec<u8>> {
    let mut catalogs: Vec<String> = walkdir::WalkDir::new(repo.join("tests/data/catalog"))
        .into_iter()
        .flatten()
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "json"))
        .filter_map(|entry| fs_err::read_to_string(entry.path()).ok())
        .collect();
    catalogs.push(
        r#"{"streams": [{"tap_stream_id": "users", "schema": {"properties": {"n": {"type": "integer"}, "address": {"properties": {"city": {}}}}}, "metadata": [{"breadcrumb": [], "metadata": {"inclusion": "available"}}]}]}"#
            .to_owned(),
    );
    let mut inputs = Vec::new();
    for catalog in &catalogs {
        for patterns in PATTERN_LINES {
            inputs.push(format!("{patterns}\nusers\n{catalog}").into_bytes());
        }
    }
    inputs
}
