//! Values as meltano.yml writes them: a YAML node becomes a [`ConfigValue`] (strings are
//! templates), and a `config:` mapping is flattened to leaf paths that remember where each leaf
//! is written, for "where does this value come from".
//!
//! Unquoted dates and timestamps become the ISO text Meltano's run time gives them: a
//! `config:` value is deep-copied before it is cast ([`Rendering::Copied`]:
//! `2024-01-02T03:04:05.5Z` -> `2024-01-02T03:04:05`), a setting's `value:` default is not
//! ([`Rendering::Loaded`]).

use indexmap::IndexMap;

use super::expand::ConfigValue;
use super::settings::flatten;
use crate::diagnostics::Span;
use crate::yaml::{Node, Rendering, Value};

/// A YAML node under `config:` as a setting value.
#[must_use]
pub fn config_value(node: &Node) -> ConfigValue {
    value_rendered(node, Rendering::Copied)
}

/// A setting definition's `value:` default: Meltano casts a timestamp written there as loaded,
/// but copies what a mapping or list holds ([`Rendering`]).
#[must_use]
pub fn default_value(node: &Node) -> serde_json::Value {
    match node.timestamp() {
        Some(Ok(timestamp)) => serde_json::Value::String(timestamp.render(Rendering::Loaded)),
        _ => node.to_json_rendered(Rendering::Copied),
    }
}

/// A `settings:` list as a plugin definition reads it, with each `value:` default as
/// [`default_value`] gives it.
#[must_use]
pub fn settings_json(node: &Node) -> serde_json::Value {
    let Value::Sequence(items) = &node.value else {
        return node.to_json();
    };
    let setting = |item: &Node| match item.as_mapping() {
        Some(mapping) => serde_json::Value::Object(
            mapping
                .iter()
                .map(|(key, (_, value))| {
                    let json = if key == "value" {
                        default_value(value)
                    } else {
                        value.to_json()
                    };
                    (key.clone(), json)
                })
                .collect(),
        ),
        None => item.to_json(),
    };
    serde_json::Value::Array(items.iter().map(setting).collect())
}

fn value_rendered(node: &Node, rendering: Rendering) -> ConfigValue {
    match &node.value {
        Value::Null => ConfigValue::Null,
        Value::Bool(flag) => ConfigValue::Bool(*flag),
        Value::Int(number) => ConfigValue::Number((*number).into()),
        Value::Float(number) => {
            serde_json::Number::from_f64(*number).map_or(ConfigValue::Null, ConfigValue::Number)
        }
        Value::String(text) => match node.timestamp() {
            Some(Ok(timestamp)) => {
                ConfigValue::Text(super::expand::Template::parse(&timestamp.render(rendering)))
            }
            _ => ConfigValue::Text(super::expand::Template::parse(text)),
        },
        Value::Sequence(items) => ConfigValue::List(
            items
                .iter()
                .map(|item| value_rendered(item, rendering))
                .collect(),
        ),
        Value::Mapping(mapping) => ConfigValue::Map(
            mapping
                .iter()
                .map(|(key, (_, value))| (key.clone(), value_rendered(value, rendering)))
                .collect(),
        ),
    }
}

/// A mapping node's entries as values (empty for anything else).
#[must_use]
pub fn mapping_values(node: Option<&Node>) -> IndexMap<String, ConfigValue> {
    node.and_then(Node::as_mapping)
        .map(|mapping| {
            mapping
                .iter()
                .map(|(key, (_, value))| (key.clone(), config_value(value)))
                .collect()
        })
        .unwrap_or_default()
}

/// One flattened leaf: its value and where it is written.
#[derive(Clone, Debug, PartialEq)]
pub struct Leaf {
    /// The value.
    pub value: ConfigValue,
    /// Where the value is written.
    pub span: Option<Span>,
}

/// A config mapping flattened to leaf paths (Meltano's `flatten(config, "dot")`), in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlatConfig {
    /// Leaf path -> leaf.
    pub leaves: IndexMap<String, Leaf>,
}

impl FlatConfig {
    /// Flatten `values`, taking spans from `nodes` (the same mapping as written, when known).
    #[must_use]
    pub fn new(values: &IndexMap<String, ConfigValue>, nodes: &[(String, &Node)]) -> Self {
        let mut spans = IndexMap::new();
        for (key, node) in nodes {
            leaf_spans(key, node, &mut spans);
        }
        let leaves = flatten(values)
            .into_iter()
            .map(|(path, value)| {
                let span = spans.get(&path).copied();
                (
                    path,
                    Leaf {
                        value: value.clone(),
                        span,
                    },
                )
            })
            .collect();
        FlatConfig { leaves }
    }

    /// The leaf at `path`.
    #[must_use]
    pub fn get(&self, path: &str) -> Option<&Leaf> {
        self.leaves.get(path)
    }
}

fn leaf_spans(path: &str, node: &Node, spans: &mut IndexMap<String, Span>) {
    match node.as_mapping() {
        Some(mapping) if !mapping.is_empty() => {
            for (key, (_, value)) in mapping {
                leaf_spans(&format!("{path}.{key}"), value, spans);
            }
        }
        _ => {
            spans.insert(path.to_owned(), node.span);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::{FileId, SourceFile};

    #[test]
    fn flattened_leaves_keep_their_spans_and_dates_become_iso() {
        let text = "config:\n  db:\n    host: h\n    opts: {}\n  start: 2024-01-02 03:04:05\n  quoted: '2024-01-02 03:04:05'\n";
        let root = crate::yaml::parse(FileId(0), &SourceFile::new("t", "t", text))
            .root
            .unwrap();
        let config = root.get("config");
        let values = mapping_values(config);
        let nodes: Vec<_> = config
            .and_then(Node::as_mapping)
            .unwrap()
            .iter()
            .map(|(key, (_, value))| (key.clone(), value))
            .collect();
        let flat = FlatConfig::new(&values, &nodes);
        let shown: Vec<_> = flat
            .leaves
            .iter()
            .map(|(path, leaf)| {
                let span = leaf.span.unwrap();
                (
                    path.as_str(),
                    leaf.value.as_written(),
                    &text[span.start..span.end],
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("db.host", serde_json::json!("h"), "h"),
                ("db.opts", serde_json::json!({}), "{}"),
                (
                    "start",
                    serde_json::json!("2024-01-02T03:04:05"),
                    "2024-01-02 03:04:05"
                ),
                (
                    "quoted",
                    serde_json::json!("2024-01-02 03:04:05"),
                    "'2024-01-02 03:04:05'"
                ),
            ]
        );
    }
}
