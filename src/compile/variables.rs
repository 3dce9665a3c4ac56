//! Every variable a manifest references, with whether its value is a secret.
//!
//! A variable is a secret when a sensitive setting's value reads it, when it feeds an `env:`
//! entry that sets a sensitive setting (`TAP_X_PASSWORD: ${PG_PASSWORD}`) or a secret-looking
//! name, when a project setting with a secret-looking name reads it
//! (`state_backend.s3.aws_secret_access_key`), or when its own name looks like one
//! (`PASSWORD`, `SECRET`, `TOKEN`, `API_KEY`, ...). Anything else is configuration. The
//! emitters put secrets in a Kubernetes Secret and the rest in a ConfigMap; when unsure, the
//! name rule errs towards secret.

use std::collections::{BTreeMap, BTreeSet};

use indexmap::IndexMap;
use serde_json::Value;

use crate::manifest::{self, Manifest, Variable};
use crate::project::PluginType;
use crate::resolve::expand::{ConfigValue, Template};
use crate::resolve::settings::{Declared, EnvVar, Setting, to_env_var};

/// Parts of a name that mark it as a secret.
const SECRET_WORDS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "TOKEN",
    "PRIVATE",
    "CREDENTIAL",
    "API_KEY",
    "APIKEY",
    "ACCESS_KEY",
    "AUTH",
    "CONNECTION_STRING",
];

/// Whether a variable or setting name looks like it holds a secret.
#[must_use]
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_WORDS.iter().any(|word| upper.contains(word))
}

#[derive(Default)]
struct Found {
    secret_because: Option<String>,
    defined_by: Vec<String>,
    used_by: Vec<String>,
}

/// Collects references while the manifest is walked.
#[derive(Default)]
struct Collector {
    found: BTreeMap<String, Found>,
}

impl Collector {
    fn reference(&mut self, name: &str, used_by: &str, secret_because: Option<&str>) {
        let found = self.found.entry(name.to_owned()).or_default();
        if !found.used_by.iter().any(|known| known == used_by) {
            found.used_by.push(used_by.to_owned());
        }
        if found.secret_because.is_none() {
            found.secret_because = secret_because.map(str::to_owned);
        }
    }

    fn text(&mut self, text: &str, used_by: &str, secret_because: Option<&str>) {
        for name in Template::parse(text).references() {
            self.reference(name, used_by, secret_because);
        }
    }

    fn value(&mut self, value: &Value, used_by: &str, secret_because: Option<&str>) {
        match value {
            Value::String(text) => self.text(text, used_by, secret_because),
            Value::Array(items) => items
                .iter()
                .for_each(|item| self.value(item, used_by, secret_because)),
            Value::Object(map) => map
                .values()
                .for_each(|item| self.value(item, used_by, secret_because)),
            _ => {}
        }
    }

    /// An `env:` block: each entry defines its name and references what its value reads.
    fn env_block(
        &mut self,
        vars: &IndexMap<String, String>,
        place: &str,
        sensitive_env: &BTreeMap<String, String>,
    ) {
        for (name, value) in vars {
            let used_by = format!("{place}.{name}");
            let because = sensitive_env
                .get(name)
                .map(|setting| format!("sets the sensitive setting {setting}"))
                .or_else(|| looks_secret(name).then(|| format!("sets `{name}`")));
            self.text(value, &used_by, because.as_deref());
            self.define(name, place);
        }
    }

    fn define(&mut self, name: &str, place: &str) {
        let found = self.found.entry(name.to_owned()).or_default();
        if !found.defined_by.iter().any(|known| known == place) {
            found.defined_by.push(place.to_owned());
        }
    }
}

/// The parts of a manifest setting that decide its env var names, as the resolver's model.
fn setting_model(setting: &manifest::Setting) -> Setting {
    Setting {
        aliases: setting.aliases.clone(),
        env: setting.env.clone(),
        env_aliases: setting.env_aliases.clone(),
        ..Setting::implicit(&setting.name, &ConfigValue::Null, Declared::Builtin, false)
    }
}

/// The env var names every sensitive setting is read from -> `type.plugin.setting`.
fn sensitive_env_names(manifest: &Manifest) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for plugin in &manifest.plugins {
        for setting in plugin.settings.iter().filter(|setting| setting.sensitive) {
            let read = setting_model(setting)
                .env_vars_read(&plugin.read_prefixes, plugin.read_env_aliases);
            for EnvVar { name, .. } in read {
                names.entry(name).or_insert_with(|| {
                    format!("`{}.{}.{}`", plugin.plugin_type, plugin.name, setting.name)
                });
            }
        }
    }
    names
}

/// The variables meltc-run sets for a plugin, as Meltano does (spec §7.4): its own, each
/// plugin's info, every setting with a value under each name it is written to (later blocks
/// of a pipeline see earlier blocks' variables), and the project settings as `MELTANO_<NAME>`.
fn runtime_names(manifest: &Manifest) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = [
        "MELTANO_PROJECT_ROOT",
        "MELTANO_ENVIRONMENT",
        "MELTANO_SYS_DIR_ROOT",
        "MELTANO_USER_AGENT",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    for plugin in &manifest.plugins {
        if let Some(plugin_type) = PluginType::parse(&plugin.plugin_type) {
            for part in ["NAME", "NAMESPACE", "VARIANT"] {
                names.insert(format!(
                    "MELTANO_{}_{part}",
                    plugin_type.singular().to_ascii_uppercase()
                ));
            }
        }
        for setting in plugin.settings.iter().chain(&plugin.extras) {
            if setting.value.is_some() {
                names.extend(setting_model(setting).env_vars_written(&plugin.write_prefixes));
            }
        }
    }
    for name in manifest.settings.keys() {
        names.insert(to_env_var("meltano", name));
    }
    names
}

/// Every variable `manifest` references or defines, classified.
#[must_use]
pub fn variables(manifest: &Manifest) -> BTreeMap<String, Variable> {
    let sensitive_env = sensitive_env_names(manifest);
    let runtime_names = runtime_names(manifest);
    let mut collector = Collector::default();
    collector.env_block(&manifest.env, "env", &sensitive_env);
    if let Some(environment) = &manifest.environment {
        collector.env_block(&environment.env, "environment.env", &sensitive_env);
        if let Some(suffix) = &environment.state_id_suffix {
            collector.text(suffix, "environment.state_id_suffix", None);
        }
    }
    for (name, value) in &manifest.settings {
        let because = looks_secret(name).then(|| format!("read by the project setting `{name}`"));
        collector.value(value, &format!("settings.{name}"), because.as_deref());
    }
    for plugin in &manifest.plugins {
        let place = format!("{}.{}", plugin.plugin_type, plugin.name);
        if let Some(pip_url) = &plugin.pip_url {
            collector.text(pip_url, &format!("{place}.pip_url"), None);
        }
        for setting in plugin.settings.iter().chain(&plugin.extras) {
            let Some(value) = &setting.value else {
                continue;
            };
            let used_by = format!("{place}.{}", setting.name);
            let because = setting
                .sensitive
                .then(|| format!("read by the sensitive setting `{used_by}`"));
            collector.value(value, &used_by, because.as_deref());
        }
        for block in &plugin.env {
            collector.env_block(&block.vars, &format!("{place}.env"), &sensitive_env);
        }
        for (name, command) in &plugin.commands {
            collector.text(&command.args, &format!("{place}.commands.{name}"), None);
        }
        for mapping in &plugin.mappings {
            for value in mapping.config.values() {
                collector.value(value, &format!("{place}.mappings.{}", mapping.name), None);
            }
        }
    }
    for schedule in &manifest.schedules {
        collector.env_block(
            &schedule.env,
            &format!("schedules.{}.env", schedule.name),
            &sensitive_env,
        );
    }
    collector
        .found
        .into_iter()
        // A variable an `env:` block only sets, that nothing reads, needs nothing from anyone.
        .filter(|(_, found)| !found.used_by.is_empty())
        .map(|(name, found)| {
            let runtime = runtime_names.contains(&name);
            let (secret, reason) = match (&found.secret_because, runtime) {
                (_, true) => (false, "set by meltc-run".to_owned()),
                (Some(because), false) => (true, because.clone()),
                (None, false) if looks_secret(&name) => {
                    (true, "the name looks like a secret".to_owned())
                }
                (None, false) => (
                    false,
                    "no sensitive setting reads it and the name does not look like a secret"
                        .to_owned(),
                ),
            };
            let mut defined_by = found.defined_by;
            if runtime {
                defined_by.push("runtime".to_owned());
            }
            let mut used_by = found.used_by;
            used_by.sort();
            (
                name,
                Variable {
                    secret,
                    reason,
                    defined_by,
                    used_by,
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::looks_secret;

    #[test]
    fn secret_names() {
        for name in [
            "PG_PASSWORD",
            "GITHUB_TOKEN",
            "aws_secret_access_key",
            "AWS_ACCESS_KEY_ID",
            "STRIPE_API_KEY",
            "GCP_CREDENTIALS_JSON",
            "TAP_X_AUTH_HEADER",
        ] {
            assert!(looks_secret(name), "{name}");
        }
        for name in [
            "PG_HOST",
            "PG_USER",
            "AWS_DEFAULT_REGION",
            "START_DATE",
            "BUCKET",
        ] {
            assert!(!looks_secret(name), "{name}");
        }
    }
}
