//! What Kubernetes does with a CronJob's pod before its container starts, for the objects meltc
//! generates: the container's environment resolved from `env` and `envFrom` (ConfigMaps,
//! `secretKeyRef`s with `optional`), `$(VAR)` references expanded, merged over the image's
//! `ENV`, and the command line from the image's `ENTRYPOINT`/`CMD` and the container's
//! `command`/`args`.
//!
//! Follows the kubelet's `makeEnvironmentVariables` (kubernetes/kubernetes
//! `pkg/kubelet/kubelet_pods.go`): the service variables of the `kubernetes` Service come
//! first (they are injected even with `enableServiceLinks: false`); then `envFrom` sources in
//! order (a later key replaces an earlier one; keys that are not valid variable names are
//! skipped); then `env` entries in order, each replacing a name set before it, a `value`
//! expanded against everything defined so far (`third_party/forked/golang/expansion`: `$(NAME)`
//! of a defined name is replaced, `$$` is `$`, anything else stays as written); a missing
//! Secret key is skipped when the reference is `optional`, and otherwise the container never
//! starts (`CreateContainerConfigError`). The container runtime then puts these over the image's
//! `ENV` and adds `HOSTNAME`.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{ConfigMap, Container, PodSpec, Secret};
use serde::de::DeserializeOwned;

use super::image::ImageConfig;

/// A Kubernetes object read from a YAML file (meltc's own YAML reader, then serde).
pub fn read<T: DeserializeOwned>(path: &Path) -> T {
    let text = fs_err::read_to_string(path).unwrap();
    let source = meltc::diagnostics::SourceFile::new("object.yaml", path, text);
    let root = meltc::yaml::parse(meltc::diagnostics::FileId(0), &source)
        .root
        .unwrap_or_else(|| panic!("{} is not YAML", path.display()));
    serde_json::from_value(root.to_json())
        .unwrap_or_else(|error| panic!("{} is not the object expected: {error}", path.display()))
}

/// The ConfigMaps and Secrets of the namespace, by name.
#[derive(Default)]
pub struct Namespace {
    pub config_maps: BTreeMap<String, ConfigMap>,
    pub secrets: BTreeMap<String, Secret>,
}

impl Namespace {
    pub fn add_config_map(&mut self, config_map: ConfigMap) {
        let name = config_map.metadata.name.clone().expect("a named ConfigMap");
        self.config_maps.insert(name, config_map);
    }

    /// Add `secret` as the API server stores it: `stringData` merged into `data`.
    pub fn add_secret(&mut self, mut secret: Secret) {
        let name = secret.metadata.name.clone().expect("a named Secret");
        let mut data = secret.data.take().unwrap_or_default();
        for (key, value) in secret.string_data.take().unwrap_or_default() {
            data.insert(key, k8s_openapi::ByteString(value.into_bytes()));
        }
        secret.data = Some(data);
        self.secrets.insert(name, secret);
    }
}

/// The pod template of a CronJob.
pub fn pod_spec(cronjob: &CronJob) -> &PodSpec {
    cronjob
        .spec
        .as_ref()
        .and_then(|spec| spec.job_template.spec.as_ref())
        .and_then(|job| job.template.spec.as_ref())
        .expect("a CronJob with a pod template")
}

/// The variables of the cluster's `kubernetes` Service, which every container gets.
const SERVICE_VARIABLES: [(&str, &str); 7] = [
    ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
    ("KUBERNETES_SERVICE_PORT", "443"),
    ("KUBERNETES_SERVICE_PORT_HTTPS", "443"),
    ("KUBERNETES_PORT", "tcp://10.96.0.1:443"),
    ("KUBERNETES_PORT_443_TCP", "tcp://10.96.0.1:443"),
    ("KUBERNETES_PORT_443_TCP_PROTO", "tcp"),
    ("KUBERNETES_PORT_443_TCP_PORT", "443"),
];

/// The container's own environment (without the image's), or the reason the kubelet refuses
/// to start it (`CreateContainerConfigError`).
pub fn container_env(
    container: &Container,
    namespace: &Namespace,
) -> Result<Vec<(String, String)>, String> {
    let mut env: Vec<(String, String)> = Vec::new();
    let set = |env: &mut Vec<(String, String)>, name: &str, value: String| {
        if let Some(slot) = env.iter_mut().find(|(existing, _)| existing == name) {
            slot.1 = value;
        } else {
            env.push((name.to_owned(), value));
        }
    };
    for source in container.env_from.iter().flatten() {
        let prefix = source.prefix.clone().unwrap_or_default();
        if let Some(reference) = &source.config_map_ref {
            let Some(config_map) = namespace.config_maps.get(&reference.name) else {
                if reference.optional == Some(true) {
                    continue;
                }
                return Err(format!("configmap \"{}\" not found", reference.name));
            };
            for (key, value) in config_map.data.iter().flatten() {
                let name = format!("{prefix}{key}");
                if is_variable_name(&name) {
                    set(&mut env, &name, value.clone());
                }
            }
        }
        assert!(
            source.secret_ref.is_none(),
            "envFrom secretRef: meltc never imports a whole Secret"
        );
    }
    let services: BTreeMap<&str, &str> = SERVICE_VARIABLES.into_iter().collect();
    for variable in container.env.iter().flatten() {
        if let Some(value) = &variable.value {
            let expanded = expand(value, |name| {
                env.iter()
                    .find(|(existing, _)| existing == name)
                    .map(|(_, value)| value.clone())
                    .or_else(|| services.get(name).map(|value| (*value).to_owned()))
            });
            set(&mut env, &variable.name, expanded);
            continue;
        }
        let Some(source) = &variable.value_from else {
            set(&mut env, &variable.name, String::new());
            continue;
        };
        if let Some(reference) = &source.secret_key_ref {
            let optional = reference.optional == Some(true);
            let value = namespace
                .secrets
                .get(&reference.name)
                .ok_or_else(|| format!("secret \"{}\" not found", reference.name))
                .and_then(|secret| {
                    secret
                        .data
                        .as_ref()
                        .and_then(|data| data.get(&reference.key))
                        .ok_or_else(|| {
                            format!(
                                "couldn't find key {} in Secret {}",
                                reference.key, reference.name
                            )
                        })
                });
            match value {
                Ok(bytes) => set(
                    &mut env,
                    &variable.name,
                    String::from_utf8(bytes.0.clone()).expect("UTF-8 secret"),
                ),
                Err(_) if optional => {}
                Err(error) => return Err(error),
            }
            continue;
        }
        if let Some(reference) = &source.config_map_key_ref {
            let value = namespace
                .config_maps
                .get(&reference.name)
                .and_then(|config_map| config_map.data.as_ref())
                .and_then(|data| data.get(&reference.key));
            match value {
                Some(value) => set(&mut env, &variable.name, value.clone()),
                None if reference.optional == Some(true) => {}
                None => {
                    return Err(format!(
                        "couldn't find key {} in ConfigMap {}",
                        reference.key, reference.name
                    ));
                }
            }
            continue;
        }
        panic!("{}: a valueFrom meltc does not write", variable.name);
    }
    for (name, value) in SERVICE_VARIABLES {
        if !env.iter().any(|(existing, _)| existing == name) {
            env.push((name.to_owned(), value.to_owned()));
        }
    }
    Ok(env)
}

/// Kubernetes' `$(VAR)` expansion (`expansion.Expand`): a defined name is replaced, `$$` is a
/// `$`, an undefined reference or a lone `$` stays as written.
#[must_use]
pub fn expand(input: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(reference) = after.strip_prefix('(') {
            match reference.find(')') {
                Some(end) => {
                    let name = &reference[..end];
                    match lookup(name) {
                        Some(value) => out.push_str(&value),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &reference[end + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = reference;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// A C identifier-like name the kubelet accepts from `envFrom` (`IsEnvVarName`: letters,
/// digits, `_`, `-`, `.`, not starting with a digit).
fn is_variable_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// The process environment the container runtime gives: the image's `ENV`, replaced and
/// extended by the container's, and `HOSTNAME` (the pod's name).
#[must_use]
pub fn process_env(
    image: &ImageConfig,
    container: Vec<(String, String)>,
    hostname: &str,
) -> Vec<(String, String)> {
    let mut env = image.env.clone();
    for (name, value) in
        std::iter::once(("HOSTNAME".to_owned(), hostname.to_owned())).chain(container)
    {
        if let Some(slot) = env.iter_mut().find(|(existing, _)| *existing == name) {
            slot.1 = value;
        } else {
            env.push((name, value));
        }
    }
    env
}

/// The command line: the container's `command` replaces the image's `ENTRYPOINT` (and then its
/// `CMD` is not used), the container's `args` replace the image's `CMD`.
#[must_use]
pub fn command_line(image: &ImageConfig, container: &Container) -> Vec<String> {
    match (&container.command, &container.args) {
        (Some(command), args) => command
            .iter()
            .chain(args.iter().flatten())
            .cloned()
            .collect(),
        (None, Some(args)) => image.entrypoint.iter().chain(args).cloned().collect(),
        (None, None) => image.entrypoint.iter().chain(&image.cmd).cloned().collect(),
    }
}

/// The exit codes the Job's `podFailurePolicy` fails the whole Job on (`FailJob` rules with
/// `operator: In`) for the container `name`.
pub fn final_exit_codes(cronjob: &CronJob, name: &str) -> Vec<i32> {
    cronjob
        .spec
        .as_ref()
        .and_then(|spec| spec.job_template.spec.as_ref())
        .and_then(|job| job.pod_failure_policy.as_ref())
        .map(|policy| {
            policy
                .rules
                .iter()
                .filter(|rule| rule.action == "FailJob")
                .filter_map(|rule| rule.on_exit_codes.as_ref())
                .filter(|codes| {
                    codes.operator == "In"
                        && codes.container_name.as_deref().is_none_or(|c| c == name)
                })
                .flat_map(|codes| codes.values.clone())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn expansion_follows_kubernetes() {
    let lookup = |name: &str| (name == "A").then(|| "a".to_owned());
    assert_eq!(expand("$(A)-$(B)-$$(A)-$-$(", lookup), "a-$(B)-$(A)-$-$(");
    assert_eq!(expand("x$(A)y", lookup), "xay");
}

/// `env` beats `envFrom`, a value sees the names set before it, a missing optional key is
/// skipped and a missing required one stops the container.
#[test]
fn container_env_follows_the_kubelet() {
    let container: Container = serde_json::from_value(serde_json::json!({
        "name": "c",
        "envFrom": [{"configMapRef": {"name": "config"}}],
        "env": [
            {"name": "A", "value": "from-env"},
            {"name": "B", "value": "$(A)-$(C)-$(KUBERNETES_SERVICE_PORT)"},
            {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "S", "optional": true}}},
            {"name": "T", "valueFrom": {"secretKeyRef": {"name": "s", "key": "T", "optional": true}}},
        ],
    }))
    .unwrap();
    let mut namespace = Namespace::default();
    namespace.add_config_map(
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "config"}, "data": {"A": "from-config", "1BAD": "x", "C": "c"},
        }))
        .unwrap(),
    );
    namespace.add_secret(
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "s"}, "stringData": {"S": "secret"},
        }))
        .unwrap(),
    );
    let env: BTreeMap<String, String> = container_env(&container, &namespace)
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(env["A"], "from-env");
    assert_eq!(env["B"], "from-env-c-443");
    assert_eq!(env["S"], "secret");
    assert!(!env.contains_key("T") && !env.contains_key("1BAD"));
    let mut required = container.clone();
    required.env.as_mut().unwrap()[3]
        .value_from
        .as_mut()
        .unwrap()
        .secret_key_ref
        .as_mut()
        .unwrap()
        .optional = None;
    assert_eq!(
        container_env(&required, &namespace),
        Err("couldn't find key T in Secret s".to_owned())
    );
}
