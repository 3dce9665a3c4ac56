//! The stored state document and Meltano's rules for reading and updating it
//! (Meltano's `MeltanoState` and `StateStoreManager.update` in `core/state_store/base.py`).
//!
//! Every file and object backend stores `json.dumps({"completed": C, "partial": P})` under
//! `<state_id>/state.json`. A run reads `partial` deep-merged onto `completed`; an update either
//! replaces the document (a complete state) or merges into `partial` (an incomplete one).
//! Values are `serde_json::Value`s with `preserve_order`, so keys keep the order a Python dict
//! would give them and the text is byte-identical to Meltano's.

use serde_json::{Map, Value};

use crate::meltano::python_json;

/// The key every Meltano state payload carries the Singer state under.
pub const SINGER_STATE_KEY: &str = "singer_state";

/// One state ID's stored record: `{"completed": C, "partial": P}`.
#[derive(Clone, Debug, PartialEq)]
pub struct StateDocument {
    /// The last complete state (`meltano state set`, `meltano run` with the overwrite strategy).
    pub completed: Value,
    /// State merged in by incomplete runs (merge strategy, `--full-refresh`), read on top of
    /// `completed`.
    pub partial: Value,
}

impl Default for StateDocument {
    fn default() -> Self {
        Self {
            completed: empty(),
            partial: empty(),
        }
    }
}

impl StateDocument {
    /// A complete state: replaces whatever is stored.
    #[must_use]
    pub fn complete(completed: Value) -> Self {
        Self {
            completed,
            partial: empty(),
        }
    }

    /// An incomplete state: merged into the stored `partial`.
    #[must_use]
    pub fn incomplete(partial: Value) -> Self {
        Self {
            completed: empty(),
            partial,
        }
    }

    /// Read a stored `state.json`. A missing key reads as `{}` (`MeltanoState.from_json`).
    ///
    /// # Errors
    /// When the text is not JSON, or not a JSON object.
    pub fn parse(text: &str) -> Result<Self, DocumentError> {
        let Value::Object(mut object) = serde_json::from_str(text)? else {
            return Err(DocumentError::NotAnObject);
        };
        Ok(Self {
            completed: object.remove("completed").unwrap_or_else(empty),
            partial: object.remove("partial").unwrap_or_else(empty),
        })
    }

    /// The stored text: Python's `json.dumps` with default separators, no newline.
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut object = Map::new();
        object.insert("completed".to_owned(), self.completed.clone());
        object.insert("partial".to_owned(), self.partial.clone());
        python_json::dumps(&Value::Object(object), None)
    }

    /// What a run starts from and `meltano state get` prints: `partial` deep-merged onto
    /// `completed` (partial wins at every depth; lists and scalars are replaced).
    #[must_use]
    pub fn merged(&self) -> Value {
        let mut merged = self.completed.clone();
        deep_merge(&self.partial, &mut merged);
        merged
    }

    /// Whether this is a complete state: Python truthiness of `completed` (`is_complete`).
    #[must_use]
    pub fn is_complete(&self) -> bool {
        python_json::truthy(&self.completed)
    }

    /// The document an update leaves behind (`StateStoreManager.update`): a complete state
    /// replaces the stored one; an incomplete one is merged into the stored `partial`, the
    /// stored `completed` kept; with nothing stored, the update is stored as given.
    #[must_use]
    pub fn updated(stored: Option<Self>, update: Self) -> Self {
        match stored {
            Some(mut stored) if !update.is_complete() => {
                deep_merge(&update.partial, &mut stored.partial);
                stored
            }
            _ => update,
        }
    }
}

/// Why a stored document cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// Not JSON at all.
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON, but not an object with `completed` and `partial`.
    #[error("not a JSON object")]
    NotAnObject,
}

/// Meltano's `merge(src, dest)` (`core/utils/__init__.py`): every key of `source` into
/// `destination`, recursing where `source` holds an object, replacing everything else.
///
/// Where Python would fail (an object in `source` over a non-object in `destination`, or a
/// `source` that is not an object), the `source` value replaces the destination instead.
pub fn deep_merge(source: &Value, destination: &mut Value) {
    let (Value::Object(source), Value::Object(destination)) = (source, &mut *destination) else {
        if !(source.is_object() && destination.is_object()) {
            *destination = source.clone();
        }
        return;
    };
    for (key, value) in source {
        match (value, destination.get_mut(key)) {
            (Value::Object(_), Some(existing @ Value::Object(_))) => deep_merge(value, existing),
            _ => {
                destination.insert(key.clone(), value.clone());
            }
        }
    }
}

fn empty() -> Value {
    Value::Object(Map::new())
}

/// The `state.json` handed to a tap (`--state`), from the merged state of its state ID:
/// `singer_state` written with `indent=2`, or `None` when there is no (truthy) Singer state,
/// in which case the tap runs without `--state` (`SingerTap.look_up_state`).
#[must_use]
pub fn tap_state_file(merged: &Value) -> Option<String> {
    merged
        .get(SINGER_STATE_KEY)
        .filter(|state| python_json::truthy(state))
        .map(|state| python_json::dumps(state, Some(2)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn stored_text_is_python_json_dumps() {
        let document = StateDocument::complete(json!({
            "singer_state": {"bookmarks": {"users": {"n": 2, "name": "Zoë", "at": 1.0}}}
        }));
        // Verified against Meltano (`MeltanoState.json`, `core/state_store/base.py`) plus the
        // ensure_ascii escape and float repr.
        assert_eq!(
            document.to_json(),
            r#"{"completed": {"singer_state": {"bookmarks": {"users": {"n": 2, "name": "Zo\u00eb", "at": 1.0}}}}, "partial": {}}"#
        );
        assert_eq!(StateDocument::parse(&document.to_json()).unwrap(), document);
    }

    #[test]
    fn missing_keys_read_as_empty_objects() {
        let document = StateDocument::parse(r#"{"partial": {"a": 1}}"#).unwrap();
        assert_eq!(document.completed, json!({}));
        assert_eq!(document.partial, json!({"a": 1}));
        assert!(StateDocument::parse("[]").is_err());
        assert!(StateDocument::parse("{").is_err());
    }

    #[test]
    fn merged_view_puts_partial_over_completed_at_every_depth() {
        let document = StateDocument {
            completed: json!({"singer_state": {"bookmarks": {
                "a": {"n": 1, "keep": true}, "b": {"list": [1, 2, 3]}
            }}}),
            partial: json!({"singer_state": {"bookmarks": {
                "a": {"n": 5}, "b": {"list": [9]}, "c": {"new": 1}
            }}}),
        };
        let merged = document.merged();
        assert_eq!(
            merged,
            json!({"singer_state": {"bookmarks": {
                "a": {"n": 5, "keep": true}, "b": {"list": [9]}, "c": {"new": 1}
            }}})
        );
        // Key order is Python's: completed's keys first, new keys from partial after.
        assert_eq!(
            python_json::dumps_compact(&merged),
            r#"{"singer_state":{"bookmarks":{"a":{"n":5,"keep":true},"b":{"list":[9]},"c":{"new":1}}}}"#
        );
    }

    #[test]
    fn merge_replaces_values_that_are_not_objects_on_both_sides() {
        let mut destination = json!({"a": 1, "b": {"x": 1}, "c": [1]});
        deep_merge(
            &json!({"a": {"y": 2}, "b": 3, "c": {"z": 1}}),
            &mut destination,
        );
        assert_eq!(destination, json!({"a": {"y": 2}, "b": 3, "c": {"z": 1}}));
    }

    #[test]
    fn a_complete_update_replaces_and_an_incomplete_one_merges_into_partial() {
        let stored = StateDocument {
            completed: json!({"singer_state": {"a": 1}}),
            partial: json!({"singer_state": {"b": 1, "c": {"d": 1}}}),
        };
        let replaced = StateDocument::updated(
            Some(stored.clone()),
            StateDocument::complete(json!({"singer_state": {"z": 1}})),
        );
        assert_eq!(
            replaced,
            StateDocument::complete(json!({"singer_state": {"z": 1}}))
        );

        let merged = StateDocument::updated(
            Some(stored.clone()),
            StateDocument::incomplete(json!({"singer_state": {"c": {"e": 2}}})),
        );
        assert_eq!(merged.completed, stored.completed);
        assert_eq!(
            merged.partial,
            json!({"singer_state": {"b": 1, "c": {"d": 1, "e": 2}}})
        );

        let first = StateDocument::incomplete(json!({"singer_state": {"x": 1}}));
        assert_eq!(StateDocument::updated(None, first.clone()), first);
    }

    #[test]
    fn completeness_is_python_truthiness() {
        for (completed, complete) in [
            (json!({}), false),
            (json!(null), false),
            (json!([]), false),
            (json!(0), false),
            (json!(""), false),
            (json!({"singer_state": {}}), true),
            (json!([0]), true),
        ] {
            let document = StateDocument::complete(completed.clone());
            assert_eq!(document.is_complete(), complete, "{completed}");
        }
    }

    #[test]
    fn the_tap_gets_singer_state_indented_or_nothing() {
        let merged = json!({"singer_state": {"bookmarks": {"a": {"n": 1}}}});
        assert_eq!(
            tap_state_file(&merged).unwrap(),
            "{\n  \"bookmarks\": {\n    \"a\": {\n      \"n\": 1\n    }\n  }\n}"
        );
        assert_eq!(tap_state_file(&json!({})), None);
        assert_eq!(tap_state_file(&json!({"singer_state": {}})), None);
        assert_eq!(tap_state_file(&json!({"other": 1})), None);
    }
}
