//! croniter 6.0.0's reading of an expression (`croniter.py` `croniter._expand`): what it
//! accepts, and the values each field stands for. croniter is what runs Meltano schedules in
//! the orchestrators that read `meltano schedule list` (Airflow, Dagster, which vendors
//! croniter 6.0.0); Meltano itself accepts any `interval:` when it loads a project.
//!
//! Fields by position: minute, hour, day of month, month, day of week, then an optional
//! second and an optional year (croniter's default, `second_at_beginning=False`). The whole
//! expression is lower-cased first; each field is a comma list of `*`, `?` (day fields
//! only), `n`, `a-b` (a range that wraps when `a > b`, the whole cycle when `a == b`),
//! `x/step`, names (`jan`, `mon`), `l` (last day of the month), `w#n` (the n-th weekday `w`),
//! `ln` (the last weekday `n` of the month) and `r` (a random value, croniter's `R`).

use std::collections::{BTreeMap, BTreeSet};

/// One field of an expression, as croniter reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The field's position.
    pub kind: FieldKind,
    /// The text as written (case kept).
    pub written: String,
    /// `*` or `?` (nothing restricts it).
    pub any: bool,
    /// The values it stands for (empty when `any`).
    pub values: BTreeSet<u32>,
    /// `L` in the day of month: the month's last day.
    pub last_day: bool,
    /// Day of week: `w#n` and `Ln` (weekday -> the n-th, or `None` for the last).
    pub nth: BTreeMap<u32, BTreeSet<Option<u32>>>,
    /// croniter's `R`: a random value each time croniter reads the expression.
    pub random: bool,
}

/// Where a field is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// Minute (0-59).
    Minute,
    /// Hour (0-23).
    Hour,
    /// Day of month (1-31).
    DayOfMonth,
    /// Month (1-12).
    Month,
    /// Day of week (0-6, Sunday 0).
    DayOfWeek,
    /// Second (0-59), croniter's sixth field.
    Second,
    /// Year (1970-2099), croniter's seventh field.
    Year,
}

impl FieldKind {
    const ORDER: [FieldKind; 7] = [
        FieldKind::Minute,
        FieldKind::Hour,
        FieldKind::DayOfMonth,
        FieldKind::Month,
        FieldKind::DayOfWeek,
        FieldKind::Second,
        FieldKind::Year,
    ];

    /// The field's name in messages.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            FieldKind::Minute => "minute",
            FieldKind::Hour => "hour",
            FieldKind::DayOfMonth => "day-of-month",
            FieldKind::Month => "month",
            FieldKind::DayOfWeek => "day-of-week",
            FieldKind::Second => "second",
            FieldKind::Year => "year",
        }
    }

    /// croniter's `RANGES`.
    #[must_use]
    pub fn range(self) -> (u32, u32) {
        match self {
            FieldKind::Minute | FieldKind::Second => (0, 59),
            FieldKind::Hour => (0, 23),
            FieldKind::DayOfMonth => (1, 31),
            FieldKind::Month => (1, 12),
            FieldKind::DayOfWeek => (0, 6),
            FieldKind::Year => (1970, 2099),
        }
    }

    fn names(self) -> &'static [&'static str] {
        match self {
            FieldKind::Month => &[
                "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
            ],
            FieldKind::DayOfWeek => &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
            _ => &[],
        }
    }

    /// A name's number (`ALPHACONV`): months from 1, weekdays from 0.
    fn alpha(self, text: &str) -> Option<u32> {
        let position = self.names().iter().position(|name| *name == text)?;
        let position = u32::try_from(position).ok()?;
        Some(if self == FieldKind::Month {
            position + 1
        } else {
            position
        })
    }

    /// croniter's `value_alias` (`LOWMAP`): day of week 7 is 0 with five fields; day of month
    /// 0 is 1 with six.
    fn alias(self, value: u32, field_count: usize) -> u32 {
        match (self, value, field_count) {
            (FieldKind::DayOfWeek, 7, 5) | (FieldKind::DayOfMonth, 0, 6) => {
                if self == FieldKind::DayOfWeek { 0 } else { 1 }
            }
            _ => value,
        }
    }
}

/// The fields of an expression croniter accepts, or why it does not (never quoting the
/// expression lower-cased).
///
/// # Errors
/// What croniter refuses, naming the field as written.
pub fn parse(expression: &str) -> Result<Vec<Field>, String> {
    let written: Vec<&str> = expression.split_whitespace().collect();
    if !(5..=7).contains(&written.len()) {
        return Err(format!(
            "expected 5 fields (6 with seconds, 7 with a year), found {}",
            written.len()
        ));
    }
    let count = written.len();
    let fields: Vec<Field> = written
        .iter()
        .zip(FieldKind::ORDER)
        .map(|(text, kind)| {
            field(kind, text, count)
                .map_err(|why| format!("the {} field `{text}` {why}", kind.name()))
        })
        .collect::<Result<_, _>>()?;
    let weekdays = &fields[4];
    let plain: Vec<&u32> = weekdays
        .values
        .iter()
        .filter(|value| !weekdays.nth.contains_key(value))
        .collect();
    if !weekdays.nth.is_empty() && !plain.is_empty() && weekdays.values.len() != 7 {
        return Err(format!(
            "the day-of-week field `{}` mixes plain weekdays with `#` or `L` weekdays, which croniter refuses",
            weekdays.written
        ));
    }
    Ok(fields)
}

fn field(kind: FieldKind, written: &str, count: usize) -> Result<Field, String> {
    let text = written.to_lowercase();
    let mut field = Field {
        kind,
        written: written.to_owned(),
        any: false,
        values: BTreeSet::new(),
        last_day: false,
        nth: BTreeMap::new(),
        random: false,
    };
    if let Some(expanded) = random(kind, &text)? {
        field.random = true;
        field.values = expanded;
        return Ok(field);
    }
    if text.contains('?') {
        if text != "?" {
            return Err("mixes `?` with other characters".to_owned());
        }
        if !matches!(kind, FieldKind::DayOfMonth | FieldKind::DayOfWeek) {
            return Err("uses `?`, which only the day fields take".to_owned());
        }
        field.any = true;
        return Ok(field);
    }
    for item in text.split(',') {
        item_into(kind, item, count, &mut field)?;
    }
    if field.any {
        field.values.clear();
        field.nth.clear();
    }
    Ok(field)
}

/// One comma item into the field.
fn item_into(kind: FieldKind, item: &str, count: usize, field: &mut Field) -> Result<(), String> {
    let (low_bound, high_bound) = kind.range();
    let mut item = item.to_owned();
    let mut nth: Option<Option<u32>> = None;
    if kind == FieldKind::DayOfWeek {
        if let Some((weekday, n)) = nth_weekday(&item) {
            let n: u32 = n
                .parse()
                .map_err(|_| "has a `#` count that is not a number".to_owned())?;
            if !(1..=5).contains(&n) {
                return Err(format!("asks for weekday number {n} of the month (1-5)"));
            }
            nth = Some(Some(n));
            item = weekday;
        } else if let Some(last) = item
            .strip_prefix('l')
            .filter(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
        {
            nth = Some(None);
            item = last.to_owned();
        }
    }
    if item == "*" {
        field.any = true;
        return Ok(());
    }
    let stepped = item
        .strip_prefix("*/")
        .map(|step| format!("{low_bound}-{high_bound}/{step}"))
        .or_else(|| {
            let (start, step) = item.split_once('/')?;
            (!start.contains('-') && !start.is_empty() && !step.is_empty())
                .then(|| format!("{start}-{high_bound}/{step}"))
        })
        .unwrap_or_else(|| item.clone());
    if let Some((low, high, step)) = range_parts(&stepped) {
        let high = if kind == FieldKind::DayOfMonth && high == "l" {
            "31"
        } else {
            high
        };
        let low = band(kind, low, count)?;
        let high = band(kind, high, count)?;
        let step: u32 = step.map_or(Ok(1), |step| {
            step.parse()
                .map_err(|_| format!("has the step `{step}`, which is not a number"))
        })?;
        if low.max(high) > high_bound {
            return Err(format!("is out of range ({low_bound}-{high_bound})"));
        }
        if step == 0 {
            return Err("has a step of 0".to_owned());
        }
        let step = step as usize;
        let values: Vec<u32> = if low > high {
            // Wraps past the end; croniter then skips into the start to keep the step.
            let mut values: Vec<u32> = (low..=high_bound).step_by(step).collect();
            let step = u32::try_from(step).unwrap_or(u32::MAX);
            let skip = values.last().map_or(0, |last| {
                let already_skipped = high_bound - last;
                let position = last - low_bound;
                if position.saturating_add(step) > high_bound - low_bound + 1
                    && already_skipped < step
                {
                    step - already_skipped
                } else {
                    0
                }
            });
            values.extend((low_bound + skip..=high).step_by(step as usize));
            values
        } else if low == high {
            (low_bound..=high_bound).step_by(step).collect()
        } else {
            (low..=high).step_by(step).collect()
        };
        for value in values {
            if value < low_bound || value > high_bound {
                return Err(format!("is out of range ({low_bound}-{high_bound})"));
            }
            add(field, value, nth);
        }
        return Ok(());
    }
    if item.starts_with('-') {
        return Err("has a negative number".to_owned());
    }
    if kind == FieldKind::DayOfMonth && item == "l" {
        field.last_day = true;
        return Ok(());
    }
    let value = if item.bytes().all(|b| b.is_ascii_digit()) && !item.is_empty() {
        item.parse::<u32>()
            .map_err(|_| "is out of range".to_owned())?
    } else {
        kind.alpha(&item).ok_or_else(|| {
            "holds something croniter does not read (it takes numbers, names, `*`, `?`, `L`, `#`, ranges and steps)".to_owned()
        })?
    };
    let value = kind.alias(value, count);
    if value < low_bound || value > high_bound {
        return Err(format!("is out of range ({low_bound}-{high_bound})"));
    }
    add(field, value, nth);
    Ok(())
}

fn add(field: &mut Field, value: u32, nth: Option<Option<u32>>) {
    field.values.insert(value);
    if let Some(nth) = nth {
        field.nth.entry(value).or_default().insert(nth);
    }
}

/// `special_dow_re`'s `#` form: a weekday (name, name range, a month name or any word) `#n`.
fn nth_weekday(item: &str) -> Option<(String, &str)> {
    let (weekday, n) = item.split_once('#')?;
    let word = |text: &str| {
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    let names = |text: &str| {
        text.split_once('-').map_or(word(text), |(a, b)| {
            let day = |t: &str| {
                FieldKind::DayOfWeek.alpha(t).is_some() || FieldKind::Month.alpha(t).is_some()
            };
            day(a) && day(b)
        })
    };
    (names(weekday) && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .then(|| (weekday.to_owned(), n))
}

/// `step_search_re`: `low-high[/step]`, neither side holding another `-`.
fn range_parts(item: &str) -> Option<(&str, &str, Option<&str>)> {
    let (low, rest) = item.split_once('-')?;
    let (high, step) = match rest.split_once('/') {
        Some((high, step)) => (high, Some(step)),
        None => (rest, None),
    };
    let ok = !low.is_empty()
        && !high.is_empty()
        && !high.contains('-')
        && step.is_none_or(|step| !step.is_empty() && step.bytes().all(|b| b.is_ascii_digit()));
    ok.then_some((low, high, step))
}

/// One end of a range: a number or a name, aliased.
fn band(kind: FieldKind, text: &str, count: usize) -> Result<u32, String> {
    let value = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u32>()
            .map_err(|_| "is out of range".to_owned())?
    } else {
        kind.alpha(text).ok_or_else(|| {
            "has a range croniter does not read (ends are numbers or names)".to_owned()
        })?
    };
    Ok(kind.alias(value, count))
}

/// croniter's hash expander for `r`, `r(a-b)`, `r/n`, `r(a-b)/n` (`h` needs a hash id, which
/// Meltano never gives: croniter refuses it). The values are every value it may pick.
fn random(kind: FieldKind, text: &str) -> Result<Option<BTreeSet<u32>>, String> {
    let Some(rest) = text.strip_prefix('r').or_else(|| text.strip_prefix('h')) else {
        return Ok(None);
    };
    let (range, divisor) = match rest.split_once('/') {
        Some((range, divisor)) => (range, Some(divisor)),
        None => (rest, None),
    };
    let number = |t: &str| {
        (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse::<u32>().ok())
            .flatten()
    };
    let bounds = if range.is_empty() {
        None
    } else {
        let inner = range.strip_prefix('(').and_then(|r| r.strip_suffix(')'));
        let Some((a, b)) = inner.and_then(|inner| inner.split_once('-')) else {
            return Ok(None);
        };
        let (Some(a), Some(b)) = (number(a), number(b)) else {
            return Ok(None);
        };
        Some((a, b))
    };
    let divisor = match divisor {
        Some(text) => match number(text) {
            Some(divisor) => Some(divisor),
            None => return Ok(None),
        },
        None => None,
    };
    if text.starts_with('h') {
        return Err(
            "uses `H`, which croniter takes only with a hash id that Meltano never gives"
                .to_owned(),
        );
    }
    let (low_bound, high_bound) = kind.range();
    if let Some((a, b)) = bounds {
        if a >= b {
            return Err("has an `R` range whose end is not above its start".to_owned());
        }
    }
    if divisor == Some(0) {
        return Err("has an `R` step of 0".to_owned());
    }
    let (low, high) = bounds.unwrap_or((low_bound, high_bound));
    if low < low_bound || high > high_bound {
        return Err(format!("has an `R` range outside {low_bound}-{high_bound}"));
    }
    Ok(Some((low..=high).collect()))
}
