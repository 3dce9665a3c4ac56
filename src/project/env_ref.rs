//! Environment variable names as Meltano derives them from plugin and setting names
//! (reference/meltano-spec.md §8.1). The `${VAR}` reference grammar itself lives in
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
