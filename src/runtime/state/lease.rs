//! The run lease: one meltc-run at a time per state ID, across pods and orchestrators (a
//! CronJob and a Dagster schedule, or a manual `kubectl create job`, starting the same job at
//! once; Kubernetes' `concurrencyPolicy: Forbid` only sees its own CronJob's Jobs).
//!
//! Input: a [`Backend`], a state ID, [`LeaseSettings`] and who asks ([`Holder`]). Output: a
//! held [`RunLease`], renewed by a thread until it is released, or
//! [`StateError::LeaseHeld`] naming the run that holds it.
//!
//! How, on any store whose writes and listings are read-after-write consistent (AWS S3 since
//! 2020, Garage, a local disk), without conditional writes (Garage 2.5 accepts `If-None-Match`
//! and `If-Match` on PUT but does not enforce them; its only preconditions are on GET and on
//! the *source* of a copy, `garage_api_s3` `get.rs`, `copy.rs`):
//!
//! 1. write a ticket of our own, `<state_id>/lease/<unique>.json` ([`Beside::Lease`]), holding
//!    who we are and the lease's duration;
//! 2. list the folder; a ticket whose last write is older than its own duration, by the
//!    storage's clock (our fresh ticket's time against theirs, never the local clock), belongs
//!    to a run that died: delete it;
//! 3. if ours is the only ticket left, the lease is ours; otherwise delete ours and try again
//!    later. A ticket seen in two rounds in a row belongs to a holder (a contender deletes its
//!    ticket before it waits): without `wait`, or once `wait` has passed, give up.
//!
//! Two runs never both hold it: if A saw no ticket of B, A listed before B wrote, so B's
//! listing (after B's write) shows A's ticket. Two contenders that see each other both back off
//! for a random moment, and the first to come back wins.
//!
//! The holder rewrites its ticket every tenth of the duration. If it could not for nine tenths
//! of the duration (the store unreachable, the process stopped), it stops renewing and the
//! lease counts as lost ([`RunLease::ensure_held`] fails): by then a new run may have taken
//! over, and writing would resurrect a ticket it deleted. A holder that dies (SIGKILL, a lost
//! node) blocks the next run for at most the duration.
//!
//! Meltano does not know this lease: `meltano run` on the same state ID is not kept out (its
//! own check needs a shared system database, meltano#9947).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::backend::{Backend, Beside, BesideFile};
use super::error::{StateError, StateResult};
use super::id::StateId;

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

/// A ticket's text.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Ticket {
    host: String,
    pid: u32,
    command: String,
    /// When it was first written, by the holder's clock (for people; expiry uses the
    /// storage's clock).
    taken_at: String,
    lease_seconds: f64,
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

/// Another run's live ticket.
struct Other {
    name: String,
    ticket: Option<Ticket>,
    /// How long before our own ticket's write it was last written.
    renewed_ago: Duration,
    /// Its duration.
    lasts: Duration,
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
        let text = ticket_text(holder, settings.duration);
        let started = Instant::now();
        let mut seen_before: BTreeSet<String> = BTreeSet::new();
        let mut round: u32 = 0;
        loop {
            round = round.saturating_add(1);
            let ticket = format!("{}.json", unique());
            let written_at = Instant::now();
            backend.write_beside(state_id, Beside::Lease, &ticket, &text)?;
            let others = match survey(backend.as_ref(), state_id, &ticket) {
                Ok(others) => others,
                Err(error) => {
                    let _ = backend.delete_beside(state_id, Beside::Lease, &ticket);
                    return Err(error);
                }
            };
            if others.is_empty() {
                let mut lease = Self::held(backend, state_id, ticket, text, written_at, settings);
                lease.waited = started.elapsed();
                return Ok(lease);
            }
            backend.delete_beside(state_id, Beside::Lease, &ticket)?;
            let established = others.iter().find(|o| seen_before.contains(&o.name));
            let waited_enough = started.elapsed() >= settings.wait;
            if waited_enough && (established.is_some() || round >= CONTENDED_ROUNDS) {
                let other = established.unwrap_or(&others[0]);
                return Err(held_error(backend.as_ref(), state_id, other));
            }
            seen_before = others.iter().map(|o| o.name.clone()).collect();
            let pause = if established.is_some() {
                WAIT_RETRY.min(settings.wait.saturating_sub(started.elapsed()))
            } else {
                Duration::ZERO
            };
            thread::sleep(pause.max(jitter()));
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

/// The other live tickets once ours (`mine`) is written; expired ones are deleted on the way.
fn survey(backend: &dyn Backend, state_id: &StateId, mine: &str) -> StateResult<Vec<Other>> {
    let files = backend.list_beside(state_id, Beside::Lease)?;
    let Some(now) = files.iter().find(|f| f.name == mine).map(|f| f.modified) else {
        return Err(StateError::LeaseNotListed {
            state_id: state_id.to_string(),
            location: backend.location(state_id, &format!("{}/{mine}", Beside::Lease.folder())),
        });
    };
    let mut others = Vec::new();
    for file in files.iter().filter(|f| f.name != mine) {
        let Some(other) = read_other(backend, state_id, file, now)? else {
            continue;
        };
        if other.renewed_ago > other.lasts {
            backend.delete_beside(state_id, Beside::Lease, &other.name)?;
        } else {
            others.push(other);
        }
    }
    Ok(others)
}

/// Another ticket as read, or `None` when it was removed meanwhile.
fn read_other(
    backend: &dyn Backend,
    state_id: &StateId,
    file: &BesideFile,
    now: SystemTime,
) -> StateResult<Option<Other>> {
    let Some(text) = backend.read_beside(state_id, Beside::Lease, &file.name)? else {
        return Ok(None);
    };
    // A ticket that cannot be read still counts, with the default duration.
    let ticket: Option<Ticket> = serde_json::from_str(&text).ok();
    let lasts = ticket
        .as_ref()
        .and_then(|t| Duration::try_from_secs_f64(t.lease_seconds).ok())
        .unwrap_or(DEFAULT_DURATION);
    Ok(Some(Other {
        name: file.name.clone(),
        ticket,
        renewed_ago: now.duration_since(file.modified).unwrap_or(Duration::ZERO),
        lasts,
    }))
}

fn held_error(backend: &dyn Backend, state_id: &StateId, other: &Other) -> StateError {
    let holder = other.ticket.as_ref().map_or_else(
        || "another run (its ticket cannot be read)".to_owned(),
        |ticket| {
            format!(
                "`{}` on host `{}` (pid {}) since {}",
                ticket.command, ticket.host, ticket.pid, ticket.taken_at
            )
        },
    );
    StateError::LeaseHeld {
        state_id: state_id.to_string(),
        holder,
        location: backend.location(
            state_id,
            &format!("{}/{}", Beside::Lease.folder(), other.name),
        ),
        expires_in_seconds: other
            .lasts
            .saturating_sub(other.renewed_ago)
            .as_secs_f64()
            .ceil() as u64,
    }
}

fn ticket_text(holder: &Holder, duration: Duration) -> String {
    let ticket = Ticket {
        host: holder.host.clone(),
        pid: holder.pid,
        command: holder.command.clone(),
        taken_at: rfc3339(SystemTime::now()),
        lease_seconds: duration.as_secs_f64(),
    };
    serde_json::to_string(&ticket).unwrap_or_default()
}

/// `2026-12-08T10:00:03Z`.
#[must_use]
pub fn rfc3339(time: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(time).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
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

/// A name part no other process or thread uses at the same time.
fn unique() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{nanos}-{}-{count}", std::process::id())
}

/// A pause of 50 to 300 ms, different in each process and each call, so that two contenders
/// that saw each other do not come back at the same moment.
fn jitter() -> Duration {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| u64::from(elapsed.subsec_nanos()));
    let mixed = (nanos ^ u64::from(std::process::id()).wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(
            CALLS
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_mul(0xBF58_476D_1CE4_E5B9),
        );
    Duration::from_millis(50 + (mixed >> 7) % 250)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_between_50_and_300_ms() {
        for _ in 0..1000 {
            let pause = jitter();
            assert!(
                pause >= Duration::from_millis(50) && pause < Duration::from_millis(300),
                "{pause:?}"
            );
        }
    }

    #[test]
    fn tickets_say_who_holds_the_lease() {
        let holder = Holder {
            host: "meltc-sync-29123".to_owned(),
            pid: 7,
            command: "job sync".to_owned(),
        };
        let text = ticket_text(&holder, Duration::from_secs(300));
        let ticket: Ticket = serde_json::from_str(&text).unwrap();
        assert_eq!(ticket.host, "meltc-sync-29123");
        assert_eq!(ticket.command, "job sync");
        assert!((ticket.lease_seconds - 300.0).abs() < f64::EPSILON);
        assert!(ticket.taken_at.ends_with('Z'), "{}", ticket.taken_at);
    }

    #[test]
    fn times_are_rfc3339_in_utc() {
        let time = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(rfc3339(time), "2027-01-15T08:00:00Z");
    }
}
