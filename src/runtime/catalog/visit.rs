//! Meltano's catalog visitor (`catalog.py` `visit`, `SchemaExecutor`, `MetadataExecutor`),
//! reproduced node for node.
//!
//! Meltano does not walk "streams, then properties": it walks the whole JSON document in key
//! order, builds a path string (`.streams[0].schema.properties.id`) and decides what a node is
//! by matching that path. The quirks follow from it and are kept on purpose:
//! - a property whose name is not made of word characters (`first-name`, `a.b`) is not a
//!   property node: no metadata is created for it and schema rules skip it (select and metadata
//!   rules still reach its metadata entry, if the tap wrote one);
//! - a property's `anyOf` and `type` are not descended into, but `items` is, and
//!   `items.properties.x` is no property node either;
//! - metadata entries created while walking a stream's `schema` are only visited (and get the
//!   rules) when the stream's `metadata` key comes after its `schema` key;
//! - a schema rule's payload replaces the node before its children are walked, so rules reach
//!   properties inside the payload;
//! - Meltano's dispatcher swallows a `KeyError` raised inside a handler (`execute`'s `except
//!   KeyError`), which ends that handler early and silently: a stream without
//!   `tap_stream_id`, a metadata entry without `metadata` or `breadcrumb`. Other errors
//!   (`TypeError`: a `metadata` that is not a list, a breadcrumb that is not strings) fail the
//!   run. [`Stop`] carries the difference.

use serde_json::{Map, Value};

use super::CatalogError;
use super::rules::{MetadataRule, SchemaRule};

/// What the path of an object says it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    Stream,
    Property,
    Metadata,
}

/// Why a handler ended early.
#[derive(Debug)]
pub(crate) enum Stop {
    /// Python's `KeyError`: the dispatcher ignores it and the walk goes on.
    Skip,
    /// Any other Python exception: Meltano fails the run.
    Fatal(CatalogError),
}

fn fatal<T>(message: impl Into<String>) -> Result<T, Stop> {
    Err(Stop::Fatal(CatalogError::Invalid(message.into())))
}

/// The stream a handler works in: Meltano's `self._stream`, set as soon as a stream node is
/// entered, even when reading its ID then fails.
#[derive(Debug, Default)]
pub(crate) enum Current {
    /// No stream seen yet: a property or metadata node here fails (`None[...]`).
    #[default]
    None,
    /// A stream without `tap_stream_id`: handlers that read the ID stop (`KeyError`).
    Anonymous,
    /// The stream's `tap_stream_id`, whatever its JSON type.
    Stream(Value),
}

impl Current {
    /// Enter a stream node.
    fn enter(node: &Map<String, Value>) -> Self {
        node.get("tap_stream_id")
            .map_or(Self::Anonymous, |id| Self::Stream(id.clone()))
    }

    /// The ID, for a handler about to match rules against it.
    fn id(&self, path: &str) -> Result<&str, Stop> {
        match self {
            Self::None => fatal(format!("`{path}` is outside any stream")),
            Self::Anonymous => Err(Stop::Skip),
            Self::Stream(Value::String(id)) => Ok(id),
            // `fnmatch` on a non-string raises `TypeError`.
            Self::Stream(_) => fatal(format!(
                "the `tap_stream_id` of the stream around `{path}` is not a string"
            )),
        }
    }

    /// Whether the stream has an ID at all (reading it is where Meltano's handlers stop).
    fn has_id(&self) -> bool {
        matches!(self, Self::Stream(_))
    }
}

/// The handlers of one pass over the catalog.
pub(crate) trait Executor {
    fn stream(&mut self, node: &mut Map<String, Value>, path: &str) -> Result<(), Stop>;
    fn property(&mut self, node: &mut Map<String, Value>, path: &str) -> Result<(), Stop>;
    fn metadata(&mut self, node: &mut Map<String, Value>, path: &str) -> Result<(), Stop>;
    /// After each child of a stream node: Meltano mutates the stream while walking inside it;
    /// here the change is applied between two children, which is when it becomes visible.
    fn after_stream_child(&mut self, stream: &mut Map<String, Value>) -> Result<(), CatalogError>;
}

/// Walk `value` (the whole catalog) with `executor`.
pub(crate) fn visit(value: &mut Value, executor: &mut dyn Executor) -> Result<(), CatalogError> {
    visit_at(value, &mut String::new(), executor)
}

fn visit_at(
    value: &mut Value,
    path: &mut String,
    executor: &mut dyn Executor,
) -> Result<(), CatalogError> {
    match value {
        Value::Object(map) => {
            let node = classify(path, map);
            let handled = match node {
                Some(Node::Stream) => executor.stream(map, path),
                Some(Node::Property) => executor.property(map, path),
                Some(Node::Metadata) => executor.metadata(map, path),
                None => Ok(()),
            };
            match handled {
                Ok(()) | Err(Stop::Skip) => {}
                Err(Stop::Fatal(error)) => return Err(error),
            }
            // The keys as they are once the handler ran (it may add `metadata` or `schema`).
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                if node == Some(Node::Property) && (key == "anyOf" || key == "type") {
                    continue;
                }
                let length = path.len();
                path.push('.');
                path.push_str(&key);
                if let Some(child) = map.get_mut(&key) {
                    visit_at(child, path, executor)?;
                }
                path.truncate(length);
                if node == Some(Node::Stream) {
                    executor.after_stream_child(map)?;
                }
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                let length = path.len();
                path.push_str(&format!("[{index}]"));
                visit_at(item, path, executor)?;
                path.truncate(length);
            }
        }
        _ => {}
    }
    Ok(())
}

/// The three path tests of `visit`, in Meltano's order (a later match wins).
fn classify(path: &str, map: &Map<String, Value>) -> Option<Node> {
    let mut node = None;
    if ends_with_indexed(path, "streams") {
        node = Some(Node::Stream);
    }
    if is_property_path(path) {
        node = Some(Node::Property);
    }
    if ends_with_indexed(path, "metadata") && map.contains_key("breadcrumb") {
        node = Some(Node::Metadata);
    }
    node
}

/// `re.search(name + r"\[\d+\]$", path)`.
fn ends_with_indexed(path: &str, name: &str) -> bool {
    let Some(rest) = path.strip_suffix(']') else {
        return false;
    };
    let digits = rest.trim_end_matches(|c: char| c.is_ascii_digit());
    digits.len() < rest.len()
        && digits
            .strip_suffix('[')
            .is_some_and(|before| before.ends_with(name))
}

/// `re.search(r"schema(\.properties\.\w*)+$", path)`.
fn is_property_path(path: &str) -> bool {
    let mut rest = path;
    loop {
        // `\w*` is greedy and the character before it must be `.`, so each group's word is
        // the whole run of word characters at the end; strip groups until `schema` shows.
        let Some(before) = rest.trim_end_matches(is_word).strip_suffix(".properties.") else {
            return false;
        };
        if before.ends_with("schema") {
            return true;
        }
        rest = before;
    }
}

/// Python's `\w` for `str` patterns: alphanumeric or `_`.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `path[path.index("properties"):]`: the node's breadcrumb, joined with `.`.
fn property_breadcrumb_of(path: &str) -> &str {
    path.find("properties").map_or("", |index| &path[index..])
}

/// `SchemaExecutor`: create the properties schema rules name, then replace their schema.
pub(crate) struct SchemaExecutor<'a> {
    pub(crate) rules: &'a [SchemaRule],
    pub(crate) current: Current,
}

impl Executor for SchemaExecutor<'_> {
    fn stream(&mut self, node: &mut Map<String, Value>, path: &str) -> Result<(), Stop> {
        self.current = Current::enter(node);
        if !self.current.has_id() {
            return Err(Stop::Skip);
        }
        let schema = node
            .entry("schema")
            .or_insert_with(|| serde_json::json!({"type": "object"}));
        let id = self.current.id(path)?;
        for rule in self.rules {
            if rule.target.matches(id, None) {
                ensure_property(schema, &rule.target.parts)?;
            }
        }
        Ok(())
    }

    fn property(&mut self, node: &mut Map<String, Value>, path: &str) -> Result<(), Stop> {
        let id = self.current.id(path)?;
        let breadcrumb = property_breadcrumb_of(path);
        for rule in self.rules {
            if rule.target.matches(id, Some(breadcrumb)) {
                let Value::Object(payload) = &rule.payload else {
                    return fatal(format!(
                        "the schema rule for `{breadcrumb}` of `{id}` is not a mapping"
                    ));
                };
                // Replaced in place: the node keeps its position among its siblings.
                node.clone_from(payload);
            }
        }
        Ok(())
    }

    fn metadata(&mut self, _: &mut Map<String, Value>, _: &str) -> Result<(), Stop> {
        Ok(())
    }

    fn after_stream_child(&mut self, _: &mut Map<String, Value>) -> Result<(), CatalogError> {
        Ok(())
    }
}

/// `SchemaExecutor.ensure_property`: create each missing node of the breadcrumb. A part that
/// *starts* with a wildcard character stops the walk and recurses into the existing keys it
/// matches (so it creates nothing); a part with a wildcard further in is created literally.
fn ensure_property(schema: &mut Value, breadcrumb: &[String]) -> Result<(), Stop> {
    let mut node = schema;
    for (index, key) in breadcrumb.iter().enumerate() {
        let Value::Object(map) = node else {
            return fatal(format!(
                "cannot create `{}` in a schema that is not an object",
                breadcrumb.join(".")
            ));
        };
        if key.starts_with(['*', '?', '[', ']']) {
            let matching: Vec<String> = map
                .keys()
                .filter(|candidate| super::fnmatch::fnmatch(candidate, key))
                .cloned()
                .collect();
            // Meltano restarts from the schema root with the matched name filled in; the
            // prefix exists by now, so going on from here is the same walk.
            for candidate in matching {
                if let Some(child) = map.get_mut(&candidate) {
                    ensure_property(child, &breadcrumb[index + 1..])?;
                }
            }
            return Ok(());
        }
        node = map
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    Ok(())
}

/// `MetadataExecutor`: create missing metadata entries and apply the metadata rules
/// (the select rules are metadata rules on `selected`).
pub(crate) struct MetadataExecutor<'a> {
    pub(crate) rules: &'a [MetadataRule],
    pub(crate) current: Current,
    /// Breadcrumbs of the property nodes seen since the last child of the stream ended.
    pub(crate) pending: Vec<Vec<String>>,
}

impl Executor for MetadataExecutor<'_> {
    fn stream(&mut self, node: &mut Map<String, Value>, path: &str) -> Result<(), Stop> {
        self.current = Current::enter(node);
        if !self.current.has_id() {
            return Err(Stop::Skip);
        }
        node.entry("metadata")
            .or_insert_with(|| Value::Array(Vec::new()));
        ensure_metadata(node, &[])?;
        let id = self.current.id(path)?;
        for rule in self.rules {
            if rule.target.matches(id, Some("")) {
                // Legacy catalogs carry the keys on the stream object, with underscores.
                set_metadata(node, &rule.key.replace('-', "_"), &rule.value);
            }
        }
        Ok(())
    }

    fn property(&mut self, _: &mut Map<String, Value>, path: &str) -> Result<(), Stop> {
        if matches!(self.current, Current::None) {
            return fatal(format!("`{path}` is outside any stream"));
        }
        let breadcrumb = property_breadcrumb_of(path)
            .split('.')
            .map(str::to_owned)
            .collect();
        self.pending.push(breadcrumb);
        Ok(())
    }

    fn metadata(&mut self, node: &mut Map<String, Value>, path: &str) -> Result<(), Stop> {
        let id = self.current.id(path)?;
        let mut joined: Option<String> = None;
        for rule in self.rules {
            if !rule.target.matches(id, None) {
                continue;
            }
            // Python joins the breadcrumb only once a rule's stream part matched.
            if joined.is_none() {
                joined = Some(join_breadcrumb(node.get("breadcrumb"), path)?);
            }
            if !rule.target.matches(id, joined.as_deref()) {
                continue;
            }
            match node.get_mut("metadata") {
                Some(Value::Object(metadata)) => set_metadata(metadata, &rule.key, &rule.value),
                None => return Err(Stop::Skip),
                Some(_) => return fatal(format!("`{path}.metadata` is not a mapping")),
            }
        }
        Ok(())
    }

    fn after_stream_child(&mut self, stream: &mut Map<String, Value>) -> Result<(), CatalogError> {
        // Each property was its own handler call in Meltano: a `KeyError` skips only it.
        for breadcrumb in std::mem::take(&mut self.pending) {
            match ensure_metadata(stream, &breadcrumb) {
                Ok(()) | Err(Stop::Skip) => {}
                Err(Stop::Fatal(error)) => return Err(error),
            }
        }
        Ok(())
    }
}

/// `MetadataExecutor.ensure_metadata`: append an entry when none has this breadcrumb,
/// `inclusion: automatic` for the stream and top-level properties, `available` deeper down.
/// The search stops at the first entry with the breadcrumb; an entry without one met before
/// that is a `KeyError`.
fn ensure_metadata(stream: &mut Map<String, Value>, breadcrumb: &[String]) -> Result<(), Stop> {
    let entries = match stream.get_mut("metadata") {
        None => return Err(Stop::Skip),
        Some(Value::Array(entries)) => entries,
        Some(_) => return fatal("a stream's `metadata` is not a list"),
    };
    for entry in entries.iter() {
        let Value::Object(entry) = entry else {
            return fatal("a metadata entry is not a mapping");
        };
        let Some(existing) = entry.get("breadcrumb") else {
            return Err(Stop::Skip);
        };
        let same = existing.as_array().is_some_and(|parts| {
            parts.len() == breadcrumb.len()
                && parts
                    .iter()
                    .zip(breadcrumb)
                    .all(|(part, wanted)| part.as_str() == Some(wanted.as_str()))
        });
        if same {
            return Ok(());
        }
    }
    let inclusion = if breadcrumb.len() <= 2 {
        "automatic"
    } else {
        "available"
    };
    entries.push(serde_json::json!({
        "breadcrumb": breadcrumb,
        "metadata": {"inclusion": inclusion},
    }));
    Ok(())
}

/// `".".join(breadcrumb)`: a list of strings, a string (its characters) or a mapping (its
/// keys); anything else is a `TypeError`.
fn join_breadcrumb(breadcrumb: Option<&Value>, path: &str) -> Result<String, Stop> {
    let parts: Option<Vec<String>> = match breadcrumb {
        Some(Value::Array(parts)) => parts
            .iter()
            .map(|part| part.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(text)) => Some(text.chars().map(String::from).collect()),
        Some(Value::Object(map)) => Some(map.keys().cloned().collect()),
        _ => None,
    };
    match parts {
        Some(parts) => Ok(parts.join(".")),
        None => fatal(format!(
            "the breadcrumb at `{path}` is not a list of strings"
        )),
    }
}

/// `MetadataExecutor.set_metadata`: `selected: true` never lands on an unsupported node.
fn set_metadata(node: &mut Map<String, Value>, key: &str, value: &Value) {
    let unsupported = node.get("inclusion").and_then(Value::as_str) == Some("unsupported");
    if key == "selected" && *value == Value::Bool(true) && unsupported {
        return;
    }
    node.insert(key.to_owned(), value.clone());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_paths() {
        assert!(ends_with_indexed(".streams[0]", "streams"));
        assert!(ends_with_indexed(".streams[12]", "streams"));
        assert!(!ends_with_indexed(".streams[]", "streams"));
        assert!(!ends_with_indexed(".streams[0].x", "streams"));
        assert!(ends_with_indexed(".streams[0].metadata[3]", "metadata"));
        assert!(is_property_path(".streams[0].schema.properties.id"));
        assert!(is_property_path(
            ".streams[0].schema.properties.a.properties.b"
        ));
        assert!(is_property_path(".streams[0].schema.properties.properties"));
        assert!(is_property_path(".streams[0].schema.properties."));
        assert!(is_property_path(".streams[0].schema.properties.été"));
        assert!(!is_property_path(
            ".streams[0].schema.properties.first-name"
        ));
        assert!(!is_property_path(".streams[0].schema.properties"));
        assert!(!is_property_path(
            ".streams[0].schema.properties.a.properties"
        ));
        assert!(!is_property_path(
            ".streams[0].schema.properties.a.items.properties.b"
        ));
        assert!(!is_property_path(".streams[0].schema.properties.a.type"));
        assert!(is_property_path(".streams[0].myschema.properties.a"));
    }
}
