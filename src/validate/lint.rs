//! What Meltano's own lint reports that meltc's schema accepts. `meltano compile --lint`
//! validates the project files against Meltano's JSON Schema (`meltano/schemas/
//! meltano.schema.json`, `Manifest._validate_against_manifest_schema` in
//! `core/manifest/manifest.py`); meltc's schema is looser wherever Meltano's run time is
//! (schemas/README.md, "Departures"). Here each of those looser places that is probably a
//! mistake becomes a warning at the value, in each file:
//!
//! - a key with no value where Meltano's schema wants one (`plugins:`, an empty `config:`);
//! - a value of another type than the schema's, which the run time converts or ignores
//!   (`"false"` for a boolean setting, `5432` in an `env:` block, `python: 3.10`, an inline
//!   `cli.log_config`);
//! - keys Meltano ignores: `version` other than 1, a schedule's `start_date` (no Meltano 4
//!   code reads it), legacy `extractor`/`loader`/`transform` beside a schedule's `job`;
//! - keys of a mapping other than `name`, `config` and `annotations`.
//!
//! Capabilities and log parsers are in [`super::capabilities`]. What Meltano's schema rejects
//! and meltc deliberately accepts without a word (real parameters the schema lags behind) is
//! listed in schemas/README.md and in tests/meltano_lint.rs.

use crate::diagnostics::{Diagnostic, codes};
use crate::project::Project;
use crate::project::model::{self, Named, Plugin};
use crate::yaml::{Node, ScalarStyle, Value};

/// Top-level keys meltc's schema allows to be null (Meltano reads them with `x or {}`).
const NULLABLE_TOP_LEVEL: &[&str] = &[
    "plugins",
    "schedules",
    "jobs",
    "environments",
    "env",
    "default_environment",
    "requires_meltano",
];

/// Project settings Meltano's schema types as booleans (`core/bundle/settings.yml` kind
/// `boolean`), as dotted paths.
const BOOLEAN_SETTINGS: &[&str] = &[
    "send_anonymous_usage_stats",
    "project_readonly",
    "experimental",
    "auto_install",
    "ff.strict_env_var_mode",
    "ff.plugin_locks_required",
];

/// Project settings Meltano's schema types as integers.
const INTEGER_SETTINGS: &[&str] = &[
    "database_max_retries",
    "database_retry_timeout",
    "elt.buffer_size",
    "state_backend.lock_timeout_seconds",
    "state_backend.lock_retry_seconds",
];

/// Keys of a mapping Meltano's schema allows.
const MAPPING_KEYS: &[&str] = &["name", "config", "annotations"];

/// Run the checks on every file of the project.
pub fn check(project: &Project, diagnostics: &mut Vec<Diagnostic>) {
    for (position, file) in project.files.iter().enumerate() {
        let Some(root) = &file.root else { continue };
        let source = project.sources.get(file.id).contents();
        let lint = Lint {
            source,
            main_file: position == 0,
            diagnostics: &mut *diagnostics,
        };
        lint.document(root);
    }
}

struct Lint<'a> {
    source: &'a str,
    /// meltano.yml itself: Meltano's indexer iterates an included file's sections, so a `null`
    /// section there is not "read as unset" (and not this check's business).
    main_file: bool,
    diagnostics: &'a mut Vec<Diagnostic>,
}

impl Lint<'_> {
    fn document(mut self, root: &Node) {
        self.top_level(root);
        self.env_block(root.entry("env"), "the project `env:`", NotText::Warning);
        for plugin in model::plugins(root) {
            self.plugin(&plugin);
        }
        for schedule in model::schedules(root) {
            self.schedule(&schedule);
        }
        for environment in model::environments(root) {
            self.environment(&environment);
        }
    }

    fn top_level(&mut self, root: &Node) {
        let Some(mapping) = root.as_mapping() else {
            return;
        };
        if let Some((key, value)) = root.entry("version") {
            if !matches!(value.value, Value::Int(1)) {
                let shown = self.text(value);
                self.diagnostics.push(
                    Diagnostic::new(&codes::KEY_IGNORED, format!("`version: {shown}`: Meltano ignores `version` (deprecated), and its schema allows only 1"))
                        .at(key.span, "ignored")
                        .help("remove it; `requires_meltano` pins the Meltano versions a project needs"),
                );
            }
        }
        for (name, (key, value)) in mapping {
            if self.main_file && value.is_null() && NULLABLE_TOP_LEVEL.contains(&name.as_str()) {
                self.null(key, name, "Meltano reads it as unset");
            }
        }
        for path in BOOLEAN_SETTINGS {
            if let Some(value) = setting(root, path) {
                if !matches!(value.value, Value::Bool(_) | Value::Null) && !self.ambiguous(value) {
                    let shown = self.text(value);
                    self.diagnostics.push(
                        Diagnostic::new(&codes::VALUE_TYPE, format!("`{path}: {shown}` is {}, where Meltano's schema wants a boolean", crate::diagnostics::with_article(value.kind_name())))
                            .at(value.span, "not a boolean")
                            .help("Meltano casts it (true only for `true`, `1`, `yes`, `on`): write `true` or `false` unquoted"),
                    );
                }
            }
        }
        for path in INTEGER_SETTINGS {
            if let Some(value) = setting(root, path) {
                if matches!(value.value, Value::String(_)) && !self.ambiguous(value) {
                    let shown = self.text(value);
                    self.diagnostics.push(
                        Diagnostic::new(&codes::VALUE_TYPE, format!("`{path}: {shown}` is a string, where Meltano's schema wants an integer"))
                            .at(value.span, "not an integer")
                            .help("Meltano expands and casts it with `int()`: write the number unquoted"),
                    );
                }
            }
        }
        if let Some(value) = setting(root, "cli.log_config") {
            if value.as_mapping().is_some() {
                self.diagnostics.push(
                    Diagnostic::new(&codes::VALUE_TYPE, "`cli.log_config` is a mapping: Meltano ignores it and reads `logging.yaml`")
                        .at(value.span, "ignored")
                        .help("move the logging configuration to a file and write its path here (`cli.log_config: logging.yaml`)"),
                );
            }
        }
    }

    fn plugin(&mut self, plugin: &Plugin<'_>) {
        let node = plugin.entry.node;
        let Some(mapping) = node.as_mapping() else {
            return;
        };
        let noun = plugin.plugin_type.singular();
        super::capabilities::check(plugin, self.diagnostics);
        for (name, (key, value)) in mapping {
            // A key Meltano does not know is reported by `keys`, whatever its value.
            if value.is_null() && super::keys::is_plugin_key(plugin.plugin_type, name) {
                self.null(key, name, "Meltano reads it as unset");
            }
        }
        if let Some(python) = node.get("python") {
            if matches!(python.value, Value::Float(_) | Value::Int(_)) {
                let written = self.text(python);
                self.diagnostics.push(
                    Diagnostic::new(&codes::VALUE_TYPE, format!("`python: {written}` of {noun} `{}` is a number: Meltano asks for Python `{}`", plugin.name(), python.scalar_text().unwrap_or_default()))
                        .at(python.span, "a number, not a version")
                        .help(format!("quote it: `python: \"{written}\"`")),
                );
            }
        }
        self.env_block(
            node.entry("env"),
            &format!("the `env:` of `{}`", plugin.name()),
            NotText::ErrorElsewhere,
        );
        for setting in node
            .get("settings")
            .and_then(Node::as_sequence)
            .unwrap_or_default()
        {
            for (name, (key, value)) in setting.as_mapping().into_iter().flatten() {
                if value.is_null() && super::keys::SETTING.contains(&name.as_str()) {
                    self.null(key, name, "Meltano reads it as unset");
                }
            }
        }
        for command in node
            .get("commands")
            .and_then(Node::as_mapping)
            .into_iter()
            .flat_map(|commands| commands.values())
        {
            let spec = command.1.get("container_spec");
            self.env_block(
                spec.and_then(|spec| spec.entry("env")),
                "a `container_spec` `env:`",
                NotText::Warning,
            );
        }
        for mapping in plugin.mapping_names() {
            for (name, (key, _)) in mapping.node.as_mapping().into_iter().flatten() {
                if !MAPPING_KEYS.contains(&name.as_str()) {
                    self.diagnostics.push(
                        Diagnostic::new(&codes::KEY_UNKNOWN, format!("unknown mapping key `{name}` in mapping `{}`", mapping.name))
                            .at(key.span, "unknown key")
                            .help("Meltano reads only a mapping's `name` and `config`: move it under `config:` if the mapper should get it"),
                    );
                }
            }
        }
    }

    fn schedule(&mut self, schedule: &Named<'_>) {
        let node = schedule.node;
        if let Some((key, _)) = node.entry("start_date") {
            self.diagnostics.push(
                Diagnostic::new(&codes::KEY_IGNORED, format!("schedule `{}`: `start_date` is ignored since Meltano 4.0", schedule.name))
                    .at(key.span, "ignored")
                    .help("remove it: a schedule starts at its first `interval` match; an extractor's own `start_date` setting says where its data starts"),
            );
        }
        let has_job = node
            .get("job")
            .is_some_and(|job| !job.is_null() && job.as_str() != Some(""));
        if has_job {
            for legacy in ["extractor", "loader", "transform"] {
                if let Some((key, _)) = node.entry(legacy) {
                    self.diagnostics.push(
                        Diagnostic::new(&codes::KEY_IGNORED, format!("schedule `{}` runs the job `{}`, so Meltano ignores its `{legacy}`", schedule.name, node.get_str("job").unwrap_or_default()))
                            .at(key.span, "ignored")
                            .help("remove the extractor/loader keys, or remove `job:` to keep the legacy schedule"),
                    );
                }
            }
        }
        for (name, (key, value)) in node.as_mapping().into_iter().flatten() {
            if value.is_null() && name != "env" && super::keys::SCHEDULE.contains(&name.as_str()) {
                self.null(key, name, "Meltano reads it as unset");
            }
        }
        self.env_block(
            node.entry("env"),
            &format!("the `env:` of schedule `{}`", schedule.name),
            NotText::Warning,
        );
    }

    fn environment(&mut self, environment: &Named<'_>) {
        let node = environment.node;
        if let Some((key, value)) = node.entry("config") {
            if value.is_null() {
                self.null(key, "config", "Meltano reads it as empty");
            }
        }
        self.env_block(
            node.entry("env"),
            &format!("the `env:` of environment `{}`", environment.name),
            NotText::ErrorElsewhere,
        );
        for plugin in model::environment_plugins(environment) {
            for name in ["config", "env"] {
                if let Some((key, value)) = plugin.entry.node.entry(name) {
                    if value.is_null() {
                        self.null(key, name, "Meltano reads it as empty");
                    }
                }
            }
            if plugin
                .entry
                .node
                .get("env")
                .is_some_and(|env| !env.is_null())
            {
                self.env_block(
                    plugin.entry.node.entry("env"),
                    &format!(
                        "the `env:` of `{}` in environment `{}`",
                        plugin.name(),
                        environment.name
                    ),
                    NotText::ErrorElsewhere,
                );
            }
        }
    }

    /// An `env:` block: every value text (Meltano's schema: a mapping of strings). In a
    /// plugin's, an environment's or an environment's plugin block a number or boolean is
    /// `meltc::env::not-text` already (an error: the run stops there), so this warning is only
    /// for the other blocks (the project's, which Meltano turns into text, a schedule's, a
    /// `container_spec`'s).
    fn env_block(&mut self, entry: Option<(&Node, &Node)>, place: &str, not_text: NotText) {
        let Some((key, block)) = entry else { return };
        if block.is_null() {
            self.null(key, "env", "Meltano reads it as empty");
            return;
        }
        for (name, (_, value)) in block.as_mapping().into_iter().flatten() {
            match &value.value {
                // `null` is a schema error already (meltc's schema allows text, numbers and
                // booleans, which the run time stringifies or passes on).
                Value::Int(_) | Value::Float(_) | Value::Bool(_)
                    if not_text == NotText::Warning && !self.ambiguous(value) =>
                {
                    let shown = self.text(value);
                    self.diagnostics.push(
                        Diagnostic::new(&codes::VALUE_TYPE, format!("`{name}: {shown}` in {place} is {}, where Meltano's schema wants text", crate::diagnostics::with_article(value.kind_name())))
                            .at(value.span, "not text")
                            .help(format!("quote it: `{name}: \"{shown}\"` (an environment variable is always text)")),
                    );
                }
                _ => {}
            }
        }
    }

    /// `name:` written with no value.
    fn null(&mut self, key: &Node, name: &str, consequence: &str) {
        self.diagnostics.push(
            Diagnostic::new(
                &codes::VALUE_NULL,
                format!("`{name}` has no value ({consequence}), where Meltano's schema wants one"),
            )
            .at(key.span, "no value")
            .help(format!(
                "remove `{name}:`, or give it a value (`{{}}` or `[]` for an empty one)"
            )),
        );
    }

    /// A plain scalar the `values` check already reports (`yes`, `017`, dates).
    fn ambiguous(&self, node: &Node) -> bool {
        node.style == ScalarStyle::Plain && crate::yaml::ambiguity(self.text(node)).is_some()
    }

    /// The text a node is written with.
    fn text(&self, node: &Node) -> &str {
        self.source
            .get(node.span.start..node.span.end)
            .unwrap_or_default()
    }
}

/// The value of a project setting written nested (`ff: {strict_env_var_mode: ...}`) or
/// flat (`ff.strict_env_var_mode: ...`), as Meltano's `unflatten` reads both.
fn setting<'n>(root: &'n Node, path: &str) -> Option<&'n Node> {
    if let Some(flat) = root.get(path) {
        return Some(flat);
    }
    let mut node = root;
    for part in path.split('.') {
        node = node.get(part)?;
    }
    Some(node)
}

/// Who reports a number or boolean in an `env:` block.
#[derive(Clone, Copy, PartialEq, Eq)]
enum NotText {
    /// The run goes on: this lint warns, as `meltano compile --lint` does.
    Warning,
    /// The run stops on it: `meltc::env::not-text` reports it as an error (`values.rs`).
    ErrorElsewhere,
}
