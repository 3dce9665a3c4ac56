//! The run lease on a folder and on a real Garage: a held lease refuses a second holder, a
//! dead holder's lease expires after its duration, a live one is renewed past it, contenders
//! never hold it together, and a holder cut off from the store loses it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use meltc::runtime::state::backend::Beside;
use meltc::runtime::state::lease::Holder;
use meltc::runtime::state::{StateBackendSettings, StateError};

use super::{file_settings, garage_settings, id, open};
use crate::support::garage::Garage;

const ID: &str = "dev:tap-x-to-target-y";

fn holder(command: &str) -> Holder {
    Holder {
        host: "test-host".to_owned(),
        pid: 42,
        command: command.to_owned(),
    }
}

fn with_duration(mut settings: StateBackendSettings, duration: Duration) -> StateBackendSettings {
    settings.lease.duration = duration;
    settings
}

/// A second holder is refused with who holds it; after a release it gets the lease; a dead
/// holder's ticket blocks until its own duration has passed, then is removed.
fn refused_released_expired(settings: &StateBackendSettings) {
    let store = open(settings);
    let first = store.lease(&id(ID), &holder("job sync")).unwrap();
    let error = store.lease(&id(ID), &holder("job other")).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, StateError::LeaseHeld { .. }), "{message}");
    assert!(
        message.contains(
            "state `dev:tap-x-to-target-y` is in use by another run: `job sync` on host \
             `test-host` (pid 42) since "
        ),
        "{message}"
    );
    assert!(message.contains(&first.location()), "{message}");
    first.release().unwrap();
    store
        .lease(&id(ID), &holder("job other"))
        .unwrap()
        .release()
        .unwrap();
    assert!(
        store
            .backend()
            .list_beside(&id(ID), Beside::Lease)
            .unwrap()
            .is_empty()
    );

    // A holder that died: its ticket was last written now and says it lasts 1 s.
    let dead = r#"{"host": "gone", "pid": 1, "command": "job sync", "taken_at": "2026-01-01T00:00:00Z", "lease_seconds": 1.0}"#;
    store
        .backend()
        .write_beside(&id(ID), Beside::Lease, "dead.json", dead)
        .unwrap();
    let error = store.lease(&id(ID), &holder("job next")).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("`job sync` on host `gone` (pid 1)"),
        "{error}"
    );
    thread::sleep(Duration::from_millis(1300));
    let next = store.lease(&id(ID), &holder("job next")).unwrap();
    let names: Vec<String> = store
        .backend()
        .list_beside(&id(ID), Beside::Lease)
        .unwrap()
        .into_iter()
        .map(|file| file.name)
        .collect();
    assert_eq!(names.len(), 1, "the expired ticket is removed: {names:?}");
    assert_ne!(names[0], "dead.json");
    next.release().unwrap();
}

#[test]
fn a_folder_lease_is_refused_released_and_expires() {
    let folder = tempfile::tempdir().unwrap();
    refused_released_expired(&file_settings(folder.path()));
}

#[test]
fn a_garage_lease_is_refused_released_and_expires() {
    let Some(garage) = Garage::start() else {
        return;
    };
    refused_released_expired(&garage_settings(&garage, "lease"));
}

#[test]
fn a_live_holder_renews_its_lease_past_the_duration_on_garage() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let settings = with_duration(garage_settings(&garage, "renew"), Duration::from_secs(1));
    let store = open(&settings);
    let held = store.lease(&id(ID), &holder("job long")).unwrap();
    thread::sleep(Duration::from_millis(2500));
    let error = store.lease(&id(ID), &holder("job next")).unwrap_err();
    assert!(matches!(error, StateError::LeaseHeld { .. }), "{error}");
    held.ensure_held().unwrap();
    held.release().unwrap();
}

#[test]
fn a_holder_cut_off_from_garage_loses_its_lease() {
    let Some(mut garage) = Garage::start() else {
        return;
    };
    let settings = with_duration(garage_settings(&garage, "lost"), Duration::from_secs(1));
    let store = open(&settings);
    let held = store.lease(&id(ID), &holder("job cut-off")).unwrap();
    garage.kill();
    thread::sleep(Duration::from_millis(2500));
    let error = held.ensure_held().unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, StateError::LeaseLost { .. }), "{message}");
    assert!(
        message.contains("another run may have taken over: this run stops storing state"),
        "{message}"
    );
    garage.restart();
    // Its ticket is past its duration now: the next run takes the lease at once.
    let next = store.lease(&id(ID), &holder("job next")).unwrap();
    next.release().unwrap();
    let _ = held.release();
}

/// `threads` contenders take the lease `attempts` times each and hold it briefly; the most
/// holders at once must be one. Returns how many times it was held.
fn contenders(settings: &StateBackendSettings, threads: usize, attempts: usize) -> usize {
    let inside = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let held = Arc::new(AtomicUsize::new(0));
    thread::scope(|scope| {
        for thread_number in 0..threads {
            let (inside, most, held) = (Arc::clone(&inside), Arc::clone(&most), Arc::clone(&held));
            scope.spawn(move || {
                let store = open(settings);
                for _ in 0..attempts {
                    let who = holder(&format!("thread {thread_number}"));
                    match store.lease(&id(ID), &who) {
                        Ok(lease) => {
                            let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            held.fetch_add(1, Ordering::SeqCst);
                            thread::sleep(Duration::from_millis(30));
                            inside.fetch_sub(1, Ordering::SeqCst);
                            lease.release().unwrap();
                        }
                        Err(StateError::LeaseHeld { .. }) => {}
                        Err(other) => panic!("{other}"),
                    }
                }
            });
        }
    });
    assert_eq!(most.load(Ordering::SeqCst), 1, "two holders at once");
    held.load(Ordering::SeqCst)
}

#[test]
fn folder_contenders_never_hold_the_lease_together() {
    let folder = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let held = contenders(&file_settings(folder.path()), 4, 15);
    assert!(held >= 4, "held {held} times in {:?}", started.elapsed());
}

#[test]
fn garage_contenders_never_hold_the_lease_together() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let held = contenders(&garage_settings(&garage, "contend"), 3, 10);
    assert!(held >= 3, "held {held} times");
}
