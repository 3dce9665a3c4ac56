//! Finding the project root the way Meltano does (`Project.find`, `core/project.py`).

use std::path::{Path, PathBuf};

/// The file name of a project; Meltano accepts no other.
pub const PROJECT_FILE: &str = "meltano.yml";

/// Why no project was found.
#[derive(Debug, PartialEq, Eq)]
pub enum DiscoverError {
    /// The root given by `-C` or `MELTANO_PROJECT_ROOT` has no meltano.yml.
    NoFileInRoot(PathBuf),
    /// Neither the working directory nor any parent has a meltano.yml.
    NotFound(PathBuf),
}

/// The project root: `explicit` (from `--project-root`) if given, else `env_root` (from
/// `MELTANO_PROJECT_ROOT`), else the first of `cwd` and its parents that holds a meltano.yml.
///
/// # Errors
/// When the chosen folder has no meltano.yml, or none is found upward.
pub fn find_root(
    explicit: Option<&Path>,
    env_root: Option<&Path>,
    cwd: &Path,
) -> Result<PathBuf, DiscoverError> {
    if let Some(root) = explicit.or(env_root) {
        let root = if root.is_absolute() {
            root.to_path_buf()
        } else {
            cwd.join(root)
        };
        return if root.join(PROJECT_FILE).exists() {
            Ok(root)
        } else {
            Err(DiscoverError::NoFileInRoot(root))
        };
    }
    cwd.ancestors()
        // `exists`, not `is_file`: a meltano.yml that is a folder is this project's (unreadable) file.
        .find(|dir| dir.join(PROJECT_FILE).exists())
        .map(Path::to_path_buf)
        .ok_or_else(|| DiscoverError::NotFound(cwd.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_beats_environment_beats_search() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("p");
        let nested = project.join("a/b");
        fs_err::create_dir_all(&nested).unwrap();
        fs_err::write(project.join(PROJECT_FILE), "plugins: {}\n").unwrap();
        assert_eq!(find_root(None, None, &nested), Ok(project.clone()));
        assert_eq!(
            find_root(Some(Path::new("p")), None, dir.path()),
            Ok(project.clone())
        );
        assert_eq!(
            find_root(None, Some(&project), dir.path()),
            Ok(project.clone())
        );
        assert_eq!(
            find_root(Some(&nested), Some(&project), dir.path()),
            Err(DiscoverError::NoFileInRoot(nested.clone()))
        );
        assert!(matches!(
            find_root(None, None, dir.path()),
            Err(DiscoverError::NotFound(_))
        ));
    }
}
