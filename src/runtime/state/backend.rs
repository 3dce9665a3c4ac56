//! What a storage backend provides: whole-file reads and writes of `<state_id>/state.json`
//! and the lock file beside it. The rules (merging, locking, listing) live above it, once.

use std::time::SystemTime;

use super::error::StateResult;
use super::id::StateId;

/// The name of the stored document in a state ID's folder.
pub const STATE_FILE: &str = "state.json";
/// The name of the lock file in a state ID's folder.
pub const LOCK_FILE: &str = "lock";

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
}
