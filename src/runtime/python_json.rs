//! JSON text exactly as Python's `json.dumps` writes it (`ensure_ascii=True`).
//!
//! Meltano hashes `json.dumps(...)` for its catalog cache key and writes catalog and config
//! files with `json.dumps(..., indent=2)`; writing the same bytes keeps the key equal and the
//! files diffable against Meltano's. Differences from `serde_json`: `", "` and `": "` separators
//! on one line, every non-ASCII character as `\uXXXX` (surrogate pairs above U+FFFF), floats
//! as Python's `repr` (`1e+16`, `1.5e-05`, `100.0`).

use std::fmt::Write as _;

use serde_json::{Number, Value};

/// `json.dumps(value)` (`indent=None`) or `json.dumps(value, indent=n)`.
pub fn dumps(value: &Value, indent: Option<usize>) -> String {
    let mut out = String::new();
    write_value(&mut out, value, indent, 0);
    out
}

fn write_value(out: &mut String, value: &Value, indent: Option<usize>, depth: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => write_number(out, number),
        Value::String(text) => write_string(out, text),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                separator(out, index, indent, depth + 1);
                write_value(out, item, indent, depth + 1);
            }
            close(out, indent, depth, ']');
        }
        Value::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (index, (key, item)) in map.iter().enumerate() {
                separator(out, index, indent, depth + 1);
                write_string(out, key);
                out.push_str(": ");
                write_value(out, item, indent, depth + 1);
            }
            close(out, indent, depth, '}');
        }
    }
}

/// Before the item at `index`: `, ` on one line, or `,` + newline + indentation.
fn separator(out: &mut String, index: usize, indent: Option<usize>, depth: usize) {
    match indent {
        None if index > 0 => out.push_str(", "),
        None => {}
        Some(width) => {
            if index > 0 {
                out.push(',');
            }
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', width * depth));
        }
    }
}

fn close(out: &mut String, indent: Option<usize>, depth: usize, bracket: char) {
    if let Some(width) = indent {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', width * depth));
    }
    out.push(bracket);
}

fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0_u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

fn write_number(out: &mut String, number: &Number) {
    match number.as_f64() {
        Some(float) if number.is_f64() => out.push_str(&python_float_repr(float)),
        _ => out.push_str(&number.to_string()),
    }
}

/// Python's `repr(float)`: the shortest digits that round-trip, positional for decimal
/// exponents in `-4..16`, else `d.ddde±XX`.
fn python_float_repr(value: f64) -> String {
    if !value.is_finite() {
        // JSON has no such numbers; `serde_json` never holds one.
        return "NaN".to_owned();
    }
    // `{:e}` gives the shortest round-trip digits: `-1.2345e-7`, `1e16`, `0e0`.
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if (-4..16).contains(&exponent) {
        let point = usize::try_from(exponent + 1).unwrap_or(0);
        let text = if exponent < 0 {
            let zeros = "0".repeat(usize::try_from(-exponent - 1).unwrap_or(0));
            format!("0.{zeros}{digits}")
        } else if digits.len() > point {
            format!("{}.{}", &digits[..point], &digits[point..])
        } else {
            format!("{digits}{}.0", "0".repeat(point - digits.len()))
        };
        format!("{sign}{text}")
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_like_python() {
        for (value, expected) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (1.5, "1.5"),
            (100.0, "100.0"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.2345678901234568e17, "1.2345678901234568e+17"),
            (1e100, "1e+100"),
            (-2.5e-300, "-2.5e-300"),
            (123.456, "123.456"),
        ] {
            assert_eq!(python_float_repr(value), expected, "{value}");
        }
    }

    #[test]
    fn dumps_like_python() {
        let value =
            json!({"a": [1, 2.0, "é\u{1F600}\n\u{7f}"], "b": {}, "c": [], "d": null, "e": true});
        assert_eq!(
            dumps(&value, None),
            r#"{"a": [1, 2.0, "\u00e9\ud83d\ude00\n\u007f"], "b": {}, "c": [], "d": null, "e": true}"#
        );
        assert_eq!(
            dumps(&json!({"a": [1, {"b": []}]}), Some(2)),
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": []\n    }\n  ]\n}"
        );
    }
}
