//! The image of an environment: `Dockerfile`, its allow-list, `install-plugins.sh` (the script
//! the Dockerfile runs once per plugin virtualenv; the tests run the very same script on the
//! host) and a copy of each requirement lock under `locks/`.
//!
//! Input: the manifest (plugins, their virtualenvs and requirement locks), the locks' text, the
//! project's paths plugins install from, and the deploy settings (`annotations.meltc.image`).
//! The environment's output folder is the whole build context (`docker build deploy/prod`,
//! allow-list `.dockerignore`): the image needs nothing else of the project, so it builds the
//! same wherever `--out` puts the folder, and a CI job can build it from the folder alone. The
//! one exception is a plugin installed from the project's own path (`pip_url: -e ./tap-x`,
//! [`crate::resolve::pip_url`]): the image must then carry that path, so it is built from the
//! project root (`docker build -f deploy/prod/Dockerfile .`) with `Dockerfile.dockerignore`
//! beside the Dockerfile as the allow-list (Docker BuildKit and buildah read it before the
//! context's own), and names its own files by their path in the project.

use std::collections::BTreeMap;

use serde::Serialize;

use super::deploy_settings::{self as settings, Deploy};
use super::{Artifacts, Inputs, header, shell, templates};
use crate::compile::requirements::lock_path;
use crate::manifest::{Manifest, Plugin};
use crate::resolve::pip_url::{self, PathKind, PipArg, PipUrl};

/// The Dockerfile's name in the output folder.
pub const DOCKERFILE: &str = "Dockerfile";
/// The allow-list of the build context.
pub const DOCKERIGNORE: &str = ".dockerignore";
/// The folder of the locks' copies in the output folder.
pub const LOCKS: &str = "locks";
/// The folder of the pinned catalogs' copies in the output folder (`/etc/meltc/catalogs` in
/// the image, `MELTC_CATALOGS`).
pub const CATALOGS: &str = "catalogs";
/// The install script's name in the output folder.
pub const INSTALL_SCRIPT: &str = "install-plugins.sh";
/// The allow-list of a build context that is the project root, beside the Dockerfile (Docker
/// BuildKit and buildah read `<Dockerfile>.dockerignore` before the context's `.dockerignore`).
pub const DOCKERFILE_IGNORE: &str = "Dockerfile.dockerignore";

/// How one virtualenv is installed.
enum Install {
    /// From its hashed lock, then (`--no-deps`) the paths of the project it names.
    Lock {
        path: String,
        hashes: bool,
        project_paths: Vec<String>,
    },
    /// From its `pip_url`'s arguments.
    PipUrl(Vec<PipArg>),
}

impl Install {
    fn project_paths(&self) -> Vec<&str> {
        match self {
            Self::Lock { project_paths, .. } => project_paths.iter().map(String::as_str).collect(),
            Self::PipUrl(args) => args
                .iter()
                .filter_map(|arg| match arg {
                    PipArg::Path(path) => Some(path.as_str()),
                    PipArg::Word(_) => None,
                })
                .collect(),
        }
    }
}

/// Where the Dockerfile copies the project's paths in the build stage (`install-plugins.sh`
/// reads them from `$MELTC_SOURCES`, this by default).
pub const SOURCES: &str = "/meltc/project";

/// One `COPY` of a path of the project into the build stage.
#[derive(Serialize)]
struct CopyContext {
    /// The instruction's arguments (`src dest`, or the JSON form for a path with a space).
    args: String,
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
    /// `uv pip install`'s arguments after `--python`, one command each, as shell words.
    installs: Vec<String>,
    /// Executables to find in `bin/`.
    executables: Vec<String>,
    /// The lock to copy before the step (in the build context), when there is one.
    lock: Option<String>,
    /// Where `meltc lock --requirements` writes the lock in the project.
    lock_path: String,
    /// The paths of the project to copy before the step.
    copies: Vec<CopyContext>,
    /// The instruction before this step's RUN is a RUN too (hadolint DL3059).
    after_run: bool,
}

#[derive(Serialize)]
struct DockerContext {
    header: Vec<String>,
    folder: String,
    /// The build context is the project root (a plugin installs from the project's paths):
    /// the output folder's path in the project, else `None` (the folder is the context).
    in_project: Option<String>,
    /// What the context's own files are named by: `deploy/prod/` from the project root, or
    /// nothing from the output folder.
    prefix: String,
    /// The project's paths the image installs plugins from, for the header.
    project_paths: Vec<String>,
    /// The same, as the header lists them (`.` said to be the project root).
    listed_paths: Vec<String>,
    /// The allow-list lines that admit the project's paths (root context only).
    admit_paths: Vec<String>,
    /// [`SOURCES`].
    sources: &'static str,
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
    /// The pinned catalogs' copies in the output folder ([`CATALOGS`]).
    catalogs: Vec<String>,
}

/// The docker emitter.
///
/// # Errors
/// A stale lock or one for another Python, a `pip_url` that does not split into words, a
/// plugin installed from the project while the output folder is outside it, and unusable
/// settings.
pub fn emit(manifest: &Manifest, inputs: &Inputs) -> Result<Artifacts, Vec<String>> {
    let deploy = settings::deploy(manifest)?;
    let mut artifacts = Artifacts::new();
    let mut errors = Vec::new();
    let mut venvs: Vec<VenvContext> = Vec::new();
    let mut not_installed = Vec::new();
    let mut git_for = Vec::new();
    let mut project_paths: Vec<String> = Vec::new();
    for (venv, plugins) in venvs_of(manifest) {
        let first = plugins[0];
        let names: Vec<&str> = plugins.iter().map(|plugin| plugin.name.as_str()).collect();
        let pip_url = first.pip_url.as_deref().unwrap_or_default();
        let install = match install_of(first, &deploy, inputs) {
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
        let paths: Vec<String> = install
            .project_paths()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let copied = if paths.is_empty() {
            String::new()
        } else {
            format!(
                ", then {} (copied from the build context; nothing editable)",
                paths
                    .iter()
                    .map(|path| pip_url::describe(path))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let (installs, lock, what) = match install {
            Install::Lock {
                path,
                hashes,
                project_paths: paths,
            } => {
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
                let mut installs = vec![args];
                if !paths.is_empty() {
                    installs.push(format!(
                        "--no-deps {}",
                        paths
                            .iter()
                            .map(|path| source_word(path))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ));
                }
                let kind = if hashes {
                    "hashed lock"
                } else {
                    "lock pinning a VCS commit"
                };
                (
                    installs,
                    Some(copy),
                    format!(
                        "{} from its {kind} of `{pip_url}` ({path}){copied}",
                        names.join(", ")
                    ),
                )
            }
            Install::PipUrl(args) => (
                vec![
                    args.iter()
                        .map(|arg| match arg {
                            PipArg::Word(word) => shell::quote(word),
                            PipArg::Path(path) => source_word(path),
                        })
                        .collect::<Vec<_>>()
                        .join(" "),
                ],
                None,
                format!(
                    "{} from pip_url `{pip_url}` (not locked){copied}",
                    names.join(", ")
                ),
            ),
        };
        let copies: Vec<CopyContext> = match paths.iter().map(|path| copy_of(path)).collect() {
            Ok(copies) => copies,
            Err(error) => {
                errors.push(format!("`{venv}`: {error}"));
                continue;
            }
        };
        for path in paths {
            if !project_paths.contains(&path) {
                project_paths.push(path);
            }
        }
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
            installs,
            executables,
            lock,
            copies,
            after_run: false,
        });
    }
    // The project's own packages change most often: their layers come last, so that editing
    // one rebuilds no other plugin's layer.
    venvs.sort_by_key(|venv| !venv.copies.is_empty());
    for venv in venvs.iter_mut().skip(1) {
        venv.after_run = venv.lock.is_none() && venv.copies.is_empty();
    }
    // Legacy `transforms:` plugins have no virtualenv (compile's `compile_plugin`): say why.
    for plugin in &manifest.plugins {
        if plugin.plugin_type == crate::meltano::PluginType::Transforms && plugin.pip_url.is_some()
        {
            not_installed.push(format!(
                "transforms/{0} ({0}): a legacy `transforms:` plugin is a dbt package, which Meltano only writes into dbt's packages.yml when it is added; nothing installs it",
                plugin.name
            ));
        }
    }
    let in_project = if project_paths.is_empty() {
        None
    } else if let Some(folder) = &inputs.folder_in_project {
        Some(folder.clone())
    } else {
        errors.push(format!(
            "plugins install from {}, so the image is built from the project root and the output folder must be inside the project: write it there (`--out` below the project root)",
            project_paths
                .iter()
                .map(|path| pip_url::describe(path))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        None
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let environment = manifest
        .environment
        .as_ref()
        .map_or("none", |environment| environment.name.as_str());
    // The pinned catalogs (`meltc catalog`), as `<extractor>.json`: a pod runs no discovery.
    let mut catalogs = Vec::new();
    for plugin in &manifest.plugins {
        let Some(catalog) = &plugin.catalog else {
            continue;
        };
        let Some(text) = inputs.catalogs.get(&catalog.file) else {
            return Err(vec![format!(
                "the pinned catalog `{}` was not read: this is a bug in meltc",
                catalog.file
            )]);
        };
        let copy = format!("{CATALOGS}/{}.json", plugin.name);
        artifacts.insert(copy.clone(), text.clone());
        catalogs.push(copy);
    }
    let prefix = in_project
        .as_ref()
        .map(|folder| format!("{folder}/"))
        .unwrap_or_default();
    let context = DockerContext {
        header: header(manifest),
        folder: super::folder_name(manifest).to_owned(),
        admit_paths: in_project
            .as_deref()
            .map(|folder| admit_lines(&project_paths, &inputs.project_paths, folder))
            .unwrap_or_default(),
        in_project,
        prefix,
        listed_paths: project_paths
            .iter()
            .map(|path| {
                if path == "." {
                    ". (the project root itself)".to_owned()
                } else {
                    path.clone()
                }
            })
            .collect(),
        project_paths,
        sources: SOURCES,
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
        catalogs,
        venvs,
        not_installed,
    };
    let ignore_file = if context.in_project.is_some() {
        DOCKERFILE_IGNORE
    } else {
        DOCKERIGNORE
    };
    artifacts.extend([
        (
            DOCKERFILE.to_owned(),
            templates::render(templates::DOCKERFILE, &context).map_err(|e| vec![e])?,
        ),
        (
            ignore_file.to_owned(),
            templates::render(templates::DOCKERIGNORE, &context).map_err(|e| vec![e])?,
        ),
        (
            INSTALL_SCRIPT.to_owned(),
            templates::render(templates::INSTALL_SCRIPT, &context).map_err(|e| vec![e])?,
        ),
    ]);
    Ok(artifacts)
}

/// A path of the project as the install script names it, under `$sources`.
fn source_word(path: &str) -> String {
    if path == "." {
        "\"$sources\"".to_owned()
    } else {
        format!("\"$sources\"/{}", shell::quote(path))
    }
}

/// The characters a path of the project may have to be copied by a Dockerfile and admitted by
/// its ignore file as written (no globbing, quoting or variable characters).
fn copyable(path: &str) -> bool {
    path.chars()
        .all(|c| c.is_ascii_alphanumeric() || " ._-+@/".contains(c))
}

/// The `COPY` of `path` into [`SOURCES`].
fn copy_of(path: &str) -> Result<CopyContext, String> {
    if !copyable(path) {
        return Err(format!(
            "the project path `{path}` has characters a Dockerfile cannot copy as written; rename it with letters, digits, `._-+@` and spaces"
        ));
    }
    let (source, target) = if path == "." {
        (".".to_owned(), SOURCES.to_owned())
    } else {
        (path.to_owned(), format!("{SOURCES}/{path}"))
    };
    Ok(CopyContext {
        args: if path.contains(' ') {
            format!("[\"{source}\", \"{target}\"]")
        } else {
            format!("{source} {target}")
        },
    })
}

/// Files in a package's folder that never belong to its build: hidden files and folders (a
/// `.env`, `.git`, `.venv`, `.meltano`), caches and build outputs. Patterns under the folder
/// `{}`.
const NEVER_COPIED: [&str; 5] = [
    "{}**/.*",
    "{}**/__pycache__",
    "{}**/*.egg-info",
    "{}build",
    "{}dist",
];

/// What else stays out when the package is the project root itself (`-e .`): Meltano's own
/// `output/` folder (where loaders such as target-jsonl write data).
const NEVER_COPIED_FROM_ROOT: [&str; 1] = ["output"];

/// The allow-list lines of a root build context that admit the project's `paths` (each, then
/// what never belongs to a package build inside it), and keep out the output folders when a
/// path holds them (`-e .`): the context's own files are admitted after these lines.
fn admit_lines(
    paths: &[String],
    kinds: &BTreeMap<String, Result<PathKind, String>>,
    folder: &str,
) -> Vec<String> {
    let mut lines = Vec::new();
    for path in paths {
        if matches!(kinds.get(path), Some(Ok(PathKind::File))) {
            lines.push(format!("!{path}"));
            continue;
        }
        let (admit, under) = if path == "." {
            ("!*".to_owned(), String::new())
        } else {
            (format!("!{path}"), format!("{path}/"))
        };
        lines.push(admit);
        lines.extend(
            NEVER_COPIED
                .iter()
                .map(|pattern| pattern.replace("{}", &under)),
        );
        if path == "." {
            lines.extend(NEVER_COPIED_FROM_ROOT.iter().map(|line| (*line).to_owned()));
        }
        // The package folder holds the output folder: every environment's outputs stay out.
        if path == "." || folder.starts_with(&format!("{path}/")) {
            let outputs = folder.rsplit_once('/').map_or(folder, |(parent, _)| parent);
            lines.push(outputs.to_owned());
        }
    }
    lines
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
/// image at all (left out, with the reason in the Dockerfile: validation has warned, and made
/// it an error when a job runs the plugin), `Err` when the project must be fixed first.
fn install_of(
    plugin: &Plugin,
    deploy: &Deploy,
    inputs: &Inputs,
) -> Result<Result<Install, String>, String> {
    let pip_url = plugin.pip_url.as_deref().unwrap_or_default();
    let venv = plugin.venv.as_deref().unwrap_or_default();
    let args = match pip_url::parse(pip_url, &deploy.image.python)
        .map_err(|error| format!("`{venv}`: pip_url: {error}"))?
    {
        PipUrl::Args(args) => args,
        PipUrl::NotInstallable(reason) => return Ok(Err(reason.to_string())),
    };
    let paths: Vec<String> = args
        .iter()
        .filter_map(|arg| match arg {
            PipArg::Path(path) => Some(path.clone()),
            PipArg::Word(_) => None,
        })
        .collect();
    for path in &paths {
        match inputs.project_paths.get(path) {
            Some(Ok(_)) => {}
            Some(Err(problem)) => {
                return Ok(Err(format!(
                    "it installs from {}, {problem}",
                    pip_url::describe(path)
                )));
            }
            None => {
                return Err(format!(
                    "the project path `{path}` was not checked: this is a bug in meltc"
                ));
            }
        }
    }
    let Some(lock) = &plugin.requirements else {
        return Ok(Ok(Install::PipUrl(args)));
    };
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
    if lock.metadata.as_ref() != inputs.metadata.get(venv) {
        return Err(format!(
            "`{}` was locked from other dependencies of {} than the project has now (pyproject.toml, setup.py or setup.cfg changed): run `meltc lock --requirements`",
            lock.path,
            paths
                .iter()
                .map(|path| format!("`{path}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(Ok(Install::Lock {
        path: lock.path.clone(),
        hashes: lock.hashes,
        project_paths: paths,
    }))
}
