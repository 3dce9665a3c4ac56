//! The `file:///abs/dir` backend: `<dir>/<state_id>/state.json` and `<dir>/<state_id>/lock`.
//!
//! Writes go to a temporary file in the same folder, then a rename, so a reader (or a crash)
//! never sees half a document; Meltano truncates in place. The lock is created exclusively
//! (`O_EXCL`), so two meltc-run writers cannot both take it; a stale lock is broken by renaming
//! it away, which only one writer can do. meltc-run's own files live in
//! `<dir>/<state_id>/history/` and `<dir>/<state_id>/lease/` ([`Beside`]), written the same way
//! (temporary file, then rename); names starting with `.` are temporary and never listed.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use super::backend::{Backend, Beside, BesideFile, LOCK_FILE, LockFile, STATE_FILE};
use super::error::{StateError, StateResult};
use super::id::StateId;
use super::tickets::unique;

/// A state folder on local disk.
#[derive(Debug)]
pub struct LocalBackend {
    root: PathBuf,
}

impl LocalBackend {
    /// Use `root` (absolute), creating it as Meltano does on start.
    ///
    /// # Errors
    /// When the folder cannot be created.
    pub fn open(root: PathBuf) -> StateResult<Self> {
        fs_err::create_dir_all(&root).map_err(|source| StateError::Io {
            action: "cannot create the state folder".to_owned(),
            source,
        })?;
        Ok(Self { root })
    }

    fn folder(&self, state_id: &StateId) -> PathBuf {
        self.root.join(state_id.as_str())
    }

    fn path(&self, state_id: &StateId, file: &str) -> PathBuf {
        self.folder(state_id).join(file)
    }

    fn beside_folder(&self, state_id: &StateId, beside: Beside) -> PathBuf {
        self.folder(state_id).join(beside.folder())
    }

    fn create_folder(&self, state_id: &StateId) -> StateResult<()> {
        fs_err::create_dir_all(self.folder(state_id))
            .map_err(|source| io_error("cannot create the folder of state", state_id, source))
    }

    /// Create `path` holding `text`, failing with `AlreadyExists` if it exists.
    fn create_new(path: &Path, text: &str) -> io::Result<()> {
        let mut file = fs_err::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()
    }

    /// The text of `path`, or `None` if it does not exist.
    fn read_optional(path: &Path) -> io::Result<Option<String>> {
        match fs_err::read_to_string(path) {
            Ok(text) => Ok(Some(text)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }
}

impl Backend for LocalBackend {
    fn location(&self, state_id: &StateId, file: &str) -> String {
        self.path(state_id, file).display().to_string()
    }

    fn read_state(&self, state_id: &StateId) -> StateResult<Option<String>> {
        Self::read_optional(&self.path(state_id, STATE_FILE))
            .map_err(|source| io_error("cannot read state", state_id, source))
    }

    fn write_state(&self, state_id: &StateId, text: &str) -> StateResult<()> {
        self.create_folder(state_id)?;
        replace_file(&self.folder(state_id), STATE_FILE, text)
            .map_err(|source| io_error("cannot write state", state_id, source))
    }

    fn delete_state(&self, state_id: &StateId) -> StateResult<()> {
        match fs_err::remove_file(self.path(state_id, STATE_FILE)) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => {
                Err(io_error("cannot clear state", state_id, error))
            }
            _ => Ok(()),
        }
    }

    fn state_ids(&self) -> StateResult<Vec<String>> {
        let mut ids = Vec::new();
        for entry in WalkDir::new(&self.root).min_depth(2) {
            let entry = match entry {
                Ok(entry) => entry,
                // Cleared by another writer while we walked: not a state ID any more.
                Err(error)
                    if error.io_error().map(io::Error::kind) == Some(io::ErrorKind::NotFound) =>
                {
                    continue;
                }
                Err(error) => {
                    return Err(StateError::Io {
                        action: format!("cannot list the state folder `{}`", self.root.display()),
                        source: error.into(),
                    });
                }
            };
            if entry.file_type().is_file() && entry.file_name() == STATE_FILE {
                let folder = entry
                    .path()
                    .parent()
                    .and_then(|p| p.strip_prefix(&self.root).ok());
                if let Some(id) = folder.and_then(Path::to_str) {
                    ids.push(id.to_owned());
                }
            }
        }
        Ok(ids)
    }

    fn read_lock(&self, state_id: &StateId) -> StateResult<Option<LockFile>> {
        let path = self.path(state_id, LOCK_FILE);
        let read = || -> io::Result<Option<LockFile>> {
            let Some(content) = Self::read_optional(&path)? else {
                return Ok(None);
            };
            let modified = match fs_err::metadata(&path) {
                Ok(metadata) => metadata.modified()?,
                // Removed between the two calls: released.
                Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(error) => return Err(error),
            };
            Ok(Some(LockFile {
                content,
                modified,
                version: None,
            }))
        };
        read().map_err(|source| io_error("cannot read the lock of state", state_id, source))
    }

    fn creates_lock_atomically(&self) -> bool {
        // `O_EXCL` (`create_new`).
        true
    }

    fn create_lock(&self, state_id: &StateId, token: &str) -> StateResult<bool> {
        // A writer that just cleared this state ID removes the emptied folder after releasing
        // its lock, possibly between our mkdir and our create: make the folder again then.
        for _ in 0..3 {
            self.create_folder(state_id)?;
            match Self::create_new(&self.path(state_id, LOCK_FILE), token) {
                Ok(()) => return Ok(true),
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => return Err(io_error("cannot lock state", state_id, error)),
            }
        }
        Ok(false)
    }

    fn replace_stale_lock(
        &self,
        state_id: &StateId,
        stale: &LockFile,
        token: &str,
    ) -> StateResult<bool> {
        let lock = self.path(state_id, LOCK_FILE);
        let moved = self.path(state_id, &format!(".{LOCK_FILE}.{}.stale", unique()));
        let fail = |source| io_error("cannot break the stale lock of state", state_id, source);
        // Only one writer can rename a given lock file away.
        match fs_err::rename(&lock, &moved) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(error) => return Err(fail(error)),
        }
        let moved_content = fs_err::read_to_string(&moved).map_err(fail)?;
        if moved_content != stale.content {
            // Another writer replaced the stale lock between our read and the rename: that
            // lock is live; put it back unless yet another one has appeared meanwhile.
            let _ = fs_err::hard_link(&moved, &lock);
            fs_err::remove_file(&moved).map_err(fail)?;
            return Ok(false);
        }
        fs_err::remove_file(&moved).map_err(fail)?;
        self.create_lock(state_id, token)
    }

    fn release_lock(&self, state_id: &StateId, token: &str) -> StateResult<()> {
        let lock = self.path(state_id, LOCK_FILE);
        let fail = |source| io_error("cannot unlock state", state_id, source);
        if Self::read_optional(&lock).map_err(fail)?.as_deref() == Some(token) {
            fs_err::remove_file(&lock).map_err(fail)?;
        }
        // After a clear the folder is empty: remove it as Meltano does (`shutil.rmtree`).
        // Failing because it is not empty is the normal case after an update.
        if !self.path(state_id, STATE_FILE).exists() {
            let _ = fs_err::remove_dir(self.folder(state_id));
        }
        Ok(())
    }

    fn write_beside(
        &self,
        state_id: &StateId,
        beside: Beside,
        name: &str,
        text: &str,
    ) -> StateResult<()> {
        let folder = self.beside_folder(state_id, beside);
        let fail = |source| io_error(&beside_action(beside, "write"), state_id, source);
        // Another writer removes the folder when it deletes the last file in it (see
        // `delete_beside`), possibly between our mkdir and our write: make it again then.
        let mut attempts = 0;
        loop {
            fs_err::create_dir_all(&folder).map_err(fail)?;
            match replace_file(&folder, name, text) {
                Err(error) if error.kind() == io::ErrorKind::NotFound && attempts < 3 => {
                    attempts += 1;
                }
                written => return written.map_err(fail),
            }
        }
    }

    fn read_beside(
        &self,
        state_id: &StateId,
        beside: Beside,
        name: &str,
    ) -> StateResult<Option<String>> {
        Self::read_optional(&self.beside_folder(state_id, beside).join(name))
            .map_err(|source| io_error(&beside_action(beside, "read"), state_id, source))
    }

    fn list_beside(&self, state_id: &StateId, beside: Beside) -> StateResult<Vec<BesideFile>> {
        let fail = |source| io_error(&beside_action(beside, "list"), state_id, source);
        let entries = match fs_err::read_dir(self.beside_folder(state_id, beside)) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(fail(error)),
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(fail)?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            match entry.metadata().and_then(|metadata| metadata.modified()) {
                Ok(modified) => files.push(BesideFile { name, modified }),
                // Deleted since the folder was read: not there any more.
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => return Err(fail(error)),
            }
        }
        Ok(files)
    }

    fn delete_beside(&self, state_id: &StateId, beside: Beside, name: &str) -> StateResult<()> {
        let folder = self.beside_folder(state_id, beside);
        match fs_err::remove_file(folder.join(name)) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => {
                return Err(io_error(
                    &beside_action(beside, "delete from"),
                    state_id,
                    error,
                ));
            }
            _ => {}
        }
        // Leave no empty folders behind (Meltano removes a cleared state ID's folder too);
        // removing a folder that is not empty fails, which is the normal case.
        if fs_err::remove_dir(&folder).is_ok() {
            let _ = fs_err::remove_dir(self.folder(state_id));
        }
        Ok(())
    }
}

/// Replace `folder/name` with `text` atomically: a temporary file in the same folder, then a
/// rename; the temporary file is removed if anything fails.
fn replace_file(folder: &Path, name: &str, text: &str) -> io::Result<()> {
    let target = folder.join(name);
    let temporary = folder.join(format!(".{name}.{}.tmp", unique()));
    let written = LocalBackend::create_new(&temporary, text)
        .and_then(|()| fs_err::rename(&temporary, &target));
    if written.is_err() {
        // Best effort: the temporary file is ours and must not outlive the failure.
        let _ = fs_err::remove_file(&temporary);
    }
    written
}

/// What a failed operation on a [`Beside`] folder was doing, for its message.
fn beside_action(beside: Beside, verb: &str) -> String {
    format!("cannot {verb} the {} of state", beside.noun())
}

fn io_error(action: &str, state_id: &StateId, source: io::Error) -> StateError {
    StateError::Io {
        action: format!("{action} `{state_id}`"),
        source,
    }
}
