//! The environment variables a plugin sees at build time (`meltc config`), each with where it
//! comes from: the layers of a resolved plugin in a project, handed to
//! [`crate::meltano::env_layers::layer`], which orders and expands them (its header draws the
//! layering).

use super::plugin::{Resolved, ResolvedPlugin};
use super::shell::Shell;
use crate::diagnostics::Span;
use crate::meltano::env_layers::{EnvBlock, EnvEntry, Layers, layer, tagged};
pub use crate::meltano::env_layers::{EnvMap, EnvSource, EnvValue};
use crate::project::model::{self, Named};
use crate::yaml::Node;

/// An `env:` mapping's entries (those with a scalar value), each tagged by `source`.
fn env_block<'a>(
    node: Option<&'a Node>,
    source: impl Fn(Span) -> EnvSource,
) -> EnvBlock<'a, EnvSource> {
    let Some(mapping) = node.and_then(Node::as_mapping) else {
        return Vec::new();
    };
    mapping
        .iter()
        .filter_map(|(name, (_, value))| {
            let text = value.scalar_text()?;
            Some((
                name.as_str(),
                EnvEntry::Written(text.into()),
                source(value.span),
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
        let mut below = tagged(&self.shell.process, &EnvSource::Process);
        below.extend(self.meltano_vars());
        let chain = self.resolved.chain(plugin);
        let plugin_blocks = chain
            .iter()
            .rev()
            .map(|member| {
                env_block(member.entry.entry.node.get("env"), |span| {
                    EnvSource::PluginEnv(member.name.clone(), span)
                })
            })
            .collect();
        let environment_plugin = self.environment.map_or_else(Vec::new, |environment| {
            chain
                .iter()
                .rev()
                .filter_map(|member| {
                    let entry = environment_entry(&environment, member)?;
                    Some(env_block(entry.entry.node.get("env"), |span| {
                        EnvSource::EnvironmentPluginEnv(
                            environment.name.to_owned(),
                            member.name.clone(),
                            span,
                        )
                    }))
                })
                .collect()
        });
        layer(&Layers {
            dotenv: tagged(&self.shell.dotenv, &EnvSource::DotEnv),
            below,
            project: env_block(
                self.resolved.project.merged.get("env"),
                EnvSource::ProjectEnv,
            ),
            plugin_info: plugin_info(plugin),
            plugin: plugin_blocks,
            environment: self.environment.map_or_else(Vec::new, |environment| {
                env_block(environment.node.get("env"), |span| {
                    EnvSource::EnvironmentEnv(environment.name.to_owned(), span)
                })
            }),
            environment_plugin,
        })
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
