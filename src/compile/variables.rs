//! Every variable a manifest references, with whether its value is a secret.
//!
//! A variable is a secret when a sensitive setting's value reads it, when it feeds an `env:`
//! entry that sets a sensitive setting (`TAP_X_PASSWORD: ${PG_PASSWORD}`) or a secret-looking
//! name, when a project setting with a secret-looking name reads it
//! (`state_backend.s3.aws_secret_access_key`), or when its own name looks like one
//! (`PASSWORD`, `SECRET`, `TOKEN`, `API_KEY`, ...). Anything else is configuration. The
//! emitters put secrets in a Kubernetes Secret and the rest in a ConfigMap; when unsure, the
//! name rule errs towards secret.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde_json::Value;

use crate::manifest::{self, Manifest, Variable};
use crate::project::PluginType;
use crate::resolve::expand::Template;
use crate::resolve::settings::{EnvVar, to_env_var};

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
        names: &SettingNames<'_>,
    ) {
        for (name, value) in vars {
            let used_by = format!("{place}.{name}");
            let because = (Template::parse(value).references().next().is_some())
                .then(|| names.sensitive_reader(name))
                .flatten()
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

/// Answers "which setting reads or writes the variable `NAME`?" for the few names a project
/// references, without working out the names of every setting of every plugin (thousands in
/// a large project): only plugins whose env var prefix starts the name are asked.
struct SettingNames<'m> {
    manifest: &'m Manifest,
    /// Per plugin: its read and write prefixes as env var prefixes (`TAP_X_`), and whether a
    /// setting names its own variables (`env:`, `env_aliases`).
    prefixes: Vec<(Vec<String>, Vec<String>, bool)>,
    /// The project settings' variables (`MELTANO_STATE_BACKEND_URI`).
    project_settings: Vec<String>,
}

impl<'m> SettingNames<'m> {
    fn new(manifest: &'m Manifest) -> Self {
        let normalized = |prefixes: &[String]| -> Vec<String> {
            prefixes
                .iter()
                .map(|prefix| format!("{}_", to_env_var(prefix, "")))
                .collect()
        };
        let prefixes = manifest
            .plugins
            .iter()
            .map(|plugin| {
                let own_names = plugin
                    .settings
                    .iter()
                    .chain(&plugin.extras)
                    .any(|setting| setting.env.is_some() || !setting.env_aliases.is_empty());
                (
                    normalized(&plugin.read_prefixes),
                    normalized(&plugin.write_prefixes),
                    own_names,
                )
            })
            .collect();
        let project_settings = manifest
            .settings
            .keys()
            .map(|setting| to_env_var("meltano", setting))
            .collect();
        SettingNames {
            manifest,
            prefixes,
            project_settings,
        }
    }

    /// Candidate settings for `name`: of plugins with a matching prefix, or with their own
    /// `env:` / `env_aliases`.
    fn candidates<'a>(
        &'a self,
        name: &'a str,
        write: bool,
    ) -> impl Iterator<Item = (&'m manifest::Plugin, &'m manifest::Setting)> + 'a {
        self.manifest
            .plugins
            .iter()
            .zip(&self.prefixes)
            .filter(move |(_, (read, written, own_names))| {
                let prefixes = if write { written } else { read };
                *own_names
                    || prefixes
                        .iter()
                        .any(|prefix| name.starts_with(prefix.as_str()))
            })
            .flat_map(move |(plugin, (read, written, _))| {
                let prefixes = if write { written } else { read };
                let by_prefix = prefixes
                    .iter()
                    .any(|prefix| name.starts_with(prefix.as_str()));
                plugin
                    .settings
                    .iter()
                    .chain(&plugin.extras)
                    .filter(move |setting| {
                        by_prefix
                            || setting.env.as_deref() == Some(name)
                            || !setting.env_aliases.is_empty()
                    })
                    .map(move |setting| (plugin, setting))
            })
    }

    /// The sensitive setting `name` is read from, as `type.plugin.setting`.
    fn sensitive_reader(&self, name: &str) -> Option<String> {
        self.candidates(name, false)
            .filter(|(_, setting)| setting.sensitive)
            .find(|(plugin, setting)| {
                setting
                    .model()
                    .env_vars_read(&plugin.read_prefixes, plugin.read_env_aliases)
                    .iter()
                    .any(|var: &EnvVar| var.name == name)
            })
            .map(|(plugin, setting)| {
                format!("`{}.{}.{}`", plugin.plugin_type, plugin.name, setting.name)
            })
    }

    /// Whether meltc-run sets `name` for a plugin, as Meltano does (spec §7.4): its own
    /// variables, a plugin's info, a setting with a value under each name it is written to
    /// (later blocks of a pipeline see earlier blocks' variables), a project setting as
    /// `MELTANO_<NAME>`.
    fn set_by_runtime(&self, name: &str) -> bool {
        const OWN: &[&str] = &[
            "MELTANO_PROJECT_ROOT",
            "MELTANO_ENVIRONMENT",
            "MELTANO_SYS_DIR_ROOT",
            "MELTANO_USER_AGENT",
        ];
        if OWN.contains(&name) {
            return true;
        }
        let info = PluginType::ALL.iter().any(|plugin_type| {
            ["NAME", "NAMESPACE", "VARIANT"].iter().any(|part| {
                name == format!(
                    "MELTANO_{}_{part}",
                    plugin_type.singular().to_ascii_uppercase()
                )
            })
        });
        info || self.project_settings.iter().any(|setting| setting == name)
            || self
                .candidates(name, true)
                .filter(|(_, setting)| setting.value.is_some())
                .any(|(plugin, setting)| {
                    setting
                        .model()
                        .env_vars_written(&plugin.write_prefixes)
                        .iter()
                        .any(|written| written == name)
                })
    }
}

/// Every variable `manifest` references or defines, classified.
#[must_use]
pub fn variables(manifest: &Manifest) -> BTreeMap<String, Variable> {
    let names = SettingNames::new(manifest);
    let mut collector = Collector::default();
    collector.env_block(&manifest.env, "env", &names);
    if let Some(environment) = &manifest.environment {
        collector.env_block(&environment.env, "environment.env", &names);
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
            collector.env_block(&block.vars, &format!("{place}.env"), &names);
        }
        for (name, command) in &plugin.commands {
            collector.text(&command.args, &format!("{place}.commands.{name}"), None);
        }
        for mapping in &plugin.mappings {
            // A mapping is a plugin of its own: its settings' values are what it reads.
            // Its copy of the mapper's `mappings` list is the mapper's reader already.
            let own = mapping
                .extras
                .iter()
                .filter(|extra| extra.name != "_mappings");
            for setting in mapping.settings.iter().chain(own) {
                let Some(value) = &setting.value else {
                    continue;
                };
                let used_by = format!("{place}.mappings.{}.{}", mapping.name, setting.name);
                let because = setting
                    .sensitive
                    .then(|| format!("read by the sensitive setting `{used_by}`"));
                collector.value(value, &used_by, because.as_deref());
            }
        }
    }
    for schedule in &manifest.schedules {
        collector.env_block(
            &schedule.env,
            &format!("schedules.{}.env", schedule.name),
            &names,
        );
    }
    collector
        .found
        .into_iter()
        // A variable an `env:` block only sets, that nothing reads, needs nothing from anyone.
        .filter(|(_, found)| !found.used_by.is_empty())
        .map(|(name, found)| {
            let runtime = names.set_by_runtime(&name);
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
