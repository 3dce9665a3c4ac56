//! Literal setting values Meltano cannot cast to their setting's kind
//! (`SettingDefinition.cast_value` in Meltano's `core/setting_definition.py`): an `integer` or
//! `decimal` that does not parse, an `object` or `array` string that is neither JSON nor a
//! Python literal, an `options` value that is not one of the options.
//!
//! Meltano casts every setting of a plugin before it runs the plugin (and `meltano compile`
//! casts every plugin's), so such a value fails every run of the plugin unless a variable
//! overrides it where it runs. `meltc config` reports it as an error; here it is a warning at
//! the value: written in the project, or the default of the plugin's definition (a lock file,
//! the hub index, a custom plugin's `settings:`). Values with `${VAR}` references are cast
//! only at run time.

use super::ProjectIndex;
use crate::diagnostics::{Diagnostic, Span, codes};
use crate::meltano::cast::{CastError, cast};
use crate::meltano::setting::Declared;
use crate::meltano::template::ConfigValue;
use crate::project::model::{self, Named, Plugin};
use crate::resolve::ResolvedPlugin;
use crate::resolve::values::config_value;
use crate::yaml::Node;

/// Check the base project's values and those of the `selected` environments.
pub fn check(index: &ProjectIndex<'_>, selected: &[Named<'_>], diagnostics: &mut Vec<Diagnostic>) {
    let mut seen = std::collections::BTreeSet::new();
    for resolved in &index.resolved.plugins {
        if !resolved.resolved || !seen.insert((resolved.plugin_type, resolved.name.as_str())) {
            continue;
        }
        let set = written(
            resolved,
            resolved.entry.entry.node.get("config"),
            diagnostics,
        );
        defaults(resolved, &set, diagnostics);
    }
    for environment in selected {
        for entry in model::environment_plugins(environment) {
            let found = index.resolved.plugins.iter().find(|plugin| {
                plugin.resolved
                    && plugin.plugin_type == entry.plugin_type
                    && plugin.name == entry.name()
            });
            if let Some(resolved) = found {
                written(resolved, entry.entry.node.get("config"), diagnostics);
            }
        }
    }
}

/// The defaults (of the definition, or of the entry's `settings:`) the project's `config` does
/// not replace, located at the plugin's name.
fn defaults(
    plugin: &ResolvedPlugin<'_>,
    written: &std::collections::BTreeSet<String>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for setting in &plugin.settings {
        let label = match setting.declared {
            Declared::Definition => "the definition's default",
            Declared::Entry(_) => "the default of its `settings:`",
            Declared::Builtin | Declared::Implicit(_) => continue,
        };
        if written.contains(&setting.name) {
            continue;
        }
        let Some(value) = setting.default.as_ref().and_then(literal) else {
            continue;
        };
        if let Err(problem) = cast(setting, value.clone()) {
            diagnostics.push(finding(
                &plugin.entry,
                &setting.name,
                &value,
                &problem,
                plugin.entry.entry.name_span,
                label,
            ));
        }
    }
}

/// The values written in a `config:` mapping, leaf by leaf; the settings it writes.
fn written(
    plugin: &ResolvedPlugin<'_>,
    config: Option<&Node>,
    diagnostics: &mut Vec<Diagnostic>,
) -> std::collections::BTreeSet<String> {
    let mut set = std::collections::BTreeSet::new();
    let Some(config) = config.filter(|config| config.as_mapping().is_some()) else {
        return set;
    };
    let mut leaves = Vec::new();
    flatten_nodes("", config, &mut leaves);
    for (path, node) in leaves {
        let Some(setting) = plugin.setting(&path).filter(|setting| !setting.is_extra()) else {
            continue;
        };
        set.insert(setting.name.clone());
        let Some(value) = literal(&config_value(node)) else {
            continue;
        };
        if let Err(problem) = cast(setting, value.clone()) {
            diagnostics.push(finding(
                &plugin.entry,
                &setting.name,
                &value,
                &problem,
                node.span,
                "this value",
            ));
        }
    }
    set
}

/// `config:` leaves with their nodes, keys joined with dots (how settings are named).
fn flatten_nodes<'a>(prefix: &str, node: &'a Node, out: &mut Vec<(String, &'a Node)>) {
    match node.as_mapping() {
        Some(mapping) if !mapping.is_empty() => {
            for (key, (_, value)) in mapping {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten_nodes(&path, value, out);
            }
        }
        _ => out.push((prefix.to_owned(), node)),
    }
}

/// The value as Meltano casts it, when nothing in it is expanded at run time: a scalar string
/// without references, or a number (an `options` value may be one). `null` is unset.
fn literal(value: &ConfigValue) -> Option<serde_json::Value> {
    match value {
        ConfigValue::Text(_) | ConfigValue::Number(_) if value.references().is_empty() => {
            Some(value.as_written())
        }
        _ => None,
    }
}

fn finding(
    plugin: &Plugin<'_>,
    setting: &str,
    value: &serde_json::Value,
    problem: &CastError,
    span: Span,
    label: &str,
) -> Diagnostic {
    let written = match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let variable = format!(
        "{}_{}",
        crate::meltano::env_var::env_var_part(plugin.name()),
        crate::meltano::env_var::env_var_part(setting)
    );
    Diagnostic::new(
        &codes::SETTING_INVALID_VALUE,
        format!(
            "`{written}` for the setting `{setting}` of `{}` {problem}: Meltano fails every run of the plugin",
            plugin.name()
        ),
    )
    .at(span, label)
    .help(format!(
        "write a value of the setting's kind, or set `{variable}` where the plugin runs"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diagnostics(yaml: &str) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(dir.path().join("meltano.yml"), yaml).unwrap();
        let project = crate::project::load(dir.path(), "").project.unwrap();
        let index = ProjectIndex::new(&project);
        let environments = model::environments(&project.merged);
        let mut found = Vec::new();
        check(&index, &environments, &mut found);
        found.iter().map(|d| d.message.clone()).collect()
    }

    const PLUGIN: &str = "plugins:\n  extractors:\n  - name: tap-x\n    namespace: tap_x\n    settings:\n    - {name: port, kind: integer}\n    - {name: mode, kind: options, options: [{label: A, value: a}], value: b}\n    - {name: tables, kind: array}\n    - {name: host}\n";

    #[test]
    fn literal_values_that_do_not_cast_are_found_where_written() {
        let found = diagnostics(&format!(
            "{PLUGIN}    config:\n      port: eighty\n      tables: '[a'\n      host: '8080'\n"
        ));
        assert_eq!(
            found,
            [
                "`eighty` for the setting `port` of `tap-x` is not an integer: Meltano fails every run of the plugin",
                "`[a` for the setting `tables` of `tap-x` is not a JSON array: Meltano fails every run of the plugin",
                "`b` for the setting `mode` of `tap-x` is not one of the options (\"a\"): Meltano fails every run of the plugin",
            ]
        );
    }

    #[test]
    fn references_numbers_and_environments() {
        let found = diagnostics(&format!(
            "{PLUGIN}    config:\n      port: ${{PORT}}\n      mode: a\nenvironments:\n- name: dev\n  config:\n    plugins:\n      extractors:\n      - name: tap-x\n        config:\n          port: 8080\n          mode: c\n"
        ));
        assert_eq!(
            found,
            [
                "`c` for the setting `mode` of `tap-x` is not one of the options (\"a\"): Meltano fails every run of the plugin"
            ]
        );
    }
}
