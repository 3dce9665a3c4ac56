//! The per-state-ID lock around every update and clear (reference/meltano-spec.md §12.2).
//!
//! Meltano's protocol, kept so that meltano and meltc-run can share a backend: the file
//! `<state_id>/lock` holds the UTC epoch seconds it was taken at as a float string; a lock
//! older than the timeout is stale and is broken; otherwise the writer checks again every
//! retry interval; the lock is removed afterwards. Meltano checks and then writes, so two
//! writers can both take it; meltc-run takes it atomically where the backend allows (see
//! [`Backend::create_lock`]). Unlike Meltano, meltc-run gives up after a maximum wait and
//! only removes a lock that still holds its own token.

use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::backend::{Backend, LOCK_FILE, LockFile};
use super::error::{StateError, StateResult};
use super::id::StateId;
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
    let token = acquire(backend, state_id, policy)?;
    let result = operation();
    let released = backend.release_lock(state_id, &token);
    let value = result?;
    released?;
    Ok(value)
}

/// Take the lock; returns the token written into it.
fn acquire(backend: &dyn Backend, state_id: &StateId, policy: LockPolicy) -> StateResult<String> {
    let started = Instant::now();
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
