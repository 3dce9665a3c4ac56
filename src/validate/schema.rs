//! Each file against meltc's JSON Schema for meltano.yml (schemas/meltano.schema.json,
//! embedded), every error mapped back to the node it is about.
//!
//! The schema is strict where Meltano's run time is strict (unknown environment and job keys,
//! plugin types, names with `:`) and lenient where the run time is lenient (unknown plugin and
//! top-level keys, which `keys` reports as warnings). schemas/README.md lists every departure
//! from Meltano's own schema.

use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};

use crate::diagnostics::{Diagnostic, FileId, codes, suggest};
use crate::project::Project;
use crate::yaml::Node;

/// meltc's schema for one meltano.yml document (main or included file).
pub const SCHEMA: &str = include_str!("../../schemas/meltano.schema.json");

const ENVIRONMENT_KEYS: &[&str] = &["name", "env", "config", "state_id_suffix", "annotations"];
const JOB_KEYS: &[&str] = &["name", "tasks", "annotations"];
const PLUGIN_TYPES: &[&str] = &[
    "extractors",
    "loaders",
    "transforms",
    "orchestrators",
    "transformers",
    "files",
    "utilities",
    "mappers",
];

#[allow(
    clippy::expect_used,
    reason = "the embedded schema is data of this build; a test compiles it"
)]
fn validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let schema: serde_json::Value =
            serde_json::from_str(SCHEMA).expect("the embedded schema is JSON (tested)");
        jsonschema::validator_for(&schema).expect("the embedded schema compiles (tested)")
    })
}

/// Validate every file of the project.
pub fn check(project: &Project, diagnostics: &mut Vec<Diagnostic>) {
    for file in &project.files {
        let Some(root) = &file.root else { continue };
        check_document(file.id, root, diagnostics);
    }
}

/// Validate one document.
pub fn check_document(file: FileId, root: &Node, diagnostics: &mut Vec<Diagnostic>) {
    let instance = root.to_json();
    for error in validator().iter_errors(&instance) {
        diagnostics.extend(to_diagnostics(file, root, &error));
    }
}

fn to_diagnostics(_file: FileId, root: &Node, error: &ValidationError<'_>) -> Vec<Diagnostic> {
    let pointer = error.instance_path().as_str();
    let (node, _) = root.at_pointer(pointer);
    let place = readable(pointer);
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => unexpected
            .iter()
            .map(|key| {
                let span = root
                    .key_at_pointer(pointer, key)
                    .map_or(node.span, |key_node| key_node.span);
                let known = known_keys(pointer);
                let help = suggest::help_line(key, known.iter().copied()).unwrap_or_else(|| {
                    if known.is_empty() {
                        "remove the key: Meltano refuses it here".to_owned()
                    } else {
                        format!(
                            "Meltano refuses unknown keys here; allowed: {}",
                            known.join(", ")
                        )
                    }
                });
                Diagnostic::new(&codes::SCHEMA, format!("unknown key `{key}` in {place}"))
                    .at(span, "not allowed here")
                    .help(help)
            })
            .collect(),
        ValidationErrorKind::Required { property } => {
            let property = property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_owned);
            let span = node
                .as_mapping()
                .and_then(|m| m.values().next())
                .map_or(node.span, |(key, _)| key.span);
            vec![
                Diagnostic::new(
                    &codes::SCHEMA,
                    format!("{place} is missing the required key `{property}`"),
                )
                .at(span, format!("`{property}` missing in this mapping"))
                .help(format!("add `{property}:`")),
            ]
        }
        _ => vec![
            Diagnostic::new(
                &codes::SCHEMA,
                format!("{place}: {}", short_message(error, node)),
            )
            .at(node.span, format!("fails `{}`", error.kind().keyword()))
            .help("see schemas/meltano.schema.json for what is allowed here"),
        ],
    }
}

/// The error in words, without the (possibly huge) instance value that jsonschema puts first.
fn short_message(error: &ValidationError<'_>, node: &Node) -> String {
    if let ValidationErrorKind::Type { kind } = error.kind() {
        let expected = format!("{kind:?}")
            .replace("Single(", "")
            .replace("Multiple(", "")
            .replace(')', "");
        let expected: Vec<String> = expected
            .split(|c: char| !c.is_ascii_alphabetic())
            .filter(|word| {
                !word.is_empty() && *word != "TypeKind" && *word != "PrimitiveTypesBitMap"
            })
            .map(|word| match word.to_lowercase().as_str() {
                "object" => "a mapping".to_owned(),
                "array" => "a list".to_owned(),
                "null" => "null".to_owned(),
                other => crate::diagnostics::with_article(other),
            })
            .collect();
        if !expected.is_empty() {
            return format!(
                "expected {}, found {}",
                expected.join(" or "),
                crate::diagnostics::with_article(node.kind_name())
            );
        }
    }
    if let ValidationErrorKind::Pattern { pattern } = error.kind() {
        match pattern.as_str() {
            "^[^:]*$" => return "must not contain `:`".to_owned(),
            "^[^/]" => return "must be a path relative to the project root".to_owned(),
            _ => {}
        }
    }
    let message = error.to_string();
    if message.len() <= 160 {
        return message;
    }
    match error.kind() {
        ValidationErrorKind::Type { kind } => format!("expected {kind:?}")
            .to_lowercase()
            .replace("single(", "")
            .replace(')', ""),
        _ => format!("the value does not satisfy `{}`", error.kind().keyword()),
    }
}

fn known_keys(pointer: &str) -> &'static [&'static str] {
    let segments: Vec<&str> = pointer.split('/').skip(1).collect();
    match segments.as_slice() {
        ["environments", _] => ENVIRONMENT_KEYS,
        ["jobs", _] => JOB_KEYS,
        ["plugins"] | ["environments", _, "config", "plugins"] => PLUGIN_TYPES,
        _ => &[],
    }
}

/// `/plugins/extractors/0/name` -> `plugins.extractors[0].name`; the root is "the document".
fn readable(pointer: &str) -> String {
    if pointer.is_empty() {
        return "the document".to_owned();
    }
    let mut text = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.bytes().all(|b| b.is_ascii_digit()) && !segment.is_empty() {
            text.push_str(&format!("[{segment}]"));
        } else {
            if !text.is_empty() {
                text.push('.');
            }
            text.push_str(&segment);
        }
    }
    format!("`{text}`")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::SourceFile;

    fn messages(text: &str) -> Vec<String> {
        let root = crate::yaml::parse(FileId(0), &SourceFile::new("t", "t", text))
            .root
            .unwrap();
        let mut diagnostics = Vec::new();
        check_document(FileId(0), &root, &mut diagnostics);
        diagnostics.into_iter().map(|d| d.message).collect()
    }

    #[test]
    fn embedded_schema_compiles_and_accepts_a_small_project() {
        assert!(
            messages("plugins:\n  extractors:\n  - name: tap-x\n    namespace: tap_x\n").is_empty()
        );
    }

    #[test]
    fn errors_name_the_place() {
        assert_eq!(
            messages("environments:\n- name: dev\n  bogus: 1\n"),
            ["unknown key `bogus` in `environments[0]`"]
        );
        assert_eq!(
            messages("jobs:\n- name: j\n"),
            ["`jobs[0]` is missing the required key `tasks`"]
        );
        assert!(
            messages("plugins:\n  widgets: []\n")
                .iter()
                .any(|m| m.contains("widgets"))
        );
    }
}
