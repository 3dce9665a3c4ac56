//! "Did you mean …?" for names the user probably misspelt.

/// The candidate closest to `name`, if it is close enough to be a likely typo.
///
/// Case-insensitive equality always counts (the `AutoIDM` vs `autoidm` variant), then a
/// normalized Levenshtein similarity over the candidates, and a candidate that equals `name`
/// once punctuation is ignored (`:pip_url` vs `pip_url`).
#[must_use]
pub fn did_you_mean<'a, I>(name: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let folded = fold(name);
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        if candidate == name {
            continue;
        }
        let lower = (name.to_lowercase(), candidate.to_lowercase());
        let score = if fold(candidate) == folded {
            2.0
        } else if lower.0.len() >= 3 && strsim::damerau_levenshtein(&lower.0, &lower.1) == 1 {
            // One edit in a short name (`dve` for `dev`) is as likely a typo as it gets.
            1.5
        } else {
            strsim::normalized_damerau_levenshtein(&lower.0, &lower.1)
        };
        if best.is_none_or(|(best_score, best_name)| {
            score > best_score || (score == best_score && candidate < best_name)
        }) {
            best = Some((score, candidate));
        }
    }
    best.filter(|(score, _)| *score >= 0.7)
        .map(|(_, candidate)| candidate)
}

/// The help line for a suggestion, or `None`.
#[must_use]
pub fn help_line<'a, I>(name: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    did_you_mean(name, candidates).map(|candidate| format!("did you mean `{candidate}`?"))
}

fn fold(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn suggests_close_names_only() {
        let names = ["pip_url", "namespace", "variant", "executable"];
        assert_eq!(did_you_mean(":pip_url", names), Some("pip_url"));
        assert_eq!(did_you_mean("varient", names), Some("variant"));
        assert_eq!(did_you_mean("dve", ["dev", "prod"]), Some("dev"));
        assert_eq!(did_you_mean("ab", ["dev", "prod"]), None);
        assert_eq!(
            did_you_mean("AutoIDM", ["autoidm", "meltano"]),
            Some("autoidm")
        );
        assert_eq!(did_you_mean("totally-different", names), None);
        assert_eq!(did_you_mean("variant", names), None);
    }
}
