//! Environment variable names as Meltano derives them from plugin and setting names
//! (`SettingDefinition.env_vars` in `core/setting_definition.py`, `ProjectPlugin.env_prefixes`
//! in `core/plugin/project_plugin.py`). The `${VAR}` reference grammar itself lives in
//! `meltano::template`, its one implementation.

/// One part of an env var name as Meltano derives it (`core/utils/__init__.py` `to_env_var`):
/// every character that is not an ASCII letter or digit becomes `_`, letters are upper-cased
/// (`tap-gitlab` -> `TAP_GITLAB`, `_select` -> `_SELECT`, `db.host` -> `DB_HOST`).
#[must_use]
pub fn env_var_part(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// An env var a setting is read from; a negated one (`!NAME`) reads a boolean inverted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvVar {
    /// The variable.
    pub name: String,
    /// Whether the value is inverted (`!NAME` in `env_aliases`).
    pub negated: bool,
}

impl EnvVar {
    pub(super) fn parse(definition: &str) -> Self {
        match definition.strip_prefix('!') {
            Some(name) => EnvVar {
                name: name.to_owned(),
                negated: true,
            },
            None => EnvVar {
                name: definition.to_owned(),
                negated: false,
            },
        }
    }
}

/// Meltano's `to_env_var(prefix, name)`: each non-empty part upper-cased with every character
/// that is not an ASCII letter or digit replaced by `_`, joined with `_`
/// (`tap-gitlab` + `api_url` -> `TAP_GITLAB_API_URL`, `_select` -> `TAP_X__SELECT`).
#[must_use]
pub fn to_env_var(prefix: &str, name: &str) -> String {
    [prefix, name]
        .iter()
        .filter(|part| !part.is_empty())
        .map(|part| env_var_part(part))
        .collect::<Vec<_>>()
        .join("_")
}

/// Keep the first of each name (Meltano's `uniques_in`).
#[must_use]
pub fn unique(names: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    names
        .into_iter()
        .filter(|name| seen.insert(name.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn env_var_parts() {
        assert_eq!(super::env_var_part("tap-gitlab"), "TAP_GITLAB");
        assert_eq!(super::env_var_part("_select"), "_SELECT");
        assert_eq!(
            super::env_var_part("batch_config.encoding.format"),
            "BATCH_CONFIG_ENCODING_FORMAT"
        );
    }
}
