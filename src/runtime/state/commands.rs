//! The `state` subcommands of meltc-run, as functions the CLI calls with its arguments:
//! `list [PATTERN]`, `get ID`, `set ID JSON`, `clear ID [--stream NAME]…`, `move FROM TO`,
//! `copy FROM TO`, `history ID`, `rollback ID [--to N]`, `edit ID` (the editor in
//! [`edit`]). Each returns what to print (data, for stdout) or a [`StateError`] whose message
//! says what to do. [`with_lease`] is how the CLI keeps a run from starting meanwhile.

use serde_json::{Map, Value};

use super::document::{SINGER_STATE_KEY, StateDocument};
use super::error::{StateError, StateResult};
use super::history::{Entry, Reason};
use super::id::StateId;
use super::lease::{Holder, rfc3339};
use super::store::StateStore;
use crate::resolve::python_json;

/// `state list [PATTERN]`: the stored state IDs matching the fnmatch `pattern`, sorted, one
/// per line in the output (Meltano prints them in storage order).
///
/// # Errors
/// Backend errors, an invalid pattern.
pub fn list(store: &StateStore, pattern: Option<&str>) -> StateResult<Vec<String>> {
    store.list(pattern)
}

/// `state get ID`: the merged state as one compact JSON line, exactly as `meltano state get`
/// prints it (`{}` when nothing is stored).
///
/// # Errors
/// An unstorable ID, backend errors, a corrupt stored document.
pub fn get(store: &StateStore, state_id: &str) -> StateResult<String> {
    let state = store.get(&StateId::new(state_id)?)?;
    Ok(python_json::dumps_compact(&state))
}

/// `state set ID JSON`: store `json` as the complete state. Unless `validate` is off
/// (Meltano's `--no-validate`), it must be an object with a top-level `singer_state`.
///
/// # Errors
/// Invalid JSON, a missing `singer_state`, backend and lock errors.
pub fn set(store: &StateStore, state_id: &str, json: &str, validate: bool) -> StateResult<()> {
    let state_id = StateId::new(state_id)?;
    let state: Value = serde_json::from_str(json).map_err(|source| StateError::InvalidJson {
        state_id: state_id.to_string(),
        source,
    })?;
    store.set(&state_id, state, validate)
}

/// `state clear ID`: remove the stored state.
///
/// # Errors
/// An unstorable ID, backend and lock errors.
pub fn clear(store: &StateStore, state_id: &str) -> StateResult<()> {
    store.clear(&StateId::new(state_id)?)
}

/// `state move FROM TO`: set `TO` to the merged state of `FROM`, then clear `FROM`
/// (`StateService.move_state`; like Meltano, a `FROM` without `singer_state` is refused).
///
/// # Errors
/// Moving onto itself, a source without `singer_state`, backend and lock errors.
pub fn move_state(store: &StateStore, from: &str, to: &str) -> StateResult<()> {
    let (from, to) = (StateId::new(from)?, StateId::new(to)?);
    if from == to {
        return Err(StateError::MoveOntoItself(from.to_string()));
    }
    let state = store.get(&from)?;
    store.set(&to, state, true)?;
    store.clear(&from)
}

/// `state copy FROM TO`: set `TO` to the merged state of `FROM` and keep `FROM` (a plugin or
/// an environment was renamed, so the state ID changed: `StateService.copy_state`). The state
/// `TO` had is kept in its history.
///
/// # Errors
/// Copying onto itself, a `FROM` with nothing stored or without `singer_state`, backend and
/// lock errors.
pub fn copy(store: &StateStore, from: &str, to: &str) -> StateResult<()> {
    let (from, to) = (StateId::new(from)?, StateId::new(to)?);
    if from == to {
        return Err(StateError::MoveOntoItself(from.to_string()));
    }
    let Some(document) = store.document(&from)? else {
        return Err(StateError::NothingStored(from.to_string()));
    };
    store.set_for(&to, document.merged(), true, Reason::Copy)
}

/// `state clear ID --stream NAME…`: remove the bookmarks of these streams and keep the
/// others (and `currently_syncing` when it names one of them), so that only they start over.
/// The result is stored as the complete state; the document before is kept in the history.
///
/// # Errors
/// Nothing stored, a stream without a bookmark (the message lists those with one), a
/// corrupt stored document, backend and lock errors.
pub fn clear_streams(store: &StateStore, state_id: &str, streams: &[String]) -> StateResult<()> {
    let id = StateId::new(state_id)?;
    store.replace(&id, Reason::ClearStream, |stored| {
        let text = stored.ok_or_else(|| StateError::NothingStored(id.to_string()))?;
        let mut merged = store.parse(&id, text)?.merged();
        let singer = merged
            .get_mut(SINGER_STATE_KEY)
            .and_then(Value::as_object_mut);
        let mut empty = Map::new();
        let singer = singer.unwrap_or(&mut empty);
        for stream in streams {
            let bookmarks = singer.get_mut("bookmarks").and_then(Value::as_object_mut);
            let removed = bookmarks.and_then(|bookmarks| bookmarks.shift_remove(stream));
            if removed.is_none() {
                return Err(StateError::NoSuchStream {
                    state_id: id.to_string(),
                    stream: stream.clone(),
                    streams: streams_with_bookmarks(singer),
                });
            }
            if singer.get("currently_syncing").and_then(Value::as_str) == Some(stream.as_str()) {
                singer.insert("currently_syncing".to_owned(), Value::Null);
            }
        }
        Ok(Some(StateDocument::complete(merged).to_json()))
    })
}

/// The streams with a bookmark in a Singer state, for messages.
fn streams_with_bookmarks(singer: &Map<String, Value>) -> String {
    let names: Vec<String> = singer
        .get("bookmarks")
        .and_then(Value::as_object)
        .map(|bookmarks| bookmarks.keys().map(|name| format!("`{name}`")).collect())
        .unwrap_or_default();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// `state history ID`: a header, the current state (entry 0), then each kept document,
/// newest first: its number (what `rollback --to` takes), when it was replaced and by what,
/// and its merged state as compact JSON.
///
/// # Errors
/// An unstorable ID, backend errors. A document that cannot be read is shown as such.
pub fn history(store: &StateStore, state_id: &str) -> StateResult<Vec<String>> {
    let id = StateId::new(state_id)?;
    let mut lines = vec![history_row("#", "replaced at", "by", "state")];
    let current = match store.backend().read_state(&id)? {
        Some(text) => shown(store, &id, &text),
        None => "(none)".to_owned(),
    };
    lines.push(history_row("0", "-", "-", &current));
    for entry in store.history(&id)? {
        // Pruned by a writer since the listing: no longer in the history.
        let Some(text) = store.history_text(&id, &entry)? else {
            continue;
        };
        lines.push(history_row(
            &entry.number.to_string(),
            &rfc3339(entry.saved_at),
            &entry.reason,
            &shown(store, &id, &text),
        ));
    }
    Ok(lines)
}

fn history_row(number: &str, saved_at: &str, reason: &str, state: &str) -> String {
    format!("{number:<3}{saved_at:<22}{reason:<14}{state}")
}

/// A stored document as `state get` prints it, or why it cannot be read.
fn shown(store: &StateStore, state_id: &StateId, text: &str) -> String {
    match store.parse(state_id, text) {
        Ok(document) => python_json::dumps_compact(&document.merged()),
        Err(StateError::Corrupt { source, .. }) => format!("(unreadable: {source})"),
        Err(error) => format!("(unreadable: {error})"),
    }
}

/// `state rollback ID [--to N]`: put back history entry `to` (1, the document the last run or
/// command replaced, by default). Returns the entry restored.
///
/// # Errors
/// No such entry, an entry that is not a state document, backend and lock errors.
pub fn rollback(store: &StateStore, state_id: &str, to: usize) -> StateResult<Entry> {
    store.rollback(&StateId::new(state_id)?, to)
}

/// Run `operation` while holding the run lease of `state_id`, so that no run of it starts
/// meanwhile (and none is running: then the lease is refused).
///
/// # Errors
/// [`StateError::LeaseHeld`], the error of `operation`, backend errors.
pub fn with_lease<T>(
    store: &StateStore,
    state_id: &str,
    holder: &Holder,
    operation: impl FnOnce() -> StateResult<T>,
) -> StateResult<T> {
    let lease = store.lease(&StateId::new(state_id)?, holder)?;
    let result = operation();
    let released = lease.release();
    let value = result?;
    released?;
    Ok(value)
}
