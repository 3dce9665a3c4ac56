//! POSIX shell words: splitting a `pip_url` the way Meltano does (`shlex.split`), and quoting
//! words for the generated install script.

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

/// `word` as one shell word: as it is when it holds nothing a shell would interpret, else in
/// single quotes.
#[must_use]
pub fn quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::{quote, split};

    #[test]
    fn splits_like_shlex() {
        assert_eq!(
            split(r#"git+https://x/y.git "setuptools<82"  a\ b 'c d'"#).unwrap(),
            ["git+https://x/y.git", "setuptools<82", "a b", "c d"]
        );
        assert_eq!(split("").unwrap(), Vec::<String>::new());
        assert!(split("'open").is_err());
    }

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(quote("tap-x==1.0"), "tap-x==1.0");
        assert_eq!(quote("setuptools<82"), "'setuptools<82'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }
}
