//! Plain-scalar resolution (YAML 1.2 core schema) and the scalars YAML 1.1 reads differently.

use super::Value;

/// Resolve a plain scalar by the YAML 1.2 core schema.
pub(super) fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(value) = resolve_int(text) {
        return value;
    }
    if is_core_float(text) {
        if let Ok(value) = text.parse::<f64>() {
            return Value::Float(value);
        }
    }
    Value::String(text.to_owned())
}

fn resolve_int(text: &str) -> Option<Value> {
    // ruamel.yaml (Meltano's run-time reader) also reads `1_000` and `0b101` as integers.
    if let Some(binary) = text.strip_prefix("0b") {
        let digits = binary.replace('_', "");
        return (!digits.is_empty() && digits.bytes().all(|b| b == b'0' || b == b'1')).then(|| {
            i64::from_str_radix(&digits, 2)
                .map_or_else(|_| Value::String(text.to_owned()), Value::Int)
        });
    }
    let (digits, radix) = if let Some(octal) = text.strip_prefix("0o") {
        (octal, 8)
    } else if let Some(hex) = text.strip_prefix("0x") {
        (hex, 16)
    } else {
        let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
        let starts_with_digit = unsigned.bytes().next().is_some_and(|b| b.is_ascii_digit());
        if !starts_with_digit || !unsigned.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
            return None;
        }
        let text = text.replace('_', "");
        return Some(match text.parse::<i64>() {
            Ok(value) => Value::Int(value),
            Err(_) => Value::Float(text.parse::<f64>().unwrap_or(f64::NAN)),
        });
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    Some(
        i64::from_str_radix(digits, radix)
            .map_or_else(|_| Value::String(text.to_owned()), Value::Int),
    )
}

/// `[-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`
fn is_core_float(text: &str) -> bool {
    let rest = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(index) => (&rest[..index], Some(&rest[index + 1..])),
        None => (rest, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, fraction)) => {
            whole.bytes().all(|b| b.is_ascii_digit())
                && fraction.bytes().all(|b| b.is_ascii_digit())
                && (!whole.is_empty() || !fraction.is_empty())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|b| b.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(|exponent| {
        let digits = exponent.strip_prefix(['-', '+']).unwrap_or(exponent);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

/// A plain scalar that Meltano's run time (YAML 1.2) and `meltano compile` (YAML 1.1) read
/// differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ambiguity {
    /// `yes`, `No`, `on`, `OFF`…: a string at run time, a boolean in YAML 1.1.
    Bool,
    /// `017` (17 vs 15), `0o17` (15 vs a string), `1:30` (sexagesimal 90 in 1.1).
    Number,
    /// `2024-01-02` or `2024-01-02 03:04:05`: a date object at run time, turned into an ISO
    /// string when used as a setting value ([`super::Timestamp`]).
    Date,
}

/// Whether a plain scalar's text is read differently by YAML 1.1 and 1.2.
#[must_use]
pub fn ambiguity(text: &str) -> Option<Ambiguity> {
    const YAML11_BOOLS: &[&str] = &[
        "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
    ];
    if YAML11_BOOLS.contains(&text) {
        return Some(Ambiguity::Bool);
    }
    if super::Timestamp::resolve(text).is_some() {
        return Some(Ambiguity::Date);
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let leading_zero_decimal = unsigned.len() > 1
        && unsigned.starts_with('0')
        && unsigned.bytes().all(|b| b.is_ascii_digit());
    let octal_12 = unsigned
        .strip_prefix("0o")
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| (b'0'..=b'7').contains(&b)));
    let sexagesimal = is_sexagesimal(unsigned);
    (leading_zero_decimal || octal_12 || sexagesimal).then_some(Ambiguity::Number)
}

/// YAML 1.1 sexagesimal integer: `[1-9][0-9_]*(:[0-5]?[0-9])+`.
fn is_sexagesimal(text: &str) -> bool {
    let mut parts = text.split(':');
    let Some(first) = parts.next() else {
        return false;
    };
    let first_ok = first
        .bytes()
        .next()
        .is_some_and(|b| (b'1'..=b'9').contains(&b))
        && first.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    let mut rest = parts.peekable();
    first_ok
        && rest.peek().is_some()
        && rest.all(|part| {
            (1..=2).contains(&part.len())
                && part.bytes().all(|b| b.is_ascii_digit())
                && (part.len() == 1 || part.as_bytes()[0] <= b'5')
        })
}

#[cfg(test)]
mod tests {
    use super::{Ambiguity, Value, ambiguity, resolve_plain};

    #[test]
    fn core_schema_resolution() {
        assert_eq!(resolve_plain("yes"), Value::String("yes".into()));
        assert_eq!(resolve_plain("017"), Value::Int(17));
        assert_eq!(resolve_plain("0o17"), Value::Int(15));
        assert_eq!(resolve_plain("0x1F"), Value::Int(31));
        assert_eq!(resolve_plain("-5"), Value::Int(-5));
        assert_eq!(resolve_plain("1.5e3"), Value::Float(1500.0));
        assert_eq!(resolve_plain(".5"), Value::Float(0.5));
        assert_eq!(resolve_plain("True"), Value::Bool(true));
        assert_eq!(resolve_plain("~"), Value::Null);
        assert_eq!(
            resolve_plain("2024-01-02"),
            Value::String("2024-01-02".into())
        );
        assert_eq!(resolve_plain("1_000"), Value::Int(1000));
        assert_eq!(resolve_plain("0b101"), Value::Int(5));
        assert_eq!(resolve_plain("5432"), Value::Int(5432));
        assert_eq!(resolve_plain("1e"), Value::String("1e".into()));
        assert!(matches!(
            resolve_plain("99999999999999999999"),
            Value::Float(_)
        ));
    }

    #[test]
    fn yaml_11_differences() {
        for text in ["yes", "No", "ON", "off"] {
            assert_eq!(ambiguity(text), Some(Ambiguity::Bool), "{text}");
        }
        for text in ["017", "0o17", "1:30", "-012"] {
            assert_eq!(ambiguity(text), Some(Ambiguity::Number), "{text}");
        }
        for text in [
            "2024-01-02",
            "2024-01-02 03:04:05",
            "2020-08-05T00:00:00Z",
            "2001-12-14t21:59:43.10-05:00",
        ] {
            assert_eq!(ambiguity(text), Some(Ambiguity::Date), "{text}");
        }
        for text in [
            "0",
            "1_000",
            "10",
            "true",
            "y",
            "n",
            "0.5",
            "2024-1-2x",
            "12:345",
            "abc",
            "2024-01",
            "v1.2.3",
        ] {
            assert_eq!(ambiguity(text), None, "{text}");
        }
    }
}
