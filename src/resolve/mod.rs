//! Plugin resolution: the stage after validation. Every plugin of a project gets its
//! definition and the settings, env var names and defaults later stages need.
//!
//! 1. [`plugin::resolve`]: each plugin's definition, in Meltano's order (spec §9): a custom
//!    plugin's own entry, a project parent (`inherit_from`), a lock file ([`lockfile`]), the
//!    bundled hub index ([`hub`]); the entry merged over it ([`inherit`]) into a
//!    [`ResolvedPlugin`].
//! 2. [`settings`]: the setting model (declared, implicit, extras), env var names read and
//!    written.
//! 3. [`config`]: the effective value of every setting in one environment with its source,
//!    Meltano's precedence (spec §8.2) and environment merge (§6.3); values are
//!    [`expand::ConfigValue`] templates until a caller that may read the shell expands them.
//!
//! Nothing here touches the network: the Hub is a snapshot compiled into the binary. Nothing
//! here reads an environment variable either: callers pass the shell's variables in
//! ([`config::Shell`]) when they are allowed to (`meltc config`), never when building.

pub mod cast;
pub mod config;
pub mod definition;
pub mod expand;
pub mod hub;
pub mod inherit;
pub mod lockfile;
pub mod plugin;
pub mod plugin_env;
pub mod python_json;
pub mod settings;
pub mod shell;
pub mod values;

pub use definition::{
    Command, Definition, DefinitionError, Requirement, SettingDefinition, SettingKind,
    SettingOption,
};
pub use plugin::{Origin, Resolved, ResolvedPlugin, resolve};

#[cfg(test)]
mod reference_tests;
