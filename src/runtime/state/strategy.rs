//! What `meltano run` stores for each line a target writes to stdout
//! (Meltano's `BookmarkWriter.writeline` in `core/plugin/singer/target.py`,
//! `ELContextProtocol.should_merge_states` in `core/_protocols/el_context.py`).
//!
//! Every line is one Singer state value; each is stored as it arrives, so a failed run keeps
//! the state of the last line the target emitted.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use super::document::{SINGER_STATE_KEY, StateDocument};
use crate::meltano::python_json;

/// `--state-strategy` (`MELTANO_RUN_STATE_STRATEGY`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StateStrategy {
    /// Merge on `--full-refresh`, overwrite otherwise (the default).
    #[default]
    Auto,
    /// Every state line is merged into the stored `partial`.
    Merge,
    /// Every state line replaces the stored state.
    Overwrite,
}

impl StateStrategy {
    /// Whether state lines are merged (Meltano's `should_merge_states`).
    #[must_use]
    pub fn merges(self, full_refresh: bool) -> bool {
        match self {
            Self::Auto => full_refresh,
            Self::Merge => true,
            Self::Overwrite => false,
        }
    }
}

/// An unknown `--state-strategy` value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown state strategy `{0}`: use `auto`, `merge` or `overwrite`")]
pub struct UnknownStrategy(pub String);

impl FromStr for StateStrategy {
    type Err = UnknownStrategy;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "auto" => Ok(Self::Auto),
            "merge" => Ok(Self::Merge),
            "overwrite" => Ok(Self::Overwrite),
            other => Err(UnknownStrategy(other.to_owned())),
        }
    }
}

impl fmt::Display for StateStrategy {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::Auto => "auto",
            Self::Merge => "merge",
            Self::Overwrite => "overwrite",
        })
    }
}

/// What one line of a target's stdout means for the stored state.
#[derive(Debug, PartialEq)]
pub enum TargetLine {
    /// Store this update (under the state ID's lock).
    Update(StateDocument),
    /// Not JSON: Meltano logs "Received state is invalid, incremental state has not been
    /// updated" and goes on.
    Invalid,
    /// JSON but empty (`{}`, `null`, …): some targets emit one before any real state; storing
    /// it would wipe the bookmarks, so Meltano logs "Received empty state" and skips it.
    Empty,
}

impl TargetLine {
    /// Read one line (`merge` from [`StateStrategy::merges`]): the update wraps the value as
    /// `{"singer_state": value}`, complete (overwrite) or incomplete (merge).
    #[must_use]
    pub fn parse(line: &str, merge: bool) -> Self {
        let Ok(value) = serde_json::from_str::<Value>(line) else {
            return Self::Invalid;
        };
        // Python's `not new_state`.
        if !python_json::truthy(&value) {
            return Self::Empty;
        }
        let mut payload = Map::new();
        payload.insert(SINGER_STATE_KEY.to_owned(), value);
        let payload = Value::Object(payload);
        Self::Update(if merge {
            StateDocument::incomplete(payload)
        } else {
            StateDocument::complete(payload)
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn strategy_decides_merge_as_meltano() {
        assert!(!StateStrategy::Auto.merges(false));
        assert!(StateStrategy::Auto.merges(true));
        assert!(StateStrategy::Merge.merges(false));
        assert!(!StateStrategy::Overwrite.merges(true));
        assert_eq!("merge".parse(), Ok(StateStrategy::Merge));
        assert_eq!(
            "Merge".parse::<StateStrategy>(),
            Err(UnknownStrategy("Merge".to_owned()))
        );
        assert_eq!(StateStrategy::default().to_string(), "auto");
    }

    #[test]
    fn a_line_becomes_a_complete_or_incomplete_update() {
        let line = r#"{"bookmarks": {"a": {"n": 1}}}"#;
        let singer = json!({"singer_state": {"bookmarks": {"a": {"n": 1}}}});
        assert_eq!(
            TargetLine::parse(line, false),
            TargetLine::Update(StateDocument::complete(singer.clone()))
        );
        assert_eq!(
            TargetLine::parse(line, true),
            TargetLine::Update(StateDocument::incomplete(singer))
        );
    }

    #[test]
    fn invalid_and_empty_lines_are_skipped() {
        assert_eq!(TargetLine::parse("not json", false), TargetLine::Invalid);
        assert_eq!(TargetLine::parse("", false), TargetLine::Invalid);
        for line in ["{}", "null", "[]", "0", "\"\"", "false"] {
            assert_eq!(TargetLine::parse(line, false), TargetLine::Empty, "{line}");
        }
        assert!(matches!(
            TargetLine::parse("[1]", false),
            TargetLine::Update(_)
        ));
    }
}
