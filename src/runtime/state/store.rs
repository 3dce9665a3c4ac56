//! [`StateStore`]: Meltano's state operations on one backend, each update and clear under
//! the state ID's lock (`StateStoreManager.update`, `.clear`, `StateService`).

use serde_json::Value;

use super::backend::{Backend, STATE_FILE};
use super::document::{SINGER_STATE_KEY, StateDocument};
use super::error::{StateError, StateResult};
use super::id::StateId;
use super::local::LocalBackend;
use super::lock::{LockPolicy, with_lock};
use super::pattern::StatePattern;
use super::s3::S3Backend;
use super::s3_config::S3Config;
use super::settings::{Environment, StateBackendSettings};
use super::strategy::TargetLine;
use super::uri::{BackendUri, redact};

/// The state of every job, in one backend.
pub struct StateStore {
    backend: Box<dyn Backend>,
    policy: LockPolicy,
    /// The redacted URI, for messages.
    description: String,
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
            backend: open_backend(settings, environment)?,
            policy: LockPolicy {
                timeout: settings.lock_timeout,
                retry: settings.lock_retry,
                max_wait: settings.lock_max_wait,
            },
            description: redact(&settings.uri),
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
        let Some(text) = self.backend.read_state(state_id)? else {
            return Ok(None);
        };
        StateDocument::parse(&text)
            .map(Some)
            .map_err(|source| StateError::Corrupt {
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
        with_lock(self.backend.as_ref(), state_id, self.policy, || {
            let stored = if update.is_complete() {
                None
            } else {
                self.document(state_id)?
            };
            let document = StateDocument::updated(stored, update);
            self.backend.write_state(state_id, &document.to_json())
        })
    }

    /// `meltano state set`: store `state` as the complete state. With `validate`, the JSON
    /// must be an object with a top-level `singer_state` (Meltano's default; its
    /// `--no-validate` skips the check).
    ///
    /// # Errors
    /// [`StateError::MissingSingerState`], backend and lock errors.
    pub fn set(&self, state_id: &StateId, state: Value, validate: bool) -> StateResult<()> {
        if validate && state.get(SINGER_STATE_KEY).is_none() {
            return Err(StateError::MissingSingerState {
                state_id: state_id.to_string(),
            });
        }
        self.update(state_id, StateDocument::complete(state))
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

    /// `meltano state clear`: remove the state ID's document, under the lock.
    ///
    /// # Errors
    /// Backend and lock errors.
    pub fn clear(&self, state_id: &StateId) -> StateResult<()> {
        with_lock(self.backend.as_ref(), state_id, self.policy, || {
            self.backend.delete_state(state_id)
        })
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
