//! `meltc build` against the real `meltano compile`, on every corpus project and environment.
//!
//! For each project (a temporary copy, with the lock files Meltano needs to answer without its
//! Hub, `support::differential::lock_for_meltano`), Meltano compiles every environment, or the
//! project without one when it has none (`meltano [--environment=E | --no-environment]
//! compile --unsafe`, answered by the services that command uses through
//! `tests/support/meltano_batch.py --serve`, one Python process per worker, two workers; in
//! every third project the first environment also through the real CLI, which must write the
//! same manifest) and meltc builds the same (`meltc build --all-envs
//! --allow-ephemeral-state`). Then, per environment:
//!
//! 1. [`shape`]: the jobs (their blocks), the schedules (job or legacy extractor/loader,
//!    interval, `env`) and the plugins (which exist, and of each: namespace, pip_url,
//!    executable, variant, capabilities, commands, the `config` and extras written in the
//!    project, mappings): what runs, and with what.
//! 2. [`env_vars`]: each plugin's settings as environment variables, which `meltano compile`
//!    computes with Meltano's run-time machinery (`PluginSettingsService.as_env`), against
//!    `meltc config`'s in the same process environment.
//!
//! `meltano compile` differs from Meltano's run time in known ways (README "`meltc build` and
//! `meltano compile`"), and meltc follows the run time; each difference must be recognised as
//! one of those [`Departure`]s, which [`DEPARTURES`] lists per project (README "Compatibility
//! with Meltano"). A difference no departure explains fails the test, and so does a listed
//! departure that no longer occurs.

mod env_vars;
mod example;
mod shape;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::support::differential::{self, Input};
use crate::support::{MeltanoServer, Via, copy_tree};

/// Why `meltano compile` and `meltc build` may differ: each is Meltano's compile departing
/// from Meltano's run time, which meltc follows, or a documented choice of meltc.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Departure {
    /// Compile deep-merges each plugin's lock file over its meltano.yml entry: the lock's
    /// scalars win (`pip_url`, `namespace`) and its lists are appended (`capabilities`,
    /// `select`), also for a custom plugin whose run time never reads that file
    /// (`core/manifest/manifest.py` `_merge_plugin_lockfiles`). At run time the project's
    /// values win and a custom plugin is its own definition.
    LockMerged,
    /// Compile appends an environment's list to the base list; at run time it replaces it.
    EnvironmentListAppended,
    /// Compile lists a plugin the run time does not have: an environment's entry for a plugin
    /// that does not exist, or the Hub parent of an `inherit_from` (its lock data merged under
    /// the parent's name).
    PhantomPlugin,
    /// Compile keys plugins by name, and each mapping of a mapper is a plugin of the mapper's
    /// name (`core/meltano_file.py` `get_plugins_for_mappings`), so the mapper's `env` holds
    /// its mappings' settings; the mapper itself never runs.
    MapperCarriesMappings,
    /// `MELTANO_USER_AGENT` is `meltc/<version>`, not `Meltano/<version>`.
    UserAgent,
    /// A setting defaulting to one of Meltano's own project settings (`$MELTANO_DATABASE_URI`):
    /// meltc does not model project settings as variables (README "Not modelled").
    ProjectSettingVariable,
    /// meltc refuses up front what Meltano's run time fails on when the job runs (a job naming
    /// a missing plugin, a task with two spaces, a schedule naming a missing job, a plugin
    /// installed from a path outside the project, which the image cannot carry), or a cron
    /// expression the orchestrator that owns the schedules cannot run (`L` on Kubernetes);
    /// compile, which never runs or schedules anything, accepts it.
    StricterBuild,
    /// `meltano compile` crashes where the run time does not (an environment's plugin entry
    /// with no `config`, `plugins:` left empty).
    CompileCrash,
    /// Compile casts every setting of every plugin and stops at the first value Meltano
    /// cannot cast (a lock file's default that is not one of its options); the run time fails
    /// only when that plugin runs, and so does `meltc config` (tests/config_meltano.rs
    /// compares that failure).
    UncastableValue,
    /// A files bundle is not in meltc's manifest: it is never run (`FilePlugin.is_invokable` is
    /// false in `core/plugin/file.py`); its files are written into the project when it is
    /// added.
    FilesBundleNotRun,
    /// A secret setting written literally in meltano.yml (`password: postgres`) is not in
    /// meltc's manifest: it is a key of the Kubernetes Secret (`secret_literal`), which
    /// meltc-run passes to the plugin at run time, the value Meltano's run time passes
    /// (README "Secrets").
    SecretLiteralInSecret,
    /// A plugin that is neither on the Hub nor in a lock file (a pre-2022 files bundle, a
    /// name only a private Hub knows): compile needs every plugin's definition and stops;
    /// Meltano's run time and meltc only need the plugins a job uses.
    NotOnHub,
}

use Departure::{
    CompileCrash, EnvironmentListAppended, FilesBundleNotRun, LockMerged, MapperCarriesMappings,
    NotOnHub, PhantomPlugin, ProjectSettingVariable, SecretLiteralInSecret, StricterBuild,
    UncastableValue, UserAgent,
};

/// The departures each corpus project shows (README "Compatibility with Meltano").
const DEPARTURES: &[(&str, &[Departure])] = &[
    (
        "01-meltano-squared",
        &[
            EnvironmentListAppended,
            LockMerged,
            MapperCarriesMappings,
            PhantomPlugin,
            SecretLiteralInSecret,
        ],
    ),
    (
        "02-meltano-meltano",
        &[
            EnvironmentListAppended,
            LockMerged,
            MapperCarriesMappings,
            PhantomPlugin,
            SecretLiteralInSecret,
        ],
    ),
    ("03-meltano-meltano-multifile", &[NotOnHub, StricterBuild]),
    ("04-meltano-demo-project", &[NotOnHub]),
    (
        "09-MeltanoLabs-target-postgres",
        &[LockMerged, SecretLiteralInSecret],
    ),
    (
        "10-MeltanoLabs-meltano-map-transform",
        &[LockMerged, MapperCarriesMappings],
    ),
    ("13-DouweM-pixbyt", &[LockMerged]),
    (
        "15-edgarrmondragon-meltano-dogfood",
        &[LockMerged, UserAgent],
    ),
    ("16-reservoir-data-tap-npm", &[LockMerged]),
    ("18-quantile-development-dagster-meltano", &[StricterBuild]),
    ("19-quantile-development-dagster-ext", &[StricterBuild]),
    ("21-JulesHuisman-geospatial-integration", &[LockMerged]),
    (
        "22-Matatika-example-salesforce-sensitive-data",
        &[UncastableValue],
    ),
    ("24-MatatikaBytes-5X-Sandbox-cuisrqm", &[FilesBundleNotRun]),
    (
        "25-MatatikaBytes-Meltano-jyiczzd",
        &[FilesBundleNotRun, ProjectSettingVariable],
    ),
    (
        "27-GaloyMoney-lana-bank",
        &[LockMerged, SecretLiteralInSecret],
    ),
    ("33-radbrt-prefect-warehouse", &[NotOnHub]),
    ("34-orchestra-hq-orchestra-blueprints", &[LockMerged]),
    ("39-AutoIDM-prodder_public", &[CompileCrash, LockMerged]),
    ("40-andrewcstewart-ds4fnp", &[LockMerged]),
    ("46-archdotdev-tap-adp", &[SecretLiteralInSecret]),
    ("48-pnadolny13-meltano_example_implementations", &[NotOnHub]),
    ("58-voxmedia-tap-elasticsearch", &[CompileCrash]),
    ("63-ajdoyl2-freelancer-data-stack", &[LockMerged]),
];

/// Leaf paths of a config object (lists are leaves, as Meltano's settings store sees them).
pub fn leaves(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, item) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                leaves(&path, item, out);
            }
        }
        Value::Object(_) => {}
        other => {
            out.insert(prefix.to_owned(), other.clone());
        }
    }
}

/// One way the two outputs differ.
#[derive(Debug)]
pub struct Finding {
    /// What differs (`extractors/tap-x capabilities`, `jobs`).
    pub what: String,
    /// Meltano's side.
    pub theirs: String,
    /// meltc's side.
    pub ours: String,
    /// The departure that explains it, if one does.
    pub departure: Option<Departure>,
}

impl Finding {
    fn new(
        what: impl Into<String>,
        theirs: impl std::fmt::Debug,
        ours: impl std::fmt::Debug,
    ) -> Self {
        Self {
            what: what.into(),
            theirs: short(&format!("{theirs:?}")),
            ours: short(&format!("{ours:?}")),
            departure: None,
        }
    }

    fn because(mut self, departure: Option<Departure>) -> Self {
        self.departure = departure;
        self
    }
}

fn short(text: &str) -> String {
    if text.chars().count() > 400 {
        format!("{}…", text.chars().take(400).collect::<String>())
    } else {
        text.to_owned()
    }
}

/// What one project contributed.
#[derive(Default)]
pub struct Tally {
    /// Units compared: an environment's jobs, its schedules, each plugin's facts and each
    /// plugin's variables, and each environment Meltano or meltc could not produce.
    pub compared: usize,
    /// Units with no difference at all.
    pub agreed: usize,
    /// Departures seen, with how many findings each explains.
    pub departures: BTreeMap<Departure, usize>,
    /// Findings no departure explains.
    pub unexplained: Vec<String>,
    /// Environments compared (the project without one counts as one).
    pub environments: usize,
    /// Environments Meltano compiled through its CLI as well as its services.
    pub checked: usize,
}

impl Tally {
    /// Record one unit and its findings.
    pub fn unit(&mut self, label: &str, findings: Vec<Finding>) {
        self.compared += 1;
        if findings.is_empty() {
            self.agreed += 1;
        }
        for finding in findings {
            match finding.departure {
                Some(departure) => *self.departures.entry(departure).or_default() += 1,
                None => self.unexplained.push(format!(
                    "{label}: {}\n      meltano compile: {}\n      meltc:           {}",
                    finding.what, finding.theirs, finding.ours
                )),
            }
        }
    }
}

#[test]
fn shared_corpus_builds_agree_with_meltano_compile() {
    let inputs = differential::selected(differential::corpus_inputs());
    let projects = inputs.len();
    let results = differential::each_project(inputs, compare_project);
    let summary = summarise(projects, &results);
    println!("{summary}");
    let listed: BTreeSet<(&str, Departure)> = DEPARTURES
        .iter()
        .flat_map(|(project, kinds)| kinds.iter().map(move |kind| (*project, *kind)))
        .collect();
    let found: BTreeSet<(&str, Departure)> = results
        .iter()
        .flat_map(|(project, tally)| {
            tally
                .departures
                .keys()
                .map(move |kind| (project.as_str(), *kind))
        })
        .collect();
    let unexplained: Vec<&String> = results
        .values()
        .flat_map(|tally| &tally.unexplained)
        .collect();
    let compared: usize = results.values().map(|tally| tally.compared).sum();
    // Every problem at once: one run of this slow test shows everything to fix.
    let mut problems = Vec::new();
    if compared <= 1300 {
        problems.push(format!(
            "only {compared} comparisons: did the corpus shrink?"
        ));
    }
    if !unexplained.is_empty() {
        problems.push(format!(
            "differences no departure explains (fix them, or add a departure with Meltano's run-time behaviour as its reason):\n{}",
            unexplained
                .iter()
                .map(|line| line.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    let unlisted: Vec<_> = found.difference(&listed).collect();
    if !unlisted.is_empty() {
        problems.push(format!(
            "departures seen but not listed in DEPARTURES: {unlisted:?}"
        ));
    }
    let stale: Vec<_> = listed.difference(&found).collect();
    if !stale.is_empty() {
        problems.push(format!("listed departures that no longer occur: {stale:?}"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The same comparison on the projects under `MELTC_HELD_OUT` (never committed): prints what
/// it compared and fails on any difference no departure explains.
#[test]
#[ignore = "needs MELTC_HELD_OUT: a folder of projects that are not in this repository"]
fn build_agrees_with_meltano_compile_on_held_out_projects() {
    let inputs = differential::held_out_inputs();
    let projects = inputs.len();
    let results = differential::each_project(inputs, compare_project);
    println!("{}", summarise(projects, &results));
    let unexplained: Vec<String> = results
        .iter()
        .flat_map(|(project, tally)| {
            tally
                .unexplained
                .iter()
                .map(move |line| format!("{project} {line}"))
        })
        .collect();
    assert!(unexplained.is_empty(), "{}", unexplained.join("\n"));
}

fn summarise(projects: usize, results: &BTreeMap<String, Tally>) -> String {
    let compared: usize = results.values().map(|tally| tally.compared).sum();
    let agreed: usize = results.values().map(|tally| tally.agreed).sum();
    let environments: usize = results.values().map(|tally| tally.environments).sum();
    let checked: usize = results.values().map(|tally| tally.checked).sum();
    let mut departures: BTreeMap<Departure, (usize, usize)> = BTreeMap::new();
    for tally in results.values() {
        for (kind, count) in &tally.departures {
            let entry = departures.entry(*kind).or_default();
            entry.0 += 1;
            entry.1 += count;
        }
    }
    let mut text = format!(
        "meltc build vs meltano compile: {projects} projects, {environments} environments, {compared} comparisons, {agreed} equal; {checked} environments also compiled through Meltano's CLI\n"
    );
    for (kind, (in_projects, findings)) in departures {
        text.push_str(&format!(
            "  {kind:?}: {findings} differences in {in_projects} projects\n"
        ));
    }
    for (project, tally) in results {
        if !tally.departures.is_empty() {
            let kinds: Vec<_> = tally.departures.keys().collect();
            text.push_str(&format!("  {project}: {kinds:?}\n"));
        }
        for line in &tally.unexplained {
            text.push_str(&format!("  UNEXPLAINED {project} {line}\n"));
        }
    }
    text
}

/// Build codes meltc gives for what Meltano only fails on when the job runs.
const STRICT_CODES: &[&str] = &[
    "meltc::ref::unknown-plugin",
    "meltc::ref::unknown-job",
    "meltc::job::empty-task",
    "meltc::job::mapper-name",
    "meltc::plugin::unresolved-used",
    "meltc::build::cron-unsupported",
    "meltc::plugin::local-path-used",
];

fn compare_project(input: &Input, meltano: &mut MeltanoServer) -> Tally {
    let mut tally = Tally::default();
    let temp = tempfile::tempdir().expect("temp dir");
    let root = temp.path().join("project");
    copy_tree(&input.dir, &root);
    differential::provide_local_paths(&root);
    let unlockable = differential::lock_for_meltano(&root);
    let env = differential::base_env(temp.path());
    let loaded = meltc::project::load(&root, "");
    let Some(project) = loaded.project else {
        tally.unit(
            "load",
            vec![Finding::new("meltc cannot load the project", "", "")],
        );
        return tally;
    };
    // Each environment, or the project without one when it has none (as `--all-envs` builds
    // it; tests/config_meltano.rs compares every plugin without an environment too).
    let mut environments: Vec<Option<String>> =
        meltc::project::model::environments(&project.merged)
            .iter()
            .map(|environment| Some(environment.name.to_owned()))
            .collect();
    if environments.is_empty() {
        environments.push(None);
    }
    tally.environments = environments.len();
    let compiled = temp.path().join("compiled");
    let argv: Vec<Vec<String>> = environments
        .iter()
        .enumerate()
        .map(|(index, environment)| {
            vec![
                environment.as_ref().map_or_else(
                    || "--no-environment".to_owned(),
                    |name| format!("--environment={name}"),
                ),
                "compile".to_owned(),
                "--directory".to_owned(),
                compiled.join(index.to_string()).display().to_string(),
                "--unsafe".to_owned(),
            ]
        })
        .collect();
    // In a project marked `check_cli`, the first environment also through Meltano's real CLI:
    // the services must compile it the same (tests/support/meltano_batch.py).
    let requests: Vec<(Via, Vec<String>)> = argv
        .into_iter()
        .enumerate()
        .map(|(index, argv)| {
            let via = if index == 0 && input.check_cli {
                Via::Both
            } else {
                Via::Services
            };
            (via, argv)
        })
        .collect();
    let printed = meltano.run(&root, &env, &requests);
    tally.checked = usize::from(input.check_cli && !requests.is_empty());
    for (run, (_, argv)) in printed.iter().zip(&requests) {
        if let Some(mismatch) = &run.mismatch {
            tally.unexplained.push(format!(
                "Meltano's services do not compile as its CLI (meltano {}): {mismatch}",
                argv.join(" ")
            ));
        }
    }
    // Inside the project: a project whose plugins install from its own folders is built
    // into an image from the project root, and meltc writes its output there (Meltano has
    // compiled by now).
    let built = root.join("meltc-build");
    let build = build(&root, &built);
    if let Err(stderr) = &build {
        let codes = error_codes(stderr);
        let strict = !codes.is_empty() && codes.iter().all(|code| STRICT_CODES.contains(code));
        tally.unit(
            "meltc build",
            vec![
                Finding::new("meltc build fails", "compiles", codes)
                    .because(strict.then_some(StricterBuild)),
            ],
        );
    }
    let resolved = meltc::resolve::resolve(&project);
    for ((index, environment), run) in environments.iter().enumerate().zip(&printed) {
        let label = environment.as_deref().unwrap_or("(no environment)");
        if run.code != 0 {
            let error = differential::meltano_error(&run.stderr);
            let departure = if error.contains("Could not connect to Meltano Hub")
                && !unlockable.is_empty()
            {
                Some(NotOnHub)
            } else if ["KeyError", "TypeError", "AttributeError"]
                .iter()
                .any(|crash| error.starts_with(crash))
            {
                Some(CompileCrash)
            } else if error.starts_with("ValueError:") && error.contains("is not a valid choice") {
                Some(UncastableValue)
            } else {
                None
            };
            tally.unit(
                label,
                vec![Finding::new("meltano compile fails", error, &unlockable).because(departure)],
            );
            continue;
        }
        let file = match environment {
            Some(name) => format!("meltano-manifest.{name}.json"),
            None => "meltano-manifest.json".to_owned(),
        };
        let theirs: Value = serde_json::from_str(
            &fs_err::read_to_string(compiled.join(index.to_string()).join(file))
                .expect("meltano wrote its manifest"),
        )
        .expect("meltano's manifest is JSON");
        let ours = our_manifest(&resolved, &built, environment.as_deref(), build.is_ok());
        let Some(ours) = ours else { continue };
        if build.is_ok() {
            shape::compare(&root, label, &theirs, &ours, &mut tally);
        }
        env_vars::compare(
            &root,
            &env,
            environment.as_deref(),
            &theirs,
            &ours,
            &mut tally,
        );
    }
    tally
}

/// The codes of the errors (not warnings) in a rendered report: a code's line, then its
/// message with `×`.
fn error_codes(report: &str) -> BTreeSet<&str> {
    let lines: Vec<&str> = report
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    lines
        .windows(2)
        .filter(|pair| pair[0].starts_with("meltc::") && pair[1].contains('×'))
        .map(|pair| pair[0].trim())
        .collect()
}

/// `meltc build --all-envs --allow-ephemeral-state --out OUT`, in-process: its stderr when it
/// fails.
fn build(root: &Path, out: &Path) -> Result<(), String> {
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let mut context = meltc::cli::Context {
        cwd: root.to_path_buf(),
        env_project_root: None,
        env: BTreeMap::new(),
        stdout: &mut stdout,
        stderr: &mut stderr,
        style: meltc::diagnostics::render::Style {
            color: false,
            width: 100,
        },
    };
    let args = [
        "meltc".to_owned(),
        "-C".to_owned(),
        root.display().to_string(),
        "build".to_owned(),
        "--all-envs".to_owned(),
        "--allow-ephemeral-state".to_owned(),
        "--out".to_owned(),
        out.display().to_string(),
    ];
    match meltc::cli::run_args(args, &mut context) {
        Ok(meltc::cli::Outcome::Clean) => Ok(()),
        _ => Err(String::from_utf8_lossy(&stderr).into_owned()),
    }
}

/// meltc's manifest of `environment`: the one `meltc build` wrote or, when the build failed,
/// the one compile gives in-process (for the plugins' `env:` blocks).
fn our_manifest(
    resolved: &meltc::resolve::Resolved<'_>,
    built: &Path,
    environment: Option<&str>,
    build_ok: bool,
) -> Option<meltc::manifest::Manifest> {
    let folder = built.join(environment.unwrap_or("_no_environment"));
    if build_ok {
        let text = fs_err::read_to_string(folder.join("manifest.json")).expect("manifest");
        return Some(serde_json::from_str(&text).expect("meltc's manifest reads back"));
    }
    let options = meltc::compile::Options {
        allow_ephemeral_state: true,
    };
    meltc::compile::compile(resolved, environment, &options).ok()
}
