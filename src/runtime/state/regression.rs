//! Bookmarks that move backwards: what a new Singer state loses against the one it replaces,
//! stream by stream, so that the run can warn (a regressed bookmark means the next run copies
//! again what was already copied, or a later one leaves a gap).
//!
//! Input: two Singer states (the `singer_state` values, `{"bookmarks": {stream: {...}}}`).
//! Output: one [`Regression`] per bookmark value that went down and per stream whose bookmark
//! disappeared. Pure: no I/O, never fails.
//!
//! What compares: within one stream's bookmark, a value at the same place in both states when
//! both are numbers, or both strings that read as dates or date-times (RFC 3339, ISO 8601 with
//! a space, a date alone; without an offset they count as UTC). Singer SDK partitions
//! (`partitions: [{"context": {...}, ...}]`) are matched by their context, other lists are not
//! compared. A stream whose `replication_key` changed is not compared (its values mean
//! something else now). Strings that are not dates (IDs, cursors, LSNs written as text) never
//! compare: their order is the tap's business.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde_json::{Map, Value};

use crate::resolve::python_json;

/// One bookmark that a new state loses.
#[derive(Clone, Debug, PartialEq)]
pub struct Regression {
    /// The stream (its key under `bookmarks`).
    pub stream: String,
    /// What changed.
    pub change: Change,
}

/// How a stream's bookmark went backwards.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// The value at `path` (`replication_key_value`, `partitions[{"id":1}].replication_key_value`)
    /// went down from `before` to `after`.
    Backwards {
        /// Where in the stream's bookmark.
        path: String,
        /// The stored value.
        before: Value,
        /// The new value.
        after: Value,
    },
    /// The new state has no bookmark for the stream.
    Removed,
}

impl std::fmt::Display for Regression {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.change {
            Change::Backwards {
                path,
                before,
                after,
            } => write!(
                formatter,
                "the bookmark of stream `{}` moved backwards: `{path}` went from {} to {}",
                self.stream,
                python_json::dumps_compact(before),
                python_json::dumps_compact(after)
            ),
            Change::Removed => write!(
                formatter,
                "the bookmark of stream `{}` is gone from the new state",
                self.stream
            ),
        }
    }
}

/// What `after` loses against `before` (both Singer states), streams in `before`'s order.
#[must_use]
pub fn regressions(before: &Value, after: &Value) -> Vec<Regression> {
    let Some(old) = bookmarks(before) else {
        // No bookmarks before: nothing to lose.
        return Vec::new();
    };
    // No bookmarks after (`{"currently_syncing": null}`): every stream lost its bookmark. An
    // empty state (`{}`) is skipped before it gets here.
    let empty = Map::new();
    let new = bookmarks(after).unwrap_or(&empty);
    let mut found = Vec::new();
    for (stream, old_bookmark) in old {
        let Some(new_bookmark) = new.get(stream) else {
            found.push(Regression {
                stream: stream.clone(),
                change: Change::Removed,
            });
            continue;
        };
        if old_bookmark.get("replication_key") != new_bookmark.get("replication_key") {
            continue;
        }
        let mut changes = Vec::new();
        compare(old_bookmark, new_bookmark, String::new(), &mut changes);
        found.extend(changes.into_iter().map(|change| Regression {
            stream: stream.clone(),
            change,
        }));
    }
    found
}

fn bookmarks(state: &Value) -> Option<&Map<String, Value>> {
    state.get("bookmarks").and_then(Value::as_object)
}

/// Walk `old` and `new` together, recording every comparable value that went down.
fn compare(old: &Value, new: &Value, path: String, changes: &mut Vec<Change>) {
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => {
            for (key, old_value) in old {
                if let Some(new_value) = new.get(key) {
                    compare(old_value, new_value, join(&path, key), changes);
                }
            }
        }
        (Value::Array(old), Value::Array(new)) => {
            for old_item in old {
                let Some(context) = old_item.get("context") else {
                    continue;
                };
                if let Some(new_item) = new.iter().find(|item| item.get("context") == Some(context))
                {
                    let at = format!("{path}[{}]", python_json::dumps_compact(context));
                    compare(old_item, new_item, at, changes);
                }
            }
        }
        _ => {
            if is_backwards(old, new) {
                changes.push(Change::Backwards {
                    path,
                    before: old.clone(),
                    after: new.clone(),
                });
            }
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Whether `new` is lower than `old`, when the two compare at all.
fn is_backwards(old: &Value, new: &Value) -> bool {
    match (old, new) {
        (Value::Number(old), Value::Number(new)) => {
            match (old.as_i64().map(i128::from), new.as_i64().map(i128::from)) {
                (Some(old), Some(new)) => new < old,
                _ => match (old.as_u64(), new.as_u64()) {
                    (Some(old), Some(new)) => new < old,
                    _ => match (old.as_f64(), new.as_f64()) {
                        (Some(old), Some(new)) => new < old,
                        _ => false,
                    },
                },
            }
        }
        (Value::String(old), Value::String(new)) => match (instant(old), instant(new)) {
            (Some(old), Some(new)) => new < old,
            _ => false,
        },
        _ => false,
    }
}

/// A date or date-time string as nanoseconds since the epoch (UTC when it has no offset).
fn instant(text: &str) -> Option<i128> {
    let text = text.trim();
    if let Ok(aware) = DateTime::parse_from_rfc3339(text) {
        return Some(nanos(aware.naive_utc()));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M:%S%.f%z"] {
        if let Ok(aware) = DateTime::parse_from_str(text, format) {
            return Some(nanos(aware.naive_utc()));
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Some(nanos(naive));
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map(nanos)
}

fn nanos(time: NaiveDateTime) -> i128 {
    let utc = time.and_utc();
    i128::from(utc.timestamp()) * 1_000_000_000 + i128::from(utc.timestamp_subsec_nanos())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn backwards(stream: &str, path: &str, before: Value, after: Value) -> Regression {
        Regression {
            stream: stream.to_owned(),
            change: Change::Backwards {
                path: path.to_owned(),
                before,
                after,
            },
        }
    }

    #[test]
    fn an_sdk_bookmark_that_goes_down_is_found() {
        let before = json!({"bookmarks": {
            "users": {"replication_key": "updated_at", "replication_key_value": "2024-05-01T00:00:00+00:00"},
            "orders": {"replication_key": "id", "replication_key_value": 500},
        }});
        let after = json!({"bookmarks": {
            "users": {"replication_key": "updated_at", "replication_key_value": "2024-04-30T23:00:00Z"},
            "orders": {"replication_key": "id", "replication_key_value": 600},
        }});
        assert_eq!(
            regressions(&before, &after),
            [backwards(
                "users",
                "replication_key_value",
                json!("2024-05-01T00:00:00+00:00"),
                json!("2024-04-30T23:00:00Z")
            )]
        );
        // Forwards, or the same, is no regression.
        assert!(regressions(&after, &after).is_empty());
        assert!(regressions(&before, &after).len() == 1);
    }

    #[test]
    fn offsets_and_date_forms_compare_as_instants() {
        let state = |value: &str| json!({"bookmarks": {"s": {"at": value}}});
        // 01:00+02:00 is 23:00 the day before in UTC: 23:30Z is later, 22:30Z earlier.
        let before = state("2024-05-01T01:00:00+02:00");
        assert!(regressions(&before, &state("2024-04-30T23:30:00Z")).is_empty());
        assert_eq!(
            regressions(&before, &state("2024-04-30T22:30:00Z")).len(),
            1
        );
        assert_eq!(
            regressions(&state("2024-05-01 10:00:00"), &state("2024-05-01")).len(),
            1
        );
        assert_eq!(
            regressions(
                &state("2024-05-01T10:00:00.5"),
                &state("2024-05-01T10:00:00.25")
            )
            .len(),
            1
        );
    }

    #[test]
    fn strings_that_are_not_dates_never_compare() {
        let state = |value: Value| json!({"bookmarks": {"s": {"cursor": value}}});
        assert!(regressions(&state(json!("b")), &state(json!("a"))).is_empty());
        assert!(regressions(&state(json!("10")), &state(json!("9"))).is_empty());
        // A number against a string, or a list: not comparable.
        assert!(regressions(&state(json!(5)), &state(json!("4"))).is_empty());
        assert!(regressions(&state(json!([5])), &state(json!([4]))).is_empty());
    }

    #[test]
    fn numbers_compare_exactly() {
        let state = |value: Value| json!({"bookmarks": {"s": {"lsn": value}}});
        assert_eq!(
            regressions(
                &state(json!(12_345_678_901_234_568_u64)),
                &state(json!(12_345_678_901_234_567_u64))
            )
            .len(),
            1
        );
        assert_eq!(regressions(&state(json!(1.5)), &state(json!(1))).len(), 1);
        assert!(regressions(&state(json!(-2)), &state(json!(-1))).is_empty());
    }

    #[test]
    fn partitions_are_matched_by_context() {
        let before = json!({"bookmarks": {"issues": {"partitions": [
            {"context": {"repo": "a"}, "replication_key": "updated", "replication_key_value": "2024-05-02"},
            {"context": {"repo": "b"}, "replication_key": "updated", "replication_key_value": "2024-05-02"},
        ]}}});
        let after = json!({"bookmarks": {"issues": {"partitions": [
            {"context": {"repo": "b"}, "replication_key": "updated", "replication_key_value": "2024-05-03"},
            {"context": {"repo": "a"}, "replication_key": "updated", "replication_key_value": "2024-05-01"},
        ]}}});
        assert_eq!(
            regressions(&before, &after),
            [backwards(
                "issues",
                r#"partitions[{"repo":"a"}].replication_key_value"#,
                json!("2024-05-02"),
                json!("2024-05-01")
            )]
        );
    }

    #[test]
    fn a_changed_replication_key_is_not_compared_and_a_removed_stream_is_found() {
        let before = json!({"bookmarks": {
            "users": {"replication_key": "updated_at", "replication_key_value": 100},
            "gone": {"replication_key_value": 1},
        }});
        let after = json!({"bookmarks": {
            "users": {"replication_key": "id", "replication_key_value": 5},
        }});
        assert_eq!(
            regressions(&before, &after),
            [Regression {
                stream: "gone".to_owned(),
                change: Change::Removed
            }]
        );
        assert_eq!(
            regressions(&before, &after)[0].to_string(),
            "the bookmark of stream `gone` is gone from the new state"
        );
    }

    #[test]
    fn a_state_without_bookmarks_loses_every_stream() {
        assert!(regressions(&json!({}), &json!({"bookmarks": {"a": {"n": 1}}})).is_empty());
        assert!(regressions(&json!(null), &json!(null)).is_empty());
        let lost = regressions(
            &json!({"bookmarks": {"a": {"n": 1}, "b": {"n": 2}}}),
            &json!({"currently_syncing": null}),
        );
        let streams: Vec<&str> = lost.iter().map(|r| r.stream.as_str()).collect();
        assert_eq!(streams, ["a", "b"]);
        assert!(lost.iter().all(|r| r.change == Change::Removed));
    }

    #[test]
    fn the_message_names_the_stream_and_both_values() {
        let regression = backwards("users", "replication_key_value", json!(14), json!(4));
        assert_eq!(
            regression.to_string(),
            "the bookmark of stream `users` moved backwards: `replication_key_value` went from 14 to 4"
        );
    }
}
