//! The plugin class Meltano instantiates for a definition (`meltano/core/plugin/factory.py`
//! `PluginFactory.base_plugin_class`): it decides the built-in extras and how the config is
//! handed over.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::plugin_type::PluginType;
use super::setting::Setting;
use super::setting_kind::SettingKind;

/// Which Meltano plugin class a definition gets (`core/plugin/factory.py`): it decides the
/// built-in extras and how the config is handed over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PluginClass {
    /// Singer taps.
    SingerTap,
    /// Singer targets.
    SingerTarget,
    /// Singer mappers.
    SingerMapper,
    /// dbt packages (`transforms`).
    DbtTransform,
    /// dbt (`transformers`).
    Dbt,
    /// File bundles.
    File,
    /// The `airflow` orchestrator.
    Airflow,
    /// The `superset` utility.
    Superset,
    /// Any other utility or orchestrator.
    Base,
}

impl PluginClass {
    /// The class Meltano picks for a definition of `plugin_type` named `name`.
    #[must_use]
    pub fn of(plugin_type: PluginType, name: &str) -> Self {
        match (plugin_type, name) {
            (PluginType::Extractors, _) => PluginClass::SingerTap,
            (PluginType::Loaders, _) => PluginClass::SingerTarget,
            (PluginType::Mappers, _) => PluginClass::SingerMapper,
            (PluginType::Transforms, _) => PluginClass::DbtTransform,
            (PluginType::Transformers, _) => PluginClass::Dbt,
            (PluginType::Files, _) => PluginClass::File,
            (PluginType::Orchestrators, "airflow") => PluginClass::Airflow,
            (PluginType::Utilities, "superset") => PluginClass::Superset,
            _ => PluginClass::Base,
        }
    }

    /// Singer plugins get a JSON config file: nested, without nulls (Meltano's
    /// `SingerPlugin.process_config`, `core/plugin/singer/base.py`).
    #[must_use]
    pub fn is_singer(self) -> bool {
        matches!(
            self,
            PluginClass::SingerTap | PluginClass::SingerTarget | PluginClass::SingerMapper
        )
    }

    /// The class's `EXTRA_SETTINGS`, with Meltano's defaults.
    #[must_use]
    pub fn builtin_extras(self) -> Vec<Setting> {
        use SettingKind::{Array, Boolean, Object};
        use serde_json::json;
        let log_parser = || Setting::builtin("_log_parser", None, Some(json!("singer-sdk")));
        let with_alias = |mut setting: Setting, alias: &str| {
            setting.aliases.push(alias.to_owned());
            setting
        };
        let nested = |mut setting: Setting| {
            setting.value_processor = Some("nest_object".to_owned());
            setting
        };
        match self {
            PluginClass::SingerTap => vec![
                log_parser(),
                Setting::builtin("_catalog", None, None),
                Setting::builtin("_state", None, None),
                Setting::builtin(
                    "_load_schema",
                    None,
                    Some(json!("$MELTANO_EXTRACTOR_NAMESPACE")),
                ),
                Setting::builtin("_select", Some(Array), Some(json!(["*.*"]))),
                nested(with_alias(
                    Setting::builtin("_metadata", Some(Object), Some(json!({}))),
                    "metadata",
                )),
                nested(Setting::builtin("_schema", Some(Object), Some(json!({})))),
                Setting::builtin("_select_filter", Some(Array), Some(json!([]))),
                Setting::builtin("_use_cached_catalog", Some(Boolean), Some(json!(true))),
            ],
            PluginClass::SingerTarget => vec![
                log_parser(),
                Setting::builtin("_dialect", None, Some(json!("$MELTANO_LOADER_NAMESPACE"))),
            ],
            PluginClass::SingerMapper => vec![
                log_parser(),
                with_alias(
                    Setting::builtin("_mappings", Some(Array), Some(json!({}))),
                    "mappings",
                ),
                with_alias(
                    Setting::builtin("_mapping_name", Some(SettingKind::String), None),
                    "mapping_name",
                ),
            ],
            PluginClass::DbtTransform => vec![
                Setting::builtin(
                    "_package_name",
                    None,
                    Some(json!("$MELTANO_TRANSFORM_NAMESPACE")),
                ),
                Setting::builtin("_vars", Some(Object), Some(json!({}))),
            ],
            PluginClass::File => vec![with_alias(
                Setting::builtin("_update", Some(Object), Some(json!({}))),
                "update",
            )],
            PluginClass::Superset => vec![Setting::builtin("_config_path", None, None)],
            PluginClass::Dbt | PluginClass::Airflow | PluginClass::Base => Vec::new(),
        }
    }
}
