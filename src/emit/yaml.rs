//! A small, deterministic YAML writer for generated Kubernetes files.
//!
//! Input: any `Serialize` value (the `k8s-openapi` objects, read into a [`Node`] tree the way
//! `serde_json::to_value` reads them) and comments keyed by the dotted path of the key they sit
//! above. Output: block-style YAML that every YAML 1.1/1.2 reader reads back as the same JSON
//! value: strings are written plain only when nothing could read them as another type,
//! otherwise as JSON (double-quoted YAML) strings. Keys come out in a fixed, readable order
//! ([`KEY_ORDER`] first, then as serialised).
//!
//! Why not a serde YAML crate: `serde_yaml` is deprecated, its forks differ in quoting, and
//! none writes comments, which the artifacts need (the cron preset, why a check is skipped,
//! how to supply the Secret). Why not through `serde_json::Value`: a build writes thousands of
//! CronJobs, and the `Value` (a hashed map, an owned key per field) cost more than the rest of
//! the build ([`node`]).

mod node;

use std::collections::BTreeMap;

use serde::Serialize;

pub use node::{Node, to_node};

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
/// A value that cannot be serialised (never one of ours) is written as `null`.
#[must_use]
pub fn document(header: &[String], value: &impl Serialize, comments: &Comments) -> String {
    let node = to_node(value).unwrap_or(Node::Null);
    let mut writer = Writer {
        out: String::with_capacity(4096),
        path: String::new(),
        comments,
    };
    for line in header {
        writer.comment(0, line);
    }
    writer.value(&node, 0, false);
    let mut out = writer.out;
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// The output and the dotted path of the key being written (one buffer, cut back after each
/// key, so that looking a comment up allocates nothing).
struct Writer<'c> {
    out: String,
    path: String,
    comments: &'c Comments,
}

type Entries = [(std::borrow::Cow<'static, str>, Node)];

fn rank(key: &str) -> usize {
    KEY_ORDER
        .iter()
        .position(|known| *known == key)
        .unwrap_or(KEY_ORDER.len())
}

/// The entries' indices in writing order: [`KEY_ORDER`] first, then as serialised.
fn ordered(entries: &Entries) -> Vec<usize> {
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|&index| rank(&entries[index].0));
    order
}

impl Writer<'_> {
    fn comment(&mut self, indent: usize, line: &str) {
        self.indent(indent);
        self.out.push('#');
        if !line.is_empty() {
            self.out.push(' ');
        }
        self.out.push_str(line);
        self.out.push('\n');
    }

    fn indent(&mut self, indent: usize) {
        self.out.extend(std::iter::repeat_n(' ', indent));
    }

    /// Enter `key` in the path; returns the length to cut back to.
    fn enter(&mut self, key: &str) -> usize {
        let before = self.path.len();
        if before > 0 {
            self.path.push('.');
        }
        self.path.push_str(key);
        before
    }

    /// Whether a comment sits above `key` under the current path.
    fn has_comment(&mut self, key: &str) -> bool {
        if self.comments.is_empty() {
            return false;
        }
        let before = self.enter(key);
        let found = self.comments.contains_key(self.path.as_str());
        self.path.truncate(before);
        found
    }

    /// Write `value`; with `inline`, its first line continues a `- ` already written.
    fn value(&mut self, value: &Node, indent: usize, inline: bool) {
        match value {
            Node::Map(entries) if !entries.is_empty() => {
                for (position, index) in ordered(entries).into_iter().enumerate() {
                    let (key, child) = &entries[index];
                    let before = self.enter(key);
                    let comments = self.comments;
                    for line in comments.get(self.path.as_str()).into_iter().flatten() {
                        self.comment(indent, line);
                    }
                    if !(inline && position == 0) {
                        self.indent(indent);
                    }
                    self.key(key);
                    self.out.push(':');
                    self.child(child, indent);
                    self.path.truncate(before);
                }
            }
            Node::Seq(items) if !items.is_empty() => {
                for (index, item) in items.iter().enumerate() {
                    if !(inline && index == 0) {
                        self.indent(indent);
                    }
                    match item {
                        Node::Map(entries) if !entries.is_empty() => {
                            // A comment above the item's first key cannot share the `- ` line.
                            let first = entries
                                .iter()
                                .min_by_key(|(key, _)| rank(key))
                                .map_or("", |(key, _)| key);
                            if self.has_comment(first) {
                                self.out.push_str("-\n");
                                self.value(item, indent + 2, false);
                            } else {
                                self.out.push_str("- ");
                                self.value(item, indent + 2, true);
                            }
                        }
                        Node::Seq(inner) if !inner.is_empty() => {
                            self.out.push_str("- ");
                            self.value(item, indent + 2, true);
                        }
                        _ => {
                            self.out.push_str("- ");
                            self.scalar(item);
                            self.out.push('\n');
                        }
                    }
                }
            }
            _ => {
                self.scalar(value);
                self.out.push('\n');
            }
        }
    }

    /// After `key:`: a scalar on the same line, a collection on the following lines.
    fn child(&mut self, value: &Node, indent: usize) {
        match value {
            Node::Map(entries) if !entries.is_empty() => {
                self.out.push('\n');
                self.value(value, indent + 2, false);
            }
            // Lists sit at the key's own indentation, as kubectl writes them.
            Node::Seq(items) if !items.is_empty() => {
                self.out.push('\n');
                self.value(value, indent, false);
            }
            _ => {
                self.out.push(' ');
                self.scalar(value);
                self.out.push('\n');
            }
        }
    }

    fn key(&mut self, key: &str) {
        if plain_ok(key) {
            self.out.push_str(key);
        } else {
            self.quoted(key);
        }
    }

    fn scalar(&mut self, value: &Node) {
        match value {
            Node::Null => self.out.push_str("null"),
            Node::Bool(true) => self.out.push_str("true"),
            Node::Bool(false) => self.out.push_str("false"),
            Node::Number(number) => self.out.push_str(number),
            Node::Str(text) if plain_ok(text) => self.out.push_str(text),
            Node::Str(text) => self.quoted(text),
            Node::Map(_) => self.out.push_str("{}"),
            Node::Seq(_) => self.out.push_str("[]"),
        }
    }

    /// A JSON string is a valid YAML double-quoted scalar.
    fn quoted(&mut self, text: &str) {
        self.out
            .push_str(&serde_json::to_string(text).unwrap_or_default());
    }
}

/// Whether `text` reads back as this string when written plain, under YAML 1.1 and 1.2 alike:
/// letters, digits and `-_./` only, starting with a letter or `/`, and not a word either
/// version reads as a boolean or null; or a quantity, digits then letters only (`512Mi`).
fn plain_ok(text: &str) -> bool {
    const WORDS: &[&str] = &["y", "n", "yes", "no", "on", "off", "true", "false", "null"];
    let Some(&first) = text.as_bytes().first() else {
        return false;
    };
    let quantity = {
        let letters = text.trim_start_matches(|c: char| c.is_ascii_digit());
        first.is_ascii_digit()
            && !letters.is_empty()
            && letters.bytes().all(|c| c.is_ascii_alphabetic())
    };
    quantity
        || ((first.is_ascii_alphabetic() || first == b'/')
            && text
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'/'))
            && !WORDS.iter().any(|word| word.eq_ignore_ascii_case(text)))
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
