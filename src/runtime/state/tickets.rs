//! Mutual exclusion on a store without conditional writes, by tickets in a [`Beside`] folder:
//! what the run lease and, on such stores, the update lock are built on.
//!
//! On any store whose writes and listings are read-after-write consistent (AWS S3 since 2020,
//! Garage, a local disk), without conditional writes (Garage 2.5 accepts `If-None-Match` and
//! `If-Match` on PUT but does not enforce them; its only preconditions are on GET and on the
//! *source* of a copy, `garage_api_s3` `get.rs`, `copy.rs`):
//!
//! 1. write a ticket of our own, `<state_id>/<folder>/<unique>.json`, holding who we are and
//!    how long the ticket lasts;
//! 2. list the folder; a ticket whose last write is older than its own duration, by the
//!    storage's clock (our fresh ticket's time against theirs, never the local clock), belongs
//!    to a holder that died: delete it;
//! 3. if ours is the only ticket left, it is ours; otherwise delete ours and try again later.
//!    A ticket seen in two rounds in a row belongs to a holder (a contender deletes its ticket
//!    before it waits): without `wait`, or once `wait` has passed, give up.
//!
//! Two contenders never both hold it: if A saw no ticket of B, A listed before B wrote, so B's
//! listing (after B's write) shows A's ticket. Two contenders that see each other both back off
//! for a random moment, and the first to come back wins. No clock and no timing assumption
//! enters this argument; clocks only decide when a dead holder's ticket expires.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::backend::{Backend, Beside, BesideFile};
use super::error::{StateError, StateResult};
use super::id::StateId;

/// A ticket's text.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Ticket {
    /// The host name (a pod's name in Kubernetes).
    pub host: String,
    /// The process ID.
    pub pid: u32,
    /// What the holder runs (`job sync`, `state rollback`, `update state`).
    pub command: String,
    /// When it was first written, by the holder's clock (for people; expiry uses the
    /// storage's clock).
    pub taken_at: String,
    /// How long the ticket lasts after its last write (the name is the run lease's, whose
    /// tickets came first).
    pub lease_seconds: f64,
}

/// How a contender waits.
#[derive(Clone, Copy, Debug)]
pub struct Contention {
    /// How long to wait for an established holder before giving up; zero gives up at once.
    pub wait: Duration,
    /// How long to pause before looking again at an established holder.
    pub retry: Duration,
    /// How many rounds two contenders that keep seeing each other try before giving up once
    /// `wait` has passed.
    pub rounds: u32,
    /// The duration of a ticket that cannot be read.
    pub unreadable_lasts: Duration,
}

/// A ticket of ours that is the only live one in its folder.
#[derive(Debug)]
pub struct Taken {
    /// Its name in the folder.
    pub name: String,
    /// When it was written (its renewals count from here).
    pub written_at: Instant,
}

/// Another holder's live ticket.
#[derive(Debug)]
pub struct Other {
    /// Its name in the folder.
    pub name: String,
    /// Its text, when it could be read.
    pub ticket: Option<Ticket>,
    /// How long before our own ticket's write it was last written.
    pub renewed_ago: Duration,
    /// Its duration.
    pub lasts: Duration,
}

impl Other {
    /// Who holds it, as its ticket says, for messages.
    #[must_use]
    pub fn holder(&self) -> String {
        self.ticket.as_ref().map_or_else(
            || "another run (its ticket cannot be read)".to_owned(),
            |ticket| {
                format!(
                    "`{}` on host `{}` (pid {}) since {}",
                    ticket.command, ticket.host, ticket.pid, ticket.taken_at
                )
            },
        )
    }

    /// Seconds until it expires unless renewed (rounded up).
    #[must_use]
    pub fn expires_in_seconds(&self) -> u64 {
        self.lasts
            .saturating_sub(self.renewed_ago)
            .as_secs_f64()
            .ceil() as u64
    }
}

/// Take the only live ticket of `beside` for `state_id` (module docs), or say who holds it.
///
/// # Errors
/// Backend errors; [`StateError::TicketNotListed`] on a store whose listing does not show a
/// ticket just written.
pub fn take(
    backend: &dyn Backend,
    state_id: &StateId,
    beside: Beside,
    text: &str,
    contention: Contention,
) -> StateResult<Result<Taken, Other>> {
    let started = Instant::now();
    let mut seen_before: BTreeSet<String> = BTreeSet::new();
    let mut round: u32 = 0;
    loop {
        round = round.saturating_add(1);
        let name = format!("{}.json", unique());
        let written_at = Instant::now();
        backend.write_beside(state_id, beside, &name, text)?;
        let others = match survey(backend, state_id, beside, &name, contention) {
            Ok(others) => others,
            Err(error) => {
                let _ = backend.delete_beside(state_id, beside, &name);
                return Err(error);
            }
        };
        if others.is_empty() {
            return Ok(Ok(Taken { name, written_at }));
        }
        backend.delete_beside(state_id, beside, &name)?;
        let established = others.iter().position(|o| seen_before.contains(&o.name));
        let waited_enough = started.elapsed() >= contention.wait;
        if waited_enough && (established.is_some() || round >= contention.rounds) {
            let mut others = others;
            return Ok(Err(others.swap_remove(established.unwrap_or(0))));
        }
        seen_before = others.iter().map(|o| o.name.clone()).collect();
        let pause = if established.is_some() {
            contention
                .retry
                .min(contention.wait.saturating_sub(started.elapsed()))
        } else {
            Duration::ZERO
        };
        thread::sleep(pause.max(jitter()));
    }
}

/// The ticket text of `holder`'s process, lasting `duration`.
#[must_use]
pub fn ticket_text(host: &str, pid: u32, command: &str, duration: Duration) -> String {
    let ticket = Ticket {
        host: host.to_owned(),
        pid,
        command: command.to_owned(),
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

/// The other live tickets once ours (`mine`) is written; expired ones are deleted on the way.
fn survey(
    backend: &dyn Backend,
    state_id: &StateId,
    beside: Beside,
    mine: &str,
    contention: Contention,
) -> StateResult<Vec<Other>> {
    let files = backend.list_beside(state_id, beside)?;
    let Some(now) = files.iter().find(|f| f.name == mine).map(|f| f.modified) else {
        return Err(StateError::TicketNotListed {
            state_id: state_id.to_string(),
            what: beside.noun(),
            location: backend.location(state_id, &format!("{}/{mine}", beside.folder())),
        });
    };
    let mut others = Vec::new();
    for file in files.iter().filter(|f| f.name != mine) {
        let Some(other) = read_other(backend, state_id, beside, file, now, contention)? else {
            continue;
        };
        if other.renewed_ago > other.lasts {
            backend.delete_beside(state_id, beside, &other.name)?;
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
    beside: Beside,
    file: &BesideFile,
    now: SystemTime,
    contention: Contention,
) -> StateResult<Option<Other>> {
    let Some(text) = backend.read_beside(state_id, beside, &file.name)? else {
        return Ok(None);
    };
    // A ticket that cannot be read still counts, with the default duration.
    let ticket: Option<Ticket> = serde_json::from_str(&text).ok();
    let lasts = ticket
        .as_ref()
        .and_then(|t| Duration::try_from_secs_f64(t.lease_seconds).ok())
        .unwrap_or(contention.unreadable_lasts);
    Ok(Some(Other {
        name: file.name.clone(),
        ticket,
        renewed_ago: now.duration_since(file.modified).unwrap_or(Duration::ZERO),
        lasts,
    }))
}

/// A name part no other process or thread uses at the same time (tickets, temporary files).
pub(super) fn unique() -> String {
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
    fn tickets_say_who_holds_them() {
        let text = ticket_text("meltc-sync-29123", 7, "job sync", Duration::from_secs(300));
        let ticket: Ticket = serde_json::from_str(&text).unwrap();
        assert_eq!(ticket.host, "meltc-sync-29123");
        assert_eq!(ticket.command, "job sync");
        assert!((ticket.lease_seconds - 300.0).abs() < f64::EPSILON);
        assert!(ticket.taken_at.ends_with('Z'), "{}", ticket.taken_at);
        let other = Other {
            name: "a.json".to_owned(),
            ticket: Some(ticket),
            renewed_ago: Duration::from_millis(1500),
            lasts: Duration::from_secs(300),
        };
        assert!(
            other
                .holder()
                .starts_with("`job sync` on host `meltc-sync-29123` (pid 7)")
        );
        assert_eq!(other.expires_in_seconds(), 299);
    }

    #[test]
    fn times_are_rfc3339_in_utc() {
        let time = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(rfc3339(time), "2027-01-15T08:00:00Z");
    }
}
