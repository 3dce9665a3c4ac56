//! `--check`: what a build would change on disk, as unified diffs, without writing anything.

use std::path::Path;

use super::{Artifacts, INDEX_FILE, parse_index};

/// One file that differs from what a build would write.
#[derive(Debug, PartialEq, Eq)]
pub enum Drift {
    /// Generated now, absent on disk.
    Missing {
        /// Relative path.
        path: String,
        /// The diff from nothing.
        diff: String,
    },
    /// Present with other contents.
    Changed {
        /// Relative path.
        path: String,
        /// The unified diff from disk to the build.
        diff: String,
    },
    /// Generated before (in the folder's index) and no longer: a build would remove it.
    Stale {
        /// Relative path.
        path: String,
    },
}

impl Drift {
    /// The file concerned.
    #[must_use]
    pub fn path(&self) -> &str {
        match self {
            Drift::Missing { path, .. } | Drift::Changed { path, .. } | Drift::Stale { path } => {
                path
            }
        }
    }
}

/// Compare `artifacts` with `folder` (named `shown` in diff headers), in path order.
#[must_use]
pub fn check(folder: &Path, shown: &str, artifacts: &Artifacts) -> Vec<Drift> {
    let mut drift = Vec::new();
    for (path, contents) in artifacts {
        let header = format!("{shown}/{path}");
        match fs_err::read_to_string(folder.join(path)) {
            Ok(on_disk) if &on_disk == contents => {}
            Ok(on_disk) => drift.push(Drift::Changed {
                path: path.clone(),
                diff: unified(&on_disk, contents, &header),
            }),
            Err(_) => drift.push(Drift::Missing {
                path: path.clone(),
                diff: unified("", contents, &header),
            }),
        }
    }
    let previous = fs_err::read_to_string(folder.join(INDEX_FILE))
        .map(|text| parse_index(&text))
        .unwrap_or_default();
    for path in previous {
        if !artifacts.contains_key(&path) && folder.join(&path).exists() {
            drift.push(Drift::Stale { path });
        }
    }
    drift.sort_by(|a, b| a.path().cmp(b.path()));
    drift
}

/// A unified diff with `a/` and `b/` headers, three lines of context, bounded in time so that a
/// pathological file cannot hang CI.
fn unified(old: &str, new: &str, header: &str) -> String {
    similar::TextDiff::configure()
        .algorithm(similar::Algorithm::Patience)
        .timeout(std::time::Duration::from_millis(200))
        .diff_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{header}"), &format!("b/{header}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_missing_changed_and_stale_files() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("prod");
        let old: Artifacts = [
            ("a.yaml", "x: 1\n"),
            ("gone.yaml", "g\n"),
            ("same.json", "{}\n"),
        ]
        .iter()
        .map(|(p, t)| ((*p).into(), (*t).into()))
        .collect();
        crate::emit::folder::write(&out, &old).unwrap();
        let new: Artifacts = [
            ("a.yaml", "x: 2\n"),
            ("new.yaml", "n\n"),
            ("same.json", "{}\n"),
        ]
        .iter()
        .map(|(p, t)| ((*p).into(), (*t).into()))
        .collect();
        let drift = check(&out, "deploy/prod", &new);
        let paths: Vec<_> = drift.iter().map(Drift::path).collect();
        assert_eq!(paths, ["a.yaml", "gone.yaml", "new.yaml"]);
        let Drift::Changed { diff, .. } = &drift[0] else {
            panic!("{drift:?}")
        };
        assert_eq!(
            diff,
            "--- a/deploy/prod/a.yaml\n+++ b/deploy/prod/a.yaml\n@@ -1 +1 @@\n-x: 1\n+x: 2\n"
        );
        assert!(matches!(drift[1], Drift::Stale { .. }));
        assert!(
            check(&out, "deploy/prod", &old).is_empty(),
            "an unchanged build has no drift"
        );
    }
}
