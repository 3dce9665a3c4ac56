//! The image of an environment: `Dockerfile`, its allow-list `.dockerignore`,
//! `install-plugins.sh` (the script the Dockerfile runs once per plugin virtualenv; the tests
//! run the very same script on the host) and a copy of each requirement lock under `locks/`.
//!
//! Input: the manifest (plugins, their virtualenvs and requirement locks), the locks' text and
//! the deploy settings (`annotations.meltc.image`). The environment's output folder is the
//! whole build context (`docker build deploy/prod`): the image needs nothing else of the
//! project, so it builds the same wherever `--out` puts the folder, and a CI job can build it
//! from the folder alone.

use std::collections::BTreeMap;

use serde::Serialize;

use super::settings::{self, Deploy};
use super::{Artifacts, Inputs, header, shell, templates};
use crate::compile::requirements::lock_path;
use crate::manifest::{Manifest, Plugin};

/// The Dockerfile's name in the output folder.
pub const DOCKERFILE: &str = "Dockerfile";
/// The allow-list of the build context.
pub const DOCKERIGNORE: &str = ".dockerignore";
/// The folder of the locks' copies in the output folder.
pub const LOCKS: &str = "locks";
/// The install script's name in the output folder.
pub const INSTALL_SCRIPT: &str = "install-plugins.sh";

/// How one virtualenv is installed.
enum Install {
    /// From its hashed lock.
    Lock { path: String, hashes: bool },
    /// From its `pip_url`'s words.
    PipUrl(Vec<String>),
}

/// One virtualenv, as the templates see it.
#[derive(Serialize)]
struct VenvContext {
    /// `<type>/<name>`.
    name: String,
    /// Which plugins, installed from what.
    what: String,
    /// The interpreter, as a shell word.
    python: String,
    /// It is the image's Python (`$python`), which the script checks against the locks'.
    default_python: bool,
    /// `uv pip install`'s arguments after `--python`, as shell words.
    install_args: String,
    /// Executables to find in `bin/`.
    executables: Vec<String>,
    /// The lock to copy before the step (in the build context), when there is one.
    lock: Option<String>,
    /// Where `meltc lock --requirements` writes the lock in the project.
    lock_path: String,
    /// The instruction before this step's RUN is a RUN too (hadolint DL3059).
    after_run: bool,
}

#[derive(Serialize)]
struct DockerContext {
    header: Vec<String>,
    folder: String,
    image_name: String,
    description: String,
    base_image: String,
    /// The image's Python (`X.Y`), which the locks are compiled for.
    python: String,
    meltc_image: String,
    needs_git: bool,
    git_for: String,
    venvs: Vec<VenvContext>,
    not_installed: Vec<String>,
    locks: Vec<String>,
}

/// The docker emitter.
///
/// # Errors
/// A stale lock or one for another Python, a `pip_url` that does not split into words, and
/// unusable settings.
pub fn emit(manifest: &Manifest, inputs: &Inputs) -> Result<Artifacts, Vec<String>> {
    let deploy = settings::deploy(manifest)?;
    let mut artifacts = Artifacts::new();
    let mut errors = Vec::new();
    let mut venvs: Vec<VenvContext> = Vec::new();
    let mut not_installed = Vec::new();
    let mut git_for = Vec::new();
    for (venv, plugins) in venvs_of(manifest) {
        let first = plugins[0];
        let names: Vec<&str> = plugins.iter().map(|plugin| plugin.name.as_str()).collect();
        let pip_url = first.pip_url.as_deref().unwrap_or_default();
        let install = match install_of(first, &deploy) {
            Ok(Ok(install)) => install,
            Ok(Err(reason)) => {
                not_installed.push(format!("{venv} ({}): {reason}", names.join(", ")));
                continue;
            }
            Err(error) => {
                errors.push(error);
                continue;
            }
        };
        if pip_url.contains("git+") {
            git_for.push(names.join(", "));
        }
        let (install_args, lock, what) = match install {
            Install::Lock { path, hashes } => {
                let Some(text) = inputs.locks.get(&path) else {
                    errors.push(format!(
                        "the lock `{path}` was not read: this is a bug in meltc"
                    ));
                    continue;
                };
                let copy = format!("{LOCKS}/{venv}.txt");
                artifacts.insert(copy.clone(), text.clone());
                let mut args = String::new();
                if hashes {
                    args.push_str("--require-hashes ");
                }
                args.push_str(&format!("--no-deps -r \"$locks/{venv}.txt\""));
                let kind = if hashes {
                    "hashed lock"
                } else {
                    "lock pinning a VCS commit"
                };
                (
                    args,
                    Some(copy),
                    format!(
                        "{} from its {kind} of `{pip_url}` ({path})",
                        names.join(", ")
                    ),
                )
            }
            Install::PipUrl(words) => (
                words
                    .iter()
                    .map(|word| shell::quote(word))
                    .collect::<Vec<_>>()
                    .join(" "),
                None,
                format!("{} from pip_url `{pip_url}` (not locked)", names.join(", ")),
            ),
        };
        let after_run = lock.is_none() && !venvs.is_empty();
        let mut executables: Vec<String> = plugins
            .iter()
            .map(|plugin| plugin.executable.clone())
            .filter(|executable| !executable.contains('/'))
            .map(|executable| shell::quote(&executable))
            .collect();
        executables.sort();
        executables.dedup();
        venvs.push(VenvContext {
            python: first
                .python
                .as_deref()
                .map_or_else(|| "\"$python\"".to_owned(), shell::quote),
            default_python: first.python.is_none(),
            lock_path: lock_path(&venv),
            name: venv,
            what,
            install_args,
            executables,
            lock,
            after_run,
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let environment = manifest
        .environment
        .as_ref()
        .map_or("none", |environment| environment.name.as_str());
    let context = DockerContext {
        header: header(manifest),
        folder: super::folder_name(manifest).to_owned(),
        image_name: deploy.kubernetes.image.clone(),
        description: format!(
            "Meltano project {}, environment {environment}, run by meltc-run",
            deploy.name
        ),
        base_image: deploy.image.base.clone(),
        python: deploy.image.python.clone(),
        meltc_image: deploy.image.meltc.clone(),
        needs_git: !git_for.is_empty(),
        git_for: git_for.join("; "),
        locks: venvs.iter().filter_map(|venv| venv.lock.clone()).collect(),
        venvs,
        not_installed,
    };
    artifacts.extend([
        (
            DOCKERFILE.to_owned(),
            templates::render(templates::DOCKERFILE, &context).map_err(|e| vec![e])?,
        ),
        (
            DOCKERIGNORE.to_owned(),
            templates::render(templates::DOCKERIGNORE, &context).map_err(|e| vec![e])?,
        ),
        (
            INSTALL_SCRIPT.to_owned(),
            templates::render(templates::INSTALL_SCRIPT, &context).map_err(|e| vec![e])?,
        ),
    ]);
    Ok(artifacts)
}

/// Plugins by virtualenv, sorted by virtualenv (`<type>/<name>`).
fn venvs_of(manifest: &Manifest) -> BTreeMap<String, Vec<&Plugin>> {
    let mut venvs: BTreeMap<String, Vec<&Plugin>> = BTreeMap::new();
    for plugin in &manifest.plugins {
        if let Some(venv) = &plugin.venv {
            venvs.entry(venv.clone()).or_default().push(plugin);
        }
    }
    venvs
}

/// How `plugin`'s virtualenv is installed: `Ok(Err(reason))` when it cannot be installed in an
/// image at all (left out, with the reason in the Dockerfile), `Err` when the project must be
/// fixed first.
fn install_of(plugin: &Plugin, deploy: &Deploy) -> Result<Result<Install, String>, String> {
    let pip_url = plugin.pip_url.as_deref().unwrap_or_default();
    let venv = plugin.venv.as_deref().unwrap_or_default();
    if let Some(lock) = &plugin.requirements {
        if lock.pip_url.as_deref() != Some(pip_url) {
            return Err(format!(
                "`{}` was locked for pip_url `{}`, but `{}` now has `{pip_url}`: run `meltc lock --requirements`",
                lock.path,
                lock.pip_url.as_deref().unwrap_or("(no header)"),
                plugin.name
            ));
        }
        if lock.python.as_deref() != Some(deploy.image.python.as_str()) {
            return Err(format!(
                "`{}` was locked for Python {}, but the image has Python {}: run `meltc lock --requirements`",
                lock.path,
                lock.python.as_deref().unwrap_or("(no header)"),
                deploy.image.python
            ));
        }
        return Ok(Ok(Install::Lock {
            path: lock.path.clone(),
            hashes: lock.hashes,
        }));
    }
    let words = match pip_words(pip_url, &deploy.image.python)
        .map_err(|error| format!("`{venv}`: pip_url: {error}"))?
    {
        Ok(words) => words,
        Err(reason) => return Ok(Err(reason)),
    };
    Ok(Ok(Install::PipUrl(words)))
}

/// The pip arguments of `pip_url` for an image with Python `python` (Meltano's
/// `MELTANO__PYTHON_VERSION` expanded, shell-split): `Ok(Err(reason))` when an image build
/// cannot install it (a variable it cannot see, a folder of the project).
///
/// # Errors
/// A `pip_url` that does not split into shell words.
pub fn pip_words(pip_url: &str, python: &str) -> Result<Result<Vec<String>, String>, String> {
    let expanded = pip_url
        .replace("${MELTANO__PYTHON_VERSION}", python)
        .replace("$MELTANO__PYTHON_VERSION", python);
    let words = crate::resolve::shell_words::split(&expanded)?;
    if words.is_empty() {
        return Ok(Err("its pip_url is empty".to_owned()));
    }
    if let Some(index) = words.iter().position(|word| is_local(word)) {
        let folder = match words[index].as_str() {
            "-e" | "--editable" => words.get(index + 1).map_or("", String::as_str),
            word => word,
        };
        return Ok(Err(format!(
            "its pip_url `{pip_url}` installs from the folder `{folder}` of the project, which is not in the image; publish the package and pin its version"
        )));
    }
    if let Some(word) = words.iter().find(|word| word.contains('$')) {
        return Ok(Err(format!(
            "its pip_url `{pip_url}` references a variable (`{word}`), which an image build cannot see"
        )));
    }
    Ok(Ok(words))
}

/// A pip argument that installs from the local file system.
fn is_local(word: &str) -> bool {
    matches!(word, "-e" | "--editable")
        || word.starts_with('.')
        || word.starts_with('/')
        || word.starts_with("file:")
        || word.starts_with('~')
        || (word.contains('/') && !word.contains("://"))
}
