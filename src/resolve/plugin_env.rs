//! The environment variables a plugin sees (spec §7.2), each with where it comes from.
//!
//! meltc follows Meltano's **documented** layering, the recommendation of the spec:
//!
//! ```text
//! precedence (later wins): process < Meltano's own (MELTANO_PROJECT_ROOT...) < project env:
//!                          < plugin info (MELTANO_EXTRACTOR_NAME...) < plugin env:
//!                          < environment env: < environment's plugin env:
//! expansion (each block sees what is below it, `.env` under the process):
//!   project env:             .env, process, Meltano's own
//!   environment env:         + project env:
//!   plugin env:              + plugin info, environment env:
//!   environment plugin env:  + plugin env:
//! ```
//!
//! Meltano's implementation differs in one visible way: it hands the project's and the plugin's
//! `env:` values to setting expansion unexpanded (README "Compatibility"). A plugin that
//! inherits from a project plugin sees its parents' plugin `env:` blocks below its own.

use indexmap::IndexMap;

use super::expand::Template;
use super::plugin::{Resolved, ResolvedPlugin};
use super::shell::Shell;
use crate::diagnostics::Span;
use crate::project::model::{self, Named};
use crate::yaml::Node;

/// Where a variable the plugin sees comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvSource {
    /// The process environment.
    Process,
    /// Set by Meltano itself (`MELTANO_PROJECT_ROOT`, `MELTANO_ENVIRONMENT`, ...).
    Meltano,
    /// The project's top-level `env:`.
    ProjectEnv(Span),
    /// The plugin's info (`MELTANO_EXTRACTOR_NAME`, `_NAMESPACE`, `_VARIANT`).
    PluginInfo,
    /// A plugin's `env:` (the plugin's own, or a project parent's).
    PluginEnv(String, Span),
    /// The environment's `env:`.
    EnvironmentEnv(String, Span),
    /// The environment's `env:` for a plugin.
    EnvironmentPluginEnv(String, String, Span),
}

/// A variable and its origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvValue {
    /// The value.
    pub value: String,
    /// Where it comes from.
    pub source: EnvSource,
}

/// Variables by name, in insertion order.
pub type EnvMap = IndexMap<String, EnvValue>;

/// The plain values of `layers`, later layers winning.
fn flatten_layers(layers: &[&EnvMap]) -> IndexMap<String, String> {
    let mut out = IndexMap::new();
    for layer in layers {
        for (name, value) in *layer {
            out.insert(name.clone(), value.value.clone());
        }
    }
    out
}

/// An `env:` mapping's entries, each expanded against `context`.
fn env_block(
    node: Option<&Node>,
    context: &IndexMap<String, String>,
    source: impl Fn(Span) -> EnvSource,
) -> EnvMap {
    let Some(mapping) = node.and_then(Node::as_mapping) else {
        return EnvMap::new();
    };
    mapping
        .iter()
        .filter_map(|(name, (_, value))| {
            let text = value.scalar_text()?;
            let expanded =
                Template::parse(&text).expand(&|var| context.get(var).map(String::as_str));
            Some((
                name.clone(),
                EnvValue {
                    value: expanded,
                    source: source(value.span),
                },
            ))
        })
        .collect()
}

/// The environment's entry for a plugin (`config.plugins.<type>[name]`).
#[must_use]
pub fn environment_entry<'a>(
    environment: &Named<'a>,
    plugin: &ResolvedPlugin<'_>,
) -> Option<model::Plugin<'a>> {
    model::environment_plugins(environment)
        .into_iter()
        .find(|entry| entry.plugin_type == plugin.plugin_type && entry.name() == plugin.name)
}

/// Everything a plugin's variables are built from.
pub struct EnvInputs<'a, 'p> {
    /// The resolved project.
    pub resolved: &'a Resolved<'p>,
    /// The selected environment.
    pub environment: Option<Named<'p>>,
    /// The shell.
    pub shell: &'a Shell,
    /// `MELTANO_USER_AGENT`.
    pub user_agent: &'a str,
}

impl EnvInputs<'_, '_> {
    /// The variables Meltano itself sets for every plugin.
    fn meltano_vars(&self) -> EnvMap {
        let root = self.resolved.project.root.display().to_string();
        let sys_dir = self
            .shell
            .process
            .get("MELTANO_SYS_DIR_ROOT")
            .cloned()
            .unwrap_or_else(|| format!("{root}/.meltano"));
        let environment = self
            .environment
            .map_or_else(String::new, |environment| environment.name.to_owned());
        [
            ("MELTANO_PROJECT_ROOT", root),
            ("MELTANO_ENVIRONMENT", environment),
            ("MELTANO_SYS_DIR_ROOT", sys_dir),
            ("MELTANO_USER_AGENT", self.user_agent.to_owned()),
        ]
        .into_iter()
        .map(|(name, value)| {
            (
                name.to_owned(),
                EnvValue {
                    value,
                    source: EnvSource::Meltano,
                },
            )
        })
        .collect()
    }

    /// The variables `plugin` sees, except `.env` (a store of its own, below them all).
    #[must_use]
    pub fn plugin_env(&self, plugin: &ResolvedPlugin<'_>) -> EnvMap {
        let process: EnvMap = self
            .shell
            .process
            .iter()
            .map(|(name, value)| {
                (
                    name.clone(),
                    EnvValue {
                        value: value.clone(),
                        source: EnvSource::Process,
                    },
                )
            })
            .collect();
        let dotenv: EnvMap = self
            .shell
            .dotenv
            .iter()
            .map(|(name, value)| {
                (
                    name.clone(),
                    EnvValue {
                        value: value.clone(),
                        source: EnvSource::Process,
                    },
                )
            })
            .collect();
        let meltano = self.meltano_vars();
        let base = flatten_layers(&[&dotenv, &process, &meltano]);
        let project = env_block(
            self.resolved.project.merged.get("env"),
            &base,
            EnvSource::ProjectEnv,
        );
        let with_project = flatten_layers(&[&dotenv, &process, &meltano, &project]);
        let environment_env = self.environment.map_or_else(EnvMap::new, |environment| {
            env_block(environment.node.get("env"), &with_project, |span| {
                EnvSource::EnvironmentEnv(environment.name.to_owned(), span)
            })
        });
        let info = plugin_info(plugin);
        let below_plugin = flatten_layers(&[
            &dotenv,
            &process,
            &meltano,
            &project,
            &info,
            &environment_env,
        ]);
        let chain = self.resolved.chain(plugin);
        let mut plugin_env = EnvMap::new();
        for member in chain.iter().rev() {
            plugin_env.extend(env_block(
                member.entry.entry.node.get("env"),
                &below_plugin,
                |span| EnvSource::PluginEnv(member.name.clone(), span),
            ));
        }
        let below_environment_plugin = flatten_layers(&[
            &dotenv,
            &process,
            &meltano,
            &project,
            &info,
            &plugin_env,
            &environment_env,
        ]);
        let mut environment_plugin_env = EnvMap::new();
        if let Some(environment) = self.environment {
            for member in chain.iter().rev() {
                let Some(entry) = environment_entry(&environment, member) else {
                    continue;
                };
                environment_plugin_env.extend(env_block(
                    entry.entry.node.get("env"),
                    &below_environment_plugin,
                    |span| {
                        EnvSource::EnvironmentPluginEnv(
                            environment.name.to_owned(),
                            member.name.clone(),
                            span,
                        )
                    },
                ));
            }
        }
        let mut all = process;
        for layer in [
            meltano,
            project,
            info,
            plugin_env,
            environment_env,
            environment_plugin_env,
        ] {
            all.extend(layer);
        }
        all
    }
}

/// `MELTANO_<SINGULAR>_NAME`, `_NAMESPACE`, `_VARIANT` (`default` without a variant).
fn plugin_info(plugin: &ResolvedPlugin<'_>) -> EnvMap {
    let singular = plugin.plugin_type.singular().to_uppercase();
    [
        ("NAME", plugin.name.clone()),
        ("NAMESPACE", plugin.namespace.clone()),
        (
            "VARIANT",
            plugin
                .variant
                .clone()
                .unwrap_or_else(|| "default".to_owned()),
        ),
    ]
    .into_iter()
    .map(|(field, value)| {
        (
            format!("MELTANO_{singular}_{field}"),
            EnvValue {
                value,
                source: EnvSource::PluginInfo,
            },
        )
    })
    .collect()
}
