//! `meltc catalog --env E [--check] [EXTRACTOR...]`: pin each extractor's discovered catalog
//! in the project's `catalogs/` folder (`crate::runtime::pinned_catalog`), or with `--check`
//! say which streams and columns changed upstream since.
//!
//! Discovery is meltc-run's own (`Runtime::discover_to_pin`): the environment compiled as
//! `meltc build` compiles it, the plugin's variables from this process, its config file in a
//! private folder, the same program. Nothing is written unless every extractor discovered.
//!
//! Where a catalog goes: the environment's own file when it has one; else the shared
//! `catalogs/<extractor>.json` when there is none yet or it was discovered with the same
//! settings (the same key: an upstream change to take in); else, for settings that differ from
//! the shared file's (another database), `catalogs/<extractor>.<env>.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::args::CatalogArgs;
use super::one_environment::compile_one;
use super::{Context, Outcome};
use crate::meltano::PluginType;
use crate::runtime::interrupt::Interrupts;
use crate::runtime::log::{LogFormat, Logger};
use crate::runtime::pinned_catalog::{self, FOLDER, Pinned};
use crate::runtime::prepare::split_literals;
use crate::runtime::run::Runtime;

/// Run `meltc catalog`.
pub fn run(project_root: Option<&Path>, args: &CatalogArgs, context: &mut Context<'_>) -> Outcome {
    let (project, compiled) = match compile_one(project_root, args.environment.as_deref(), context)
    {
        Ok(compiled) => compiled,
        Err(outcome) => return outcome,
    };
    let manifest = compiled.manifest;
    let environment = compiled.environment.as_deref();
    let extractors: Vec<&str> = manifest
        .plugins
        .iter()
        .filter(|plugin| plugin.plugin_type == PluginType::Extractors)
        .map(|plugin| plugin.name.as_str())
        .collect();
    for wanted in &args.extractors {
        if !extractors.contains(&wanted.as_str()) {
            let _ = writeln!(
                context.stderr,
                "error: the environment has no extractor `{wanted}`; its extractors: {}",
                extractors.join(", ")
            );
            return Outcome::Failure;
        }
    }
    let chosen: Vec<&str> = if args.extractors.is_empty() {
        extractors
    } else {
        args.extractors.iter().map(String::as_str).collect()
    };

    let (process, literals) = split_literals(&manifest, context.env.clone());
    let (logger, log) = Logger::in_memory(LogFormat::Text);
    let interrupts = Interrupts::none();
    let runtime = Runtime {
        manifest: &manifest,
        process,
        literals,
        project_root: project.root.clone(),
        plugins_dir: args.plugins_dir.clone(),
        catalogs_dir: None,
        logger: &logger,
        interrupts: &interrupts,
    };
    let mut discovered = Vec::new();
    let mut failed = false;
    for name in chosen {
        match runtime.discover_to_pin(name) {
            Ok(Some(pinned)) => discovered.push((name, pinned)),
            Ok(None) => {
                let _ = writeln!(
                    context.stdout,
                    "{name}: not discovered (it takes no catalog, or has its own `catalog:` file)"
                );
            }
            Err(error) => {
                let _ = writeln!(context.stderr, "error: {error}");
                failed = true;
            }
        }
    }
    let _ = context.stderr.write_all(log.text().as_bytes());
    if failed {
        let _ = writeln!(context.stderr, "nothing was written");
        return Outcome::Failure;
    }
    if args.check {
        check(&project.root, environment, &discovered, context)
    } else {
        match write(&project.root, environment, &discovered, context) {
            Ok(()) => Outcome::Clean,
            Err(error) => {
                let _ = writeln!(context.stderr, "error: {error}");
                Outcome::Failure
            }
        }
    }
}

/// Where `extractor`'s catalog discovered with `pinned.key` goes (module docs), and whether
/// that file already holds exactly it.
fn destination(
    root: &Path,
    extractor: &str,
    environment: Option<&str>,
    pinned: &Pinned,
) -> Result<(PathBuf, bool), String> {
    let folder = root.join(FOLDER);
    let shared = folder.join(format!("{extractor}.json"));
    let own = environment.map(|environment| folder.join(format!("{extractor}.{environment}.json")));
    let read = |path: &Path| -> Result<Option<Pinned>, String> {
        if !path.is_file() {
            return Ok(None);
        }
        let text = fs_err::read_to_string(path).map_err(|error| error.to_string())?;
        Pinned::parse(&text)
            .map(Some)
            .map_err(|error| pinned_catalog::located(path, &error))
    };
    if let Some(own) = own.filter(|own| own.is_file()) {
        let same = read(&own)?.as_ref() == Some(pinned);
        return Ok((own, same));
    }
    match read(&shared)? {
        None => Ok((shared, false)),
        Some(existing) if existing.key == pinned.key => {
            let same = &existing == pinned;
            Ok((shared, same))
        }
        Some(_) => Ok((
            environment.map_or(shared, |environment| {
                folder.join(format!("{extractor}.{environment}.json"))
            }),
            false,
        )),
    }
}

fn write(
    root: &Path,
    environment: Option<&str>,
    discovered: &[(&str, Pinned)],
    context: &mut Context<'_>,
) -> Result<(), String> {
    // Every destination first, so that a bad existing file writes nothing.
    let mut plan = BTreeMap::new();
    for (name, pinned) in discovered {
        let (path, same) = destination(root, name, environment, pinned)?;
        plan.insert(*name, (path, same, pinned));
    }
    fs_err::create_dir_all(root.join(FOLDER)).map_err(|error| error.to_string())?;
    for (name, (path, same, pinned)) in plan {
        let streams = pinned
            .catalog
            .get("streams")
            .and_then(serde_json::Value::as_array)
            .map_or(0, Vec::len);
        let shown = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        if same {
            let _ = writeln!(
                context.stdout,
                "{name}: {streams} streams, {shown} unchanged"
            );
            continue;
        }
        crate::atomic_file::write(&path, &pinned.to_text()).map_err(|error| error.to_string())?;
        let _ = writeln!(
            context.stdout,
            "{name}: {streams} streams written to {shown}"
        );
    }
    Ok(())
}

fn check(
    root: &Path,
    environment: Option<&str>,
    discovered: &[(&str, Pinned)],
    context: &mut Context<'_>,
) -> Outcome {
    let mut outcome = Outcome::Clean;
    for (name, fresh) in discovered {
        let pinned = match pinned_catalog::load(&root.join(FOLDER), name, environment) {
            Ok(Some((path, pinned))) => (path, pinned),
            Ok(None) => {
                let _ = writeln!(
                    context.stdout,
                    "{name}: no pinned catalog in {FOLDER}/; run `meltc catalog`"
                );
                outcome = Outcome::Findings;
                continue;
            }
            Err(error) => {
                let _ = writeln!(context.stderr, "error: {error}");
                return Outcome::Failure;
            }
        };
        let (path, pinned) = pinned;
        let shown = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        let changes = pinned_catalog::changes(&pinned.catalog, &fresh.catalog);
        if changes.is_empty() && pinned.key == fresh.key {
            let _ = writeln!(context.stdout, "{name}: {shown} is current");
            continue;
        }
        outcome = Outcome::Findings;
        for change in &changes {
            let _ = writeln!(context.stdout, "{name}: {shown}: {change}");
        }
        if pinned.key != fresh.key {
            let _ = writeln!(
                context.stdout,
                "{name}: {shown}: discovered with other settings than this environment's (a run would discover)"
            );
        } else if changes.is_empty() {
            let _ = writeln!(context.stdout, "{name}: {shown}: the catalog changed");
        }
    }
    if outcome == Outcome::Findings {
        let _ = writeln!(
            context.stdout,
            "the pinned catalogs are out of date: run `meltc catalog{}` and review the diff",
            environment.map_or_else(String::new, |e| format!(" --env {e}"))
        );
    }
    outcome
}
