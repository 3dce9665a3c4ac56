//! What a run does with each line its target writes: [`RunRecorder`] stores it as Meltano does
//! (`BookmarkWriter.writeline`), and on top of that keeps the document the run started from
//! in the history (once, with the first state stored), finds bookmarks that move backwards,
//! and refuses to store once the run's lease is lost.
//!
//! Input: the store, the state ID, how lines are stored, the merged state the run started
//! from, the run's lease. Output: per line, how it was read and what it regressed; the
//! caller logs (this module never does).

use std::collections::BTreeSet;

use serde_json::Value;

use super::document::{SINGER_STATE_KEY, deep_merge};
use super::error::StateResult;
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
        let keep = (!self.started_kept).then_some(Reason::Run);
        self.store
            .update_keeping(&self.state_id, update.clone(), keep)?;
        self.started_kept = true;
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

fn singer_state(merged: &Value) -> &Value {
    merged.get(SINGER_STATE_KEY).unwrap_or(&Value::Null)
}
