//! A plugin's `pip_url` as an image build installs it, and the paths of the project it names.
//!
//! Meltano expands `MELTANO__PYTHON_VERSION` and the project's variables (`MELTANO_PROJECT_ROOT`
//! among them) in a `pip_url`, then shell-splits it into pip arguments
//! (`PluginInstallService.plugin_installation_env` and `get_pip_install_args`,
//! core/plugin_install_service.py); pip reads a relative path against the folder Meltano runs
//! in, the project root. So `-e .`, `./tap-x/` and `-e ${MELTANO_PROJECT_ROOT}/extract/tap-y`
//! install a folder of the project. An image build installs such a folder from the project
//! (copied into the build stage), never editable: the image has no source tree to edit. A path
//! that leaves the project, or an absolute one, cannot be carried into the image.
//!
//! [`parse`] is pure (build and validation agree on it); [`check_path`] is the one question
//! for the file system: is the path there, and can pip install it.

use std::path::Path;

/// The project root as the `pip_url` spells it: `MELTANO_PROJECT_ROOT` (the braced form is
/// kept in messages; a path under it is relative to the project root).
const PROJECT_ROOT: &str = "${MELTANO_PROJECT_ROOT}";
/// The Python version Meltano exports for the install (`<major>.<minor>`).
const PYTHON_VERSION_VARIABLES: [&str; 2] =
    ["${MELTANO__PYTHON_VERSION}", "$MELTANO__PYTHON_VERSION"];
/// pip options whose argument is a file (a requirements or constraints file).
const FILE_OPTIONS: [&str; 4] = ["-r", "--requirement", "-c", "--constraint"];
/// The files that make a folder a Python project pip can build.
pub const PROJECT_FILES: [&str; 2] = ["pyproject.toml", "setup.py"];

/// One pip argument of a `pip_url`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PipArg {
    /// A requirement, URL or pip option, as written (variables expanded).
    Word(String),
    /// A path of the project (a package folder, a requirements file, a wheel), relative to the
    /// project root, `/`-separated and normalised: `.` is the root itself.
    Path(String),
}

/// What an image build makes of a `pip_url`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PipUrl {
    /// The pip arguments (`-e` left out: an image installs nothing editable).
    Args(Vec<PipArg>),
    /// It cannot be installed by an image build, and why.
    NotInstallable(NotInstallable),
}

/// Why an image build cannot install a `pip_url`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotInstallable {
    /// Nothing to install.
    Empty,
    /// A variable other than the two an image build knows (`word` as written).
    Variable {
        /// The word that references it.
        word: String,
    },
    /// A relative path that leaves the project (`../tap-x`, `${MELTANO_PROJECT_ROOT}/..`).
    OutsideProject {
        /// The path as written (after expansion).
        path: String,
    },
    /// An absolute path (or `~`, or a `file:` URL): it names a folder of one machine.
    Absolute {
        /// The path as written.
        path: String,
    },
}

impl PipUrl {
    /// The paths of the project it installs from.
    #[must_use]
    pub fn paths(&self) -> Vec<&str> {
        match self {
            Self::Args(args) => args
                .iter()
                .filter_map(|arg| match arg {
                    PipArg::Path(path) => Some(path.as_str()),
                    PipArg::Word(_) => None,
                })
                .collect(),
            Self::NotInstallable(_) => Vec::new(),
        }
    }
}

impl std::fmt::Display for NotInstallable {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => formatter.write_str("its pip_url is empty"),
            Self::Variable { word } => write!(
                formatter,
                "its pip_url references a variable (`{word}`), which an image build cannot see"
            ),
            Self::OutsideProject { path } => write!(
                formatter,
                "it installs from `{path}`, which is outside the project"
            ),
            Self::Absolute { path } => write!(
                formatter,
                "it installs from the absolute path `{path}`, a folder of one machine"
            ),
        }
    }
}

/// The pip arguments of `pip_url` for an image whose Python is `python`.
///
/// # Errors
/// A `pip_url` that does not split into shell words (an unclosed quote).
pub fn parse(pip_url: &str, python: &str) -> Result<PipUrl, String> {
    let mut expanded = pip_url.to_owned();
    for variable in PYTHON_VERSION_VARIABLES {
        expanded = expanded.replace(variable, python);
    }
    // One spelling of the root, kept as written for messages (`project_path` reads it as `.`).
    if !expanded.contains(PROJECT_ROOT) {
        expanded = expanded.replace("$MELTANO_PROJECT_ROOT", PROJECT_ROOT);
    }
    let words = crate::resolve::shell_words::split(&expanded)?;
    if words.is_empty() {
        return Ok(PipUrl::NotInstallable(NotInstallable::Empty));
    }
    if let Some(word) = words
        .iter()
        .find(|word| word.replace(PROJECT_ROOT, "").contains('$'))
    {
        return Ok(PipUrl::NotInstallable(NotInstallable::Variable {
            word: word.clone(),
        }));
    }
    let mut args = Vec::new();
    let mut words = words.into_iter().peekable();
    while let Some(word) = words.next() {
        let path_word = if matches!(word.as_str(), "-e" | "--editable") {
            // `-e PATH` or `-e git+URL`: installed the same, not editable.
            match words.next() {
                Some(next) => next,
                None => continue,
            }
        } else if let Some(rest) = word.strip_prefix("--editable=") {
            rest.to_owned()
        } else if FILE_OPTIONS.contains(&word.as_str()) {
            args.push(PipArg::Word(word));
            match words.next() {
                Some(next) => next,
                None => continue,
            }
        } else {
            word
        };
        if !is_path(&path_word) {
            args.push(PipArg::Word(path_word));
            continue;
        }
        match project_path(&path_word) {
            Ok(path) => args.push(PipArg::Path(path)),
            Err(problem) => return Ok(PipUrl::NotInstallable(problem)),
        }
    }
    Ok(PipUrl::Args(args))
}

/// A pip argument that names a path of the file system rather than a requirement or URL.
fn is_path(word: &str) -> bool {
    word == "."
        || word.starts_with(PROJECT_ROOT)
        || word.starts_with("./")
        || word.starts_with("../")
        || word == ".."
        || word.starts_with('/')
        || word.starts_with('~')
        || word.starts_with("file:")
        || (word.contains('/') && !word.contains("://") && !word.contains(" @ "))
}

/// `word` as a normalised path relative to the project root.
fn project_path(word: &str) -> Result<String, NotInstallable> {
    if word.starts_with('/') || word.starts_with('~') || word.starts_with("file:") {
        return Err(NotInstallable::Absolute {
            path: word.to_owned(),
        });
    }
    let relative = word.strip_prefix(PROJECT_ROOT).unwrap_or(word);
    let mut parts: Vec<&str> = Vec::new();
    for part in relative.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(NotInstallable::OutsideProject {
                        path: word.to_owned(),
                    });
                }
            }
            part => parts.push(part),
        }
    }
    Ok(if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    })
}

/// A path of the project in a message: "the project root" or "the project's `x`".
#[must_use]
pub fn describe(path: &str) -> String {
    if path == "." {
        "the project root".to_owned()
    } else {
        format!("the project's `{path}`")
    }
}

/// What a path of the project is, for an image build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathKind {
    /// A folder holding a Python project (`pyproject.toml` or `setup.py`).
    Package,
    /// A file (a wheel, an sdist, a requirements file).
    File,
}

/// Why a path of the project cannot be installed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathProblem {
    /// Nothing there.
    Missing,
    /// A folder that holds no Python project.
    NotAPackage,
    /// A link (or a link inside it on the way) that leads out of the project.
    LeavesProject,
}

impl std::fmt::Display for PathProblem {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Self::Missing => "which does not exist",
            Self::NotAPackage => "which has no pyproject.toml or setup.py (not a Python project)",
            Self::LeavesProject => "which is a link that leads out of the project",
        })
    }
}

/// Whether the project path `path` (from [`parse`]) can be installed from the project at
/// `root`.
///
/// # Errors
/// See [`PathProblem`].
pub fn check_path(root: &Path, path: &str) -> Result<PathKind, PathProblem> {
    let full = root.join(path);
    let Ok(real) = full.canonicalize() else {
        return Err(PathProblem::Missing);
    };
    let inside = root
        .canonicalize()
        .is_ok_and(|real_root| real.starts_with(real_root));
    if !inside {
        return Err(PathProblem::LeavesProject);
    }
    if real.is_file() {
        return Ok(PathKind::File);
    }
    if PROJECT_FILES.iter().any(|file| real.join(file).is_file()) {
        Ok(PathKind::Package)
    } else {
        Err(PathProblem::NotAPackage)
    }
}

#[cfg(test)]
mod tests {
    use super::{NotInstallable, PipArg, PipUrl, parse};

    fn args(pip_url: &str) -> Vec<PipArg> {
        match parse(pip_url, "3.12").unwrap() {
            PipUrl::Args(args) => args,
            PipUrl::NotInstallable(reason) => panic!("{pip_url}: {reason}"),
        }
    }

    fn path(path: &str) -> PipArg {
        PipArg::Path(path.to_owned())
    }

    fn word(word: &str) -> PipArg {
        PipArg::Word(word.to_owned())
    }

    #[test]
    fn every_spelling_of_a_project_folder_is_a_normalised_path() {
        for (pip_url, expected) in [
            ("-e .", "."),
            (".", "."),
            ("-e ./tap-internal", "tap-internal"),
            ("./tap-x/", "tap-x"),
            ("--editable=./a/b", "a/b"),
            ("-e ${MELTANO_PROJECT_ROOT}/extract/tap-y", "extract/tap-y"),
            ("$MELTANO_PROJECT_ROOT", "."),
            ("${MELTANO_PROJECT_ROOT}/a/./b/", "a/b"),
            ("-e './with space'", "with space"),
            ("plugins/tap-z", "plugins/tap-z"),
            ("./a/../b", "b"),
            (
                "./dist/tap_x-1.0-py3-none-any.whl",
                "dist/tap_x-1.0-py3-none-any.whl",
            ),
        ] {
            assert_eq!(args(pip_url), [path(expected)], "{pip_url}");
        }
    }

    #[test]
    fn requirements_urls_and_options_stay_words() {
        assert_eq!(
            args("-e git+https://github.com/x/tap-x.git@v1#egg=tap-x"),
            [word("git+https://github.com/x/tap-x.git@v1#egg=tap-x")],
            "an editable VCS requirement installs, not editable"
        );
        assert_eq!(
            args("tap-x==1.0 'pkg @ https://h/p.whl' --pre -r ./req.txt"),
            [
                word("tap-x==1.0"),
                word("pkg @ https://h/p.whl"),
                word("--pre"),
                word("-r"),
                path("req.txt"),
            ]
        );
        assert_eq!(
            args("dbt-core==1.${MELTANO__PYTHON_VERSION}"),
            [word("dbt-core==1.3.12")]
        );
    }

    #[test]
    fn paths_out_of_the_project_and_variables_are_not_installable() {
        for (pip_url, expected) in [
            (
                "-e ${MELTANO_PROJECT_ROOT}/..",
                NotInstallable::OutsideProject {
                    path: "${MELTANO_PROJECT_ROOT}/..".to_owned(),
                },
            ),
            (
                "-e ./../tap-gitlab",
                NotInstallable::OutsideProject {
                    path: "./../tap-gitlab".to_owned(),
                },
            ),
            (
                "-e /workspace",
                NotInstallable::Absolute {
                    path: "/workspace".to_owned(),
                },
            ),
            (
                "file:///opt/tap",
                NotInstallable::Absolute {
                    path: "file:///opt/tap".to_owned(),
                },
            ),
            (
                "-e $TAPS/tap-x",
                NotInstallable::Variable {
                    word: "$TAPS/tap-x".to_owned(),
                },
            ),
            ("  ", NotInstallable::Empty),
        ] {
            assert_eq!(
                parse(pip_url, "3.12").unwrap(),
                PipUrl::NotInstallable(expected),
                "{pip_url}"
            );
        }
        assert!(parse("'unclosed", "3.12").is_err());
    }
}
