//! The history of a state ID: the last documents a run or a state command replaced, kept beside
//! `state.json` so that a bad run or a wrong edit can be rolled back (`state history`,
//! `state rollback`).
//!
//! An entry is the replaced `state.json`, byte for byte, stored as
//! `<state_id>/history/<sequence>.<reason>.json` ([`Beside::History`]): `sequence` grows by one
//! per entry (so the newest is the highest, whatever the clocks say) and `reason` says what
//! replaced it (`run`, `set`, `edit`, …). When it was replaced is the file's modification time.
//! Meltano never reads these files (see [`Beside`]). A run keeps one entry, the document it
//! started from, not one per state line: a run writes a state per batch, and entries that
//! many would push every earlier run out of the history.
//!
//! Entries are written and pruned under the state ID's lock, by [`super::StateStore`]; only
//! the newest `keep` are kept.

use std::fmt;
use std::time::SystemTime;

use super::backend::{Backend, Beside};
use super::error::StateResult;
use super::id::StateId;

/// `MELTC_STATE_HISTORY`'s default: how many replaced documents each state ID keeps.
pub const DEFAULT_KEEP: usize = 10;

/// What replaced a document (the `<reason>` of an entry's name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The first state a run stored.
    Run,
    /// `state set`.
    Set,
    /// `state clear`.
    Clear,
    /// `state clear --stream`.
    ClearStream,
    /// `state edit`.
    Edit,
    /// `state copy` onto this ID.
    Copy,
    /// `state rollback`.
    Rollback,
}

impl Reason {
    /// The word in the entry's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Run => "run",
            Self::Set => "set",
            Self::Clear => "clear",
            Self::ClearStream => "clear-stream",
            Self::Edit => "edit",
            Self::Copy => "copy",
            Self::Rollback => "rollback",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// One kept document, as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its place counted from the newest: 1 is the document the last change replaced.
    pub number: usize,
    /// The name's sequence number.
    pub sequence: u64,
    /// What replaced it, as its name says (a word meltc-run does not know is kept as is).
    pub reason: String,
    /// When it was replaced (the storage's modification time).
    pub saved_at: SystemTime,
    /// Its file name in the history folder.
    pub name: String,
}

/// The name of the entry `sequence` replaced for `reason`.
#[must_use]
pub fn entry_name(sequence: u64, reason: Reason) -> String {
    format!("{sequence:08}.{reason}.json")
}

/// The sequence number and reason of an entry's file name; `None` for any other file.
#[must_use]
pub fn parse_name(name: &str) -> Option<(u64, &str)> {
    let stem = name.strip_suffix(".json")?;
    let (sequence, reason) = stem.split_once('.')?;
    let valid_reason =
        !reason.is_empty() && reason.chars().all(|c| c.is_ascii_lowercase() || c == '-');
    (valid_reason && sequence.chars().all(|c| c.is_ascii_digit()))
        .then(|| sequence.parse().ok().map(|number| (number, reason)))
        .flatten()
}

/// The entries of `state_id`, newest first.
///
/// # Errors
/// Backend errors.
pub fn entries(backend: &dyn Backend, state_id: &StateId) -> StateResult<Vec<Entry>> {
    let mut entries: Vec<Entry> = backend
        .list_beside(state_id, Beside::History)?
        .into_iter()
        .filter_map(|file| {
            let (sequence, reason) = parse_name(&file.name)?;
            Some(Entry {
                number: 0,
                sequence,
                reason: reason.to_owned(),
                saved_at: file.modified,
                name: file.name.clone(),
            })
        })
        .collect();
    entries.sort_by(|a, b| b.sequence.cmp(&a.sequence).then(a.name.cmp(&b.name)));
    for (index, entry) in entries.iter_mut().enumerate() {
        entry.number = index + 1;
    }
    Ok(entries)
}

/// Keep `text` (the document being replaced) as the newest entry, then remove all but the
/// newest `keep`. Nothing is kept when `keep` is 0. Call under the state ID's lock.
///
/// # Errors
/// Backend errors (the caller then leaves the stored document as it was).
pub fn save(
    backend: &dyn Backend,
    state_id: &StateId,
    text: &str,
    reason: Reason,
    keep: usize,
) -> StateResult<()> {
    if keep == 0 {
        return Ok(());
    }
    let existing = entries(backend, state_id)?;
    let sequence = existing.first().map_or(1, |newest| newest.sequence + 1);
    backend.write_beside(
        state_id,
        Beside::History,
        &entry_name(sequence, reason),
        text,
    )?;
    // `existing` is newest first and the new entry is one more: keep `keep - 1` of them.
    for stale in existing.iter().skip(keep - 1) {
        backend.delete_beside(state_id, Beside::History, &stale.name)?;
    }
    Ok(())
}

/// The text of an entry, or `None` when it was pruned meanwhile.
///
/// # Errors
/// Backend errors.
pub fn read(
    backend: &dyn Backend,
    state_id: &StateId,
    entry: &Entry,
) -> StateResult<Option<String>> {
    backend.read_beside(state_id, Beside::History, &entry.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_sequence_and_the_reason() {
        assert_eq!(entry_name(12, Reason::Run), "00000012.run.json");
        assert_eq!(
            entry_name(123_456_789, Reason::ClearStream),
            "123456789.clear-stream.json"
        );
        assert_eq!(parse_name("00000012.run.json"), Some((12, "run")));
        assert_eq!(
            parse_name("00000003.clear-stream.json"),
            Some((3, "clear-stream"))
        );
        // A reason from a later meltc-run is listed as it is.
        assert_eq!(parse_name("7.import.json"), Some((7, "import")));
        for other in [
            "state.json",
            "00000012.json",
            ".00000012.run.json.1-2-3.tmp",
            "x.run.json",
            "12.Run.json",
            "12.run.txt",
            "12..json",
        ] {
            assert_eq!(parse_name(other), None, "{other}");
        }
    }

    #[test]
    fn no_entry_is_ever_named_like_the_state_document() {
        for reason in [
            Reason::Run,
            Reason::Set,
            Reason::Clear,
            Reason::ClearStream,
            Reason::Edit,
            Reason::Copy,
            Reason::Rollback,
        ] {
            assert_ne!(entry_name(1, reason), "state.json");
        }
    }
}
