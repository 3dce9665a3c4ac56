//! Plain scalars that Meltano reads one way at run time (YAML 1.2) and another way in
//! `meltano compile` (YAML 1.1): ruamel.yaml in Meltano's `core/yaml.py`, PyYAML's
//! `SafeLoader` in `core/manifest/manifest.py`; unquoted timestamps and the text each reaches
//! the plugin as ([`crate::yaml::Timestamp`]); and `env:` values Meltano cannot hand to a
//! process.

use crate::diagnostics::{Diagnostic, codes};
use crate::project::Project;
use crate::yaml::{Ambiguity, Node, Rendering, ScalarStyle, Timestamp, Value, ambiguity};

/// Report every ambiguous plain scalar value in every file.
pub fn check(project: &Project, diagnostics: &mut Vec<Diagnostic>) {
    for file in &project.files {
        if let Some(root) = &file.root {
            let source = project.sources.get(file.id).contents();
            walk(root, source, &mut Vec::new(), diagnostics);
        }
    }
}

/// One step of the way from a file's root to a node: a mapping key, or a sequence item.
#[derive(Clone, Copy)]
enum Step<'a> {
    Key(&'a str),
    Item,
}

/// Where a value sits, for what Meltano does with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place<'a> {
    /// Under a plugin's (or an environment's plugin, or a mapping's) `config:`.
    Config,
    /// A setting definition's `value:` itself.
    Default,
    /// A value of the project's top-level `env:` (passed through `str()`).
    ProjectEnv,
    /// The value of a variable in a plugin's or an environment's `env:`, handed to the process
    /// as it is.
    ProcessEnv(&'a str),
    /// Anywhere else.
    Other,
}

fn place<'a>(path: &[Step<'a>]) -> Place<'a> {
    use Step::{Item, Key};
    match path {
        [Key("env"), Key(_)] => Place::ProjectEnv,
        [Key("plugins"), Key(_), Item, Key("env"), Key(name)]
        | [Key("environments"), Item, Key("env"), Key(name)]
        | [
            Key("environments"),
            Item,
            Key("config"),
            Key("plugins"),
            Key(_),
            Item,
            Key("env"),
            Key(name),
        ] => Place::ProcessEnv(name),
        [
            Key("plugins"),
            Key(_),
            Item,
            Key("settings"),
            Item,
            Key("value"),
        ] => Place::Default,
        [Key("plugins"), Key(_), Item, Key("config"), ..]
        | [
            Key("plugins"),
            Key(_),
            Item,
            Key("settings"),
            Item,
            Key("value"),
            ..,
        ]
        | [
            Key("plugins"),
            Key(_),
            Item,
            Key("mappings"),
            Item,
            Key("config"),
            ..,
        ]
        | [
            Key("environments"),
            Item,
            Key("config"),
            Key("plugins"),
            Key(_),
            Item,
            Key("config"),
            ..,
        ] => Place::Config,
        _ => Place::Other,
    }
}

fn walk<'a>(
    node: &'a Node,
    source: &str,
    path: &mut Vec<Step<'a>>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    match &node.value {
        Value::Sequence(items) => {
            for item in items {
                path.push(Step::Item);
                walk(item, source, path, diagnostics);
                path.pop();
            }
        }
        Value::Mapping(mapping) => {
            for (key, (_, value)) in mapping {
                path.push(Step::Key(key));
                walk(value, source, path, diagnostics);
                path.pop();
            }
        }
        _ => {
            let text = source
                .get(node.span.start..node.span.end)
                .unwrap_or_default();
            diagnostics.extend(scalar(node, text, place(path)));
        }
    }
}

/// The finding for one scalar, if any.
fn scalar(node: &Node, text: &str, place: Place<'_>) -> Option<Diagnostic> {
    if let Some(Err(error)) = node.timestamp() {
        return Some(impossible(node, text, &error.to_string()));
    }
    // A null is the schema check's to report.
    let text_value =
        matches!(node.value, Value::String(_) | Value::Null) && node.timestamp().is_none();
    if let (Place::ProcessEnv(name), false) = (place, text_value) {
        return Some(env_not_text(node, text, name));
    }
    if node.style != ScalarStyle::Plain {
        return None;
    }
    if let Some(Ok(timestamp)) = node.timestamp() {
        return Some(unquoted_date(node, text, &timestamp, place));
    }
    ambiguity(text).map(|kind| finding(kind, text, node))
}

fn impossible(node: &Node, text: &str, reason: &str) -> Diagnostic {
    Diagnostic::new(
        &codes::YAML_IMPOSSIBLE_DATE,
        format!("unquoted `{text}` is a date that cannot exist ({reason}): Meltano's YAML reader stops loading the project"),
    )
    .at(node.span, "impossible date")
    .help(format!("fix the date, or write `'{text}'` if it is meant as text"))
}

fn env_not_text(node: &Node, text: &str, name: &str) -> Diagnostic {
    let what = match (&node.value, node.timestamp()) {
        (_, Some(_)) => "an unquoted date",
        (Value::Bool(_), _) => "a boolean",
        (Value::Int(_) | Value::Float(_), _) => "a number",
        _ => "not text",
    };
    let quoted = format!("'{text}'");
    Diagnostic::new(
        &codes::ENV_NOT_TEXT,
        format!("`{name}` in this `env:` is {what}, not text: `meltano run` and `meltano invoke` stop with a TypeError when they start the plugin"),
    )
    .at(node.span, "not text")
    .help(format!("quote it: `{quoted}` (only the project's top-level `env:` turns values into text)"))
}

fn unquoted_date(node: &Node, text: &str, timestamp: &Timestamp, place: Place<'_>) -> Diagnostic {
    let rendering = match place {
        Place::Config => Some(Rendering::Copied),
        Place::Default => Some(Rendering::Loaded),
        Place::ProjectEnv => Some(Rendering::Str),
        Place::ProcessEnv(_) | Place::Other => None,
    };
    let message = match rendering.map(|rendering| timestamp.render(rendering)) {
        Some(received) if received == text => {
            format!("unquoted date `{text}` is a date object for Meltano's YAML reader, not text")
        }
        Some(received) => format!(
            "unquoted date `{text}` is a date object for Meltano's YAML reader: the plugin receives `{received}`"
        ),
        None => {
            format!("unquoted date `{text}` is a date object for Meltano's YAML reader, not text")
        }
    };
    Diagnostic::new(&codes::YAML_UNQUOTED_DATE, message)
        .at(node.span, "unquoted date")
        .help(format!(
            "write `'{text}'` so every reader gets the text as written"
        ))
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
        Ambiguity::Date => Diagnostic::new(&codes::YAML_UNQUOTED_DATE, format!("unquoted date `{text}` is a date object for Meltano's YAML reader, not text"))
            .at(node.span, "unquoted date")
            .help(format!("write `{quoted}` so every reader gets the text as written")),
    }
}

#[cfg(test)]
mod tests {
    use super::{Place, Step, place};

    #[test]
    fn places_by_path() {
        use Step::{Item, Key};
        let cases: [(&[Step<'_>], Place); 8] = [
            (&[Key("env"), Key("START")], Place::ProjectEnv),
            (
                &[
                    Key("plugins"),
                    Key("extractors"),
                    Item,
                    Key("env"),
                    Key("X"),
                ],
                Place::ProcessEnv("X"),
            ),
            (
                &[Key("environments"), Item, Key("env"), Key("X")],
                Place::ProcessEnv("X"),
            ),
            (
                &[
                    Key("plugins"),
                    Key("extractors"),
                    Item,
                    Key("config"),
                    Key("a"),
                    Item,
                ],
                Place::Config,
            ),
            (
                &[
                    Key("plugins"),
                    Key("extractors"),
                    Item,
                    Key("settings"),
                    Item,
                    Key("value"),
                ],
                Place::Default,
            ),
            (
                &[
                    Key("environments"),
                    Item,
                    Key("config"),
                    Key("plugins"),
                    Key("loaders"),
                    Item,
                    Key("config"),
                    Key("start_date"),
                ],
                Place::Config,
            ),
            (
                &[Key("schedules"), Item, Key("env"), Key("X")],
                Place::Other,
            ),
            (&[Key("env")], Place::Other),
        ];
        for (path, expected) in cases {
            assert_eq!(place(path), expected);
        }
    }
}
