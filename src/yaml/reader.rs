//! What Meltano's YAML reader (ruamel.yaml) decides about a file before its parser sees a token,
//! and which the parser cannot see: characters outside YAML's printable set anywhere in the
//! file (comments included), and a `%YAML` directive other than 1.2.
//!
//! Input: the file's text. Output: the first offending place, as byte offsets. Never reads a
//! value or builds a tree.

/// The first character ruamel.yaml's reader refuses: its byte offset and the character.
///
/// ruamel/yaml/reader.py, `Reader.NON_PRINTABLE`: everything but tab, line feed, carriage
/// return, `U+0020..U+007E`, `U+0085`, `U+00A0..U+D7FF`, `U+E000..U+FFFD` and
/// `U+10000..U+10FFFF`. (Rust strings hold no surrogates, the rest of the excluded range.)
#[must_use]
pub(super) fn unprintable(text: &str) -> Option<(usize, char)> {
    text.char_indices().find(|&(_, c)| !printable(c))
}

fn printable(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{A0}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// A `%YAML` directive of the document's prologue that names another version than 1.2: the
/// byte range of the version and its text.
///
/// ruamel.yaml then reads the document by YAML 1.1's rules (ruamel/yaml/parser.py,
/// `Parser.process_directives`; ruamel/yaml/resolver.py, `VersionedResolver`): `yes` is true and
/// `017` is 15. meltc reads YAML 1.2 only. The prologue is the lines before the document's
/// first content: blank lines, comments and directives (`%` in column 0).
#[must_use]
pub(super) fn other_yaml_version(text: &str) -> Option<(usize, usize, &str)> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let content = line.trim_start_matches('\u{FEFF}').trim_end();
        let trimmed = content.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        // The first line of content that is not a directive ends the prologue.
        let directive = content.strip_prefix('%')?;
        // `%YAMLL 1.1` is another (reserved) directive.
        let Some(arguments) = directive
            .strip_prefix("YAML")
            .filter(|arguments| arguments.starts_with([' ', '\t']))
        else {
            continue;
        };
        let version = arguments.split_whitespace().next()?;
        if version == "1.2" {
            continue;
        }
        let at = start + line.find(version)?;
        return Some((at, at + version.len(), version));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{other_yaml_version, unprintable};

    #[test]
    fn characters_ruamel_refuses() {
        assert_eq!(unprintable("a: b # caf\u{e9} \u{1F600}\r\n\tc\u{85}"), None);
        assert_eq!(unprintable("a: x\u{7}y"), Some((4, '\u{7}')));
        assert_eq!(unprintable("# \u{1b}[0m\n"), Some((2, '\u{1b}')));
        assert_eq!(unprintable("a: \u{7f}"), Some((3, '\u{7f}')));
        assert_eq!(unprintable("a: \u{86}"), Some((3, '\u{86}')));
        assert_eq!(unprintable("a: \u{FFFE}"), Some((3, '\u{FFFE}')));
        assert_eq!(unprintable("\u{FEFF}a: 1\0"), Some((7, '\0')));
    }

    #[test]
    fn version_directives_of_the_prologue() {
        assert_eq!(
            other_yaml_version("%YAML 1.1\n---\na: yes\n"),
            Some((6, 9, "1.1"))
        );
        assert_eq!(
            other_yaml_version("# c\n\n%TAG ! tag:x,2000:\n%YAML   1.1 # old\n---\n"),
            Some((32, 35, "1.1"))
        );
        assert_eq!(other_yaml_version("%YAML 1.2\n---\na: 1\n"), None);
        assert_eq!(other_yaml_version("%YAMLL 1.1\n---\na: 1\n"), None);
        assert_eq!(other_yaml_version("a: 1\n%YAML 1.1\n"), None);
        assert_eq!(other_yaml_version("a: |\n  %YAML 1.1\n"), None);
        assert_eq!(other_yaml_version(""), None);
    }
}
