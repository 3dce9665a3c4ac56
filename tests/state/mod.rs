//! State backends against real components: `file://` on disk, `s3://` on a real Garage, and
//! the real `meltano` 4.4.1 reading and writing the same stores.

mod backends;
mod lease;
mod locking;
mod meltano;
mod preconditions;

use std::path::Path;
use std::time::Duration;

use meltc::runtime::state::{
    Environment, S3Settings, Secret, StateBackendSettings, StateId, StateStore,
};

use crate::support::garage::{self, Garage};

/// A `file://` backend in `folder`, with short lock waits for tests.
fn file_settings(folder: &Path) -> StateBackendSettings {
    fast(StateBackendSettings::new(format!(
        "file://{}",
        folder.display()
    )))
}

/// An `s3://` backend on `garage` under `prefix`, keys and endpoint as settings.
fn garage_settings(garage: &Garage, prefix: &str) -> StateBackendSettings {
    let mut settings = fast(StateBackendSettings::new(format!(
        "s3://{}/{prefix}",
        garage::BUCKET
    )));
    settings.s3 = S3Settings {
        aws_access_key_id: Some(garage.key_id.clone()),
        aws_secret_access_key: Some(Secret::new(garage.secret.clone())),
        endpoint_url: Some(garage.endpoint.clone()),
        region: Some(garage::REGION.to_owned()),
    };
    settings
}

/// Retry held locks every 20 ms instead of every second.
fn fast(mut settings: StateBackendSettings) -> StateBackendSettings {
    settings.lock_retry = Duration::from_millis(20);
    settings
}

fn open(settings: &StateBackendSettings) -> StateStore {
    StateStore::open(settings, &Environment::new()).expect("state store opens")
}

fn id(text: &str) -> StateId {
    StateId::new(text).expect("valid state ID")
}

/// The stored `state.json` text, as the backend holds it.
fn raw(store: &StateStore, state_id: &str) -> Option<String> {
    store.backend().read_state(&id(state_id)).expect("raw read")
}
