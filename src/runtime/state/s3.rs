//! The `s3://bucket/prefix` backend: objects `<prefix>/<state_id>/state.json` and
//! `<prefix>/<state_id>/lock` (`application/json`), and meltc-run's own
//! `<prefix>/<state_id>/history/…`, `…/lease/…` and `…/writers/…` ([`Beside`]), through `object_store`, on a
//! current-thread tokio runtime so that callers stay synchronous.
//!
//! Locking: a lock is created with `If-None-Match: *` and a stale one replaced with
//! `If-Match: <etag>`, which AWS S3 (and MinIO, R2, …) enforce atomically. Garage 2.5 accepts
//! both headers but does not enforce them (checked against a real server): there
//! [`Backend::creates_lock_atomically`] is false, so the update lock first takes a writer
//! ticket (`update_lock.rs`, `tickets.rs`), and the lock file itself is Meltano's
//! check-then-write confirmed for the sake of a `meltano` writer: read back, wait [`SETTLE`],
//! read back again; it must hold this writer's token both times. Whether the server enforces
//! the headers is probed once, on the first lock created: a second create of the
//! same key must be refused.

use std::future::Future;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, SystemTime};

use futures_util::TryStreamExt as _;
use object_store::aws::AmazonS3;
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, ObjectStore as _, ObjectStoreExt as _, PutMode, PutOptions, PutPayload,
    UpdateVersion,
};
use tokio::runtime::Runtime;

use super::backend::{Backend, Beside, BesideFile, LOCK_FILE, LockFile, STATE_FILE};
use super::backend_settings::Environment;
use super::error::{StateError, StateResult};
use super::id::StateId;
use super::s3_config::S3Config;

/// How long a lock written without an enforced precondition must stay ours before it counts:
/// long against a request round-trip, short against a job's run time.
pub const SETTLE: Duration = Duration::from_millis(50);

/// A bucket and prefix holding state.
#[derive(Debug)]
pub struct S3Backend {
    store: AmazonS3,
    runtime: Runtime,
    bucket: String,
    prefix: String,
    /// ` (endpoint)` for messages, or empty for AWS.
    endpoint_note: String,
    /// Whether the server enforces `If-None-Match`/`If-Match` on writes (probed once).
    enforces_preconditions: OnceLock<bool>,
}

impl S3Backend {
    /// Connect lazily (no request is made until the first operation).
    ///
    /// # Errors
    /// When the client cannot be built (an endpoint that is not a URL, TLS setup).
    pub fn open(config: &S3Config, environment: &Environment) -> StateResult<Self> {
        // reqwest is built without a default TLS provider so that only `ring` is compiled in;
        // installing it twice (a second backend) is harmless and reports an error we ignore.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let setup = |source| StateError::S3Setup {
            bucket: config.bucket.clone(),
            source: Box::new(source),
        };
        let store = config.builder(environment).build().map_err(setup)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| StateError::Io {
                action: "cannot start the runtime of the S3 client".to_owned(),
                source,
            })?;
        Ok(Self {
            store,
            runtime,
            bucket: config.bucket.clone(),
            prefix: config.prefix.clone(),
            endpoint_note: config
                .endpoint
                .as_ref()
                .map(|endpoint| format!(" ({endpoint})"))
                .unwrap_or_default(),
            enforces_preconditions: OnceLock::new(),
        })
    }

    /// Whether the server enforces `If-None-Match`/`If-Match` on writes: `None` until the
    /// first lock has been created.
    #[must_use]
    pub fn enforces_preconditions(&self) -> Option<bool> {
        self.enforces_preconditions.get().copied()
    }

    /// The key of `name` in the `beside` folder of `state_id`.
    fn beside_path(&self, state_id: &StateId, beside: Beside, name: &str) -> StateResult<Path> {
        self.path(state_id, &format!("{}/{name}", beside.folder()))
    }

    fn key(&self, state_id: &StateId, file: &str) -> String {
        if self.prefix.is_empty() {
            format!("{state_id}/{file}")
        } else {
            format!("{}/{state_id}/{file}", self.prefix)
        }
    }

    /// The object path, taken verbatim (`Path::parse` never percent-encodes, so the key is
    /// byte for byte the one Meltano uses).
    fn path(&self, state_id: &StateId, file: &str) -> StateResult<Path> {
        self.parse(&self.key(state_id, file))
    }

    fn parse(&self, key: &str) -> StateResult<Path> {
        Path::parse(key).map_err(|source| StateError::S3 {
            action: "addressing",
            location: self.url(key),
            endpoint: self.endpoint_note.clone(),
            source: Box::new(object_store::Error::InvalidPath { source }),
        })
    }

    fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    fn fail(&self, action: &'static str, path: &Path, source: object_store::Error) -> StateError {
        StateError::S3 {
            action,
            location: self.url(path.as_ref()),
            endpoint: self.endpoint_note.clone(),
            source: Box::new(source),
        }
    }

    fn block_on<T>(&self, future: impl Future<Output = T>) -> T {
        self.runtime.block_on(future)
    }

    /// An object's text and metadata, or `None` if it does not exist.
    fn get(&self, action: &'static str, path: &Path) -> StateResult<Option<(String, LockMeta)>> {
        let result = self.block_on(async {
            let object = self.store.get(path).await?;
            let meta = LockMeta {
                modified: SystemTime::from(object.meta.last_modified),
                etag: object.meta.e_tag.clone(),
            };
            Ok((object.bytes().await?, meta))
        });
        match result {
            Ok((bytes, meta)) => Ok(Some((String::from_utf8_lossy(&bytes).into_owned(), meta))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(source) => Err(self.fail(action, path, source)),
        }
    }

    /// Write `text` as JSON with `mode`; `Ok(false)` when a precondition failed.
    fn put(
        &self,
        action: &'static str,
        path: &Path,
        text: &str,
        mode: PutMode,
    ) -> StateResult<bool> {
        let options = PutOptions {
            mode,
            attributes: Attributes::from_iter([(Attribute::ContentType, "application/json")]),
            ..PutOptions::default()
        };
        let payload = PutPayload::from(text.to_owned());
        match self.block_on(self.store.put_opts(path, payload, options)) {
            Ok(_) => Ok(true),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Ok(false),
            Err(source) => Err(self.fail(action, path, source)),
        }
    }

    /// Whether the lock holds `token` now.
    fn holds(&self, path: &Path, token: &str) -> StateResult<bool> {
        Ok(self
            .get("reading back the lock", path)?
            .is_some_and(|(content, _)| content == token))
    }

    /// After writing the lock: whether it is ours. Certain when the server enforced the
    /// precondition; otherwise it must hold `token` now and still after [`SETTLE`].
    fn confirm(&self, path: &Path, token: &str) -> StateResult<bool> {
        if self.enforces_preconditions.get() == Some(&true) {
            return Ok(true);
        }
        if !self.holds(path, token)? {
            return Ok(false);
        }
        thread::sleep(SETTLE);
        self.holds(path, token)
    }

    /// Learn whether the server enforces preconditions, right after creating the lock at
    /// `path`: creating it again must be refused. Where it is not, the second write puts the
    /// same token in place, which changes nothing.
    fn probe(&self, path: &Path, token: &str) -> StateResult<()> {
        if self.enforces_preconditions.get().is_none() {
            let overwritten =
                self.put("probing conditional writes", path, token, PutMode::Create)?;
            let _ = self.enforces_preconditions.set(!overwritten);
        }
        Ok(())
    }
}

/// The metadata of a read object that locking needs.
struct LockMeta {
    modified: SystemTime,
    etag: Option<String>,
}

impl Backend for S3Backend {
    fn location(&self, state_id: &StateId, file: &str) -> String {
        self.url(&self.key(state_id, file))
    }

    fn read_state(&self, state_id: &StateId) -> StateResult<Option<String>> {
        let path = self.path(state_id, STATE_FILE)?;
        Ok(self.get("reading state", &path)?.map(|(text, _)| text))
    }

    fn write_state(&self, state_id: &StateId, text: &str) -> StateResult<()> {
        let path = self.path(state_id, STATE_FILE)?;
        self.put("writing state", &path, text, PutMode::Overwrite)
            .map(drop)
    }

    fn delete_state(&self, state_id: &StateId) -> StateResult<()> {
        let path = self.path(state_id, STATE_FILE)?;
        match self.block_on(self.store.delete(&path)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(self.fail("clearing state", &path, source)),
        }
    }

    fn state_ids(&self) -> StateResult<Vec<String>> {
        let prefix = self.parse(&self.prefix)?;
        let objects = self
            .block_on(self.store.list(Some(&prefix)).try_collect::<Vec<_>>())
            .map_err(|source| self.fail("listing", &prefix, source))?;
        let suffix = format!("/{STATE_FILE}");
        Ok(objects
            .iter()
            .filter_map(|object| {
                let key = object.location.as_ref();
                let relative = if self.prefix.is_empty() {
                    key
                } else {
                    key.strip_prefix(self.prefix.as_str())?.strip_prefix('/')?
                };
                relative.strip_suffix(&suffix).map(str::to_owned)
            })
            .collect())
    }

    fn read_lock(&self, state_id: &StateId) -> StateResult<Option<LockFile>> {
        let path = self.path(state_id, LOCK_FILE)?;
        Ok(self
            .get("reading the lock", &path)?
            .map(|(content, meta)| LockFile {
                content,
                modified: meta.modified,
                version: meta.etag,
            }))
    }

    fn create_lock(&self, state_id: &StateId, token: &str) -> StateResult<bool> {
        let path = self.path(state_id, LOCK_FILE)?;
        if !self.put("writing the lock", &path, token, PutMode::Create)? {
            return Ok(false);
        }
        self.probe(&path, token)?;
        self.confirm(&path, token)
    }

    fn creates_lock_atomically(&self) -> bool {
        self.enforces_preconditions.get() == Some(&true)
    }

    fn replace_stale_lock(
        &self,
        state_id: &StateId,
        stale: &LockFile,
        token: &str,
    ) -> StateResult<bool> {
        let path = self.path(state_id, LOCK_FILE)?;
        let mode = match &stale.version {
            Some(etag) => PutMode::Update(UpdateVersion {
                e_tag: Some(etag.clone()),
                version: None,
            }),
            None => PutMode::Overwrite,
        };
        Ok(
            self.put("replacing the stale lock", &path, token, mode)?
                && self.holds(&path, token)?,
        )
    }

    fn release_lock(&self, state_id: &StateId, token: &str) -> StateResult<()> {
        let path = self.path(state_id, LOCK_FILE)?;
        if !self.holds(&path, token)? {
            return Ok(());
        }
        match self.block_on(self.store.delete(&path)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(self.fail("removing the lock", &path, source)),
        }
    }

    fn write_beside(
        &self,
        state_id: &StateId,
        beside: Beside,
        name: &str,
        text: &str,
    ) -> StateResult<()> {
        let path = self.beside_path(state_id, beside, name)?;
        let action = match beside {
            Beside::History => "writing the history",
            Beside::Lease => "writing the run lease",
            Beside::Writers => "writing the update lock's writers",
        };
        self.put(action, &path, text, PutMode::Overwrite).map(drop)
    }

    fn read_beside(
        &self,
        state_id: &StateId,
        beside: Beside,
        name: &str,
    ) -> StateResult<Option<String>> {
        let path = self.beside_path(state_id, beside, name)?;
        let action = match beside {
            Beside::History => "reading the history",
            Beside::Lease => "reading the run lease",
            Beside::Writers => "reading the update lock's writers",
        };
        Ok(self.get(action, &path)?.map(|(text, _)| text))
    }

    fn list_beside(&self, state_id: &StateId, beside: Beside) -> StateResult<Vec<BesideFile>> {
        let folder = self.path(state_id, beside.folder())?;
        let action = match beside {
            Beside::History => "listing the history",
            Beside::Lease => "listing the run lease",
            Beside::Writers => "listing the update lock's writers",
        };
        let objects = self
            .block_on(self.store.list(Some(&folder)).try_collect::<Vec<_>>())
            .map_err(|source| self.fail(action, &folder, source))?;
        Ok(objects
            .into_iter()
            .filter_map(|object| {
                // Only the folder's own files (`list` also descends into sub-folders).
                let mut parts = object.location.prefix_match(&folder)?;
                let name = parts.next()?.as_ref().to_owned();
                parts.next().is_none().then(|| BesideFile {
                    name,
                    modified: SystemTime::from(object.last_modified),
                })
            })
            .collect())
    }

    fn delete_beside(&self, state_id: &StateId, beside: Beside, name: &str) -> StateResult<()> {
        let path = self.beside_path(state_id, beside, name)?;
        let action = match beside {
            Beside::History => "pruning the history",
            Beside::Lease => "releasing the run lease",
            Beside::Writers => "releasing the update lock",
        };
        match self.block_on(self.store.delete(&path)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(self.fail(action, &path, source)),
        }
    }
}
