//! Python's `fnmatch.fnmatch` on POSIX (case-sensitive), the matcher Meltano's selection rules
//! use on stream IDs and dotted breadcrumbs.
//!
//! Not a shell glob and not `globset`: `*` crosses `.` and `/`, there are no `{a,b}`
//! alternatives and no escape character (`\` is a literal backslash), an unclosed `[` is a
//! literal, `[!…]` negates, and a class with an inverted range (`[z-a]`) has that range removed.
//! The class rules follow `fnmatch.translate` and then `re`'s parser of the regular expression
//! it produces (Python 3.11), so that every odd pattern means here what it means in Meltano.

/// One element of a compiled pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `?`, or a class that matches anything (`[!]` after empty-range removal).
    AnyChar,
    /// One or more consecutive `*`.
    Star,
    Class {
        negated: bool,
        items: Vec<(char, char)>,
    },
    /// A class that can match nothing (every range in it was inverted).
    Never,
}

/// A compiled `fnmatch` pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pattern {
    tokens: Vec<Token>,
}

impl Pattern {
    /// Compile `pattern` the way `fnmatch.translate` does.
    pub(crate) fn new(pattern: &str) -> Self {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            match c {
                '*' => {
                    if tokens.last() != Some(&Token::Star) {
                        tokens.push(Token::Star);
                    }
                }
                '?' => tokens.push(Token::AnyChar),
                '[' => {
                    let (token, next) = class(&chars, i);
                    tokens.push(token);
                    i = next;
                }
                other => tokens.push(Token::Literal(other)),
            }
        }
        Self { tokens }
    }

    /// Whether the whole of `name` matches.
    pub(crate) fn matches(&self, name: &str) -> bool {
        let name: Vec<char> = name.chars().collect();
        // Classic wildcard matching: remember the last `*` and retry one character later
        // when what follows it fails. Linear in practice, and exact for this grammar.
        let (mut t, mut n) = (0, 0);
        let mut backtrack: Option<(usize, usize)> = None;
        while n < name.len() {
            match self.tokens.get(t) {
                Some(Token::Star) => {
                    backtrack = Some((t, n));
                    t += 1;
                    continue;
                }
                Some(token) if token_matches(token, name[n]) => {
                    t += 1;
                    n += 1;
                    continue;
                }
                _ => {}
            }
            match backtrack {
                Some((star, start)) => {
                    backtrack = Some((star, start + 1));
                    t = star + 1;
                    n = start + 1;
                }
                None => return false,
            }
        }
        self.tokens[t..].iter().all(|token| *token == Token::Star)
    }
}

/// `fnmatch.fnmatch(name, pattern)` for a pattern used once.
pub(crate) fn fnmatch(name: &str, pattern: &str) -> bool {
    Pattern::new(pattern).matches(name)
}

fn token_matches(token: &Token, c: char) -> bool {
    match token {
        Token::Literal(literal) => *literal == c,
        Token::AnyChar => true,
        Token::Star | Token::Never => false,
        Token::Class { negated, items } => {
            items.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
        }
    }
}

/// The class that starts after the `[` at `start - 1`: the token and where scanning resumes.
/// Without a closing `]` the `[` is a literal and scanning resumes right after it.
fn class(chars: &[char], start: usize) -> (Token, usize) {
    let n = chars.len();
    let mut j = start;
    if j < n && chars[j] == '!' {
        j += 1;
    }
    if j < n && chars[j] == ']' {
        j += 1;
    }
    while j < n && chars[j] != ']' {
        j += 1;
    }
    if j >= n {
        return (Token::Literal('['), start);
    }
    let body = translate_class_body(chars, start, j);
    (parse_regex_class(&body), j + 1)
}

/// `fnmatch.translate`'s text for the class `chars[start..end]`, as a regular-expression class
/// body (without the brackets), or `None` for its two special cases: `(?!)` and `.`.
fn translate_class_body(chars: &[char], start: usize, end: usize) -> Vec<char> {
    let stuff: Vec<char> = if chars[start..end].contains(&'-') {
        range_chunks(chars, start, end)
    } else {
        chars[start..end]
            .iter()
            .flat_map(|&c| escape(c, false))
            .collect()
    };
    // Set operations (`&&`, `~~`, `||`) are escaped so that `re` reads them literally.
    let mut body: Vec<char> = Vec::with_capacity(stuff.len());
    for c in stuff {
        if matches!(c, '&' | '~' | '|') {
            body.push('\\');
        }
        body.push(c);
    }
    body
}

/// The `'-' in stuff` branch of `fnmatch.translate`: split into range chunks, drop inverted
/// ranges, escape backslashes and hyphens inside chunks, join with range hyphens.
fn range_chunks(chars: &[char], start: usize, end: usize) -> Vec<char> {
    let mut chunks: Vec<Vec<char>> = Vec::new();
    let mut i = start;
    let mut k = if chars[start] == '!' {
        start + 2
    } else {
        start + 1
    };
    while let Some(dash) = (k..end).find(|&index| chars[index] == '-') {
        chunks.push(chars[i..dash].to_vec());
        i = dash + 1;
        k = dash + 3;
    }
    let chunk = chars[i..end].to_vec();
    if chunk.is_empty() {
        if let Some(last) = chunks.last_mut() {
            last.push('-');
        }
    } else {
        chunks.push(chunk);
    }
    for index in (1..chunks.len()).rev() {
        let (Some(&last), Some(&first)) = (chunks[index - 1].last(), chunks[index].first()) else {
            continue;
        };
        if last > first {
            let tail: Vec<char> = chunks[index][1..].to_vec();
            let previous = &mut chunks[index - 1];
            previous.pop();
            previous.extend(tail);
            chunks.remove(index);
        }
    }
    let mut stuff = Vec::new();
    for (index, chunk) in chunks.iter().enumerate() {
        if index > 0 {
            stuff.push('-');
        }
        stuff.extend(chunk.iter().flat_map(|&c| escape(c, true)));
    }
    stuff
}

fn escape(c: char, hyphen: bool) -> Vec<char> {
    if c == '\\' || (hyphen && c == '-') {
        vec!['\\', c]
    } else {
        vec![c]
    }
}

/// `re`'s reading of `[body]` after `fnmatch.translate`'s final touches (`!` → `^`, a leading
/// `^` or `[` escaped, empty → never, `!` alone → any character).
fn parse_regex_class(stuff: &[char]) -> Token {
    if stuff.is_empty() {
        return Token::Never;
    }
    if stuff == ['!'] {
        return Token::AnyChar;
    }
    let (negated, body) = if stuff[0] == '!' {
        (true, &stuff[1..])
    } else {
        // A leading `^` or `[` is escaped by translate: a literal either way.
        (false, stuff)
    };
    // Items: (character, escaped). Only `\x` escapes of punctuation occur in the body.
    let mut items: Vec<(char, bool)> = Vec::new();
    let mut index = 0;
    while index < body.len() {
        if body[index] == '\\' && index + 1 < body.len() {
            items.push((body[index + 1], true));
            index += 2;
        } else {
            items.push((body[index], false));
            index += 1;
        }
    }
    let mut ranges = Vec::new();
    let mut index = 0;
    while index < items.len() {
        let (low, _) = items[index];
        index += 1;
        let is_range = items.get(index) == Some(&('-', false)) && index + 1 < items.len();
        if is_range {
            let (high, _) = items[index + 1];
            index += 2;
            if high < low {
                // `re` rejects the pattern; Meltano would fail. Match nothing.
                return Token::Never;
            }
            ranges.push((low, high));
        } else {
            ranges.push((low, low));
        }
    }
    // A trailing unescaped `-` right before `]` is a literal (it was pushed as a single item
    // above because no range end follows it).
    Token::Class {
        negated,
        items: ranges,
    }
}

#[cfg(test)]
mod tests {
    use super::fnmatch;

    #[track_caller]
    fn check(pattern: &str, yes: &[&str], no: &[&str]) {
        for name in yes {
            assert!(fnmatch(name, pattern), "`{pattern}` should match `{name}`");
        }
        for name in no {
            assert!(
                !fnmatch(name, pattern),
                "`{pattern}` should not match `{name}`"
            );
        }
    }

    #[test]
    fn table() {
        check("*", &["", "a", "a.b", "properties.a.properties.b"], &[]);
        check("users", &["users"], &["user", "users2", "Users"]);
        check("user?", &["users", "user1"], &["user", "users1"]);
        check(
            "order*",
            &["orders", "order_items", "order"],
            &["my_orders"],
        );
        check("*_id", &["user_id", "_id"], &["user_idx"]);
        check("a*b*c", &["abc", "aXbYc", "abbc", "acbc"], &["acb", "ab"]);
        check("public-*", &["public-users"], &["publicusers"]);
        check("[abc]", &["a", "c"], &["d", "ab", ""]);
        check("[!abc]", &["d", "-"], &["a", ""]);
        check("[a-c]x", &["ax", "bx", "cx"], &["dx"]);
        check("[a-]", &["a", "-"], &["b"]);
        check("[-a]", &["a", "-"], &["b"]);
        check("[]a]", &["]", "a"], &["b"]);
        check("[!]a]", &["b"], &["]", "a"]);
        check("[z-a]", &[], &["z", "a", "m"]);
        check("[!z-a]", &["z", "q"], &[""]);
        check("[", &["["], &["a"]);
        check("a[b", &["a[b"], &["ab"]);
        check(r"a\.b", &[r"a\.b"], &["a.b"]);
        check("[^a]", &["^", "a"], &["b"]);
        check("[a&&b]", &["a", "&", "b"], &["c"]);
        check("*.*", &["a.b", ".", "x.y.z"], &["ab"]);
        check(
            "properties.*",
            &["properties.a", "properties.a.properties.b"],
            &["properties"],
        );
        check("", &[""], &["a"]);
        check("é*", &["été"], &["ete"]);
    }
}
