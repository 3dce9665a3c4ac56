//! `state edit ID`: the merged state in the user's editor, as `meltano state edit` does
//! (`cli/state.py` `edit_state`), validated before anything is written.
//!
//! 1. The merged state (`{}` when nothing is stored) is written with `indent=2` into a file of
//!    a private temporary folder.
//! 2. The editor runs on it: `$VISUAL`, else `$EDITOR`, else `vi` (click's `edit` order), through
//!    `sh -c` so that `EDITOR="code --wait"` works.
//! 3. Empty text or an unchanged state changes nothing, as in Meltano. Otherwise the text
//!    must be a JSON object with a `singer_state` object, whose `bookmarks` (if any) map
//!    stream names to objects.
//! 4. Under the run lease and the lock, the stored document must still be the one that was
//!    edited (a run may have stored a state meanwhile); then the edit is stored as the
//!    complete state and the document it replaces is kept in the history (so an edit can be
//!    rolled back).
//!
//! When the edited text is refused, it stays in its file and the message names it.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::commands::with_lease;
use super::document::{SINGER_STATE_KEY, StateDocument};
use super::error::{StateError, StateResult};
use super::history::Reason;
use super::id::StateId;
use super::lease::Holder;
use super::store::StateStore;
use crate::resolve::python_json;

/// What `state edit` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edited {
    /// The edit was stored.
    Saved,
    /// The editor left the state as it was.
    Unchanged,
    /// The editor left the file empty: nothing was stored.
    Emptied,
}

/// The editor command: `$VISUAL`, else `$EDITOR`, else `vi`.
#[must_use]
pub fn editor_command(visual: Option<&str>, editor: Option<&str>) -> String {
    [visual, editor]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|command| !command.is_empty())
        .unwrap_or("vi")
        .to_owned()
}

/// Edit the state of `state_id` with `editor` (see the module docs).
///
/// # Errors
/// [`StateError::Editor`] (the editor failed, the text is not JSON), [`StateError::InvalidState`],
/// [`StateError::ChangedWhileEditing`], [`StateError::LeaseHeld`], backend and lock errors.
pub fn edit(
    store: &StateStore,
    state_id: &str,
    editor: &str,
    holder: &Holder,
) -> StateResult<Edited> {
    let id = StateId::new(state_id)?;
    let stored = store.backend().read_state(&id)?;
    let before = match &stored {
        Some(text) => store.parse(&id, text)?.merged(),
        None => Value::Object(serde_json::Map::new()),
    };
    let folder = tempfile::Builder::new()
        .prefix("meltc-state-edit-")
        .tempdir()
        .map_err(|source| StateError::Io {
            action: "cannot make a folder for the edited state".to_owned(),
            source,
        })?;
    let file = folder.path().join(file_name(&id));
    write(
        &file,
        &format!("{}\n", python_json::dumps(&before, Some(2))),
    )?;
    run_editor(editor, &file)?;
    let edited = fs_err::read_to_string(&file).map_err(|source| StateError::Io {
        action: "cannot read the edited state".to_owned(),
        source,
    })?;
    if edited.trim().is_empty() {
        return Ok(Edited::Emptied);
    }
    let kept = file.display().to_string();
    let value = match parse_edited(&id, edited.trim()) {
        Ok(value) => value,
        Err(problem) => {
            // The user's work must survive a refused edit.
            let _ = folder.keep();
            return Err(StateError::InvalidState {
                state_id: id.to_string(),
                problem,
                kept,
            });
        }
    };
    if value == before {
        return Ok(Edited::Unchanged);
    }
    let text = StateDocument::complete(value).to_json();
    let saved = with_lease(store, id.as_str(), holder, || {
        store.replace(&id, Reason::Edit, |now| {
            if now.map(str::to_owned) != stored {
                return Err(StateError::ChangedWhileEditing {
                    state_id: id.to_string(),
                    kept: kept.clone(),
                });
            }
            Ok(Some(text))
        })
    });
    if saved.is_err() {
        let _ = folder.keep();
    }
    saved.map(|()| Edited::Saved)
}

/// The edited text as a state, or what is wrong with it.
fn parse_edited(state_id: &StateId, text: &str) -> Result<Value, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|error| format!("it is not JSON ({error})"))?;
    let Some(singer) = value.get(SINGER_STATE_KEY) else {
        return Err(format!(
            "it must be an object with a top-level `{SINGER_STATE_KEY}` key, as `state get \
             {state_id}` prints it"
        ));
    };
    let Some(singer) = singer.as_object() else {
        return Err(format!("`{SINGER_STATE_KEY}` must be a JSON object"));
    };
    if let Some(bookmarks) = singer.get("bookmarks") {
        let Some(bookmarks) = bookmarks.as_object() else {
            return Err("`bookmarks` must be a JSON object of streams".to_owned());
        };
        if let Some((stream, _)) = bookmarks.iter().find(|(_, bookmark)| !bookmark.is_object()) {
            return Err(format!(
                "the bookmark of stream `{stream}` must be a JSON object"
            ));
        }
    }
    Ok(value)
}

fn run_editor(editor: &str, file: &Path) -> StateResult<()> {
    // The file is `$1`, so no quoting of its path is needed; the editor command is the user's
    // own shell words, as git and click run it.
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(file)
        .status()
        .map_err(|error| {
            StateError::Editor(format!("cannot start `sh` to run the editor: {error}"))
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(StateError::Editor(format!(
            "the editor `{editor}` exited with {status}; nothing was saved"
        )))
    }
}

fn write(file: &Path, text: &str) -> StateResult<()> {
    fs_err::write(file, text).map_err(|source| StateError::Io {
        action: "cannot write the state to edit".to_owned(),
        source,
    })
}

/// A file name for the state ID that any file system accepts, ending in `.json` so that the
/// editor highlights it.
fn file_name(state_id: &StateId) -> PathBuf {
    let safe: String = state_id
        .as_str()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    PathBuf::from(format!("{safe}.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_editor_is_visual_then_editor_then_vi() {
        assert_eq!(
            editor_command(Some("code --wait"), Some("nano")),
            "code --wait"
        );
        assert_eq!(editor_command(Some(" "), Some("nano")), "nano");
        assert_eq!(editor_command(None, None), "vi");
    }

    #[test]
    fn edited_text_must_be_a_singer_state() {
        let id = StateId::new("dev:tap-to-target").unwrap();
        assert!(parse_edited(&id, r#"{"singer_state": {"bookmarks": {"a": {"n": 1}}}}"#).is_ok());
        assert!(parse_edited(&id, r#"{"singer_state": {}}"#).is_ok());
        for (text, problem) in [
            (
                "{oops",
                "it is not JSON (key must be a string at line 1 column 2)",
            ),
            (
                r#"{"bookmarks": {}}"#,
                "it must be an object with a top-level `singer_state` key, as `state get dev:tap-to-target` prints it",
            ),
            (
                r#"{"singer_state": []}"#,
                "`singer_state` must be a JSON object",
            ),
            (
                r#"{"singer_state": {"bookmarks": []}}"#,
                "`bookmarks` must be a JSON object of streams",
            ),
            (
                r#"{"singer_state": {"bookmarks": {"users": 5}}}"#,
                "the bookmark of stream `users` must be a JSON object",
            ),
        ] {
            assert_eq!(parse_edited(&id, text).unwrap_err(), problem, "{text}");
        }
    }

    #[test]
    fn file_names_are_safe() {
        let id = StateId::new("dev:tap-x-to-target-y:a/b").unwrap();
        assert_eq!(
            file_name(&id),
            PathBuf::from("dev_tap-x-to-target-y_a_b.json")
        );
    }
}
