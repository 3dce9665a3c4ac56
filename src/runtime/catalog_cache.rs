//! Meltano's catalog cache: `<project>/.meltano/run/<tap>/tap.properties.json` with the key it
//! was discovered under in `tap.properties.cache_key` beside it (`SingerTap.catalog_cache_key`
//! and `_get_catalog` in `core/plugin/singer/tap.py`). The same files Meltano uses, so a
//! project run by both discovers once.
//!
//! The cache is an optimisation only: a missing, unreadable or unwritable cache (a read-only
//! image) means "discover", never a failed run.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The catalog file's name, as Meltano names it.
const CATALOG: &str = "tap.properties.json";
/// The key file's name, as Meltano names it.
const KEY: &str = "tap.properties.cache_key";

/// One extractor's cache under one key.
#[derive(Clone, Debug)]
pub struct CatalogCache {
    dir: PathBuf,
    key: String,
}

impl CatalogCache {
    /// The cache of `tap` in `project_root`, for the key [`super::catalog::cache_key`] gave.
    #[must_use]
    pub fn new(project_root: &Path, tap: &str, key: String) -> Self {
        Self {
            dir: project_root.join(".meltano/run").join(tap),
            key,
        }
    }

    /// The cached catalog, when one was stored under this key and is still JSON.
    #[must_use]
    pub fn load(&self) -> Option<Value> {
        let stored_key = fs_err::read_to_string(self.dir.join(KEY)).ok()?;
        if stored_key.trim() != self.key {
            return None;
        }
        let text = fs_err::read(self.dir.join(CATALOG)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Store `catalog_text` under this key. The key is written last, through a rename, so a
    /// run killed half-way leaves a key that does not match (a rediscovery), never a key next
    /// to a half-written catalog.
    ///
    /// # Errors
    /// The folder or a file cannot be written.
    pub fn store(&self, catalog_text: &str) -> std::io::Result<()> {
        fs_err::create_dir_all(&self.dir)?;
        let _ = fs_err::remove_file(self.dir.join(KEY));
        crate::atomic_file::write(&self.dir.join(CATALOG), catalog_text)?;
        crate::atomic_file::write(&self.dir.join(KEY), &self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_catalog_is_reused_only_under_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CatalogCache::new(dir.path(), "tap-x", "abc".to_owned());
        assert!(cache.load().is_none());
        cache.store(r#"{"streams": []}"#).unwrap();
        assert_eq!(cache.load(), Some(serde_json::json!({"streams": []})));
        assert_eq!(
            fs_err::read_to_string(
                dir.path()
                    .join(".meltano/run/tap-x/tap.properties.cache_key")
            )
            .unwrap(),
            "abc"
        );
        let other = CatalogCache::new(dir.path(), "tap-x", "def".to_owned());
        assert!(other.load().is_none(), "another key discovers again");
        fs_err::write(
            dir.path().join(".meltano/run/tap-x/tap.properties.json"),
            "{",
        )
        .unwrap();
        assert!(cache.load().is_none(), "a broken catalog discovers again");
    }

    #[test]
    fn an_unwritable_project_is_an_error_the_caller_may_ignore() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(
            dir.path().join(".meltano"),
            "a file where a folder should be",
        )
        .unwrap();
        let cache = CatalogCache::new(dir.path(), "tap-x", "abc".to_owned());
        assert!(cache.store("{}").is_err());
        assert!(cache.load().is_none());
    }
}
