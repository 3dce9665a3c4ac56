//! The spanned YAML tree.

use indexmap::IndexMap;

use super::timestamp::{Rendering, Timestamp, TimestampError};
use crate::diagnostics::Span;

/// How a scalar was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalarStyle {
    /// Unquoted: its type was inferred from the text.
    Plain,
    /// Quoted or a block scalar: always a string.
    Quoted,
    /// Not a scalar (mapping, sequence) or made by meltc.
    None,
}

/// A YAML value with the span it was read from.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where it is (for a mapping or sequence: from its first to its last character).
    pub span: Span,
    /// How a scalar was written.
    pub style: ScalarStyle,
}

/// A mapping keeps its keys in file order; keys are their string form (`1` for an integer key).
pub type Mapping = IndexMap<String, (Node, Node)>;

/// The data model of YAML 1.2's core schema.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `~`, `null` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// A float (also integers too large for 64 bits).
    Float(f64),
    /// Any other scalar.
    String(String),
    /// A block or flow sequence.
    Sequence(Vec<Node>),
    /// A mapping: key text -> (key node, value node).
    Mapping(Mapping),
}

impl Node {
    /// A node made by meltc (not read from a file) at `span`.
    #[must_use]
    pub fn synthetic(value: Value, span: Span) -> Self {
        Self {
            value,
            span,
            style: ScalarStyle::None,
        }
    }

    /// The mapping, if this is one.
    #[must_use]
    pub fn as_mapping(&self) -> Option<&Mapping> {
        match &self.value {
            Value::Mapping(mapping) => Some(mapping),
            _ => None,
        }
    }

    /// The sequence, if this is one.
    #[must_use]
    pub fn as_sequence(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Sequence(items) => Some(items),
            _ => None,
        }
    }

    /// The string, if this is one.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    /// Whether this is `null`.
    #[must_use]
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The value of `key` in a mapping.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_mapping()
            .and_then(|mapping| mapping.get(key))
            .map(|(_, value)| value)
    }

    /// The key node and value of `key` in a mapping.
    #[must_use]
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        self.as_mapping()
            .and_then(|mapping| mapping.get(key))
            .map(|(key, value)| (key, value))
    }

    /// The string value of `key` in a mapping.
    #[must_use]
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Node::as_str)
    }

    /// A short name for the kind of value, for messages.
    #[must_use]
    pub fn kind_name(&self) -> &'static str {
        self.value.kind_name()
    }

    /// The timestamp an unquoted scalar is for Meltano's reader (`None` for anything else).
    #[must_use]
    pub fn timestamp(&self) -> Option<Result<Timestamp, TimestampError>> {
        match &self.value {
            Value::String(text) if self.style == ScalarStyle::Plain => Timestamp::resolve(text),
            _ => None,
        }
    }

    /// The scalar as text the way Meltano would stringify it, or `None` for collections (an
    /// unquoted timestamp as Python's `str()` writes the object it loads as).
    #[must_use]
    pub fn scalar_text(&self) -> Option<String> {
        if let Some(Ok(timestamp)) = self.timestamp() {
            return Some(timestamp.render(Rendering::Str));
        }
        match &self.value {
            Value::Null => Some(String::new()),
            Value::Bool(value) => Some(value.to_string()),
            Value::Int(value) => Some(value.to_string()),
            Value::Float(value) => Some(value.to_string()),
            Value::String(value) => Some(value.clone()),
            Value::Sequence(_) | Value::Mapping(_) => None,
        }
    }

    /// Convert to JSON (keys as text) for schema validation and manifests.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(value) => serde_json::Value::Bool(*value),
            Value::Int(value) => serde_json::Value::from(*value),
            Value::Float(value) => serde_json::Number::from_f64(*value)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::String(value) => serde_json::Value::String(value.clone()),
            Value::Sequence(items) => {
                serde_json::Value::Array(items.iter().map(Node::to_json).collect())
            }
            Value::Mapping(mapping) => serde_json::Value::Object(
                mapping
                    .iter()
                    .map(|(key, (_, value))| (key.clone(), value.to_json()))
                    .collect(),
            ),
        }
    }

    /// Convert to JSON with every unquoted timestamp as the text `rendering` gives it (what
    /// Meltano hands a plugin; [`Node::to_json`] keeps the text as written).
    #[must_use]
    pub fn to_json_rendered(&self, rendering: Rendering) -> serde_json::Value {
        if let Some(Ok(timestamp)) = self.timestamp() {
            return serde_json::Value::String(timestamp.render(rendering));
        }
        match &self.value {
            Value::Sequence(items) => serde_json::Value::Array(
                items
                    .iter()
                    .map(|item| item.to_json_rendered(rendering))
                    .collect(),
            ),
            Value::Mapping(mapping) => serde_json::Value::Object(
                mapping
                    .iter()
                    .map(|(key, (_, value))| (key.clone(), value.to_json_rendered(rendering)))
                    .collect(),
            ),
            _ => self.to_json(),
        }
    }

    /// The node at a JSON pointer (`/plugins/extractors/0/name`), or the deepest node on the way.
    #[must_use]
    pub fn at_pointer(&self, pointer: &str) -> (&Node, bool) {
        let mut node = self;
        for raw in pointer.split('/').skip(1) {
            let segment = raw.replace("~1", "/").replace("~0", "~");
            let next = match &node.value {
                Value::Mapping(mapping) => mapping.get(&segment).map(|(_, value)| value),
                Value::Sequence(items) => segment
                    .parse::<usize>()
                    .ok()
                    .and_then(|index| items.get(index)),
                _ => None,
            };
            match next {
                Some(next) => node = next,
                None => return (node, false),
            }
        }
        (node, true)
    }

    /// The key node of the last segment of a pointer into a mapping, for "unexpected key" errors.
    #[must_use]
    pub fn key_at_pointer(&self, pointer: &str, key: &str) -> Option<&Node> {
        let (parent, found) = self.at_pointer(pointer);
        if !found {
            return None;
        }
        parent.as_mapping()?.get(key).map(|(key, _)| key)
    }

    /// How many nodes this tree has (for alias-expansion limits).
    #[must_use]
    pub fn count(&self) -> usize {
        1 + match &self.value {
            Value::Sequence(items) => items.iter().map(Node::count).sum(),
            Value::Mapping(mapping) => mapping
                .values()
                .map(|(key, value)| key.count() + value.count())
                .sum(),
            _ => 0,
        }
    }
}

impl Value {
    /// A short name for the kind of value, for messages.
    #[must_use]
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::String(_) => "string",
            Value::Sequence(_) => "list",
            Value::Mapping(_) => "mapping",
        }
    }
}
