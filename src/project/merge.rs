//! Folding included files into meltano.yml with Meltano's `deep_merge` (`core/utils/__init__.py`,
//! called by `ProjectFiles.load` in `core/project_files.py`): mappings merge key by key, lists
//! concatenate, a scalar replaces; a list or mapping arriving on a value of another kind is an
//! error (Meltano crashes there), and so is a `null` arriving on a list or mapping (Meltano
//! drops it).

use crate::diagnostics::{Diagnostic, codes, with_article};
use crate::yaml::{Node, Value};

/// Merge `incoming` into `base` in place; conflicts are reported, and the base value is kept.
pub fn deep_merge(
    base: &mut Node,
    incoming: &Node,
    path: &mut Vec<String>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    match (&mut base.value, &incoming.value) {
        (Value::Mapping(base_map), Value::Mapping(incoming_map)) => {
            for (key, (key_node, value)) in incoming_map {
                match base_map.get_mut(key) {
                    Some((_, existing)) => {
                        path.push(key.clone());
                        deep_merge(existing, value, path, diagnostics);
                        path.pop();
                    }
                    None => {
                        base_map.insert(key.clone(), (key_node.clone(), value.clone()));
                    }
                }
            }
        }
        (Value::Sequence(base_items), Value::Sequence(incoming_items)) => {
            base_items.extend(incoming_items.iter().cloned());
        }
        (Value::Null, Value::Null) => {}
        (Value::Sequence(_) | Value::Mapping(_), Value::Null) => {
            // Meltano's deep_merge assigns the null: the earlier file's list or mapping is gone.
            diagnostics.push(
                Diagnostic::new(
                    &codes::INCLUDE_TYPE_CONFLICT,
                    format!("`{}` is null here, which drops the {} an earlier file gives it", path.join("."), base.kind_name()),
                )
                .at(incoming.span, "null")
                .also(base.span, format!("this {} is dropped", base.kind_name()))
                .help("Meltano replaces the earlier value with nothing: remove the empty key from this file"),
            );
        }
        (_, Value::Sequence(_) | Value::Mapping(_)) => {
            diagnostics.push(
                Diagnostic::new(
                    &codes::INCLUDE_TYPE_CONFLICT,
                    format!(
                        "`{}` is {} here but {} in an earlier file",
                        path.join("."),
                        with_article(incoming.kind_name()),
                        with_article(base.kind_name())
                    ),
                )
                .at(incoming.span, format!("a {}", incoming.kind_name()))
                .also(base.span, format!("a {}", base.kind_name()))
                .help(
                    "Meltano cannot merge these: give the key the same kind of value in every file",
                ),
            );
        }
        _ => *base = incoming.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::{FileId, SourceFile};

    fn yaml(text: &str) -> Node {
        crate::yaml::parse(FileId(0), &SourceFile::new("t", "t", text))
            .root
            .unwrap()
    }

    #[test]
    fn mappings_merge_lists_concatenate_scalars_replace() {
        let mut base = yaml("a: {x: 1, y: [1]}\nb: 1\nl: [1]\n");
        let mut diagnostics = Vec::new();
        deep_merge(
            &mut base,
            &yaml("a: {y: [2], z: 3}\nb: 2\nl: [2]\nn: new\n"),
            &mut Vec::new(),
            &mut diagnostics,
        );
        assert!(diagnostics.is_empty());
        assert_eq!(
            base.to_json(),
            serde_json::json!({"a": {"x": 1, "y": [1, 2], "z": 3}, "b": 2, "l": [1, 2], "n": "new"})
        );
    }

    #[test]
    fn collection_over_another_kind_is_reported() {
        let mut base = yaml("a: 1\nb: [1]\n");
        let mut diagnostics = Vec::new();
        deep_merge(
            &mut base,
            &yaml("a: [1]\nb: {x: 1}\n"),
            &mut Vec::new(),
            &mut diagnostics,
        );
        let mut with_null = yaml("plugins:\nn: 1\n");
        deep_merge(
            &mut with_null,
            &yaml("plugins: {extractors: []}\nn: null\n"),
            &mut Vec::new(),
            &mut diagnostics,
        );
        let messages: Vec<_> = diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "`a` is a list here but an integer in an earlier file",
                "`b` is a mapping here but a list in an earlier file",
                "`plugins` is a mapping here but a null in an earlier file",
            ]
        );
    }
}
