//! What a storage backend provides: whole-file reads and writes of `<state_id>/state.json`,
//! the lock file beside it, and meltc-run's own files in sub-folders beside them ([`Beside`]).
//! The rules (merging, locking, history, the run lease) live above it, once.

use std::time::SystemTime;

use super::error::StateResult;
use super::id::StateId;

/// The name of the stored document in a state ID's folder.
pub const STATE_FILE: &str = "state.json";
/// The name of the lock file in a state ID's folder.
pub const LOCK_FILE: &str = "lock";

/// A folder of meltc-run's own files in a state ID's folder, beside `state.json` and `lock`:
/// `<state_id>/history/<name>`, `<state_id>/lease/<name>` and `<state_id>/writers/<name>`.
///
/// Meltano never reads them: its file backend lists `<dir>/*/state.json`
/// (`_LocalFilesystemStateStoreManager.get_state_ids`), its S3 backend keeps only keys whose
/// last segment is `state.json` (`CloudStateStoreManager.get_state_ids`), and `get` reads
/// `<state_id>/state.json` alone (`BaseFilesystemStateStoreManager.get_state_path`). No file
/// in these folders is ever named `state.json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Beside {
    /// The documents a run or a state command replaced (see `history.rs`).
    History,
    /// The run lease's tickets (see `lease.rs`).
    Lease,
    /// The tickets of writers taking the update lock where the lock file cannot be created
    /// atomically (see `update_lock.rs`).
    Writers,
}

impl Beside {
    /// The folder's name inside the state ID's folder.
    #[must_use]
    pub fn folder(self) -> &'static str {
        match self {
            Self::History => "history",
            Self::Lease => "lease",
            Self::Writers => "writers",
        }
    }

    /// What the folder holds, for messages.
    #[must_use]
    pub fn noun(self) -> &'static str {
        match self {
            Self::History => "history",
            Self::Lease => "run lease",
            Self::Writers => "update lock",
        }
    }
}

/// A file of a [`Beside`] folder, as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BesideFile {
    /// Its name in the folder.
    pub name: String,
    /// When it was last written, by the storage's clock (the object's `LastModified`, the
    /// file's modification time): the run lease compares these, never the local clock.
    pub modified: SystemTime,
}

/// A lock file as read.
#[derive(Clone, Debug)]
pub struct LockFile {
    /// Its text: the UTC epoch seconds it was taken at, as a float string.
    pub content: String,
    /// When it was last written (for a lock whose text is not a number).
    pub modified: SystemTime,
    /// The object's ETag, for a conditional replace (S3 only).
    pub version: Option<String>,
}

/// One storage backend (local folder, S3 bucket). `Send + Sync` so that a store can be used
/// from the thread that reads a target's output.
pub trait Backend: Send + Sync {
    /// Where `file` of `state_id` lives, for messages (`/dir/id/lock`, `s3://bucket/key`).
    fn location(&self, state_id: &StateId, file: &str) -> String;

    /// The stored `state.json` text, or `None` when there is none.
    fn read_state(&self, state_id: &StateId) -> StateResult<Option<String>>;

    /// Replace `state.json` as a whole (readers see the old or the new text, never a part).
    fn write_state(&self, state_id: &StateId, text: &str) -> StateResult<()>;

    /// Remove `state.json` (no error if there is none).
    fn delete_state(&self, state_id: &StateId) -> StateResult<()>;

    /// The ID of every stored `state.json` (its folder relative to the state root), unsorted.
    fn state_ids(&self) -> StateResult<Vec<String>>;

    /// The lock file, or `None` when the state ID is not locked.
    fn read_lock(&self, state_id: &StateId) -> StateResult<Option<LockFile>>;

    /// Write a lock holding `token` if there is none; `false` when another writer got there
    /// first. As atomic as the backend allows (see each backend).
    fn create_lock(&self, state_id: &StateId, token: &str) -> StateResult<bool>;

    /// Whether [`Backend::create_lock`] is known to be atomic (two writers can never both
    /// get `true`); where it is not, the update lock first takes a writer ticket.
    fn creates_lock_atomically(&self) -> bool;

    /// Replace the stale lock `stale` with one holding `token`; `false` when the lock changed
    /// since it was read (another writer broke or took it).
    fn replace_stale_lock(
        &self,
        state_id: &StateId,
        stale: &LockFile,
        token: &str,
    ) -> StateResult<bool>;

    /// Remove the lock if it still holds `token` (a lock broken as stale by another writer
    /// and retaken is theirs, and stays).
    fn release_lock(&self, state_id: &StateId, token: &str) -> StateResult<()>;

    /// Write `name` in the `beside` folder of `state_id` as a whole (a reader sees the old or
    /// the new text, never a part), creating or replacing it.
    fn write_beside(
        &self,
        state_id: &StateId,
        beside: Beside,
        name: &str,
        text: &str,
    ) -> StateResult<()>;

    /// The text of `name` in the `beside` folder, or `None` when there is no such file.
    fn read_beside(
        &self,
        state_id: &StateId,
        beside: Beside,
        name: &str,
    ) -> StateResult<Option<String>>;

    /// Every file of the `beside` folder (none when the folder does not exist), unsorted.
    fn list_beside(&self, state_id: &StateId, beside: Beside) -> StateResult<Vec<BesideFile>>;

    /// Remove `name` from the `beside` folder (no error if it is not there).
    fn delete_beside(&self, state_id: &StateId, beside: Beside, name: &str) -> StateResult<()>;
}
