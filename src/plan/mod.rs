//! `meltc plan`: what a deploy of one environment would change, compared with what is deployed.
//!
//! Both sides are a [`Side`]: a typed [`Manifest`] and the generated files around it (the new
//! side is what `meltc build` would write; the deployed side is read by [`load`] from a manifest
//! file, a build output folder or a git revision). [`compare`] lists what is added, changed and
//! removed (jobs, schedules, plugins and settings, images, Secret keys, ConfigMap values, other
//! files); [`state`] lists the state IDs a deploy starts fresh or orphans and the changes
//! existing bookmarks make ineffective; [`render`] writes the result for people, for JSON
//! readers (`schemas/plan.schema.json`) and for a pull-request comment.
//!
//! Values are shown as written in meltano.yml, so a secret stays its `${VAR}` reference; the
//! value of a sensitive setting is never shown, even when written literally.

pub mod artifacts;
pub mod compare;
pub mod load;
pub mod render;
pub mod state;

use schemars::JsonSchema;
use serde::Serialize;

use crate::emit::Artifacts;
use crate::manifest::Manifest;

/// The version of the JSON form; bump it on any change a reader of the previous one would
/// misread.
pub const PLAN_VERSION: u32 = 1;

/// One environment as built or as deployed.
#[derive(Clone, Debug)]
pub struct Side {
    /// The manifest.
    pub manifest: Manifest,
    /// Every generated file but the manifest, by path in the output folder (`k8s/...`).
    pub files: Artifacts,
    /// What the Kubernetes files deploy.
    pub k8s: artifacts::Kubernetes,
}

impl Side {
    /// A side from its manifest and generated files (`manifest.json` among them is ignored).
    ///
    /// # Errors
    /// A Kubernetes file that is not YAML, named with the parser's message.
    pub fn new(manifest: Manifest, mut files: Artifacts) -> Result<Self, String> {
        files.remove(crate::manifest::FILE_NAME);
        files.remove(crate::emit::INDEX_FILE);
        let k8s = artifacts::Kubernetes::read(&files)?;
        Ok(Self {
            manifest,
            files,
            k8s,
        })
    }
}

/// What a deploy would change (`meltc plan --format json`).
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct Plan {
    /// The format version ([`PLAN_VERSION`]).
    pub version: u32,
    /// The environment planned; `null` for a project without environments.
    pub environment: Option<String>,
    /// What the build was compared with: `--against` as given, and its kind.
    pub against: Against,
    /// Whether a deploy changes anything (exit code 1).
    pub changes: bool,
    /// Jobs, by name (before/after: their blocks).
    pub jobs: Vec<Change>,
    /// Schedules, by name (before/after: the job and the cron expression or interval).
    pub schedules: Vec<Change>,
    /// Plugins, by `<type>.<name>` (before/after: variant and `pip_url`).
    pub plugins: Vec<Change>,
    /// Setting values as written, by `<type>.<plugin>.<setting>` (a sensitive one's value is
    /// never shown).
    pub settings: Vec<Change>,
    /// Container images, by CronJob (before/after: the image), and the Dockerfile's base images.
    pub images: Vec<Change>,
    /// Keys of the Kubernetes Secret the pods read (names only, never values).
    pub secret_keys: Vec<Change>,
    /// Values of the generated ConfigMap, by key.
    pub config_map: Vec<Change>,
    /// Every generated file that a deploy changes, by path (`manifest.json` when the typed
    /// manifests differ; the lists above say what the differences mean).
    pub files: Vec<Change>,
    /// What the deploy does to incremental state.
    pub state: StatePlan,
}

/// What `--against` named.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct Against {
    /// As given on the command line.
    pub given: String,
    /// How it was read.
    pub kind: AgainstKind,
}

/// How the deployed side was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgainstKind {
    /// A manifest file; the other files are generated from it by this meltc.
    Manifest,
    /// A build output folder (`deploy/<env>/`).
    Folder,
    /// A git revision of the build output folder (`git show REV:path`).
    Git,
}

/// One thing added, changed or removed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
pub struct Change {
    /// What: a name, a key or a path.
    pub name: String,
    /// How.
    pub change: ChangeKind,
    /// Deployed (absent when added).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// After the deploy (absent when removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// Added, changed or removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Only after the deploy.
    Added,
    /// On both sides, different.
    Changed,
    /// Only deployed.
    Removed,
}

/// What the deploy does to incremental state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct StatePlan {
    /// Where the state is read from to know whether bookmarks exist: `assumed` (every deployed
    /// incremental state ID is taken to have bookmarks; nothing is read) or the backend URI
    /// (`--read-state`, credentials redacted).
    pub bookmarks_from: String,
    /// The state backend, when the deploy changes it: every state ID then starts fresh
    /// there unless its state is copied over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<Change>,
    /// State IDs the new build runs that the deployed one does not: their first run is a full
    /// sync.
    pub fresh: Vec<StateIdChange>,
    /// State IDs the deployed build runs that the new one does not: their bookmarks stay in
    /// the backend, unused.
    pub orphaned: Vec<StateIdChange>,
    /// Changes that existing bookmarks make ineffective.
    pub ineffective: Vec<Ineffective>,
}

/// A state ID that starts fresh or is orphaned.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
pub struct StateIdChange {
    /// The state ID (an environment `state_id_suffix` as written, `${VAR}` unexpanded).
    pub state_id: String,
    /// The jobs whose steps use it.
    pub jobs: Vec<String>,
    /// For a fresh ID: the orphaned ID it probably replaces (same job, or the same
    /// `<tap>-to-<target>` in a renamed environment); `meltc-run state copy` keeps the
    /// bookmarks. For an orphaned ID: the fresh ID that replaces it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renamed: Option<String>,
    /// With `--read-state`: whether the backend holds state under this ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored: Option<bool>,
}

/// A change that existing state makes ineffective.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
pub struct Ineffective {
    /// The setting, `<type>.<plugin>.<setting>`.
    pub setting: String,
    /// The value deployed.
    pub before: String,
    /// The value after the deploy.
    pub after: String,
    /// The state IDs whose bookmarks win over the new value.
    pub state_ids: Vec<String>,
    /// Why it has no effect, and what to do.
    pub reason: String,
}

impl Plan {
    /// Whether anything is listed (state findings only come with other changes).
    #[must_use]
    pub fn has_changes(&self) -> bool {
        [
            &self.jobs,
            &self.schedules,
            &self.plugins,
            &self.settings,
            &self.images,
            &self.secret_keys,
            &self.config_map,
            &self.files,
        ]
        .iter()
        .any(|list| !list.is_empty())
            || !self.state.fresh.is_empty()
            || !self.state.orphaned.is_empty()
            || self.state.backend.is_some()
    }
}

/// Compare the deployed side with the new build. `bookmarks` says which state IDs hold state
/// (`None`: assume every deployed incremental state ID does).
#[must_use]
pub fn plan(
    deployed: &Side,
    built: &Side,
    against: Against,
    bookmarks: Option<&state::Bookmarks>,
) -> Plan {
    let environment = built
        .manifest
        .environment
        .as_ref()
        .map(|environment| environment.name.clone());
    let (deployed_k8s, built_k8s) = (&deployed.k8s, &built.k8s);
    let mut plan = Plan {
        version: PLAN_VERSION,
        environment,
        against,
        changes: false,
        jobs: compare::jobs(&deployed.manifest, &built.manifest),
        schedules: compare::schedules(&deployed.manifest, &built.manifest),
        plugins: compare::plugins(&deployed.manifest, &built.manifest),
        settings: compare::settings(&deployed.manifest, &built.manifest),
        images: compare::maps(&deployed_k8s.images, &built_k8s.images),
        secret_keys: compare::keys(&deployed_k8s.secret_keys, &built_k8s.secret_keys),
        config_map: compare::maps(&deployed_k8s.config_map, &built_k8s.config_map),
        files: compare::files(deployed, built),
        state: state::plan(&deployed.manifest, &built.manifest, bookmarks),
    };
    plan.changes = plan.has_changes();
    plan
}

/// The JSON Schema of `meltc plan --format json`, as `schemas/plan.schema.json` holds it.
#[must_use]
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Plan);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
