//! Plugin resolution: where each plugin's definition comes from and what it contains.
//!
//! A project plugin's definition is its own entry (custom plugins), its lock file
//! (`plugins/<type>/<name>--<variant>.lock`, [`lockfile`]), or the bundled Hub index ([`hub`]),
//! in that order (reference/meltano-spec.md §9). Both sources give a [`Definition`]. Nothing
//! here touches the network: the Hub is a snapshot compiled into the binary.

pub mod definition;
pub mod hub;
pub mod lock;
pub mod lockfile;
pub mod python_json;

pub use definition::{
    Command, Definition, DefinitionError, Requirement, SettingDefinition, SettingKind,
    SettingOption,
};

#[cfg(test)]
mod reference_tests;
