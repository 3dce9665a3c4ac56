//! The state backend's settings, as plain values (the manifest or the CLI fills them in), and
//! the environment variables the S3 backend falls back to.
//!
//! Precedence for S3, highest first: the `state_backend.s3.*` settings, the URI's
//! `key:secret@`, then the process environment (`AWS_ACCESS_KEY_ID`, … and the ambient
//! credential chain: web identity, container and instance credentials). Unlike Meltano, the
//! endpoint is honoured with ambient credentials too (README "State backends").

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use super::error::{StateError, StateResult};
use super::history;
use super::lease::LeaseSettings;

/// `state_backend.lock_timeout_seconds`' default: a lock older than this is stale.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a held lock is checked again (hard-coded to 1 s in Meltano).
pub const DEFAULT_LOCK_RETRY: Duration = Duration::from_secs(1);
/// How long meltc-run waits for a lock at most (Meltano waits forever).
pub const DEFAULT_LOCK_MAX_WAIT: Duration = Duration::from_secs(300);

/// Environment variables the S3 backend reads when a setting is not given, in order of
/// preference within each group. Declared here, once, with the reason for each.
pub mod env_vars {
    /// The S3 endpoint for S3 only (AWS SDKs' service-specific form).
    pub const AWS_ENDPOINT_URL_S3: &str = "AWS_ENDPOINT_URL_S3";
    /// The endpoint for every AWS service (boto3 reads it too).
    pub const AWS_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";
    /// The key ID of ambient static credentials.
    pub const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
    /// The secret of ambient static credentials.
    pub const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
    /// The region, as AWS SDKs name it.
    pub const AWS_REGION: &str = "AWS_REGION";
    /// The region, as boto3 (and so Meltano) names it.
    pub const AWS_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";

    /// `state_backend.uri` as Meltano reads it from the environment.
    pub const MELTANO_STATE_BACKEND_URI: &str = "MELTANO_STATE_BACKEND_URI";
    /// `state_backend.lock_timeout_seconds`.
    pub const MELTANO_STATE_BACKEND_LOCK_TIMEOUT_SECONDS: &str =
        "MELTANO_STATE_BACKEND_LOCK_TIMEOUT_SECONDS";
    /// `state_backend.lock_retry_seconds`.
    pub const MELTANO_STATE_BACKEND_LOCK_RETRY_SECONDS: &str =
        "MELTANO_STATE_BACKEND_LOCK_RETRY_SECONDS";
    /// `state_backend.s3.aws_access_key_id`.
    pub const MELTANO_STATE_BACKEND_S3_AWS_ACCESS_KEY_ID: &str =
        "MELTANO_STATE_BACKEND_S3_AWS_ACCESS_KEY_ID";
    /// `state_backend.s3.aws_secret_access_key`.
    pub const MELTANO_STATE_BACKEND_S3_AWS_SECRET_ACCESS_KEY: &str =
        "MELTANO_STATE_BACKEND_S3_AWS_SECRET_ACCESS_KEY";
    /// `state_backend.s3.endpoint_url`.
    pub const MELTANO_STATE_BACKEND_S3_ENDPOINT_URL: &str = "MELTANO_STATE_BACKEND_S3_ENDPOINT_URL";

    /// meltc-run's own: how many replaced documents each state ID keeps in its history
    /// (default 10; 0 keeps none).
    pub const MELTC_STATE_HISTORY: &str = "MELTC_STATE_HISTORY";
    /// meltc-run's own: how many seconds a run lease outlives its holder's last renewal
    /// (default 300).
    pub const MELTC_RUN_LEASE_SECONDS: &str = "MELTC_RUN_LEASE_SECONDS";
}

/// The region signed into S3 requests when nothing sets one (boto3's global default).
pub const DEFAULT_REGION: &str = "us-east-1";

/// A secret value: kept out of `Debug` output, errors and logs by construction.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret.
    #[must_use]
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The value itself, for the one place that signs requests with it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Secret(***)")
    }
}

/// Meltano's `state_backend` settings that meltc-run uses.
#[derive(Clone, Debug)]
pub struct StateBackendSettings {
    /// `state_backend.uri`: `file:///abs/dir` or `s3://[key:secret@]bucket/prefix`.
    pub uri: String,
    /// `state_backend.lock_timeout_seconds`: a lock older than this is stale and broken.
    pub lock_timeout: Duration,
    /// `state_backend.lock_retry_seconds`: how often a held lock is checked again. Meltano
    /// reads the setting but always waits 1 s; meltc-run honours it.
    pub lock_retry: Duration,
    /// How long to wait for a lock before giving up with an error.
    pub lock_max_wait: Duration,
    /// `state_backend.s3.*`.
    pub s3: S3Settings,
    /// How many replaced documents each state ID keeps (`MELTC_STATE_HISTORY`).
    pub history: usize,
    /// The run lease (`MELTC_RUN_LEASE_SECONDS`; the wait comes from the command line).
    pub lease: LeaseSettings,
}

impl StateBackendSettings {
    /// The settings for `uri` with Meltano's defaults and no S3 settings.
    #[must_use]
    pub fn new(uri: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            lock_retry: DEFAULT_LOCK_RETRY,
            lock_max_wait: DEFAULT_LOCK_MAX_WAIT,
            s3: S3Settings::default(),
            history: history::DEFAULT_KEEP,
            lease: LeaseSettings::default(),
        }
    }
}

impl StateBackendSettings {
    /// The settings from the variables Meltano reads them from (`MELTANO_STATE_BACKEND_URI`,
    /// `…_LOCK_TIMEOUT_SECONDS`, `…_S3_AWS_ACCESS_KEY_ID`, …), so that a container configured
    /// for `meltano run` works unchanged, plus meltc-run's own `MELTC_STATE_HISTORY` and
    /// `MELTC_RUN_LEASE_SECONDS`; `None` when no URI is set.
    ///
    /// # Errors
    /// [`StateError::InvalidSetting`] when a number of seconds or entries is not a number.
    pub fn from_meltano_env(environment: &Environment) -> StateResult<Option<Self>> {
        let Some(uri) = first_set(environment, &[env_vars::MELTANO_STATE_BACKEND_URI]) else {
            return Ok(None);
        };
        let mut settings = Self::new(uri);
        if let Some(timeout) = seconds(
            environment,
            env_vars::MELTANO_STATE_BACKEND_LOCK_TIMEOUT_SECONDS,
        )? {
            settings.lock_timeout = timeout;
        }
        if let Some(retry) = seconds(
            environment,
            env_vars::MELTANO_STATE_BACKEND_LOCK_RETRY_SECONDS,
        )? {
            settings.lock_retry = retry;
        }
        let get = |name| first_set(environment, &[name]);
        settings.s3 = S3Settings {
            aws_access_key_id: get(env_vars::MELTANO_STATE_BACKEND_S3_AWS_ACCESS_KEY_ID),
            aws_secret_access_key: get(env_vars::MELTANO_STATE_BACKEND_S3_AWS_SECRET_ACCESS_KEY)
                .map(Secret::new),
            endpoint_url: get(env_vars::MELTANO_STATE_BACKEND_S3_ENDPOINT_URL),
            region: None,
        };
        if let Some(keep) = first_set(environment, &[env_vars::MELTC_STATE_HISTORY]) {
            settings.history = keep
                .trim()
                .parse()
                .map_err(|_| StateError::InvalidSetting {
                    name: env_vars::MELTC_STATE_HISTORY,
                    value: keep,
                    expected: "a number of entries",
                })?;
        }
        if let Some(duration) = seconds(environment, env_vars::MELTC_RUN_LEASE_SECONDS)? {
            settings.lease.duration = duration;
        }
        Ok(Some(settings))
    }
}

/// A number of seconds (integer or decimal) from `name`, if set.
fn seconds(environment: &Environment, name: &'static str) -> StateResult<Option<Duration>> {
    let Some(value) = first_set(environment, &[name]) else {
        return Ok(None);
    };
    value
        .trim()
        .parse::<f64>()
        .ok()
        .and_then(|number| Duration::try_from_secs_f64(number).ok())
        .map(Some)
        .ok_or(StateError::InvalidSetting {
            name,
            value,
            expected: "a number of seconds",
        })
}

/// `state_backend.s3.*`, plus the region (Meltano leaves that to boto3's environment).
#[derive(Clone, Debug, Default)]
pub struct S3Settings {
    /// `state_backend.s3.aws_access_key_id`.
    pub aws_access_key_id: Option<String>,
    /// `state_backend.s3.aws_secret_access_key`.
    pub aws_secret_access_key: Option<Secret>,
    /// `state_backend.s3.endpoint_url`: Garage, MinIO, … (path-style requests are used).
    pub endpoint_url: Option<String>,
    /// The region requests are signed for; Garage wants its `s3_region`.
    pub region: Option<String>,
}

/// The process environment as a snapshot the S3 backend reads from: passed in, so that tests
/// and callers decide what it holds.
pub type Environment = BTreeMap<String, String>;

/// The first non-empty value among `names`.
pub(super) fn first_set(environment: &Environment, names: &[&str]) -> Option<String> {
    names
        .iter()
        .filter_map(|name| environment.get(*name))
        .find(|value| !value.is_empty())
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let settings = S3Settings {
            aws_secret_access_key: Some(Secret::new("hunter2".to_owned())),
            ..S3Settings::default()
        };
        assert!(!format!("{settings:?}").contains("hunter2"));
    }

    #[test]
    fn settings_come_from_meltano_variables() {
        let environment: Environment = [
            ("MELTANO_STATE_BACKEND_URI", "s3://bucket/prefix"),
            ("MELTANO_STATE_BACKEND_LOCK_TIMEOUT_SECONDS", "30"),
            ("MELTANO_STATE_BACKEND_LOCK_RETRY_SECONDS", "0.5"),
            ("MELTANO_STATE_BACKEND_S3_AWS_ACCESS_KEY_ID", "key"),
            ("MELTANO_STATE_BACKEND_S3_AWS_SECRET_ACCESS_KEY", "secret"),
            (
                "MELTANO_STATE_BACKEND_S3_ENDPOINT_URL",
                "http://garage:3900",
            ),
        ]
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .into();
        let settings = StateBackendSettings::from_meltano_env(&environment)
            .unwrap()
            .unwrap();
        assert_eq!(settings.uri, "s3://bucket/prefix");
        assert_eq!(settings.lock_timeout, Duration::from_secs(30));
        assert_eq!(settings.lock_retry, Duration::from_millis(500));
        assert_eq!(settings.s3.aws_access_key_id.as_deref(), Some("key"));
        assert_eq!(
            settings.s3.aws_secret_access_key.unwrap().expose(),
            "secret"
        );
        assert_eq!(
            settings.s3.endpoint_url.as_deref(),
            Some("http://garage:3900")
        );

        assert!(
            StateBackendSettings::from_meltano_env(&Environment::new())
                .unwrap()
                .is_none()
        );
        let mut bad = environment.clone();
        bad.insert(
            "MELTANO_STATE_BACKEND_LOCK_TIMEOUT_SECONDS".to_owned(),
            "ten".to_owned(),
        );
        let error = StateBackendSettings::from_meltano_env(&bad)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("MELTANO_STATE_BACKEND_LOCK_TIMEOUT_SECONDS"),
            "{error}"
        );
    }

    #[test]
    fn the_first_non_empty_variable_wins() {
        let environment: Environment = [
            ("AWS_ENDPOINT_URL_S3".to_owned(), String::new()),
            ("AWS_ENDPOINT_URL".to_owned(), "http://b".to_owned()),
        ]
        .into();
        assert_eq!(
            first_set(
                &environment,
                &[env_vars::AWS_ENDPOINT_URL_S3, env_vars::AWS_ENDPOINT_URL]
            )
            .as_deref(),
            Some("http://b")
        );
        assert_eq!(first_set(&environment, &["NOPE"]), None);
    }
}
