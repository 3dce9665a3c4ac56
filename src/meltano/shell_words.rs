//! POSIX shell words as Meltano splits them with Python's `shlex.split`: a `pip_url` into pip
//! arguments (`get_pip_install_args` in `core/plugin_install_service.py`) and a command's
//! `args` (`Command.expanded_args` in `core/plugin/command.py`).

/// Split `text` into words with POSIX shell rules (quotes removed, backslash escapes), as
/// Python's `shlex.split` does.
///
/// # Errors
/// An unclosed quote or a trailing backslash.
pub fn split(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(format!("unclosed single quote in `{text}`")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(format!("unclosed double quote in `{text}`")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(format!("unclosed double quote in `{text}`")),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(c) => {
                    in_word = true;
                    word.push(c);
                }
                None => return Err(format!("`{text}` ends with a backslash")),
            },
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn splits_like_shlex() {
        assert_eq!(
            split(r#"git+https://x/y.git "setuptools<82"  a\ b 'c d'"#).unwrap(),
            ["git+https://x/y.git", "setuptools<82", "a b", "c d"]
        );
        assert_eq!(split("").unwrap(), Vec::<String>::new());
        assert!(split("'open").is_err());
        // From a command's `args`: quotes removed, empty quotes an empty word.
        assert_eq!(
            split("run --select 'a b' \"c d\" e\\ f").unwrap(),
            ["run", "--select", "a b", "c d", "e f"]
        );
        assert_eq!(split("  ").unwrap(), Vec::<String>::new());
        assert_eq!(split("''").unwrap(), [""]);
    }
}
