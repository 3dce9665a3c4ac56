//! A [`Graph`] in Graphviz's DOT language (`meltc graph --format dot | dot -Tsvg`).
//!
//! Identifiers are the node keys as quoted strings, which DOT allows to hold anything once
//! `\` and `"` are escaped; doubling every backslash also keeps label escapes such as `\N`
//! from being read as Graphviz's own.

use std::fmt::Write as _;

use super::{EdgeStyle, Graph, NodeKind};

/// Render `graph` as a DOT digraph, ending with a newline.
#[must_use]
pub fn render(graph: &Graph) -> String {
    let mut out = String::from("digraph meltc {\n");
    let _ = writeln!(
        out,
        "  label={};",
        quoted(&format!("meltc graph: {}", graph.title))
    );
    out.push_str("  labelloc=t;\n  rankdir=LR;\n");
    out.push_str("  node [fontname=\"Helvetica\", fontsize=11, style=filled];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=9];\n");
    for node in &graph.nodes {
        let label = node
            .lines
            .iter()
            .map(|line| escape(line))
            .collect::<Vec<_>>()
            .join("\\n");
        let (shape, fill) = match node.kind {
            NodeKind::Schedule => ("shape=box, style=\"rounded,filled\"", "#fde9c9"),
            NodeKind::Job => ("shape=box", "#dbe8fb"),
            NodeKind::Task => ("shape=box, style=\"rounded,filled\"", "#edf2f7"),
            NodeKind::Plugin => ("shape=hexagon", "#d9f2e3"),
            NodeKind::Mapping => ("shape=parallelogram", "#efe3f8"),
        };
        let _ = writeln!(
            out,
            "  {} [label=\"{label}\", {shape}, fillcolor=\"{fill}\"];",
            quoted(&node.key)
        );
    }
    for edge in &graph.edges {
        let mut attributes = Vec::new();
        if !edge.label.is_empty() {
            attributes.push(format!("label={}", quoted(&edge.label)));
        }
        if edge.style == EdgeStyle::Dashed {
            attributes.push("style=dashed".to_owned());
        }
        let attributes = if attributes.is_empty() {
            String::new()
        } else {
            format!(" [{}]", attributes.join(", "))
        };
        let _ = writeln!(
            out,
            "  {} -> {}{attributes};",
            quoted(&edge.from),
            quoted(&edge.to)
        );
    }
    out.push_str("}\n");
    out
}

fn quoted(text: &str) -> String {
    format!("\"{}\"", escape(text))
}

/// Text for inside a DOT quoted string.
fn escape(text: &str) -> String {
    super::escape_chars(text, |character| match character {
        '\\' => Some("\\\\"),
        '"' => Some("\\\""),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn quoting_escapes_backslashes_and_quotes() {
        assert_eq!(quoted(r#"a"b\N"#), r#""a\"b\\N""#);
        assert_eq!(quoted("job/x\ny"), "\"job/x y\"");
    }
}
