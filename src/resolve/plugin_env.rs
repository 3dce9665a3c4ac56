//! The environment variables a plugin sees (spec §7.2), each with where it comes from.
//!
//! meltc follows Meltano's **documented** layering, the recommendation of the spec:
//!
//! ```text
//! precedence (later wins): process < Meltano's own (MELTANO_PROJECT_ROOT...) < project env:
//!                          < plugin info (MELTANO_EXTRACTOR_NAME...) < plugin env:
//!                          < environment env: < environment's plugin env:
//! expansion (each block sees what is below it, `.env` under the process, and its own
//! earlier entries):
//!   project env:             .env, process, Meltano's own
//!   environment env:         + project env:
//!   plugin env:              + plugin info, environment env:
//!   environment plugin env:  + plugin env:
//! ```
//!
//! Meltano's implementation differs in one visible way: it hands the project's and the plugin's
//! `env:` values to setting expansion unexpanded (README "Compatibility"). A plugin that
//! inherits from a project plugin sees its parents' plugin `env:` blocks below its own (and
//! its block is expanded against theirs).

use indexmap::IndexMap;

use crate::meltano::template::Template;
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
    /// The project's `.env` file.
    DotEnv,
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

/// Every variable of `vars`, all from `source`.
fn tagged<'a>(
    vars: impl IntoIterator<Item = (&'a String, &'a String)>,
    source: &EnvSource,
) -> EnvMap {
    vars.into_iter()
        .map(|(name, value)| {
            (
                name.clone(),
                EnvValue {
                    value: value.clone(),
                    source: source.clone(),
                },
            )
        })
        .collect()
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

/// An `env:` mapping's entries, each expanded against `context` and the entries before it in
/// the same block (`ROOT_B: ${ROOT_A}-b` after `ROOT_A`).
fn env_block(
    node: Option<&Node>,
    context: &IndexMap<String, String>,
    source: impl Fn(Span) -> EnvSource,
) -> EnvMap {
    let Some(mapping) = node.and_then(Node::as_mapping) else {
        return EnvMap::new();
    };
    let mut block = EnvMap::new();
    for (name, (_, value)) in mapping {
        let Some(text) = value.scalar_text() else {
            continue;
        };
        let expanded = Template::parse(&text).expand(&|var| {
            block
                .get(var)
                .map(|earlier| earlier.value.as_str())
                .or_else(|| context.get(var).map(String::as_str))
        });
        block.insert(
            name.clone(),
            EnvValue {
                value: expanded,
                source: source(value.span),
            },
        );
    }
    block
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
        let process = tagged(&self.shell.process, &EnvSource::Process);
        let dotenv = tagged(&self.shell.dotenv, &EnvSource::DotEnv);
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
        let chain = self.resolved.chain(plugin);
        // The parents' blocks first; each block sees the ones before it.
        let mut plugin_env = EnvMap::new();
        for member in chain.iter().rev() {
            let context = flatten_layers(&[
                &dotenv,
                &process,
                &meltano,
                &project,
                &info,
                &plugin_env,
                &environment_env,
            ]);
            plugin_env.extend(env_block(
                member.entry.entry.node.get("env"),
                &context,
                |span| EnvSource::PluginEnv(member.name.clone(), span),
            ));
        }
        let mut environment_plugin_env = EnvMap::new();
        if let Some(environment) = self.environment {
            for member in chain.iter().rev() {
                let Some(entry) = environment_entry(&environment, member) else {
                    continue;
                };
                let context = flatten_layers(&[
                    &dotenv,
                    &process,
                    &meltano,
                    &project,
                    &info,
                    &plugin_env,
                    &environment_env,
                    &environment_plugin_env,
                ]);
                environment_plugin_env.extend(env_block(
                    entry.entry.node.get("env"),
                    &context,
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::diagnostics::{SourceFile, SourceMap};
    use crate::project::Project;

    const LAYERS: &str = "
env:
  ROOT_A: root-a
  ROOT_B: ${ROOT_A}-b
  SHARED: project
plugins:
  utilities:
  - name: u
    namespace: u_ns
    env:
      PLUGIN: plugin-${STAGE}
      SHARED: plugin
  - name: u-child
    inherit_from: u
    env:
      CHILD: child-${PLUGIN}
environments:
- name: dev
  env:
    STAGE: dev-${ROOT_A}
    SHARED: environment
  config:
    plugins:
      utilities:
      - name: u-child
        env:
          SHARED: environment-plugin-${SHARED}
";

    #[test]
    fn documented_layering_and_expansion() {
        let mut sources = SourceMap::default();
        let id = sources.add(SourceFile::new("meltano.yml", "meltano.yml", LAYERS));
        let merged = crate::yaml::parse(id, sources.get(id)).root.unwrap();
        let project = Project {
            root: "/p".into(),
            sources,
            files: Vec::new(),
            merged,
        };
        let resolved = crate::resolve::resolve(&project);
        let environment = crate::project::model::environments(&project.merged)[0];
        let shell = Shell::new(
            BTreeMap::from([("SHARED".to_owned(), "process".to_owned())]),
            Some("DOTENV=d\n"),
        );
        let inputs = EnvInputs {
            resolved: &resolved,
            environment: Some(environment),
            shell: &shell,
            user_agent: "meltc/test",
        };
        let env = inputs.plugin_env(resolved.find("u-child").unwrap());
        let value = |name: &str| env.get(name).map(|value| value.value.as_str());
        assert_eq!(value("ROOT_B"), Some("root-a-b"));
        assert_eq!(
            value("PLUGIN"),
            Some("plugin-dev-root-a"),
            "the parent's env: is inherited"
        );
        assert_eq!(
            value("CHILD"),
            Some("child-plugin-dev-root-a"),
            "a parent's block is below"
        );
        assert_eq!(value("SHARED"), Some("environment-plugin-environment"));
        assert_eq!(value("MELTANO_UTILITY_NAMESPACE"), Some("u_child"));
        assert_eq!(value("MELTANO_ENVIRONMENT"), Some("dev"));
        assert_eq!(value("DOTENV"), None, ".env is a store of its own");
    }
}
