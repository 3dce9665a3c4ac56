//! One CronJob per schedule, typed with `k8s-openapi` (Kubernetes API `batch/v1` `CronJob`;
//! README "Kubernetes (kustomize base)" gives each field and why).

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{
    CronJob, CronJobSpec, JobSpec, JobTemplateSpec, PodFailurePolicy,
    PodFailurePolicyOnExitCodesRequirement, PodFailurePolicyOnPodConditionsPattern,
    PodFailurePolicyRule,
};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapEnvSource, Container, EmptyDirVolumeSource, EnvFromSource, EnvVar,
    EnvVarSource, PodSecurityContext, PodSpec, PodTemplateSpec, ResourceRequirements,
    SeccompProfile, SecretKeySelector, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{Names, Needed, metadata, needed_by};
use crate::emit::deploy_settings::{Deploy, Kubernetes, Orchestrator};
use crate::emit::names::{cronjob_names, label_value};
use crate::emit::yaml::{self, Comments};
use crate::manifest::{EnvValue, Job, Manifest, Schedule};
use crate::meltano::template::{Part, Template};
use crate::runtime::exit::RunExit;

/// The uid and gid of the image's user (`USER 10001:10001` in the Dockerfile).
const RUN_AS: i64 = 10_001;

/// Why each checkov check that fails by design is skipped, as `checkov.io/skipN` annotations.
const CHECKOV_SKIPS: &[(&str, &str)] = &[
    (
        "CKV_K8S_14",
        "the image is a placeholder name: the overlay's `images:` sets registry and tag or digest",
    ),
    (
        "CKV_K8S_43",
        "the digest is known only after CI builds the image: set it in the overlay's `images:`",
    ),
    (
        "CKV_K8S_15",
        "IfNotPresent is right for an image pinned by digest, which the overlay sets",
    ),
    (
        "CKV_K8S_35",
        "Singer plugins read their settings from environment variables (Meltano's contract); each secret is one secretKeyRef, not the whole Secret",
    ),
    (
        "CKV_K8S_11",
        "a CPU limit only throttles a batch job; memory and ephemeral-storage are limited",
    ),
];

/// Every CronJob: `(file name, YAML)`.
pub(super) fn cronjobs(
    manifest: &Manifest,
    deploy: &Deploy,
    names: &Names,
    variables: &BTreeMap<String, Needed>,
) -> Result<Vec<(String, String)>, Vec<String>> {
    let cronjob_names = cronjob_names(manifest.schedules.iter().map(|s| s.name.as_str()));
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for schedule in &manifest.schedules {
        let Some(job) = manifest.job(&schedule.job) else {
            continue;
        };
        let name = &cronjob_names[&schedule.name];
        match cronjob(manifest, deploy, names, variables, schedule, job, name) {
            Ok(text) => files.push((format!("cronjob-{name}.yaml"), text)),
            Err(problems) => errors.extend(
                problems
                    .into_iter()
                    .map(|problem| format!("schedule `{}`: {problem}", schedule.name)),
            ),
        }
    }
    files.sort();
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(errors)
    }
}

/// The settings of one CronJob: the environment's, then the job's, then the schedule's.
fn settings_for(
    deploy: &Deploy,
    job: &Job,
    schedule: &Schedule,
) -> Result<Kubernetes, Vec<String>> {
    let mut settings = deploy.kubernetes.clone();
    let mut problems = Vec::new();
    for (owner, annotations) in [
        ("job", &job.annotations),
        ("schedule", &schedule.annotations),
    ] {
        let meltc = annotations
            .get("meltc")
            .and_then(|meltc| meltc.get("kubernetes"));
        settings.apply(
            meltc,
            &format!("{owner}.annotations.meltc.kubernetes"),
            &mut problems,
        );
        if let Some(meltc) = annotations.get("meltc").and_then(|meltc| meltc.as_object()) {
            for key in meltc.keys().filter(|key| *key != "kubernetes") {
                problems.push(format!(
                    "`{owner}.annotations.meltc.{key}` is not a setting of a {owner} (only `kubernetes`)"
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(settings)
    } else {
        Err(problems)
    }
}

#[allow(clippy::too_many_lines)] // one object, field by field
fn cronjob(
    manifest: &Manifest,
    deploy: &Deploy,
    names: &Names,
    variables: &BTreeMap<String, Needed>,
    schedule: &Schedule,
    job: &Job,
    name: &str,
) -> Result<String, Vec<String>> {
    let settings = settings_for(deploy, job, schedule)?;
    let dagster_owns = deploy.orchestrator == Orchestrator::Dagster;
    let mut cannot_run = None;
    let (cron, manual) = match &schedule.cron {
        Some(cron) => match kubernetes_schedule(cron) {
            Ok(cron) => (cron, false),
            // Dagster runs it; the suspended CronJob only serves `kubectl create job --from`.
            Err(unsupported) if dagster_owns => {
                cannot_run = Some(unsupported.feature);
                (MANUAL_SCHEDULE.to_owned(), false)
            }
            Err(unsupported) => {
                return Err(vec![format!(
                    "{} cannot run `{cron}`: they have no {}; {}",
                    crate::cron::Orchestrator::Kubernetes,
                    unsupported.feature,
                    unsupported.instead
                )]);
            }
        },
        None => (MANUAL_SCHEDULE.to_owned(), true),
    };
    let suspend = manual || dagster_owns || settings.suspend;
    let starting_deadline = settings
        .starting_deadline_seconds
        .unwrap_or_else(|| starting_deadline_seconds(&cron));
    // What the manifest promises meltc-run (compile's `mark_ephemeral`), never guessed here.
    let ephemeral = job.ephemeral_state;

    let mut labels = names.labels.clone();
    labels.extend([
        ("app.kubernetes.io/name".to_owned(), "meltc-job".to_owned()),
        ("app.kubernetes.io/instance".to_owned(), label_value(name)),
        ("app.kubernetes.io/component".to_owned(), "elt".to_owned()),
        ("meltc.dev/job".to_owned(), label_value(&job.name)),
    ]);
    let mut annotations = BTreeMap::from([
        ("meltc.dev/schedule".to_owned(), schedule.name.clone()),
        ("meltc.dev/job".to_owned(), job.name.clone()),
        ("meltc.dev/interval".to_owned(), schedule.interval.clone()),
    ]);
    if let Some(feature) = cannot_run {
        annotations.insert(
            "meltc.dev/runs-in".to_owned(),
            format!(
                "Dagster: a CronJob has no {feature}, so this suspended CronJob's schedule is a placeholder"
            ),
        );
    }
    if ephemeral {
        annotations.insert(
            "meltc.dev/state".to_owned(),
            format!(
                "ephemeral: state is kept in `{}`, which the pod loses, so every run is a full sync (built with --allow-ephemeral-state)",
                manifest.state.uri
            ),
        );
    }
    for (index, (check, reason)) in CHECKOV_SKIPS.iter().enumerate() {
        annotations.insert(
            format!("checkov.io/skip{}", index + 1),
            format!("{check}={reason}"),
        );
    }
    let mut env: Vec<EnvVar> = needed_by(manifest, &job.name, &schedule.name, variables)
        .into_iter()
        // A schedule's own `env:` entry of the same name wins, as in `meltano run`.
        .filter(|(variable, needed)| needed.secret && !schedule.env.contains_key(*variable))
        .map(|(variable, _)| EnvVar {
            name: variable.clone(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: names.secret.clone(),
                    key: variable.clone(),
                    // A key missing from the Secret still starts the pod: meltc-run names it
                    // and exits 2, which podFailurePolicy makes final. A required key would
                    // hold the pod in CreateContainerConfigError until activeDeadlineSeconds.
                    optional: Some(true),
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        })
        .collect();
    env.extend(schedule.env.iter().map(|(variable, value)| match value {
        EnvValue::Written(text) => EnvVar {
            name: variable.clone(),
            value: Some(kubernetes_value(text)),
            ..EnvVar::default()
        },
        // A literal secret of the schedule: its value is in the Secret, never in this file.
        EnvValue::Secret { secret_literal } => EnvVar {
            name: variable.clone(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: names.secret.clone(),
                    key: secret_literal.key.clone(),
                    // Optional for the reason above: meltc-run names a missing key.
                    optional: Some(true),
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        },
    }));
    let reads_secrets = env.iter().any(|variable| variable.value_from.is_some());
    let quantities = |map: &BTreeMap<String, String>| {
        Some(
            map.iter()
                .map(|(key, value)| (key.clone(), Quantity(value.clone())))
                .collect(),
        )
    };
    let pod_meta = ObjectMeta {
        labels: Some(labels.clone()),
        ..ObjectMeta::default()
    };
    let container = Container {
        name: "meltc-run".to_owned(),
        image: Some(settings.image.clone()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        args: Some(vec!["job".to_owned(), job.name.clone()]),
        env_from: Some(vec![EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource {
                name: names.config_map.clone(),
                optional: None,
            }),
            ..EnvFromSource::default()
        }]),
        env: (!env.is_empty()).then_some(env),
        resources: Some(ResourceRequirements {
            requests: quantities(&settings.requests),
            limits: quantities(&settings.limits),
            ..ResourceRequirements::default()
        }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            privileged: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_owned()]),
                add: None,
            }),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(vec![VolumeMount {
            name: "tmp".to_owned(),
            mount_path: "/tmp".to_owned(),
            ..VolumeMount::default()
        }]),
        ..Container::default()
    };
    let pod = PodSpec {
        restart_policy: Some("Never".to_owned()),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS),
            run_as_group: Some(RUN_AS),
            fs_group: Some(RUN_AS),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".to_owned(),
                localhost_profile: None,
            }),
            ..PodSecurityContext::default()
        }),
        containers: vec![container],
        volumes: Some(vec![Volume {
            name: "tmp".to_owned(),
            empty_dir: Some(EmptyDirVolumeSource {
                size_limit: Some(Quantity(settings.tmp_size_limit.clone())),
                medium: None,
            }),
            ..Volume::default()
        }]),
        ..PodSpec::default()
    };
    let job_spec = JobSpec {
        backoff_limit: Some(settings.backoff_limit),
        active_deadline_seconds: Some(settings.active_deadline_seconds),
        pod_failure_policy: Some(PodFailurePolicy {
            rules: vec![
                PodFailurePolicyRule {
                    action: "FailJob".to_owned(),
                    on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                        container_name: Some("meltc-run".to_owned()),
                        operator: "In".to_owned(),
                        // meltc-run's exits a retry cannot help.
                        values: RunExit::FINAL
                            .iter()
                            .map(|exit| i32::from(exit.code()))
                            .collect(),
                    }),
                    on_pod_conditions: None,
                },
                PodFailurePolicyRule {
                    action: "Ignore".to_owned(),
                    on_exit_codes: None,
                    on_pod_conditions: Some(vec![PodFailurePolicyOnPodConditionsPattern {
                        type_: "DisruptionTarget".to_owned(),
                        status: "True".to_owned(),
                    }]),
                },
            ],
        }),
        template: PodTemplateSpec {
            metadata: Some(pod_meta.clone()),
            spec: Some(pod),
        },
        ..JobSpec::default()
    };
    let object = CronJob {
        metadata: ObjectMeta {
            annotations: Some(annotations),
            labels: Some(labels),
            ..metadata(name, names, deploy)
        },
        spec: Some(CronJobSpec {
            schedule: cron,
            time_zone: Some("Etc/UTC".to_owned()),
            suspend: Some(suspend),
            concurrency_policy: Some("Forbid".to_owned()),
            starting_deadline_seconds: Some(starting_deadline),
            successful_jobs_history_limit: Some(settings.successful_jobs_history_limit),
            failed_jobs_history_limit: Some(settings.failed_jobs_history_limit),
            job_template: JobTemplateSpec {
                metadata: Some(pod_meta),
                spec: Some(job_spec),
            },
        }),
        ..CronJob::default()
    };
    let mut comments = comments(
        schedule,
        manual,
        dagster_owns,
        settings.suspend,
        settings.starting_deadline_seconds.is_none(),
    );
    if reads_secrets {
        comments.insert(
            "spec.jobTemplate.spec.template.spec.containers.env".to_owned(),
            vec![
                "Secret keys are optional so that a missing one still starts the pod: meltc-run".to_owned(),
                "names it and exits 2, which podFailurePolicy makes final (a required key would hold".to_owned(),
                "the pod in CreateContainerConfigError until activeDeadlineSeconds).".to_owned(),
            ],
        );
    }
    let mut lines = crate::emit::header(manifest);
    lines.push(String::new());
    lines.push(format!(
        "Schedule `{}` runs Meltano job `{}` ({}) with `meltc-run job {}`.",
        schedule.name,
        job.name,
        job.blocks.join(" "),
        job.name
    ));
    lines.push(format!(
        "Run it now: kubectl create job --from=cronjob/{name} {}",
        crate::emit::names::kubernetes_name(&format!("{name}-manual"), 63)
    ));
    if ephemeral {
        lines.push(format!(
            "State is kept in `{}`, which the pod loses: EVERY RUN IS A FULL SYNC.",
            manifest.state.uri
        ));
    }
    Ok(yaml::document(&lines, &object, &comments))
}

fn comments(
    schedule: &Schedule,
    manual: bool,
    dagster_owns: bool,
    suspended_by_setting: bool,
    derived_deadline: bool,
) -> Comments {
    let mut comments = Comments::new();
    comments.insert(
        "spec.schedule".to_owned(),
        vec![format!("meltano.yml: interval {:?}", schedule.interval)],
    );
    let why = if manual {
        Some(format!(
            "`{}` has no schedule: suspended, started by hand (kubectl create job --from).",
            schedule.interval
        ))
    } else if dagster_owns {
        Some("Dagster owns the schedules (annotations.meltc.orchestrator): suspended here so nothing runs twice.".to_owned())
    } else if suspended_by_setting {
        Some("Suspended by annotations.meltc.kubernetes.suspend.".to_owned())
    } else {
        None
    };
    if let Some(why) = why {
        comments.insert("spec.suspend".to_owned(), vec![why]);
    }
    if derived_deadline {
        comments.insert(
            "spec.startingDeadlineSeconds".to_owned(),
            vec!["Half the shortest gap between runs, at most an hour: a missed run is skipped, not piled up.".to_owned()],
        );
    }
    comments
}

/// A schedule env value for Kubernetes: `${VAR}` becomes `$(VAR)` (Kubernetes' own syntax,
/// resolved from the variables listed before it), and a literal `$(` is escaped as `$$(`.
fn kubernetes_value(value: &str) -> String {
    Template::parse(value)
        .parts()
        .iter()
        .map(|part| match part {
            Part::Literal(text) => text.replace("$(", "$$("),
            Part::Variable { name, .. } => format!("$({name})"),
        })
        .collect()
}

/// Never due: Kubernetes requires a schedule, and these CronJobs are suspended.
const MANUAL_SCHEDULE: &str = "0 0 1 1 *";

/// The CronJob `schedule` of a manifest's cron expression ([`crate::cron`]).
///
/// # Errors
/// What a CronJob cannot express.
pub fn kubernetes_schedule(cron: &str) -> Result<String, crate::cron::Unsupported> {
    crate::cron::Cron::parse(cron)
        .map_err(|reason| crate::cron::Unsupported {
            feature: format!("reading of it ({reason})"),
            instead: "write an expression croniter accepts".to_owned(),
        })?
        .kubernetes()
}

/// Half the shortest gap between two runs of `cron` (looked at over its next 60 runs from a
/// fixed date, so the result never depends on the clock), between 10 s (the controller polls
/// every 10 s) and an hour; an hour when it cannot be worked out.
fn starting_deadline_seconds(cron: &str) -> i64 {
    // Projects repeat a few cron expressions over hundreds of schedules and environments.
    static KNOWN: std::sync::OnceLock<std::sync::Mutex<BTreeMap<String, i64>>> =
        std::sync::OnceLock::new();
    let known = KNOWN.get_or_init(Default::default);
    if let Some(seconds) = known.lock().ok().and_then(|known| known.get(cron).copied()) {
        return seconds;
    }
    let seconds = compute_starting_deadline_seconds(cron);
    if let Ok(mut known) = known.lock() {
        known.insert(cron.to_owned(), seconds);
    }
    seconds
}

fn compute_starting_deadline_seconds(cron: &str) -> i64 {
    const HOUR: i64 = 3600;
    let parser = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Disallowed)
        .year(croner::parser::Year::Disallowed)
        .build();
    let Ok(parsed) = parser.parse(cron) else {
        return HOUR;
    };
    let Some(start) =
        chrono::NaiveDate::from_ymd_opt(2026, 1, 1).and_then(|day| day.and_hms_opt(0, 0, 0))
    else {
        return HOUR;
    };
    let times: Vec<chrono::NaiveDateTime> = parsed.iter_after(start).take(60).collect();
    let shortest = times
        .windows(2)
        .map(|pair| (pair[1] - pair[0]).num_seconds())
        .min()
        .unwrap_or(2 * HOUR);
    (shortest / 2).clamp(10, HOUR)
}

#[cfg(test)]
mod tests {
    use super::{kubernetes_schedule, kubernetes_value, starting_deadline_seconds};

    #[test]
    fn cron_for_kubernetes() {
        for (cron, schedule) in [
            ("0 2 * * *", "0 2 * * *"),
            ("0 0 * * 7", "0 0 * * 0"),
            ("0 0 * * fri-mon", "0 0 * * 0,1,5,6"),
            ("0 0 * * 5-7", "0 0 * * 0,5,6"),
            ("0 9 * JAN-MAR MON-FRI", "0 9 * JAN-MAR MON-FRI"),
            ("50-10/15 * ? * *", "6,50 * ? * *"),
            ("0 6 5-5 * *", "0 6 1-31 * *"),
        ] {
            assert_eq!(kubernetes_schedule(cron).unwrap(), schedule, "{cron}");
        }
        for cron in [
            "0 0 L * ?",
            "0 0 * * 1#2",
            "0 0 * * L5",
            "0 0 2 * * *",
            "R 0 * * *",
        ] {
            assert!(kubernetes_schedule(cron).is_err(), "{cron}");
        }
    }

    #[test]
    fn deadlines() {
        assert_eq!(starting_deadline_seconds("0 * * * *"), 1800);
        assert_eq!(starting_deadline_seconds("0 2 * * *"), 3600);
        assert_eq!(starting_deadline_seconds("* * * * *"), 30);
        assert_eq!(starting_deadline_seconds("*/15 * * * *"), 450);
    }

    #[test]
    fn env_values() {
        assert_eq!(kubernetes_value("a ${B} $C $(D)"), "a $(B) $(C) $$(D)");
    }
}
