//! The manifest's plugins: each resolved plugin with its settings' values chosen for the
//! environment (as written, `${VAR}` kept), its `env:` blocks, commands and mappings (each a
//! plugin of its own, with its own settings' values: `resolve::mapping`).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::diagnostics::{Diagnostic, codes};
use crate::manifest::{self, EnvBlock, EnvMap, EnvValue, Mapping};
use crate::meltano::PluginType;
use crate::meltano::setting_value::{ConfigError, Source};
use crate::project::model::Named;
use crate::resolve::config::{self, WrittenValue};
use crate::resolve::plugin_env::environment_entry;
use crate::resolve::{Origin, Resolved, ResolvedPlugin};
use crate::yaml::Node;

/// Every plugin the environment can run. Left out: plugins meltc cannot resolve (validation
/// warns, and errors when a job needs one), file bundles (scaffolding, never run) and a
/// second plugin of the same type and name (Meltano's run time uses the first).
///
/// # Errors
/// A setting written under several names with different values.
pub fn plugins(
    resolved: &Resolved<'_>,
    environment: Option<Named<'_>>,
) -> Result<Vec<manifest::Plugin>, Vec<Diagnostic>> {
    let mut seen = BTreeSet::new();
    let mut plugins = Vec::new();
    let mut errors = Vec::new();
    for plugin in &resolved.plugins {
        if !plugin.resolved
            || plugin.plugin_type == PluginType::Files
            || !seen.insert((plugin.plugin_type, plugin.name.as_str()))
        {
            continue;
        }
        let mut failed = Vec::new();
        let mut mappings = Vec::new();
        for mapping in resolved.mappings_of(plugin) {
            match compile_mapping(resolved, environment, mapping) {
                Ok(compiled) => mappings.push(compiled),
                Err(problems) => failed.extend(problems),
            }
        }
        match config::written_values(resolved, environment, plugin) {
            Ok(values) if failed.is_empty() => {
                let mut compiled = compile_plugin(resolved, environment, plugin, values);
                compiled.mappings = mappings;
                plugins.push(compiled);
            }
            Ok(_) => errors.extend(failed),
            Err(problems) => errors.extend(
                problems
                    .into_iter()
                    .map(|problem| config_error(plugin, &problem))
                    .chain(failed),
            ),
        }
    }
    if errors.is_empty() {
        Ok(plugins)
    } else {
        Err(errors)
    }
}

fn config_error(plugin: &ResolvedPlugin<'_>, problem: &ConfigError) -> Diagnostic {
    let (noun, span) = match plugin.mapping {
        Some(mapping) => ("mapping", mapping.name_span),
        None => (plugin.plugin_type.singular(), plugin.entry.entry.name_span),
    };
    Diagnostic::new(
        &codes::CONFIG_INVALID_VALUE,
        format!("{noun} `{}`: {problem}", plugin.block_name()),
    )
    .at(span, format!("in this {noun}"))
}

/// A mapping with its settings' values chosen as for any plugin: the mapping plugin's own
/// (`resolve::mapping`), in this environment.
fn compile_mapping(
    resolved: &Resolved<'_>,
    environment: Option<Named<'_>>,
    mapping: &ResolvedPlugin<'_>,
) -> Result<Mapping, Vec<Diagnostic>> {
    let values = config::written_values(resolved, environment, mapping).map_err(|problems| {
        problems
            .iter()
            .map(|problem| config_error(mapping, problem))
            .collect::<Vec<_>>()
    })?;
    let (extras, settings): (Vec<_>, Vec<_>) = values
        .into_iter()
        .map(setting)
        .partition(|setting| setting.name.starts_with('_'));
    let entry = mapping.mapping.map(|named| named.node);
    Ok(Mapping {
        name: mapping.block_name().to_owned(),
        config: object(entry.and_then(|node| node.get("config"))),
        settings,
        extras,
    })
}

fn compile_plugin(
    resolved: &Resolved<'_>,
    environment: Option<Named<'_>>,
    plugin: &ResolvedPlugin<'_>,
    values: Vec<WrittenValue>,
) -> manifest::Plugin {
    let (extras, settings): (Vec<_>, Vec<_>) = values
        .into_iter()
        .map(setting)
        .partition(|setting| setting.name.starts_with('_'));
    // A legacy `transforms:` plugin's pip_url is a dbt package (a git URL), never a Python
    // requirement: Meltano's `install_dbt_plugin` (core/plugin/dbt/base.py) only writes it into
    // `transform/packages.yml` when the plugin is added, and `DbtTransformPlugin.is_invokable`
    // is false, so nothing installs or runs it. It gets no virtualenv, so no image step.
    let venv = plugin
        .pip_url
        .as_ref()
        .filter(|_| plugin.plugin_type != PluginType::Transforms)
        .map(|_| format!("{}/{}", plugin.plugin_type, venv_name(resolved, plugin)));
    manifest::Plugin {
        plugin_type: plugin.plugin_type,
        class: plugin.class,
        name: plugin.name.clone(),
        namespace: plugin.namespace.clone(),
        variant: plugin
            .variant
            .clone()
            .unwrap_or_else(|| "default".to_owned()),
        inherit_from: plugin.entry.inherit_from().map(str::to_owned),
        definition: definition(resolved, plugin),
        pip_url: plugin.pip_url.clone(),
        python: plugin.python.clone(),
        requirements: venv
            .as_deref()
            .and_then(|venv| super::requirements::find(&resolved.project.root, venv)),
        venv,
        executable: plugin.executable.clone(),
        capabilities: plugin.capabilities.clone(),
        read_prefixes: plugin.read_prefixes.clone(),
        write_prefixes: plugin.write_prefixes.clone(),
        read_env_aliases: !plugin.inherits(),
        settings,
        extras,
        env: env_blocks(resolved, environment, plugin),
        commands: plugin
            .commands
            .iter()
            .map(|(name, command)| {
                (
                    name.clone(),
                    manifest::Command {
                        args: command.args.clone(),
                        executable: command.executable.clone(),
                        description: command.description.clone(),
                    },
                )
            })
            .collect(),
        mappings: Vec::new(), // compiled by the caller
        annotations: object(plugin.entry.entry.node.get("annotations")),
        catalog: None, // the pinned catalog is read by the command (`cli::streams`)
    }
}

fn setting(written: WrittenValue) -> manifest::Setting {
    let definition = &written.setting;
    let mut references: Vec<String> = Vec::new();
    if let Some(value) = &written.value {
        for name in value.references() {
            if !references.iter().any(|known| known == name) {
                references.push(name.to_owned());
            }
        }
    }
    manifest::Setting {
        name: definition.name.clone(),
        aliases: definition.aliases.clone(),
        kind: definition.kind,
        sensitive: definition.sensitive,
        options: definition.options.clone(),
        env: definition.env.clone(),
        env_aliases: definition.env_aliases.clone(),
        value_processor: definition.value_processor.clone(),
        value_post_processor: definition.value_post_processor.clone(),
        source: written.value.as_ref().map(|_| source_name(&written.source)),
        value: written.value.as_ref().map(|value| value.as_written()),
        secret_literal: None,
        references,
    }
}

/// How a value's origin is named in the manifest.
fn source_name(source: &Source) -> String {
    match source {
        Source::Default(_) | Source::Unset => "default".to_owned(),
        Source::Environment(..) => "environment".to_owned(),
        Source::MeltanoYml(_) => "meltano.yml".to_owned(),
        Source::Inherited(parent, _) => format!("inherited:{parent}"),
        Source::Assembled(inner) => source_name(inner),
        // Never at build time: no variable is read.
        Source::EnvVar(name, _) | Source::DotEnv(name) => format!("env:{name}"),
    }
}

fn definition(resolved: &Resolved<'_>, plugin: &ResolvedPlugin<'_>) -> String {
    match &plugin.origin {
        Origin::Custom => "custom".to_owned(),
        Origin::Parent(parent) => format!("parent:{parent}"),
        Origin::Lock(path) => {
            let relative = path.strip_prefix(&resolved.project.root).unwrap_or(path);
            format!("lock:{}", crate::project::slash_path(relative))
        }
        Origin::Hub { .. } => "hub".to_owned(),
        // Unresolved plugins are left out before this is asked.
        _ => "unresolved".to_owned(),
    }
}

/// Meltano's `venv_name`: an inheriting plugin shares its parent's virtualenv unless it
/// installs something else (its own `pip_url`, different from the parent's).
fn venv_name(resolved: &Resolved<'_>, plugin: &ResolvedPlugin<'_>) -> String {
    let Some(parent_name) = plugin.entry.inherit_from() else {
        return plugin.name.clone();
    };
    let own_pip_url = plugin.entry.entry.get_str("pip_url");
    match resolved.parent(plugin) {
        Some(parent) if own_pip_url.is_none() || parent.pip_url.as_deref() == own_pip_url => {
            venv_name(resolved, parent)
        }
        None if own_pip_url.is_none() => parent_name.to_owned(),
        _ => plugin.name.clone(),
    }
}

/// The `env:` blocks the plugin sees: each plugin of its `inherit_from` chain's (the furthest
/// parent's first), then the environment's entries for them (`from: environment:<plugin>`).
fn env_blocks(
    resolved: &Resolved<'_>,
    environment: Option<Named<'_>>,
    plugin: &ResolvedPlugin<'_>,
) -> Vec<EnvBlock> {
    let chain = resolved.chain(plugin);
    let own = chain
        .iter()
        .rev()
        .map(|link| (link.name.clone(), env_map(link.entry.entry.node.get("env"))));
    let from_environment = chain.iter().rev().filter_map(|link| {
        let entry = environment_entry(&environment?, link)?;
        Some((
            format!("environment:{}", link.name),
            env_map(entry.entry.node.get("env")),
        ))
    });
    own.chain(from_environment)
        .filter(|(_, vars)| !vars.is_empty())
        .map(|(from, vars)| EnvBlock { from, vars })
        .collect()
}

/// An `env:` mapping as written (non-scalar values are skipped: validation reports them).
pub fn env_map(node: Option<&Node>) -> EnvMap {
    node.and_then(Node::as_mapping)
        .map(|mapping| {
            mapping
                .iter()
                .filter_map(|(name, (_, value))| {
                    Some((name.clone(), EnvValue::Written(value.scalar_text()?)))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A mapping node as a JSON object (anything else: empty).
pub fn object(node: Option<&Node>) -> Map<String, Value> {
    match node.map(Node::to_json) {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    }
}
