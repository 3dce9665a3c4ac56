//! Writing a croniter field for Kubernetes, whose API server and CronJob controller parse a
//! `schedule` with robfig/cron v3's `ParseStandard` (`parser.go`): a comma list of `*`, `?`,
//! `n`, `a-b` with `a <= b`, `x/step` (from `x` to the end), month and weekday names in any
//! case, weekdays 0-6. A field robfig reads as croniter does is kept as written; any other is
//! written as the values croniter gives it.

use std::collections::BTreeSet;

use super::croniter::{Field, FieldKind};

/// The text of `field` for a CronJob (five-field expressions without `L`, `#` or `R`).
pub(super) fn field_text(field: &Field) -> String {
    let same = match parse(&field.written, field.kind) {
        Some((values, star)) => {
            let (low, high) = field.kind.range();
            let full = values.len() == (high - low + 1) as usize;
            if field.any {
                star || full
            } else {
                !star && values == field.values
            }
        }
        None => false,
    };
    if same {
        field.written.clone()
    } else if field.any {
        "*".to_owned()
    } else {
        values_text(&field.values)
    }
}

/// Values as a comma list, runs of three or more as ranges.
pub(super) fn values_text(values: &BTreeSet<u32>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let values: Vec<u32> = values.iter().copied().collect();
    let mut start = 0;
    while start < values.len() {
        let mut end = start;
        while end + 1 < values.len() && values[end + 1] == values[end] + 1 {
            end += 1;
        }
        match end - start {
            0 => parts.push(values[start].to_string()),
            1 => {
                parts.push(values[start].to_string());
                parts.push(values[end].to_string());
            }
            _ => parts.push(format!("{}-{}", values[start], values[end])),
        }
        start = end + 1;
    }
    parts.join(",")
}

/// robfig's `getField`: the values and whether the star bit is set, `None` for an error.
pub(super) fn parse(text: &str, kind: FieldKind) -> Option<(BTreeSet<u32>, bool)> {
    let (min, max) = match kind {
        FieldKind::DayOfWeek => (0, 6),
        other => other.range(),
    };
    let mut values = BTreeSet::new();
    let mut star = false;
    for expression in text.split(',').filter(|item| !item.is_empty()) {
        let range_and_step: Vec<&str> = expression.split('/').collect();
        let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
        let single = low_and_high.len() == 1;
        let (start, mut end, mut extra) = if matches!(low_and_high[0], "*" | "?") {
            (min, max, true)
        } else {
            let start = int_or_name(low_and_high[0], kind)?;
            let end = match low_and_high.len() {
                1 => start,
                2 => int_or_name(low_and_high[1], kind)?,
                _ => return None,
            };
            (start, end, false)
        };
        let step = match range_and_step.len() {
            1 => 1,
            2 => {
                let step = atoi(range_and_step[1])?;
                if single {
                    end = max;
                }
                if step > 1 {
                    extra = false;
                }
                step
            }
            _ => return None,
        };
        if start < min || end > max || start > end || step == 0 {
            return None;
        }
        values.extend((start..=end).step_by(step as usize));
        star |= extra;
    }
    Some((values, star))
}

fn int_or_name(text: &str, kind: FieldKind) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let lower = text.to_lowercase();
    let named = match kind {
        FieldKind::Month => MONTHS.iter().position(|name| *name == lower).map(|i| i + 1),
        FieldKind::DayOfWeek => DAYS.iter().position(|name| *name == lower),
        _ => None,
    };
    named
        .and_then(|i| u32::try_from(i).ok())
        .or_else(|| atoi(text))
}

/// Go's `strconv.Atoi` for a non-negative number (a leading `+` is allowed).
fn atoi(text: &str) -> Option<u32> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::{parse, values_text};
    use crate::cron::croniter::FieldKind;

    #[test]
    fn robfig_fields() {
        let ok = [
            ("*/15", FieldKind::Minute, vec![0, 15, 30, 45], false),
            ("5/20", FieldKind::Minute, vec![5, 25, 45], false),
            ("MON-fri", FieldKind::DayOfWeek, vec![1, 2, 3, 4, 5], false),
            ("?", FieldKind::DayOfMonth, (1..=31).collect(), true),
            ("1,,3", FieldKind::Hour, vec![1, 3], false),
        ];
        for (text, kind, values, star) in ok {
            assert_eq!(
                parse(text, kind),
                Some((values.into_iter().collect(), star)),
                "{text}"
            );
        }
        for (text, kind) in [
            ("7", FieldKind::DayOfWeek),
            ("fri-mon", FieldKind::DayOfWeek),
            ("L", FieldKind::DayOfMonth),
            ("1#2", FieldKind::DayOfWeek),
            ("*/0", FieldKind::Minute),
            ("60", FieldKind::Minute),
            ("0", FieldKind::DayOfMonth),
        ] {
            assert_eq!(parse(text, kind), None, "{text}");
        }
        assert_eq!(values_text(&[5, 6, 0, 1].into_iter().collect()), "0,1,5,6");
        assert_eq!(values_text(&[1, 2, 3, 5].into_iter().collect()), "1-3,5");
    }
}
