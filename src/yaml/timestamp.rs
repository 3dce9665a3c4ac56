//! Unquoted timestamps as Meltano's YAML reader loads them, and the text each becomes.
//!
//! ruamel.yaml (Meltano's run-time reader) resolves a plain scalar that matches its timestamp
//! pattern (`resolver.py`: `YYYY-MM-DD`, or `YYYY-M-D` then `T`/`t`/spaces, `H:MM:SS`, an
//! optional `.fraction`, optional spaces and a `Z` or `±H[:MM]` zone) to a Python object:
//!
//! - a date only: a `datetime.date`;
//! - a `T`/`t` separator or a signed zone: ruamel's own `TimeStamp` (a `datetime` subclass,
//!   `constructor.py` `RoundTripConstructor.construct_yaml_timestamp`);
//! - otherwise (spaces, and no zone or `Z`): a plain `datetime`.
//!
//! `util.py` `create_timestamp` keeps six fraction digits, rounding on the seventh (a carry
//! past `.999999` adds a second), and fails on an impossible date, time or zone, which stops
//! Meltano from loading the project at all.
//!
//! Which text reaches the plugin depends on the path the value takes through Meltano
//! (measured with Meltano 4.4.1, `tests/timestamps_meltano.rs`):
//!
//! - [`Rendering::Copied`]: values under `config:` are deep-copied before they are cast
//!   (`settings_store.py` `MeltanoYmlStoreManager.get`, `environment.py`), and
//!   `TimeStamp.__deepcopy__` keeps only year to second: `2021-03-04T05:06:07.5Z` reaches the
//!   plugin as `2021-03-04T05:06:07`. A plain `datetime` or `date` is copied whole.
//! - [`Rendering::Loaded`]: a setting's `value:` default is cast as loaded
//!   (`setting_definition.py` `cast_value` calls `isoformat()`): `2021-03-04T05:06:07.500000+00:00`.
//! - [`Rendering::Str`]: the project's `env:` values are passed through Python's `str()`:
//!   `TimeStamp.__str__` writes `T` only when the text had one, a plain `datetime` a space.

use std::fmt::Write as _;

/// A timestamp as ruamel.yaml constructs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timestamp {
    date: Date,
    time: Option<Time>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Date {
    year: u32,
    month: u32,
    day: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Time {
    hour: u32,
    minute: u32,
    second: u32,
    microsecond: u32,
    /// The UTC offset in minutes (`Z` is 0); `None` without a zone.
    offset: Option<i32>,
    /// Python type: ruamel's `TimeStamp` (a `T` separator or a signed zone), else `datetime`.
    stamp: bool,
    /// The text had a `T`/`t` separator (what `TimeStamp.__str__` writes back).
    t_separator: bool,
}

/// How a loaded timestamp becomes text on its way to the plugin (module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rendering {
    /// `copy.deepcopy`, then `isoformat()`: a `TimeStamp` loses its fraction and zone.
    Copied,
    /// `isoformat()` of the object as loaded.
    Loaded,
    /// Python's `str()` of the object as loaded.
    Str,
}

/// Why ruamel.yaml cannot construct a timestamp its pattern matched (Meltano then fails to
/// load the project with this `ValueError`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    /// Python's `datetime` messages, as Meltano shows them.
    #[error("{0}")]
    OutOfRange(&'static str),
}

impl Timestamp {
    /// The timestamp a plain scalar resolves to: `None` when the text is not one (it stays a
    /// string), `Some(Err)` when it is one that cannot be constructed.
    #[must_use]
    pub fn resolve(text: &str) -> Option<Result<Timestamp, TimestampError>> {
        let parts = Parts::read(text)?;
        Some(parts.construct())
    }

    /// The text the plugin receives through `rendering`.
    #[must_use]
    pub fn render(&self, rendering: Rendering) -> String {
        let mut out = format!(
            "{:04}-{:02}-{:02}",
            self.date.year, self.date.month, self.date.day
        );
        let Some(time) = self.time else {
            return out;
        };
        let copied_stamp = rendering == Rendering::Copied && time.stamp;
        let separator = match rendering {
            Rendering::Str if !time.t_separator => ' ',
            _ => 'T',
        };
        let _ = write!(
            out,
            "{separator}{:02}:{:02}:{:02}",
            time.hour, time.minute, time.second
        );
        if copied_stamp {
            return out;
        }
        if time.microsecond != 0 {
            let _ = write!(out, ".{:06}", time.microsecond);
        }
        if let Some(offset) = time.offset {
            let sign = if offset < 0 { '-' } else { '+' };
            let minutes = offset.unsigned_abs();
            let _ = write!(out, "{sign}{:02}:{:02}", minutes / 60, minutes % 60);
        }
        out
    }
}

/// The groups of ruamel.yaml's timestamp pattern (`util.py` `timestamp_regexp`).
struct Parts<'a> {
    year: &'a str,
    month: &'a str,
    day: &'a str,
    time: Option<TimeParts<'a>>,
}

struct TimeParts<'a> {
    t_separator: bool,
    hour: &'a str,
    minute: &'a str,
    second: &'a str,
    fraction: Option<&'a str>,
    zone: Option<Zone<'a>>,
}

enum Zone<'a> {
    Utc,
    Offset {
        negative: bool,
        hours: &'a str,
        minutes: Option<&'a str>,
    },
}

/// Leading ASCII digits of `text`, between `min` and `max` of them, and the rest.
fn digits(text: &str, min: usize, max: usize) -> Option<(&str, &str)> {
    let count = text.bytes().take_while(u8::is_ascii_digit).count();
    (min..=max).contains(&count).then(|| text.split_at(count))
}

fn skip_blanks(text: &str) -> &str {
    text.trim_start_matches([' ', '\t'])
}

impl<'a> Parts<'a> {
    /// Match the resolver's pattern (`resolver.py`): a date alone needs two-digit month and
    /// day; with a time, one digit is enough.
    fn read(text: &'a str) -> Option<Self> {
        let (year, rest) = digits(text, 4, 4)?;
        let (month, rest) = digits(rest.strip_prefix('-')?, 1, 2)?;
        let (day, rest) = digits(rest.strip_prefix('-')?, 1, 2)?;
        if rest.is_empty() {
            return (month.len() == 2 && day.len() == 2).then_some(Parts {
                year,
                month,
                day,
                time: None,
            });
        }
        let time = TimeParts::read(rest)?;
        Some(Parts {
            year,
            month,
            day,
            time: Some(time),
        })
    }

    fn construct(&self) -> Result<Timestamp, TimestampError> {
        let date = || Date::new(number(self.year), number(self.month), number(self.day));
        match &self.time {
            None => Ok(Timestamp {
                date: date()?,
                time: None,
            }),
            Some(parts) => parts.construct(date),
        }
    }
}

impl<'a> TimeParts<'a> {
    fn read(text: &'a str) -> Option<Self> {
        let (t_separator, rest) = match text.strip_prefix(['T', 't']) {
            Some(rest) => (true, rest),
            None if text.starts_with([' ', '\t']) => (false, skip_blanks(text)),
            None => return None,
        };
        let (hour, rest) = digits(rest, 1, 2)?;
        let (minute, rest) = digits(rest.strip_prefix(':')?, 2, 2)?;
        let (second, mut rest) = digits(rest.strip_prefix(':')?, 2, 2)?;
        let mut fraction = None;
        if let Some(after_dot) = rest.strip_prefix('.') {
            let (digits, after) = digits(after_dot, 0, usize::MAX)?;
            fraction = Some(digits);
            rest = after;
        }
        let zone_text = skip_blanks(rest);
        let zone = if zone_text.is_empty() {
            // Blanks with no zone after them do not match (`$` follows the zone group).
            if !rest.is_empty() {
                return None;
            }
            None
        } else {
            Some(Zone::read(zone_text)?)
        };
        Some(TimeParts {
            t_separator,
            hour,
            minute,
            second,
            fraction,
            zone,
        })
    }

    /// `create_timestamp`, then the round-trip constructor's choice of type.
    /// In Python's order: the zone, then the date, then the time of day.
    fn construct(
        &self,
        date: impl Fn() -> Result<Date, TimestampError>,
    ) -> Result<Timestamp, TimestampError> {
        let (microsecond, carry) = microseconds(self.fraction.unwrap_or(""));
        let offset = match &self.zone {
            None => None,
            Some(Zone::Utc) => Some(0),
            Some(Zone::Offset {
                negative,
                hours,
                minutes,
            }) => {
                let minutes = i32::try_from(number(hours) * 60 + minutes.map_or(0, number))
                    .unwrap_or(i32::MAX);
                if minutes >= 24 * 60 {
                    return Err(TimestampError::OutOfRange(
                        "the zone's offset must be less than 24 hours",
                    ));
                }
                Some(if *negative { -minutes } else { minutes })
            }
        };
        let mut date = date()?;
        let (hour, minute, second) = (number(self.hour), number(self.minute), number(self.second));
        if hour > 23 {
            return Err(TimestampError::OutOfRange("hour must be in 0..23"));
        }
        if minute > 59 {
            return Err(TimestampError::OutOfRange("minute must be in 0..59"));
        }
        if second > 59 {
            return Err(TimestampError::OutOfRange("second must be in 0..59"));
        }
        let mut time = Time {
            hour,
            minute,
            second,
            microsecond,
            offset,
            stamp: self.t_separator || matches!(self.zone, Some(Zone::Offset { .. })),
            t_separator: self.t_separator,
        };
        if carry {
            date = time.add_second(date)?;
        }
        Ok(Timestamp {
            date,
            time: Some(time),
        })
    }
}

impl<'a> Zone<'a> {
    fn read(text: &'a str) -> Option<Self> {
        if text == "Z" {
            return Some(Zone::Utc);
        }
        let (sign, rest) = text.split_at_checked(1)?;
        let negative = match sign {
            "+" => false,
            "-" => true,
            _ => return None,
        };
        let (hours, rest) = digits(rest, 1, 2)?;
        if rest.is_empty() {
            return Some(Zone::Offset {
                negative,
                hours,
                minutes: None,
            });
        }
        let (minutes, rest) = digits(rest.strip_prefix(':')?, 2, 2)?;
        rest.is_empty().then_some(Zone::Offset {
            negative,
            hours,
            minutes: Some(minutes),
        })
    }
}

/// Six digits of `fraction` padded with zeros, plus one when the seventh is 5 or more; a
/// result of a whole second is zero with a carry (`create_timestamp`).
fn microseconds(fraction: &str) -> (u32, bool) {
    if fraction.is_empty() {
        return (0, false);
    }
    let six: String = fraction.chars().chain("000000".chars()).take(6).collect();
    let mut micro = number(&six);
    if fraction
        .as_bytes()
        .get(6)
        .is_some_and(|digit| *digit >= b'5')
    {
        micro += 1;
    }
    if micro > 999_999 {
        (0, true)
    } else {
        (micro, false)
    }
}

/// Decimal digits as a number (the callers matched them already).
fn number(text: &str) -> u32 {
    text.bytes().fold(0u32, |value, digit| {
        value
            .saturating_mul(10)
            .saturating_add(u32::from(digit - b'0'))
    })
}

impl Date {
    fn new(year: u32, month: u32, day: u32) -> Result<Date, TimestampError> {
        if !(1..=9999).contains(&year) {
            return Err(TimestampError::OutOfRange("year 0 is out of range"));
        }
        if !(1..=12).contains(&month) {
            return Err(TimestampError::OutOfRange("month must be in 1..12"));
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(TimestampError::OutOfRange("day is out of range for month"));
        }
        Ok(Date { year, month, day })
    }

    fn next_day(self) -> Result<Date, TimestampError> {
        if self.day < days_in_month(self.year, self.month) {
            return Ok(Date {
                day: self.day + 1,
                ..self
            });
        }
        if self.month < 12 {
            return Ok(Date {
                month: self.month + 1,
                day: 1,
                ..self
            });
        }
        if self.year == 9999 {
            return Err(TimestampError::OutOfRange("date value out of range"));
        }
        Ok(Date {
            year: self.year + 1,
            month: 1,
            day: 1,
        })
    }
}

impl Time {
    /// `data -= delta` with a delta of minus one second; returns the (maybe next) date.
    fn add_second(&mut self, date: Date) -> Result<Date, TimestampError> {
        self.second += 1;
        if self.second < 60 {
            return Ok(date);
        }
        self.second = 0;
        self.minute += 1;
        if self.minute < 60 {
            return Ok(date);
        }
        self.minute = 0;
        self.hour += 1;
        if self.hour < 24 {
            return Ok(date);
        }
        self.hour = 0;
        date.next_day()
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::{Rendering, Timestamp, TimestampError};

    /// (text, copied, loaded, str) as Meltano 4.4.1 gives them; tests/timestamps_meltano.rs
    /// checks the same shapes against the real Meltano.
    #[test]
    fn renderings_follow_ruamel_and_python() {
        let cases = [
            ("2021-03-04", "2021-03-04", "2021-03-04", "2021-03-04"),
            (
                "2021-03-04T05:06:07Z",
                "2021-03-04T05:06:07",
                "2021-03-04T05:06:07+00:00",
                "2021-03-04T05:06:07+00:00",
            ),
            (
                "2021-03-04 05:06:07Z",
                "2021-03-04T05:06:07+00:00",
                "2021-03-04T05:06:07+00:00",
                "2021-03-04 05:06:07+00:00",
            ),
            (
                "2021-03-04 05:06:07.5",
                "2021-03-04T05:06:07.500000",
                "2021-03-04T05:06:07.500000",
                "2021-03-04 05:06:07.500000",
            ),
            (
                "2021-03-04 05:06:07.25 -03:30",
                "2021-03-04T05:06:07",
                "2021-03-04T05:06:07.250000-03:30",
                "2021-03-04 05:06:07.250000-03:30",
            ),
            (
                "2021-03-04t05:06:07-00:00",
                "2021-03-04T05:06:07",
                "2021-03-04T05:06:07+00:00",
                "2021-03-04T05:06:07+00:00",
            ),
            (
                "2021-3-4 5:06:07",
                "2021-03-04T05:06:07",
                "2021-03-04T05:06:07",
                "2021-03-04 05:06:07",
            ),
            (
                "2021-12-31T23:59:59.9999995",
                "2022-01-01T00:00:00",
                "2022-01-01T00:00:00",
                "2022-01-01T00:00:00",
            ),
            (
                "2021-03-04T05:06:07.0000005+01:99",
                "2021-03-04T05:06:07",
                "2021-03-04T05:06:07.000001+02:39",
                "2021-03-04T05:06:07.000001+02:39",
            ),
            (
                "2021-03-04   05:06:07   Z",
                "2021-03-04T05:06:07+00:00",
                "2021-03-04T05:06:07+00:00",
                "2021-03-04 05:06:07+00:00",
            ),
            (
                "2021-03-04T05:06:07.",
                "2021-03-04T05:06:07",
                "2021-03-04T05:06:07",
                "2021-03-04T05:06:07",
            ),
        ];
        for (text, copied, loaded, str_) in cases {
            let timestamp = Timestamp::resolve(text).unwrap().unwrap();
            assert_eq!(timestamp.render(Rendering::Copied), copied, "{text}");
            assert_eq!(timestamp.render(Rendering::Loaded), loaded, "{text}");
            assert_eq!(timestamp.render(Rendering::Str), str_, "{text}");
        }
    }

    #[test]
    fn texts_that_stay_strings() {
        for text in [
            "2021-3-4",
            "20210304",
            "2021-03-04x",
            "2021-03-04T05:06:07z",
            "2021-03-04T05:06:07+0100",
            "2021-03-04T5:6:07",
            "2021-03-04T05:06",
            "2021-03-04 ",
            "2021-03-04T05:06:07 ",
            "2021-03-04T05:06:07+",
            "v2021-03-04",
            "2021-03-04T05:06:07.5.6",
        ] {
            assert_eq!(Timestamp::resolve(text), None, "{text}");
        }
    }

    #[test]
    fn impossible_timestamps_fail_like_python() {
        for (text, message) in [
            ("2024-02-30", "day is out of range for month"),
            ("2023-02-29 00:00:00", "day is out of range for month"),
            ("2021-13-01", "month must be in 1..12"),
            ("0000-01-01", "year 0 is out of range"),
            ("2021-03-04T24:00:00", "hour must be in 0..23"),
            ("2021-03-04T05:60:00", "minute must be in 0..59"),
            ("2021-03-04T05:06:60", "second must be in 0..59"),
            (
                "2021-03-04T05:06:07+24",
                "the zone's offset must be less than 24 hours",
            ),
            ("9999-12-31T23:59:59.9999999", "date value out of range"),
        ] {
            assert_eq!(
                Timestamp::resolve(text),
                Some(Err(TimestampError::OutOfRange(message))),
                "{text}"
            );
        }
        assert!(Timestamp::resolve("2024-02-29").unwrap().is_ok());
    }
}
