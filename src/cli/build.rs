//! `meltc build`: validate, resolve, compile each environment, emit, then write (or `--check`).
//!
//! Nothing is written unless every selected environment compiles: a build that fails leaves
//! the previous output as it was. Each environment's folder is replaced atomically.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::args::{BuildArgs, BuildFormat};
use super::open::{Opened, open, shown_path, unknown_environment};
use super::{Context, Outcome};
use crate::compile::{self, Options};
use crate::diagnostics::render;
use crate::diagnostics::{Diagnostic, SourceMap, codes, sort_and_dedup};
use crate::emit::{self, Artifacts, drift, folder};
use crate::manifest::Manifest;
use crate::project::Project;
use crate::resolve;
use crate::validate;

pub use crate::emit::NO_ENVIRONMENT_FOLDER;

/// The default output folder, in the project root.
pub const DEFAULT_OUT: &str = "deploy";

/// Which environments to compile.
pub enum Selection<'a> {
    /// These, by name (checked to exist).
    Named(Vec<&'a str>),
    /// Every environment, or the project alone when it has none.
    All,
    /// The project alone, without any environment (every environment is still validated).
    Project,
    /// Neither named nor all: the project alone when it has no environments, else a usage
    /// error that lists them.
    Unspecified,
}

/// One compiled environment.
pub struct Compiled {
    /// Its name; `None` for a project without environments.
    pub environment: Option<String>,
    /// The manifest.
    pub manifest: Manifest,
}

/// Open, validate, resolve and compile; diagnostics are printed to stderr. `Err` carries the
/// outcome to exit with when anything stops the build.
pub fn compile_selected(
    project_root: Option<&Path>,
    selection: &Selection<'_>,
    options: &Options,
    context: &mut Context<'_>,
) -> Result<(Project, Vec<Compiled>), Outcome> {
    let (project, sources, mut diagnostics) = match open(project_root, context) {
        Opened::Project(project, sources, diagnostics) => (project, sources, diagnostics),
        Opened::Failed(sources, diagnostics) => {
            return Err(report(&sources, diagnostics, context));
        }
    };
    let environments = validate::environment_names(&project);
    let wanted: Vec<Option<String>> = match selection {
        Selection::Named(names) => {
            for name in names {
                if !environments.iter().any(|known| known == name) {
                    diagnostics.push(unknown_environment(
                        name,
                        &format!("--env {name}"),
                        &environments,
                    ));
                }
            }
            names.iter().map(|name| Some((*name).to_owned())).collect()
        }
        Selection::All | Selection::Unspecified if environments.is_empty() => vec![None],
        Selection::Project => vec![None],
        Selection::Unspecified => {
            diagnostics.push(
                Diagnostic::new(
                    &codes::UNKNOWN_ENVIRONMENT_ARGUMENT,
                    "`meltc build` needs `--env NAME` or `--all-envs`".to_owned(),
                )
                .help(format!(
                    "the project's environments are {}",
                    environments.join(", ")
                )),
            );
            Vec::new()
        }
        Selection::All => environments.iter().cloned().map(Some).collect(),
    };
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(report(&sources, diagnostics, context));
    }
    let only = match selection {
        Selection::Named(names) if names.len() == 1 => Some(names[0].to_owned()),
        _ => None,
    };
    // Resolved once: validate checks this resolution and every environment compiles from it.
    let resolved = std::sync::Arc::new(resolve::resolve(&project));
    diagnostics.extend(validate::validate_resolved(
        &project,
        std::sync::Arc::clone(&resolved),
        &validate::Options { environment: only },
    ));
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(report(&sources, diagnostics, context));
    }
    let mut compiled = Vec::new();
    // Environments compile independently: one thread per core, results in the given order.
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let chunk = wanted.len().div_ceil(threads.max(1)).max(1);
    let results: Option<Vec<_>> = std::thread::scope(|scope| {
        let workers: Vec<_> = wanted
            .chunks(chunk)
            .map(|names| {
                let resolved = &*resolved;
                scope.spawn(move || {
                    names
                        .iter()
                        .map(|name| {
                            (
                                name.clone(),
                                compile::compile(resolved, name.as_deref(), options),
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all = Vec::new();
        for worker in workers {
            all.extend(worker.join().ok()?);
        }
        Some(all)
    });
    let Some(results) = results else {
        let _ = writeln!(
            context.stderr,
            "error: meltc bug: compiling an environment panicked; nothing was written"
        );
        return Err(Outcome::Failure);
    };
    for (environment, result) in results {
        match result {
            Ok(mut manifest) => {
                // The streams of pinned catalogs (`meltc catalog`).
                if let Err(errors) = super::streams::attach(&project.root, &mut manifest) {
                    for error in errors {
                        let _ = writeln!(context.stderr, "error: {error}");
                    }
                    return Err(Outcome::Failure);
                }
                compiled.push(Compiled {
                    environment,
                    manifest,
                });
            }
            Err(errors) => diagnostics.extend(errors),
        }
    }
    let failed = diagnostics.iter().any(Diagnostic::is_error);
    let outcome = report(&sources, diagnostics, context);
    drop(resolved);
    if failed {
        return Err(outcome);
    }
    Ok((project, compiled))
}

/// Compile for a view of the project (`meltc diff`, `meltc graph`), diagnostics printed:
/// whether state would survive a pod is `meltc build`'s question, so ephemeral state is
/// allowed. `Err` is the outcome to exit with.
pub fn compile_for_review(
    project_root: Option<&Path>,
    selection: &Selection<'_>,
    context: &mut Context<'_>,
) -> Result<Vec<Compiled>, Outcome> {
    let options = Options {
        allow_ephemeral_state: true,
    };
    compile_selected(project_root, selection, &options, context)
        .map(|(_, compiled)| compiled)
        .map_err(Outcome::max_findings)
}

/// Print diagnostics (human, stderr) and say how they end the command.
fn report(
    sources: &SourceMap,
    mut diagnostics: Vec<Diagnostic>,
    context: &mut Context<'_>,
) -> Outcome {
    if diagnostics.is_empty() {
        return Outcome::Clean;
    }
    sort_and_dedup(&mut diagnostics);
    let mut text = render::human(&diagnostics, sources, context.style);
    text.push_str(&render::summary(&diagnostics));
    text.push('\n');
    if context.stderr.write_all(text.as_bytes()).is_err() {
        return Outcome::Failure;
    }
    Outcome::of(&diagnostics, false)
}

/// Run `meltc build`.
pub fn run(project_root: Option<&Path>, args: &BuildArgs, context: &mut Context<'_>) -> Outcome {
    let selection = match (&args.environment, args.all_envs) {
        (Some(name), _) => Selection::Named(vec![name.as_str()]),
        (None, true) => Selection::All,
        (None, false) => Selection::Unspecified,
    };
    let options = Options {
        allow_ephemeral_state: args.allow_ephemeral_state,
    };
    let (project, compiled) = match compile_selected(project_root, &selection, &options, context) {
        Ok(done) => done,
        Err(outcome) => return outcome.max_findings(),
    };
    let out = match &args.out {
        Some(out) if out.is_absolute() => out.clone(),
        Some(out) => context.cwd.join(out),
        None => project.root.join(DEFAULT_OUT),
    };
    let manifests: Vec<Manifest> = compiled
        .iter()
        .map(|compiled| {
            let mut manifest = compiled.manifest.clone();
            if let Some(owner) = &args.orchestrator {
                set_orchestrator(&mut manifest, owner);
            }
            manifest
        })
        .collect();
    let unsupported = cron_unsupported(&project, &manifests, &args.emit);
    if !unsupported.is_empty() {
        return report(&project.sources, unsupported, context).max_findings();
    }
    let mut folders = Vec::new();
    for (compiled, manifest) in compiled.iter().zip(manifests) {
        let folder_name = compiled
            .environment
            .as_deref()
            .unwrap_or(NO_ENVIRONMENT_FOLDER);
        if !emit::is_safe_path(folder_name) || folder_name.contains('/') {
            let _ = writeln!(
                context.stderr,
                "error: the environment name `{folder_name}` cannot be a folder name; rename it"
            );
            return Outcome::Findings;
        }
        let folder = out.join(folder_name);
        let inputs = match inputs_of(&project.root, &folder, &compiled.manifest) {
            Ok(inputs) => inputs,
            Err(error) => {
                let _ = writeln!(context.stderr, "error: {error}");
                return Outcome::Failure;
            }
        };
        match emit::emit(&manifest, &inputs, &args.emit) {
            Ok(artifacts) => folders.push((folder, artifacts)),
            Err(problems) => {
                for problem in problems {
                    let _ = writeln!(context.stderr, "error: {folder_name}: {problem}");
                }
                return Outcome::Findings;
            }
        }
    }
    if args.check {
        check(&folders, args.format, context)
    } else {
        write(&folders, args.format, context)
    }
}

/// A located error for every schedule whose cron expression the owning orchestrator cannot
/// run (`emit::schedules`), at the schedule's `interval:`.
fn cron_unsupported(
    project: &Project,
    manifests: &[Manifest],
    selected: &[String],
) -> Vec<Diagnostic> {
    let schedules = crate::project::model::schedules(&project.merged);
    let mut diagnostics: Vec<Diagnostic> = manifests
        .iter()
        .flat_map(|manifest| emit::schedules::cannot_run(manifest, selected))
        .filter_map(|finding| {
            let schedule = schedules.iter().find(|s| s.name == finding.schedule)?;
            let (span, label) = match schedule.node.get("interval") {
                Some(interval) => (
                    interval.span,
                    format!("{} cannot run this", finding.orchestrator),
                ),
                None => (schedule.name_span, "scheduled here".to_owned()),
            };
            Some(
                Diagnostic::new(
                    &codes::BUILD_CRON_UNSUPPORTED,
                    format!(
                        "schedule `{}` runs `{}`, which {} cannot run: they have no {}",
                        finding.schedule,
                        finding.cron,
                        finding.orchestrator,
                        finding.unsupported.feature
                    ),
                )
                .at(span, label)
                .help(finding.unsupported.instead),
            )
        })
        .collect();
    sort_and_dedup(&mut diagnostics);
    diagnostics
}

/// `--orchestrator`: recorded in the manifest's `annotations.meltc.orchestrator`, where the
/// emitters (and a reader of manifest.json) find it.
pub(super) fn set_orchestrator(manifest: &mut Manifest, owner: &str) {
    let meltc = manifest
        .annotations
        .entry("meltc")
        .or_insert_with(|| json!({}));
    if !meltc.is_object() {
        *meltc = json!({});
    }
    if let Some(meltc) = meltc.as_object_mut() {
        meltc.insert("orchestrator".to_owned(), json!(owner));
    }
}

/// What the emitters need of the project: the requirement locks the manifest names, where the
/// output folder sits in the project, and the project's paths that plugins install from.
pub(super) fn inputs_of(
    root: &Path,
    folder: &Path,
    manifest: &Manifest,
) -> std::io::Result<emit::Inputs> {
    let mut inputs = emit::Inputs {
        folder_in_project: folder_in_project(root, folder),
        ..emit::Inputs::default()
    };
    for lock in manifest
        .plugins
        .iter()
        .filter_map(|plugin| plugin.requirements.as_ref())
    {
        if !inputs.locks.contains_key(&lock.path) {
            let text = crate::project::read_text(&root.join(&lock.path))?;
            inputs.locks.insert(lock.path.clone(), text);
        }
    }
    for catalog in manifest.plugins.iter().filter_map(|p| p.catalog.as_ref()) {
        let text = crate::project::read_text(&root.join(&catalog.file))?;
        inputs.catalogs.insert(catalog.file.clone(), text);
    }
    for plugin in &manifest.plugins {
        let (Some(venv), Some(pip_url)) = (&plugin.venv, &plugin.pip_url) else {
            continue;
        };
        // Paths do not depend on the Python version the pip_url may name.
        let Ok(parsed) = resolve::pip_url::parse(pip_url, "3") else {
            continue; // the docker emitter reports it
        };
        let paths = parsed.paths();
        for path in &paths {
            inputs.project_paths.insert(
                (*path).to_owned(),
                resolve::pip_url::check_path(root, path).map_err(|problem| problem.to_string()),
            );
        }
        if let Some(digest) = crate::compile::requirements::metadata_digest(root, &paths) {
            inputs.metadata.insert(venv.clone(), digest);
        }
    }
    Ok(inputs)
}

/// `folder` relative to the project `root`, `/`-separated, when it is inside it (compared as
/// written, then with links resolved).
fn folder_in_project(root: &Path, folder: &Path) -> Option<String> {
    let relative = |root: &Path, folder: &Path| -> Option<String> {
        let rest = folder.strip_prefix(root).ok()?;
        let parts: Vec<String> = rest
            .components()
            .map(|part| match part {
                std::path::Component::Normal(name) => name.to_str().map(str::to_owned),
                _ => None,
            })
            .collect::<Option<_>>()?;
        (!parts.is_empty()).then(|| parts.join("/"))
    };
    let lexical = |path: &Path| -> PathBuf {
        let mut clean = PathBuf::new();
        for part in path.components() {
            match part {
                std::path::Component::CurDir => {}
                std::path::Component::ParentDir => {
                    clean.pop();
                }
                other => clean.push(other),
            }
        }
        clean
    };
    relative(&lexical(root), &lexical(folder)).or_else(|| {
        // The folder may not exist yet: resolve its nearest existing ancestor.
        let root = root.canonicalize().ok()?;
        let folder = lexical(folder);
        let existing = folder.ancestors().find(|dir| dir.exists())?;
        let rest = folder.strip_prefix(existing).ok()?;
        relative(&root, &existing.canonicalize().ok()?.join(rest))
    })
}

impl Outcome {
    /// Compile errors are findings (exit 1) unless the command could not run at all.
    fn max_findings(self) -> Outcome {
        if self == Outcome::Clean {
            Outcome::Findings
        } else {
            self
        }
    }
}

fn shown(folder: &Path, context: &Context<'_>) -> String {
    shown_path(folder, &context.cwd)
}

fn write(
    folders: &[(PathBuf, Artifacts)],
    format: BuildFormat,
    context: &mut Context<'_>,
) -> Outcome {
    let mut summary = Vec::new();
    for (folder, artifacts) in folders {
        match folder::write(folder, artifacts) {
            Ok(report) => summary.push((shown(folder, context), report)),
            Err(error) => {
                let _ = writeln!(
                    context.stderr,
                    "error: cannot write `{}`: {error}",
                    shown(folder, context)
                );
                return Outcome::Failure;
            }
        }
    }
    let written = match format {
        BuildFormat::Json => {
            let folders: Vec<_> = summary
                .iter()
                .map(|(folder, report)| {
                    json!({
                        "folder": folder,
                        "written": report.written,
                        "unchanged": report.unchanged,
                        "removed": report.removed,
                    })
                })
                .collect();
            let document = json!({ "version": 1, "folders": folders });
            writeln!(context.stdout, "{document:#}")
        }
        BuildFormat::Human => summary.iter().try_for_each(|(folder, report)| {
            writeln!(
                context.stderr,
                "built {folder}/: {} written, {} unchanged, {} removed",
                report.written.len(),
                report.unchanged.len(),
                report.removed.len()
            )
        }),
    };
    if written.is_err() {
        Outcome::Failure
    } else {
        Outcome::Clean
    }
}

fn check(
    folders: &[(PathBuf, Artifacts)],
    format: BuildFormat,
    context: &mut Context<'_>,
) -> Outcome {
    let mut drifted = Vec::new();
    for (folder, artifacts) in folders {
        let shown = shown(folder, context);
        for found in drift::check(folder, &shown, artifacts) {
            drifted.push((shown.clone(), found));
        }
    }
    let written = match format {
        BuildFormat::Json => {
            let files: Vec<_> = drifted
                .iter()
                .map(|(folder, found)| {
                    let change = match found {
                        drift::Drift::Missing { .. } => "missing",
                        drift::Drift::Changed { .. } => "changed",
                        drift::Drift::Stale { .. } => "stale",
                    };
                    json!({ "path": format!("{folder}/{}", found.path()), "change": change })
                })
                .collect();
            let document = json!({ "version": 1, "drift": files });
            writeln!(context.stdout, "{document:#}")
        }
        BuildFormat::Human => human_drift(&drifted, folders.len(), context),
    };
    match (written, drifted.is_empty()) {
        (Err(_), _) => Outcome::Failure,
        (Ok(()), true) => Outcome::Clean,
        (Ok(()), false) => Outcome::Findings,
    }
}

fn human_drift(
    drifted: &[(String, drift::Drift)],
    folders: usize,
    context: &mut Context<'_>,
) -> std::io::Result<()> {
    for (folder, found) in drifted {
        match found {
            drift::Drift::Missing { diff, .. } | drift::Drift::Changed { diff, .. } => {
                context
                    .stdout
                    .write_all(colored_diff(diff, context.style.color).as_bytes())?;
            }
            drift::Drift::Stale { path } => {
                writeln!(
                    context.stdout,
                    "stale: {folder}/{path} (a build removes it)"
                )?;
            }
        }
    }
    context.stdout.flush()?;
    if drifted.is_empty() {
        writeln!(
            context.stderr,
            "no drift: {folders} folder{} up to date",
            if folders == 1 { "" } else { "s" }
        )
    } else {
        writeln!(
            context.stderr,
            "drift: {} file{} differ from meltano.yml; run `meltc build` and commit the result",
            drifted.len(),
            if drifted.len() == 1 { "" } else { "s" }
        )
    }
}

/// A unified diff with added lines green, removed red and hunk headers cyan.
#[must_use]
pub fn colored_diff(diff: &str, color: bool) -> String {
    if !color {
        return diff.to_owned();
    }
    let mut out = String::with_capacity(diff.len() + diff.len() / 8);
    for line in diff.split_inclusive('\n') {
        let code = if line.starts_with("+++") || line.starts_with("---") {
            "1"
        } else if line.starts_with('+') {
            "32"
        } else if line.starts_with('-') {
            "31"
        } else if line.starts_with("@@") {
            "36"
        } else {
            ""
        };
        if code.is_empty() {
            out.push_str(line);
        } else {
            let (text, newline) = line
                .strip_suffix('\n')
                .map_or((line, ""), |text| (text, "\n"));
            out.push_str(&format!("\x1b[{code}m{text}\x1b[0m{newline}"));
        }
    }
    out
}
