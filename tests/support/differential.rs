//! What the differential tests against the real Meltano share (`tests/config_meltano.rs`,
//! `tests/compile_meltano/`): the projects they compare, the process environment both tools
//! run in, the lock files that let Meltano answer without its Hub, `meltc config` run
//! in-process, and a pool that compares two projects at a time.
//!
//! Held-out projects: `MELTC_HELD_OUT=DIR` names a folder holding one folder per project (each
//! with its `meltano.yml`), for the ignored `*_held_out_*` tests, which run the same
//! comparisons on projects this repository has never seen (brought in by hand, never
//! committed).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use meltc::resolve::lock::{self, Plan};
use meltc::resolve::plugin::meltano_lock_path;
use meltc::resolve::{Origin, Resolved};
use serde_json::Value;

use super::MeltanoServer;

/// A project to compare.
pub struct Input {
    /// How reports name it: the corpus folder, `golden/<case>`, or the held-out folder.
    pub name: String,
    /// Its root (read only: the tests work in a copy).
    pub dir: PathBuf,
    /// A golden case's `env` file; `None` for a corpus or held-out project.
    pub env: Option<Vec<(String, String)>>,
    /// Whether its first commands also run through Meltano's real CLI, to prove that the
    /// services the tests call answer as the CLI does ([`selected`] marks every
    /// [`CLI_CHECK_EVERY`]th project).
    pub check_cli: bool,
}

/// One project in this many has its first commands checked against Meltano's real CLI (each
/// CLI command costs as much again as the services' answer, and a failure's traceback more).
pub const CLI_CHECK_EVERY: usize = 3;

/// Every project of the shared corpus, by folder name.
pub fn corpus_inputs() -> Vec<Input> {
    project_folders(&super::shared().join("corpus"))
}

/// Only the inputs whose name contains `MELTC_DIFFERENTIAL_ONLY`, when it is set: to rerun one
/// project while fixing it (the tests' totals then fail: they must not pass on a part).
/// Every [`CLI_CHECK_EVERY`]th of them is marked `check_cli`.
pub fn selected(mut inputs: Vec<Input>) -> Vec<Input> {
    if let Ok(only) = std::env::var("MELTC_DIFFERENTIAL_ONLY") {
        inputs.retain(|input| input.name.contains(&only));
    }
    for (index, input) in inputs.iter_mut().enumerate() {
        input.check_cli = index % CLI_CHECK_EVERY == 0;
    }
    inputs
}

/// The projects under `MELTC_HELD_OUT`, or why there are none.
pub fn held_out_inputs() -> Vec<Input> {
    let dir = std::env::var_os("MELTC_HELD_OUT").map(PathBuf::from).expect(
        "set MELTC_HELD_OUT to a folder of project folders (each with a meltano.yml) to run the held-out comparison",
    );
    let inputs = selected(project_folders(&dir));
    assert!(
        !inputs.is_empty(),
        "no project folder with a meltano.yml under {}",
        dir.display()
    );
    inputs
}

fn project_folders(dir: &Path) -> Vec<Input> {
    let mut inputs: Vec<Input> = fs_err::read_dir(dir)
        .expect("a folder of projects")
        .flatten()
        .filter(|entry| entry.path().join("meltano.yml").is_file())
        .map(|entry| Input {
            name: entry.file_name().to_string_lossy().into_owned(),
            dir: entry.path(),
            env: None,
            check_cli: false,
        })
        .collect();
    inputs.sort_by(|a, b| a.name.cmp(&b.name));
    inputs
}

/// Run `compare` on every input, two at a time, each worker with its own Meltano server; the
/// outcomes by input name.
pub fn each_project<T: Send>(
    inputs: Vec<Input>,
    compare: impl Fn(&Input, &mut MeltanoServer) -> T + Sync,
) -> BTreeMap<String, T> {
    let queue = Mutex::new(inputs);
    let results = Mutex::new(BTreeMap::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                let mut meltano = MeltanoServer::start();
                loop {
                    let Some(input) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let outcome = compare(&input, &mut meltano);
                    results.lock().unwrap().insert(input.name, outcome);
                }
            });
        }
    });
    results.into_inner().unwrap()
}

/// The fixed environment both tools run in (nothing from the test's own environment).
pub fn base_env(temp: &Path) -> BTreeMap<String, String> {
    let home = temp.join("home");
    fs_err::create_dir_all(&home).expect("home");
    [
        ("PATH", "/usr/local/bin:/usr/bin:/bin".to_owned()),
        ("HOME", home.display().to_string()),
        ("LANG", "C.UTF-8".to_owned()),
        ("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false".to_owned()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect()
}

/// Plugins whose definition Meltano could not read without its Hub, after
/// [`lock_for_meltano`]: `type/name` and why.
pub type Unlockable = Vec<String>;

/// Make every plugin of the project at `root` resolvable by Meltano without its Hub (which
/// this machine cannot reach): where the definition meltc uses comes from the bundled hub
/// index, write the lock file `meltano lock` would write (the same bytes, tests/lock.rs) at the
/// path Meltano's run time reads (`<name>--<variant or default>.lock`); where meltc reads a
/// lock file at another path (`<name>.lock`, the hub default variant's name), copy it there.
/// Both tools then read the same definition. What neither can lock (not on the Hub, a
/// pre-2022 files bundle) is returned.
pub fn lock_for_meltano(root: &Path) -> Unlockable {
    let loaded = meltc::project::load(root, "");
    let Some(project) = loaded.project else {
        return vec!["the project does not load".to_owned()];
    };
    let resolved = meltc::resolve::resolve(&project);
    let mut written = BTreeSet::new();
    let mut unlockable = Vec::new();
    for plugin in &resolved.plugins {
        let chain = resolved.chain(plugin);
        let base = chain[chain.len() - 1];
        let target = meltano_lock_path(&project.root, &base.entry);
        if !written.insert(target.clone()) || target.is_file() {
            continue;
        }
        let subject = format!("{}/{}", base.plugin_type.as_str(), base.name);
        match &base.origin {
            Origin::Custom => {}
            Origin::Lock(path) => copy_file(path, &target),
            Origin::Hub { .. } => match hub_lock_text(&resolved, base) {
                Ok(text) => write_file(&target, &text),
                Err(why) => unlockable.push(format!("{subject}: {why}")),
            },
            other => unlockable.push(format!("{subject}: {other:?}")),
        }
    }
    unlockable
}

/// Give every plugin that installs from a path of the project (`pip_url: -e ./tap-x`,
/// `-r ${MELTANO_PROJECT_ROOT}/requirements.txt`) something there to install: the corpus keeps
/// each project's `meltano.yml` files, not the plugin sources committed next to them, and
/// without them `meltc build` stops (`meltc::plugin::local-path-used`) before anything is
/// compared. A path naming a file gets an empty requirements file, any other a folder with a
/// minimal `pyproject.toml`. Neither tool reads their content to compile the project.
pub fn provide_local_paths(root: &Path) {
    let loaded = meltc::project::load(root, "");
    let Some(project) = loaded.project else {
        return;
    };
    for plugin in meltc::project::model::plugins(&project.merged) {
        let Some(written) = plugin
            .entry
            .node
            .get("pip_url")
            .and_then(|node| node.as_str())
        else {
            continue;
        };
        let Ok(parsed) = meltc::resolve::pip_url::parse(written, "3") else {
            continue;
        };
        for path in parsed.paths() {
            if meltc::resolve::pip_url::check_path(&project.root, path)
                != Err(meltc::resolve::pip_url::PathProblem::Missing)
            {
                continue;
            }
            let full = project.root.join(path);
            let is_file = [".txt", ".whl", ".tar.gz", ".zip", ".in"]
                .iter()
                .any(|suffix| path.ends_with(suffix));
            if is_file {
                write_file(&full, "");
            } else {
                write_file(
                    &full.join("pyproject.toml"),
                    "[project]\nname = \"local-plugin\"\nversion = \"0.1.0\"\n",
                );
            }
        }
    }
}

/// The lock file text of a plugin meltc resolves from the bundled hub index.
fn hub_lock_text(
    resolved: &Resolved<'_>,
    plugin: &meltc::resolve::ResolvedPlugin<'_>,
) -> Result<String, String> {
    let is_project_plugin = |plugin_type, name: &str| {
        resolved
            .plugins
            .iter()
            .any(|other| other.plugin_type == plugin_type && other.name == name)
    };
    match lock::plan(&resolved.project.root, &plugin.entry, is_project_plugin) {
        Plan::Lock(locked) => Ok(locked.text),
        other => Err(format!("{other:?}")),
    }
}

fn copy_file(from: &Path, to: &Path) {
    fs_err::create_dir_all(to.parent().expect("a lock file's folder")).expect("plugins folder");
    fs_err::copy(from, to).expect("lock file copied");
}

fn write_file(path: &Path, text: &str) {
    fs_err::create_dir_all(path.parent().expect("a lock file's folder")).expect("plugins folder");
    fs_err::write(path, text).expect("lock file written");
}

/// `meltc config PLUGIN --type TYPE --format json --show-secrets [--env E]`, in-process, with
/// exactly `env` as the process environment: the printed document, or the error it reported.
pub fn meltc_config(
    root: &Path,
    env: &BTreeMap<String, String>,
    plugin_type: &str,
    plugin: &str,
    environment: Option<&str>,
) -> Result<Value, String> {
    let mut args: Vec<String> = [
        "meltc",
        "-C",
        &root.display().to_string(),
        "config",
        plugin,
        "--type",
        plugin_type,
        "--format",
        "json",
        "--show-secrets",
    ]
    .map(str::to_owned)
    .to_vec();
    if let Some(environment) = environment {
        args.extend(["--env".to_owned(), environment.to_owned()]);
    }
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let mut context = meltc::cli::Context {
        cwd: PathBuf::from("/"),
        env_project_root: None,
        env: env.clone(),
        stdout: &mut stdout,
        stderr: &mut stderr,
        style: meltc::diagnostics::render::Style {
            color: false,
            width: 100,
        },
    };
    let outcome = meltc::cli::run_args(args, &mut context).map_err(|error| error.to_string())?;
    if outcome != meltc::cli::Outcome::Clean {
        return Err(String::from_utf8_lossy(&stderr).into_owned());
    }
    serde_json::from_slice(&stdout).map_err(|error| format!("meltc printed no JSON: {error}"))
}

/// The line of a Meltano failure that says what went wrong: the exception line of the
/// traceback (the log line after it only says where to find help).
pub fn meltano_error(stderr: &str) -> String {
    stderr
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty() && !line.contains("Need help fixing this problem"))
        .unwrap_or("failed")
        .trim()
        .to_owned()
}
