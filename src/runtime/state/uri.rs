//! The state backend URI (`state_backend.uri`, `MELTANO_STATE_BACKEND_URI`), split the way
//! Meltano's `urlparse` splits it (`BaseFilesystemStateStoreManager.__init__` in
//! `core/state_store/filesystem.py`), and its redacted form.
//!
//! `file:///abs/dir` and `s3://[key:secret@]bucket/prefix` are the schemes meltc-run writes.
//! The URI may carry S3 credentials, so it is only ever shown through [`redact`].

use std::path::PathBuf;

use super::backend_settings::Secret;

/// Where state lives, as the URI says.
#[derive(Debug, PartialEq)]
pub enum BackendUri {
    /// `file:///abs/dir`: one folder per state ID under `directory`.
    File {
        /// The absolute state folder.
        directory: PathBuf,
    },
    /// `s3://[key:secret@]bucket/prefix`.
    S3(S3Uri),
}

/// The parts of an `s3://[key:secret@]bucket/prefix` URI.
#[derive(Debug, Default, PartialEq)]
pub struct S3Uri {
    /// The bucket (lowercased, as Python's `urlparse(...).hostname`).
    pub bucket: String,
    /// The key prefix without leading or trailing `/` (may be empty).
    pub prefix: String,
    /// The key ID from the URI's user part, if any.
    pub access_key_id: Option<String>,
    /// The secret from the URI's user part, if any.
    pub secret_access_key: Option<Secret>,
}

/// Why the URI names no backend meltc-run can use.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UriError {
    /// A scheme Meltano has an add-on for but meltc-run does not write.
    #[error(
        "the state backend `{uri}` is not supported by meltc-run: it keeps state in `file://` \
         and `s3://` backends only (use S3-compatible storage, for example Garage, through \
         `state_backend.s3.endpoint_url`)"
    )]
    UnsupportedScheme {
        /// The redacted URI.
        uri: String,
    },
    /// `file://host/dir` or `file://dir`: Meltano silently uses `/dir`; meltc refuses.
    #[error(
        "the state backend `{uri}` has a host part (`{host}`); a local state folder needs an \
         absolute path after three slashes: `file:///absolute/folder`"
    )]
    FileHost {
        /// The redacted URI.
        uri: String,
        /// The part between `file://` and the path.
        host: String,
    },
    /// `file://` with nothing after it.
    #[error("the state backend `{uri}` names no folder: use `file:///absolute/folder`")]
    FileNoPath {
        /// The redacted URI.
        uri: String,
    },
    /// `s3:///prefix` or `s3://` alone.
    #[error("the state backend `{uri}` names no bucket: use `s3://bucket/prefix`")]
    NoBucket {
        /// The redacted URI.
        uri: String,
    },
}

impl BackendUri {
    /// Split a state backend URI.
    ///
    /// # Errors
    /// [`UriError`]; the message shows the URI redacted.
    pub fn parse(uri: &str) -> Result<Self, UriError> {
        let (scheme, rest) = uri.split_once("://").unwrap_or(("", uri));
        // urlparse ends the path at `?` or `#`.
        let rest = rest.split(['?', '#']).next().unwrap_or_default();
        let (authority, path) = rest.find('/').map_or((rest, ""), |at| rest.split_at(at));
        match scheme.to_ascii_lowercase().as_str() {
            "file" => Self::file(uri, authority, path),
            "s3" => Self::s3(uri, authority, path),
            _ => Err(UriError::UnsupportedScheme { uri: redact(uri) }),
        }
    }

    fn file(uri: &str, authority: &str, path: &str) -> Result<Self, UriError> {
        if !authority.is_empty() && authority != "localhost" {
            return Err(UriError::FileHost {
                uri: redact(uri),
                host: authority.to_owned(),
            });
        }
        if path.is_empty() {
            return Err(UriError::FileNoPath { uri: redact(uri) });
        }
        Ok(Self::File {
            directory: PathBuf::from(path),
        })
    }

    fn s3(uri: &str, authority: &str, path: &str) -> Result<Self, UriError> {
        let (user, host) = authority.rsplit_once('@').unwrap_or(("", authority));
        if host.is_empty() {
            return Err(UriError::NoBucket { uri: redact(uri) });
        }
        let (key, secret) = match user.split_once(':') {
            Some((key, secret)) => (key, Some(secret)),
            None => (user, None),
        };
        Ok(Self::S3(S3Uri {
            bucket: host.to_ascii_lowercase(),
            prefix: path.trim_matches('/').to_owned(),
            access_key_id: Some(key).filter(|key| !key.is_empty()).map(str::to_owned),
            secret_access_key: secret
                .filter(|secret| !secret.is_empty())
                .map(|secret| Secret::new(secret.to_owned())),
        }))
    }
}

/// The URI with any user part (`key:secret@`) replaced by `***@`: the only form in which a
/// state backend URI appears in messages and logs.
#[must_use]
pub fn redact(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => uri.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_uris_give_the_absolute_folder() {
        assert_eq!(
            BackendUri::parse("file:///var/lib/meltano/state").unwrap(),
            BackendUri::File {
                directory: PathBuf::from("/var/lib/meltano/state")
            }
        );
        assert_eq!(
            BackendUri::parse("file://localhost/state").unwrap(),
            BackendUri::File {
                directory: PathBuf::from("/state")
            }
        );
        assert!(matches!(
            BackendUri::parse("file://rel/dir"),
            Err(UriError::FileHost { host, .. }) if host == "rel"
        ));
        assert!(matches!(
            BackendUri::parse("file://"),
            Err(UriError::FileNoPath { .. })
        ));
    }

    #[test]
    fn s3_uris_split_bucket_prefix_and_credentials() {
        let BackendUri::S3(S3Uri {
            bucket,
            prefix,
            access_key_id,
            secret_access_key,
        }) = BackendUri::parse("s3://KEY:se:cret@Meltano-State/some/prefix/").unwrap()
        else {
            panic!("not s3");
        };
        assert_eq!(bucket, "meltano-state");
        assert_eq!(prefix, "some/prefix");
        assert_eq!(access_key_id.as_deref(), Some("KEY"));
        assert_eq!(secret_access_key.unwrap().expose(), "se:cret");

        assert_eq!(
            BackendUri::parse("s3://bucket").unwrap(),
            BackendUri::S3(S3Uri {
                bucket: "bucket".to_owned(),
                ..S3Uri::default()
            })
        );
        assert!(matches!(
            BackendUri::parse("s3:///prefix"),
            Err(UriError::NoBucket { .. })
        ));
    }

    #[test]
    fn other_schemes_are_refused_with_the_uri_redacted() {
        for uri in [
            "gs://b/p",
            "azure://c/p",
            "systemdb",
            "postgresql://u:pw@host/db",
        ] {
            let message = BackendUri::parse(uri).unwrap_err().to_string();
            assert!(message.contains("not supported by meltc-run"), "{message}");
            assert!(!message.contains("pw"), "{message}");
        }
    }

    #[test]
    fn redaction_hides_the_whole_user_part() {
        let cases = [
            ("s3://KEY:SECRET@bucket/prefix", "s3://***@bucket/prefix"),
            ("s3://KEY@bucket", "s3://***@bucket"),
            ("s3://bucket/a@b", "s3://bucket/a@b"),
            ("file:///state", "file:///state"),
            ("systemdb", "systemdb"),
        ];
        for (uri, expected) in cases {
            assert_eq!(redact(uri), expected);
        }
    }
}
