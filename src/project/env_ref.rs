//! `$VAR` and `${VAR}` references in values (reference/meltano-spec.md §7.1).
//!
//! `${NAME}` takes any `\w+` name; a bare `$NAME` only `[A-Z][A-Z0-9_]*`; a backslash before
//! `$` escapes it; there are no defaults (`${X:-d}` is literal text).

/// One reference found in a string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvRef {
    /// The variable name.
    pub name: String,
    /// Byte range of the reference in the string (`$` included).
    pub range: std::ops::Range<usize>,
}

/// Every unescaped reference in `text`, in order.
#[must_use]
pub fn references(text: &str) -> Vec<EnvRef> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] != b'$' {
            index += 1;
            continue;
        }
        let escaped = index > 0 && bytes[index - 1] == b'\\';
        let start = index;
        index += 1;
        if bytes.get(index) == Some(&b'{') {
            let name_len = bytes[index + 1..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count();
            if name_len > 0 && bytes.get(index + 1 + name_len) == Some(&b'}') {
                let end = index + 2 + name_len;
                if !escaped {
                    found.push(EnvRef {
                        name: text[index + 1..index + 1 + name_len].to_owned(),
                        range: start..end,
                    });
                }
                index = end;
            }
        } else if bytes.get(index).is_some_and(u8::is_ascii_uppercase) {
            let name_len = bytes[index..]
                .iter()
                .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || **b == b'_')
                .count();
            if !escaped {
                found.push(EnvRef {
                    name: text[index..index + name_len].to_owned(),
                    range: start..index + name_len,
                });
            }
            index += name_len;
        }
    }
    found
}

/// Whether `text` holds at least one reference.
#[must_use]
pub fn has_reference(text: &str) -> bool {
    !references(text).is_empty()
}

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
    use super::references;

    fn names(text: &str) -> Vec<String> {
        references(text).into_iter().map(|r| r.name).collect()
    }

    #[test]
    fn env_var_parts() {
        assert_eq!(super::env_var_part("tap-gitlab"), "TAP_GITLAB");
        assert_eq!(super::env_var_part("_select"), "_SELECT");
        assert_eq!(
            super::env_var_part("batch_config.encoding.format"),
            "BATCH_CONFIG_ENCODING_FORMAT"
        );
    }

    #[test]
    fn meltano_reference_forms() {
        assert_eq!(names("${DB_PASSWORD}"), ["DB_PASSWORD"]);
        assert_eq!(names("${lower_ok}"), ["lower_ok"]);
        assert_eq!(names("$HOME/x"), ["HOME"]);
        assert_eq!(names("$home"), Vec::<String>::new());
        assert_eq!(names("$Abc"), ["A"]);
        assert_eq!(names("\\$ESCAPED and \\${ALSO}"), Vec::<String>::new());
        assert_eq!(names("${X:-default}"), Vec::<String>::new());
        assert_eq!(names("$$VAR"), ["VAR"]);
        assert_eq!(names("default$default-Bsda"), Vec::<String>::new());
        assert_eq!(names("a${B}c$D"), ["B", "D"]);
    }
}
