//! Typed, borrowed views of a meltano.yml document.
//!
//! The views are lenient: an item of the wrong shape is skipped here (the schema check reports
//! it), so every later check can assume the shapes it reads.

use crate::diagnostics::Span;
use crate::meltano::PluginType;
use crate::yaml::{Node, Value};

/// An item of a named list (`jobs`, `schedules`, `environments`, `plugins.<type>`).
#[derive(Clone, Copy, Debug)]
pub struct Named<'a> {
    /// The whole item.
    pub node: &'a Node,
    /// Its `name`.
    pub name: &'a str,
    /// Where the name is written.
    pub name_span: Span,
}

impl<'a> Named<'a> {
    fn from(node: &'a Node) -> Option<Self> {
        let name_node = node.get("name")?;
        Some(Self {
            node,
            name: name_node.as_str()?,
            name_span: name_node.span,
        })
    }

    /// The string value of `key`.
    #[must_use]
    pub fn get_str(&self, key: &str) -> Option<&'a str> {
        self.node.get_str(key)
    }
}

/// A plugin entry with its type.
#[derive(Clone, Copy, Debug)]
pub struct Plugin<'a> {
    /// `plugins.<type>`.
    pub plugin_type: PluginType,
    /// The entry.
    pub entry: Named<'a>,
}

impl<'a> Plugin<'a> {
    /// The plugin name.
    #[must_use]
    pub fn name(&self) -> &'a str {
        self.entry.name
    }

    /// `inherit_from`, unless it equals the name (Meltano reads that as unset).
    #[must_use]
    pub fn inherit_from(&self) -> Option<&'a str> {
        self.entry
            .get_str("inherit_from")
            .filter(|parent| *parent != self.name())
    }

    /// A custom plugin: `namespace` without `inherit_from` (Meltano's `ProjectPlugin.__init__`
    /// and `is_custom`, `core/plugin/project_plugin.py`).
    #[must_use]
    pub fn is_custom(&self) -> bool {
        self.entry.node.get("namespace").is_some() && self.inherit_from().is_none()
    }

    /// The `variant` as written.
    #[must_use]
    pub fn variant(&self) -> Option<&'a str> {
        self.entry.get_str("variant")
    }

    /// Names of the mapper's `mappings` (empty for other types).
    #[must_use]
    pub fn mapping_names(&self) -> Vec<Named<'a>> {
        if self.plugin_type != PluginType::Mappers {
            return Vec::new();
        }
        named_items(self.entry.node.get("mappings"))
    }
}

/// The items of a list of named mappings.
#[must_use]
pub fn named_items(list: Option<&Node>) -> Vec<Named<'_>> {
    list.and_then(Node::as_sequence)
        .unwrap_or_default()
        .iter()
        .filter_map(Named::from)
        .collect()
}

/// Every plugin of a document, in type order then file order.
#[must_use]
pub fn plugins(document: &Node) -> Vec<Plugin<'_>> {
    plugins_under(document.get("plugins"))
}

/// Every plugin entry under a `plugins:` mapping (top level or an environment's `config`).
#[must_use]
pub fn plugins_under(plugins: Option<&Node>) -> Vec<Plugin<'_>> {
    let Some(mapping) = plugins.and_then(Node::as_mapping) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for plugin_type in PluginType::ALL {
        if let Some((_, list)) = mapping.get(plugin_type.as_str()) {
            found.extend(
                named_items(Some(list))
                    .into_iter()
                    .map(|entry| Plugin { plugin_type, entry }),
            );
        }
    }
    found
}

/// Top-level keys of meltano.yml that are structure, not project settings.
pub const STRUCTURE_KEYS: &[&str] = &[
    "version",
    "project_id",
    "default_environment",
    "include_paths",
    "plugins",
    "schedules",
    "environments",
    "jobs",
    "env",
    "annotations",
];

/// The project settings written at the top level (`state_backend`, `elt`, ...): every key that
/// is not structure, with its value.
pub fn project_settings(document: &Node) -> impl Iterator<Item = (&str, &Node)> {
    document
        .as_mapping()
        .into_iter()
        .flat_map(|mapping| mapping.iter())
        .filter(|(key, _)| !STRUCTURE_KEYS.contains(&key.as_str()))
        .map(|(key, (_, value))| (key.as_str(), value))
}

/// `jobs`.
#[must_use]
pub fn jobs(document: &Node) -> Vec<Named<'_>> {
    named_items(document.get("jobs"))
}

/// `schedules`.
#[must_use]
pub fn schedules(document: &Node) -> Vec<Named<'_>> {
    named_items(document.get("schedules"))
}

/// `environments`.
#[must_use]
pub fn environments(document: &Node) -> Vec<Named<'_>> {
    named_items(document.get("environments"))
}

/// The plugin entries of an environment's `config.plugins`.
#[must_use]
pub fn environment_plugins<'a>(environment: &Named<'a>) -> Vec<Plugin<'a>> {
    plugins_under(
        environment
            .node
            .get("config")
            .and_then(|config| config.get("plugins")),
    )
}

/// One block name of a job's tasks, with where it is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The block name (`tap-x`, `dbt:run`, a mapping or job name); may be empty (two spaces).
    pub text: String,
    /// Where it is (the exact characters when the task is written on one line, else the task).
    pub span: Span,
}

/// The blocks of a job's tasks, flattened as Meltano does: nested lists flattened, each string
/// split on single spaces, all into one list (`[tap, target]` is one extract/load set).
#[must_use]
pub fn task_tokens(tasks: &Node, source: &str) -> Vec<Token> {
    let mut strings = Vec::new();
    collect_task_strings(tasks, &mut strings);
    strings
        .into_iter()
        .flat_map(|node| split_task(node, source))
        .collect()
}

fn collect_task_strings<'a>(node: &'a Node, out: &mut Vec<&'a Node>) {
    match &node.value {
        Value::Sequence(items) => items
            .iter()
            .for_each(|item| collect_task_strings(item, out)),
        Value::String(_) => out.push(node),
        _ => {}
    }
}

fn split_task(node: &Node, source: &str) -> Vec<Token> {
    let text = node.as_str().unwrap_or_default();
    // Find each block name in the characters as written (plain, quoted or folded), in order;
    // when it is not there verbatim (escapes), point at the whole task.
    let written = source
        .get(node.span.start..node.span.end)
        .unwrap_or_default();
    let mut cursor = 0;
    text.split(' ')
        .map(|part| {
            let found = (!part.is_empty())
                .then(|| written[cursor..].find(part))
                .flatten();
            let span = match found {
                Some(at) => {
                    let start = node.span.start + cursor + at;
                    cursor += at + part.len();
                    Span::new(node.span.file, start, start + part.len())
                }
                None => node.span,
            };
            Token {
                text: part.to_owned(),
                span,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::{FileId, SourceFile};

    #[test]
    fn tasks_flatten_and_split_with_exact_spans() {
        let text = "tasks:\n- tap-a target-b\n- [dbt:run, 'x y']\n- >-\n  tap-c\n  target-d\n";
        let root = crate::yaml::parse(FileId(0), &SourceFile::new("t", "t", text))
            .root
            .unwrap();
        let blocks = task_tokens(root.get("tasks").unwrap(), text);
        let flat: Vec<_> = blocks
            .iter()
            .map(|t| (t.text.as_str(), &text[t.span.start..t.span.end]))
            .collect();
        assert_eq!(
            flat,
            [
                ("tap-a", "tap-a"),
                ("target-b", "target-b"),
                ("dbt:run", "dbt:run"),
                ("x", "x"),
                ("y", "y"),
                ("tap-c", "tap-c"),
                ("target-d", "target-d")
            ]
        );
    }

    #[test]
    fn views_skip_malformed_items() {
        let text = "plugins:\n  extractors:\n  - name: tap-a\n    namespace: a\n  - 5\n  - name: tap-b\n    inherit_from: tap-a\n  widgets: [{name: w}]\n";
        let root = crate::yaml::parse(FileId(0), &SourceFile::new("t", "t", text))
            .root
            .unwrap();
        let found = plugins(&root);
        assert_eq!(
            found.iter().map(Plugin::name).collect::<Vec<_>>(),
            ["tap-a", "tap-b"]
        );
        assert!(found[0].is_custom());
        assert_eq!(found[1].inherit_from(), Some("tap-a"));
    }
}
