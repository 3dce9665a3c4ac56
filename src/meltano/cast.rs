//! Casting a value to its setting's kind, value processors, and rendering a value as an
//! environment variable, as Meltano does (`SettingDefinition.cast_value` and `stringify_value`
//! in `core/setting_definition.py`).
//!
//! Only strings are cast (from env vars, `.env`, or quoted YAML): `boolean` is true for
//! `true/1/yes/on` (any case), `integer` is Python's `int()`, `object`/`array` parse as JSON
//! and then as a Python literal. Non-strings are left alone. `options` values must be one of
//! the options. Errors never quote a value; the caller decides whether it may be shown.

use serde_json::{Map, Number, Value};

use super::SettingKind;
use super::python_json;
use super::setting::Setting;

/// Why a value does not fit its setting.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CastError {
    /// Not an integer (`int()` fails).
    #[error("is not an integer")]
    Integer,
    /// Not a decimal number.
    #[error("is not a decimal number")]
    Decimal,
    /// Neither JSON nor a Python literal of the right shape.
    #[error("is not a JSON {0}")]
    Parse(&'static str),
    /// Not one of the options.
    #[error("is not one of the options ({0})")]
    Option(String),
}

/// Meltano's `SettingDefinition.cast_value`.
///
/// # Errors
/// When a string does not parse as the kind, or an `options` value is not an option.
pub fn cast(setting: &Setting, value: Value) -> Result<Value, CastError> {
    let value = match (&value, setting.kind) {
        (Value::String(text), Some(SettingKind::Boolean)) => Value::Bool(truthy(text)),
        (Value::String(text), Some(SettingKind::Integer)) => {
            Value::Number(python_int(text).ok_or(CastError::Integer)?)
        }
        (Value::String(text), Some(SettingKind::Decimal)) => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or(CastError::Decimal)?,
        (Value::String(text), Some(SettingKind::Object)) => match parse_literal(text) {
            Some(Value::Object(map)) => Value::Object(map),
            _ => return Err(CastError::Parse("object")),
        },
        (Value::String(text), Some(SettingKind::Array)) => match parse_literal(text) {
            Some(Value::Array(items)) => Value::Array(items),
            // A Python `str` is a sequence too: `list("ab")` is `['a', 'b']`.
            Some(Value::String(text)) => {
                Value::Array(text.chars().map(|c| Value::String(c.to_string())).collect())
            }
            _ => return Err(CastError::Parse("array")),
        },
        _ => value,
    };
    if setting.kind == Some(SettingKind::Options)
        && !value.is_null()
        && !setting.options.iter().any(|option| same(option, &value))
    {
        let options: Vec<String> = setting
            .options
            .iter()
            .map(|option| python_json::dumps(option, None))
            .collect();
        return Err(CastError::Option(options.join(", ")));
    }
    Ok(match (&value, setting.value_processor.as_deref()) {
        (Value::Null, _) | (_, None) => value,
        (_, Some(processor)) => process(processor, value),
    })
}

/// Meltano's `post_process_value`: the `value_post_processor`, or for `date_iso8601` the
/// date check (relative dates like `2 days ago` are left as written: see README).
#[must_use]
pub fn post_process(setting: &Setting, value: Value) -> Value {
    match (&value, setting.value_post_processor.as_deref()) {
        (Value::Null, _) => value,
        (_, Some(processor)) => process(processor, value),
        _ => value,
    }
}

/// A named processor (`VALUE_PROCESSORS`); an unknown name leaves the value alone.
fn process(processor: &str, value: Value) -> Value {
    match (processor, value) {
        ("nest_object", Value::Object(map)) => Value::Object(nest_object(&map, true)),
        ("upcase_string", Value::String(text)) => Value::String(text.to_uppercase()),
        ("stringify", value @ Value::String(_)) => value,
        ("stringify", value) => Value::String(python_json::dumps(&value, None)),
        (_, value) => value,
    }
}

/// Python's equality between two JSON values (`1 == 1.0`).
fn same(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => left == right,
    }
}

/// Meltano's `truthy`: `true`, `1`, `yes`, `on`, any case.
#[must_use]
pub fn truthy(text: &str) -> bool {
    ["true", "1", "yes", "on"].contains(&text.to_lowercase().as_str())
}

/// Python's `int(text)`: surrounding whitespace, a sign, `_` between digits.
fn python_int(text: &str) -> Option<Number> {
    let trimmed = text.trim();
    let digits = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
    let valid = !digits.is_empty()
        && !digits.starts_with('_')
        && !digits.ends_with('_')
        && !digits.contains("__")
        && digits.chars().all(|c| c.is_ascii_digit() || c == '_');
    if !valid {
        return None;
    }
    let cleaned: String = trimmed.chars().filter(|c| *c != '_').collect();
    cleaned
        .parse::<i64>()
        .map(Number::from)
        .ok()
        .or_else(|| cleaned.parse::<u64>().map(Number::from).ok())
}

/// JSON, else a Python literal (`{'a': 1}`, `['x', True, None]`, tuples).
fn parse_literal(text: &str) -> Option<Value> {
    serde_json::from_str(text)
        .ok()
        .or_else(|| PythonLiteral::new(text).parse_all())
}

/// Meltano's `nest_object`/`nest`: dotted keys become nested mappings; an existing key is never
/// replaced. With `unescape`, `a\.b` is one key `a.b`.
#[must_use]
pub fn nest_object(flat: &Map<String, Value>, unescape: bool) -> Map<String, Value> {
    let mut nested = Map::new();
    for (key, value) in flat {
        nest(&mut nested, &split_path(key, unescape), value);
    }
    nested
}

fn nest(root: &mut Map<String, Value>, path: &[String], value: &Value) {
    let Some((tail, initial)) = path.split_last() else {
        return;
    };
    let mut cursor = root;
    for key in initial {
        let next = cursor
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        match next {
            Value::Object(map) => cursor = map,
            _ => return, // Meltano would descend into a non-mapping and fail
        }
    }
    if !cursor.contains_key(tail) {
        cursor.insert(tail.clone(), value.clone());
    }
}

/// Split at dots not preceded by a backslash; with `unescape`, `\.` becomes `.`.
#[must_use]
pub fn split_path(path: &str, unescape: bool) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut previous = None;
    for c in path.chars() {
        if c == '.' && previous != Some('\\') {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
        previous = Some(c);
    }
    parts.push(current);
    if unescape {
        for part in &mut parts {
            *part = part.replace("\\.", ".");
        }
    }
    parts
}

/// Whether `key` has a dot that separates path segments.
#[must_use]
pub fn has_unescaped_dot(key: &str) -> bool {
    split_path(key, false).len() > 1
}

/// A setting value rendered into an environment variable (`stringify_value`): strings as they
/// are; without a kind (or `string`, `decimal`) Python's `str()` (`True`, `{'a': 1}`); other
/// kinds as JSON (`true`, `{"a": 1}`).
#[must_use]
pub fn env_text(setting: &Setting, value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        _ if matches!(
            setting.kind,
            None | Some(SettingKind::String | SettingKind::Decimal)
        ) =>
        {
            python_str(value)
        }
        _ => python_json::dumps(value, None),
    }
}

/// Python's `str()` of a JSON value.
#[must_use]
pub fn python_str(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => python_repr(other),
    }
}

fn python_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Number(number) => match (number.as_i64(), number.as_u64(), number.as_f64()) {
            (Some(int), _, _) => int.to_string(),
            (_, Some(int), _) => int.to_string(),
            (_, _, Some(float)) => python_json::float_repr(float),
            _ => number.to_string(),
        },
        Value::String(text) => string_repr(text),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(python_repr).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(key, item)| format!("{}: {}", string_repr(key), python_repr(item)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// Python's `repr(str)`.
fn string_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// A small reader of Python literals (`ast.literal_eval` for the shapes a setting can hold).
struct PythonLiteral<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> PythonLiteral<'a> {
    fn new(text: &'a str) -> Self {
        PythonLiteral { text, at: 0 }
    }

    fn parse_all(mut self) -> Option<Value> {
        let value = self.value()?;
        self.skip_space();
        (self.at == self.text.len()).then_some(value)
    }

    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    fn skip_space(&mut self) {
        let rest = self.rest();
        self.at += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        if self.rest().starts_with(token) {
            self.at += token.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Option<Value> {
        self.skip_space();
        let rest = self.rest();
        if self.eat("{") {
            return self.dict();
        }
        if self.eat("[") {
            return self.sequence("]");
        }
        if self.eat("(") {
            return self.sequence(")");
        }
        if rest.starts_with(['\'', '"']) {
            return self.string().map(Value::String);
        }
        for (word, value) in [
            ("True", Value::Bool(true)),
            ("False", Value::Bool(false)),
            ("None", Value::Null),
        ] {
            if rest.starts_with(word) {
                self.at += word.len();
                return Some(value);
            }
        }
        self.number()
    }

    fn dict(&mut self) -> Option<Value> {
        let mut map = Map::new();
        loop {
            if self.eat("}") {
                return Some(Value::Object(map));
            }
            self.skip_space();
            let key = self.string()?;
            if !self.eat(":") {
                return None;
            }
            let value = self.value()?;
            map.insert(key, value);
            if !self.eat(",") {
                return self.eat("}").then_some(Value::Object(map));
            }
        }
    }

    fn sequence(&mut self, close: &str) -> Option<Value> {
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Some(Value::Array(items));
            }
            items.push(self.value()?);
            if !self.eat(",") {
                return self.eat(close).then_some(Value::Array(items));
            }
        }
    }

    fn string(&mut self) -> Option<String> {
        let mut chars = self.rest().char_indices();
        let (_, quote) = chars.next()?;
        if quote != '\'' && quote != '"' {
            return None;
        }
        let mut out = String::new();
        let mut escaped = false;
        for (offset, c) in chars {
            if escaped {
                out.push(match c {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    other => other,
                });
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == quote {
                self.at += offset + c.len_utf8();
                return Some(out);
            } else {
                out.push(c);
            }
        }
        None
    }

    fn number(&mut self) -> Option<Value> {
        let rest = self.rest();
        let length = rest
            .char_indices()
            .take_while(|(index, c)| {
                c.is_ascii_digit()
                    || matches!(c, '.' | 'e' | 'E' | '_')
                    || (*index == 0 && *c == '-')
            })
            .count();
        let text: String = rest[..length].chars().filter(|c| *c != '_').collect();
        let value = text.parse::<i64>().map(Value::from).ok().or_else(|| {
            text.parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map(Value::Number)
        })?;
        self.at += length;
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::meltano::setting::Declared;
    use crate::meltano::template::ConfigValue;

    fn setting(kind: Option<SettingKind>) -> Setting {
        let mut setting = Setting::implicit("s", &ConfigValue::Null, Declared::Definition, false);
        setting.kind = kind;
        setting
    }

    #[test]
    fn strings_cast_like_meltano() {
        use SettingKind::{Array, Boolean, Integer, Object};
        let cases = [
            (Some(Boolean), json!("YES"), Ok(json!(true))),
            (Some(Boolean), json!("0"), Ok(json!(false))),
            (Some(Boolean), json!("nope"), Ok(json!(false))),
            (Some(Integer), json!(" 5432 "), Ok(json!(5432))),
            (Some(Integer), json!("-1_000"), Ok(json!(-1000))),
            (Some(Integer), json!("5.0"), Err(CastError::Integer)),
            (Some(Integer), json!(7), Ok(json!(7))),
            (Some(Object), json!("{\"a\": 1}"), Ok(json!({"a": 1}))),
            (
                Some(Object),
                json!("{'a': True, 'b': None}"),
                Ok(json!({"a": true, "b": null})),
            ),
            (Some(Object), json!("[1]"), Err(CastError::Parse("object"))),
            (
                Some(Array),
                json!("['x', (1, 2)]"),
                Ok(json!(["x", [1, 2]])),
            ),
            (Some(Array), json!("\"ab\""), Ok(json!(["a", "b"]))),
            (Some(Array), json!("a,b"), Err(CastError::Parse("array"))),
            (None, json!("yes"), Ok(json!("yes"))),
        ];
        for (kind, input, expected) in cases {
            assert_eq!(
                cast(&setting(kind), input.clone()),
                expected,
                "{kind:?} {input}"
            );
        }
    }

    #[test]
    fn options_and_processors() {
        let mut choice = setting(Some(SettingKind::Options));
        choice.options = vec![json!("a"), json!(1)];
        assert_eq!(cast(&choice, json!("a")), Ok(json!("a")));
        assert_eq!(cast(&choice, json!(1.0)), Ok(json!(1.0)));
        assert_eq!(
            cast(&choice, json!("b")),
            Err(CastError::Option("\"a\", 1".to_owned()))
        );
        let mut nested = setting(Some(SettingKind::Object));
        nested.value_processor = Some("nest_object".to_owned());
        assert_eq!(
            cast(&nested, json!({"a.b": 1, "a": {"c": 2}, "x\\.y": 3})),
            // `nest` never replaces a key that is already there (Meltano's `nest_object`).
            Ok(json!({"a": {"b": 1}, "x.y": 3}))
        );
        let mut upper = setting(None);
        upper.value_processor = Some("upcase_string".to_owned());
        assert_eq!(cast(&upper, json!("abc")), Ok(json!("ABC")));
        let mut stringify = setting(None);
        stringify.value_post_processor = Some("stringify".to_owned());
        assert_eq!(
            post_process(&stringify, json!({"a": [1, "é"]})),
            json!("{\"a\": [1, \"\\u00e9\"]}")
        );
    }

    #[test]
    fn env_rendering_depends_on_the_kind() {
        let cases = [
            (None, json!(true), "True"),
            (None, json!({"a": 1, "b": "x'y"}), "{'a': 1, 'b': \"x'y\"}"),
            (None, json!([1.5, null]), "[1.5, None]"),
            (Some(SettingKind::Boolean), json!(true), "true"),
            (Some(SettingKind::Object), json!({"a": 1}), "{\"a\": 1}"),
            (Some(SettingKind::Integer), json!("5"), "5"),
        ];
        for (kind, value, expected) in cases {
            assert_eq!(env_text(&setting(kind), &value), expected);
        }
    }

    #[test]
    fn paths_split_on_unescaped_dots() {
        assert_eq!(split_path("a.b\\.c.d", true), ["a", "b.c", "d"]);
        assert_eq!(split_path("a.b\\.c", false), ["a", "b\\.c"]);
        assert!(has_unescaped_dot("a.b"));
        assert!(!has_unescaped_dot("a\\.b"));
    }
}
