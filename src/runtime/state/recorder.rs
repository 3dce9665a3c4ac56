//! What a run does with each line its target writes: [`RunRecorder`] stores it as Meltano does
//! (`BookmarkWriter.writeline`), and on top of that keeps the document the run started from
//! in the history (once, with the first state stored), finds bookmarks that move backwards,
//! and refuses to store once the run's lease is lost.
//!
//! Input: the store, the state ID, how lines are stored, the merged state the run started
//! from, the run's lease. Output: per line, how it was read and what it regressed; the
//! caller logs (this module never does).
//!
//! [`record_in_background`] stores through a storing thread instead, so that a slow backend
//! (an `fsync`ed file, a bucket over the network) never holds up the lines: each line is
//! still read, checked and counted as it arrives, and the thread writes what arrived while it
//! wrote the previous document in one write (see [`StateStore::apply_keeping`]). Meltano
//! writes every line before reading the next (`BookmarkWriter.writeline` in
//! `meltano/core/runner/singer.py`); a document skipped this way is one that a crash during
//! the write before it could have lost anyway, and the last one is always written before the
//! run ends.

use std::collections::BTreeSet;
use std::sync::{Condvar, Mutex, PoisonError};

use serde_json::Value;

use super::document::{SINGER_STATE_KEY, StateDocument, deep_merge};
use super::error::{StateError, StateResult};
use super::history::Reason;
use super::id::StateId;
use super::lease::RunLease;
use super::regression::{Regression, regressions};
use super::store::StateStore;
use super::strategy::TargetLine;

/// How a run's state lines are stored.
#[derive(Clone, Copy, Debug)]
pub struct Recording {
    /// Merge each line into `partial` ([`super::StateStrategy::merges`]).
    pub merge: bool,
    /// `--full-refresh`: bookmarks start over, so going backwards is expected.
    pub full_refresh: bool,
}

/// One run's state lines into one state ID.
#[derive(Debug)]
pub struct RunRecorder<'a> {
    store: &'a StateStore,
    state_id: StateId,
    recording: Recording,
    lease: Option<&'a RunLease>,
    /// Whether the document the run started from is in the history yet.
    started_kept: bool,
    /// The merged state as stored now (what `state get` would print).
    current: Value,
    /// Streams already warned about in this run (one warning per stream).
    warned: BTreeSet<String>,
    /// How many states were stored.
    stored: u64,
    /// Where updates go when a storing thread writes them.
    queue: Option<&'a StateQueue>,
}

/// What one line did.
#[derive(Debug, PartialEq)]
pub struct Recorded {
    /// How the line was read (skipped lines are logged as Meltano logs them).
    pub line: TargetLine,
    /// Bookmarks it moved backwards, each stream reported once per run (none on a full
    /// refresh).
    pub regressions: Vec<Regression>,
}

impl<'a> RunRecorder<'a> {
    /// Record into `state_id`, whose merged state was `started_from` when the run read it
    /// (`{}` when nothing was stored).
    #[must_use]
    pub fn new(
        store: &'a StateStore,
        state_id: StateId,
        recording: Recording,
        started_from: Value,
        lease: Option<&'a RunLease>,
    ) -> Self {
        Self {
            store,
            state_id,
            recording,
            lease,
            started_kept: false,
            current: started_from,
            warned: BTreeSet::new(),
            stored: 0,
            queue: None,
        }
    }

    /// How many states were stored (skipped lines not counted).
    #[must_use]
    pub fn stored(&self) -> u64 {
        self.stored
    }

    /// Store what `line` says. An empty state (`{}`, which Singer SDK targets emit at the end
    /// of a run that received no state) and an unreadable line change nothing.
    ///
    /// # Errors
    /// [`super::StateError::LeaseLost`], backend and lock errors (the run then fails, as in
    /// Meltano when a state cannot be persisted).
    pub fn record(&mut self, line: &str) -> StateResult<Recorded> {
        let parsed = TargetLine::parse(line, self.recording.merge);
        let TargetLine::Update(update) = &parsed else {
            return Ok(Recorded {
                line: parsed,
                regressions: Vec::new(),
            });
        };
        if let Some(lease) = self.lease {
            lease.ensure_held()?;
        }
        let next = if update.is_complete() {
            update.completed.clone()
        } else {
            let mut merged = self.current.clone();
            deep_merge(&update.partial, &mut merged);
            merged
        };
        match self.queue {
            Some(queue) => queue.push(update.clone())?,
            None => {
                let keep = (!self.started_kept).then_some(Reason::Run);
                self.store
                    .update_keeping(&self.state_id, update.clone(), keep)?;
                self.started_kept = true;
            }
        }
        self.stored += 1;
        let found = if self.recording.full_refresh {
            Vec::new()
        } else {
            regressions(singer_state(&self.current), singer_state(&next))
                .into_iter()
                .filter(|regression| self.warned.insert(regression.stream.clone()))
                .collect()
        };
        self.current = next;
        Ok(Recorded {
            line: parsed,
            regressions: found,
        })
    }
}

/// What the storing thread of [`record_in_background`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// States applied (every update the run's recorder accepted).
    pub states: u64,
    /// Writes to the backend (fewer than `states` when lines arrived during a write).
    pub writes: u64,
}

/// Run `body` with a [`RunRecorder`] whose updates a storing thread writes (module docs).
/// When `body` returns, the thread writes what is still pending and ends; the result says
/// what it wrote, or the write error that [`RunRecorder::record`] has not returned yet.
///
/// # Errors
/// The storing thread's first error (backend, lock, lost lease) if no `record` call
/// returned it.
pub fn record_in_background<T>(
    store: &StateStore,
    state_id: StateId,
    recording: Recording,
    started_from: Value,
    lease: Option<&RunLease>,
    body: impl FnOnce(&mut RunRecorder<'_>) -> T,
) -> (T, StateResult<Written>) {
    let queue = StateQueue::default();
    let id = state_id.clone();
    let result = std::thread::scope(|scope| {
        let writer = std::thread::Builder::new()
            .name("meltc-run state".to_owned())
            .spawn_scoped(scope, || queue.write_all(store, &id, lease));
        let mut recorder = RunRecorder::new(store, state_id, recording, started_from, lease);
        if writer.is_ok() {
            recorder.queue = Some(&queue);
        }
        // Closed on every path out of `body` (a panic too): the scope joins the thread.
        let _close = CloseOnDrop(&queue);
        body(&mut recorder)
    });
    (result, queue.finish())
}

/// Updates waiting for the storing thread, and how it is doing.
#[derive(Debug, Default)]
struct StateQueue {
    inner: Mutex<Queued>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct Queued {
    updates: Vec<StateDocument>,
    closed: bool,
    /// The thread's error, until a `push` or `finish` hands it over.
    error: Option<StateError>,
    /// The thread stopped on an error: later updates are dropped.
    failed: bool,
    written: Written,
}

struct CloseOnDrop<'q>(&'q StateQueue);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.changed.notify_all();
    }
}

impl StateQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queued> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hand `update` to the storing thread; the thread's error, once, if it failed.
    fn push(&self, update: StateDocument) -> StateResult<()> {
        let mut queued = self.lock();
        if let Some(error) = queued.error.take() {
            return Err(error);
        }
        if !queued.failed {
            queued.updates.push(update);
            self.changed.notify_all();
        }
        Ok(())
    }

    /// The storing thread: write what is pending, the oldest first, until closed and empty.
    fn write_all(&self, store: &StateStore, state_id: &StateId, lease: Option<&RunLease>) {
        let mut keep = Some(Reason::Run);
        loop {
            let updates = {
                let mut queued = self.lock();
                while queued.updates.is_empty() && !queued.closed {
                    queued = self
                        .changed
                        .wait(queued)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                if queued.updates.is_empty() {
                    return;
                }
                std::mem::take(&mut queued.updates)
            };
            let count = updates.len() as u64;
            let written = lease
                .map_or(Ok(()), RunLease::ensure_held)
                .and_then(|()| store.apply_keeping(state_id, updates, keep));
            let mut queued = self.lock();
            match written {
                Ok(()) => {
                    keep = None;
                    queued.written.states += count;
                    queued.written.writes += 1;
                }
                Err(error) => {
                    queued.error = Some(error);
                    queued.failed = true;
                    queued.updates.clear();
                    return;
                }
            }
        }
    }

    /// After the thread ended: what it wrote, or its error not yet handed over.
    fn finish(&self) -> StateResult<Written> {
        let mut queued = self.lock();
        match queued.error.take() {
            Some(error) => Err(error),
            None => Ok(queued.written),
        }
    }
}

fn singer_state(merged: &Value) -> &Value {
    merged.get(SINGER_STATE_KEY).unwrap_or(&Value::Null)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::runtime::state::{Environment, StateBackendSettings};

    fn store(folder: &std::path::Path) -> StateStore {
        let settings = StateBackendSettings::new(format!("file://{}", folder.display()));
        StateStore::open(&settings, &Environment::new()).unwrap()
    }

    fn id() -> StateId {
        StateId::new("dev:tap-to-target").unwrap()
    }

    fn lines(count: u64) -> Vec<String> {
        (1..=count)
            .map(|n| json!({"bookmarks": {"users": {"n": n}, format!("s{}", n % 3): {"n": n}}}))
            .map(|value| value.to_string())
            .collect()
    }

    /// Updates applied in one write leave exactly the document they leave one by one,
    /// merged or not, a complete one in the middle, and a bookmark that turns from a number
    /// into an object (where merging the updates first would differ).
    #[test]
    fn updates_applied_together_equal_updates_applied_one_by_one() {
        let updates = [
            StateDocument::incomplete(json!({"singer_state": {"a": 1, "b": {"x": 1}}})),
            StateDocument::incomplete(json!({"singer_state": {"a": {"deep": 2}}})),
            StateDocument::complete(json!({"singer_state": {"c": 3}})),
            StateDocument::incomplete(json!({"singer_state": {"b": 5}})),
            StateDocument::incomplete(json!({"singer_state": {"b": {"y": 6}}})),
        ];
        for start in 0..updates.len() {
            for end in start..=updates.len() {
                let (one, together) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
                let (one, together) = (store(one.path()), store(together.path()));
                let stored = StateDocument::incomplete(json!({"singer_state": {"b": {"z": 0}}}));
                for store in [&one, &together] {
                    store.update_keeping(&id(), stored.clone(), None).unwrap();
                }
                for update in &updates[start..end] {
                    one.update_keeping(&id(), update.clone(), None).unwrap();
                }
                together
                    .apply_keeping(&id(), updates[start..end].to_vec(), None)
                    .unwrap();
                assert_eq!(
                    together.get(&id()).unwrap(),
                    one.get(&id()).unwrap(),
                    "updates {start}..{end}"
                );
            }
        }
    }

    /// The storing thread ends with what the synchronous recorder stores, keeps the document
    /// the run started from in the history once, and counts every state.
    #[test]
    fn background_recording_stores_what_synchronous_recording_stores() {
        let recording = Recording {
            merge: true,
            full_refresh: false,
        };
        let started = json!({"singer_state": {"bookmarks": {"old": {"n": 0}}}});
        let (sync, background) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (sync, background) = (store(sync.path()), store(background.path()));
        for store in [&sync, &background] {
            store
                .update_keeping(&id(), StateDocument::incomplete(started.clone()), None)
                .unwrap();
        }
        let mut recorder = RunRecorder::new(&sync, id(), recording, started.clone(), None);
        for line in lines(500) {
            recorder.record(&line).unwrap();
        }
        let (stored, written) =
            record_in_background(&background, id(), recording, started, None, |recorder| {
                for line in lines(500) {
                    recorder.record(&line).unwrap();
                }
                recorder.stored()
            });
        let written = written.unwrap();
        assert_eq!((stored, written.states), (500, 500));
        assert!((1..=500).contains(&written.writes), "{written:?}");
        assert_eq!(background.get(&id()).unwrap(), sync.get(&id()).unwrap());
        let history = background.history(&id()).unwrap();
        assert_eq!(history.len(), 1, "{history:?}");
        assert_eq!(history[0].reason, "run");
        assert_eq!(
            background.history_text(&id(), &history[0]).unwrap(),
            sync.history_text(&id(), &sync.history(&id()).unwrap()[0])
                .unwrap()
        );
    }

    /// A write that fails reaches the caller: from `record` if a line follows, else at the
    /// end; nothing is stored after it.
    #[test]
    fn a_failed_background_write_is_returned() {
        let folder = tempfile::tempdir().unwrap();
        let root = folder.path().join("state");
        let broken = store(&root);
        // The backend's folder becomes a file: every write fails.
        fs_err::remove_dir_all(&root).unwrap();
        fs_err::write(&root, "not a folder").unwrap();
        let recording = Recording {
            merge: false,
            full_refresh: false,
        };
        let (results, written) =
            record_in_background(&broken, id(), recording, json!({}), None, |recorder| {
                lines(50)
                    .iter()
                    .map(|line| {
                        std::thread::sleep(std::time::Duration::from_millis(2));
                        recorder.record(line).is_ok()
                    })
                    .collect::<Vec<_>>()
            });
        let returned = results.iter().filter(|ok| !**ok).count() + usize::from(written.is_err());
        assert_eq!(
            returned, 1,
            "the error is returned once: {results:?} {written:?}"
        );
        assert!(results[0], "the first line is only queued");
    }
}
