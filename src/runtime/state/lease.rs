//! The run lease: one meltc-run at a time per state ID, across pods and orchestrators (a
//! CronJob and a Dagster schedule, or a manual `kubectl create job`, starting the same job at
//! once; Kubernetes' `concurrencyPolicy: Forbid` only sees its own CronJob's Jobs).
//!
//! Input: a [`Backend`], a state ID, [`LeaseSettings`] and who asks ([`Holder`]). Output: a
//! held [`RunLease`], renewed by a thread until it is released, or
//! [`StateError::LeaseHeld`] naming the run that holds it.
//!
//! How: by tickets in `<state_id>/lease/` ([`Beside::Lease`]), the protocol of [`super::tickets`]
//! (write a ticket, list, hold it when ours is the only live one). Two runs never both hold it.
//!
//! The holder rewrites its ticket every tenth of the duration. If it could not for nine tenths
//! of the duration (the store unreachable, the process stopped), it stops renewing and the
//! lease counts as lost ([`RunLease::ensure_held`] fails): by then a new run may have taken
//! over, and writing would resurrect a ticket it deleted. A holder that dies (SIGKILL, a lost
//! node) blocks the next run for at most the duration.
//!
//! Meltano does not know this lease: `meltano run` on the same state ID is not kept out (its
//! own check needs a shared system database, meltano#9947).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::backend::{Backend, Beside};
use super::error::{StateError, StateResult};
use super::id::StateId;
pub use super::tickets::rfc3339;
use super::tickets::{self, Contention, Taken, ticket_text};

/// `MELTC_RUN_LEASE_SECONDS`' default: how long a lease outlives its holder's last renewal.
/// Meltano counts a run without a heartbeat for 5 minutes as stale (`HEARTBEAT_VALID_MINUTES`
/// in `core/job/job.py`).
pub const DEFAULT_DURATION: Duration = Duration::from_secs(300);

/// How often a run waiting for a held lease looks again.
const WAIT_RETRY: Duration = Duration::from_secs(1);

/// How many rounds two contenders that keep seeing each other try before giving up.
const CONTENDED_ROUNDS: u32 = 20;

/// The shortest renewal interval (a tenth of the duration, but not more often than this).
const MIN_RENEWAL: Duration = Duration::from_millis(100);

/// How long the lease lasts and how long to wait for one that is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseSettings {
    /// A lease not renewed for this long is expired (`MELTC_RUN_LEASE_SECONDS`).
    pub duration: Duration,
    /// How long to wait for a held lease before giving up (`--lease-wait`); zero gives up at
    /// once.
    pub wait: Duration,
}

impl Default for LeaseSettings {
    fn default() -> Self {
        Self {
            duration: DEFAULT_DURATION,
            wait: Duration::ZERO,
        }
    }
}

/// Who takes a lease, written into its ticket so that a refused run can say who holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// The host name (a pod's name in Kubernetes).
    pub host: String,
    /// The process ID.
    pub pid: u32,
    /// What it runs (`job sync`, `state rollback`).
    pub command: String,
}

impl Holder {
    /// This process, running `command`.
    #[must_use]
    pub fn this_process(command: impl Into<String>) -> Self {
        Self {
            host: host_name(),
            pid: std::process::id(),
            command: command.into(),
        }
    }
}

/// A held lease: renewed by a thread until [`RunLease::release`] (or drop).
pub struct RunLease {
    backend: Arc<dyn Backend>,
    state_id: StateId,
    ticket: String,
    shared: Arc<Shared>,
    renewer: Option<JoinHandle<()>>,
    released: bool,
    /// How long taking it took (waiting for a holder included).
    waited: Duration,
}

impl std::fmt::Debug for RunLease {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RunLease")
            .field("state_id", &self.state_id)
            .field("ticket", &self.ticket)
            .finish_non_exhaustive()
    }
}

/// What the holder and its renewer share.
struct Shared {
    lost: AtomicBool,
    /// Seconds the lease went unrenewed when it was lost (for the message).
    unrenewed_for: AtomicU64,
    stop: Mutex<bool>,
    wake: Condvar,
}

impl RunLease {
    /// Take the lease of `state_id` (module docs), waiting up to `settings.wait` for a holder
    /// to finish.
    ///
    /// # Errors
    /// [`StateError::LeaseHeld`] when another run holds it; backend errors.
    pub fn acquire(
        backend: Arc<dyn Backend>,
        state_id: &StateId,
        settings: &LeaseSettings,
        holder: &Holder,
    ) -> StateResult<Self> {
        let text = ticket_text(&holder.host, holder.pid, &holder.command, settings.duration);
        let started = Instant::now();
        let contention = Contention {
            wait: settings.wait,
            retry: WAIT_RETRY,
            rounds: CONTENDED_ROUNDS,
            unreadable_lasts: DEFAULT_DURATION,
        };
        match tickets::take(backend.as_ref(), state_id, Beside::Lease, &text, contention)? {
            Ok(Taken { name, written_at }) => {
                let mut lease = Self::held(backend, state_id, name, text, written_at, settings);
                lease.waited = started.elapsed();
                Ok(lease)
            }
            Err(other) => Err(StateError::LeaseHeld {
                state_id: state_id.to_string(),
                holder: other.holder(),
                location: backend.location(
                    state_id,
                    &format!("{}/{}", Beside::Lease.folder(), other.name),
                ),
                expires_in_seconds: other.expires_in_seconds(),
            }),
        }
    }

    fn held(
        backend: Arc<dyn Backend>,
        state_id: &StateId,
        ticket: String,
        text: String,
        written_at: Instant,
        settings: &LeaseSettings,
    ) -> Self {
        let shared = Arc::new(Shared {
            lost: AtomicBool::new(false),
            unrenewed_for: AtomicU64::new(0),
            stop: Mutex::new(false),
            wake: Condvar::new(),
        });
        let renewal = Renewal {
            backend: Arc::clone(&backend),
            state_id: state_id.clone(),
            ticket: ticket.clone(),
            text,
            duration: settings.duration,
            last_renewed: written_at,
            shared: Arc::clone(&shared),
        };
        // Without a thread the lease is still held, only not renewed: it then counts as lost
        // after nine tenths of its duration, which `ensure_held` reports.
        let renewer = thread::Builder::new()
            .name("meltc-lease".to_owned())
            .spawn(move || renewal.run())
            .ok();
        Self {
            backend,
            state_id: state_id.clone(),
            ticket,
            shared,
            renewer,
            released: false,
            waited: Duration::ZERO,
        }
    }

    /// How long taking the lease took, waiting for another holder included.
    #[must_use]
    pub fn waited(&self) -> Duration {
        self.waited
    }

    /// Whether the lease is still ours: fails once it could not be renewed in time.
    ///
    /// # Errors
    /// [`StateError::LeaseLost`].
    pub fn ensure_held(&self) -> StateResult<()> {
        if self.shared.lost.load(Ordering::SeqCst) {
            return Err(StateError::LeaseLost {
                state_id: self.state_id.to_string(),
                location: self.location(),
                unrenewed: Duration::from_secs(self.shared.unrenewed_for.load(Ordering::SeqCst)),
            });
        }
        Ok(())
    }

    /// Where the ticket is, for messages.
    #[must_use]
    pub fn location(&self) -> String {
        self.backend.location(
            &self.state_id,
            &format!("{}/{}", Beside::Lease.folder(), self.ticket),
        )
    }

    /// Stop renewing and remove the ticket, so that the next run starts at once.
    ///
    /// # Errors
    /// Backend errors (the lease then expires on its own after its duration).
    pub fn release(mut self) -> StateResult<()> {
        self.stop_renewing();
        self.released = true;
        self.backend
            .delete_beside(&self.state_id, Beside::Lease, &self.ticket)
    }

    fn stop_renewing(&mut self) {
        if let Ok(mut stop) = self.shared.stop.lock() {
            *stop = true;
        }
        self.shared.wake.notify_all();
        if let Some(renewer) = self.renewer.take() {
            let _ = renewer.join();
        }
    }
}

impl Drop for RunLease {
    fn drop(&mut self) {
        if !self.released {
            self.stop_renewing();
            // Best effort: an error here leaves a ticket that expires after its duration.
            let _ = self
                .backend
                .delete_beside(&self.state_id, Beside::Lease, &self.ticket);
        }
    }
}

/// The renewing thread's part.
struct Renewal {
    backend: Arc<dyn Backend>,
    state_id: StateId,
    ticket: String,
    text: String,
    duration: Duration,
    last_renewed: Instant,
    shared: Arc<Shared>,
}

impl Renewal {
    fn run(mut self) {
        let interval = (self.duration / 10).max(MIN_RENEWAL);
        let give_up = self.duration.mul_f64(0.9);
        loop {
            if self.sleep(interval) {
                return;
            }
            // Checked before writing: a write after a contender deleted our expired ticket
            // would bring it back next to theirs.
            let unrenewed = self.last_renewed.elapsed();
            if unrenewed >= give_up {
                self.shared
                    .unrenewed_for
                    .store(unrenewed.as_secs(), Ordering::SeqCst);
                self.shared.lost.store(true, Ordering::SeqCst);
                return;
            }
            let attempt = Instant::now();
            let renewed =
                self.backend
                    .write_beside(&self.state_id, Beside::Lease, &self.ticket, &self.text);
            if renewed.is_ok() {
                self.last_renewed = attempt;
            }
        }
    }

    /// Wait `interval`; `true` when asked to stop.
    fn sleep(&self, interval: Duration) -> bool {
        let Ok(stop) = self.shared.stop.lock() else {
            return true;
        };
        match self
            .shared
            .wake
            .wait_timeout_while(stop, interval, |stop| !*stop)
        {
            Ok((stop, _)) => *stop,
            Err(_) => true,
        }
    }
}

/// The host's name (a pod's name in Kubernetes), or `unknown`.
fn host_name() -> String {
    fs_err::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_name_is_never_empty() {
        assert!(!host_name().is_empty());
    }
}
