//! A [`Graph`] as a Mermaid flowchart (GitHub and GitLab render it in Markdown).
//!
//! Mermaid identifiers are plain words: each node gets a readable one from its kind and name
//! (`j_postgres_to_lake`: ASCII letters and digits kept, anything else `_`), with `_2`, `_3`...
//! added when two names would meet, in drawing order, so the output stays deterministic. The
//! one-letter prefix keeps Mermaid keywords (`end`) out. Labels are quoted, with the characters
//! Mermaid would read as syntax written as entity codes (`#quot;`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::{EdgeStyle, Graph, NodeKind};

/// The fill of each kind of node, the same in both renderers' spirit.
const STYLES: [(NodeKind, &str); 5] = [
    (NodeKind::Schedule, "fill:#fde9c9,stroke:#b7791f"),
    (NodeKind::Job, "fill:#dbe8fb,stroke:#2b6cb0"),
    (NodeKind::Task, "fill:#edf2f7,stroke:#4a5568"),
    (NodeKind::Plugin, "fill:#d9f2e3,stroke:#2f855a"),
    (NodeKind::Mapping, "fill:#efe3f8,stroke:#6b46c1"),
];

/// Render `graph` as Mermaid, ending with a newline.
#[must_use]
pub fn render(graph: &Graph) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "%% meltc graph: {}",
        graph.title.replace(['\n', '\r'], " ")
    );
    out.push_str("flowchart LR\n");
    let ids = identifiers(graph);
    let id = |key: &str| ids.get(key).map_or("missing", String::as_str);
    for node in &graph.nodes {
        let label: Vec<String> = node.lines.iter().map(|line| label_text(line)).collect();
        let label = label.join("<br>");
        let (open, close) = match node.kind {
            NodeKind::Schedule => ("([", "])"),
            NodeKind::Job => ("[", "]"),
            NodeKind::Task => ("(", ")"),
            NodeKind::Plugin => ("{{", "}}"),
            NodeKind::Mapping => ("[/", "/]"),
        };
        let _ = writeln!(
            out,
            "  {}{open}\"{label}\"{close}:::{}",
            id(&node.key),
            node.kind.name()
        );
    }
    for edge in &graph.edges {
        let arrow = match edge.style {
            EdgeStyle::Solid => "-->",
            EdgeStyle::Dashed => "-.->",
        };
        let label = if edge.label.is_empty() {
            String::new()
        } else {
            format!("|\"{}\"|", label_text(&edge.label))
        };
        let _ = writeln!(out, "  {} {arrow}{label} {}", id(&edge.from), id(&edge.to));
    }
    for (kind, style) in STYLES {
        let _ = writeln!(out, "  classDef {} {style}", kind.name());
    }
    out
}

/// A Mermaid identifier for every node key (see the module documentation).
fn identifiers(graph: &Graph) -> BTreeMap<String, String> {
    let mut taken = BTreeSet::new();
    let mut ids = BTreeMap::new();
    for node in &graph.nodes {
        let prefix = match node.kind {
            NodeKind::Schedule => "s",
            NodeKind::Job => "j",
            NodeKind::Task => "t",
            NodeKind::Plugin => "p",
            NodeKind::Mapping => "m",
        };
        // The key's first segment is the kind (and a plugin's second its type): the prefix
        // says it already.
        let name = node
            .key
            .split_once('/')
            .map_or(node.key.as_str(), |(_, name)| name);
        let name = match node.kind {
            NodeKind::Plugin => name.split_once('/').map_or(name, |(_, name)| name),
            _ => name,
        };
        let base: String = std::iter::once(prefix)
            .chain(std::iter::once("_"))
            .collect::<String>()
            + &name
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect::<String>();
        let mut id = base.clone();
        let mut count = 1;
        while !taken.insert(id.clone()) {
            count += 1;
            id = format!("{base}_{count}");
        }
        ids.insert(node.key.clone(), id);
    }
    ids
}

/// Text for inside a quoted label: characters Mermaid reads as markup become entity codes.
fn label_text(text: &str) -> String {
    super::escape_chars(text, |character| match character {
        '#' => Some("#35;"),
        '"' => Some("#quot;"),
        '<' => Some("#lt;"),
        '>' => Some("#gt;"),
        '&' => Some("#amp;"),
        '`' => Some("#96;"),
        '|' => Some("#124;"),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::{identifiers, label_text};
    use crate::graph::{Graph, Node, NodeKind};

    #[test]
    fn identifiers_are_words_and_distinct() {
        let keys = [
            ("job/a-b", NodeKind::Job),
            ("job/a_b", NodeKind::Job),
            ("job/a_b_2", NodeKind::Job),
            ("job/end", NodeKind::Job),
            ("plugin/extractors/ä", NodeKind::Plugin),
            ("plugin/loaders/ä", NodeKind::Plugin),
        ];
        let graph = Graph {
            title: String::new(),
            nodes: keys
                .iter()
                .map(|(key, kind)| Node {
                    key: (*key).to_owned(),
                    kind: *kind,
                    lines: Vec::new(),
                })
                .collect(),
            edges: Vec::new(),
        };
        let ids = identifiers(&graph);
        let shown: Vec<&str> = keys.iter().map(|(key, _)| ids[*key].as_str()).collect();
        assert_eq!(
            shown,
            ["j_a_b", "j_a_b_2", "j_a_b_2_2", "j_end", "p__", "p___2"]
        );
    }

    #[test]
    fn labels_escape_syntax() {
        assert_eq!(label_text("a\"b#c<d>|`"), "a#quot;b#35;c#lt;d#gt;#124;#96;");
        assert_eq!(label_text("0 2 * * *"), "0 2 * * *");
    }
}
