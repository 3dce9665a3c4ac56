//! The shell a value is evaluated in: the process environment and the project's `.env`, read
//! by the caller (`meltc config`) and passed in. `meltc build` never builds one.
//!
//! `.env` is read the way python-dotenv 1.x (Meltano's reader) reads it: `KEY=value` lines,
//! an optional `export `, single- or double-quoted values (escapes decoded, double quotes over
//! several lines), unquoted values cut at ` #`, `KEY` without `=` ignored, a later key
//! replacing an earlier one; then every value is interpolated with `${NAME}` and
//! `${NAME:-default}`, looking up earlier keys of the file first and the process environment
//! second.

use std::collections::BTreeMap;

use indexmap::IndexMap;

/// Variables from the process and from `.env`.
#[derive(Clone, Debug, Default)]
pub struct Shell {
    /// The process environment.
    pub process: BTreeMap<String, String>,
    /// The project's `.env`, interpolated, in file order.
    pub dotenv: IndexMap<String, String>,
}

impl Shell {
    /// A shell from the process environment and the text of `.env` (if any).
    #[must_use]
    pub fn new(process: BTreeMap<String, String>, dotenv_text: Option<&str>) -> Self {
        let dotenv = dotenv_text.map_or_else(IndexMap::new, |text| parse_dotenv(text, &process));
        Shell { process, dotenv }
    }
}

/// Parse `.env` text like python-dotenv's `dotenv_values` (interpolating against `process`).
#[must_use]
pub fn parse_dotenv(text: &str, process: &BTreeMap<String, String>) -> IndexMap<String, String> {
    let mut reader = Reader {
        text: text.strip_prefix('\u{feff}').unwrap_or(text),
        at: 0,
    };
    // Bindings are interpolated in file order; a repeated key keeps its first position.
    let mut seen: IndexMap<String, Option<String>> = IndexMap::new();
    while reader.at < reader.text.len() {
        if let Some((key, value)) = reader.binding() {
            let resolved = value.map(|value| interpolate(&value, &seen, process));
            seen.insert(key, resolved);
        }
    }
    seen.into_iter()
        .filter_map(|(key, value)| value.map(|value| (key, value)))
        .collect()
}

/// python-dotenv's `${NAME}` / `${NAME:-default}` (`override=True`: the file's earlier values
/// win over the process environment).
fn interpolate(
    value: &str,
    earlier: &IndexMap<String, Option<String>>,
    process: &BTreeMap<String, String>,
) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            break;
        };
        let inner = &after[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((name, default)) if !name.contains(':') => (name, Some(default)),
            _ if inner.contains(':') => {
                // Not a variable in python-dotenv's grammar: keep the text.
                out.push_str(&rest[..start + 2]);
                rest = after;
                continue;
            }
            _ => (inner, None),
        };
        out.push_str(&rest[..start]);
        let found = match earlier.get(name) {
            Some(value) => value.clone(),
            None => process.get(name).cloned(),
        };
        out.push_str(&found.unwrap_or_else(|| default.unwrap_or_default().to_owned()));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Reader<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    /// One binding; `None` for blank lines, comments and lines python-dotenv cannot parse
    /// (skipped to the end of the line).
    fn binding(&mut self) -> Option<(String, Option<String>)> {
        let start = self.at;
        let parsed = self.try_binding();
        if parsed.is_none() && self.at == start {
            self.skip_line();
        }
        parsed.flatten()
    }

    fn try_binding(&mut self) -> Option<Option<(String, Option<String>)>> {
        self.skip(|c| c.is_whitespace());
        if self.rest().is_empty() {
            return Some(None);
        }
        let checkpoint = self.at;
        if let Some(after) = self.rest().strip_prefix("export") {
            if after.starts_with([' ', '\t']) {
                self.at += "export".len();
                self.skip(|c| c == ' ' || c == '\t');
            }
        }
        if self.rest().starts_with('#') {
            self.skip_line();
            return Some(None);
        }
        let key = if let Some(quoted) = self.rest().strip_prefix('\'') {
            let end = quoted.find('\'').filter(|end| *end > 0)?;
            let key = quoted[..end].to_owned();
            self.at += end + 2;
            key
        } else {
            let length = self
                .rest()
                .find(|c: char| c == '=' || c == '#' || c.is_whitespace())
                .unwrap_or(self.rest().len());
            if length == 0 {
                self.at = checkpoint;
                return None;
            }
            let key = self.rest()[..length].to_owned();
            self.at += length;
            key
        };
        self.skip(|c| c == ' ' || c == '\t');
        let value = if self.rest().starts_with('=') {
            self.at += 1;
            let spaces = self.skip(|c| c == ' ' || c == '\t');
            if spaces > 0 && self.rest().starts_with('#') {
                Some(String::new())
            } else {
                Some(self.value()?)
            }
        } else {
            None
        };
        self.skip(|c| c == ' ' || c == '\t');
        if self.rest().starts_with('#') {
            self.skip_until_newline();
        }
        if !(self.rest().is_empty() || self.rest().starts_with(['\n', '\r'])) {
            self.skip_line();
            return Some(None);
        }
        self.skip_line();
        Some(Some((key, value)))
    }

    fn value(&mut self) -> Option<String> {
        let rest = self.rest();
        match rest.chars().next() {
            Some(quote @ ('\'' | '"')) => {
                let body = &rest[1..];
                let mut end = None;
                let mut escaped = false;
                for (index, c) in body.char_indices() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == quote {
                        end = Some(index);
                        break;
                    }
                }
                let end = end?;
                let value = decode_escapes(&body[..end], quote == '"');
                self.at += end + 2;
                Some(value)
            }
            None | Some('\n' | '\r') => Some(String::new()),
            Some(_) => {
                let line_end = rest.find(['\n', '\r']).unwrap_or(rest.len());
                let line = &rest[..line_end];
                self.at += line_end;
                let cut = comment_start(line).unwrap_or(line.len());
                Some(line[..cut].trim_end().to_owned())
            }
        }
    }

    fn skip(&mut self, predicate: impl Fn(char) -> bool) -> usize {
        let length = self
            .rest()
            .find(|c: char| !predicate(c))
            .unwrap_or(self.rest().len());
        self.at += length;
        length
    }

    fn skip_until_newline(&mut self) {
        self.skip(|c| c != '\n' && c != '\r');
    }

    fn skip_line(&mut self) {
        self.skip_until_newline();
        if self.rest().starts_with("\r\n") {
            self.at += 2;
        } else if self.rest().starts_with(['\n', '\r']) {
            self.at += 1;
        }
    }
}

/// Where an unquoted value's inline comment starts: whitespace then `#`.
fn comment_start(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    (1..bytes.len())
        .find(|&index| bytes[index] == b'#' && bytes[index - 1].is_ascii_whitespace())
        .map(|index| {
            line[..index]
                .trim_end_matches(|c: char| c.is_whitespace())
                .len()
        })
}

/// python-dotenv's escape decoding: `\\ \' \" \a \b \f \n \r \t \v` in double quotes, only
/// `\\ \'` in single quotes.
fn decode_escapes(text: &str, double: bool) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let decoded = match (chars.peek(), double) {
            (Some('\\'), _) => Some('\\'),
            (Some('\''), _) => Some('\''),
            (Some('"'), true) => Some('"'),
            (Some('a'), true) => Some('\u{7}'),
            (Some('b'), true) => Some('\u{8}'),
            (Some('f'), true) => Some('\u{c}'),
            (Some('n'), true) => Some('\n'),
            (Some('r'), true) => Some('\r'),
            (Some('t'), true) => Some('\t'),
            (Some('v'), true) => Some('\u{b}'),
            _ => None,
        };
        match decoded {
            Some(decoded) => {
                chars.next();
                out.push(decoded);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_lines_like_python_dotenv() {
        let text = "\u{feff}# comment\nA=1\nexport B = two words # note\nC='single ${A}'\nD=\"dq\\nline\"\nE=#not-a-comment\nF= # empty\nG\nH=${A}-${UNSET:-dflt}-${HOME}\nA=3\nI=${A}\n'J K'=quoted key\nbroken line here\nL=\"multi\nline\"\nM=${X:y}\n";
        let process = BTreeMap::from([("HOME".to_owned(), "/home/me".to_owned())]);
        let values = parse_dotenv(text, &process);
        let pairs: Vec<(&str, &str)> = values
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("A", "3"),
                ("B", "two words"),
                ("C", "single 1"),
                ("D", "dq\nline"),
                ("E", "#not-a-comment"),
                ("F", ""),
                ("H", "1-dflt-/home/me"),
                ("I", "3"),
                ("J K", "quoted key"),
                ("L", "multi\nline"),
                ("M", "${X:y}"),
            ]
        );
    }
}
