//! The environment variables a plugin sees, layered as Meltano documents it (the layering
//! `meltc config` shows and `meltc-run` hands a plugin):
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
//! Meltano assembles the same layers in `meltano/core/plugin/project_plugin.py`
//! (`ProjectPlugin.env`) and `meltano/core/plugin_invoker.py` (`PluginInvoker.env`). Its
//! implementation differs in one visible way: it hands the project's and the plugin's `env:`
//! values to setting expansion unexpanded (README "Compatibility"). A plugin that inherits from
//! a project plugin sees its parents' `env:` blocks below its own, parents first.
//!
//! [`layer`] is the one implementation, generic over what the caller records about where a
//! variable came from (`meltc config` a located [`EnvSource`], `meltc-run` nothing).

use std::borrow::Cow;

use indexmap::IndexMap;

use super::template::Template;
use crate::diagnostics::Span;

/// `MELTANO_USER_AGENT` as meltc sets it.
pub const USER_AGENT: &str = concat!("meltc/", env!("CARGO_PKG_VERSION"));

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

/// A variable and its origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvValue<S = EnvSource> {
    /// The value.
    pub value: String,
    /// Where it comes from.
    pub source: S,
}

/// Variables by name, in insertion order.
pub type EnvMap<S = EnvSource> = IndexMap<String, EnvValue<S>>;

/// Every variable of `vars`, all from `source`.
pub fn tagged<'a, S: Clone>(
    vars: impl IntoIterator<Item = (&'a String, &'a String)>,
    source: &S,
) -> EnvMap<S> {
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

/// One entry of an `env:` block as the caller has it.
#[derive(Clone, Debug)]
pub enum EnvEntry<'a> {
    /// As written in meltano.yml: a `${VAR}` template.
    Written(Cow<'a, str>),
    /// A value handed over as it is (a literal secret from the pod's Secret).
    Literal(Cow<'a, str>),
}

/// An `env:` block: its entries in order, each with its origin.
pub type EnvBlock<'a, S> = Vec<(&'a str, EnvEntry<'a>, S)>;

/// Every layer of one plugin's variables, lowest first.
pub struct Layers<'a, S> {
    /// Seen by expansion below everything, never handed to the plugin (the project's `.env`).
    pub dotenv: EnvMap<S>,
    /// The process, Meltano's own variables (and, at run time, the project settings as
    /// `MELTANO_<SETTING>`), in order.
    pub below: EnvMap<S>,
    /// The project's `env:`.
    pub project: EnvBlock<'a, S>,
    /// `MELTANO_<TYPE>_NAME`, `_NAMESPACE`, `_VARIANT` (empty without a plugin).
    pub plugin_info: EnvMap<S>,
    /// The plugin's `env:` blocks, its parents' first.
    pub plugin: Vec<EnvBlock<'a, S>>,
    /// The environment's `env:`.
    pub environment: EnvBlock<'a, S>,
    /// The environment's `env:` blocks for the plugin, its parents' first.
    pub environment_plugin: Vec<EnvBlock<'a, S>>,
}

/// The plain values of `layers`, later layers winning.
fn flatten<S>(layers: &[&EnvMap<S>]) -> IndexMap<String, String> {
    let mut out = IndexMap::new();
    for layer in layers {
        for (name, value) in *layer {
            out.insert(name.clone(), value.value.clone());
        }
    }
    out
}

/// A block's entries, each expanded against `context` and the entries before it in the same
/// block (`ROOT_B: ${ROOT_A}-b` after `ROOT_A`).
fn expand_block<S: Clone>(
    block: &EnvBlock<'_, S>,
    context: &IndexMap<String, String>,
) -> EnvMap<S> {
    let mut out: EnvMap<S> = EnvMap::new();
    for (name, entry, source) in block {
        let value = match entry {
            EnvEntry::Written(text) => Template::parse(text).expand(&|var| {
                out.get(var)
                    .map(|earlier| earlier.value.as_str())
                    .or_else(|| context.get(var).map(String::as_str))
            }),
            EnvEntry::Literal(text) => text.clone().into_owned(),
        };
        out.insert(
            (*name).to_owned(),
            EnvValue {
                value,
                source: source.clone(),
            },
        );
    }
    out
}

/// The variables a plugin sees (without `.env`, a store of its own below them all), each with
/// its origin: Meltano's documented layering (module header).
#[must_use]
pub fn layer<S: Clone>(layers: &Layers<'_, S>) -> EnvMap<S> {
    let Layers {
        dotenv,
        below,
        plugin_info,
        ..
    } = layers;
    let project = expand_block(&layers.project, &flatten(&[dotenv, below]));
    let environment = expand_block(&layers.environment, &flatten(&[dotenv, below, &project]));
    let mut plugin = EnvMap::new();
    for block in &layers.plugin {
        let context = flatten(&[dotenv, below, &project, plugin_info, &plugin, &environment]);
        plugin.extend(expand_block(block, &context));
    }
    let mut environment_plugin = EnvMap::new();
    for block in &layers.environment_plugin {
        let context = flatten(&[
            dotenv,
            below,
            &project,
            plugin_info,
            &plugin,
            &environment,
            &environment_plugin,
        ]);
        environment_plugin.extend(expand_block(block, &context));
    }
    let mut all = below.clone();
    for layer in [
        project,
        plugin_info.clone(),
        plugin,
        environment,
        environment_plugin,
    ] {
        all.extend(layer);
    }
    all
}
