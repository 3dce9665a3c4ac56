//! The `state` subcommands of meltc-run, as functions the CLI calls with its arguments:
//! `list [PATTERN]`, `get ID`, `set ID JSON`, `clear ID`, `move FROM TO`. Each returns what to
//! print (data, for stdout) or a [`StateError`] whose message says what to do.

use serde_json::Value;

use super::error::{StateError, StateResult};
use super::id::StateId;
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
