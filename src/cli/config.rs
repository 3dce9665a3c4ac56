//! `meltc config PLUGIN`: the plugin's effective configuration in this shell.
//!
//! 1. open the project (load errors stop here, as in `validate`);
//! 2. pick the environment: `--env`, else `MELTANO_ENVIRONMENT` from the process, else from
//!    `.env` (`null` in any case means none); never `default_environment` (Meltano's
//!    `meltano config` is `environment_optional_ignore_default`, `cli/config.py`);
//! 3. find the plugin (did-you-mean when it does not exist);
//! 4. evaluate every setting with the process environment and `.env` (`resolve::config`);
//! 5. print it as a table, JSON or `NAME=value` lines, secrets redacted unless asked.
//!
//! Values of secret settings never reach stderr: error messages name settings and sources,
//! never values.

use std::path::Path;

use super::args::{ConfigArgs, ConfigFormat};
use super::config_output as output;
use super::open::{Opened, open, unknown_environment};
use super::{Context, Outcome};
use crate::diagnostics::render;
use crate::diagnostics::{Diagnostic, SourceMap, codes, sort_and_dedup, suggest};
use crate::meltano::PluginType;
use crate::meltano::env_layers::USER_AGENT;
use crate::meltano::setting_value::{ConfigError, Source};
use crate::project::Project;
use crate::project::model::{self, Named};
use crate::resolve::config::{Scope, evaluate};
use crate::resolve::shell::Shell;
use crate::resolve::{Resolved, ResolvedPlugin, resolve};

/// Run `meltc config`.
pub fn run(project_root: Option<&Path>, args: &ConfigArgs, context: &mut Context<'_>) -> Outcome {
    let (project, sources, diagnostics) = match open(project_root, context) {
        Opened::Project(project, sources, diagnostics) => (project, sources, diagnostics),
        Opened::Failed(sources, diagnostics) => return report(&sources, diagnostics, context),
    };
    if diagnostics.iter().any(Diagnostic::is_error) {
        return report(&sources, diagnostics, context);
    }
    let shell = match read_shell(&project, context) {
        Ok(shell) => shell,
        Err(diagnostic) => return report(&sources, vec![*diagnostic], context),
    };
    let environment = match select_environment(&project, args, &shell) {
        Ok(environment) => environment,
        Err(diagnostic) => return report(&sources, vec![*diagnostic], context),
    };
    let resolved = resolve(&project);
    let plugin = match find_plugin(&resolved, args) {
        Ok(plugin) => plugin,
        Err(diagnostic) => return report(&sources, vec![*diagnostic], context),
    };
    if let Some(diagnostic) = invalid_lock(&project, plugin) {
        // Meltano fails on the file too: showing defaults in its place would mislead.
        return report(&sources, vec![diagnostic], context);
    }
    let mut notes = Vec::new();
    if !plugin.resolved {
        notes.push(unresolved_warning(plugin));
    }
    let scope = Scope {
        resolved: &resolved,
        environment,
        shell: &shell,
        user_agent: USER_AGENT,
    };
    let config = match evaluate(&scope, plugin) {
        Ok(config) => config,
        Err(errors) => {
            notes.extend(errors.iter().map(|error| config_error(plugin, error)));
            return report(&sources, notes, context);
        }
    };
    let view = output::View {
        resolved: &resolved,
        plugin,
        environment: environment.map(|environment| environment.name),
        config: &config,
        show_secrets: args.show_secrets,
        sources: &sources,
    };
    let text = match args.format {
        ConfigFormat::Table => output::table(&view),
        ConfigFormat::Json => output::json(&view),
        ConfigFormat::Env => output::env(&view),
    };
    if !notes.is_empty() {
        report(&sources, notes, context);
    }
    match context.stdout.write_all(text.as_bytes()) {
        Ok(()) => Outcome::Clean,
        Err(_) => Outcome::Failure,
    }
}

/// Print diagnostics on stderr and classify them.
fn report(
    sources: &SourceMap,
    mut diagnostics: Vec<Diagnostic>,
    context: &mut Context<'_>,
) -> Outcome {
    sort_and_dedup(&mut diagnostics);
    let text = render::human(&diagnostics, sources, context.style);
    let _ = context.stderr.write_all(text.as_bytes());
    Outcome::of(&diagnostics, false)
}

/// The process environment and the project's `.env` (`MELTANO_ENV_FILE` is not read: Meltano
/// takes another file only from `--env-file`).
fn read_shell(project: &Project, context: &Context<'_>) -> Result<Shell, Box<Diagnostic>> {
    let path = project.root.join(".env");
    let text = match crate::project::read_text(&path) {
        Ok(text) => Some(text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => {
            return Err(Box::new(
                Diagnostic::new(&codes::IO, format!("cannot read `.env`: {error}"))
                    .help("make `.env` readable or remove it"),
            ));
        }
    };
    Ok(Shell::new(context.env.clone(), text.as_deref()))
}

/// The environment Meltano's `config` command would use.
fn select_environment<'p>(
    project: &'p Project,
    args: &ConfigArgs,
    shell: &Shell,
) -> Result<Option<Named<'p>>, Box<Diagnostic>> {
    let (wanted, origin) = match (&args.environment, shell.process.get("MELTANO_ENVIRONMENT")) {
        (Some(name), _) => (name.clone(), format!("--env {name}")),
        (None, Some(name)) if !name.is_empty() => {
            (name.clone(), format!("MELTANO_ENVIRONMENT={name}"))
        }
        _ => match shell.dotenv.get("MELTANO_ENVIRONMENT") {
            Some(name) if !name.is_empty() => {
                (name.clone(), format!("MELTANO_ENVIRONMENT={name} (.env)"))
            }
            _ => return Ok(None),
        },
    };
    if wanted.eq_ignore_ascii_case("null") {
        return Ok(None);
    }
    let environments = model::environments(&project.merged);
    if let Some(found) = environments
        .iter()
        .find(|environment| environment.name == wanted)
    {
        return Ok(Some(*found));
    }
    let names: Vec<String> = environments.iter().map(|e| e.name.to_owned()).collect();
    Err(Box::new(unknown_environment(&wanted, &origin, &names)))
}

/// The plugin or mapping named on the command line, as Meltano's `find_plugin` finds it.
fn find_plugin<'r, 'p>(
    resolved: &'r Resolved<'p>,
    args: &ConfigArgs,
) -> Result<&'r ResolvedPlugin<'p>, Box<Diagnostic>> {
    let plugin_type = match &args.plugin_type {
        Some(text) => Some(parse_type(text).ok_or_else(|| {
            Box::new(
                Diagnostic::new(
                    &codes::UNKNOWN_PLUGIN_ARGUMENT,
                    format!("`--type {text}` is not a plugin type"),
                )
                .help(format!(
                    "the types are {}",
                    PluginType::ALL.map(PluginType::as_str).join(", ")
                )),
            )
        })?),
        None => None,
    };
    let found = resolved
        .find_plugin(&args.plugin, plugin_type)
        .map_err(|error| {
            Box::new(
                Diagnostic::new(&codes::UNKNOWN_PLUGIN_ARGUMENT, error.to_string())
                    .help("rename one of the mappings: Meltano refuses the name too (`AmbiguousMappingName`)"),
            )
        })?;
    found.ok_or_else(|| {
        let candidates = resolved
            .plugins
            .iter()
            .filter(|plugin| plugin_type.is_none_or(|wanted| plugin.plugin_type == wanted))
            .chain(&resolved.mappings)
            .map(ResolvedPlugin::block_name);
        let names: Vec<&str> = candidates.clone().collect();
        Box::new(
            Diagnostic::new(
                &codes::UNKNOWN_PLUGIN_ARGUMENT,
                format!("the project has no plugin `{}`", args.plugin),
            )
            .maybe_help(suggest::help_line(&args.plugin, candidates).or_else(|| {
                Some(if names.is_empty() {
                    "the project defines no plugins".to_owned()
                } else {
                    let noun = if resolved.mappings.is_empty() {
                        "plugins"
                    } else {
                        "plugins and mappings"
                    };
                    format!("its {noun} are {}", names.join(", "))
                })
            })),
        )
    })
}

/// `extractor`, `extractors`, `Extractors`...
fn parse_type(text: &str) -> Option<PluginType> {
    let lower = text.to_lowercase();
    PluginType::ALL
        .into_iter()
        .find(|kind| kind.as_str() == lower || kind.singular() == lower)
}

fn invalid_lock(project: &Project, plugin: &ResolvedPlugin<'_>) -> Option<Diagnostic> {
    let crate::resolve::Origin::InvalidLock(path, error) = &plugin.origin else {
        return None;
    };
    let root = format!("{}/", project.root.display());
    Some(
        Diagnostic::new(
            &codes::PLUGIN_LOCK_INVALID,
            format!(
                "the lock file of `{}` cannot be used: {}",
                plugin.name,
                error.replace(&root, "")
            ),
        )
        .at(
            plugin.entry.entry.name_span,
            format!(
                "defined by `{}`",
                path.display().to_string().replace(&root, "")
            ),
        )
        .help("regenerate it with `meltc lock --update` (or restore it from git)"),
    )
}

fn unresolved_warning(plugin: &ResolvedPlugin<'_>) -> Diagnostic {
    Diagnostic::new(
        &codes::PLUGIN_UNRESOLVED,
        format!(
            "`{}` has no definition meltc can find: only the settings written for it are shown, without kinds or defaults",
            plugin.name
        ),
    )
    .at(plugin.entry.entry.name_span, "definition not found")
    .help("`meltc validate` says why; Meltano would fetch the definition from the Hub")
}

/// A setting Meltano would fail on, located when the value is written in a file.
fn config_error(plugin: &ResolvedPlugin<'_>, error: &ConfigError) -> Diagnostic {
    let message = match plugin.mapping {
        Some(mapping) => format!("`{}` (mapping of `{}`): {error}", mapping.name, plugin.name),
        None => format!("`{}`: {error}", plugin.name),
    };
    match error {
        ConfigError::SeveralEnvVars { .. } => {
            Diagnostic::new(&codes::CONFIG_SEVERAL_ENV_VARS, message)
                .help("unset all but one of them; Meltano refuses this too")
        }
        // Only meltc-run reads a Secret key; listed for completeness.
        ConfigError::SecretNotJson { .. } => Diagnostic::new(&codes::CONFIG_INVALID_VALUE, message),
        ConfigError::Conflicting { .. } => Diagnostic::new(&codes::CONFIG_INVALID_VALUE, message)
            .at(plugin.entry.entry.name_span, "written under several names")
            .help("write the setting under one name"),
        ConfigError::Cast { origin, .. } => {
            let diagnostic = Diagnostic::new(&codes::CONFIG_INVALID_VALUE, message);
            match written_span(origin) {
                Some(span) => diagnostic.at(span, "this value"),
                None => diagnostic.help(format!(
                    "the value comes from {}",
                    output::source_text(origin, None, "definition")
                )),
            }
        }
    }
}

fn written_span(source: &Source) -> Option<crate::diagnostics::Span> {
    match source {
        Source::MeltanoYml(span) | Source::Environment(_, span) => *span,
        Source::Inherited(_, inner) | Source::Assembled(inner) => written_span(inner),
        _ => None,
    }
}
