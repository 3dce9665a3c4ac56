//! The long text of every diagnostic code, for `meltc explain CODE`, embedded at compile time.
//!
//! Each code has `explain/<stem>.md`, where the stem is the code without `meltc::` and with
//! `::` written `-` (`meltc::ref::unknown-plugin` → `ref-unknown-plugin.md`). A text has:
//!
//! 1. the code as its title (`# meltc::ref::unknown-plugin`) and the code table's severity and
//!    summary (`**error** · …`);
//! 2. what the finding means and why it matters at Meltano's run time, citing
//!    Meltano's source (a class or function and its file under `src/meltano/`);
//! 3. a `## Bad` section: a minimal `yaml` block (meltano.yml), optional blocks for other files
//!    (`yaml file=extract/github.yml`, `json file=plugins/…​.lock`), an optional `sh` block with
//!    the `meltc validate` arguments, and a `text` block with the report (`× message` or
//!    `⚠ message`, then `help: …`);
//! 4. a `## Fixed` section: the files that change (the others stay as in the bad example);
//! 5. when it matters, how to accept the finding (`--deny-warnings` for warnings).
//!
//! A text whose example needs more than files (an unreadable file, no project at all, bytes
//! that are not UTF-8) starts with `<!-- example: not self-contained: <why> -->`, which
//! [`text`] leaves out. The unit tests below check the shape of every text; tests/explain.rs
//! runs every bad example through `meltc validate` and checks its report, and every fixed
//! example for a clean result.

use super::Code;

macro_rules! texts {
    ($($stem:literal),* $(,)?) => {
        /// Every text by file stem, in the code table's order.
        const TEXTS: &[(&str, &str)] = &[$(($stem, include_str!(concat!("explain/", $stem, ".md")))),*];
    };
}

texts![
    "io",
    "project-not-found",
    "project-empty",
    "yaml-syntax",
    "yaml-duplicate-key",
    "yaml-multiple-documents",
    "yaml-unsupported",
    "yaml-not-utf8",
    "yaml-ambiguous-bool",
    "yaml-ambiguous-number",
    "yaml-unquoted-date",
    "yaml-impossible-date",
    "env-not-text",
    "include-outside-root",
    "include-not-a-file",
    "include-bad-pattern",
    "include-no-match",
    "include-empty",
    "include-type-conflict",
    "schema",
    "key-unknown",
    "key-ignored",
    "value-null",
    "value-type",
    "name-duplicate-plugin",
    "name-duplicate-job",
    "name-duplicate-schedule",
    "name-duplicate-environment",
    "ref-unknown-plugin",
    "ref-unknown-job",
    "ref-unknown-environment",
    "usage-unknown-environment",
    "ref-environment-plugin",
    "inherit-unknown-parent",
    "inherit-cycle",
    "job-string-tasks",
    "job-empty-task",
    "job-block-sequence",
    "job-nested-job",
    "job-mapper-name",
    "job-not-invokable",
    "mapping-shadowed",
    "mapping-ambiguous",
    "job-unknown-command",
    "schedule-invalid-cron",
    "schedule-legacy",
    "schedule-unknown-plugin",
    "plugin-legacy-type",
    "plugin-legacy-files",
    "plugin-unresolved",
    "plugin-unresolved-used",
    "plugin-local-path",
    "plugin-local-path-used",
    "plugin-unknown-variant",
    "plugin-lock-only-variant",
    "plugin-variant-alias",
    "plugin-capability",
    "plugin-log-parser",
    "plugin-invalid-lock",
    "lock-unknown-plugin",
    "lock-no-plugins",
    "lock-not-on-hub",
    "lock-unpinned-variant",
    "usage-unknown-plugin",
    "config-several-env-vars",
    "config-invalid-value",
    "setting-literal-secret",
    "env-literal-secret",
    "setting-invalid-value",
    "state-ephemeral",
    "state-unknown-scheme",
    "build-state-lost",
    "build-legacy-schedule-name",
    "build-cron-unsupported",
];

/// The heading of the bad example.
pub const BAD_HEADING: &str = "## Bad";
/// The heading of the fixed example.
pub const FIXED_HEADING: &str = "## Fixed";
/// The front-matter line of a text whose example cannot be run as files alone.
pub const NOT_SELF_CONTAINED: &str = "<!-- example: not self-contained";

/// The file stem of a code's text: `meltc::ref::unknown-plugin` → `ref-unknown-plugin`.
#[must_use]
pub fn file_stem(name: &str) -> String {
    name.strip_prefix("meltc::")
        .unwrap_or(name)
        .replace("::", "-")
}

/// The text of `code` as written, front matter included.
#[must_use]
pub fn source(code: &Code) -> Option<&'static str> {
    let stem = file_stem(code.name);
    TEXTS
        .iter()
        .find(|(candidate, _)| *candidate == stem)
        .map(|(_, text)| *text)
}

/// The text of `code` as shown to users: without its front-matter comment lines.
#[must_use]
pub fn text(code: &Code) -> Option<&'static str> {
    let mut text = source(code)?;
    while text.starts_with("<!--") {
        text = text.split_once('\n').map_or("", |(_, rest)| rest);
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::{BAD_HEADING, FIXED_HEADING, NOT_SELF_CONTAINED, TEXTS, file_stem, source, text};
    use crate::diagnostics::codes::ALL;

    #[test]
    fn every_code_has_a_text_with_a_bad_and_a_fixed_example() {
        let mut problems = Vec::new();
        for code in ALL {
            let Some(text) = text(code) else {
                problems.push(format!(
                    "{}: no explain/{}.md",
                    code.name,
                    file_stem(code.name)
                ));
                continue;
            };
            let lines: Vec<&str> = text.lines().collect();
            let header = [
                format!("# {}", code.name),
                String::new(),
                format!("**{}** · {}", code.severity.as_str(), code.summary),
            ];
            if !lines
                .iter()
                .copied()
                .take(3)
                .eq(header.iter().map(String::as_str))
            {
                problems.push(format!(
                    "{}: must start with {header:?}, the code table's name, severity and summary",
                    code.name
                ));
            }
            for heading in [BAD_HEADING, FIXED_HEADING] {
                let Some(at) = lines.iter().position(|line| *line == heading) else {
                    problems.push(format!("{}: no `{heading}` section", code.name));
                    continue;
                };
                // Each example shows something: a fenced block follows its heading.
                if !lines[at..]
                    .iter()
                    .skip(1)
                    .take_while(|l| !l.starts_with("## "))
                    .any(|l| l.starts_with("```"))
                {
                    problems.push(format!("{}: `{heading}` has no code block", code.name));
                }
            }
            if !(15..=40).contains(&lines.len()) {
                problems.push(format!(
                    "{}: {} lines, keep it within 15-40",
                    code.name,
                    lines.len()
                ));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn every_text_belongs_to_a_code_and_front_matter_says_why() {
        for (stem, source_text) in TEXTS {
            assert!(
                ALL.iter().any(|code| file_stem(code.name) == *stem),
                "explain/{stem}.md belongs to no code"
            );
            for line in source_text.lines().take_while(|l| l.starts_with("<!--")) {
                assert!(
                    line.starts_with(&format!("{NOT_SELF_CONTAINED}: ")) && line.ends_with(" -->"),
                    "explain/{stem}.md: front matter is `{NOT_SELF_CONTAINED}: <why> -->`, found `{line}`"
                );
            }
        }
        assert_eq!(TEXTS.len(), ALL.len());
    }

    #[test]
    fn shown_text_drops_the_front_matter() {
        let code = &crate::diagnostics::codes::IO;
        assert!(source(code).is_some_and(|s| s.starts_with(NOT_SELF_CONTAINED)));
        assert!(text(code).is_some_and(|t| t.starts_with("# meltc::io\n")));
        assert_eq!(
            file_stem("meltc::ref::unknown-plugin"),
            "ref-unknown-plugin"
        );
    }
}
