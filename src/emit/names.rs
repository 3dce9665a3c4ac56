//! Names for other systems, made from Meltano's free-form names deterministically.
//!
//! - Kubernetes object names: lowercase RFC 1123 labels (`[a-z0-9-]`, alphanumeric at both
//!   ends), at most [`CRONJOB_NAME_MAX`] characters for a CronJob (the controller appends 11).
//! - Kubernetes label values: at most 63 characters of `[A-Za-z0-9_.-]`, alphanumeric ends.
//! - Dagster names: `^[A-Za-z0-9_]+$`.
//!
//! A name that had to be shortened, or that two different names would share after
//! sanitising (`a-b` and `a_b`), ends in `-` and six hex digits of a hash of the original
//! name: the same input always gives the same output, whatever else the project holds, and
//! the original stays readable in an annotation or tag next to it.

use std::collections::BTreeMap;

/// The longest CronJob name Kubernetes accepts.
pub const CRONJOB_NAME_MAX: usize = 52;

/// The longest label value.
pub const LABEL_VALUE_MAX: usize = 63;

/// FNV-1a, 64 bits: stable across platforms and releases (unlike `std`'s hasher).
#[must_use]
pub fn stable_hash(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

fn suffix(original: &str) -> String {
    format!("{:06x}", stable_hash(original) & 0x00ff_ffff)
}

/// `text` with every run of characters `keep` rejects replaced by one `separator`, and
/// separators trimmed from both ends.
fn squeeze(text: &str, keep: impl Fn(char) -> bool, separator: char) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if keep(c) {
            out.push(c);
        } else if !out.ends_with(separator) {
            out.push(separator);
        }
    }
    out.trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned()
}

/// `base` cut to fit `max` with the hash suffix of `original`.
fn with_suffix(base: &str, original: &str, max: usize, separator: char) -> String {
    let tail = suffix(original);
    let room = max - tail.len() - 1;
    let cut: String = base.chars().take(room).collect();
    let cut = cut.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    if cut.is_empty() {
        tail
    } else {
        format!("{cut}{separator}{tail}")
    }
}

fn kubernetes_base(original: &str) -> String {
    squeeze(
        &original.to_ascii_lowercase(),
        |c| c.is_ascii_lowercase() || c.is_ascii_digit(),
        '-',
    )
}

/// A Kubernetes object name of at most `max` characters for `original`.
#[must_use]
pub fn kubernetes_name(original: &str, max: usize) -> String {
    let base = kubernetes_base(original);
    if base.is_empty() || base.len() > max {
        with_suffix(&base, original, max, '-')
    } else {
        base
    }
}

/// A label value for `original`.
#[must_use]
pub fn label_value(original: &str) -> String {
    let base = squeeze(
        original,
        |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'),
        '-',
    );
    if base.len() > LABEL_VALUE_MAX || (base.is_empty() && !original.is_empty()) {
        with_suffix(&base, original, LABEL_VALUE_MAX, '-')
    } else {
        base
    }
}

fn dagster_base(original: &str) -> String {
    squeeze(original, |c| c.is_ascii_alphanumeric() || c == '_', '_')
}

/// Names for every one of `originals` (which are distinct), made by `make` and unique: names
/// that collide after sanitising all get the hash suffix, so that adding a name never renames
/// another one that did not collide before.
#[must_use]
pub fn unique<'a>(
    originals: impl IntoIterator<Item = &'a str>,
    make: impl Fn(&str) -> String,
    with_hash: impl Fn(&str, &str) -> String,
) -> BTreeMap<String, String> {
    let mut by_name: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for original in originals {
        by_name.entry(make(original)).or_default().push(original);
    }
    let mut names = BTreeMap::new();
    for (name, owners) in by_name {
        if owners.len() == 1 {
            names.insert(owners[0].to_owned(), name);
        } else {
            for owner in owners {
                names.insert(owner.to_owned(), with_hash(&name, owner));
            }
        }
    }
    names
}

/// Unique CronJob names for schedule names.
#[must_use]
pub fn cronjob_names<'a>(schedules: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, String> {
    unique(
        schedules,
        |original| kubernetes_name(original, CRONJOB_NAME_MAX),
        |name, original| with_suffix(name, original, CRONJOB_NAME_MAX, '-'),
    )
}

/// Unique Dagster names for `originals`, each after `prefix` (`run_`, or empty).
#[must_use]
pub fn dagster_names<'a>(
    originals: impl IntoIterator<Item = &'a str>,
    prefix: &str,
) -> BTreeMap<String, String> {
    unique(
        originals,
        |original| {
            let base = dagster_base(original);
            if base.is_empty() {
                format!("{prefix}{}", suffix(original))
            } else {
                format!("{prefix}{base}")
            }
        },
        |name, original| format!("{name}_{}", suffix(original)),
    )
}

#[cfg(test)]
mod tests {
    use super::{CRONJOB_NAME_MAX, cronjob_names, dagster_names, kubernetes_name, label_value};

    #[test]
    fn kubernetes_names_are_rfc1123_and_stable() {
        assert_eq!(kubernetes_name("Postgres_Nightly", 52), "postgres-nightly");
        assert_eq!(kubernetes_name("--a  b--", 52), "a-b");
        let long = "x".repeat(80);
        let short = kubernetes_name(&long, CRONJOB_NAME_MAX);
        assert_eq!(short.len(), CRONJOB_NAME_MAX);
        assert_eq!(short, kubernetes_name(&long, CRONJOB_NAME_MAX));
        assert!(short.starts_with("xxxx") && short.as_bytes()[45] == b'-');
        let other = kubernetes_name(&format!("{long}y"), CRONJOB_NAME_MAX);
        assert_ne!(short, other);
        assert_eq!(kubernetes_name("__", 52).len(), 6);
    }

    #[test]
    fn collisions_get_a_hash_each() {
        let names = cronjob_names(["a-b", "a_b", "c"]);
        assert_eq!(names["c"], "c");
        assert_ne!(names["a-b"], names["a_b"]);
        assert!(names["a-b"].starts_with("a-b-"));
        let dagster = dagster_names(["load-jobs", "load_jobs", "x"], "run_");
        assert_eq!(dagster["x"], "run_x");
        assert_ne!(dagster["load-jobs"], dagster["load_jobs"]);
        assert!(
            dagster
                .values()
                .all(|name| name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        );
    }

    #[test]
    fn label_values() {
        assert_eq!(
            label_value("tap-postgres target-s3"),
            "tap-postgres-target-s3"
        );
        assert_eq!(label_value("a.b_c"), "a.b_c");
        assert_eq!(label_value(&"y".repeat(70)).len(), 63);
    }
}
