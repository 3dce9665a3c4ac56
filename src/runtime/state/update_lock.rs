//! The per-state-ID lock around every update and clear (Meltano's `StateStoreManager.update`
//! and `clear` in `core/state_store/base.py`, `BaseFilesystemStateStoreManager.acquire_lock`
//! in `core/state_store/filesystem.py`).
//!
//! Meltano's protocol, kept so that meltano and meltc-run can share a backend: the file
//! `<state_id>/lock` holds the UTC epoch seconds it was taken at as a float string; a lock
//! older than the timeout is stale and is broken; otherwise the writer checks again every
//! retry interval; the lock is removed afterwards. Meltano checks and then writes, so two
//! writers can both take it; meltc-run takes it atomically where the backend allows (see
//! [`Backend::create_lock`]). Where it cannot (Garage enforces no conditional write), a
//! meltc-run writer first takes the only live ticket in `<state_id>/writers/`
//! ([`super::tickets`]), so that two meltc-run writers never hold the lock together whatever
//! their timing; the lock file is then still written for Meltano. Unlike Meltano, meltc-run
//! gives up after a maximum wait and only removes a lock that still holds its own token.

use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::backend::{Backend, Beside, LOCK_FILE, LockFile};
use super::error::{StateError, StateResult};
use super::id::StateId;
use super::lease::Holder;
use super::tickets::{self, Contention, ticket_text};
use crate::meltano::python_json::float_repr;

/// Timing of lock acquisition.
#[derive(Clone, Copy, Debug)]
pub struct LockPolicy {
    /// A lock older than this is stale.
    pub timeout: Duration,
    /// The wait between two checks of a held lock.
    pub retry: Duration,
    /// Give up after waiting this long.
    pub max_wait: Duration,
}

/// Run `operation` while holding the lock of `state_id`; the lock is released afterwards
/// whether or not `operation` succeeded (an error of `operation` wins over one of release).
///
/// # Errors
/// Backend errors, [`StateError::LockTimeout`], or the error of `operation`.
pub fn with_lock<T>(
    backend: &dyn Backend,
    state_id: &StateId,
    policy: LockPolicy,
    operation: impl FnOnce() -> StateResult<T>,
) -> StateResult<T> {
    let started = Instant::now();
    let writer = if backend.creates_lock_atomically() {
        None
    } else {
        Some(take_writer_ticket(backend, state_id, policy, started)?)
    };
    let result = acquire(backend, state_id, policy, started).and_then(|token| {
        let result = operation();
        let released = backend.release_lock(state_id, &token);
        let value = result?;
        released?;
        Ok(value)
    });
    if let Some(ticket) = writer {
        let removed = backend.delete_beside(state_id, Beside::Writers, &ticket);
        if result.is_ok() {
            removed?;
        }
    }
    result
}

/// The only live writer ticket of `state_id`; its name.
fn take_writer_ticket(
    backend: &dyn Backend,
    state_id: &StateId,
    policy: LockPolicy,
    started: Instant,
) -> StateResult<String> {
    let holder = Holder::this_process("update state");
    // A writer that died leaves a ticket that expires like Meltano's lock file.
    let text = ticket_text(&holder.host, holder.pid, &holder.command, policy.timeout);
    let contention = Contention {
        wait: policy.max_wait,
        retry: policy.retry,
        // Once the maximum wait has passed, any contention ends it.
        rounds: 1,
        unreadable_lasts: policy.timeout,
    };
    match tickets::take(backend, state_id, Beside::Writers, &text, contention)? {
        Ok(taken) => Ok(taken.name),
        Err(other) => Err(StateError::LockTimeout {
            state_id: state_id.to_string(),
            location: backend.location(
                state_id,
                &format!("{}/{}", Beside::Writers.folder(), other.name),
            ),
            waited: started.elapsed(),
        }),
    }
}

/// Take the lock; returns the token written into it.
fn acquire(
    backend: &dyn Backend,
    state_id: &StateId,
    policy: LockPolicy,
    started: Instant,
) -> StateResult<String> {
    loop {
        let token = token_now();
        let taken = match backend.read_lock(state_id)? {
            None => backend.create_lock(state_id, &token)?,
            Some(lock) if is_stale(&lock, SystemTime::now(), policy.timeout) => {
                backend.replace_stale_lock(state_id, &lock, &token)?
            }
            Some(_) => false,
        };
        if taken {
            return Ok(token);
        }
        if started.elapsed() >= policy.max_wait {
            return Err(StateError::LockTimeout {
                state_id: state_id.to_string(),
                location: backend.location(state_id, LOCK_FILE),
                waited: started.elapsed(),
            });
        }
        thread::sleep(policy.retry);
    }
}

/// The lock text Meltano writes: `str(datetime.now(timezone.utc).timestamp())`.
#[must_use]
pub fn token_now() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64());
    float_repr(seconds)
}

/// Whether a lock is older than `timeout` at `now`: by the time written in it, or, when its
/// text is not a number (a writer caught between create and write, or foreign content), by
/// its modification time.
#[must_use]
pub fn is_stale(lock: &LockFile, now: SystemTime, timeout: Duration) -> bool {
    let taken_at = lock
        .content
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
        .and_then(|seconds| UNIX_EPOCH.checked_add(Duration::from_secs_f64(seconds)))
        .unwrap_or(lock.modified);
    now.duration_since(taken_at).is_ok_and(|age| age > timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(content: &str, modified: SystemTime) -> LockFile {
        LockFile {
            content: content.to_owned(),
            modified,
            version: None,
        }
    }

    #[test]
    fn staleness_follows_the_written_time_then_the_file_time() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let timeout = Duration::from_secs(10);
        let fresh_file = now;
        let old_file = now - Duration::from_secs(60);
        assert!(!is_stale(&lock("999995.5", old_file), now, timeout));
        assert!(is_stale(&lock("999989.0", fresh_file), now, timeout));
        // Exactly at the timeout is not yet stale (Meltano compares with `<`).
        assert!(!is_stale(&lock("999990.0", fresh_file), now, timeout));
        // Unreadable text: the file's age decides.
        assert!(!is_stale(&lock("", fresh_file), now, timeout));
        assert!(is_stale(&lock("", old_file), now, timeout));
        assert!(is_stale(&lock("NaN", old_file), now, timeout));
        // A time in the future is not stale.
        assert!(!is_stale(&lock("2000000.0", old_file), now, timeout));
    }

    #[test]
    fn the_token_is_a_python_float_string() {
        let token = token_now();
        let seconds: f64 = token.parse().unwrap();
        assert!(seconds > 1.7e9, "{token}");
        assert!(token.contains('.'), "{token}");
    }
}
