//! `meltc config` against the real `meltano config print` on every corpus project.
//!
//! Meltano's Hub is out of reach here, so the temporary copy of each project first gets the
//! lock files Meltano reads instead (`support::differential::lock_for_meltano`: the bytes
//! `meltano lock` writes, from meltc's bundled hub index): every plugin either tool can
//! resolve is compared, and each mapping of a mapper (a mapping is a plugin too: `meltano
//! config MAPPING`). For each, in the base project and every environment, the `config` object
//! of `meltc config PLUGIN --format json
//! --show-secrets [--env E]` must equal `meltano [--environment=E] config --unsafe print
//! PLUGIN`, and its `env` object (the settings' variables) what `meltano config print
//! --format env` prints, both run in a temporary copy of the project with the same environment:
//! some of the project's `${VAR}` references set in the process environment, some in a
//! `.env`, the rest unset, and one setting per plugin set through its env var.
//!
//! Meltano answers through `tests/support/meltano_batch.py --serve` (`support::MeltanoServer`:
//! one Python process per worker, two workers, each command answered by the Meltano services
//! `meltano config print` uses; in every third project the first commands also through the
//! real CLI, which must print the same: README "Running Meltano fast enough for CI"). Differences must be
//! listed in [`DEPARTURES`] with their reason (and README "Compatibility"); a listed
//! departure that no longer differs fails the test too, so the list stays true.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use meltc::meltano::template::Template;
use meltc::project::model;
use meltc::resolve::plugin::meltano_lock_path;
use meltc::resolve::{Origin, Resolved, ResolvedPlugin};
use serde_json::Value;

use crate::support::differential::{self, Input};
use crate::support::{MeltanoServer, Via, copy_tree};

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
    /// Commands run through both Meltano's CLI and its services.
    checked: usize,
    /// Where the CLI and the services disagree.
    mismatches: Vec<String>,
}

/// In a project marked `check_cli`, the commands also run through Meltano's real CLI, to prove
/// the services answer as it does: the first plugin's JSON and env output without an
/// environment and in the first environment (or the second plugin's).
const CHECKED_COMMANDS: usize = 4;

/// Every corpus project, and the project of every `meltc config` golden case (its own `env`
/// file).
fn inputs() -> Vec<Input> {
    let mut inputs = differential::corpus_inputs();
    let golden = crate::support::repo().join("golden");
    for entry in fs_err::read_dir(&golden).expect("golden").flatten() {
        let args = fs_err::read_to_string(entry.path().join("args")).unwrap_or_default();
        if args.lines().next() == Some("config") {
            inputs.push(Input {
                name: format!("golden/{}", entry.file_name().to_string_lossy()),
                dir: entry.path().join("project"),
                env: Some(crate::support::case_env(&entry.path())),
                check_cli: false,
            });
        }
    }
    // `MELTC_CONFIG_INPUTS=180` compares only the inputs whose name contains it.
    if let Ok(only) = std::env::var("MELTC_CONFIG_INPUTS") {
        inputs.retain(|input| input.name.contains(&only));
    }
    inputs.sort_by(|a, b| a.name.cmp(&b.name));
    differential::selected(inputs)
}

#[test]
fn shared_corpus_config_matches_meltano_config_print() {
    let inputs = inputs();
    let names: Vec<String> = inputs.iter().map(|input| input.name.clone()).collect();
    let results = differential::each_project(inputs, compare_project);
    let differences = report(&names, &results);
    assert!(
        results
            .values()
            .map(|outcome| outcome.compared.len())
            .sum::<usize>()
            >= 700
            || std::env::var_os("MELTC_CONFIG_INPUTS").is_some(),
        "too few comparisons: did the corpus shrink?"
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
        unexpected.is_empty() && stale.is_empty(),
        "differences with Meltano (fix them, or list them in DEPARTURES with a reason):\n{}\nlisted departures that no longer differ: {stale:?}",
        unexpected.join("\n")
    );
}

/// The same comparison on the projects under `MELTC_HELD_OUT` (never committed): prints what
/// it compared and every difference, and fails on any.
#[test]
#[ignore = "needs MELTC_HELD_OUT: a folder of projects that are not in this repository"]
fn meltc_config_matches_meltano_config_print_on_held_out_projects() {
    let inputs = differential::held_out_inputs();
    let names: Vec<String> = inputs.iter().map(|input| input.name.clone()).collect();
    let results = differential::each_project(inputs, compare_project);
    let differences = report(&names, &results);
    let shown: Vec<String> = differences
        .iter()
        .map(|(p, n, e, detail)| format!("{p} {n} [{e}]:\n{detail}"))
        .collect();
    assert!(shown.is_empty(), "{}", shown.join("\n"));
}

/// Print what was compared; every difference found: (project, plugin, environment, diff).
fn report(
    projects: &[String],
    results: &BTreeMap<String, Outcome>,
) -> Vec<(String, String, String, String)> {
    let mut differences = Vec::new();
    let mut summary = String::new();
    let (mut compared, mut failed, mut skipped, mut environments) = (0, 0, 0, 0);
    let mut checked = 0;
    for (project, outcome) in results {
        compared += outcome.compared.len();
        checked += outcome.checked;
        // The services answering differently from Meltano's CLI: the comparison is void.
        differences.extend(outcome.mismatches.iter().map(|mismatch| {
            (
                project.clone(),
                "(Meltano's services against its CLI)".to_owned(),
                String::new(),
                mismatch.clone(),
            )
        }));
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
        "meltc config vs meltano config print: {} projects, {compared} comparisons ({failed} where both fail), {} differ, {environments} environments, {skipped} plugins skipped; {checked} of Meltano's answers also through its CLI\n{summary}",
        projects.len(),
        differences.len(),
    );
    differences
}

/// Compare every offline plugin of one project in the base project and each environment.
fn compare_project(input: &Input, meltano: &mut MeltanoServer) -> Outcome {
    let name = input.name.as_str();
    let temp = tempfile::tempdir().expect("temp dir");
    let root = temp.path().join("project");
    copy_tree(&input.dir, &root);
    let mut outcome = Outcome::default();
    for unlockable in differential::lock_for_meltano(&root) {
        outcome.skipped.push(format!(
            "{unlockable}: neither tool can resolve it without the Hub"
        ));
    }
    let loaded = meltc::project::load(&root, "");
    let Some(project) = loaded.project else {
        outcome.differences.push((
            name.to_owned(),
            String::new(),
            String::new(),
            "meltc cannot load the project".to_owned(),
        ));
        return outcome;
    };
    let resolved = meltc::resolve::resolve(&project);
    let environments: Vec<String> = model::environments(&project.merged)
        .iter()
        .map(|environment| environment.name.to_owned())
        .collect();
    outcome.environments = environments.len();
    let plugins = offline_plugins(&resolved, &project.root, &mut outcome.skipped);
    let mut env = differential::base_env(temp.path());
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
    let checked = if input.check_cli {
        argv.len().min(CHECKED_COMMANDS)
    } else {
        0
    };
    outcome.checked = checked;
    let printed = run_meltano(
        meltano,
        &root,
        &env,
        &argv,
        checked,
        &mut outcome.mismatches,
    );
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
                    meltc::meltano::SettingKind::String | meltc::meltano::SettingKind::Integer
                )
            )
        }) else {
            continue;
        };
        let variable = meltc::meltano::env_var::to_env_var(&plugin.name, &setting.name);
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

/// Every command through Meltano's services (`support::MeltanoServer`): the printed JSON (or,
/// for `--format env`, the text as a JSON string), or why it failed. The first `checked` also
/// run through the real CLI: a difference between the two is pushed to `mismatches`.
fn run_meltano(
    meltano: &mut MeltanoServer,
    root: &Path,
    env: &BTreeMap<String, String>,
    argv: &[Vec<String>],
    checked: usize,
    mismatches: &mut Vec<String>,
) -> Vec<Result<Value, String>> {
    if argv.is_empty() {
        return Vec::new();
    }
    let requests: Vec<(Via, Vec<String>)> = argv
        .iter()
        .enumerate()
        .map(|(index, argv)| {
            let via = if index < checked {
                Via::Both
            } else {
                Via::Services
            };
            (via, argv.clone())
        })
        .collect();
    meltano
        .run(root, env, &requests)
        .into_iter()
        .zip(argv)
        .map(|(result, argv)| {
            if let Some(mismatch) = &result.mismatch {
                mismatches.push(format!("meltano {}: {mismatch}", argv.join(" ")));
            }
            if result.code != 0 {
                return Err(differential::meltano_error(&result.stderr));
            }
            if argv.iter().any(|arg| arg == "--format=env") {
                return Ok(Value::String(result.stdout));
            }
            serde_json::from_str(&result.stdout)
                .map_err(|error| format!("not JSON ({error}): {}", result.stdout))
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

/// `meltc config` in-process with the same environment: its `config` object and the settings'
/// variables (`env`).
fn run_meltc(root: &Path, env: &BTreeMap<String, String>, case: &Case) -> Result<Value, String> {
    let document = differential::meltc_config(
        root,
        env,
        &case.plugin_type,
        &case.plugin,
        case.environment.as_deref(),
    )?;
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
