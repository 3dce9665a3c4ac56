//! Secrets a run cannot do without. Meltano expands an unset `${VAR}` to an empty string and
//! lets the plugin fail later with its own message (a database refusing an empty password, a
//! tap asserting on its config). In a pod that almost always means the Secret lacks a key, so
//! meltc-run stops before starting anything and names the variable (exit 2).

use std::collections::BTreeMap;

use serde_json::Value;

use super::settings::Prepared;
use crate::manifest::{Manifest, Plugin};
use crate::resolve::expand::Template;

/// One secret reference that nothing sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing {
    /// The variable.
    pub variable: String,
    /// The setting whose value references it.
    pub setting: String,
}

/// The secret `${VAR}` references of `prepared`'s settings that are unset where the plugin
/// runs. A reference is secret when its setting is sensitive or the manifest classifies the
/// variable as a secret. A setting given by its own env var (`TAP_X_PASSWORD`) references
/// nothing, so it never counts.
#[must_use]
pub fn plugin_secrets(manifest: &Manifest, prepared: &Prepared) -> Vec<Missing> {
    let mut missing: Vec<Missing> = prepared
        .values
        .iter()
        .flat_map(|value| {
            value
                .variables
                .iter()
                .filter(|variable| variable.origin.is_none())
                .filter(|variable| value.setting.sensitive || is_secret(manifest, &variable.name))
                .map(|variable| Missing {
                    variable: variable.name.clone(),
                    setting: value.setting.name.clone(),
                })
        })
        .collect();
    missing.dedup();
    missing
}

/// The secret references of the state backend's settings in effect that are unset in the
/// process: the URI, and the settings of its scheme (`state_backend.s3.*` for `s3://`), each
/// skipped when the process sets the setting's own `MELTANO_STATE_BACKEND_...` variable.
#[must_use]
pub fn state_backend_secrets(
    manifest: &Manifest,
    process: &BTreeMap<String, String>,
) -> Vec<Missing> {
    let own_variable = |name: &str| crate::resolve::settings::to_env_var("meltano", name);
    let uri = process
        .get(&own_variable("state_backend.uri"))
        .map(String::as_str)
        .or_else(|| {
            manifest
                .settings
                .get("state_backend.uri")
                .and_then(Value::as_str)
        })
        .unwrap_or_default();
    let namespace = match uri.split_once("://").map(|(scheme, _)| scheme) {
        Some("gs") => "gcs",
        Some(scheme) => scheme,
        None => "",
    };
    let in_effect = |name: &str| {
        name == "state_backend.uri"
            || name
                .strip_prefix("state_backend.")
                .and_then(|rest| rest.strip_prefix(namespace))
                .is_some_and(|rest| !namespace.is_empty() && rest.starts_with('.'))
    };
    let mut missing = Vec::new();
    for (name, value) in &manifest.settings {
        let Value::String(text) = value else { continue };
        if !in_effect(name) || process.contains_key(&own_variable(name)) {
            continue;
        }
        for variable in Template::parse(text).references() {
            if is_secret(manifest, variable) && !process.contains_key(variable) {
                missing.push(Missing {
                    variable: variable.to_owned(),
                    setting: name.clone(),
                });
            }
        }
    }
    missing
}

/// The literal secrets of meltano.yml that `plugin` needs and the pod lacks: the keys of the
/// `env:` blocks it sees (the project's, the environment's, its own). Its settings' keys are
/// among [`plugin_secrets`]' (a setting with a literal secret is sensitive).
#[must_use]
pub fn literal_secrets(
    manifest: &Manifest,
    plugin: &Plugin,
    literals: &BTreeMap<String, String>,
) -> Vec<Missing> {
    let place = format!("{}.{}", plugin.plugin_type, plugin.name);
    let blocks = std::iter::once(("env".to_owned(), &manifest.env))
        .chain(
            manifest
                .environment
                .iter()
                .map(|environment| ("environment.env".to_owned(), &environment.env)),
        )
        .chain(
            plugin
                .env
                .iter()
                .map(|block| (format!("{place}.env"), &block.vars)),
        );
    let mut missing: Vec<Missing> = Vec::new();
    for (block, vars) in blocks {
        for (name, value) in vars {
            let Some(literal) = value.secret_literal() else {
                continue;
            };
            let unset = literals.get(&literal.key).is_none_or(String::is_empty);
            let setting = format!("{block}.{name}");
            if unset && !missing.iter().any(|m| m.setting == setting) {
                missing.push(Missing {
                    variable: literal.key.clone(),
                    setting,
                });
            }
        }
    }
    missing
}

fn is_secret(manifest: &Manifest, variable: &str) -> bool {
    manifest
        .variables
        .get(variable)
        .is_some_and(|described| described.secret && described.defined_by.is_empty())
}

/// The error text: every missing variable with the setting that reads it.
#[must_use]
pub fn describe(owner: &str, missing: &[Missing]) -> String {
    let list = missing
        .iter()
        .map(|m| format!("{} (read by `{}`)", m.variable, m.setting))
        .collect::<Vec<_>>()
        .join(", ");
    let (noun, verb) = if missing.len() == 1 {
        ("variable", "is")
    } else {
        ("variables", "are")
    };
    format!(
        "{owner}: the secret {noun} {list} {verb} not set; give the pod its value (the \
         generated Secret has a key for each secret)"
    )
}
