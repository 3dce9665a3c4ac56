//! `meltc explain CODE` and `meltc explain --list`: the texts of `diagnostics::explain`.

use super::args::ExplainArgs;
use super::{Context, Outcome};
use crate::diagnostics::{Code, codes, explain, suggest};

/// Print the text of one code, or the list of codes, on stdout.
pub fn run(args: &ExplainArgs, context: &mut Context<'_>) -> Outcome {
    let written = match args.code.as_deref().filter(|_| !args.list) {
        None => context.stdout.write_all(list().as_bytes()),
        Some(query) => match lookup(query) {
            Ok(code) => {
                let text = explain::text(code).unwrap_or(code.summary);
                context.stdout.write_all(text.as_bytes())
            }
            Err(help) => {
                let _ = writeln!(
                    context.stderr,
                    "error: `{query}` is not a meltc diagnostic code\n  help: {help}"
                );
                return Outcome::Failure;
            }
        },
    };
    if written.is_err() {
        Outcome::Failure
    } else {
        Outcome::Clean
    }
}

/// The code named `query` (`meltc::ref::unknown-plugin` or `ref::unknown-plugin`), or the help
/// line for a name that is none: the closest code in the same form, else a pointer to `--list`.
fn lookup(query: &str) -> Result<&'static Code, String> {
    let short = |code: &'static Code| code.name.strip_prefix("meltc::").unwrap_or(code.name);
    if let Some(code) = codes::ALL
        .iter()
        .copied()
        .find(|code| code.name == query || short(code) == query)
    {
        return Ok(code);
    }
    let suggestion = if query.starts_with("meltc::") {
        suggest::help_line(query, codes::ALL.iter().map(|code| code.name))
    } else {
        suggest::help_line(query, codes::ALL.iter().copied().map(short))
    };
    Err(suggestion.unwrap_or_else(|| "`meltc explain --list` shows every code".to_owned()))
}

/// One line per code: name, severity and summary in aligned columns.
fn list() -> String {
    let width = codes::ALL
        .iter()
        .map(|code| code.name.len())
        .max()
        .unwrap_or_default();
    codes::ALL
        .iter()
        .map(|code| {
            format!(
                "{:width$}  {:7}  {}\n",
                code.name,
                code.severity.as_str(),
                code.summary
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{list, lookup};
    use crate::diagnostics::codes;

    #[test]
    fn codes_are_found_by_full_and_short_name() {
        assert_eq!(
            lookup("meltc::ref::unknown-plugin"),
            Ok(&codes::UNKNOWN_PLUGIN)
        );
        assert_eq!(lookup("ref::unknown-plugin"), Ok(&codes::UNKNOWN_PLUGIN));
        assert_eq!(lookup("io"), Ok(&codes::IO));
        assert_eq!(
            lookup("ref::unknwn-plugin"),
            Err("did you mean `ref::unknown-plugin`?".to_owned())
        );
        assert_eq!(
            lookup("meltc::ref::unknwn-plugin"),
            Err("did you mean `meltc::ref::unknown-plugin`?".to_owned())
        );
        assert_eq!(
            lookup("frobnicate"),
            Err("`meltc explain --list` shows every code".to_owned())
        );
    }

    #[test]
    fn list_has_one_aligned_line_per_code() {
        let text = list();
        assert_eq!(text.lines().count(), codes::ALL.len());
        assert!(text.lines().any(|line| line.starts_with("meltc::io ")
            && line.contains("  error    a file or folder could not be read")));
    }
}
