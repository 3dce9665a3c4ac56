//! Every variable a manifest references, with whether its value is a secret.
//!
//! A variable is a secret when a sensitive setting's value reads it, when it feeds an `env:`
//! entry that sets a sensitive setting (`TAP_X_PASSWORD: ${PG_PASSWORD}`) or a secret-looking
//! name, when a project setting with a secret-looking name reads it
//! (`state_backend.s3.aws_secret_access_key`), or when its own name looks like one
//! (`PASSWORD`, `SECRET`, `TOKEN`, `API_KEY`, ...: [`looks_secret`]). Anything else is
//! configuration. The emitters put secrets in a Kubernetes Secret and the rest in a ConfigMap;
//! when unsure, the name rule errs towards secret.
//!
//! A variable is **set by meltc-run** (no input of the pod) when every place that reads it gets
//! it from the run itself: Meltano's own variables, a plugin's info, a project setting, or a
//! setting with a value that an earlier block of the pipeline writes (a loader's
//! `$MELTANO_EXTRACT__LOAD_SCHEMA`). A plugin's setting never sees the variables its own
//! settings are written to (an extra or a command does), so `api_key: ${TARGET_X_API_KEY}` on
//! `target-x` reads the pod's variable: the pod must be given it.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::manifest::{EnvMap, Manifest, Plugin, Variable};
use crate::meltano::PluginType;
use crate::meltano::env_var::to_env_var;
use crate::meltano::template::Template;
use crate::resolve::secrets::{SecretNames, looks_secret};

/// Who reads a variable at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reader {
    /// The project (its and the environment's `env:`, its settings) or the image build: the
    /// run sets nothing for it.
    Project,
    /// A plugin (its index in the manifest), and whether the place sees the variables the
    /// plugin's own settings are written to (extras and commands do, settings and `env:` do
    /// not).
    Plugin(usize, bool),
}

#[derive(Default)]
struct Found {
    secret_because: Option<String>,
    defined_by: Vec<String>,
    used_by: Vec<String>,
    readers: Vec<Reader>,
}

/// Collects references while the manifest is walked.
struct Collector<'s, 'r, 'p> {
    secrets: &'s SecretNames<'r, 'p>,
    found: BTreeMap<String, Found>,
}

impl Collector<'_, '_, '_> {
    fn reference(
        &mut self,
        name: &str,
        used_by: &str,
        reader: Reader,
        secret_because: Option<&str>,
    ) {
        let found = self.found.entry(name.to_owned()).or_default();
        if !found.used_by.iter().any(|known| known == used_by) {
            found.used_by.push(used_by.to_owned());
        }
        if !found.readers.contains(&reader) {
            found.readers.push(reader);
        }
        if found.secret_because.is_none() {
            found.secret_because = secret_because.map(str::to_owned);
        }
    }

    fn text(&mut self, text: &str, used_by: &str, reader: Reader, secret_because: Option<&str>) {
        for name in Template::parse(text).references() {
            self.reference(name, used_by, reader, secret_because);
        }
    }

    fn value(&mut self, value: &Value, used_by: &str, reader: Reader, because: Option<&str>) {
        match value {
            Value::String(text) => self.text(text, used_by, reader, because),
            Value::Array(items) => items
                .iter()
                .for_each(|item| self.value(item, used_by, reader, because)),
            Value::Object(map) => map
                .values()
                .for_each(|item| self.value(item, used_by, reader, because)),
            _ => {}
        }
    }

    /// An `env:` block: each entry defines its name and references what its value reads (a
    /// secret kept out of the manifest reads nothing: its value comes from the Secret).
    fn env_block(&mut self, vars: &EnvMap, place: &str, reader: Reader) {
        for (name, value) in vars {
            if let Some(text) = value.written() {
                let used_by = format!("{place}.{name}");
                let because = (Template::parse(text).references().next().is_some())
                    .then(|| self.secrets.sensitive_reader(name))
                    .flatten()
                    .map(|setting| format!("sets the sensitive setting {setting}"))
                    .or_else(|| looks_secret(name).then(|| format!("sets `{name}`")));
                self.text(text, &used_by, reader, because.as_deref());
            }
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

/// Answers "does the run itself set the variable `NAME` for this reader?" for the few names a
/// project references, without working out the names of every setting of every plugin
/// (thousands in a large project): only plugins whose env var prefix starts the name are asked.
struct Written<'m> {
    manifest: &'m Manifest,
    /// Per plugin: its write prefixes as env var prefixes (`TAP_X_`), and whether a setting
    /// names its own variables (`env:`, `env_aliases`).
    prefixes: Vec<(Vec<String>, bool)>,
    /// The project settings' variables (`MELTANO_STATE_BACKEND_URI`).
    project_settings: Vec<String>,
}

impl<'m> Written<'m> {
    fn new(manifest: &'m Manifest) -> Self {
        let prefixes = manifest
            .plugins
            .iter()
            .map(|plugin| {
                let own_names = plugin
                    .settings
                    .iter()
                    .chain(&plugin.extras)
                    .any(|setting| setting.env.is_some() || !setting.env_aliases.is_empty());
                let written = plugin
                    .write_prefixes
                    .iter()
                    .map(|prefix| format!("{}_", to_env_var(prefix, "")))
                    .collect();
                (written, own_names)
            })
            .collect();
        let project_settings = manifest
            .settings
            .keys()
            .map(|setting| to_env_var("meltano", setting))
            .collect();
        Written {
            manifest,
            prefixes,
            project_settings,
        }
    }

    /// Whether meltc-run sets `name` for every reader, as Meltano does (`PluginInvoker.env` in
    /// `core/plugin_invoker.py`, `ELBContextBuilder.make_block` in `core/block/extract_load.py`):
    /// its own variables, a plugin's info, a project setting as `MELTANO_<NAME>`, or a setting
    /// with a value written under that name by a plugin the reader sees the settings of.
    fn by_runtime(&self, name: &str, readers: &[Reader]) -> bool {
        const OWN: &[&str] = &[
            "MELTANO_PROJECT_ROOT",
            "MELTANO_ENVIRONMENT",
            "MELTANO_SYS_DIR_ROOT",
            "MELTANO_USER_AGENT",
        ];
        let info = PluginType::ALL.iter().any(|plugin_type| {
            ["NAME", "NAMESPACE", "VARIANT"].iter().any(|part| {
                name == format!(
                    "MELTANO_{}_{part}",
                    plugin_type.singular().to_ascii_uppercase()
                )
            })
        });
        if OWN.contains(&name) || info || self.project_settings.iter().any(|s| s == name) {
            return true;
        }
        let writers = self.writers(name);
        !readers.is_empty()
            && readers.iter().all(|reader| match *reader {
                Reader::Project => false,
                Reader::Plugin(index, sees_own) => writers.iter().any(|&writer| {
                    (writer == index && sees_own) || self.earlier_block(writer, index)
                }),
            })
    }

    /// The plugins (indexes) with a setting that has a value and is written to `name`, where
    /// that value does not read `name` itself.
    fn writers(&self, name: &str) -> Vec<usize> {
        self.manifest
            .plugins
            .iter()
            .zip(&self.prefixes)
            .enumerate()
            .filter(|(_, (_, (prefixes, own_names)))| {
                *own_names
                    || prefixes
                        .iter()
                        .any(|prefix| name.starts_with(prefix.as_str()))
            })
            .filter(|(_, (plugin, _))| writes(plugin, name))
            .map(|(index, _)| index)
            .collect()
    }

    /// Whether `writer` runs before `reader` in one pipeline, so that `reader` is configured
    /// with `writer`'s variables (Meltano's `ELBContextBuilder.make_block`): an extractor
    /// before mappers and loaders, a mapper before loaders and other mappers.
    fn earlier_block(&self, writer: usize, reader: usize) -> bool {
        let rank = |index: usize| match self.manifest.plugins[index].plugin_type.as_str() {
            "extractors" => Some(0),
            "mappers" => Some(1),
            "loaders" => Some(2),
            _ => None,
        };
        match (rank(writer), rank(reader)) {
            (Some(1), Some(1)) => writer != reader,
            (Some(writer), Some(reader)) => writer < reader,
            _ => false,
        }
    }
}

/// Whether a setting of `plugin` with a value is written to `name`, from a value that does not
/// read `name` (`api_key: ${TARGET_X_API_KEY}` gives `TARGET_X_API_KEY` nothing of its own).
fn writes(plugin: &Plugin, name: &str) -> bool {
    plugin
        .settings
        .iter()
        .chain(&plugin.extras)
        .filter(|setting| setting.value.is_some() || setting.secret_literal.is_some())
        .filter(|setting| !setting.references.iter().any(|read| read == name))
        .any(|setting| {
            setting
                .model()
                .env_vars_written(&plugin.write_prefixes)
                .iter()
                .any(|written| written == name)
        })
}

/// Every variable `manifest` references or defines, classified.
#[must_use]
pub fn variables(manifest: &Manifest, secrets: &SecretNames<'_, '_>) -> BTreeMap<String, Variable> {
    let mut collector = Collector {
        secrets,
        found: BTreeMap::new(),
    };
    collector.env_block(&manifest.env, "env", Reader::Project);
    if let Some(environment) = &manifest.environment {
        collector.env_block(&environment.env, "environment.env", Reader::Project);
        if let Some(suffix) = &environment.state_id_suffix {
            collector.text(suffix, "environment.state_id_suffix", Reader::Project, None);
        }
    }
    for (name, value) in &manifest.settings {
        let because = looks_secret(name).then(|| format!("read by the project setting `{name}`"));
        let place = format!("settings.{name}");
        collector.value(value, &place, Reader::Project, because.as_deref());
    }
    for (index, plugin) in manifest.plugins.iter().enumerate() {
        let place = format!("{}.{}", plugin.plugin_type, plugin.name);
        if let Some(pip_url) = &plugin.pip_url {
            collector.text(pip_url, &format!("{place}.pip_url"), Reader::Project, None);
        }
        for setting in &plugin.settings {
            setting_references(
                &mut collector,
                &place,
                setting,
                Reader::Plugin(index, false),
            );
        }
        for extra in &plugin.extras {
            setting_references(&mut collector, &place, extra, Reader::Plugin(index, true));
        }
        for block in &plugin.env {
            collector.env_block(
                &block.vars,
                &format!("{place}.env"),
                Reader::Plugin(index, false),
            );
        }
        for (name, command) in &plugin.commands {
            let used_by = format!("{place}.commands.{name}");
            collector.text(&command.args, &used_by, Reader::Plugin(index, true), None);
        }
        for mapping in &plugin.mappings {
            // A mapping is a plugin of its own: its settings' values are what it reads.
            // Its copy of the mapper's `mappings` list is the mapper's reader already.
            let place = format!("{place}.mappings.{}", mapping.name);
            for setting in &mapping.settings {
                setting_references(
                    &mut collector,
                    &place,
                    setting,
                    Reader::Plugin(index, false),
                );
            }
            for extra in mapping
                .extras
                .iter()
                .filter(|extra| extra.name != "_mappings")
            {
                setting_references(&mut collector, &place, extra, Reader::Plugin(index, true));
            }
        }
    }
    for schedule in &manifest.schedules {
        let place = format!("schedules.{}.env", schedule.name);
        collector.env_block(&schedule.env, &place, Reader::Project);
    }
    let written = Written::new(manifest);
    collector
        .found
        .into_iter()
        // A variable an `env:` block only sets, that nothing reads, needs nothing from anyone.
        .filter(|(_, found)| !found.used_by.is_empty())
        .map(|(name, found)| {
            let runtime = written.by_runtime(&name, &found.readers);
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

/// The variables a setting's value as written reads.
fn setting_references(
    collector: &mut Collector<'_, '_, '_>,
    place: &str,
    setting: &crate::manifest::Setting,
    reader: Reader,
) {
    let Some(value) = &setting.value else {
        return;
    };
    let used_by = format!("{place}.{}", setting.name);
    let because = setting
        .sensitive
        .then(|| format!("read by the sensitive setting `{used_by}`"));
    collector.value(value, &used_by, reader, because.as_deref());
}
