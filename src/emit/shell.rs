//! Quoting words for the generated install script (splitting is `meltano::shell_words`).

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
    use super::quote;

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(quote("tap-x==1.0"), "tap-x==1.0");
        assert_eq!(quote("setuptools<82"), "'setuptools<82'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }
}
