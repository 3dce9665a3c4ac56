//! The manifest: one environment of a project, compiled. It is the one contract between the
//! compiler (`meltc build`) and the runtime (`meltc-run`): the runtime reads nothing else, and
//! every emitter (Dockerfile, Kubernetes, Dagster) renders from it.
//!
//! Values are kept **as written** in meltano.yml: a string may hold `${VAR}` references
//! (Meltano's grammar, [`crate::meltano::template`]), which the runtime expands from its own
//! environment. No value of an environment variable ever reaches a manifest; each referenced
//! variable is listed in [`Manifest::variables`] with whether it is a secret. Nor does a
//! secret written literally in meltano.yml: the value is replaced by a [`SecretLiteral`], a key
//! of the Secret listed in [`Manifest::secret_literals`], which meltc-run reads from the pod.
//!
//! The JSON form is described by `schemas/manifest.schema.json`, generated from these types
//! (`meltc dev manifest-schema`) and checked in; a test keeps the two equal. Bump
//! [`MANIFEST_VERSION`] on any change a reader of the previous version would misread.

pub mod blocks;

use std::collections::BTreeMap;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::meltano::plugin_lookup::{FindError, Listed, find_listed};
use crate::meltano::{PluginClass, PluginType, SettingKind};

/// The manifest format's version; a reader refuses any other.
pub const MANIFEST_VERSION: u32 = 2;

/// The file name of a manifest in a build's output folder.
pub const FILE_NAME: &str = "manifest.json";

/// One environment of a project, compiled (see the module documentation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The format version ([`MANIFEST_VERSION`]).
    pub manifest_version: u32,
    /// The meltc version that wrote it, and the date of its bundled hub index.
    pub generator: Generator,
    /// The project.
    pub project: ProjectInfo,
    /// The environment compiled; `None` for a project without environments (Meltano's
    /// stateless mode: nothing reads or writes state).
    pub environment: Option<EnvironmentInfo>,
    /// The project's `annotations`, with the environment's merged on top (as Meltano's compile).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub annotations: serde_json::Map<String, Value>,
    /// The project's top-level `env:`, as written (values may reference variables).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub env: EnvMap,
    /// Project settings written in meltano.yml (`state_backend.uri`, `elt.buffer_size`...),
    /// flattened to dotted names, as written. The runtime exports them as `MELTANO_<NAME>`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub settings: IndexMap<String, Value>,
    /// Where incremental state is kept.
    pub state: StateInfo,
    /// Every plugin the environment can run, in Meltano's type order then file order.
    pub plugins: Vec<Plugin>,
    /// Jobs (and one per legacy extractor/loader schedule), in file order.
    pub jobs: Vec<Job>,
    /// Schedules, in file order.
    pub schedules: Vec<Schedule>,
    /// Every variable referenced anywhere, by name.
    pub variables: BTreeMap<String, Variable>,
    /// The Secret keys that hold a secret meltano.yml writes literally, by key: each place
    /// that held the literal names its key ([`SecretLiteral`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secret_literals: BTreeMap<String, LiteralKey>,
}

/// Who wrote the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Generator {
    /// `meltc <version>`.
    pub name: String,
    /// The date of the hub snapshot plugin definitions came from.
    pub hub_snapshot: String,
}

/// The project.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectInfo {
    /// `project_id`, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// `default_environment`, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_environment: Option<String>,
}

/// The environment compiled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentInfo {
    /// Its name (`MELTANO_ENVIRONMENT`, the first part of every state ID).
    pub name: String,
    /// Its `env:`, as written; layered over the project's.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub env: EnvMap,
    /// `state_id_suffix`, as written (expanded at run time; `--state-id-suffix` wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_id_suffix: Option<String>,
}

/// Where incremental state is kept, as far as the build can tell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateInfo {
    /// `state_backend.uri` as the environment sets it (an `env:` block or meltano.yml), as
    /// written; `systemdb` when unset. `MELTANO_STATE_BACKEND_URI` in the process wins at run
    /// time.
    pub uri: String,
    /// Whether state survives the pod: `false` for the system database, a local path or a
    /// scheme meltc-run cannot write. Built anyway only with `--allow-ephemeral-state`, which
    /// marks each incremental job [`Job::ephemeral_state`]: every run of it is a full sync.
    pub persistent: bool,
}

/// A plugin, resolved: its definition merged with the project's entry and the environment's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Plugin {
    /// `extractors`, `loaders`, ... (Meltano's plural type name).
    #[serde(rename = "type")]
    pub plugin_type: PluginType,
    /// The class Meltano instantiates for the plugin, computed once at build time from its
    /// definition (`airflow-dev` inheriting from `airflow` is `airflow`); the runtime reads it.
    pub class: PluginClass,
    /// The name.
    pub name: String,
    /// The env var and schema prefix.
    pub namespace: String,
    /// The variant (`default` for a custom plugin without one, as Meltano reports it).
    pub variant: String,
    /// `inherit_from`, when the plugin inherits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inherit_from: Option<String>,
    /// Where the definition comes from: `custom`, `lock:<path>`, `hub`, or `parent:<name>`.
    pub definition: String,
    /// pip requirement string(s), as written; `None`: nothing to install (the executable is on
    /// `PATH` or in the project). A folder of the project (`-e ./tap-x`) is installed into the
    /// image from the project (not editable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pip_url: Option<String>,
    /// The Python for the plugin's virtualenv, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    /// The virtualenv, relative to the install root: `<type>/<name>` (an inheriting plugin
    /// with the same `pip_url` shares its parent's); `None` without a `pip_url` and for a legacy
    /// `transforms:` plugin, whose `pip_url` is a dbt package that nothing installs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venv: Option<String>,
    /// The hashed requirements lock of the virtualenv (`meltc lock --requirements`), when the
    /// project has one; the Dockerfile installs from it instead of `pip_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirements: Option<RequirementsLock>,
    /// The program to run.
    pub executable: String,
    /// Singer capabilities (`catalog`, `discover`, `state`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    /// Env var prefixes settings are read from (the name's, then the namespace's).
    pub read_prefixes: Vec<String>,
    /// Env var prefixes settings are written to for the plugin (adds the parents' and
    /// `MELTANO_<VERB>`).
    pub write_prefixes: Vec<String>,
    /// Whether settings' `env_aliases` are read (Meltano reads them only without
    /// `inherit_from`).
    pub read_env_aliases: bool,
    /// Every setting, in Meltano's order, with its value chosen from the environment,
    /// meltano.yml, the parent or the default (an env var set at run time wins over it).
    pub settings: Vec<Setting>,
    /// Extras (`_select`, `_metadata`, `_schema`, `_select_filter`, ...), likewise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extras: Vec<Setting>,
    /// The `env:` blocks of the plugin and its `inherit_from` parents (the furthest first, `from`
    /// their name), then the environment's entries for them (`from: environment:<name>`); each
    /// as written. Layered as Meltano's `PluginInvoker.env` (`core/plugin_invoker.py`) layers
    /// them: an environment's blocks over the plugins'.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvBlock>,
    /// Commands by name, the parent's first.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub commands: IndexMap<String, Command>,
    /// A mapper's mappings (a block names a mapping, never the mapper).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mappings: Vec<Mapping>,
    /// The entry's `annotations`.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub annotations: serde_json::Map<String, Value>,
    /// An extractor's pinned catalog (`meltc catalog`), when the project has one for the
    /// environment: the streams a run selects from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<PinnedCatalog>,
}

/// An extractor's pinned catalog and the streams a run selects from it: the plugin's
/// `select`, `metadata` and `schema` rules applied by meltc-run's own catalog module, and the
/// Singer SDK's rule for what a tap syncs. Never a config value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PinnedCatalog {
    /// The file in the project (`catalogs/<extractor>[.<env>].json`); the image holds it as
    /// `<MELTC_CATALOGS>/<extractor>.json`.
    pub file: String,
    /// The selected streams, in the catalog's order.
    pub streams: Vec<Stream>,
}

/// A selected stream of a pinned catalog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stream {
    /// `tap_stream_id`: the name in Singer messages, state bookmarks and rules.
    pub tap_stream_id: String,
    /// `stream`, when it differs from `tap_stream_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// The source table (`table_name`, or the stream metadata's `table-name`), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_name: Option<String>,
    /// `table-key-properties` (or the stream's `key_properties`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_properties: Vec<String>,
    /// `replication-method` (`FULL_TABLE`, `INCREMENTAL`, `LOG_BASED`), when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_method: Option<String>,
    /// `replication-key`, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_key: Option<String>,
    /// The selected top-level properties, in schema order.
    pub columns: Vec<Column>,
}

/// A selected column of a stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Column {
    /// The property name.
    pub name: String,
    /// Its JSON Schema `type`s (`["integer", "null"]`); empty when the schema names none
    /// (`anyOf`, `{}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
    /// Its `format` (`date-time`...), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// A plugin virtualenv's hashed requirements lock, as its header describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequirementsLock {
    /// The file, relative to the project root (`meltc/locks/<type>/<venv>.txt`).
    pub path: String,
    /// The `pip_url` it was compiled from (a lock for another `pip_url` is stale).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pip_url: Option<String>,
    /// The Python version it was compiled for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    /// Whether every requirement has hashes (`false` for a VCS requirement pinned to a
    /// commit, which has none: it is then installed without `--require-hashes`).
    pub hashes: bool,
    /// For a plugin installed from paths of the project: the digest of their
    /// `pyproject.toml`/`setup.py`/`setup.cfg` it was compiled from (a lock for other ones
    /// is stale).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
}

/// One setting of a plugin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Setting {
    /// The name (dots nest it in the config file; extras start with `_`).
    pub name: String,
    /// Other names accepted in config (and read from env vars).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// The kind (`string` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<SettingKind>,
    /// A secret: its value must come from a variable, and it is never logged.
    #[serde(default, skip_serializing_if = "is_false")]
    pub sensitive: bool,
    /// The allowed values of kind `options`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<Value>,
    /// An extra env var the value is written to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// Deprecated env vars it is also read from (`!NAME` inverts a boolean).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_aliases: Vec<String>,
    /// Meltano's processor applied while casting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_processor: Option<String>,
    /// Meltano's processor applied to the final value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_post_processor: Option<String>,
    /// The value as written (strings may reference variables); absent when unset, or when
    /// the value is a secret written literally (then `secret_literal` says where it is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// A secret value meltano.yml writes literally, kept out of the manifest: the Secret key
    /// that holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_literal: Option<SecretLiteral>,
    /// Where the value comes from: `default`, `meltano.yml`, `environment`, or
    /// `inherited:<parent>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The variables the value references, in order, each once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
}

/// An `env:` block of a plugin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvBlock {
    /// Whose block: a plugin name, or `environment:<plugin>` for the environment's entry.
    pub from: String,
    /// The variables, as written.
    pub vars: EnvMap,
}

/// An `env:` block: each variable's value as written, in file order (a later entry may
/// reference an earlier one).
pub type EnvMap = IndexMap<String, EnvValue>;

/// The value of one `env:` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum EnvValue {
    /// As written (it may reference variables).
    Written(String),
    /// A secret written literally, kept out of the manifest.
    Secret {
        /// The Secret key that holds it.
        secret_literal: SecretLiteral,
    },
}

impl EnvValue {
    /// The text as written; `None` for a secret kept out of the manifest.
    #[must_use]
    pub fn written(&self) -> Option<&str> {
        match self {
            EnvValue::Written(text) => Some(text),
            EnvValue::Secret { .. } => None,
        }
    }

    /// The Secret key holding the value, for a secret kept out of the manifest.
    #[must_use]
    pub fn secret_literal(&self) -> Option<&SecretLiteral> {
        match self {
            EnvValue::Written(_) => None,
            EnvValue::Secret { secret_literal } => Some(secret_literal),
        }
    }
}

/// Where a secret that meltano.yml writes literally went: a key of the Secret. The pod gets it
/// as the variable `key`; meltc-run takes it out of the process environment the plugins see
/// and hands it over exactly where meltano.yml wrote the literal, as if it were written there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretLiteral {
    /// The Secret key (and the pod's variable).
    pub key: String,
    /// The literal was not a string (a number, a mapping): the key holds its JSON, which
    /// meltc-run parses (and expands, as a value written in meltano.yml) instead of taking the
    /// text.
    #[serde(default, skip_serializing_if = "is_false")]
    pub json: bool,
}

/// A Secret key that holds a literal secret of meltano.yml.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LiteralKey {
    /// Why the value is a secret.
    pub reason: String,
    /// The places whose literal it holds (`extractors.tap-x.env.TAP_X_PASSWORD`,
    /// `loaders.target-y.api_key`, `schedules.nightly.env.TOKEN`), sorted.
    pub written_at: Vec<String>,
}

/// A plugin command.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Command {
    /// Arguments, as written (shell-split and expanded at run time).
    pub args: String,
    /// A program to run instead of the plugin's executable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executable: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A mapping of a mapper: a plugin of its own (a copy of the mapper whose `config` is the
/// mapping's, `resolve::mapping`), run as the mapper with its own settings' values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// The name blocks use.
    pub name: String,
    /// Its config, as written. At run time its top-level keys are written over the config file
    /// once more (Meltano's `SingerMapper.before_configure`).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub config: serde_json::Map<String, Value>,
    /// Every setting of the mapping plugin, with its value chosen from the environment's
    /// entry for the mapper, the mapping's `config`, the mapper's parent or the default (the
    /// mapper's own `config` is replaced, never merged).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<Setting>,
    /// Its extras, likewise (`_mapping`, `_mapping_name` among them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extras: Vec<Setting>,
}

/// A job: steps run in series; the first failing step stops it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// The name (`meltc-run job NAME`).
    pub name: String,
    /// The blocks as written in `tasks`, flattened.
    pub blocks: Vec<String>,
    /// The blocks grouped into steps.
    pub steps: Vec<Step>,
    /// Made from a legacy extractor/loader schedule of this name.
    #[serde(default, skip_serializing_if = "is_false")]
    pub legacy_schedule: bool,
    /// Built with `--allow-ephemeral-state` while it runs an incremental extractor and the
    /// environment keeps state where a pod loses it ([`StateInfo::persistent`] false): meltc-run
    /// then runs each of its extract/load steps as a full sync that neither reads nor writes
    /// state, and says so in its log, as the build promised. Never set otherwise: a job that
    /// needs state it cannot keep fails instead.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ephemeral_state: bool,
    /// The job's `annotations`.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub annotations: serde_json::Map<String, Value>,
}

/// One step of a job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// `tap [mapping...] target`.
    ExtractLoad {
        /// The extractor.
        extractor: String,
        /// Mappings in order, each with its mapper.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        mappings: Vec<MappingRef>,
        /// The loader.
        loader: String,
        /// The state ID before any suffix (`<env>:<tap>-to-<target>`, or a legacy schedule's
        /// name); `None` without an environment (stateless).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state_id: Option<String>,
        /// Whether the extractor keeps state (`state` capability).
        incremental: bool,
    },
    /// A plugin run alone, with a named command or none.
    Command {
        /// The plugin.
        plugin: String,
        /// The command, when named.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        command: Option<String>,
    },
}

/// A mapping named in a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingRef {
    /// The mapper plugin.
    pub mapper: String,
    /// The mapping.
    pub mapping: String,
}

/// A schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// The name.
    pub name: String,
    /// The job it runs.
    pub job: String,
    /// `interval` as written.
    pub interval: String,
    /// The five-field cron expression (presets expanded); `None` for `@once`, `@manual` and
    /// `@none`, which only run when started by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// Extra variables for the run, as written.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub env: EnvMap,
    /// The schedule's `annotations`.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub annotations: serde_json::Map<String, Value>,
}

/// A variable the project references.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    /// Whether its value is a secret (a Kubernetes Secret key, never a ConfigMap value).
    pub secret: bool,
    /// Why it is (or is not) a secret.
    pub reason: String,
    /// Where the manifest gives it a value itself (`env` blocks, as `env`,
    /// `environment.env`, `plugin:<name>`, `schedule:<name>`), or `runtime` for the
    /// variables meltc-run sets (`MELTANO_PROJECT_ROOT`...). Empty: it must come from the
    /// pod's environment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub defined_by: Vec<String>,
    /// What references it (`extractors.tap-x.password`, `env.X`, ...), sorted.
    pub used_by: Vec<String>,
}

impl Setting {
    /// The setting as the resolver models it: what env var names, casts and processors need.
    #[must_use]
    pub fn model(&self) -> crate::meltano::setting::Setting {
        crate::meltano::setting::Setting {
            name: self.name.clone(),
            aliases: self.aliases.clone(),
            kind: self.kind,
            default: None,
            sensitive: self.sensitive,
            hidden: false,
            env: self.env.clone(),
            env_aliases: self.env_aliases.clone(),
            options: self.options.clone(),
            value_processor: self.value_processor.clone(),
            value_post_processor: self.value_post_processor.clone(),
            declared: crate::meltano::setting::Declared::Definition,
        }
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_false(flag: &bool) -> bool {
    !flag
}

impl Manifest {
    /// The manifest as its file holds it: pretty JSON with a trailing newline.
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Read a manifest file's text.
    ///
    /// # Errors
    /// Not JSON, not a manifest, or another format version.
    pub fn from_json(text: &str) -> Result<Self, ReadError> {
        let value: Value = serde_json::from_str(text).map_err(ReadError::Json)?;
        let version = value.get("manifest_version").and_then(Value::as_u64);
        if version != Some(u64::from(MANIFEST_VERSION)) {
            return Err(ReadError::Version(version));
        }
        serde_json::from_value(value).map_err(ReadError::Json)
    }

    /// The plugin of `plugin_type` named `name`.
    #[must_use]
    pub fn plugin_of_type(&self, plugin_type: &str, name: &str) -> Option<&Plugin> {
        self.plugins
            .iter()
            .find(|plugin| plugin.plugin_type.as_str() == plugin_type && plugin.name == name)
    }

    /// The first plugin named `name`, in Meltano's type order.
    #[must_use]
    pub fn plugin(&self, name: &str) -> Option<&Plugin> {
        self.plugins.iter().find(|plugin| plugin.name == name)
    }

    /// Meltano's plugin list (`resolve::mapping`): every plugin, each mapper followed by its
    /// mappings.
    #[must_use]
    pub fn listed(&self) -> Vec<(Listed<'_>, Found<'_>)> {
        let mut listed = Vec::new();
        for plugin in &self.plugins {
            let plugin_type = plugin.plugin_type;
            listed.push((
                Listed {
                    plugin_type,
                    name: &plugin.name,
                    mapping: None,
                },
                Found::Plugin(plugin),
            ));
            for mapping in &plugin.mappings {
                listed.push((
                    Listed {
                        plugin_type,
                        name: &plugin.name,
                        mapping: Some(&mapping.name),
                    },
                    Found::Mapping(plugin, mapping),
                ));
            }
        }
        listed
    }

    /// The plugin or mapping a command line names, as Meltano's `find_plugin` finds it.
    ///
    /// # Errors
    /// The name finds a mapping that another mapping shares.
    pub fn find_plugin(&self, name: &str) -> Result<Option<Found<'_>>, FindError> {
        let listed = self.listed();
        let items: Vec<Listed<'_>> = listed.iter().map(|(item, _)| *item).collect();
        Ok(find_listed(&items, name, None)?.map(|position| listed[position].1))
    }

    /// The job named `name`.
    #[must_use]
    pub fn job(&self, name: &str) -> Option<&Job> {
        self.jobs.iter().find(|job| job.name == name)
    }
}

/// What a plugin name finds in a manifest.
#[derive(Clone, Copy, Debug)]
pub enum Found<'m> {
    /// A plugin.
    Plugin(&'m Plugin),
    /// A mapping of the mapper.
    Mapping(&'m Plugin, &'m Mapping),
}

impl Plugin {
    /// The plugin Meltano runs for `mapping` of this mapper: the mapper with the mapping's
    /// settings and extras (`resolve::mapping`).
    #[must_use]
    pub fn mapping_plugin(&self, mapping: &Mapping) -> Plugin {
        Plugin {
            settings: mapping.settings.clone(),
            extras: mapping.extras.clone(),
            mappings: Vec::new(),
            ..self.clone()
        }
    }
}

/// Why a manifest cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Not JSON, or not the shape of a manifest.
    #[error("not a meltc manifest: {0}")]
    Json(serde_json::Error),
    /// Another format version.
    #[error("manifest_version {} is not the version this meltc reads ({MANIFEST_VERSION}): rebuild the artifacts with this meltc (`meltc build`), so that meltc-run and the manifest come from the same version", .0.map_or_else(|| "(missing)".to_owned(), |v| v.to_string()))]
    Version(Option<u64>),
}

/// The JSON Schema of the manifest, as `schemas/manifest.schema.json` holds it.
#[must_use]
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Manifest);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
