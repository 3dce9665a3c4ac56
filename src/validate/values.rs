//! Plain scalars that Meltano reads one way at run time (YAML 1.2) and another way in
//! `meltano compile` (YAML 1.1): reference/meltano-spec.md §1.1 and §10.4.

use crate::diagnostics::{Diagnostic, codes};
use crate::project::Project;
use crate::yaml::{Ambiguity, Node, ScalarStyle, Value, ambiguity};

/// Report every ambiguous plain scalar value in every file.
pub fn check(project: &Project, diagnostics: &mut Vec<Diagnostic>) {
    for file in &project.files {
        if let Some(root) = &file.root {
            let source = project.sources.get(file.id).contents();
            walk(root, source, diagnostics);
        }
    }
}

fn walk(node: &Node, source: &str, diagnostics: &mut Vec<Diagnostic>) {
    match &node.value {
        Value::Sequence(items) => items
            .iter()
            .for_each(|item| walk(item, source, diagnostics)),
        Value::Mapping(mapping) => mapping
            .values()
            .for_each(|(_, value)| walk(value, source, diagnostics)),
        _ if node.style == ScalarStyle::Plain => {
            let text = source
                .get(node.span.start..node.span.end)
                .unwrap_or_default();
            if let Some(kind) = ambiguity(text) {
                diagnostics.push(finding(kind, text, node));
            }
        }
        _ => {}
    }
}

fn finding(kind: Ambiguity, text: &str, node: &Node) -> Diagnostic {
    let quoted = format!("'{text}'");
    match kind {
        Ambiguity::Bool => Diagnostic::new(&codes::YAML_AMBIGUOUS_BOOL, format!("unquoted `{text}` is read as a string at run time but as a boolean by `meltano compile`"))
            .at(node.span, "ambiguous value")
            .help(format!("write `{quoted}` for the text, or `true`/`false` for a boolean")),
        Ambiguity::Number => {
            let meaning = match &node.value {
                Value::Int(value) => format!("the integer {value}"),
                _ => "a string".to_owned(),
            };
            Diagnostic::new(&codes::YAML_AMBIGUOUS_NUMBER, format!("unquoted `{text}` is {meaning} at run time, but YAML 1.1 (`meltano compile`) reads it differently"))
                .at(node.span, "ambiguous number")
                .help(format!("write `{quoted}` for the text, or the number without leading zeros or colons"))
        }
        Ambiguity::Date => Diagnostic::new(&codes::YAML_UNQUOTED_DATE, format!("unquoted date `{text}` becomes a date object at run time and reaches the plugin as an ISO string"))
            .at(node.span, "unquoted date")
            .help(format!("write `{quoted}` so every reader sees the same text")),
    }
}
