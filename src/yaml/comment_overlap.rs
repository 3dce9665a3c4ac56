//! A file shape on which Meltano's YAML reader fails although the YAML is valid: a comment
//! after `key:`, the key's plain value on a later line, and an empty line right after it.
//!
//! ```yaml
//! start_date: # the first day
//!   2024-01-01
//!
//! ```
//!
//! ruamel.yaml's round-trip loader attaches both the comment and the empty line to the value and
//! stops with `NotImplementedError: overlap in comment` (ruamel/yaml/comments.py,
//! `CommentedBase._yaml_add_comment`, reached from ruamel/yaml/constructor.py,
//! `RoundTripConstructor.construct_mapping`), so no Meltano command can load the file. Checked
//! against ruamel.yaml 0.19.1 (Meltano 4.4.1) by tests/yaml_meltano.rs.
//!
//! Input: the file's text and the spans of one block mapping entry. Output: where the comment
//! starts, when the entry has that shape.

/// The byte offset of the comment when the entry from `key_end` (where its key ends) to the
/// plain scalar value `value_start..value_end` has the shape above.
#[must_use]
pub(super) fn comment_before_value(
    text: &str,
    key_end: usize,
    value_start: usize,
    value_end: usize,
) -> Option<usize> {
    let between = text.get(key_end..value_start)?;
    let after_colon = between.trim_start_matches(' ').strip_prefix(':')?;
    let comment = after_colon.trim_start_matches(' ');
    if !comment.starts_with('#') {
        return None;
    }
    let rest_of_line = text.get(value_end..)?.trim_start_matches(' ');
    let next_line = rest_of_line
        .strip_prefix("\r\n")
        .or_else(|| rest_of_line.strip_prefix('\n'))?;
    // An empty line: only spaces, ended by a line break (not by the end of the file).
    let next_line = next_line.trim_start_matches(' ');
    let empty = next_line.starts_with('\n') || next_line.starts_with("\r\n");
    empty.then(|| value_start - comment.len())
}

#[cfg(test)]
mod tests {
    use super::comment_before_value;

    /// The entry `key: ...` of `text` whose value is the plain scalar `value`.
    fn check(text: &str, value: &str) -> Option<usize> {
        let start = text.find(value).unwrap();
        comment_before_value(text, 3, start, start + value.len())
    }

    #[test]
    fn the_shape_ruamel_fails_on() {
        assert_eq!(check("key: # c\n  v\n\nb: 2\n", "v"), Some(5));
        assert_eq!(check("key:   # c\n  # d\n  v  \n   \n", "v"), Some(7));
        assert_eq!(check("key: # c\n  v\r\n\r\nb: 2\n", "v"), Some(5));
        assert_eq!(check("key: # c\n  v\n\n", "v"), Some(5));
    }

    #[test]
    fn shapes_ruamel_reads() {
        assert_eq!(check("key: # c\n  v\nb: 2\n", "v"), None);
        assert_eq!(check("key: # c\n  v\n", "v"), None);
        assert_eq!(check("key: # c\n  v # d\n\nb: 2\n", "v"), None);
        assert_eq!(check("key:\n  # c\n  v\n\nb: 2\n", "v"), None);
        assert_eq!(check("key: &a # c\n  v\n\nb: 2\n", "v"), None);
        assert_eq!(check("key: # c\n  v\n# d\n", "v"), None);
        assert_eq!(check("key: # c\n  v\n   ", "v"), None);
    }
}
