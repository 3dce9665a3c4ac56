//! How `meltc config` prints a plugin's configuration: a table for people, JSON for tools,
//! `NAME=value` lines for shells. Secret values are replaced here, before anything is
//! rendered, unless `--show-secrets`.
//!
//! The JSON document is part of meltc's interface (README "`meltc config --format json`").

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use crate::diagnostics::{SourceMap, Span};
use crate::meltano::env_layers::EnvSource;
use crate::meltano::setting::Declared;
use crate::meltano::setting_value::{SettingValue, Source, Variable, VariableOrigin, written_env};
use crate::resolve::config::PluginConfig;
use crate::resolve::{Origin, Resolved, ResolvedPlugin};

/// What Meltano prints instead of a secret (`meltano config print` without `--unsafe`).
pub const REDACTED: &str = "*****";

/// Everything the printers need.
pub struct View<'a, 'p> {
    /// The resolved project.
    pub resolved: &'a Resolved<'p>,
    /// The plugin shown.
    pub plugin: &'a ResolvedPlugin<'p>,
    /// The selected environment.
    pub environment: Option<&'a str>,
    /// Its evaluated configuration.
    pub config: &'a PluginConfig,
    /// Print secrets as they are.
    pub show_secrets: bool,
    /// The project's files, for `file:line`.
    pub sources: &'a SourceMap,
}

impl View<'_, '_> {
    /// Settings then extras, with secrets replaced unless asked for (and whether they were).
    fn values(&self) -> Vec<(SettingValue, bool)> {
        self.config
            .settings
            .iter()
            .chain(&self.config.extras)
            .map(|value| (self.shown(value), self.is_redacted(value)))
            .collect()
    }

    fn shown(&self, value: &SettingValue) -> SettingValue {
        let mut shown = value.clone();
        if self.is_redacted(value) {
            shown.value = Some(Value::String(REDACTED.to_owned()));
        }
        shown
    }

    fn is_redacted(&self, value: &SettingValue) -> bool {
        !self.show_secrets
            && value.value.as_ref().is_some_and(truthy)
            && (value.setting.sensitive || self.holds_secret(value))
    }

    /// Whether a value that is not itself secret holds one: it reads a variable a sensitive
    /// setting reads (or whose name looks secret), or contains a sensitive setting's value. A
    /// mapper's `_mappings` holds every mapping's config, secrets included.
    fn holds_secret(&self, value: &SettingValue) -> bool {
        let secret_variables = self.secret_variables();
        if value.variables.iter().any(|variable| {
            secret_variables.contains(&variable.name)
                || crate::resolve::secrets::looks_secret(&variable.name)
        }) {
            return true;
        }
        let text = value
            .value
            .as_ref()
            .map(Value::to_string)
            .unwrap_or_default();
        self.config
            .settings
            .iter()
            .chain(&self.config.extras)
            .filter(|other| other.setting.sensitive)
            .filter_map(|other| match &other.value {
                Some(Value::String(secret)) if !secret.is_empty() => Some(secret.as_str()),
                _ => None,
            })
            .any(|secret| text.contains(secret))
    }

    /// The variables sensitive settings read: this plugin's, and those of its mapper's
    /// mappings as written (each mapping is a plugin of its own).
    fn secret_variables(&self) -> std::collections::BTreeSet<String> {
        let mut names: std::collections::BTreeSet<String> = self
            .config
            .settings
            .iter()
            .chain(&self.config.extras)
            .filter(|value| value.setting.sensitive)
            .flat_map(|value| value.variables.iter().map(|variable| variable.name.clone()))
            .collect();
        let mapper = self
            .resolved
            .plugins
            .iter()
            .find(|entry| std::ptr::eq(entry.entry.entry.node, self.plugin.entry.entry.node));
        for mapping in mapper
            .into_iter()
            .flat_map(|mapper| self.resolved.mappings_of(mapper))
        {
            let Ok(values) = crate::resolve::config::written_values(self.resolved, None, mapping)
            else {
                continue;
            };
            for written in values.iter().filter(|written| written.setting.sensitive) {
                if let Some(value) = &written.value {
                    names.extend(value.references().into_iter().map(str::to_owned));
                }
            }
        }
        names
    }

    /// What `meltano config print` shows, from redacted values unless asked.
    fn config_object(&self) -> Map<String, Value> {
        if self.show_secrets {
            return self.config.config.clone();
        }
        let settings: Vec<SettingValue> = self
            .config
            .settings
            .iter()
            .map(|value| self.shown(value))
            .collect();
        crate::meltano::plugin_config::processed(self.plugin.class, &settings)
    }

    fn env_vars(&self) -> indexmap::IndexMap<String, String> {
        if self.show_secrets {
            return self.config.env.clone();
        }
        let values: Vec<SettingValue> = self.values().into_iter().map(|(value, _)| value).collect();
        written_env(&self.plugin.write_prefixes, &values)
    }

    /// The end of the plugin's `inherit_from` chain: the plugin whose definition it uses.
    fn definition_root(&self) -> &ResolvedPlugin<'_> {
        self.resolved
            .chain(self.plugin)
            .last()
            .copied()
            .unwrap_or(self.plugin)
    }

    /// What kind of definition the plugin has, for "default (lock file)".
    fn definition_kind(&self) -> &'static str {
        let root = self.definition_root();
        match &root.origin {
            Origin::Custom => "custom plugin",
            Origin::Lock(_) => "lock file",
            Origin::Hub { .. } => "hub index",
            _ => "definition",
        }
    }

    /// Where the definition comes from, in words.
    fn definition(&self) -> String {
        let root = self.definition_root();
        match &root.origin {
            Origin::Custom => format!("custom plugin `{}`", root.name),
            Origin::Lock(path) => format!("lock file {}", relative(self.resolved, path)),
            Origin::Hub { variant, .. } => {
                format!("hub index {}--{variant}", root.definition_name)
            }
            Origin::InvalidLock(path, _) => {
                format!("unusable lock file {}", relative(self.resolved, path))
            }
            Origin::UnknownVariant(_) => "no definition (unknown variant)".to_owned(),
            Origin::Cycle => "no definition (inherit_from cycle)".to_owned(),
            Origin::Unresolved | Origin::Parent(_) => "no definition found".to_owned(),
        }
    }
}

fn truthy(value: &Value) -> bool {
    !matches!(value, Value::Null | Value::Bool(false))
        && value.as_str().is_none_or(|text| !text.is_empty())
}

fn relative(resolved: &Resolved<'_>, path: &std::path::Path) -> String {
    path.strip_prefix(&resolved.project.root)
        .map_or_else(|_| path.display().to_string(), crate::project::slash_path)
}

/// `file:line` of a span.
fn place(span: Span, sources: &SourceMap) -> String {
    let file = sources.get(span.file);
    let (line, _) = file.line_col(span.start);
    format!("{}:{line}", file.name())
}

fn place_or(span: Option<Span>, sources: Option<&SourceMap>, fallback: &str) -> String {
    match (span, sources) {
        (Some(span), Some(sources)) => place(span, sources),
        _ => fallback.to_owned(),
    }
}

/// A source in words: `meltano.yml:12`, `environment prod (meltano.yml:40)`, `TAP_X_HOST
/// (process)`, `inherited from tap-x: meltano.yml:3`; `definition` names the plugin's
/// definition for its defaults (`lock file`).
#[must_use]
pub fn source_text(source: &Source, sources: Option<&SourceMap>, definition: &str) -> String {
    match source {
        Source::Unset => "unset".to_owned(),
        Source::Default(Declared::Builtin) => "default (Meltano)".to_owned(),
        Source::Default(Declared::Definition | Declared::Implicit(_)) => {
            format!("default ({definition})")
        }
        Source::Default(Declared::Entry(plugin)) => {
            format!("default (settings of `{plugin}`)")
        }
        Source::EnvVar(name, origin) => format!("${name} ({})", env_origin(origin, sources)),
        Source::DotEnv(name) => format!("${name} (.env)"),
        Source::Environment(environment, span) => format!(
            "environment `{environment}` ({})",
            place_or(*span, sources, "meltano.yml")
        ),
        Source::MeltanoYml(span) => place_or(*span, sources, "meltano.yml"),
        Source::Inherited(parent, inner) => {
            // `inherited from tap-base via tap-mid: meltano.yml:3` for a chain.
            let mut via = vec![parent.as_str()];
            let mut inner = inner.as_ref();
            while let Source::Inherited(next, deeper) = inner {
                via.push(next);
                inner = deeper;
            }
            let origin = via.pop().unwrap_or_default();
            let via = if via.is_empty() {
                String::new()
            } else {
                format!(" via `{}`", via.join("`, `"))
            };
            format!(
                "inherited from `{origin}`{via}: {}",
                source_text(inner, sources, definition)
            )
        }
        Source::Assembled(inner) => {
            format!("from its keys, {}", source_text(inner, sources, definition))
        }
    }
}

fn env_origin(origin: &EnvSource, sources: Option<&SourceMap>) -> String {
    match origin {
        EnvSource::Process => "process".to_owned(),
        EnvSource::DotEnv => ".env".to_owned(),
        EnvSource::Meltano => "set by Meltano".to_owned(),
        EnvSource::PluginInfo => "plugin info".to_owned(),
        EnvSource::ProjectEnv(span) => {
            format!("project env: {}", place_or(Some(*span), sources, ""))
        }
        EnvSource::PluginEnv(plugin, span) => {
            format!("env: of `{plugin}` {}", place_or(Some(*span), sources, ""))
        }
        EnvSource::EnvironmentEnv(environment, span) => format!(
            "env: of environment `{environment}` {}",
            place_or(Some(*span), sources, "")
        ),
        EnvSource::EnvironmentPluginEnv(environment, plugin, span) => format!(
            "env: of `{plugin}` in environment `{environment}` {}",
            place_or(Some(*span), sources, "")
        ),
    }
}

/// Where each referenced variable came from: `$PG_USER: env: of environment `prod`
/// meltano.yml:180; $PG_PASSWORD: .env`.
fn variables_text(variables: &[Variable], sources: &SourceMap) -> String {
    variables
        .iter()
        .map(|variable| {
            let origin = match &variable.origin {
                None => "unset".to_owned(),
                Some(VariableOrigin::DotEnv) => ".env".to_owned(),
                Some(VariableOrigin::Setting) => "a setting of the plugin".to_owned(),
                Some(VariableOrigin::Env(origin)) => env_origin(origin, Some(sources)),
            };
            format!("${}: {origin}", variable.name)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn variables_json(variables: &[Variable], sources: &SourceMap) -> Value {
    let items: Vec<Value> = variables
        .iter()
        .map(|variable| {
            let mut object = Map::new();
            object.insert("name".to_owned(), json!(variable.name));
            object.insert("set".to_owned(), json!(variable.origin.is_some()));
            match &variable.origin {
                None => {}
                Some(VariableOrigin::DotEnv) => {
                    object.insert("from".to_owned(), json!("dotenv"));
                }
                Some(VariableOrigin::Setting) => {
                    object.insert("from".to_owned(), json!("setting"));
                }
                Some(VariableOrigin::Env(origin)) => env_origin_json(&mut object, origin, sources),
            }
            object.sort_keys();
            Value::Object(object)
        })
        .collect();
    Value::Array(items)
}

/// The human table.
#[must_use]
/// The names of the plugins the shown one inherits from, nearest first.
fn parents<'a>(view: &View<'a, '_>) -> Vec<&'a str> {
    view.resolved
        .chain(view.plugin)
        .iter()
        .skip(1)
        .map(|parent| parent.name.as_str())
        .collect()
}

pub fn table(view: &View<'_, '_>) -> String {
    let plugin = view.plugin;
    let mut out = String::new();
    let variant = plugin
        .variant
        .as_deref()
        .map_or_else(String::new, |variant| format!(", variant {variant}"));
    let kind = match plugin.mapping {
        Some(_) => format!("mapping of the mapper `{}`", plugin.name),
        None => plugin.plugin_type.singular().to_owned(),
    };
    let _ = writeln!(
        out,
        "{} ({kind}{variant}) from {}",
        plugin.block_name(),
        view.definition()
    );
    let parents = parents(view);
    if !parents.is_empty() {
        let _ = writeln!(out, "inherits from {}", parents.join(" → "));
    }
    let _ = writeln!(
        out,
        "environment: {}\n",
        view.environment
            .map_or_else(|| "none".to_owned(), |name| format!("`{name}`"))
    );
    let values = view.values();
    // A value that expanded to nothing still has a source worth showing.
    let (set, unset): (Vec<_>, Vec<_>) = values
        .iter()
        .partition(|(value, _)| value.value.is_some() || value.source != Source::Unset);
    let kind = view.definition_kind();
    let rows: Vec<[String; 3]> = set
        .iter()
        .map(|(value, redacted)| {
            let mut source = source_text(&value.source, Some(view.sources), kind);
            if let Some(written) = &value.written {
                let _ = write!(source, ", written {}", compact(written));
                let _ = write!(
                    source,
                    " ({})",
                    variables_text(&value.variables, view.sources)
                );
            }
            let shown = match &value.value {
                _ if *redacted => "(redacted)".to_owned(),
                Some(json) => compact(json),
                None => "(unset)".to_owned(),
            };
            [value.setting.name.clone(), shown, source]
        })
        .collect();
    let header = [
        "SETTING".to_owned(),
        "VALUE".to_owned(),
        "SOURCE".to_owned(),
    ];
    let name_width = rows
        .iter()
        .chain([&header])
        .map(|row| row[0].chars().count())
        .max()
        .unwrap_or(0);
    let value_width = rows
        .iter()
        .chain([&header])
        .map(|row| row[1].chars().count())
        .filter(|width| *width <= 40)
        .max()
        .unwrap_or(0);
    for row in std::iter::once(&header).chain(&rows) {
        let _ = writeln!(
            out,
            "{:name_width$}  {:value_width$}  {}",
            row[0], row[1], row[2]
        );
    }
    if !unset.is_empty() {
        let names: Vec<&str> = unset
            .iter()
            .map(|(value, _)| value.setting.name.as_str())
            .collect();
        let _ = writeln!(out, "\nno value: {}", names.join(", "));
    }
    out
}

/// A value on one line: JSON (strings quoted, so `""` and `"5"` stay visible).
fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// The JSON document.
#[must_use]
pub fn json(view: &View<'_, '_>) -> String {
    let plugin = view.plugin;
    let settings: Vec<Value> = view
        .values()
        .iter()
        .map(|(value, redacted)| setting_json(view, value, *redacted))
        .collect();
    let parents = parents(view);
    let mut document = json!({
        "version": 1,
        "plugin": {
            "type": plugin.plugin_type.as_str(),
            "name": plugin.name,
            "variant": plugin.variant,
            "namespace": plugin.namespace,
            "definition": definition_json(view),
            "inherits_from": parents,
        },
        "environment": view.environment,
        "settings": settings,
        "config": view.config_object(),
        "env": view.env_vars(),
    });
    if let (Some(mapping), Some(object)) = (plugin.mapping, document["plugin"].as_object_mut()) {
        // A mapping plugin keeps its mapper's name (its env vars are the mapper's).
        object.insert("mapping".to_owned(), json!(mapping.name));
    }
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}

fn definition_json(view: &View<'_, '_>) -> Value {
    let root = view
        .resolved
        .chain(view.plugin)
        .last()
        .copied()
        .unwrap_or(view.plugin);
    match &root.origin {
        Origin::Custom => json!({"kind": "custom", "plugin": root.name}),
        Origin::Lock(path) => json!({"kind": "lock", "path": relative(view.resolved, path)}),
        Origin::Hub { variant, .. } => {
            json!({"kind": "hub", "name": root.definition_name, "variant": variant})
        }
        _ => json!({"kind": "none"}),
    }
}

fn setting_json(view: &View<'_, '_>, value: &SettingValue, redacted: bool) -> Value {
    let setting = &value.setting;
    let mut object = Map::new();
    object.insert("name".to_owned(), json!(setting.name));
    object.insert(
        "kind".to_owned(),
        json!(setting.kind.map_or("string", |kind| kind.as_str())),
    );
    object.insert("extra".to_owned(), json!(setting.is_extra()));
    object.insert("sensitive".to_owned(), json!(setting.sensitive));
    object.insert(
        "value".to_owned(),
        value.value.clone().unwrap_or(Value::Null),
    );
    object.insert("redacted".to_owned(), json!(redacted));
    object.insert(
        "source".to_owned(),
        source_json(&value.source, view.sources),
    );
    if let Some(written) = &value.written {
        object.insert("written".to_owned(), written.clone());
        object.insert(
            "variables".to_owned(),
            variables_json(&value.variables, view.sources),
        );
    }
    let read: Vec<String> = setting
        .env_vars_read(&view.plugin.read_prefixes, !view.plugin.inherits())
        .into_iter()
        .map(|var| var.name)
        .collect();
    object.insert("env_read".to_owned(), json!(read));
    object.insert(
        "env_written".to_owned(),
        json!(setting.env_vars_written(&view.plugin.write_prefixes)),
    );
    Value::Object(object)
}

fn location_json(object: &mut Map<String, Value>, span: Option<Span>, sources: &SourceMap) {
    if let Some(span) = span {
        let file = sources.get(span.file);
        let (line, column) = file.line_col(span.start);
        object.insert("file".to_owned(), json!(file.name()));
        object.insert("line".to_owned(), json!(line));
        object.insert("column".to_owned(), json!(column));
    }
}

fn source_json(source: &Source, sources: &SourceMap) -> Value {
    let mut object = Map::new();
    let kind = match source {
        Source::Unset => "unset",
        Source::Default(declared) => {
            let by = match declared {
                Declared::Builtin => "meltano",
                Declared::Definition | Declared::Implicit(_) => "definition",
                Declared::Entry(_) => "entry",
            };
            object.insert("declared_by".to_owned(), json!(by));
            if let Declared::Entry(plugin) = declared {
                object.insert("plugin".to_owned(), json!(plugin));
            }
            "default"
        }
        Source::EnvVar(name, origin) => {
            object.insert("variable".to_owned(), json!(name));
            env_origin_json(&mut object, origin, sources);
            "env_var"
        }
        Source::DotEnv(name) => {
            object.insert("variable".to_owned(), json!(name));
            object.insert("file".to_owned(), json!(".env"));
            "dotenv"
        }
        Source::Environment(environment, span) => {
            object.insert("environment".to_owned(), json!(environment));
            location_json(&mut object, *span, sources);
            "environment"
        }
        Source::MeltanoYml(span) => {
            location_json(&mut object, *span, sources);
            "meltano_yml"
        }
        Source::Inherited(parent, inner) => {
            object.insert("parent".to_owned(), json!(parent));
            object.insert("source".to_owned(), source_json(inner, sources));
            "inherited"
        }
        Source::Assembled(inner) => {
            object.insert("strongest".to_owned(), source_json(inner, sources));
            "assembled"
        }
    };
    object.insert("kind".to_owned(), json!(kind));
    object.sort_keys();
    Value::Object(object)
}

fn env_origin_json(object: &mut Map<String, Value>, origin: &EnvSource, sources: &SourceMap) {
    let (from, span) = match origin {
        EnvSource::Process => ("process", None),
        EnvSource::DotEnv => ("dotenv", None),
        EnvSource::Meltano => ("meltano", None),
        EnvSource::PluginInfo => ("plugin_info", None),
        EnvSource::ProjectEnv(span) => ("project_env", Some(*span)),
        EnvSource::PluginEnv(plugin, span) => {
            object.insert("plugin".to_owned(), json!(plugin));
            ("plugin_env", Some(*span))
        }
        EnvSource::EnvironmentEnv(environment, span) => {
            object.insert("environment".to_owned(), json!(environment));
            ("environment_env", Some(*span))
        }
        EnvSource::EnvironmentPluginEnv(environment, plugin, span) => {
            object.insert("environment".to_owned(), json!(environment));
            object.insert("plugin".to_owned(), json!(plugin));
            ("environment_plugin_env", Some(*span))
        }
    };
    object.insert("from".to_owned(), json!(from));
    location_json(object, span, sources);
}

/// `NAME=value` lines, quoted for a POSIX shell when needed.
#[must_use]
pub fn env(view: &View<'_, '_>) -> String {
    let mut out = String::new();
    for (name, value) in view.env_vars() {
        let _ = writeln!(out, "{name}={}", shell_quote(&value));
    }
    out
}

fn shell_quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:@%+,=-".contains(c));
    if plain {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}
