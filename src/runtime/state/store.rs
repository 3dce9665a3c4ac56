//! [`StateStore`]: Meltano's state operations on one backend, each update and clear under
//! the state ID's lock (`StateStoreManager.update`, `.clear`, `StateService`), plus meltc-run's
//! own: the history of replaced documents ([`history`]), rollback, and the run lease
//! ([`RunLease`]).

use std::sync::Arc;

use serde_json::Value;

use super::backend::{Backend, STATE_FILE};
use super::backend_settings::{Environment, StateBackendSettings};
use super::document::{SINGER_STATE_KEY, StateDocument};
use super::error::{StateError, StateResult};
use super::history::{self, Entry, Reason};
use super::id::StateId;
use super::lease::{Holder, LeaseSettings, RunLease};
use super::local::LocalBackend;
use super::pattern::StatePattern;
use super::s3::S3Backend;
use super::s3_config::S3Config;
use super::strategy::TargetLine;
use super::update_lock::{LockPolicy, with_lock};
use super::uri::{BackendUri, redact};

/// The state of every job, in one backend.
pub struct StateStore {
    backend: Arc<dyn Backend>,
    policy: LockPolicy,
    /// The redacted URI, for messages.
    description: String,
    /// How many replaced documents each state ID keeps.
    history: usize,
    /// The run lease's duration and wait.
    lease: LeaseSettings,
}

impl std::fmt::Debug for StateStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("StateStore")
            .field("uri", &self.description)
            .finish_non_exhaustive()
    }
}

/// The backend `settings.uri` names, without the rules on top (see [`StateStore::open`]).
///
/// # Errors
/// As [`StateStore::open`].
pub fn open_backend(
    settings: &StateBackendSettings,
    environment: &Environment,
) -> StateResult<Box<dyn Backend>> {
    Ok(match BackendUri::parse(&settings.uri)? {
        BackendUri::File { directory } => Box::new(LocalBackend::open(directory)?),
        BackendUri::S3(uri) => {
            let config = S3Config::resolve(uri, &settings.s3, environment)?;
            Box::new(S3Backend::open(&config, environment)?)
        }
    })
}

impl StateStore {
    /// Open the backend `settings.uri` names. `environment` is the process environment the
    /// S3 backend falls back to (endpoint, region, credentials); `file://` ignores it.
    ///
    /// # Errors
    /// An unsupported or malformed URI, half a key pair, a state folder that cannot be
    /// created, an S3 client that cannot be built.
    pub fn open(settings: &StateBackendSettings, environment: &Environment) -> StateResult<Self> {
        Ok(Self {
            backend: Arc::from(open_backend(settings, environment)?),
            policy: LockPolicy {
                timeout: settings.lock_timeout,
                retry: settings.lock_retry,
                max_wait: settings.lock_max_wait,
            },
            description: redact(&settings.uri),
            history: settings.history,
            lease: settings.lease,
        })
    }

    /// The storage underneath, for raw reads (tests, diagnostics).
    #[must_use]
    pub fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    /// The backend URI with credentials redacted.
    #[must_use]
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The stored document, or `None` when the state ID has none.
    ///
    /// # Errors
    /// Backend errors; [`StateError::Corrupt`] when the stored text is not a state document.
    pub fn document(&self, state_id: &StateId) -> StateResult<Option<StateDocument>> {
        self.backend
            .read_state(state_id)?
            .map(|text| self.parse(state_id, &text))
            .transpose()
    }

    /// `text` as a state document of `state_id` (its location in the error).
    ///
    /// # Errors
    /// [`StateError::Corrupt`].
    pub fn parse(&self, state_id: &StateId, text: &str) -> StateResult<StateDocument> {
        StateDocument::parse(text).map_err(|source| StateError::Corrupt {
            location: self.backend.location(state_id, STATE_FILE),
            source,
        })
    }

    /// What the next run starts from (`meltano state get`): `partial` merged onto
    /// `completed`, or `{}` when nothing is stored.
    ///
    /// # Errors
    /// As [`StateStore::document`].
    pub fn get(&self, state_id: &StateId) -> StateResult<Value> {
        Ok(self
            .document(state_id)?
            .map_or_else(|| Value::Object(serde_json::Map::new()), |doc| doc.merged()))
    }

    /// Apply one update under the lock: a complete state replaces the stored document, an
    /// incomplete one merges into its `partial` (`StateStoreManager.update`).
    ///
    /// # Errors
    /// Backend and lock errors.
    pub fn update(&self, state_id: &StateId, update: StateDocument) -> StateResult<()> {
        self.update_keeping(state_id, update, None)
    }

    /// [`StateStore::update`], first keeping the stored document in the history as replaced
    /// for `keep` (a run does this once, with its first state).
    ///
    /// # Errors
    /// Backend and lock errors; nothing is written when the history cannot be.
    pub fn update_keeping(
        &self,
        state_id: &StateId,
        update: StateDocument,
        keep: Option<Reason>,
    ) -> StateResult<()> {
        self.apply_keeping(state_id, vec![update], keep)
    }

    /// Apply `updates` in order, as that many [`StateStore::update`]s would, in one write
    /// under one lock (the documents in between are not written); first keep the stored
    /// document in the history as replaced for `keep`. A run's storing thread calls this
    /// with the lines that arrived while it wrote the previous ones.
    ///
    /// # Errors
    /// Backend and lock errors; nothing is written when the history cannot be.
    pub fn apply_keeping(
        &self,
        state_id: &StateId,
        updates: Vec<StateDocument>,
        keep: Option<Reason>,
    ) -> StateResult<()> {
        // A complete update replaces whatever came before it: start from the last one.
        let last_complete = updates.iter().rposition(StateDocument::is_complete);
        let mut updates = updates.into_iter().skip(last_complete.unwrap_or(0));
        let Some(first) = updates.next() else {
            return Ok(());
        };
        self.locked(state_id, || {
            // A complete update replaces the document unread, unless the history needs it.
            let stored_text = if keep.is_some() || !first.is_complete() {
                self.backend.read_state(state_id)?
            } else {
                None
            };
            if let (Some(reason), Some(text)) = (keep, &stored_text) {
                self.keep(state_id, text, reason)?;
            }
            let stored = match &stored_text {
                Some(text) if !first.is_complete() => Some(self.parse(state_id, text)?),
                _ => None,
            };
            let document = updates
                .fold(StateDocument::updated(stored, first), |document, update| {
                    StateDocument::updated(Some(document), update)
                });
            self.backend.write_state(state_id, &document.to_json())
        })
    }

    /// Replace the stored document under the lock with what `change` makes of the stored
    /// text (`None`: nothing stored; returning `None` removes the document), keeping the
    /// replaced text in the history as replaced for `reason`. Nothing changes when `change`
    /// fails or returns the stored text itself.
    ///
    /// # Errors
    /// The error of `change`, backend and lock errors.
    pub fn replace(
        &self,
        state_id: &StateId,
        reason: Reason,
        change: impl FnOnce(Option<&str>) -> StateResult<Option<String>>,
    ) -> StateResult<()> {
        self.locked(state_id, || {
            let stored = self.backend.read_state(state_id)?;
            let next = change(stored.as_deref())?;
            if next == stored {
                return Ok(());
            }
            if let Some(text) = &stored {
                self.keep(state_id, text, reason)?;
            }
            match next {
                Some(text) => self.backend.write_state(state_id, &text),
                None => self.backend.delete_state(state_id),
            }
        })
    }

    /// `meltano state set`: store `state` as the complete state. With `validate`, the JSON
    /// must be an object with a top-level `singer_state` (Meltano's default; its
    /// `--no-validate` skips the check). The replaced document is kept in the history.
    ///
    /// # Errors
    /// [`StateError::MissingSingerState`], backend and lock errors.
    pub fn set(&self, state_id: &StateId, state: Value, validate: bool) -> StateResult<()> {
        self.set_for(state_id, state, validate, Reason::Set)
    }

    /// [`StateStore::set`], the replaced document kept as replaced for `reason`.
    ///
    /// # Errors
    /// As [`StateStore::set`].
    pub fn set_for(
        &self,
        state_id: &StateId,
        state: Value,
        validate: bool,
        reason: Reason,
    ) -> StateResult<()> {
        if validate && state.get(SINGER_STATE_KEY).is_none() {
            return Err(StateError::MissingSingerState {
                state_id: state_id.to_string(),
            });
        }
        let text = StateDocument::complete(state).to_json();
        self.replace(state_id, reason, |_| Ok(Some(text)))
    }

    /// The kept documents of `state_id`, newest first.
    ///
    /// # Errors
    /// Backend errors.
    pub fn history(&self, state_id: &StateId) -> StateResult<Vec<Entry>> {
        history::entries(self.backend.as_ref(), state_id)
    }

    /// The text of a kept document (`None` when it was pruned since it was listed).
    ///
    /// # Errors
    /// Backend errors.
    pub fn history_text(&self, state_id: &StateId, entry: &Entry) -> StateResult<Option<String>> {
        history::read(self.backend.as_ref(), state_id, entry)
    }

    /// Put back the document kept as history entry `number` (1 is the newest), byte for
    /// byte; the document it replaces is kept in turn (so a rollback can be rolled back).
    /// Returns the entry restored.
    ///
    /// # Errors
    /// [`StateError::NoHistoryEntry`], [`StateError::Corrupt`] for an entry that is not a
    /// state document, backend and lock errors.
    pub fn rollback(&self, state_id: &StateId, number: usize) -> StateResult<Entry> {
        let missing = |available: usize| StateError::NoHistoryEntry {
            state_id: state_id.to_string(),
            requested: number,
            available,
        };
        let mut restored = None;
        self.replace(state_id, Reason::Rollback, |_| {
            let entries = self.history(state_id)?;
            let entry = number
                .checked_sub(1)
                .and_then(|index| entries.get(index))
                .ok_or_else(|| missing(entries.len()))?;
            let text = self
                .history_text(state_id, entry)?
                .ok_or_else(|| missing(entries.len()))?;
            self.parse(state_id, &text)?;
            restored = Some(entry.clone());
            Ok(Some(text))
        })?;
        restored.ok_or_else(|| missing(0))
    }

    /// Take the run lease of `state_id` for `holder` (see [`RunLease`]).
    ///
    /// # Errors
    /// [`StateError::LeaseHeld`] when another run holds it, backend errors.
    pub fn lease(&self, state_id: &StateId, holder: &Holder) -> StateResult<RunLease> {
        RunLease::acquire(Arc::clone(&self.backend), state_id, &self.lease, holder)
    }

    /// Run `operation` under the state ID's lock.
    fn locked<T>(
        &self,
        state_id: &StateId,
        operation: impl FnOnce() -> StateResult<T>,
    ) -> StateResult<T> {
        with_lock(self.backend.as_ref(), state_id, self.policy, operation)
    }

    /// Keep `text`, the document about to be replaced, in the history.
    fn keep(&self, state_id: &StateId, text: &str, reason: Reason) -> StateResult<()> {
        history::save(self.backend.as_ref(), state_id, text, reason, self.history)
    }

    /// Store what one line of a target's stdout says (see [`TargetLine`]); returns how the
    /// line was read so that the caller can log skipped lines as Meltano does.
    ///
    /// # Errors
    /// Backend and lock errors (a failed write fails the run, as in Meltano).
    pub fn record_target_line(
        &self,
        state_id: &StateId,
        line: &str,
        merge: bool,
    ) -> StateResult<TargetLine> {
        let parsed = TargetLine::parse(line, merge);
        if let TargetLine::Update(update) = &parsed {
            self.update(state_id, update.clone())?;
        }
        Ok(parsed)
    }

    /// `meltano state clear`: remove the state ID's document, under the lock; the removed
    /// document is kept in the history.
    ///
    /// # Errors
    /// Backend and lock errors.
    pub fn clear(&self, state_id: &StateId) -> StateResult<()> {
        self.replace(state_id, Reason::Clear, |_| Ok(None))
    }

    /// `meltano state list [PATTERN]`: every stored state ID (the folder of each
    /// `state.json`), filtered by an fnmatch pattern, sorted.
    ///
    /// # Errors
    /// Backend errors, an invalid pattern.
    pub fn list(&self, pattern: Option<&str>) -> StateResult<Vec<String>> {
        let pattern = pattern.map(StatePattern::new).transpose()?;
        let mut ids: Vec<String> = self
            .backend
            .state_ids()?
            .into_iter()
            .filter(|id| pattern.as_ref().is_none_or(|p| p.matches(id)))
            .collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_can_move_to_another_thread() {
        fn shareable<T: Send + Sync>() {}
        shareable::<StateStore>();
    }
}
