//! `state list PATTERN`: Python's `fnmatch` (what Meltano's file and cloud backends match state
//! IDs with), built on `globset`.
//!
//! fnmatch knows `*` (any run of characters, `/` included), `?`, `[seq]` and `[!seq]`; an
//! unclosed `[` and every other character, braces and backslashes included, match themselves.
//! Matching is case-sensitive, as on POSIX.

use globset::{GlobBuilder, GlobMatcher};

/// A compiled `state list` pattern.
#[derive(Clone, Debug)]
pub struct StatePattern {
    matcher: GlobMatcher,
}

/// A pattern globset cannot compile after translation (should not happen for fnmatch input).
#[derive(Debug, thiserror::Error)]
#[error("invalid state ID pattern `{pattern}`: {source}")]
pub struct PatternError {
    pattern: String,
    source: globset::Error,
}

impl StatePattern {
    /// Compile an fnmatch pattern.
    ///
    /// # Errors
    /// When globset rejects the translated pattern.
    pub fn new(pattern: &str) -> Result<Self, PatternError> {
        let matcher = GlobBuilder::new(&to_globset(pattern))
            .literal_separator(false)
            .backslash_escape(false)
            .build()
            .map_err(|source| PatternError {
                pattern: pattern.to_owned(),
                source,
            })?
            .compile_matcher();
        Ok(Self { matcher })
    }

    /// Whether the whole state ID matches (`re.match(fnmatch.translate(pattern), id)`).
    #[must_use]
    pub fn matches(&self, state_id: &str) -> bool {
        self.matcher.is_match(state_id)
    }
}

/// Rewrite fnmatch syntax into the globset syntax with the same meaning: classes are copied,
/// braces (globset alternation) and unclosed `[` become one-character classes.
fn to_globset(pattern: &str) -> String {
    let characters: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len());
    let mut index = 0;
    while index < characters.len() {
        let character = characters[index];
        match character {
            '[' => match class_end(&characters, index) {
                Some(end) => {
                    out.extend(&characters[index..=end]);
                    index = end;
                }
                None => out.push_str("[[]"),
            },
            '{' | '}' | ']' => {
                out.push('[');
                out.push(character);
                out.push(']');
            }
            _ => out.push(character),
        }
        index += 1;
    }
    out
}

/// The index of the `]` closing the class opened at `start`, as `fnmatch.translate` finds it:
/// a `!` and then a `]` right after the `[` belong to the class.
fn class_end(characters: &[char], start: usize) -> Option<usize> {
    let mut index = start + 1;
    if characters.get(index) == Some(&'!') {
        index += 1;
    }
    if characters.get(index) == Some(&']') {
        index += 1;
    }
    (index..characters.len()).find(|&i| characters[i] == ']')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(pattern: &str, matching: &[&str], not_matching: &[&str]) {
        let compiled = StatePattern::new(pattern).unwrap();
        for id in matching {
            assert!(compiled.matches(id), "{pattern} should match {id}");
        }
        for id in not_matching {
            assert!(!compiled.matches(id), "{pattern} should not match {id}");
        }
    }

    #[test]
    fn behaves_as_python_fnmatch() {
        // Each row checked with Python 3: re.match(fnmatch.translate(pattern), id).
        check("*", &["dev:a-to-b", "dev:a-to-b:x/y", ""], &[]);
        check(
            "dev:*",
            &["dev:a-to-b", "dev:a-to-b:s"],
            &["prod:a-to-b", "xdev:a"],
        );
        check(
            "*-to-target-jsonl",
            &["dev:tap-to-target-jsonl"],
            &["dev:tap-to-target-jsonl:s"],
        );
        check("dev:tap-?-to-b", &["dev:tap-x-to-b"], &["dev:tap-xy-to-b"]);
        check("[dp]*", &["dev:a", "prod:a"], &["staging:a"]);
        check("[!d]*", &["prod:a"], &["dev:a"]);
        check("[]x]*", &["]a", "xa"], &["a"]);
        check("*{a,b}", &["x{a,b}"], &["xa", "xb"]);
        check("a[b", &["a[b"], &["ab"]);
        check("a]b", &["a]b"], &[]);
        check(r"a\*", &[r"a\", r"a\bc"], &["a*x"]);
        check("DEV:*", &["DEV:x"], &["dev:x"]);
        check("a*/b", &["ax/b", "a/x/b"], &["a/x/c"]);
    }
}
