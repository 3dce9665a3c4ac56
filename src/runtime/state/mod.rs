//! Incremental state, compatible with Meltano's file and S3 state backends (`core/state_store/`
//! and `StateService` in `core/state_service.py`), so that a job can move between `meltano run`
//! and `meltc-run` without losing its bookmarks.
//!
//! Input: plain values (a backend URI and [`StateBackendSettings`], the process environment
//! as an [`Environment`] snapshot, state IDs); nothing here reads the manifest or a project.
//!
//! 1. [`id`]: the state ID of an extract/load set, `<env>:<tap>-to-<target>[:<suffix>]`.
//! 2. [`document`]: the stored `{"completed": …, "partial": …}` text (Python's `json.dumps`),
//!    the merged view a run starts from, and how updates apply; [`strategy`]: what each state
//!    line a target writes becomes.
//! 3. [`update_lock`]: Meltano's lock file around each update and clear, made atomic where the
//!    backend allows.
//! 4. Backends behind [`backend::Backend`]: [`local`] (`file:///abs/dir`) and [`s3`]
//!    (`s3://[key:secret@]bucket/prefix`, configured by [`s3_config`]); [`uri`] parses and
//!    redacts the URI.
//! 5. [`StateStore`] runs the operations; [`commands`] (and [`edit`]) is what the `state`
//!    subcommands call.
//! 6. meltc-run's own safety, in files Meltano never reads ([`backend::Beside`]): [`history`]
//!    keeps the last documents each state ID had (rollback), [`lease`] lets one run at a time
//!    use a state ID (both [`lease`] and [`update_lock`] on stores without conditional writes
//!    rest on [`tickets`]), [`recorder`] is what a run does with each state line (Meltano's rules
//!    plus the history, the lease, and [`regression`]: bookmarks that move backwards).
//!
//! Never prints and never logs (the editor of `state edit` is the one process it starts);
//! errors ([`StateError`]) carry no credential.

pub mod backend;
pub mod commands;
pub mod document;
pub mod edit;
pub mod error;
pub mod history;
/// State IDs live in [`crate::meltano::state_id`], shared with the compiler and `meltc plan`.
pub use crate::meltano::state_id as id;
pub mod backend_settings;
pub mod lease;
pub mod local;
pub mod pattern;
pub mod recorder;
pub mod regression;
pub mod s3;
pub mod s3_config;
pub mod store;
pub mod strategy;
pub mod tickets;
pub mod update_lock;
pub mod uri;

pub use backend_settings::{Environment, S3Settings, Secret, StateBackendSettings};
pub use document::StateDocument;
pub use error::{StateError, StateResult};
pub use id::{StateId, StateIdParts};
pub use store::StateStore;
pub use strategy::{StateStrategy, TargetLine};
