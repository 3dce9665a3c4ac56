//! meltc's own deploy settings, read from `annotations.meltc` of the manifest (the project's
//! annotations with the environment's merged over them; Meltano ignores annotations), with
//! per-job and per-schedule Kubernetes overrides from their own `annotations.meltc`.
//!
//! ```yaml
//! annotations:
//!   meltc:
//!     name: lakehouse                # object names and labels (default: meltano)
//!     orchestrator: k8s              # who owns the schedules: k8s (default) or dagster
//!     image:
//!       python: "3.11"               # the image's Python (default 3.12)
//!       base: python:3.11.14-slim-bookworm@sha256:...   # must be pinned by digest
//!       meltc: registry.example/meltc:0.1.0              # the image meltc-run is copied from
//!       platform: x86_64-manylinux_2_28                  # wheels `meltc lock --requirements` picks
//!     kubernetes:                    # also under a job's or a schedule's annotations.meltc
//!       image: registry.example/lakehouse-prod           # default: <name>-<environment>
//!       namespace: lakehouse       # default: the name
//!       suspend: false
//!       startingDeadlineSeconds: 1800
//!       activeDeadlineSeconds: 21600
//!       backoffLimit: 0
//!       successfulJobsHistoryLimit: 3
//!       failedJobsHistoryLimit: 3
//!       tmpSizeLimit: 1Gi
//!       resources: {requests: {cpu: 250m, memory: 512Mi, ephemeral-storage: 1Gi},
//!                   limits: {memory: 2Gi, ephemeral-storage: 2Gi}}
//! ```
//! Unknown keys are errors (a typo would otherwise silently keep a default).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::manifest::Manifest;

/// The base images meltc knows, by Python version: the official `python:X.Y-slim` images,
/// pinned by tag and digest. `annotations.meltc.image.base` overrides them.
pub const BASE_IMAGES: &[(&str, &str)] = &[
    (
        "3.10",
        "python:3.10.19-slim-bookworm@sha256:23f63358922e79a794f71be8f3723c84e5ccca9638af3f74456dc73d6184499e",
    ),
    (
        "3.11",
        "python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d",
    ),
    (
        "3.12",
        "python:3.12.12-slim-bookworm@sha256:593bd06efe90efa80dc4eee3948be7c0fde4134606dd40d8dd8dbcade98e669c",
    ),
    (
        "3.13",
        "python:3.13.9-slim-bookworm@sha256:b685a4fa58bb19d1814d78a1ec0f0208f351452724f78b20212c984d6e124a34",
    ),
];

/// The image's Python when the project names none.
pub const DEFAULT_PYTHON: &str = "3.12";

/// The platform `meltc lock --requirements` locks wheels for when the project names none.
pub const DEFAULT_PLATFORM: &str = "x86_64-manylinux_2_28";

/// The image `meltc-run` is copied from: built from `docker/meltc/Dockerfile` of this
/// repository and tagged with the meltc version (publish it to your registry and set
/// `annotations.meltc.image.meltc`).
pub const DEFAULT_MELTC_IMAGE: &str = concat!("meltc:", env!("CARGO_PKG_VERSION"));

/// Who starts the scheduled runs (one owner, so that nothing runs twice).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Orchestrator {
    /// Kubernetes CronJobs run the schedules; Dagster schedules are written stopped.
    Kubernetes,
    /// Dagster runs the schedules; CronJobs are written suspended.
    Dagster,
}

/// The image settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// `X.Y`.
    pub python: String,
    /// The base image, pinned by digest.
    pub base: String,
    /// The meltc image `meltc-run` is copied from.
    pub meltc: String,
    /// The wheel platform of the locks.
    pub platform: String,
}

/// Kubernetes settings of one CronJob (defaults, then the environment's, the job's and the
/// schedule's overrides).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kubernetes {
    /// The container image (an overlay's `images:` sets the registry and digest).
    pub image: String,
    /// `metadata.namespace` (default: the deploy name; never Kubernetes' `default`).
    pub namespace: Option<String>,
    /// Written suspended.
    pub suspend: bool,
    /// `startingDeadlineSeconds`; `None`: derived from the schedule.
    pub starting_deadline_seconds: Option<i64>,
    /// `activeDeadlineSeconds` of the Job.
    pub active_deadline_seconds: i64,
    /// `backoffLimit` of the Job.
    pub backoff_limit: i32,
    /// History kept.
    pub successful_jobs_history_limit: i32,
    /// History kept.
    pub failed_jobs_history_limit: i32,
    /// The size limit of the `/tmp` emptyDir.
    pub tmp_size_limit: String,
    /// Resource requests.
    pub requests: BTreeMap<String, String>,
    /// Resource limits.
    pub limits: BTreeMap<String, String>,
}

/// Everything read from `annotations.meltc` of the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deploy {
    /// The name objects and labels use.
    pub name: String,
    /// Who owns the schedules.
    pub orchestrator: Orchestrator,
    /// The image.
    pub image: Image,
    /// The Kubernetes defaults of the environment.
    pub kubernetes: Kubernetes,
    /// Dagster asset keys given per extractor and `tap_stream_id`.
    pub asset_keys: BTreeMap<(String, String), Vec<String>>,
}

const TOP_KEYS: &[&str] = &["name", "orchestrator", "image", "kubernetes", "dagster"];
const DAGSTER_KEYS: &[&str] = &["asset_keys"];
const IMAGE_KEYS: &[&str] = &["python", "base", "meltc", "platform"];
const KUBERNETES_KEYS: &[&str] = &[
    "image",
    "namespace",
    "suspend",
    "startingDeadlineSeconds",
    "activeDeadlineSeconds",
    "backoffLimit",
    "successfulJobsHistoryLimit",
    "failedJobsHistoryLimit",
    "tmpSizeLimit",
    "resources",
];

/// Problems found while reading settings, each naming the annotation.
type Problems = Vec<String>;

fn object<'v>(
    value: Option<&'v Value>,
    path: &str,
    problems: &mut Problems,
) -> Option<&'v Map<String, Value>> {
    match value? {
        Value::Object(map) => Some(map),
        Value::Null => None,
        _ => {
            problems.push(format!("`{path}` must be a mapping"));
            None
        }
    }
}

fn unknown_keys(map: &Map<String, Value>, known: &[&str], path: &str, problems: &mut Problems) {
    for key in map.keys().filter(|key| !known.contains(&key.as_str())) {
        let hint = crate::diagnostics::suggest::did_you_mean(key, known.iter().copied())
            .map_or_else(String::new, |near| format!(" (did you mean `{near}`?)"));
        problems.push(format!(
            "`{path}.{key}` is not a meltc setting{hint}; known: {}",
            known.join(", ")
        ));
    }
}

fn text(
    map: &Map<String, Value>,
    key: &str,
    path: &str,
    problems: &mut Problems,
) -> Option<String> {
    match map.get(key)? {
        Value::String(text) if !text.trim().is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => {
            problems.push(format!("`{path}.{key}` must be a non-empty string"));
            None
        }
    }
}

fn integer(
    map: &Map<String, Value>,
    key: &str,
    path: &str,
    min: i64,
    problems: &mut Problems,
) -> Option<i64> {
    let value = map.get(key)?;
    match value.as_i64() {
        Some(number) if number >= min => Some(number),
        _ => {
            problems.push(format!(
                "`{path}.{key}` must be a whole number of at least {min}, not {value}"
            ));
            None
        }
    }
}

/// The deploy settings of `manifest`.
///
/// # Errors
/// Each annotation that is not a setting, or not of its type.
pub fn deploy(manifest: &Manifest) -> Result<Deploy, Problems> {
    let mut problems = Problems::new();
    let meltc = object(
        manifest.annotations.get("meltc"),
        "annotations.meltc",
        &mut problems,
    );
    let empty = Map::new();
    let meltc = meltc.unwrap_or(&empty);
    unknown_keys(meltc, TOP_KEYS, "annotations.meltc", &mut problems);
    let name = text(meltc, "name", "annotations.meltc", &mut problems)
        .unwrap_or_else(|| "meltano".to_owned());
    let orchestrator = match meltc.get("orchestrator") {
        None => Orchestrator::Kubernetes,
        Some(Value::String(owner)) if owner == "k8s" || owner == "kubernetes" => {
            Orchestrator::Kubernetes
        }
        Some(Value::String(owner)) if owner == "dagster" => Orchestrator::Dagster,
        Some(_) => {
            problems.push("`annotations.meltc.orchestrator` must be `k8s` or `dagster`".to_owned());
            Orchestrator::Kubernetes
        }
    };
    let image = image(meltc, &mut problems);
    let environment = manifest
        .environment
        .as_ref()
        .map(|environment| environment.name.as_str());
    let default_image = crate::emit::names::kubernetes_name(
        &environment.map_or_else(|| name.clone(), |env| format!("{name}-{env}")),
        253,
    );
    let mut kubernetes = Kubernetes {
        image: default_image,
        namespace: Some(crate::emit::names::kubernetes_name(&name, 63)),
        suspend: false,
        starting_deadline_seconds: None,
        active_deadline_seconds: 21_600,
        backoff_limit: 0,
        successful_jobs_history_limit: 3,
        failed_jobs_history_limit: 3,
        tmp_size_limit: "1Gi".to_owned(),
        requests: [
            ("cpu", "250m"),
            ("memory", "512Mi"),
            ("ephemeral-storage", "1Gi"),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect(),
        limits: [("memory", "2Gi"), ("ephemeral-storage", "2Gi")]
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect(),
    };
    kubernetes.apply(
        meltc.get("kubernetes"),
        "annotations.meltc.kubernetes",
        &mut problems,
    );
    let asset_keys = asset_keys(meltc, &mut problems);
    if problems.is_empty() {
        Ok(Deploy {
            name: crate::emit::names::kubernetes_name(&name, 40),
            orchestrator,
            image,
            kubernetes,
            asset_keys,
        })
    } else {
        Err(problems)
    }
}

/// `annotations.meltc.dagster.asset_keys`: `{extractor: {tap_stream_id: [part, ...]}}`, each
/// part a Dagster name (letters, digits, `_`), as a dbt project's `source()` keys are.
fn asset_keys(
    meltc: &Map<String, Value>,
    problems: &mut Problems,
) -> BTreeMap<(String, String), Vec<String>> {
    const PATH: &str = "annotations.meltc.dagster";
    let mut keys = BTreeMap::new();
    let Some(dagster) = object(meltc.get("dagster"), PATH, problems) else {
        return keys;
    };
    unknown_keys(dagster, DAGSTER_KEYS, PATH, problems);
    let path = format!("{PATH}.asset_keys");
    let Some(extractors) = object(dagster.get("asset_keys"), &path, problems) else {
        return keys;
    };
    for (extractor, streams) in extractors {
        let extractor_path = format!("{path}.{extractor}");
        let Some(streams) = object(Some(streams), &extractor_path, problems) else {
            continue;
        };
        for (stream, key) in streams {
            let parts: Option<Vec<String>> = key.as_array().and_then(|parts| {
                parts
                    .iter()
                    .map(|part| {
                        part.as_str()
                            .filter(|part| {
                                !part.is_empty()
                                    && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                            })
                            .map(str::to_owned)
                    })
                    .collect()
            });
            match parts {
                Some(parts) if !parts.is_empty() => {
                    keys.insert((extractor.clone(), stream.clone()), parts);
                }
                _ => problems.push(format!(
                    "`{extractor_path}.{stream}` must be a non-empty list of Dagster names (letters, digits and `_`), like `[shop, orders]`, not {key}"
                )),
            }
        }
    }
    keys
}

fn image(meltc: &Map<String, Value>, problems: &mut Problems) -> Image {
    const PATH: &str = "annotations.meltc.image";
    let empty = Map::new();
    let map = object(meltc.get("image"), PATH, problems).unwrap_or(&empty);
    unknown_keys(map, IMAGE_KEYS, PATH, problems);
    let given_python = text(map, "python", PATH, problems);
    let given_base = text(map, "base", PATH, problems);
    if let (Some(base), None) = (&given_base, &given_python) {
        // meltc knows the Python of its own pinned bases only; the locks of a custom base
        // would be compiled for the default and install into another Python unnoticed.
        problems.push(format!(
            "`{PATH}.base` `{base}` is set but `{PATH}.python` is not: meltc cannot know the Python of a base image it did not pin, and the requirement locks must be compiled for it; set `{PATH}.python` to the base image's Python version (`X.Y`), then run `meltc lock --requirements`"
        ));
    }
    let python = given_python.unwrap_or_else(|| DEFAULT_PYTHON.to_owned());
    let known = BASE_IMAGES
        .iter()
        .find(|(version, _)| *version == python)
        .map(|(_, image)| (*image).to_owned());
    let base = match (given_base, known) {
        (Some(base), _) if base.contains("@sha256:") => base,
        (Some(base), _) => {
            problems.push(format!(
                "`{PATH}.base` `{base}` is not pinned by digest: write `name:tag@sha256:<digest>` (`docker buildx imagetools inspect name:tag` prints it)"
            ));
            base
        }
        (None, Some(image)) => image,
        (None, None) => {
            let versions: Vec<&str> = BASE_IMAGES.iter().map(|(version, _)| *version).collect();
            problems.push(format!(
                "meltc has no pinned base image for Python `{python}` (it has {}): set `{PATH}.base` to a `python:{python}-slim` image pinned by digest",
                versions.join(", ")
            ));
            String::new()
        }
    };
    Image {
        python,
        base,
        meltc: text(map, "meltc", PATH, problems).unwrap_or_else(|| DEFAULT_MELTC_IMAGE.to_owned()),
        platform: text(map, "platform", PATH, problems)
            .unwrap_or_else(|| DEFAULT_PLATFORM.to_owned()),
    }
}

impl Kubernetes {
    /// Apply the overrides of an `annotations.meltc.kubernetes` mapping at `path`.
    pub fn apply(&mut self, value: Option<&Value>, path: &str, problems: &mut Problems) {
        let Some(map) = object(value, path, problems) else {
            return;
        };
        unknown_keys(map, KUBERNETES_KEYS, path, problems);
        if let Some(image) = text(map, "image", path, problems) {
            self.image = image;
        }
        if let Some(namespace) = text(map, "namespace", path, problems) {
            self.namespace = Some(namespace);
        }
        match map.get("suspend") {
            None => {}
            Some(Value::Bool(flag)) => self.suspend = *flag,
            Some(_) => problems.push(format!("`{path}.suspend` must be true or false")),
        }
        if let Some(seconds) = integer(map, "startingDeadlineSeconds", path, 10, problems) {
            self.starting_deadline_seconds = Some(seconds);
        }
        if let Some(seconds) = integer(map, "activeDeadlineSeconds", path, 1, problems) {
            self.active_deadline_seconds = seconds;
        }
        for (key, field) in [
            ("backoffLimit", &mut self.backoff_limit),
            (
                "successfulJobsHistoryLimit",
                &mut self.successful_jobs_history_limit,
            ),
            (
                "failedJobsHistoryLimit",
                &mut self.failed_jobs_history_limit,
            ),
        ] {
            if let Some(number) = integer(map, key, path, 0, problems) {
                *field = i32::try_from(number).unwrap_or(i32::MAX);
            }
        }
        if let Some(size) = text(map, "tmpSizeLimit", path, problems) {
            self.tmp_size_limit = size;
        }
        let resources_path = format!("{path}.resources");
        if let Some(resources) = object(map.get("resources"), &resources_path, problems) {
            unknown_keys(
                resources,
                &["requests", "limits"],
                &resources_path,
                problems,
            );
            for (key, target) in [
                ("requests", &mut self.requests),
                ("limits", &mut self.limits),
            ] {
                let key_path = format!("{resources_path}.{key}");
                let Some(values) = object(resources.get(key), &key_path, problems) else {
                    continue;
                };
                for (resource, quantity) in values {
                    match quantity {
                        Value::Null => {
                            target.remove(resource);
                        }
                        Value::String(_) | Value::Number(_) => {
                            let quantity = quantity
                                .as_str()
                                .map_or_else(|| quantity.to_string(), str::to_owned);
                            target.insert(resource.clone(), quantity);
                        }
                        _ => problems.push(format!(
                            "`{key_path}.{resource}` must be a quantity like `512Mi`, or null to drop it"
                        )),
                    }
                }
            }
        }
    }
}
