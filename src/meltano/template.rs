//! `${VAR}` templates (Meltano's `expand_env_vars`, `core/utils/__init__.py`), kept as
//! structure until a command that is allowed to read values expands them.
//!
//! A string from meltano.yml becomes a [`Template`]: literal parts and variable references.
//! The grammar is Meltano's regex `(\\)?\$(?:\{(\w+)\}|([A-Z][A-Z0-9_]*))`:
//!
//! - `${NAME}` takes any word characters (`${lower_ok}`); a bare `$NAME` only
//!   `[A-Z][A-Z0-9_]*`, greedy (`$home` is literal text, `$Abc` is `$A` then `bc`);
//! - a backslash right before a reference escapes it: `\$X` is the literal `$X`;
//! - there are no defaults (`${X:-d}` is literal text) and no nesting;
//! - expansion is one pass: a substituted value is never expanded again;
//! - an unset variable expands to the empty string.
//!
//! [`ConfigValue`] is a setting value as written: JSON-shaped, with every string a template.
//! `meltc build` only ever asks it for its [`ConfigValue::references`]; `meltc config` calls
//! [`ConfigValue::expand`] with the shell's variables.

use indexmap::IndexMap;
use serde_json::Value;

/// One piece of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Text used as is.
    Literal(String),
    /// A variable reference.
    Variable {
        /// The variable name.
        name: String,
        /// Written `${NAME}` (else `$NAME`).
        braced: bool,
    },
}

/// A string with `${VAR}` references.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parse `text` with Meltano's reference grammar.
    #[must_use]
    pub fn parse(text: &str) -> Self {
        let mut template = Template::default();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(dollar) = rest.find('$') {
            let (before, from_dollar) = rest.split_at(dollar);
            let Some((name, braced, length)) = reference_at(from_dollar) else {
                literal.push_str(before);
                literal.push('$');
                rest = &from_dollar[1..];
                continue;
            };
            if let Some(unescaped) = before.strip_suffix('\\') {
                // `\$X`: the backslash goes, the reference stays as text.
                literal.push_str(unescaped);
                literal.push_str(&from_dollar[..length]);
            } else {
                literal.push_str(before);
                template.push_literal(&mut literal);
                template.parts.push(Part::Variable {
                    name: name.to_owned(),
                    braced,
                });
            }
            rest = &from_dollar[length..];
        }
        literal.push_str(rest);
        template.push_literal(&mut literal);
        template
    }

    /// A template that is only `text` (a value read from an environment variable, which
    /// Meltano never expands).
    #[must_use]
    pub fn literal(text: &str) -> Self {
        let mut template = Template::default();
        template.push_literal(&mut text.to_owned());
        template
    }

    fn push_literal(&mut self, literal: &mut String) {
        if !literal.is_empty() {
            self.parts.push(Part::Literal(std::mem::take(literal)));
        }
    }

    /// The parts, in order.
    #[must_use]
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The referenced variable names, in order (with repeats).
    pub fn references(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Variable { name, .. } => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Whether the template has no references.
    #[must_use]
    pub fn is_literal(&self) -> bool {
        self.references().next().is_none()
    }

    /// Expand with `lookup` (unset variables become empty), in one pass.
    pub fn expand<'v>(&self, lookup: &impl Fn(&str) -> Option<&'v str>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Variable { name, .. } => out.push_str(lookup(name).unwrap_or_default()),
            }
        }
        out
    }

    /// The text as written (escapes removed), for display: `${DB_HOST}:5432`.
    #[must_use]
    pub fn display(&self) -> String {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Literal(text) => text.clone(),
                Part::Variable { name, braced: true } => format!("${{{name}}}"),
                Part::Variable {
                    name,
                    braced: false,
                } => format!("${name}"),
            })
            .collect()
    }
}

/// The reference starting at the `$` that `text` begins with: (name, braced, length).
fn reference_at(text: &str) -> Option<(&str, bool, usize)> {
    let after = &text[1..];
    if let Some(inner) = after.strip_prefix('{') {
        let name_length: usize = inner
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .map(char::len_utf8)
            .sum();
        if name_length > 0 && inner[name_length..].starts_with('}') {
            return Some((&inner[..name_length], true, name_length + 3));
        }
        return None;
    }
    if !after.starts_with(|c: char| c.is_ascii_uppercase()) {
        return None;
    }
    let name_length = after
        .bytes()
        .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
        .count();
    Some((&after[..name_length], false, name_length + 1))
}

/// Whether `text` holds at least one unescaped `$VAR` / `${VAR}` reference.
#[must_use]
pub fn has_reference(text: &str) -> bool {
    Template::parse(text).references().next().is_some()
}

/// A setting value as written: JSON-shaped, every string a [`Template`].
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigValue {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number.
    Number(serde_json::Number),
    /// A string, possibly with references.
    Text(Template),
    /// A list.
    List(Vec<ConfigValue>),
    /// A mapping, in file order.
    Map(IndexMap<String, ConfigValue>),
}

impl ConfigValue {
    /// A value from meltano.yml or a definition: strings are templates.
    #[must_use]
    pub fn from_json(value: &Value) -> Self {
        Self::convert(value, &Template::parse)
    }

    /// A value nothing expands (from an environment variable or `.env`).
    #[must_use]
    pub fn literal(value: &Value) -> Self {
        Self::convert(value, &Template::literal)
    }

    fn convert(value: &Value, text: &impl Fn(&str) -> Template) -> Self {
        match value {
            Value::Null => ConfigValue::Null,
            Value::Bool(flag) => ConfigValue::Bool(*flag),
            Value::Number(number) => ConfigValue::Number(number.clone()),
            Value::String(string) => ConfigValue::Text(text(string)),
            Value::Array(items) => {
                ConfigValue::List(items.iter().map(|item| Self::convert(item, text)).collect())
            }
            Value::Object(map) => ConfigValue::Map(
                map.iter()
                    .map(|(key, item)| (key.clone(), Self::convert(item, text)))
                    .collect(),
            ),
        }
    }

    /// Whether this is `null`.
    #[must_use]
    pub fn is_null(&self) -> bool {
        matches!(self, ConfigValue::Null)
    }

    /// Every variable referenced anywhere in the value, in order (with repeats).
    #[must_use]
    pub fn references(&self) -> Vec<&str> {
        let mut found = Vec::new();
        self.collect_references(&mut found);
        found
    }

    fn collect_references<'a>(&'a self, found: &mut Vec<&'a str>) {
        match self {
            ConfigValue::Text(template) => found.extend(template.references()),
            ConfigValue::List(items) => {
                items.iter().for_each(|item| item.collect_references(found))
            }
            ConfigValue::Map(map) => map.values().for_each(|item| item.collect_references(found)),
            _ => {}
        }
    }

    /// Expand every string with `lookup`, as Meltano's `expand_env_vars` does on a setting
    /// value (lists and mappings element by element).
    #[must_use]
    pub fn expand<'v>(&self, lookup: &impl Fn(&str) -> Option<&'v str>) -> Value {
        match self {
            ConfigValue::Null => Value::Null,
            ConfigValue::Bool(flag) => Value::Bool(*flag),
            ConfigValue::Number(number) => Value::Number(number.clone()),
            ConfigValue::Text(template) => Value::String(template.expand(lookup)),
            ConfigValue::List(items) => {
                Value::Array(items.iter().map(|item| item.expand(lookup)).collect())
            }
            ConfigValue::Map(map) => Value::Object(
                map.iter()
                    .map(|(key, item)| (key.clone(), item.expand(lookup)))
                    .collect(),
            ),
        }
    }

    /// The value with every template shown as written (`${X}` kept), for display.
    #[must_use]
    pub fn as_written(&self) -> Value {
        match self {
            ConfigValue::Text(template) => Value::String(template.display()),
            ConfigValue::List(items) => Value::Array(items.iter().map(Self::as_written).collect()),
            ConfigValue::Map(map) => Value::Object(
                map.iter()
                    .map(|(key, item)| (key.clone(), item.as_written()))
                    .collect(),
            ),
            other => other.expand(&|_| None),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    fn expand(text: &str) -> String {
        let env: BTreeMap<&str, &str> = [
            ("HOME", "/home/me"),
            ("A", "a"),
            ("lower_var", "lv"),
            ("B", "$A"),
            ("VAR_", "v_"),
            ("EMPTY", ""),
        ]
        .into_iter()
        .collect();
        Template::parse(text).expand(&|name| env.get(name).copied())
    }

    #[test]
    fn meltano_reference_grammar() {
        let cases = [
            ("${HOME}/x", "/home/me/x"),
            ("$HOME/x", "/home/me/x"),
            ("${lower_var}", "lv"),
            ("$lower_var", "$lower_var"),
            ("$home", "$home"),
            ("$Abc", "abc"),
            ("\\$HOME and \\${HOME}", "$HOME and ${HOME}"),
            ("\\$home", "\\$home"),
            ("\\\\$A", "\\$A"),
            ("${X:-default}", "${X:-default}"),
            ("${X-d}", "${X-d}"),
            ("$$A", "$a"),
            ("${${A}}", "${a}"),
            ("${B}", "$A"),
            ("$VAR_abc", "v_abc"),
            ("a${UNSET}b", "ab"),
            ("${EMPTY}", ""),
            ("$", "$"),
            ("${}", "${}"),
            ("${A", "${A"),
            ("100$", "100$"),
            ("é$Aé", "éaé"),
        ];
        for (text, expected) in cases {
            assert_eq!(expand(text), expected, "{text}");
        }
    }

    #[test]
    fn references_found_in_text() {
        let names = |text: &str| {
            Template::parse(text)
                .references()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
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
        assert!(has_reference("x${B}") && !has_reference("plain $lower text"));
    }

    #[test]
    fn templates_keep_structure_and_display_as_written() {
        let template = Template::parse("postgres://${USER}:$PASS@host\\$X");
        assert_eq!(template.references().collect::<Vec<_>>(), ["USER", "PASS"]);
        assert_eq!(template.display(), "postgres://${USER}:$PASS@host$X");
        assert!(!template.is_literal());
        assert!(Template::literal("${NOT_A_REF}").is_literal());
        assert_eq!(Template::literal("${X}").expand(&|_| Some("no")), "${X}");
    }

    #[test]
    fn values_expand_element_by_element() {
        let value =
            ConfigValue::from_json(&json!({"a": ["$A", 1, true, null], "b": {"c": "x${A}"}}));
        assert_eq!(value.references(), ["A", "A"]);
        assert_eq!(
            value.expand(&|name| (name == "A").then_some("1")),
            json!({"a": ["1", 1, true, null], "b": {"c": "x1"}})
        );
    }
}
