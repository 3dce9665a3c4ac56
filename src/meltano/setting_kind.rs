//! The kinds of a setting (`meltano/core/setting_definition.py` `SettingKind`), and Meltano's
//! handling of the deprecated ones.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A setting kind (`core/setting_definition.py` `SettingKind`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SettingKind {
    /// `string`
    String,
    /// `integer`
    Integer,
    /// `boolean`
    Boolean,
    /// `decimal`
    Decimal,
    /// `date_iso8601`
    DateIso8601,
    /// `email`
    Email,
    /// `password` (deprecated: `sensitive: true`)
    Password,
    /// `oauth`
    Oauth,
    /// `options`
    Options,
    /// `file`
    File,
    /// `array`
    Array,
    /// `object`
    Object,
    /// `hidden` (deprecated: `hidden: true`)
    Hidden,
}

impl SettingKind {
    /// Every kind, in Meltano's order.
    pub const ALL: [SettingKind; 13] = [
        SettingKind::String,
        SettingKind::Integer,
        SettingKind::Boolean,
        SettingKind::Decimal,
        SettingKind::DateIso8601,
        SettingKind::Email,
        SettingKind::Password,
        SettingKind::Oauth,
        SettingKind::Options,
        SettingKind::File,
        SettingKind::Array,
        SettingKind::Object,
        SettingKind::Hidden,
    ];

    /// The name as written in YAML.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SettingKind::String => "string",
            SettingKind::Integer => "integer",
            SettingKind::Boolean => "boolean",
            SettingKind::Decimal => "decimal",
            SettingKind::DateIso8601 => "date_iso8601",
            SettingKind::Email => "email",
            SettingKind::Password => "password",
            SettingKind::Oauth => "oauth",
            SettingKind::Options => "options",
            SettingKind::File => "file",
            SettingKind::Array => "array",
            SettingKind::Object => "object",
            SettingKind::Hidden => "hidden",
        }
    }

    /// Parse a kind name (exact, as Meltano's enum lookup is).
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// Meltano's handling of the deprecated kinds: `(kind, hidden, sensitive)` as written ->
/// as used. `password`/`oauth` force `sensitive`, `hidden` forces `hidden`, and when the flag
/// was given too the kind becomes `string`.
#[must_use]
pub fn normalize_kind(
    kind: Option<SettingKind>,
    hidden: Option<bool>,
    sensitive: Option<bool>,
) -> (Option<SettingKind>, Option<bool>, Option<bool>) {
    match kind {
        Some(SettingKind::Hidden) => {
            let kind = if hidden == Some(true) {
                SettingKind::String
            } else {
                SettingKind::Hidden
            };
            (Some(kind), Some(true), sensitive)
        }
        Some(SettingKind::Password | SettingKind::Oauth) if sensitive == Some(true) => {
            (Some(SettingKind::String), hidden, Some(true))
        }
        Some(SettingKind::Password | SettingKind::Oauth) => (kind, hidden, Some(true)),
        _ => (kind, hidden, sensitive),
    }
}
