//! The extractor's `select`, `metadata`, `schema` and `select_filter` extras turned into
//! Meltano's rule lists (`core/plugin/singer/catalog.py:156-278`, `tap.py:85-134`).
//!
//! Input: the extras' values. Output: [`MetadataRule`]s and [`SchemaRule`]s in the order
//! Meltano applies them. Nothing here looks at a catalog.

use serde_json::{Map, Value};

use super::CatalogError;
use super::fnmatch::{Pattern, fnmatch};

/// A stream or property node a rule may match: the stream's `tap_stream_id` and, for
/// property-level checks, the breadcrumb (`["properties", "a", "properties", "b"]`).
#[derive(Clone, Debug)]
pub(crate) struct StreamPatterns {
    /// Any of these matches the stream (a `select_filter` rule holds several).
    patterns: Vec<Pattern>,
    /// A negated rule matches a stream that none of the patterns match.
    negated: bool,
    /// The property breadcrumb, joined with `.` (empty for the stream itself).
    breadcrumb: String,
    /// The breadcrumb's parts, for the "property not found" warnings.
    pub(crate) parts: Vec<String>,
    /// The stream pattern as written, for rules made from one pattern (Meltano skips
    /// `select_filter`'s pattern lists when it warns about streams that are not there).
    pub(crate) stream: Option<String>,
}

impl StreamPatterns {
    /// A rule on one stream pattern (`select`, `metadata`, `schema`).
    fn one(stream: String, breadcrumb: Vec<String>) -> Self {
        Self {
            patterns: vec![Pattern::new(&stream)],
            negated: false,
            breadcrumb: breadcrumb.join("."),
            parts: breadcrumb,
            stream: Some(stream),
        }
    }

    /// A stream-level rule on a list of patterns (`select_filter`).
    fn any_of(streams: &[String], negated: bool) -> Self {
        Self {
            patterns: streams.iter().map(|stream| Pattern::new(stream)).collect(),
            negated,
            breadcrumb: String::new(),
            parts: Vec::new(),
            stream: None,
        }
    }

    /// `_CatalogRuleProtocol.match`: the stream ID against the patterns, then (when given,
    /// even for negated rules) the breadcrumb against the rule's breadcrumb.
    pub(crate) fn matches(&self, tap_stream_id: &str, breadcrumb: Option<&str>) -> bool {
        let stream = self
            .patterns
            .iter()
            .any(|pattern| pattern.matches(tap_stream_id))
            != self.negated;
        stream && breadcrumb.is_none_or(|breadcrumb| fnmatch(breadcrumb, &self.breadcrumb))
    }
}

/// Set `key` to `value` on the metadata of every matching node.
#[derive(Clone, Debug)]
pub(crate) struct MetadataRule {
    pub(crate) target: StreamPatterns,
    pub(crate) key: String,
    pub(crate) value: Value,
}

/// Replace the schema of every matching property (creating it when missing).
#[derive(Clone, Debug)]
pub(crate) struct SchemaRule {
    pub(crate) target: StreamPatterns,
    pub(crate) payload: Value,
}

/// A `select` pattern: `[!]stream[.property[.sub…]]`.
struct SelectPattern {
    stream: String,
    property: Option<String>,
    negated: bool,
}

impl SelectPattern {
    /// `SelectPattern.parse`: a leading `!` negates; the first `.` not preceded by `\` splits
    /// stream from property; `\.` in the stream part is a literal dot. The property part is
    /// kept as written (its `\` too) and later split on every `.`.
    fn parse(pattern: &str) -> Self {
        let (negated, rest) = match pattern.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        let split = rest
            .char_indices()
            .find(|&(index, c)| c == '.' && !rest[..index].ends_with('\\'))
            .map(|(index, _)| index);
        let (stream, property) = match split {
            Some(index) => (&rest[..index], Some(rest[index + 1..].to_owned())),
            None => (rest, None),
        };
        Self {
            stream: stream.replace("\\.", "."),
            property,
            negated,
        }
    }
}

/// `["a", "b"]` → `["properties", "a", "properties", "b"]`.
pub(crate) fn property_breadcrumb<S: AsRef<str>>(properties: &[S]) -> Vec<String> {
    properties
        .iter()
        .flat_map(|property| ["properties".to_owned(), property.as_ref().to_owned()])
        .collect()
}

fn select_rule(stream: &str, properties: &[&str], selected: bool) -> MetadataRule {
    MetadataRule {
        target: StreamPatterns::one(stream.to_owned(), property_breadcrumb(properties)),
        key: "selected".to_owned(),
        value: Value::Bool(selected),
    }
}

/// `select_metadata_rules`: inclusions first, then exclusions, so exclusions win.
pub(crate) fn select_rules<S: AsRef<str>>(patterns: &[S]) -> Vec<MetadataRule> {
    let mut include = Vec::new();
    let mut exclude = Vec::new();
    for pattern in patterns {
        let parsed = SelectPattern::parse(pattern.as_ref());
        let selected = !parsed.negated;
        let rules = if selected { &mut include } else { &mut exclude };
        let stream = parsed.stream.as_str();
        match parsed
            .property
            .as_deref()
            .filter(|property| !property.is_empty())
        {
            // `stream` alone means `stream` and `stream.*`.
            None => {
                rules.push(select_rule(stream, &[], selected));
                rules.push(select_rule(stream, &["*"], selected));
            }
            Some(property) => {
                // Selecting a property selects its stream; `!stream.*` deselects the stream
                // too, while `!stream.prop` leaves the stream alone.
                if selected || property == "*" {
                    rules.push(select_rule(stream, &[], selected));
                }
                let properties: Vec<&str> = property.split('.').collect();
                rules.push(select_rule(stream, &properties, selected));
                // A selected nested property selects each of its ancestors.
                if selected {
                    for end in 1..properties.len() {
                        rules.push(select_rule(stream, &properties[..end], selected));
                    }
                }
            }
        }
    }
    include.extend(exclude);
    include
}

/// `select_filter_metadata_rules`: deselect (at stream level only) every stream that matches
/// no inclusion pattern, and every stream that matches an exclusion pattern.
pub(crate) fn select_filter_rules<S: AsRef<str>>(patterns: &[S]) -> Vec<MetadataRule> {
    let mut include = Vec::new();
    let mut exclude = Vec::new();
    for pattern in patterns {
        let parsed = SelectPattern::parse(pattern.as_ref());
        if parsed.negated {
            exclude.push(parsed.stream);
        } else {
            include.push(parsed.stream);
        }
    }
    let deselect = |streams: Vec<String>, negated| MetadataRule {
        target: StreamPatterns::any_of(&streams, negated),
        key: "selected".to_owned(),
        value: Value::Bool(false),
    };
    let mut rules = Vec::new();
    if !include.is_empty() {
        rules.push(deselect(include, true));
    }
    if !exclude.is_empty() {
        rules.push(deselect(exclude, false));
    }
    rules
}

/// `config_metadata_rules`: flatten the `metadata` mapping with `.` (non-empty mappings are
/// descended into, anything else is a leaf) and split each flat key into
/// `stream.[prop.…]key`.
pub(crate) fn metadata_rules(metadata: &Value) -> Result<Vec<MetadataRule>, CatalogError> {
    let Some(object) = non_null_object(metadata, "metadata")? else {
        return Ok(Vec::new());
    };
    let mut leaves = Vec::new();
    flatten(object, "", &mut leaves);
    leaves
        .into_iter()
        .map(|(flat_key, value)| {
            let mut parts: Vec<&str> = flat_key.split('.').collect();
            if parts.len() < 2 {
                return Err(CatalogError::MetadataKey(flat_key.clone()));
            }
            let key = parts.pop().unwrap_or_default().to_owned();
            let stream = parts.remove(0).to_owned();
            Ok(MetadataRule {
                target: StreamPatterns::one(stream, property_breadcrumb(&parts)),
                key,
                value: value.clone(),
            })
        })
        .collect()
}

fn flatten<'a>(object: &'a Map<String, Value>, prefix: &str, out: &mut Vec<(String, &'a Value)>) {
    for (key, value) in object {
        let flat = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            Value::Object(inner) if !inner.is_empty() => flatten(inner, &flat, out),
            leaf => out.push((flat, leaf)),
        }
    }
}

/// `config_schema_rules`: `{stream pattern: {property pattern: schema}}`, one rule per
/// property, at the top level of the stream's properties.
pub(crate) fn schema_rules(schema: &Value) -> Result<Vec<SchemaRule>, CatalogError> {
    let Some(object) = non_null_object(schema, "schema")? else {
        return Ok(Vec::new());
    };
    let mut rules = Vec::new();
    for (stream, properties) in object {
        let Value::Object(properties) = properties else {
            return Err(CatalogError::NotAnObject(format!("schema.{stream}")));
        };
        for (property, payload) in properties {
            rules.push(SchemaRule {
                target: StreamPatterns::one(stream.clone(), property_breadcrumb(&[property])),
                payload: payload.clone(),
            });
        }
    }
    Ok(rules)
}

/// `null` counts as "no rules" (an unset extra); any other non-object is an error.
fn non_null_object<'a>(
    value: &'a Value,
    what: &str,
) -> Result<Option<&'a Map<String, Value>>, CatalogError> {
    match value {
        Value::Null => Ok(None),
        Value::Object(object) => Ok(Some(object)),
        _ => Err(CatalogError::NotAnObject(what.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(rules: &[MetadataRule]) -> Vec<String> {
        rules
            .iter()
            .map(|rule| {
                format!(
                    "{}{} [{}] {}={}",
                    if rule.target.negated { "!" } else { "" },
                    rule.target.patterns.len(),
                    rule.target.breadcrumb,
                    rule.key,
                    rule.value
                )
            })
            .collect()
    }

    #[test]
    fn select_pattern_parsing() {
        let parsed = SelectPattern::parse("!a.b.c");
        assert_eq!(
            (
                parsed.stream.as_str(),
                parsed.property.as_deref(),
                parsed.negated
            ),
            ("a", Some("b.c"), true)
        );
        let parsed = SelectPattern::parse(r"public\.users.id");
        assert_eq!(
            (parsed.stream.as_str(), parsed.property.as_deref()),
            ("public.users", Some("id"))
        );
        let parsed = SelectPattern::parse(r"a.b\.c");
        assert_eq!(parsed.property.as_deref(), Some(r"b\.c"));
        let parsed = SelectPattern::parse("users");
        assert_eq!((parsed.stream.as_str(), parsed.property), ("users", None));
    }

    #[test]
    fn select_rules_order_and_shape() {
        let rules = select_rules(&["users.address.city", "!users.name", "!orders.*", "items"]);
        assert_eq!(
            summary(&rules),
            [
                "1 [] selected=true",
                "1 [properties.address.properties.city] selected=true",
                "1 [properties.address] selected=true",
                "1 [] selected=true",
                "1 [properties.*] selected=true",
                "1 [properties.name] selected=false",
                "1 [] selected=false",
                "1 [properties.*] selected=false",
            ]
        );
        assert_eq!(rules[5].target.stream.as_deref(), Some("users"));
        assert_eq!(rules[6].target.stream.as_deref(), Some("orders"));
        assert!(select_filter_rules(&["!x"])[0].target.stream.is_none());
    }

    #[test]
    fn select_filter_rules_shape() {
        let rules = select_filter_rules(&["users", "!orders", "order_*.x"]);
        assert_eq!(
            summary(&rules),
            ["!2 [] selected=false", "1 [] selected=false"]
        );
        assert!(rules[0].target.matches("orders", Some("")));
        assert!(!rules[0].target.matches("order_items", Some("")));
        assert!(rules[1].target.matches("orders", Some("")));
        assert!(select_filter_rules::<&str>(&[]).is_empty());
    }

    #[test]
    fn metadata_rules_flatten() {
        let metadata = serde_json::json!({
            "users": {"replication-method": "INCREMENTAL", "id": {"is-key": true}},
            "order*": {"selected-by-default": false},
            "empty": {"x": {}},
        });
        let rules = metadata_rules(&metadata).unwrap();
        let rows: Vec<(String, String, String)> = rules
            .iter()
            .map(|rule| {
                (
                    rule.target.stream.clone().unwrap_or_default(),
                    rule.target.breadcrumb.clone(),
                    format!("{}={}", rule.key, rule.value),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (
                    "users".into(),
                    String::new(),
                    "replication-method=\"INCREMENTAL\"".into()
                ),
                ("users".into(), "properties.id".into(), "is-key=true".into()),
                (
                    "order*".into(),
                    String::new(),
                    "selected-by-default=false".into()
                ),
                ("empty".into(), String::new(), "x={}".into()),
            ]
        );
        assert!(matches!(
            metadata_rules(&serde_json::json!({"users": true})),
            Err(CatalogError::MetadataKey(key)) if key == "users"
        ));
        assert!(metadata_rules(&Value::Null).unwrap().is_empty());
    }
}
