//! JSON text exactly as Python's `json.dump` writes it, for files Meltano writes (lock files,
//! state documents) and values Meltano renders into environment variables.
//!
//! Python's defaults differ from `serde_json`'s in ways that show in a byte comparison:
//! `ensure_ascii=True` escapes every character outside printable ASCII as `\uXXXX` (lowercase
//! hex, surrogate pairs above U+FFFF, DEL included); with `indent` the item separator is `,` at
//! the end of a line, without it `, ` and `: ` (`,` and `:` with `separators=(",", ":")`);
//! empty containers are `[]`/`{}` even when indenting; floats use `repr` (`1e-05`, `1e+16`,
//! `100.0`, `Infinity`, `NaN`).
//!
//! Input is a `serde_json::Value` built with `preserve_order`, so object keys come out in the
//! order they were inserted, as a Python `dict` does.

use std::fmt::Write as _;

use serde_json::{Number, Value};

/// `json.dumps(value, indent=indent)`: `Some(2)` for lock files, `None` for the one-line form
/// Meltano uses when rendering a setting into an environment variable.
#[must_use]
pub fn dumps(value: &Value, indent: Option<usize>) -> String {
    let layout = Layout {
        indent,
        item_separator: if indent.is_some() { "," } else { ", " },
        key_separator: ": ",
    };
    let mut out = String::new();
    write_value(&mut out, value, &layout, 0);
    out
}

/// `json.dumps(value, separators=(",", ":"))`: the compact line `meltano state get` prints.
#[must_use]
pub fn dumps_compact(value: &Value) -> String {
    let layout = Layout {
        indent: None,
        item_separator: ",",
        key_separator: ":",
    };
    let mut out = String::new();
    write_value(&mut out, value, &layout, 0);
    out
}

/// Python's `indent` and `separators` arguments.
struct Layout {
    indent: Option<usize>,
    /// Between items; with an indent it ends the line.
    item_separator: &'static str,
    key_separator: &'static str,
}

fn write_value(out: &mut String, value: &Value, layout: &Layout, depth: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => write_number(out, number),
        Value::String(text) => write_string(out, text),
        Value::Array(items) => {
            write_container(
                out,
                ('[', ']'),
                items.iter().map(|item| (None, item)),
                layout,
                depth,
            );
        }
        Value::Object(map) => {
            let entries = map.iter().map(|(key, value)| (Some(key.as_str()), value));
            write_container(out, ('{', '}'), entries, layout, depth);
        }
    }
}

fn write_container<'a>(
    out: &mut String,
    (open, close): (char, char),
    entries: impl ExactSizeIterator<Item = (Option<&'a str>, &'a Value)>,
    layout: &Layout,
    depth: usize,
) {
    out.push(open);
    if entries.len() == 0 {
        out.push(close);
        return;
    }
    for (position, (key, value)) in entries.enumerate() {
        if position > 0 {
            out.push_str(layout.item_separator);
        }
        if let Some(width) = layout.indent {
            newline(out, width * (depth + 1));
        }
        if let Some(key) = key {
            write_string(out, key);
            out.push_str(layout.key_separator);
        }
        write_value(out, value, layout, depth + 1);
    }
    if let Some(width) = layout.indent {
        newline(out, width * depth);
    }
    out.push(close);
}

fn newline(out: &mut String, spaces: usize) {
    out.push('\n');
    out.extend(std::iter::repeat_n(' ', spaces));
}

/// A string with `ensure_ascii=True` escaping.
fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(character),
            _ => {
                let mut units = [0_u16; 2];
                for unit in character.encode_utf16(&mut units) {
                    // Writing to a String cannot fail.
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// Python's `bool(value)` for a value `json.loads` gave: `None`, `False`, zero, and empty
/// strings, lists and dicts are false.
#[must_use]
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_f64().is_some_and(|n| n != 0.0),
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

fn write_number(out: &mut String, number: &Number) {
    if let Some(float) = number.as_f64().filter(|_| number.is_f64()) {
        out.push_str(&float_repr(float));
    } else {
        // Integers print as themselves (i64 or u64).
        out.push_str(&number.to_string());
    }
}

/// Python's `repr(float)`: the shortest digits that round-trip, in fixed notation when the
/// decimal exponent is in `-4..16`, else `d.ddde±XX`; always with a `.0` or an exponent.
#[must_use]
pub fn float_repr(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    // Rust's `{:e}` also prints the shortest round-tripping digits: `-1.2345e-7`.
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific
        .split_once('e')
        .unwrap_or((scientific.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if value.is_sign_negative() { "-" } else { "" };
    if (-4..16).contains(&exponent) {
        format!("{sign}{}", fixed_notation(&digits, exponent + 1))
    } else {
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        format!(
            "{sign}{first}{fraction}e{exponent_sign}{:02}",
            exponent.unsigned_abs()
        )
    }
}

/// `digits` with the decimal point after `point` digits (may be <= 0 or past the end).
fn fixed_notation(digits: &str, point: i32) -> String {
    let length = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    if point <= 0 {
        let zeros = "0".repeat(usize::try_from(-point).unwrap_or(0));
        format!("0.{zeros}{digits}")
    } else if point >= length {
        let zeros = "0".repeat(usize::try_from(point - length).unwrap_or(0));
        format!("{digits}{zeros}.0")
    } else {
        let (whole, fraction) = digits.split_at(usize::try_from(point).unwrap_or(0));
        format!("{whole}.{fraction}")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn floats_match_python_repr() {
        // Expected values from CPython 3.11 `repr(float)`.
        let cases: &[(f64, &str)] = &[
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (100.0, "100.0"),
            (0.5, "0.5"),
            (-2.25, "-2.25"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (0.000_012_5, "1.25e-05"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e20, "1.5e+20"),
            (123_456.789, "123456.789"),
            (1e100, "1e+100"),
            (5e-324, "5e-324"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (f64::NAN, "NaN"),
        ];
        for &(value, expected) in cases {
            assert_eq!(float_repr(value), expected, "{value:?}");
        }
    }

    #[test]
    fn strings_are_ascii_escaped() {
        let cases: &[(&str, &str)] = &[
            ("plain", r#""plain""#),
            ("a\"b\\c", r#""a\"b\\c""#),
            ("\n\r\t\u{8}\u{c}", r#""\n\r\t\b\f""#),
            ("\u{1}\u{1f}\u{7f}", r#""\u0001\u001f\u007f""#),
            ("café", r#""caf\u00e9""#),
            ("—", r#""\u2014""#),
            ("😀", r#""\ud83d\ude00""#),
        ];
        for &(input, expected) in cases {
            assert_eq!(dumps(&json!(input), None), expected, "{input:?}");
        }
    }

    #[test]
    fn layout_matches_python_with_and_without_indent() {
        let value = json!({"a": [1, 2.5, {"b": null}], "c": {}, "d": [], "e": true, "f": -3});
        assert_eq!(
            dumps(&value, None),
            r#"{"a": [1, 2.5, {"b": null}], "c": {}, "d": [], "e": true, "f": -3}"#
        );
        let expected = "{\n  \"a\": [\n    1,\n    2.5,\n    {\n      \"b\": null\n    }\n  ],\n  \
                        \"c\": {},\n  \"d\": [],\n  \"e\": true,\n  \"f\": -3\n}";
        assert_eq!(dumps(&value, Some(2)), expected);
        assert_eq!(dumps(&json!([]), Some(2)), "[]");
        assert_eq!(
            dumps_compact(&value),
            r#"{"a":[1,2.5,{"b":null}],"c":{},"d":[],"e":true,"f":-3}"#
        );
        assert_eq!(dumps(&json!(u64::MAX), Some(2)), "18446744073709551615");
    }
}
