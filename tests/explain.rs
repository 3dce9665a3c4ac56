//! `meltc explain`: the command itself, and every text's examples run through `meltc validate`.
//!
//! A text's `## Bad` section is turned into a project: its `yaml` block is meltano.yml, a block
//! with `file=PATH` is that file (relative to the project folder, which sits one level below a
//! temporary folder so that `../` examples work), an `sh` block's `meltc validate ARGS` line
//! adds ARGS, and its `text` block is the expected report (`× message` or `⚠ message`, then
//! `help: …`). The bad project must report the text's code with exactly that message and help.
//! The `## Fixed` section replaces the files it shows (the others stay as in the bad example),
//! and that project must validate with no finding at all.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use meltc::diagnostics::codes::{self, Code};
use meltc::diagnostics::explain;

use crate::support::meltc;

/// Texts whose example cannot be written as files; each says why in its front matter.
const NOT_SELF_CONTAINED: &[&str] = &[
    "meltc::io",
    "meltc::project::not-found",
    "meltc::yaml::not-utf8",
];

#[test]
fn explain_prints_the_text_of_a_full_or_short_code() {
    let dir = tempfile::tempdir().unwrap();
    let short = meltc(dir.path(), &["explain", "ref::unknown-plugin"]);
    assert_eq!((short.code, short.stderr.as_str()), (0, ""));
    assert!(
        short.stdout.starts_with(
            "# meltc::ref::unknown-plugin\n\n**error** · a job task names no plugin, mapping or job\n"
        ),
        "{}",
        short.stdout
    );
    for heading in ["\n## Bad\n", "\n## Fixed\n"] {
        assert!(short.stdout.contains(heading), "{}", short.stdout);
    }
    let full = meltc(dir.path(), &["explain", "meltc::ref::unknown-plugin"]);
    assert_eq!((full.code, full.stdout), (0, short.stdout));
    let io = meltc(dir.path(), &["explain", "io"]);
    assert!(
        io.stdout.starts_with("# meltc::io\n"),
        "front matter is not shown: {}",
        io.stdout
    );
}

#[test]
fn explain_list_shows_every_code_with_severity_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let run = meltc(dir.path(), &["explain", "--list"]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), codes::ALL.len(), "{}", run.stdout);
    for (line, code) in lines.iter().zip(codes::ALL) {
        let fields: Vec<&str> = line.split_whitespace().take(2).collect();
        assert_eq!(fields, [code.name, code.severity.as_str()], "{line}");
        assert!(line.ends_with(&format!("  {}", code.summary)), "{line}");
    }
}

#[test]
fn explain_an_unknown_code_is_a_usage_error_with_did_you_mean() {
    let dir = tempfile::tempdir().unwrap();
    let typo = meltc(dir.path(), &["explain", "ref::unknwn-plugin"]);
    assert_eq!((typo.code, typo.stdout.as_str()), (2, ""));
    assert_eq!(
        typo.stderr,
        "error: `ref::unknwn-plugin` is not a meltc diagnostic code\n  help: did you mean `ref::unknown-plugin`?\n"
    );
    let full = meltc(dir.path(), &["explain", "meltc::schedule::invalid-corn"]);
    assert_eq!(full.code, 2);
    assert!(
        full.stderr
            .contains("did you mean `meltc::schedule::invalid-cron`?"),
        "{}",
        full.stderr
    );
    let unrelated = meltc(dir.path(), &["explain", "frobnicate"]);
    assert_eq!(unrelated.code, 2);
    assert!(
        unrelated.stderr.contains("`meltc explain --list`"),
        "{}",
        unrelated.stderr
    );
    assert_eq!(meltc(dir.path(), &["explain"]).code, 2);
}

#[test]
fn every_bad_example_reports_its_code_and_every_fixed_example_is_clean() {
    let mut failures = String::new();
    let mut checked = 0;
    let mut skipped = Vec::new();
    for code in codes::ALL {
        let source = explain::source(code).unwrap();
        if source.starts_with(explain::NOT_SELF_CONTAINED) {
            skipped.push(code.name);
            continue;
        }
        if let Err(message) = check_examples(code, source) {
            let _ = writeln!(failures, "=== {}\n{message}", code.name);
        }
        checked += 1;
    }
    assert!(
        failures.is_empty(),
        "examples of `meltc explain` texts:\n{failures}"
    );
    assert_eq!(
        skipped, NOT_SELF_CONTAINED,
        "keep the list of examples that are not run short"
    );
    assert_eq!(checked + skipped.len(), codes::ALL.len());
}

/// One fenced block: its info string (`yaml file=x.yml`) and its body.
struct Block<'a> {
    language: &'a str,
    file: Option<&'a str>,
    body: String,
}

/// The fenced blocks of the section under `heading`.
fn blocks<'a>(text: &'a str, heading: &str) -> Vec<Block<'a>> {
    let mut lines = text
        .lines()
        .skip_while(|line| *line != heading)
        .skip(1)
        .take_while(|line| !line.starts_with("## "));
    let mut found = Vec::new();
    while let Some(line) = lines.next() {
        let Some(info) = line.strip_prefix("```") else {
            continue;
        };
        let mut words = info.split_whitespace();
        let language = words.next().unwrap_or_default();
        let file = words.find_map(|word| word.strip_prefix("file="));
        let body: String = lines
            .by_ref()
            .take_while(|line| !line.starts_with("```"))
            .map(|line| format!("{line}\n"))
            .collect();
        found.push(Block {
            language,
            file,
            body,
        });
    }
    found
}

/// The files, arguments and expected report of a section; `files` is updated in place.
fn apply(
    section: &[Block<'_>],
    files: &mut BTreeMap<String, String>,
    args: &mut Vec<String>,
) -> Option<(String, Option<String>)> {
    let mut report = None;
    for block in section {
        match (block.language, block.file) {
            (_, Some(file)) => {
                files.insert(file.to_owned(), block.body.clone());
            }
            ("yaml", None) => {
                files.insert("meltano.yml".to_owned(), block.body.clone());
            }
            ("sh", None) => {
                // `meltc validate ARGS`, or `meltc lock|config ARGS` (kept with their command).
                for line in block.body.lines() {
                    let Some(rest) = line.strip_prefix("meltc ") else {
                        continue;
                    };
                    let mut words = rest.split_whitespace();
                    match words.next() {
                        Some("validate") => *args = words.map(str::to_owned).collect(),
                        Some(command) => {
                            *args = std::iter::once(command)
                                .chain(words)
                                .map(str::to_owned)
                                .collect()
                        }
                        None => {}
                    }
                }
            }
            ("text", None) => {
                let mut lines = block.body.lines();
                let first = lines.next().unwrap_or_default();
                if let Some(message) = first
                    .strip_prefix("× ")
                    .or_else(|| first.strip_prefix("⚠ "))
                {
                    let help = lines
                        .find_map(|l| l.strip_prefix("help: "))
                        .map(str::to_owned);
                    report = Some((message.to_owned(), help));
                }
            }
            _ => {}
        }
    }
    report
}

fn check_examples(code: &Code, source: &str) -> Result<(), String> {
    let mut files = BTreeMap::new();
    let mut args = Vec::new();
    let bad = blocks(source, explain::BAD_HEADING);
    let Some((message, help)) = apply(&bad, &mut files, &mut args) else {
        return Err(
            "the bad example has no `text` block with `× message` or `⚠ message`".to_owned(),
        );
    };
    if !files.contains_key("meltano.yml") {
        return Err("the bad example has no `yaml` block (meltano.yml)".to_owned());
    }
    let found = validate(&files, &args);
    if !found
        .iter()
        .any(|(c, m, h)| c == code.name && *m == message && (help.is_none() || *h == help))
    {
        return Err(format!(
            "the bad example should report `{message}` (help: {help:?}); meltc reported:\n{found:#?}"
        ));
    }
    let fixed = blocks(source, explain::FIXED_HEADING);
    if !fixed
        .iter()
        .any(|block| block.file.is_some() || block.language == "yaml")
    {
        return Err("the fixed example shows no file".to_owned());
    }
    apply(&fixed, &mut files, &mut args);
    let found = validate(&files, &args);
    if !found.is_empty() {
        return Err(format!(
            "the fixed example should be clean; meltc reported:\n{found:#?}"
        ));
    }
    Ok(())
}

/// Write `files` into `<tmp>/project/` and run `meltc validate --format json ARGS` there:
/// (code, message, help) of every finding.
fn validate(
    files: &BTreeMap<String, String>,
    args: &[String],
) -> Vec<(String, String, Option<String>)> {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    for (name, body) in files {
        let path = project.join(name);
        fs_err::create_dir_all(path.parent().unwrap_or(Path::new("."))).unwrap();
        fs_err::write(path, body).unwrap();
    }
    // `meltc lock`, `config` and `build` have no JSON diagnostics: read their human report.
    if args
        .first()
        .is_some_and(|first| ["lock", "config", "build"].contains(&first.as_str()))
    {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        return human_findings(&meltc(&project, &args).stderr);
    }
    let mut all_args = vec!["validate", "--format", "json"];
    all_args.extend(args.iter().map(String::as_str));
    let run = meltc(&project, &all_args);
    let document: serde_json::Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}{}", run.stdout, run.stderr));
    document["diagnostics"]
        .as_array()
        .expect("diagnostics array")
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap_or_default().to_owned(),
                d["message"].as_str().unwrap_or_default().to_owned(),
                d["help"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

/// (code, message, help) of every finding in a human report (`meltc lock` has no JSON output):
/// a code line, then `× message` or `⚠ message`, wrapped lines joined, and `help:`.
fn human_findings(stderr: &str) -> Vec<(String, String, Option<String>)> {
    let lines: Vec<&str> = stderr.lines().collect();
    let mut found = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        if !line.starts_with("meltc::") || line.contains(' ') {
            continue;
        }
        let mut rest = lines[index + 1..].iter().skip_while(|l| l.is_empty());
        let Some(first) = rest.next() else { continue };
        let Some(mut message) = first
            .trim_start()
            .strip_prefix("× ")
            .or_else(|| first.trim_start().strip_prefix("⚠ "))
            .map(str::to_owned)
        else {
            continue;
        };
        let mut help: Option<String> = None;
        for next in rest {
            let trimmed = next.trim_start();
            if next.is_empty() || trimmed.starts_with("meltc::") {
                break;
            }
            if let Some(more) = trimmed.strip_prefix("│ ").filter(|_| help.is_none()) {
                message.push(' ');
                message.push_str(more);
            } else if let Some(text) = trimmed.strip_prefix("help: ") {
                help = Some(text.to_owned());
            } else if let Some(help) = help.as_mut().filter(|_| next.starts_with("        ")) {
                help.push(' ');
                help.push_str(trimmed);
            }
        }
        found.push((line.to_string(), message, help));
    }
    found
}
