//! Plugin resolution: the stage after validation. Every plugin of a project gets its
//! definition and the settings, env var names and defaults later stages need.
//!
//! 1. [`plugin::resolve`]: each plugin's definition, in Meltano's order
//!    (`ProjectPluginsService.find_parent`, `core/project_plugins_service.py`): a custom
//!    plugin's own entry, a project parent (`inherit_from`), a lock file ([`lockfile`]), the
//!    bundled hub index ([`hub`]); the entry merged over it ([`inherit`]) into a
//!    [`ResolvedPlugin`] (origin, variant, namespace, executable, capabilities, settings,
//!    extras, commands, env var prefixes); every mapping of a mapper becomes a plugin of its
//!    own ([`mapping`]), and names are looked up as Meltano does ([`Resolved::find_plugin`]).
//! 2. [`crate::meltano::setting`]: the setting model (declared, implicit per config leaf, built-in and
//!    definition extras) and the env var names each setting is read from and written to.
//! 3. [`config`]: the effective value of every setting in one environment with its source,
//!    Meltano's precedence (`SettingValueStore`) and environment merge
//!    (`MeltanoEnvStoreManager`, both `core/settings_store.py`), kind casts ([`cast`]),
//!    and the config object a Singer plugin gets. Values are [`crate::meltano::template::ConfigValue`] templates
//!    ([`values`] reads them from YAML) until a caller that may read the shell expands them;
//!    [`plugin_env`] layers the `env:` blocks a plugin sees.
//!
//! Nothing here touches the network: the Hub is a snapshot compiled into the binary. Nothing
//! here reads an environment variable or a file other than lock files: callers pass the
//! shell's variables in ([`shell::Shell`], with the `.env` reader) when they are allowed to
//! (`meltc config`), never when building.

pub mod config;
pub mod definition;
pub mod hub;
pub mod inherit;
pub mod lock;
pub mod lockfile;
pub mod mapping;
pub mod pip_url;
pub mod plugin;
pub mod plugin_env;
pub mod secrets;
pub mod shell;
pub mod state_backend;
pub mod values;

pub use crate::meltano::SettingKind;
pub use definition::{
    Command, Definition, DefinitionError, Requirement, SettingDefinition, SettingOption,
};
pub use plugin::{Origin, Resolved, ResolvedPlugin, resolve};

#[cfg(test)]
mod shared_reference_tests;
