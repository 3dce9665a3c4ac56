//! A small, deterministic YAML writer for generated Kubernetes files.
//!
//! Input: a JSON value (Kubernetes objects are serialised with serde first) and comments keyed
//! by the dotted path of the key they sit above. Output: block-style YAML that every YAML
//! 1.1/1.2 reader reads back as the same JSON value: strings are written plain only when
//! nothing could read them as another type, otherwise as JSON (double-quoted YAML) strings.
//! Keys come out in a fixed, readable order ([`KEY_ORDER`] first, then as serialised).
//!
//! Why not a serde YAML crate: `serde_yaml` is deprecated, its forks differ in quoting, and
//! none writes comments, which the artifacts need (the cron preset, why a check is skipped,
//! how to supply the Secret).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

/// Keys written first, in this order, wherever they appear; others follow in serialised order.
const KEY_ORDER: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "namespace",
    "labels",
    "annotations",
    "type",
    "schedule",
    "timeZone",
    "suspend",
    "concurrencyPolicy",
    "startingDeadlineSeconds",
    "successfulJobsHistoryLimit",
    "failedJobsHistoryLimit",
    "image",
    "imagePullPolicy",
    "args",
];

/// Comments by dotted key path (`spec.schedule`; list items are not part of the path).
pub type Comments = BTreeMap<String, Vec<String>>;

/// `value` as a YAML document, with `header` comment lines on top and `comments` above keys.
#[must_use]
pub fn document(header: &[String], value: &Value, comments: &Comments) -> String {
    let mut out = String::new();
    for line in header {
        push_comment(&mut out, 0, line);
    }
    write_value(&mut out, value, 0, "", comments, false);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn push_comment(out: &mut String, indent: usize, line: &str) {
    let _ = writeln!(
        out,
        "{:indent$}#{}{line}",
        "",
        if line.is_empty() { "" } else { " " }
    );
}

fn ordered_keys(map: &serde_json::Map<String, Value>) -> Vec<&String> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort_by_key(|key| {
        KEY_ORDER
            .iter()
            .position(|known| known == key)
            .unwrap_or(KEY_ORDER.len())
    });
    keys
}

fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Write `value`; with `inline`, its first line continues a `- ` already written.
fn write_value(
    out: &mut String,
    value: &Value,
    indent: usize,
    path: &str,
    comments: &Comments,
    inline: bool,
) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (index, key) in ordered_keys(map).into_iter().enumerate() {
                let child_path = child_path(path, key);
                for line in comments.get(&child_path).into_iter().flatten() {
                    push_comment(out, indent, line);
                }
                if !(inline && index == 0) {
                    out.push_str(&" ".repeat(indent));
                }
                out.push_str(&scalar_key(key));
                out.push(':');
                write_child(out, &map[key.as_str()], indent, &child_path, comments);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (index, item) in items.iter().enumerate() {
                if !(inline && index == 0) {
                    out.push_str(&" ".repeat(indent));
                }
                match item {
                    Value::Object(map) if !map.is_empty() => {
                        // A comment above the item's first key cannot share the `- ` line.
                        let first = ordered_keys(map)[0];
                        if comments.contains_key(&child_path(path, first)) {
                            out.push_str("-\n");
                            write_value(out, item, indent + 2, path, comments, false);
                        } else {
                            out.push_str("- ");
                            write_value(out, item, indent + 2, path, comments, true);
                        }
                    }
                    Value::Array(inner) if !inner.is_empty() => {
                        out.push_str("- ");
                        write_value(out, item, indent + 2, path, comments, true);
                    }
                    _ => {
                        out.push_str("- ");
                        out.push_str(&scalar(item));
                        out.push('\n');
                    }
                }
            }
        }
        _ => {
            out.push_str(&scalar(value));
            out.push('\n');
        }
    }
}

/// After `key:`: a scalar on the same line, a collection on the following lines.
fn write_child(out: &mut String, value: &Value, indent: usize, path: &str, comments: &Comments) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_value(out, value, indent + 2, path, comments, false);
        }
        // Lists sit at the key's own indentation, as kubectl writes them.
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_value(out, value, indent, path, comments, false);
        }
        _ => {
            out.push(' ');
            out.push_str(&scalar(value));
            out.push('\n');
        }
    }
}

fn scalar_key(key: &str) -> String {
    if plain_ok(key) {
        key.to_owned()
    } else {
        quoted(key)
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) if plain_ok(text) => text.clone(),
        Value::String(text) => quoted(text),
        Value::Object(_) => "{}".to_owned(),
        Value::Array(_) => "[]".to_owned(),
    }
}

/// A JSON string is a valid YAML double-quoted scalar.
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// Whether `text` reads back as this string when written plain, under YAML 1.1 and 1.2 alike:
/// letters, digits and `-_./` only, starting with a letter or `/`, and not a word either
/// version reads as a boolean or null; or a quantity, digits then letters only (`512Mi`).
fn plain_ok(text: &str) -> bool {
    const WORDS: &[&str] = &["y", "n", "yes", "no", "on", "off", "true", "false", "null"];
    let Some(first) = text.chars().next() else {
        return false;
    };
    let quantity = {
        let letters = text.trim_start_matches(|c: char| c.is_ascii_digit());
        first.is_ascii_digit()
            && !letters.is_empty()
            && letters.chars().all(|c| c.is_ascii_alphabetic())
    };
    quantity
        || ((first.is_ascii_alphabetic() || first == '/')
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
            && !WORDS.contains(&text.to_ascii_lowercase().as_str()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Comments, document};

    #[test]
    fn block_style_with_comments_and_quoting() {
        let value = json!({
            "memory": "512Mi",
            "kind": "CronJob",
            "apiVersion": "batch/v1",
            "spec": {
                "schedule": "0 0 * * *",
                "suspend": false,
                "list": [{"name": "a", "value": "yes"}, "on", 3],
                "empty": {},
            },
        });
        let mut comments = Comments::new();
        comments.insert(
            "spec.schedule".to_owned(),
            vec!["meltano.yml: interval \"@daily\"".to_owned()],
        );
        comments.insert("spec.list.value".to_owned(), vec!["why".to_owned()]);
        let text = document(&["Generated.".to_owned()], &value, &comments);
        assert_eq!(
            text,
            "# Generated.\napiVersion: batch/v1\nkind: CronJob\nmemory: 512Mi\nspec:\n  \
             # meltano.yml: interval \"@daily\"\n  schedule: \"0 0 * * *\"\n  suspend: false\n  \
             list:\n  - name: a\n    # why\n    value: \"yes\"\n  - \"on\"\n  - 3\n  empty: {}\n"
        );
    }

    #[test]
    fn comment_on_the_first_key_of_a_list_item() {
        let value = json!({"items": [{"key": "A", "path": "p"}]});
        let mut comments = Comments::new();
        comments.insert("items.key".to_owned(), vec!["first".to_owned()]);
        let text = document(&[], &value, &comments);
        assert_eq!(text, "items:\n-\n  # first\n  key: A\n  path: p\n");
    }
}
