//! Which values meltc treats as secrets (README "Secrets, literal or not"): the one
//! classifier that `meltc validate` (a literal secret is warned about where it is written) and
//! `meltc build` (a literal secret is kept out of every artifact and becomes a key of the
//! Secret) both ask, so that the warning and the build never disagree.
//!
//! A **setting** is secret by Meltano's own rule: its definition says `sensitive: true` or kind
//! `password` / `oauth` ([`crate::meltano::setting::Setting::sensitive`]). A **variable** set by an
//! `env:` block is secret when, first match wins:
//!
//! 1. a sensitive setting of a plugin of the project reads it (`TAP_ORACLE_PASSWORD` for the
//!    `password` of `tap-oracle`, Meltano's `PluginSettingsService.setting_env_vars`) or is
//!    written to it (the setting's own `env:`);
//! 2. a declared setting that is not sensitive reads it: it is not (the definition decides, as
//!    it does in Meltano);
//! 3. a secret value reads it: a sensitive setting's value or default anywhere in the project
//!    (a plugin's `config:`, an environment's entry for it, a mapping's `config:`), a project
//!    setting with a secret-looking name (`state_backend.s3.aws_secret_access_key`), or an
//!    `env:` entry that is itself secret (`TAP_X_PASSWORD: ${PG_PASS}` makes `PG_PASS` one),
//!    followed through any number of entries;
//! 4. its name looks like a secret ([`looks_secret`]: `*PASSWORD*`, `*TOKEN*`, `*SECRET*`, ...).
//!
//! The answer is the project's, not one environment's: a variable that is secret in one
//! environment is secret in all of them, so `validate` and every `build --env` agree.

use std::collections::BTreeMap;

use super::plugin::{Resolved, ResolvedPlugin};
use crate::meltano::env_var::to_env_var;
use crate::meltano::setting::{Declared, Setting};
use crate::meltano::template::{ConfigValue, Template, has_reference};
use crate::project::model::{self, Named, Plugin};
use crate::yaml::{Node, Value};

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

/// Whether text written in meltano.yml is a literal worth hiding: not empty, and no `${VAR}`
/// reference (a value that reads a variable is already kept as a reference).
#[must_use]
pub fn is_literal_text(text: &str) -> bool {
    !text.is_empty() && !has_reference(text)
}

/// Whether a YAML value written for a secret is a literal: a non-empty string without a
/// reference, a number, or a mapping or list holding one.
#[must_use]
pub fn is_literal_node(node: &Node) -> bool {
    match &node.value {
        Value::String(text) => is_literal_text(text),
        Value::Int(_) | Value::Float(_) => true,
        Value::Sequence(items) => items.iter().any(is_literal_node),
        Value::Mapping(mapping) => mapping.values().any(|(_, value)| is_literal_node(value)),
        Value::Null | Value::Bool(_) => false,
    }
}

/// Whose `env:` block it is.
#[derive(Clone, Copy, Debug)]
pub enum EnvOwner<'p> {
    /// The project's top-level `env:`.
    Project,
    /// A plugin's `env:`.
    Plugin(Plugin<'p>),
    /// An environment's `env:`.
    Environment(Named<'p>),
    /// An environment's entry for a plugin.
    EnvironmentPlugin(Named<'p>, Plugin<'p>),
    /// A schedule's `env:`.
    Schedule(Named<'p>),
}

impl EnvOwner<'_> {
    /// The environment the block belongs to, if any.
    #[must_use]
    pub fn environment(&self) -> Option<&str> {
        match self {
            EnvOwner::Environment(environment) | EnvOwner::EnvironmentPlugin(environment, _) => {
                Some(environment.name)
            }
            _ => None,
        }
    }

    /// The block in words: "the project's `env:`", "the `env:` of extractor `tap-x`", ...
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            EnvOwner::Project => "the project's `env:`".to_owned(),
            EnvOwner::Plugin(plugin) => format!(
                "the `env:` of {} `{}`",
                plugin.plugin_type.singular(),
                plugin.name()
            ),
            EnvOwner::Environment(environment) => {
                format!("the `env:` of environment `{}`", environment.name)
            }
            EnvOwner::EnvironmentPlugin(environment, plugin) => format!(
                "the `env:` of environment `{}` for {} `{}`",
                environment.name,
                plugin.plugin_type.singular(),
                plugin.name()
            ),
            EnvOwner::Schedule(schedule) => {
                format!("the `env:` of schedule `{}`", schedule.name)
            }
        }
    }
}

/// Every `env:` block of a merged meltano.yml document, with its owner, in file order by kind:
/// the project's, the plugins', the environments' (each with its plugin entries), the
/// schedules'.
#[must_use]
pub fn env_blocks(document: &Node) -> Vec<(EnvOwner<'_>, &Node)> {
    let mut blocks = Vec::new();
    if let Some(env) = document.get("env") {
        blocks.push((EnvOwner::Project, env));
    }
    for plugin in model::plugins(document) {
        if let Some(env) = plugin.entry.node.get("env") {
            blocks.push((EnvOwner::Plugin(plugin), env));
        }
    }
    for environment in model::environments(document) {
        if let Some(env) = environment.node.get("env") {
            blocks.push((EnvOwner::Environment(environment), env));
        }
        for plugin in model::environment_plugins(&environment) {
            if let Some(env) = plugin.entry.node.get("env") {
                blocks.push((EnvOwner::EnvironmentPlugin(environment, plugin), env));
            }
        }
    }
    for schedule in model::schedules(document) {
        if let Some(env) = schedule.node.get("env") {
            blocks.push((EnvOwner::Schedule(schedule), env));
        }
    }
    blocks
}

/// One plugin's env var prefixes, to find the settings that read a name without working out
/// the names of every setting of every plugin (thousands in a large project).
struct Prefixes<'r, 'p> {
    plugin: &'r ResolvedPlugin<'p>,
    /// Its read prefixes as env var prefixes (`TAP_X_`).
    read: Vec<String>,
    /// Whether a setting names variables of its own (`env:`, `env_aliases`).
    own_names: bool,
}

/// The project's secret variables (see the module documentation).
pub struct SecretNames<'r, 'p> {
    plugins: Vec<Prefixes<'r, 'p>>,
    /// Variables a secret value reads (rule 3), with why.
    read_by_secret: BTreeMap<String, String>,
}

impl<'r, 'p> SecretNames<'r, 'p> {
    /// Classify the variables of `resolved`'s project.
    #[must_use]
    pub fn new(resolved: &'r Resolved<'p>) -> Self {
        let plugins = resolved
            .plugins
            .iter()
            .map(|plugin| Prefixes {
                plugin,
                read: plugin
                    .read_prefixes
                    .iter()
                    .map(|prefix| format!("{}_", to_env_var(prefix, "")))
                    .collect(),
                own_names: plugin
                    .settings
                    .iter()
                    .chain(&plugin.extras)
                    .any(|setting| setting.env.is_some() || !setting.env_aliases.is_empty()),
            })
            .collect();
        let mut names = SecretNames {
            plugins,
            read_by_secret: BTreeMap::new(),
        };
        names.read_by_secret = names.secret_reads(resolved);
        names
    }

    /// Why the variable `name` (set by an `env:` block) holds a secret, or `None`.
    #[must_use]
    pub fn env_var(&self, name: &str) -> Option<String> {
        self.decide(name, &self.read_by_secret)
    }

    /// Rules 1 to 4, with `read_by_secret` as rule 3's answers so far.
    fn decide(&self, name: &str, read_by_secret: &BTreeMap<String, String>) -> Option<String> {
        let mut declared_plain = false;
        for (plugin, setting) in self.readers(name) {
            if setting.sensitive {
                return Some(format!(
                    "the sensitive setting `{}.{}.{}` reads it",
                    plugin.plugin_type, plugin.name, setting.name
                ));
            }
            declared_plain |= !matches!(setting.declared, Declared::Implicit(_));
        }
        if declared_plain {
            return None;
        }
        if let Some(reason) = read_by_secret.get(name) {
            return Some(reason.clone());
        }
        looks_secret(name).then(|| "the name looks like a secret".to_owned())
    }

    /// The sensitive setting that reads `name` (or is written to it), as `type.plugin.setting`.
    #[must_use]
    pub fn sensitive_reader(&self, name: &str) -> Option<String> {
        self.readers(name)
            .find(|(_, setting)| setting.sensitive)
            .map(|(plugin, setting)| {
                format!("`{}.{}.{}`", plugin.plugin_type, plugin.name, setting.name)
            })
    }

    /// The settings that read `name` from the environment, or are written to it by their own
    /// `env:`.
    fn readers<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = (&'r ResolvedPlugin<'p>, &'r Setting)> + 'a {
        self.plugins
            .iter()
            .filter(move |prefixes| {
                prefixes.own_names || prefixes.read.iter().any(|read| name.starts_with(read))
            })
            .flat_map(move |prefixes| {
                let plugin = prefixes.plugin;
                plugin
                    .settings
                    .iter()
                    .chain(&plugin.extras)
                    .filter(move |setting| {
                        setting.env.as_deref() == Some(name)
                            || setting
                                .env_vars_read(&plugin.read_prefixes, !plugin.inherits())
                                .iter()
                                .any(|var| var.name == name)
                    })
                    .map(move |setting| (plugin, setting.as_ref()))
            })
    }

    /// Rule 3: the variables that secret values read, followed through `env:` entries.
    fn secret_reads(&self, resolved: &Resolved<'_>) -> BTreeMap<String, String> {
        let document = &resolved.project.merged;
        let mut found: BTreeMap<String, String> = BTreeMap::new();
        let mut read = |value: &ConfigValue, because: &dyn Fn() -> String| {
            for name in value.references() {
                found.entry(name.to_owned()).or_insert_with(because);
            }
        };
        for (plugin, config) in config_nodes(resolved) {
            for (path, node) in leaves(config) {
                if let Some(setting) = sensitive_setting(plugin, &path) {
                    let value = ConfigValue::from_json(&node.to_json());
                    read(&value, &|| sensitive_value(plugin, setting));
                }
            }
        }
        for plugin in &resolved.plugins {
            for setting in plugin.settings.iter().filter(|setting| setting.sensitive) {
                if let Some(default) = &setting.default {
                    read(default, &|| sensitive_value(plugin, &setting.name));
                }
            }
        }
        for (key, node) in model::project_settings(document) {
            for (path, node) in leaves_under(key, node) {
                if looks_secret(&path) {
                    let value = ConfigValue::from_json(&node.to_json());
                    read(&value, &|| format!("the project setting `{path}` reads it"));
                }
            }
        }
        // An `env:` entry that is secret makes what it reads secret, however deep the chain.
        let entries: Vec<(&str, Vec<String>)> = env_blocks(document)
            .into_iter()
            .filter_map(|(_, block)| block.as_mapping())
            .flat_map(|block| block.iter())
            .filter_map(|(name, (_, value))| {
                let text = value.as_str()?;
                let reads: Vec<String> = Template::parse(text)
                    .references()
                    .map(str::to_owned)
                    .collect();
                (!reads.is_empty()).then_some((name.as_str(), reads))
            })
            .collect();
        loop {
            let before = found.len();
            for (name, reads) in &entries {
                if self.decide(name, &found).is_some() {
                    for variable in reads {
                        found
                            .entry(variable.clone())
                            .or_insert_with(|| format!("it sets the secret variable `{name}`"));
                    }
                }
            }
            if found.len() == before {
                break;
            }
        }
        found
    }
}

fn sensitive_value(plugin: &ResolvedPlugin<'_>, setting: &str) -> String {
    format!(
        "the sensitive setting `{}.{}.{setting}` reads it",
        plugin.plugin_type, plugin.name
    )
}

/// The sensitive setting a config leaf at `path` (dotted) sets: the setting of that name, or
/// of a dotted prefix of it (a leaf inside a sensitive object setting).
#[must_use]
pub fn sensitive_setting<'a>(plugin: &'a ResolvedPlugin<'_>, path: &str) -> Option<&'a str> {
    let mut candidate = path;
    loop {
        if let Some(setting) = plugin.setting(candidate) {
            if setting.sensitive {
                return Some(setting.name.as_str());
            }
        }
        candidate = candidate.rsplit_once('.')?.0;
    }
}

/// Every `config:` mapping that sets a plugin's settings, with the plugin: its own, a mapper's
/// mappings', and each environment's entry for it.
fn config_nodes<'r, 'p>(resolved: &'r Resolved<'p>) -> Vec<(&'r ResolvedPlugin<'p>, &'p Node)> {
    let mut nodes = Vec::new();
    let mut by_name = BTreeMap::new();
    for plugin in &resolved.plugins {
        by_name
            .entry((plugin.plugin_type, plugin.name.as_str()))
            .or_insert(plugin);
        nodes.extend(plugin.entry.entry.node.get("config").map(|c| (plugin, c)));
        for mapping in plugin.entry.mapping_names() {
            nodes.extend(mapping.node.get("config").map(|c| (plugin, c)));
        }
    }
    for environment in model::environments(&resolved.project.merged) {
        for entry in model::environment_plugins(&environment) {
            if let Some(plugin) = by_name.get(&(entry.plugin_type, entry.name())) {
                nodes.extend(entry.entry.node.get("config").map(|c| (*plugin, c)));
            }
        }
    }
    nodes
}

/// The leaves of a `config:` mapping as dotted paths (`credentials: {token: x}` ->
/// `credentials.token`); an empty mapping or a list is a leaf.
#[must_use]
pub fn leaves(config: &Node) -> Vec<(String, &Node)> {
    let mut out = Vec::new();
    if let Some(mapping) = config.as_mapping() {
        for (key, (_, value)) in mapping {
            out.extend(leaves_under(key, value));
        }
    }
    out
}

fn leaves_under<'n>(prefix: &str, node: &'n Node) -> Vec<(String, &'n Node)> {
    match node.as_mapping() {
        Some(mapping) if !mapping.is_empty() => mapping
            .iter()
            .flat_map(|(key, (_, value))| leaves_under(&format!("{prefix}.{key}"), value))
            .collect(),
        _ => vec![(prefix.to_owned(), node)],
    }
}

#[cfg(test)]
mod tests {
    use super::{is_literal_text, looks_secret};

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

    #[test]
    fn literals() {
        assert!(is_literal_text("hunter2"));
        assert!(is_literal_text("Bearer abc"));
        assert!(!is_literal_text(""));
        assert!(!is_literal_text("${PG_PASSWORD}"));
        assert!(!is_literal_text("Bearer $TOKEN"));
        // An escaped reference is literal text.
        assert!(is_literal_text("\\${NOT_A_REF}"));
    }
}
