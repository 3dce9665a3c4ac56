//! Meltano's lock file between writers: a held lock blocks, a stale one is broken, two
//! writers on one state ID both finish; and what happens when Garage goes away.

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use meltc::meltano::python_json::float_repr;
use meltc::runtime::state::backend::{Backend, Beside, BesideFile, LockFile};
use meltc::runtime::state::s3::S3Backend;
use meltc::runtime::state::s3_config::S3Config;
use meltc::runtime::state::update_lock::{LockPolicy, with_lock};
use meltc::runtime::state::uri::BackendUri;
use meltc::runtime::state::{
    Environment, StateBackendSettings, StateError, StateId, StateResult, StateStore, commands,
};
use serde_json::Value;

use super::{file_settings, garage_settings, id, open};
use crate::support::garage::Garage;

const ID: &str = "dev:tap-x-to-target-y";

/// A lock as Meltano writes it, taken `age` ago.
fn meltano_lock(age: Duration) -> String {
    let taken = SystemTime::now() - age;
    float_repr(taken.duration_since(UNIX_EPOCH).unwrap().as_secs_f64())
}

/// Put a lock file in place through the backend's raw write of the lock path.
fn plant_lock(store: &StateStore, content: &str) {
    let state_id = id(ID);
    assert!(store.backend().create_lock(&state_id, content).unwrap());
}

/// The S3 configuration of `settings`, to open raw backends.
fn s3_config(settings: &StateBackendSettings) -> S3Config {
    let BackendUri::S3(uri) = BackendUri::parse(&settings.uri).unwrap() else {
        panic!("not s3");
    };
    S3Config::resolve(uri, &settings.s3, &Environment::new()).unwrap()
}

/// A held lock blocks an update until it is removed; a stale one is broken at once; a lock
/// that never goes away ends in an error naming it.
fn held_and_stale_locks(settings: &StateBackendSettings) {
    let store = open(settings);
    commands::set(&store, ID, r#"{"singer_state": {"n": 0}}"#, true).unwrap();

    // Held: a fresh lock, and a timeout long enough that it cannot go stale meanwhile.
    let mut patient = settings.clone();
    patient.lock_timeout = Duration::from_secs(60);
    let fresh = meltano_lock(Duration::ZERO);
    plant_lock(&store, &fresh);
    let started = Instant::now();
    thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let store = open(&patient);
            commands::set(&store, ID, r#"{"singer_state": {"n": 1}}"#, true).unwrap();
            started.elapsed()
        });
        thread::sleep(Duration::from_millis(600));
        assert_eq!(
            commands::get(&store, ID).unwrap(),
            r#"{"singer_state":{"n":0}}"#,
            "the writer must wait while the lock is held"
        );
        store.backend().release_lock(&id(ID), &fresh).unwrap();
        let waited = writer.join().unwrap();
        assert!(waited >= Duration::from_millis(600), "{waited:?}");
    });
    assert_eq!(
        commands::get(&store, ID).unwrap(),
        r#"{"singer_state":{"n":1}}"#
    );
    assert!(store.backend().read_lock(&id(ID)).unwrap().is_none());

    // Stale: older than the timeout (10 s by default), broken without waiting for it.
    plant_lock(&store, &meltano_lock(Duration::from_secs(60)));
    let started = Instant::now();
    commands::set(&store, ID, r#"{"singer_state": {"n": 2}}"#, true).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        commands::get(&store, ID).unwrap(),
        r#"{"singer_state":{"n":2}}"#
    );
    assert!(store.backend().read_lock(&id(ID)).unwrap().is_none());

    // Never released: give up after the maximum wait with the lock's location.
    let mut impatient = patient;
    impatient.lock_max_wait = Duration::from_millis(300);
    plant_lock(&store, &meltano_lock(Duration::ZERO));
    let error = commands::clear(&open(&impatient), ID).unwrap_err();
    assert!(matches!(error, StateError::LockTimeout { .. }), "{error}");
    let message = error.to_string();
    let lock = store.backend().location(&id(ID), "lock");
    assert!(message.contains(&lock), "{message}");
    assert!(message.contains("delete the lock"), "{message}");
}

/// `writers` threads, each with its own store, merge `updates` distinct keys into one ID.
/// Returns how many keys the merged state holds.
fn concurrent_writers(settings: &StateBackendSettings, writers: usize, updates: usize) -> usize {
    thread::scope(|scope| {
        for writer in 0..writers {
            scope.spawn(move || {
                let store = open(settings);
                for update in 0..updates {
                    let line = format!(r#"{{"bookmarks": {{"w{writer}-{update}": {update}}}}}"#);
                    store.record_target_line(&id(ID), &line, true).unwrap();
                }
            });
        }
    });
    let store = open(settings);
    assert!(store.backend().read_lock(&id(ID)).unwrap().is_none());
    let state: Value = serde_json::from_str(&commands::get(&store, ID).unwrap()).unwrap();
    state["singer_state"]["bookmarks"]
        .as_object()
        .map_or(0, serde_json::Map::len)
}

#[test]
fn file_locks_block_break_and_time_out() {
    let folder = tempfile::tempdir().unwrap();
    held_and_stale_locks(&file_settings(folder.path()));
}

#[test]
fn s3_locks_block_break_and_time_out_on_garage() {
    let Some(garage) = Garage::start() else {
        return;
    };
    held_and_stale_locks(&garage_settings(&garage, "locks"));
}

#[test]
fn file_writers_on_one_state_id_lose_no_update() {
    let folder = tempfile::tempdir().unwrap();
    // The lock is created with O_EXCL: no two writers ever hold it, so every merge counts.
    assert_eq!(
        concurrent_writers(&file_settings(folder.path()), 4, 25),
        100
    );
}

#[test]
fn file_writers_and_a_clearer_never_fail() {
    // Every operation succeeds and no lock is left. (A clear removes the emptied folder after
    // releasing its lock, which a writer may have just made for its own lock: `create_lock`
    // makes it again. That window is too narrow to hit on purpose here.)
    let folder = tempfile::tempdir().unwrap();
    let settings = file_settings(folder.path());
    thread::scope(|scope| {
        for writer in 0..2 {
            let settings = &settings;
            scope.spawn(move || {
                let store = open(settings);
                for update in 0..40 {
                    let state = format!(r#"{{"singer_state": {{"w{writer}": {update}}}}}"#);
                    commands::set(&store, ID, &state, true).unwrap();
                }
            });
        }
        scope.spawn(|| {
            let store = open(&settings);
            for _ in 0..40 {
                commands::clear(&store, ID).unwrap();
            }
        });
    });
    assert!(
        open(&settings)
            .backend()
            .read_lock(&id(ID))
            .unwrap()
            .is_none()
    );
}

#[test]
fn s3_writers_on_one_state_id_lose_no_update_on_garage() {
    let Some(garage) = Garage::start() else {
        return;
    };
    // Garage does not enforce If-None-Match, so a writer first takes the only live ticket in
    // `<state_id>/writers/` (tickets.rs), whose exclusion does not depend on timing. With only
    // the lock file's check, write and confirm, a writer stalled for longer than the
    // confirmation wait between its check and its write lost 1 of 30 updates on a loaded CI
    // machine.
    let settings = garage_settings(&garage, "race");
    assert_eq!(concurrent_writers(&settings, 4, 20), 80);
    let writers = open(&settings)
        .backend()
        .list_beside(&id(ID), Beside::Writers)
        .unwrap();
    assert!(
        writers.is_empty(),
        "every writer removes its ticket: {writers:?}"
    );
}

#[test]
fn garage_is_probed_as_not_enforcing_conditional_writes() {
    let Some(garage) = Garage::start() else {
        return;
    };
    // Pins the fact the S3 lock design rests on (s3.rs): if a Garage upgrade starts refusing
    // a second `If-None-Match: *` create, this fails and README "State backends" needs an
    // update (the confirmation wait is then skipped).
    let settings = garage_settings(&garage, "probe");
    let config = s3_config(&settings);
    let backend = S3Backend::open(&config, &Environment::new()).unwrap();
    assert_eq!(backend.enforces_preconditions(), None);
    assert!(
        backend
            .create_lock(&id(ID), &meltano_lock(Duration::ZERO))
            .unwrap()
    );
    assert_eq!(backend.enforces_preconditions(), Some(false));
}

#[test]
fn garage_stopped_mid_run_is_a_clear_error() {
    let Some(mut garage) = Garage::start() else {
        return;
    };
    let settings = garage_settings(&garage, "fault");
    let store = open(&settings);
    store
        .record_target_line(&id(ID), r#"{"bookmarks": {"a": 1}}"#, false)
        .unwrap();
    garage.kill();
    let started = Instant::now();
    let error = store
        .record_target_line(&id(ID), r#"{"bookmarks": {"a": 2}}"#, false)
        .unwrap_err();
    let message = error.to_string();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(error, StateError::S3 { .. }), "{message}");
    assert!(message.contains(&garage.endpoint), "{message}");
    assert!(
        message.contains("s3://meltc-state/fault/dev:tap-x-to-target-y/"),
        "{message}"
    );
    assert!(
        message.contains("help: check that the S3 endpoint"),
        "{message}"
    );
    assert!(!message.contains(&garage.secret), "{message}");
    assert!(!message.contains(&garage.key_id), "{message}");
}

#[test]
fn credentials_in_the_uri_never_reach_an_error() {
    // Nothing listens on port 9: every request fails, and the error is shown.
    let mut settings = StateBackendSettings::new("s3://KEYID123:SECRET456@bucket/prefix");
    settings.s3.endpoint_url = Some("http://127.0.0.1:9".to_owned());
    let store = open(&settings);
    assert!(!format!("{store:?}").contains("SECRET456"));
    assert_eq!(store.description(), "s3://***@bucket/prefix");
    let message = commands::get(&store, ID).unwrap_err().to_string();
    assert!(
        message.contains("s3://bucket/prefix/dev:tap-x-to-target-y/state.json"),
        "{message}"
    );
    assert!(!message.contains("SECRET456"), "{message}");
    assert!(!message.contains("KEYID123"), "{message}");
}

/// Garage's backend with a random stall of up to 150 ms before each lock creation: longer
/// than the confirmation wait ([`meltc::runtime::state::s3::SETTLE`]), as a writer descheduled
/// between its check and its write on a loaded machine.
struct StallingBeforeLock {
    inner: S3Backend,
    calls: AtomicU64,
}

impl Backend for StallingBeforeLock {
    fn location(&self, state_id: &StateId, file: &str) -> String {
        self.inner.location(state_id, file)
    }
    fn read_state(&self, state_id: &StateId) -> StateResult<Option<String>> {
        self.inner.read_state(state_id)
    }
    fn write_state(&self, state_id: &StateId, text: &str) -> StateResult<()> {
        self.inner.write_state(state_id, text)
    }
    fn delete_state(&self, state_id: &StateId) -> StateResult<()> {
        self.inner.delete_state(state_id)
    }
    fn state_ids(&self) -> StateResult<Vec<String>> {
        self.inner.state_ids()
    }
    fn read_lock(&self, state_id: &StateId) -> StateResult<Option<LockFile>> {
        self.inner.read_lock(state_id)
    }
    fn create_lock(&self, state_id: &StateId, token: &str) -> StateResult<bool> {
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::from(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .subsec_nanos(),
        );
        thread::sleep(Duration::from_millis(
            (nanos ^ call.wrapping_mul(7919)) % 150,
        ));
        self.inner.create_lock(state_id, token)
    }
    fn creates_lock_atomically(&self) -> bool {
        self.inner.creates_lock_atomically()
    }
    fn replace_stale_lock(
        &self,
        state_id: &StateId,
        stale: &LockFile,
        token: &str,
    ) -> StateResult<bool> {
        self.inner.replace_stale_lock(state_id, stale, token)
    }
    fn release_lock(&self, state_id: &StateId, token: &str) -> StateResult<()> {
        self.inner.release_lock(state_id, token)
    }
    fn write_beside(
        &self,
        state_id: &StateId,
        beside: Beside,
        name: &str,
        text: &str,
    ) -> StateResult<()> {
        self.inner.write_beside(state_id, beside, name, text)
    }
    fn read_beside(
        &self,
        state_id: &StateId,
        beside: Beside,
        name: &str,
    ) -> StateResult<Option<String>> {
        self.inner.read_beside(state_id, beside, name)
    }
    fn list_beside(&self, state_id: &StateId, beside: Beside) -> StateResult<Vec<BesideFile>> {
        self.inner.list_beside(state_id, beside)
    }
    fn delete_beside(&self, state_id: &StateId, beside: Beside, name: &str) -> StateResult<()> {
        self.inner.delete_beside(state_id, beside, name)
    }
}

#[test]
fn writers_stalled_between_check_and_write_lose_no_update_on_garage() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let settings = garage_settings(&garage, "stalls");
    let config = s3_config(&settings);
    let policy = LockPolicy {
        timeout: settings.lock_timeout,
        retry: settings.lock_retry,
        max_wait: Duration::from_secs(120),
    };
    let (writers, updates) = (3, 8);
    thread::scope(|scope| {
        for writer in 0..writers {
            let config = &config;
            scope.spawn(move || {
                let backend = StallingBeforeLock {
                    inner: S3Backend::open(config, &Environment::new()).unwrap(),
                    calls: AtomicU64::new(writer),
                };
                for update in 0..updates {
                    // A read, a change and a write of the whole document, as every update is,
                    // on a store slow enough that the write comes 80 ms after the read.
                    with_lock(&backend, &id(ID), policy, || {
                        let mut lines = backend.read_state(&id(ID))?.unwrap_or_default();
                        lines.push_str(&format!("w{writer}-{update}\n"));
                        thread::sleep(Duration::from_millis(80));
                        backend.write_state(&id(ID), &lines)
                    })
                    .unwrap();
                }
            });
        }
    });
    let backend = S3Backend::open(&config, &Environment::new()).unwrap();
    let stored = backend.read_state(&id(ID)).unwrap().unwrap();
    // Without the writer tickets (the lock file's check, write and confirm alone), this lost
    // 2 to 5 of 24 updates here (three runs).
    assert_eq!(
        stored.lines().count(),
        writers as usize * updates,
        "{stored}"
    );
}
