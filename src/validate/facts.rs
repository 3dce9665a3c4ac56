//! What the checks need to know about a plugin's definition, taken from the resolve stage
//! ([`crate::resolve`]): whether a complete definition was found, its capabilities, which
//! settings hold secrets, and its commands.

use std::collections::BTreeSet;

use crate::resolve::ResolvedPlugin;
use crate::resolve::hub::HubIndex;

/// Definition facts of one plugin.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// Whether some source defines the plugin completely.
    pub resolved: bool,
    /// Capabilities.
    pub capabilities: BTreeSet<String>,
    /// Names (and aliases) of settings that hold secrets.
    pub secret_settings: BTreeSet<String>,
    /// Command names.
    pub commands: BTreeSet<String>,
}

impl Facts {
    /// The facts of a resolved plugin.
    #[must_use]
    pub fn of(plugin: &ResolvedPlugin<'_>) -> Self {
        let secret_settings = plugin
            .settings
            .iter()
            .filter(|setting| setting.sensitive)
            .flat_map(|setting| std::iter::once(&setting.name).chain(&setting.aliases))
            .cloned()
            .collect();
        Facts {
            resolved: plugin.resolved,
            capabilities: plugin.capabilities.iter().cloned().collect(),
            secret_settings,
            commands: plugin.commands.keys().cloned().collect(),
        }
    }
}

/// Whether the bundled hub index has a plugin of this type and name.
#[must_use]
pub fn hub_knows(plugin_type: crate::meltano::PluginType, name: &str) -> bool {
    HubIndex::bundled().plugin(plugin_type, name).is_some()
}
