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
    /// A setting that must be a number of seconds is not.
    #[error("`{name}` must be a number of seconds, not `{value}`")]
    InvalidSetting {
        /// The environment variable.
        name: &'static str,
        /// Its value (never a secret: only durations are checked).
        value: String,
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
    /// `state move` onto the state ID it moves from.
    #[error("cannot move state `{0}` onto itself")]
    MoveOntoItself(String),
}

/// Results of state operations.
pub type StateResult<T> = Result<T, StateError>;
