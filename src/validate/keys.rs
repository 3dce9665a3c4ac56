//! Keys Meltano does not know. Meltano keeps an unknown top-level key as an unused project
//! setting, an unknown plugin key as an extra (`_key`, exported as `TAP_X__KEY`) and ignores an
//! unknown schedule or setting-definition key: all accepted, all probably typos (the real
//! `:pip_url`), so they are warnings with a did-you-mean. Unknown environment and job keys are
//! fatal in Meltano and are reported by the schema.

use super::ProjectIndex;
use crate::diagnostics::{Diagnostic, codes, suggest};
use crate::meltano::PluginType;
use crate::meltano::env_var::env_var_part;
use crate::project::model::{self, Plugin};
use crate::yaml::Node;

/// Top-level keys: the document's sections and every project setting (settings.yml).
pub const TOP_LEVEL: &[&str] = &[
    "version",
    "requires_meltano",
    "project_id",
    "default_environment",
    "send_anonymous_usage_stats",
    "disable_tracking",
    "database_uri",
    "database_max_retries",
    "database_retry_timeout",
    "project_readonly",
    "python",
    "auto_install",
    "venv",
    "state_backend",
    "include_paths",
    "plugins",
    "schedules",
    "jobs",
    "environments",
    "env",
    "annotations",
    "cli",
    "elt",
    "hub_url",
    "hub_api_root",
    "hub_url_auth",
    "experimental",
    "ff",
    "snowplow",
];

/// Keys every plugin entry may have (Meltano's `ProjectPlugin.__init__`,
/// `core/plugin/project_plugin.py`).
const PLUGIN_COMMON: &[&str] = &[
    "name",
    "variant",
    "inherit_from",
    "namespace",
    "pip_url",
    "python",
    "executable",
    "capabilities",
    "settings",
    "settings_group_validation",
    "commands",
    "requires",
    "requires_meltano",
    "config",
    "env",
    "label",
    "description",
    "logo_url",
    "hidden",
    "docs",
    "repo",
    "ext_repo",
    "annotations",
    "supported_python_versions",
    "update",
];

/// Extras known per plugin type (the `EXTRA_SETTINGS` of Meltano's plugin classes:
/// `core/plugin/singer/tap.py`, `target.py`, `mapper.py`, `core/plugin/dbt/base.py`).
fn plugin_extras(plugin_type: PluginType) -> &'static [&'static str] {
    match plugin_type {
        PluginType::Extractors => &[
            "select",
            "metadata",
            "schema",
            "catalog",
            "state",
            "load_schema",
            "select_filter",
            "use_cached_catalog",
            "log_parser",
        ],
        PluginType::Loaders => &["dialect", "target_schema", "log_parser"],
        PluginType::Transforms => &["package_name", "vars"],
        PluginType::Mappers => &["mappings", "log_parser"],
        _ => &[],
    }
}

pub(super) const SCHEDULE: &[&str] = &[
    "name",
    "job",
    "interval",
    "env",
    "annotations",
    "extractor",
    "loader",
    "transform",
    "start_date",
];

pub(super) const SETTING: &[&str] = &[
    "name",
    "aliases",
    "label",
    "description",
    "tooltip",
    "documentation",
    "placeholder",
    "kind",
    "value",
    "options",
    "oauth",
    "hidden",
    "sensitive",
    "env",
    "value_processor",
    "value_post_processor",
    "annotations",
    "env_aliases",
    "env_specific",
];

const ENVIRONMENT_CONFIG: &[&str] = &["plugins"];

/// Report unknown keys in the merged document.
pub fn check(index: &ProjectIndex<'_>, diagnostics: &mut Vec<Diagnostic>) {
    let document = &index.project.merged;
    unknown(
        document,
        TOP_LEVEL,
        "top-level key",
        "Meltano keeps it as an unused project setting",
        diagnostics,
    );
    for plugin in &index.plugins {
        check_plugin(plugin, false, diagnostics);
    }
    for schedule in model::schedules(document) {
        unknown(
            schedule.node,
            SCHEDULE,
            "schedule key",
            "Meltano ignores it",
            diagnostics,
        );
    }
    for environment in model::environments(document) {
        if let Some(config) = environment.node.get("config") {
            unknown(
                config,
                ENVIRONMENT_CONFIG,
                "environment `config` key",
                "Meltano ignores it",
                diagnostics,
            );
        }
        for plugin in model::environment_plugins(&environment) {
            check_plugin(&plugin, true, diagnostics);
        }
    }
}

/// Whether `key` is one Meltano knows in a project plugin entry of `plugin_type`.
pub(super) fn is_plugin_key(plugin_type: PluginType, key: &str) -> bool {
    PLUGIN_COMMON.contains(&key) || plugin_extras(plugin_type).contains(&key)
}

fn check_plugin(plugin: &Plugin<'_>, in_environment: bool, diagnostics: &mut Vec<Diagnostic>) {
    let mut known: Vec<&str> = if in_environment {
        // `EnvironmentPluginConfig(name, config, env, **extras)`; annotations are Meltano's
        // schema's too.
        vec!["name", "config", "env", "annotations"]
    } else {
        PLUGIN_COMMON.to_vec()
    };
    known.extend(plugin_extras(plugin.plugin_type));
    let noun = format!("{} key", plugin.plugin_type.singular());
    let consequence = format!(
        "Meltano passes it to the plugin as the extra `_{{key}}` ({}__{{KEY}})",
        env_var_part(plugin.name())
    );
    unknown(plugin.entry.node, &known, &noun, &consequence, diagnostics);
    if in_environment {
        return;
    }
    for setting in plugin
        .entry
        .node
        .get("settings")
        .and_then(Node::as_sequence)
        .unwrap_or_default()
    {
        unknown(
            setting,
            SETTING,
            "setting definition key",
            "Meltano ignores it",
            diagnostics,
        );
    }
}

fn unknown(
    node: &Node,
    known: &[&str],
    noun: &str,
    consequence: &str,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let Some(mapping) = node.as_mapping() else {
        return;
    };
    for (key, (key_node, _)) in mapping {
        if known.contains(&key.as_str()) {
            continue;
        }
        let help = match key.as_str() {
            "default" if known.contains(&"value") => {
                Some("a setting's default value is written `value:`".to_owned())
            }
            _ => suggest::help_line(key, known.iter().copied()),
        };
        let consequence = consequence
            .replace("{key}", key)
            .replace("{KEY}", &env_var_part(key));
        diagnostics.push(
            Diagnostic::new(&codes::KEY_UNKNOWN, format!("unknown {noun} `{key}`"))
                .at(key_node.span, "unknown key")
                .help(help.map_or_else(
                    || format!("remove it if it is a mistake ({consequence})"),
                    |help| format!("{help} ({consequence})"),
                )),
        );
    }
}
