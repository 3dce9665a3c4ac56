//! `meltc config` against the real `meltano config print` on every corpus project.
//!
//! For every plugin Meltano can resolve without the Hub (a custom plugin, a chain of project
//! parents ending in one, or a lock file at the path Meltano reads), each mapping of such a
//! mapper (a mapping is a plugin too: `meltano config MAPPING`), and for the base project
//! and every environment, the `config` object of `meltc config PLUGIN --format json
//! --show-secrets [--env E]` must equal `meltano [--environment=E] config --unsafe print
//! PLUGIN`, and its `env` object (the settings' variables) what `meltano config print
//! --format env` prints, both run in a temporary copy of the project with the same environment:
//! some of the project's `${VAR}` references set in the process environment, some in a
//! `.env`, the rest unset, and one setting per plugin set through its env var.
//!
//! Meltano runs through `tests/support/meltano_batch.py` (one Python process per project,
//! Meltano's real CLI entry point per command), two projects at a time. Differences must be
//! listed in [`DEPARTURES`] with their reason (and README "Compatibility"); a listed
//! departure that no longer differs fails the test too, so the list stays true.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use meltc::project::model;
use meltc::resolve::expand::Template;
use meltc::resolve::plugin::meltano_lock_path;
use meltc::resolve::{Origin, Resolved, ResolvedPlugin};
use serde_json::Value;

use crate::support::{shared, tool};

/// Known, deliberate differences: (project, plugin, environment or "", why). See README.
const DEPARTURES: &[(&str, &str, &str, &str)] = &[
    (
        "15-edgarrmondragon-meltano-dogfood",
        "tap-github",
        "",
        RELATIVE_DATE_AND_AGENT,
    ),
    (
        "15-edgarrmondragon-meltano-dogfood",
        "tap-github",
        "dev",
        RELATIVE_DATE_AND_AGENT,
    ),
    (
        "15-edgarrmondragon-meltano-dogfood",
        "tap-github",
        "staging",
        RELATIVE_DATE_AND_AGENT,
    ),
    (
        "15-edgarrmondragon-meltano-dogfood",
        "tap-github",
        "prod",
        RELATIVE_DATE_AND_AGENT,
    ),
    (
        "golden/098-config-inherit-chain",
        "tap-mid",
        "",
        INHERITED_SETTING_CRASH,
    ),
    (
        "golden/098-config-inherit-chain",
        "tap-leaf",
        "",
        INHERITED_SETTING_CRASH,
    ),
    (
        "golden/111-config-env-blocks-expanded",
        "utility-env",
        "",
        ENV_BLOCKS_EXPANDED,
    ),
    (
        "golden/111-config-env-blocks-expanded",
        "utility-env",
        "dev",
        ENV_BLOCKS_EXPANDED,
    ),
];

/// `start_date: 1 month ago` (kind `date_iso8601`): Meltano turns it into a timestamp relative
/// to the moment the command runs; meltc keeps it as written. `user_agent: $MELTANO_USER_AGENT`:
/// `Meltano/4.4.1` there, `meltc/<version>` here.
const RELATIVE_DATE_AND_AGENT: &str =
    "relative date kept as written; MELTANO_USER_AGENT is meltc's";

/// `tap-mid` declares `region`, which its parent `tap-base` does not have: when no store above
/// "inherited" has a value, Meltano's bulk lookup in the parent raises `KeyError: 'region'`;
/// meltc goes on to the default.
const INHERITED_SETTING_CRASH: &str = "Meltano crashes on a setting the parent lacks";

/// `s1: ${ROOT_B}` with project `env: {ROOT_A: root-a, ROOT_B: ${ROOT_A}-b}`: Meltano expands
/// settings against the raw `env:` values (`${ROOT_A}-b`); meltc against the expanded ones
/// (`root-a-b`), as Meltano documents.
const ENV_BLOCKS_EXPANDED: &str = "env: blocks expanded before settings see them";

/// One comparison: a plugin in an environment (or none).
#[derive(Clone, Debug)]
struct Case {
    plugin_type: String,
    plugin: String,
    environment: Option<String>,
}

impl Case {
    /// `meltano config print` for the config object and for the env vars (`--format env`).
    fn meltano_args(&self) -> [Vec<String>; 2] {
        let mut args = Vec::new();
        if let Some(environment) = &self.environment {
            args.push(format!("--environment={environment}"));
        }
        args.extend(
            [
                "config",
                "--unsafe",
                "print",
                "--plugin-type",
                &self.plugin_type,
                &self.plugin,
            ]
            .map(str::to_owned),
        );
        let mut env = args.clone();
        env.push("--format=env".to_owned());
        [args, env]
    }

    fn label(&self, project: &str) -> String {
        format!(
            "{project} {} {}",
            self.plugin,
            self.environment.as_deref().unwrap_or("(no environment)")
        )
    }
}

/// What one project contributes.
#[derive(Default)]
struct Outcome {
    compared: Vec<String>,
    both_failed: Vec<String>,
    skipped: Vec<String>,
    differences: Vec<(String, String, String, String)>,
    environments: usize,
}

/// A project to compare: a corpus project (test variables generated) or the project of a
/// `meltc config` golden case (its own `env` file).
struct Input {
    name: String,
    dir: PathBuf,
    env: Option<Vec<(String, String)>>,
}

fn inputs() -> Vec<Input> {
    let corpus = shared().join("corpus");
    let mut inputs: Vec<Input> = fs_err::read_dir(&corpus)
        .expect("corpus")
        .flatten()
        .filter(|entry| entry.path().join("meltano.yml").is_file())
        .map(|entry| Input {
            name: entry.file_name().to_string_lossy().into_owned(),
            dir: entry.path(),
            env: None,
        })
        .collect();
    let golden = crate::support::repo().join("golden");
    for entry in fs_err::read_dir(&golden).expect("golden").flatten() {
        let args = fs_err::read_to_string(entry.path().join("args")).unwrap_or_default();
        if args.lines().next() == Some("config") {
            inputs.push(Input {
                name: format!("golden/{}", entry.file_name().to_string_lossy()),
                dir: entry.path().join("project"),
                env: Some(crate::support::case_env(&entry.path())),
            });
        }
    }
    // `MELTC_CONFIG_INPUTS=180` compares only the inputs whose name contains it.
    if let Ok(only) = std::env::var("MELTC_CONFIG_INPUTS") {
        inputs.retain(|input| input.name.contains(&only));
    }
    inputs.sort_by(|a, b| a.name.cmp(&b.name));
    inputs
}

#[test]
fn meltc_config_matches_meltano_config_print() {
    let meltano = tool("meltano");
    let python = fs_err::canonicalize(&meltano)
        .expect("meltano resolves")
        .parent()
        .expect("venv bin")
        .join("python");
    let driver = crate::support::repo().join("tests/support/meltano_batch.py");
    let inputs = inputs();
    let names: Vec<String> = inputs.iter().map(|input| input.name.clone()).collect();
    let queue = Mutex::new(inputs);
    let results = Mutex::new(BTreeMap::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let Some(input) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let outcome = compare_project(&input, &python, &driver);
                    results.lock().unwrap().insert(input.name, outcome);
                }
            });
        }
    });
    let results = results.into_inner().unwrap();
    report(&names, &results);
}

fn report(projects: &[String], results: &BTreeMap<String, Outcome>) {
    let mut differences = Vec::new();
    let mut summary = String::new();
    let (mut compared, mut failed, mut skipped, mut environments) = (0, 0, 0, 0);
    for (project, outcome) in results {
        compared += outcome.compared.len();
        failed += outcome.both_failed.len();
        skipped += outcome.skipped.len();
        environments += outcome.environments;
        for skip in &outcome.skipped {
            summary.push_str(&format!("  skipped {project} {skip}\n"));
        }
        for failure in &outcome.both_failed {
            summary.push_str(&format!("  both fail: {failure}\n"));
        }
        differences.extend(outcome.differences.iter().cloned());
    }
    println!(
        "meltc config vs meltano config print: {} projects, {compared} comparisons ({failed} where both fail), {environments} environments, {skipped} plugins skipped\n{summary}",
        projects.len()
    );
    let listed: BTreeSet<(&str, &str, &str)> =
        DEPARTURES.iter().map(|(p, n, e, _)| (*p, *n, *e)).collect();
    let found: BTreeSet<(&str, &str, &str)> = differences
        .iter()
        .map(|(p, n, e, _)| (p.as_str(), n.as_str(), e.as_str()))
        .collect();
    let unexpected: Vec<String> = differences
        .iter()
        .filter(|(p, n, e, _)| !listed.contains(&(p.as_str(), n.as_str(), e.as_str())))
        .map(|(p, n, e, detail)| format!("{p} {n} [{e}]:\n{detail}"))
        .collect();
    let stale: Vec<_> = listed
        .difference(&found)
        .filter(|(project, _, _)| results.contains_key(*project))
        .collect();
    assert!(
        compared >= 700 || std::env::var_os("MELTC_CONFIG_INPUTS").is_some(),
        "only {compared} comparisons: did the corpus shrink?"
    );
    assert!(
        unexpected.is_empty() && stale.is_empty(),
        "differences with Meltano (fix them, or list them in DEPARTURES with a reason):\n{}\nlisted departures that no longer differ: {stale:?}",
        unexpected.join("\n")
    );
}

/// Compare every offline plugin of one project in the base project and each environment.
fn compare_project(input: &Input, python: &Path, driver: &Path) -> Outcome {
    let name = input.name.as_str();
    let temp = tempfile::tempdir().expect("temp dir");
    let root = temp.path().join("project");
    copy_dir(&input.dir, &root);
    let loaded = meltc::project::load(&root, "");
    let project = loaded.project.expect("corpus projects load");
    let resolved = meltc::resolve::resolve(&project);
    let mut outcome = Outcome::default();
    let environments: Vec<String> = model::environments(&project.merged)
        .iter()
        .map(|environment| environment.name.to_owned())
        .collect();
    outcome.environments = environments.len();
    let plugins = offline_plugins(&resolved, &project.root, &mut outcome.skipped);
    let mut env = base_env(temp.path());
    match &input.env {
        Some(case_env) => env.extend(case_env.iter().cloned()),
        None => {
            let (process_env, dotenv) = variables(&project, &plugins);
            let dotenv_text: String = dotenv
                .iter()
                .map(|(key, value)| format!("{key}={value}\n"))
                .collect();
            fs_err::write(root.join(".env"), dotenv_text).expect(".env");
            env.extend(process_env);
        }
    }
    let cases: Vec<Case> = plugins
        .iter()
        .flat_map(|plugin| {
            std::iter::once(None)
                .chain(environments.iter().cloned().map(Some))
                .map(|environment| Case {
                    plugin_type: plugin.plugin_type.as_str().to_owned(),
                    plugin: plugin.block_name().to_owned(),
                    environment,
                })
        })
        .collect();
    // Meltano rewrites a meltano.yml without `project_id` on its first command, and ruamel's
    // dump changes its timestamps: give it one, so every command reads what meltc reads.
    let file = root.join("meltano.yml");
    let text = fs_err::read_to_string(&file).expect("meltano.yml");
    if !text.lines().any(|line| line.starts_with("project_id:")) {
        fs_err::write(&file, format!("project_id: meltc-config-test\n{text}")).expect("write");
    }
    let argv: Vec<Vec<String>> = cases.iter().flat_map(Case::meltano_args).collect();
    let printed = run_meltano(&root, &env, &argv, python, driver);
    let meltano = printed.chunks(2).map(|pair| match pair {
        [Ok(config), Ok(Value::String(env))] => Ok(serde_json::json!({
            "config": config,
            "env": parse_meltano_env(env),
        })),
        // With no variable to write, `--format env` reads back a `.env` it never created.
        [Ok(config), Err(error)] if error.starts_with("FileNotFoundError") => {
            Ok(serde_json::json!({"config": config, "env": {}}))
        }
        [Err(error), _] | [_, Err(error)] => Err(error.clone()),
        _ => Err("unexpected output".to_owned()),
    });
    for (case, theirs) in cases.iter().zip(meltano) {
        let ours = run_meltc(&root, &env, case);
        let label = case.label(name);
        match (ours, theirs) {
            (Ok(ours), Ok(theirs)) if ours == theirs => outcome.compared.push(label),
            (Err(ours), Err(theirs)) => {
                let ours = ours
                    .lines()
                    .find(|line| line.contains('×'))
                    .unwrap_or(&ours)
                    .trim();
                outcome.compared.push(label.clone());
                outcome.both_failed.push(format!(
                    "{label}\n      meltano: {theirs}\n      meltc:   {ours}"
                ));
            }
            (ours, theirs) => {
                outcome.compared.push(label);
                outcome.differences.push((
                    name.to_owned(),
                    case.plugin.clone(),
                    case.environment.clone().unwrap_or_default(),
                    describe(&ours, &theirs),
                ));
            }
        }
    }
    outcome
}

fn describe(ours: &Result<Value, String>, theirs: &Result<Value, String>) -> String {
    let show = |result: &Result<Value, String>| match result {
        Ok(value) => serde_json::to_string_pretty(&sorted(value)).unwrap_or_default() + "\n",
        Err(message) => format!("failed: {message}"),
    };
    crate::support::diff(&show(theirs), &show(ours))
        .replace("expected", "meltano")
        .replace("actual", "meltc")
}

/// The value with object keys sorted, for a readable diff.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sorted(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Plugins Meltano resolves without the Hub; the others are listed in `skipped`.
fn offline_plugins<'r, 'p>(
    resolved: &'r Resolved<'p>,
    root: &Path,
    skipped: &mut Vec<String>,
) -> Vec<&'r ResolvedPlugin<'p>> {
    let mut seen = BTreeSet::new();
    let mut plugins = Vec::new();
    for plugin in &resolved.plugins {
        if !seen.insert((plugin.plugin_type, plugin.name.clone())) {
            continue; // a duplicate name: Meltano uses the first
        }
        let chain = resolved.chain(plugin);
        let base = chain[chain.len() - 1];
        let offline = match &base.origin {
            Origin::Custom => true,
            Origin::Lock(path) => *path == meltano_lock_path(root, &base.entry),
            _ => false,
        };
        if offline {
            plugins.push(plugin);
            // A mapping is a plugin too (`meltano config MAPPING`): the mapper's definition.
            plugins.extend(resolved.mappings_of(plugin));
        } else {
            skipped.push(format!(
                "{} ({}): Meltano needs the Hub (no {})",
                plugin.name,
                plugin.plugin_type,
                meltc::project::slash_path(
                    meltano_lock_path(root, &base.entry)
                        .strip_prefix(root)
                        .unwrap_or(root)
                )
            ));
        }
    }
    plugins
}

/// Test values: every third `${VAR}` of the project in the process environment, every third
/// in `.env`, the rest unset; and the first plain setting of each plugin through its env var
/// (alternately process and `.env`). Values are digits so that integer settings cast, or an
/// ISO date for a variable named `*DATE*` (Meltano resolves other text in a date setting as a
/// relative date, against the current time).
fn variables(
    project: &meltc::project::Project,
    plugins: &[&ResolvedPlugin<'_>],
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut names = BTreeSet::new();
    collect_references(&project.merged, &mut names);
    let mut process = BTreeMap::new();
    let mut dotenv = BTreeMap::new();
    for (index, name) in names
        .iter()
        .filter(|n| !n.starts_with("MELTANO_"))
        .enumerate()
    {
        let value = if name.contains("DATE") {
            format!("2020-01-{:02}", 1 + index % 28)
        } else {
            format!("{}", 1000 + index)
        };
        match index % 3 {
            0 => process.insert(name.clone(), value),
            1 => dotenv.insert(name.clone(), value),
            _ => None,
        };
    }
    for (index, plugin) in plugins.iter().enumerate() {
        // A setting none of whose variables is set yet (two set would be an error).
        let Some(setting) = plugin.settings.iter().find(|setting| {
            let free = setting
                .env_vars_read(&plugin.read_prefixes, !plugin.inherits())
                .iter()
                .all(|var| !process.contains_key(&var.name) && !dotenv.contains_key(&var.name));
            free && matches!(
                setting.kind,
                None | Some(
                    meltc::resolve::SettingKind::String | meltc::resolve::SettingKind::Integer
                )
            )
        }) else {
            continue;
        };
        let variable = meltc::resolve::settings::to_env_var(&plugin.name, &setting.name);
        let value = format!("{}", 2000 + index);
        if index % 2 == 0 {
            process.insert(variable, value);
        } else {
            dotenv.insert(variable, value);
        }
    }
    (process, dotenv)
}

fn collect_references(node: &meltc::yaml::Node, names: &mut BTreeSet<String>) {
    match &node.value {
        meltc::yaml::Value::String(text) => {
            names.extend(Template::parse(text).references().map(str::to_owned));
        }
        meltc::yaml::Value::Sequence(items) => {
            items
                .iter()
                .for_each(|item| collect_references(item, names));
        }
        meltc::yaml::Value::Mapping(mapping) => mapping
            .values()
            .for_each(|(_, value)| collect_references(value, names)),
        _ => {}
    }
}

/// The fixed environment both tools run in.
fn base_env(temp: &Path) -> BTreeMap<String, String> {
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

/// Every command through Meltano: the printed JSON (or, for `--format env`, the text as a
/// JSON string), or why it failed.
fn run_meltano(
    root: &Path,
    env: &BTreeMap<String, String>,
    argv: &[Vec<String>],
    python: &Path,
    driver: &Path,
) -> Vec<Result<Value, String>> {
    if argv.is_empty() {
        return Vec::new();
    }
    let input = serde_json::to_string(argv).expect("argv JSON");
    let mut child = Command::new(python)
        .arg(driver)
        .current_dir(root)
        .env_clear()
        .envs(env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input.as_bytes()).expect("argv written");
    }
    let output = child.wait_with_output().expect("driver finishes");
    let results: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "the meltano batch driver failed ({error}) in {}:\n{}",
            root.display(),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    results
        .into_iter()
        .map(|result| {
            let stdout = result["stdout"].as_str().unwrap_or_default();
            if result["code"] != 0 {
                let stderr = result["stderr"].as_str().unwrap_or_default();
                // The exception line of the traceback (the log line after it only says where
                // to find help).
                let last = stderr.lines().rev().find(|line| {
                    !line.trim().is_empty() && !line.contains("Need help fixing this problem")
                });
                return Err(last.unwrap_or("failed").trim().to_owned());
            }
            let is_env = result["argv"]
                .as_array()
                .is_some_and(|argv| argv.iter().any(|arg| arg == "--format=env"));
            if is_env {
                return Ok(Value::String(stdout.to_owned()));
            }
            serde_json::from_str(stdout).map_err(|error| format!("not JSON ({error}): {stdout}"))
        })
        .collect()
}

/// `meltano config print --format env` output: python-dotenv's `set_key` lines,
/// `NAME='value'` with `\\` and `\'` escaped (a value may span lines).
pub(crate) fn parse_meltano_env(text: &str) -> Value {
    let mut vars = serde_json::Map::new();
    let mut rest = text;
    while let Some((name, after)) = rest.split_once("='") {
        let name = name.trim_start();
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((index, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, next)) = chars.next() {
                        value.push(next);
                    }
                }
                '\'' => {
                    end = index + 1;
                    break;
                }
                other => value.push(other),
            }
        }
        vars.insert(name.to_owned(), Value::String(value));
        rest = &after[end..];
    }
    Value::Object(vars)
}

/// `meltc config` in-process with the same environment; its `config` object.
fn run_meltc(root: &Path, env: &BTreeMap<String, String>, case: &Case) -> Result<Value, String> {
    let mut args: Vec<String> = [
        "meltc",
        "-C",
        &root.display().to_string(),
        "config",
        &case.plugin,
        "--type",
        &case.plugin_type,
        "--format",
        "json",
        "--show-secrets",
    ]
    .map(str::to_owned)
    .to_vec();
    if let Some(environment) = &case.environment {
        args.extend(["--env".to_owned(), environment.clone()]);
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
    let document: Value = serde_json::from_slice(&stdout)
        .map_err(|error| format!("meltc printed no JSON: {error}"))?;
    // `meltano config print --format env` writes the settings' variables, not the extras'.
    let written: BTreeSet<&str> = document["settings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|setting| setting["extra"] == false)
        .flat_map(|setting| setting["env_written"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    let env: serde_json::Map<String, Value> = document["env"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(name, _)| written.contains(name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    Ok(serde_json::json!({"config": document["config"], "env": env}))
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from).into_iter().flatten() {
        let relative = entry.path().strip_prefix(from).expect("below the root");
        let target = to.join(relative);
        if entry.file_type().is_dir() {
            fs_err::create_dir_all(&target).expect("dir");
        } else if entry.file_type().is_file() {
            fs_err::copy(entry.path(), &target).expect("copy");
        }
    }
}
