//! State IDs: the name a job's bookmarks are stored under (Meltano's `generate_state_id`,
//! `core/block/extract_load.py`).
//!
//! `meltano run` names the state of an extract/load set `<environment>:<extractor>-to-<loader>`,
//! plus `:<suffix>` when a suffix is given. The same string is the folder (or key segment) the
//! backends store it under, verbatim, colons included.

use std::fmt;

/// Separates the components of a generated state ID; no component may contain it.
const DELIMITER: char = ':';

/// A state ID that the backends can store: checked once, then passed around.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StateId(String);

/// Why a state ID cannot be formed or stored.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StateIdError {
    /// Meltano refuses to join components that contain the delimiter (`RunnerError`).
    #[error(
        "cannot form a state ID from `{component}`: it contains `:`, which separates the parts \
         of a state ID; remove the `:` from the state ID suffix"
    )]
    ComponentHasDelimiter {
        /// The offending component.
        component: String,
    },
    /// The ID would not name one file or key (empty, `.`/`..` or empty path segments, control
    /// characters).
    #[error("`{id}` cannot be used as a state ID: {reason}")]
    Unstorable {
        /// The ID as given (control characters escaped).
        id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// The parts `meltano run` builds a state ID from.
#[derive(Clone, Copy, Debug, Default)]
pub struct StateIdParts<'a> {
    /// The active environment's name.
    pub environment: &'a str,
    /// The extractor's name (mappers are not part of the ID).
    pub extractor: &'a str,
    /// The loader's name.
    pub loader: &'a str,
    /// `--state-id-suffix` (`MELTANO_RUN_STATE_ID_SUFFIX`); empty counts as not given.
    pub suffix: Option<&'a str>,
    /// The environment's `state_id_suffix`, already expanded (unset variables give empty
    /// strings); used when `suffix` is not given.
    pub environment_suffix: Option<&'a str>,
}

impl StateIdParts<'_> {
    /// `<environment>:<extractor>-to-<loader>[:<suffix>]`, as Meltano's `generate_state_id`.
    ///
    /// # Errors
    /// When a component contains `:`, or the result cannot be stored.
    pub fn format(&self) -> Result<StateId, StateIdError> {
        let suffix = self
            .suffix
            .filter(|suffix| !suffix.is_empty())
            .or(self.environment_suffix)
            .unwrap_or_default();
        let pair = format!("{}-to-{}", self.extractor, self.loader);
        let components = [self.environment, pair.as_str(), suffix];
        if let Some(component) = components.iter().find(|c| c.contains(DELIMITER)) {
            return Err(StateIdError::ComponentHasDelimiter {
                component: (*component).to_owned(),
            });
        }
        let joined: Vec<&str> = components.into_iter().filter(|c| !c.is_empty()).collect();
        StateId::new(joined.join(":"))
    }
}

/// The state ID a run of an extract/load step uses. `base` is the step's ID in the manifest
/// (`<env>:<tap>-to-<target>`, or a legacy schedule's name); `environment` is the active
/// environment's name and its `state_id_suffix` (expanded by the caller: meltc-run expands it
/// from the run's variables, `meltc plan` keeps it as written); `suffix` is
/// `--state-id-suffix`. A legacy schedule's ID is used as is, as `meltano elt --state-id` does.
///
/// # Errors
/// As [`StateIdParts::format`] and [`StateId::new`].
pub fn for_step(
    base: &str,
    environment: Option<(&str, Option<&str>)>,
    suffix: Option<&str>,
) -> Result<StateId, StateIdError> {
    match environment {
        Some((name, environment_suffix))
            if base.len() > name.len()
                && base.starts_with(name)
                && base[name.len()..].starts_with(DELIMITER) =>
        {
            let (extractor, loader) = base[name.len() + 1..]
                .split_once("-to-")
                .unwrap_or((base, ""));
            StateIdParts {
                environment: name,
                extractor,
                loader,
                suffix,
                environment_suffix,
            }
            .format()
        }
        _ => StateId::new(base),
    }
}

impl StateId {
    /// A state ID given as is (`meltc-run state get ID`). Meltano accepts any string; meltc
    /// refuses the few that would not name a single stored document: empty, an empty, `.` or
    /// `..` segment between `/`s (a folder outside the state folder, or none), and control
    /// characters (object stores refuse them).
    ///
    /// # Errors
    /// [`StateIdError::Unstorable`], saying which rule the ID breaks.
    pub fn new(id: impl Into<String>) -> Result<Self, StateIdError> {
        let id = id.into();
        let reason = if id.is_empty() {
            Some("it is empty")
        } else if id.chars().any(char::is_control) {
            Some("it contains a control character")
        } else if id.split('/').any(|segment| segment.is_empty()) {
            Some("a `/` starts or ends it, or two are adjacent")
        } else if id
            .split('/')
            .any(|segment| segment == "." || segment == "..")
        {
            Some("`.` and `..` would leave the state folder")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(StateIdError::Unstorable {
                id: id.escape_debug().to_string(),
                reason,
            }),
            None => Ok(Self(id)),
        }
    }

    /// The ID as stored.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StateId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts<'a>(suffix: Option<&'a str>, environment_suffix: Option<&'a str>) -> StateIdParts<'a> {
        StateIdParts {
            environment: "dev",
            extractor: "tap-fake",
            loader: "target-fake",
            suffix,
            environment_suffix,
        }
    }

    #[test]
    fn formats_like_meltano_generate_state_id() {
        // Rows checked against Meltano (`generate_state_id`, `core/block/extract_load.py`).
        let cases = [
            (None, None, "dev:tap-fake-to-target-fake"),
            (Some("abc"), None, "dev:tap-fake-to-target-fake:abc"),
            (Some("abc"), Some("env"), "dev:tap-fake-to-target-fake:abc"),
            (None, Some("sfx-zz"), "dev:tap-fake-to-target-fake:sfx-zz"),
            // An empty --state-id-suffix falls back to the environment's.
            (Some(""), Some("sfx-"), "dev:tap-fake-to-target-fake:sfx-"),
            // An environment suffix that expanded to nothing adds no component.
            (None, Some(""), "dev:tap-fake-to-target-fake"),
        ];
        for (suffix, environment_suffix, expected) in cases {
            let id = parts(suffix, environment_suffix).format().unwrap();
            assert_eq!(id.as_str(), expected, "{suffix:?} {environment_suffix:?}");
        }
    }

    #[test]
    fn a_step_id_gets_the_suffixes_and_a_legacy_schedule_keeps_its_name() {
        let id = |base, environment, suffix| for_step(base, environment, suffix).unwrap();
        let prod = Some(("prod", Some("blue")));
        assert_eq!(
            id("prod:tap-a-to-target-b", prod, None).as_str(),
            "prod:tap-a-to-target-b:blue"
        );
        assert_eq!(
            id("prod:tap-a-to-target-b", prod, Some("x")).as_str(),
            "prod:tap-a-to-target-b:x"
        );
        assert_eq!(
            id("prod:tap-a-to-target-b", Some(("prod", None)), None).as_str(),
            "prod:tap-a-to-target-b"
        );
        // A legacy schedule's job keeps state under the schedule's name, suffix or not.
        assert_eq!(id("nightly-sync", prod, Some("x")).as_str(), "nightly-sync");
        assert_eq!(
            id("production:x-to-y", prod, None).as_str(),
            "production:x-to-y"
        );
    }

    #[test]
    fn a_component_with_a_colon_is_an_error() {
        let error = parts(Some("a:b"), None).format().unwrap_err();
        assert_eq!(
            error,
            StateIdError::ComponentHasDelimiter {
                component: "a:b".to_owned()
            }
        );
        // The environment's suffix too, and the plugin names.
        assert!(parts(None, Some("x:y")).format().is_err());
        let loader = StateIdParts {
            loader: "target:x",
            ..parts(None, None)
        };
        assert!(loader.format().is_err());
    }

    #[test]
    fn ids_that_name_no_single_document_are_refused() {
        for id in [
            "", "a//b", "/a", "a/", "..", "a/../b", "./a", "a\u{0}b", "a\nb",
        ] {
            assert!(StateId::new(id).is_err(), "{id:?}");
        }
        for id in [
            "dev:tap-to-target",
            "dev:tap-to-target:a/b",
            "é:ü",
            "a..b",
            ".hidden",
        ] {
            assert_eq!(StateId::new(id).unwrap().as_str(), id);
        }
    }
}
