//! What can go wrong with state, each message saying what to do. No message contains a
//! credential: URIs appear redacted, S3 locations as `s3://bucket/key`.

use std::io;
use std::time::Duration;

use super::document::DocumentError;
use super::id::StateIdError;
use super::pattern::PatternError;
use super::uri::UriError;

/// A failed state operation.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The backend URI is unusable.
    #[error(transparent)]
    Uri(#[from] UriError),
    /// The state ID cannot be formed or stored.
    #[error(transparent)]
    StateId(#[from] StateIdError),
    /// The `state list` pattern does not compile.
    #[error(transparent)]
    Pattern(#[from] PatternError),
    /// A setting that must be a number is not.
    #[error("`{name}` must be {expected}, not `{value}`")]
    InvalidSetting {
        /// The environment variable.
        name: &'static str,
        /// Its value (never a secret: only numbers are checked).
        value: String,
        /// What it must be (`a number of seconds`).
        expected: &'static str,
    },
    /// Only one half of a key pair is configured (Meltano refuses this too).
    #[error(
        "the S3 state backend has {present} but no {missing}: set both \
         `state_backend.s3.aws_access_key_id` and `state_backend.s3.aws_secret_access_key` \
         (or `key:secret@` in the URI), or neither to use the environment's credentials"
    )]
    HalfCredentials {
        /// The half that is set.
        present: &'static str,
        /// The half that is missing.
        missing: &'static str,
    },
    /// The S3 client could not be set up (bad endpoint URL, TLS setup).
    #[error("cannot set up the S3 state backend for bucket `{bucket}`: {source}")]
    S3Setup {
        /// The bucket.
        bucket: String,
        /// What object_store said.
        source: Box<object_store::Error>,
    },
    /// A request to the object store failed (after retries).
    #[error(
        "{action} `{location}` failed: {source}\nhelp: check that the S3 endpoint{endpoint} is \
         reachable and that the credentials may read and write the bucket"
    )]
    S3 {
        /// What meltc-run was doing ("reading state", "writing the lock", …).
        action: &'static str,
        /// `s3://bucket/key`.
        location: String,
        /// ` (http://…)` or empty when AWS's own endpoint is used.
        endpoint: String,
        /// What object_store said.
        source: Box<object_store::Error>,
    },
    /// A local file operation failed (the `io::Error` from fs_err names the path).
    #[error("{action}: {source}")]
    Io {
        /// What meltc-run was doing.
        action: String,
        /// The error, path included.
        source: io::Error,
    },
    /// A stored document is not what Meltano writes.
    #[error(
        "the stored state at `{location}` cannot be read ({source}); fix or remove it, or \
         replace it with `state set`"
    )]
    Corrupt {
        /// Path or `s3://bucket/key`.
        location: String,
        /// Why it cannot be read.
        source: DocumentError,
    },
    /// `state set` got text that is not JSON.
    #[error("invalid JSON for state `{state_id}`: {source}")]
    InvalidJson {
        /// The state ID being set.
        state_id: String,
        /// The parse error.
        source: serde_json::Error,
    },
    /// `state set` got JSON without the top-level `singer_state` key Meltano requires.
    #[error(
        "invalid state for `{state_id}`: the JSON must be an object with a top-level \
         `singer_state` key, e.g. {{\"singer_state\": {{\"bookmarks\": {{}}}}}}"
    )]
    MissingSingerState {
        /// The state ID being set.
        state_id: String,
    },
    /// Another writer held the lock for longer than meltc-run waits.
    #[error(
        "state `{state_id}` stayed locked for {waited:?} (lock `{location}`); another meltc-run \
         or meltano is writing it. If none is running, delete the lock and run again"
    )]
    LockTimeout {
        /// The state ID.
        state_id: String,
        /// Path or `s3://bucket/key` of the lock.
        location: String,
        /// How long meltc-run waited.
        waited: Duration,
    },
    /// `state move` or `state copy` onto the state ID it comes from.
    #[error("cannot move or copy state `{0}` onto itself")]
    MoveOntoItself(String),
    /// Another run holds the state ID's run lease.
    #[error(
        "state `{state_id}` is in use by another run: {holder} (lease `{location}`; if that \
         run died, the lease expires in {expires_in_seconds} s)\nhelp: wait for it to finish, or \
         pass `--lease-wait SECONDS` to wait for it"
    )]
    LeaseHeld {
        /// The state ID.
        state_id: String,
        /// Who holds it, as its ticket says.
        holder: String,
        /// Path or `s3://bucket/key` of the holder's ticket.
        location: String,
        /// Seconds until the lease expires unless renewed (rounded up).
        expires_in_seconds: u64,
    },
    /// This run could not renew its lease in time, so another run may have taken over.
    #[error(
        "the run lease of state `{state_id}` (`{location}`) could not be renewed for {unrenewed:?}, \
         so another run may have taken over: this run stops storing state\nhelp: check that the \
         state backend stays reachable during runs"
    )]
    LeaseLost {
        /// The state ID.
        state_id: String,
        /// Path or `s3://bucket/key` of the ticket.
        location: String,
        /// How long it went without renewal.
        unrenewed: Duration,
    },
    /// A ticket just written does not show in the listing of its folder.
    #[error(
        "the {what} ticket `{location}` of state `{state_id}` was written but is not listed; \
         the {what} needs a store whose listings show what was just written (AWS S3 and \
         Garage do)"
    )]
    TicketNotListed {
        /// The state ID.
        state_id: String,
        /// What the ticket is for ([`super::backend::Beside::noun`]).
        what: &'static str,
        /// Where the ticket was written.
        location: String,
    },
    /// `state rollback --to N` beyond the kept history.
    #[error(
        "state `{state_id}` has {available} history entr{plural}, so there is no entry {requested} \
         to roll back to; `state history {state_id}` lists them",
        plural = if *available == 1 { "y" } else { "ies" }
    )]
    NoHistoryEntry {
        /// The state ID.
        state_id: String,
        /// The entry asked for.
        requested: usize,
        /// How many there are.
        available: usize,
    },
    /// An operation that needs a stored state found none.
    #[error("state `{0}` has no stored state")]
    NothingStored(String),
    /// `state clear --stream` names a stream without a bookmark.
    #[error("state `{state_id}` has no bookmark for stream `{stream}`; its streams: {streams}")]
    NoSuchStream {
        /// The state ID.
        state_id: String,
        /// The stream asked for.
        stream: String,
        /// The streams with a bookmark, comma separated (or `none`).
        streams: String,
    },
    /// The stored state changed while `state edit` had it open.
    #[error(
        "state `{state_id}` changed while it was being edited (a run stored a new state), so the \
         edit was not saved; it is kept in `{kept}`\nhelp: run `state edit` again"
    )]
    ChangedWhileEditing {
        /// The state ID.
        state_id: String,
        /// The file the edited text is kept in.
        kept: String,
    },
    /// `state edit` got text that is not a state.
    #[error(
        "the edited state of `{state_id}` was not saved: {problem}\nhelp: the edited text is \
         kept in `{kept}`; fix it there and store it with `state set`, or run `state edit` again"
    )]
    InvalidState {
        /// The state ID.
        state_id: String,
        /// What is wrong with it.
        problem: String,
        /// The file the edited text is kept in.
        kept: String,
    },
    /// `state edit` could not run the editor, or the editor failed.
    #[error("{0}")]
    Editor(String),
}

/// Results of state operations.
pub type StateResult<T> = Result<T, StateError>;
