//! The private directory of a run's per-plugin files: config (`--config`), catalog
//! (`--catalog` / `--properties`) and incoming state (`--state`).
//!
//! Config files hold secrets (passwords resolved from the environment), so the directory is
//! created `0700` under the system temporary directory (or a given parent) and each file
//! `0600`, created new (never following an existing file or link). The directory and all in
//! it are removed when the [`RunDir`] drops: after the run, on an error (`?` and unwinding
//! panics drop it too) and after SIGTERM/SIGINT, which [`crate::runtime::interrupt`] turns
//! into a normal return of the pipeline. Only SIGKILL, or `std::process::exit` while a
//! `RunDir` is alive, can leave it behind (in the temporary directory, still `0700`).
//!
//! Files are written as Meltano writes them: `json.dumps(…, indent=2)`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use fs_err::os::unix::fs::OpenOptionsExt;
use serde_json::Value;

use crate::meltano::python_json;

/// Which file of a plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// The plugin's settings (`--config`).
    Config,
    /// The extractor's catalog (`--catalog` or `--properties`).
    Catalog,
    /// The extractor's incoming state (`--state`).
    State,
}

impl FileKind {
    fn suffix(self) -> &'static str {
        match self {
            Self::Config => "config.json",
            Self::Catalog => "catalog.json",
            Self::State => "state.json",
        }
    }
}

/// A private temporary directory, removed on drop.
#[derive(Debug)]
pub struct RunDir {
    dir: tempfile::TempDir,
}

impl RunDir {
    /// Create one under the system temporary directory (`TMPDIR`, else `/tmp`).
    pub fn create() -> io::Result<Self> {
        Self::create_in(&std::env::temp_dir())
    }

    /// Create one under `parent`.
    pub fn create_in(parent: &Path) -> io::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("meltc-run-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(parent)?;
        Ok(Self { dir })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The path of `plugin`'s `kind` file (whether or not it was written):
    /// `<dir>/<plugin>.<kind>.json`, with every character of the name outside
    /// `[A-Za-z0-9._-]` replaced by `_`.
    pub fn file_path(&self, plugin: &str, kind: FileKind) -> PathBuf {
        let name: String = plugin
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.path().join(format!("{name}.{}", kind.suffix()))
    }

    /// Write `contents` as `plugin`'s `kind` file (mode `0600`, which must not exist yet) and
    /// return its path for the plugin's command line.
    pub fn write(&self, plugin: &str, kind: FileKind, contents: &[u8]) -> io::Result<PathBuf> {
        let path = self.file_path(plugin, kind);
        let mut file = fs_err::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        file.write_all(contents)?;
        file.flush()?;
        Ok(path)
    }

    /// [`RunDir::write`] of `value` as Meltano writes JSON files (`indent=2`).
    pub fn write_json(&self, plugin: &str, kind: FileKind, value: &Value) -> io::Result<PathBuf> {
        self.write(plugin, kind, python_json::dumps(value, Some(2)).as_bytes())
    }

    /// Remove the directory now, reporting a failure (dropping removes it too, silently).
    pub fn close(self) -> io::Result<()> {
        self.dir.close()
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs_err::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn private_files_removed_on_drop() {
        let parent = tempfile::tempdir().unwrap();
        let run = RunDir::create_in(parent.path()).unwrap();
        let dir = run.path().to_owned();
        assert_eq!(mode(&dir), 0o700);
        let config = run
            .write_json(
                "tap-x",
                FileKind::Config,
                &serde_json::json!({"password": "s3cret"}),
            )
            .unwrap();
        assert_eq!(config, dir.join("tap-x.config.json"));
        assert_eq!(mode(&config), 0o600);
        assert_eq!(
            fs_err::read_to_string(&config).unwrap(),
            "{\n  \"password\": \"s3cret\"\n}"
        );
        // Names are made safe; a second write of the same file is refused.
        let odd = run.write("a/b c", FileKind::State, b"{}").unwrap();
        assert_eq!(odd, dir.join("a_b_c.state.json"));
        assert!(run.write("a/b c", FileKind::State, b"{}").is_err());
        drop(run);
        assert!(!dir.exists());
    }

    #[test]
    fn removed_when_a_panic_unwinds() {
        let parent = tempfile::tempdir().unwrap();
        let seen = std::sync::Mutex::new(None);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let run = RunDir::create_in(parent.path()).unwrap();
            run.write("t", FileKind::Catalog, b"{}").unwrap();
            *seen.lock().unwrap() = Some(run.path().to_owned());
            panic!("a failure while the directory exists");
        }));
        assert!(result.is_err());
        let dir = seen.lock().unwrap().take().unwrap();
        assert!(!dir.exists());
    }
}
