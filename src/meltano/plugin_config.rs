//! The configuration object a plugin is handed (`meltano config print`'s shape): post-processed
//! values, then the plugin class's `process_config` (`meltano/core/plugin/singer/base.py`
//! `SingerPlugin.process_config`, `meltano/core/plugin/airflow.py` `Airflow.process_config`).

use serde_json::{Map, Value};

use super::cast;
use super::plugin_class::PluginClass;
use super::setting_value::SettingValue;

/// `meltano config print`'s shape: post-processed values, then the plugin class's
/// `process_config`.
#[must_use]
pub fn processed(class: PluginClass, settings: &[SettingValue]) -> Map<String, Value> {
    let flat: Map<String, Value> = settings
        .iter()
        .map(|value| {
            let json = value.value.clone().unwrap_or(Value::Null);
            (
                value.setting.name.clone(),
                cast::post_process(&value.setting, json),
            )
        })
        .collect();
    if class.is_singer() {
        let non_null: Map<String, Value> = flat
            .into_iter()
            .filter(|(_, value)| !value.is_null())
            .collect();
        let mut nested = cast::nest_object(&non_null, false);
        drop_dotted_keys(&mut nested);
        nested
    } else if class == PluginClass::Airflow {
        let as_text: Map<String, Value> = flat
            .into_iter()
            .map(|(key, value)| (key, Value::String(cast::python_str(&value))))
            .collect();
        cast::nest_object(&as_text, true)
    } else {
        flat
    }
}

/// Meltano's `_pop_non_leaf_keys`: keys still holding an unescaped dot go, `\.` becomes `.`;
/// the order of the others is kept.
fn drop_dotted_keys(map: &mut Map<String, Value>) {
    let entries = std::mem::take(map);
    for (key, mut value) in entries {
        if cast::has_unescaped_dot(&key) {
            continue;
        }
        if let Value::Object(inner) = &mut value {
            drop_dotted_keys(inner);
        }
        map.insert(key.replace("\\.", "."), value);
    }
}
