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
    /// string (`2024-01-02T03:04:05`) when used as a setting value.
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
    if is_timestamp(text) {
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

/// A plain scalar that Meltano's run time reads as a date or timestamp, as the ISO text Python's
/// `isoformat()` gives it when the value becomes a setting (`2024-01-02 03:04:05` ->
/// `2024-01-02T03:04:05`, `...43.10-05:00` -> `...43.100000-05:00`, `Z` -> `+00:00`), following
/// ruamel.yaml's timestamp grammar. `None` for anything else, including impossible dates
/// (which Meltano fails to load).
#[must_use]
pub fn timestamp_iso(text: &str) -> Option<String> {
    let number = |part: &str, min: usize, max: usize| -> Option<u32> {
        ((min..=max).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse().ok())
            .flatten()
    };
    let (year, rest) = (text.get(..4)?, text.get(4..)?);
    let year = number(year, 4, 4)?;
    let rest = rest.strip_prefix('-')?;
    let (month, rest) = rest.split_once('-')?;
    let month_digits = month.len();
    let month = number(month, 1, 2)?;
    let day_length = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (day, time) = rest.split_at(day_length);
    let day_digits = day.len();
    let day = number(day, 1, 2)?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let date = format!("{year:04}-{month:02}-{day:02}");
    if time.is_empty() {
        return (month_digits == 2 && day_digits == 2).then_some(date);
    }
    let time = match time.strip_prefix(['T', 't']) {
        Some(time) => time,
        None if time.starts_with([' ', '\t']) => time.trim_start_matches([' ', '\t']),
        None => return None,
    };
    let (hour, time) = time.split_once(':')?;
    let hour = number(hour, 1, 2)?;
    let (minute, time) = (time.get(..2)?, time.get(2..)?);
    let minute = number(minute, 2, 2)?;
    let time = time.strip_prefix(':')?;
    let (second, mut time) = (time.get(..2)?, time.get(2..)?);
    let second = number(second, 2, 2)?;
    let mut micros = 0;
    if let Some(fraction) = time.strip_prefix('.') {
        let length = fraction.bytes().take_while(u8::is_ascii_digit).count();
        let digits: String = fraction[..length]
            .chars()
            .chain("000000".chars())
            .take(6)
            .collect();
        micros = digits.parse::<u32>().ok()?;
        time = &fraction[length..];
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let zone = timezone(time.trim_start_matches([' ', '\t']))?;
    let fraction = if micros == 0 {
        String::new()
    } else {
        format!(".{micros:06}")
    };
    Some(format!(
        "{date}T{hour:02}:{minute:02}:{second:02}{fraction}{zone}"
    ))
}

/// The `+HH:MM` suffix of a timestamp's zone (`Z`, `-5`, `+01:30`), empty without one.
fn timezone(zone: &str) -> Option<String> {
    if zone.is_empty() {
        return Some(String::new());
    }
    if zone == "Z" {
        return Some("+00:00".to_owned());
    }
    let (sign, zone) = zone.split_at_checked(1)?;
    if sign != "+" && sign != "-" {
        return None;
    }
    let (hours, minutes) = zone.split_once(':').unwrap_or((zone, "00"));
    let valid = |part: &str, min: usize| {
        (min..=2).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit())
    };
    if !valid(hours, 1) || !valid(minutes, 2) {
        return None;
    }
    let hours: u32 = hours.parse().ok()?;
    Some(format!("{sign}{hours:02}:{minutes}"))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
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

/// YAML 1.1 timestamp: `YYYY-MM-DD`, or `YYYY-M-D` followed by a time part (`T`, `t` or
/// spaces, then `H:MM`…), as PyYAML's resolver reads it.
fn is_timestamp(text: &str) -> bool {
    fn digits(text: &str, min: usize, max: usize) -> Option<(&str, &str)> {
        let count = text.bytes().take_while(u8::is_ascii_digit).count();
        (min..=max).contains(&count).then(|| text.split_at(count))
    }
    let Some((_, rest)) = digits(text, 4, 4) else {
        return false;
    };
    let Some(rest) = rest.strip_prefix('-') else {
        return false;
    };
    let Some((month, rest)) = digits(rest, 1, 2) else {
        return false;
    };
    let Some(rest) = rest.strip_prefix('-') else {
        return false;
    };
    let Some((day, time)) = digits(rest, 1, 2) else {
        return false;
    };
    if time.is_empty() {
        return month.len() == 2 && day.len() == 2;
    }
    let time = match time.strip_prefix(['T', 't']) {
        Some(time) => time,
        None if time.starts_with([' ', '\t']) => time.trim_start_matches([' ', '\t']),
        None => return false,
    };
    digits(time, 1, 2).is_some_and(|(_, rest)| rest.starts_with(':'))
}

#[cfg(test)]
mod tests {
    use super::{Ambiguity, Value, ambiguity, resolve_plain};

    #[test]
    fn timestamps_become_python_isoformat() {
        let cases = [
            ("2022-12-08", Some("2022-12-08")),
            ("2024-01-02 03:04:05", Some("2024-01-02T03:04:05")),
            (
                "2001-12-14t21:59:43.10-05:00",
                Some("2001-12-14T21:59:43.100000-05:00"),
            ),
            ("2024-01-02T03:04:05Z", Some("2024-01-02T03:04:05+00:00")),
            ("2024-1-2 3:04:05", Some("2024-01-02T03:04:05")),
            ("2024-01-02T03:04:05.000", Some("2024-01-02T03:04:05")),
            (
                "2024-01-02 03:04:05 +01:00",
                Some("2024-01-02T03:04:05+01:00"),
            ),
            ("2024-1-2", None),
            ("2024-02-30", None),
            ("20240102", None),
            ("2024-01-02x", None),
            ("2024-01-02 3:4:05", None),
        ];
        for (text, expected) in cases {
            assert_eq!(super::timestamp_iso(text).as_deref(), expected, "{text}");
        }
    }

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
