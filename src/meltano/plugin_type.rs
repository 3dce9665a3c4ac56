//! The plugin types Meltano knows, with the names derived from them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A key under `plugins:` (Meltano's `PluginType`, `core/plugin/base.py`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum PluginType {
    /// Singer taps.
    Extractors,
    /// Singer targets.
    Loaders,
    /// dbt packages (legacy).
    Transforms,
    /// Airflow and the like (legacy).
    Orchestrators,
    /// dbt (legacy).
    Transformers,
    /// File bundles.
    Files,
    /// Anything else that runs.
    Utilities,
    /// Singer mappers.
    Mappers,
}

impl PluginType {
    /// Every type, in Meltano's lookup order (`core/plugin/base.py`).
    pub const ALL: [PluginType; 8] = [
        PluginType::Extractors,
        PluginType::Loaders,
        PluginType::Transforms,
        PluginType::Orchestrators,
        PluginType::Transformers,
        PluginType::Files,
        PluginType::Utilities,
        PluginType::Mappers,
    ];

    /// The key under `plugins:`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            PluginType::Extractors => "extractors",
            PluginType::Loaders => "loaders",
            PluginType::Transforms => "transforms",
            PluginType::Orchestrators => "orchestrators",
            PluginType::Transformers => "transformers",
            PluginType::Files => "files",
            PluginType::Utilities => "utilities",
            PluginType::Mappers => "mappers",
        }
    }

    /// Parse a key under `plugins:`.
    #[must_use]
    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == key)
    }

    /// The singular (`MELTANO_EXTRACTOR_NAME`).
    #[must_use]
    pub fn singular(self) -> &'static str {
        match self {
            PluginType::Extractors => "extractor",
            PluginType::Loaders => "loader",
            PluginType::Transforms => "transform",
            PluginType::Orchestrators => "orchestrator",
            PluginType::Transformers => "transformer",
            PluginType::Files => "file",
            PluginType::Utilities => "utility",
            PluginType::Mappers => "mapper",
        }
    }

    /// The verb (`MELTANO_EXTRACT_<SETTING>`).
    #[must_use]
    pub fn verb(self) -> &'static str {
        match self {
            PluginType::Extractors => "extract",
            PluginType::Loaders => "load",
            PluginType::Transforms | PluginType::Transformers => "transform",
            PluginType::Orchestrators => "orchestrat",
            PluginType::Files => "fi",
            PluginType::Utilities => "utilize",
            PluginType::Mappers => "map",
        }
    }
}

impl std::fmt::Display for PluginType {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}
