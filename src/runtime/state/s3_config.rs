//! Which bucket, endpoint, region and credentials the S3 backend uses: the URI, the settings
//! and the environment combined, without touching the network (README "State backends").

use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, S3ConditionalPut};
use object_store::{BackoffConfig, ClientOptions, RetryConfig};

use super::backend_settings::{
    DEFAULT_REGION, Environment, S3Settings, Secret, env_vars, first_set,
};
use super::error::{StateError, StateResult};
use super::uri::S3Uri;

/// Retries of a failed request: a few quick ones for a blip, then a clear error rather than
/// object_store's default of ten over three minutes (a job's state write should fail fast).
const RETRY: RetryConfig = RetryConfig {
    backoff: BackoffConfig {
        init_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(2),
        base: 2.0,
    },
    max_retries: 3,
    retry_timeout: Duration::from_secs(15),
};
/// An endpoint that does not accept a connection in this time is down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A state document is small: a request that takes longer is stuck.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Static credentials, or the environment's credential chain.
#[derive(Debug, PartialEq)]
pub enum Credentials {
    /// From `state_backend.s3.*` or the URI's `key:secret@`.
    Static {
        /// The key ID.
        access_key_id: String,
        /// The secret.
        secret_access_key: Secret,
    },
    /// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`), else web identity
    /// (`AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_ROLE_ARN`), container or instance credentials.
    Ambient,
}

/// Everything needed to talk to the bucket.
#[derive(Debug, PartialEq)]
pub struct S3Config {
    /// The bucket.
    pub bucket: String,
    /// The key prefix, without leading or trailing `/`.
    pub prefix: String,
    /// Where the credentials come from.
    pub credentials: Credentials,
    /// The endpoint (Garage, MinIO, …), or `None` for AWS.
    pub endpoint: Option<String>,
    /// The region requests are signed for.
    pub region: String,
}

impl S3Config {
    /// Combine the URI, the settings and the environment (settings first, then the URI, then
    /// the environment). The endpoint applies whatever the credentials are; Meltano only uses
    /// it with static credentials.
    ///
    /// # Errors
    /// [`StateError::HalfCredentials`] when only a key ID or only a secret is configured.
    pub fn resolve(
        uri: S3Uri,
        settings: &S3Settings,
        environment: &Environment,
    ) -> StateResult<Self> {
        let access_key_id = settings.aws_access_key_id.clone().or(uri.access_key_id);
        let secret_access_key = settings
            .aws_secret_access_key
            .clone()
            .or(uri.secret_access_key);
        let credentials = match (access_key_id, secret_access_key) {
            (Some(access_key_id), Some(secret_access_key)) => Credentials::Static {
                access_key_id,
                secret_access_key,
            },
            (None, None) => Credentials::Ambient,
            (Some(_), None) => {
                return Err(StateError::HalfCredentials {
                    present: "an access key ID",
                    missing: "secret access key",
                });
            }
            (None, Some(_)) => {
                return Err(StateError::HalfCredentials {
                    present: "a secret access key",
                    missing: "access key ID",
                });
            }
        };
        let endpoint = settings.endpoint_url.clone().or_else(|| {
            first_set(
                environment,
                &[env_vars::AWS_ENDPOINT_URL_S3, env_vars::AWS_ENDPOINT_URL],
            )
        });
        let region = settings
            .region
            .clone()
            .or_else(|| {
                first_set(
                    environment,
                    &[env_vars::AWS_REGION, env_vars::AWS_DEFAULT_REGION],
                )
            })
            .unwrap_or_else(|| DEFAULT_REGION.to_owned());
        Ok(Self {
            bucket: uri.bucket,
            prefix: uri.prefix,
            credentials,
            endpoint,
            region,
        })
    }

    /// An object_store builder for this configuration: meltc's client defaults, then the
    /// environment's `AWS_*` options (the credential chain, TLS and proxy options), then
    /// everything resolved here, which overrides them.
    #[must_use]
    pub fn builder(&self, environment: &Environment) -> AmazonS3Builder {
        // Client options first: `with_client_options` replaces them all, `allow_http` included.
        let client = ClientOptions::new()
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_timeout(REQUEST_TIMEOUT);
        let mut builder = AmazonS3Builder::new()
            .with_client_options(client)
            .with_retry(RETRY)
            // Send If-None-Match / If-Match on lock writes (see `s3.rs`).
            .with_conditional_put(S3ConditionalPut::ETagMatch);
        for (name, value) in environment {
            let Some(key) = name
                .strip_prefix("AWS_")
                .and_then(|_| name.to_ascii_lowercase().parse::<AmazonS3ConfigKey>().ok())
            else {
                continue;
            };
            if self.applies_from_environment(&key) {
                builder = builder.with_config(key, value);
            }
        }
        builder = builder
            .with_bucket_name(&self.bucket)
            .with_region(&self.region)
            // Garage and most S3-compatible stores only serve path-style requests.
            .with_virtual_hosted_style_request(false);
        if let Some(endpoint) = &self.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        if let Credentials::Static {
            access_key_id,
            secret_access_key,
        } = &self.credentials
        {
            builder = builder
                .with_access_key_id(access_key_id)
                .with_secret_access_key(secret_access_key.expose());
        }
        builder
    }

    /// Whether an `AWS_*` variable may configure the client: not the ones resolved here, and
    /// no session token beside static credentials from the settings.
    fn applies_from_environment(&self, key: &AmazonS3ConfigKey) -> bool {
        match key {
            AmazonS3ConfigKey::Bucket
            | AmazonS3ConfigKey::Endpoint
            | AmazonS3ConfigKey::S3Endpoint
            | AmazonS3ConfigKey::Region
            | AmazonS3ConfigKey::DefaultRegion
            | AmazonS3ConfigKey::VirtualHostedStyleRequest => false,
            AmazonS3ConfigKey::AccessKeyId
            | AmazonS3ConfigKey::SecretAccessKey
            | AmazonS3ConfigKey::Token => self.credentials == Credentials::Ambient,
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn environment(pairs: &[(&str, &str)]) -> Environment {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn uri(key: Option<&str>, secret: Option<&str>) -> S3Uri {
        S3Uri {
            bucket: "state".to_owned(),
            prefix: "p".to_owned(),
            access_key_id: key.map(str::to_owned),
            secret_access_key: secret.map(|s| Secret::new(s.to_owned())),
        }
    }

    #[test]
    fn settings_win_over_the_uri_and_the_environment() {
        let settings = S3Settings {
            aws_access_key_id: Some("setting-key".to_owned()),
            aws_secret_access_key: Some(Secret::new("setting-secret".to_owned())),
            endpoint_url: Some("http://garage:3900".to_owned()),
            region: Some("garage".to_owned()),
        };
        let env = environment(&[
            ("AWS_ENDPOINT_URL", "http://other"),
            ("AWS_REGION", "eu-west-1"),
        ]);
        let config =
            S3Config::resolve(uri(Some("uri-key"), Some("uri-secret")), &settings, &env).unwrap();
        assert_eq!(
            config.credentials,
            Credentials::Static {
                access_key_id: "setting-key".to_owned(),
                secret_access_key: Secret::new("setting-secret".to_owned()),
            }
        );
        assert_eq!(config.endpoint.as_deref(), Some("http://garage:3900"));
        assert_eq!(config.region, "garage");
    }

    #[test]
    fn the_uri_gives_credentials_and_the_environment_the_rest() {
        let env = environment(&[
            ("AWS_ENDPOINT_URL", "http://generic"),
            ("AWS_ENDPOINT_URL_S3", "http://s3-only"),
            ("AWS_DEFAULT_REGION", "garage"),
        ]);
        let config =
            S3Config::resolve(uri(Some("k"), Some("s")), &S3Settings::default(), &env).unwrap();
        assert!(matches!(config.credentials, Credentials::Static { .. }));
        assert_eq!(config.endpoint.as_deref(), Some("http://s3-only"));
        assert_eq!(config.region, "garage");

        let env = environment(&[("AWS_REGION", "a"), ("AWS_DEFAULT_REGION", "b")]);
        let config = S3Config::resolve(uri(None, None), &S3Settings::default(), &env).unwrap();
        assert_eq!(config.credentials, Credentials::Ambient);
        assert_eq!(config.endpoint, None);
        assert_eq!(config.region, "a");
        let config =
            S3Config::resolve(uri(None, None), &S3Settings::default(), &Environment::new())
                .unwrap();
        assert_eq!(config.region, "us-east-1");
    }

    #[test]
    fn half_a_key_pair_is_an_error_that_names_the_settings() {
        let error = S3Config::resolve(
            uri(Some("k"), None),
            &S3Settings::default(),
            &Environment::new(),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("no secret access key"), "{error}");
        assert!(
            error.contains("state_backend.s3.aws_secret_access_key"),
            "{error}"
        );
        let settings = S3Settings {
            aws_secret_access_key: Some(Secret::new("s".to_owned())),
            ..S3Settings::default()
        };
        let error = S3Config::resolve(uri(None, None), &settings, &Environment::new())
            .unwrap_err()
            .to_string();
        assert!(error.contains("no access key ID"), "{error}");
        assert!(!error.contains(" s "), "{error}");
    }

    #[test]
    fn the_environment_cannot_override_what_was_resolved() {
        let config = S3Config::resolve(
            uri(Some("k"), Some("s")),
            &S3Settings::default(),
            &Environment::new(),
        )
        .unwrap();
        assert!(!config.applies_from_environment(&AmazonS3ConfigKey::Token));
        assert!(!config.applies_from_environment(&AmazonS3ConfigKey::Endpoint));
        assert!(config.applies_from_environment(&AmazonS3ConfigKey::RoleArn));
        let ambient =
            S3Config::resolve(uri(None, None), &S3Settings::default(), &Environment::new())
                .unwrap();
        assert!(ambient.applies_from_environment(&AmazonS3ConfigKey::Token));
    }
}
