//! The import rules of the pipeline (src/lib.rs draws it): each top-level module of `src/` may
//! name only the modules listed for it here. Read from the sources, so that a new `use` that
//! crosses a stage boundary fails here, with the file and line, before it lands.
//!
//! The runtime (`meltc-run`, in the image) depends on the manifest, Meltano's shared rules
//! (`meltano`) and the foundation `atomic_file`, never on the compiler's stages: the plugin
//! class, the setting kinds and everything else it needs are in the manifest, computed once at
//! build time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Foundations every module may use.
const FOUNDATIONS: &[&str] = &["diagnostics", "yaml", "atomic_file", "cron"];

/// Each top-level module and the other top-level modules (beyond [`FOUNDATIONS`]) it may use;
/// `a::b` allows only that part of `a`.
const ALLOWED: &[(&str, &[&str])] = &[
    // Foundations.
    ("diagnostics", &[]),
    ("yaml", &[]),
    ("atomic_file", &[]),
    ("cron", &[]),
    // Meltano's rules, shared by build time and run time: below every stage.
    ("meltano", &[]),
    // The manifest contract between build time and run time.
    ("manifest", &["meltano"]),
    // The pipeline, in order.
    ("project", &["meltano"]),
    ("resolve", &["meltano", "project"]),
    ("validate", &["meltano", "project", "resolve"]),
    ("compile", &["meltano", "project", "resolve", "manifest"]),
    (
        "emit",
        // The CronJob's podFailurePolicy reads meltc-run's exit codes from their one list.
        &[
            "meltano",
            "project",
            "resolve",
            "compile",
            "manifest",
            "runtime::exit",
        ],
    ),
    // Run time: the manifest and Meltano's rules only.
    ("runtime", &["meltano", "manifest"]),
    // Tools over the artifacts.
    ("graph", &["meltano", "manifest"]),
    ("plan", &["meltano", "manifest", "emit", "runtime"]),
    // The command line drives every stage.
    (
        "cli",
        &[
            "meltano", "manifest", "project", "resolve", "validate", "compile", "emit", "runtime",
            "graph", "plan",
        ],
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs_err::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`None`: the crate root, `main.rs`, bins).
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative
        .components()
        .next()?
        .as_os_str()
        .to_str()?
        .to_owned();
    if relative.components().count() == 1 {
        let stem = first.strip_suffix(".rs")?;
        return (!["lib", "main"].contains(&stem)).then(|| stem.to_owned());
    }
    (first != "bin").then_some(first)
}

/// Every `crate::<path>` a line names outside a comment (`runtime::exit::RunExit`).
fn named_paths(line: &str) -> Vec<&str> {
    let code = line.split("//").next().unwrap_or("");
    code.match_indices("crate::")
        .filter(|(at, _)| {
            // `meltc::crate::` never occurs; skip identifiers ending in `crate` (`subcrate::`).
            !code[..*at].ends_with(|c: char| c.is_alphanumeric() || c == '_')
        })
        .filter_map(|(at, _)| {
            let rest = &code[at + "crate::".len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            (end > 0).then(|| &rest[..end])
        })
        .collect()
}

/// Every use of a module that its rule does not allow, as `file:line: module -> other`.
fn violations(src: &Path) -> Vec<String> {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let Some(module) = top_module(src, &file) else {
            continue;
        };
        let rule = allowed.get(module.as_str()).unwrap_or_else(|| {
            panic!("src/{module} has no import rule in tests/architecture.rs: add one")
        });
        let text = fs_err::read_to_string(&file).unwrap();
        for (number, line) in text.lines().enumerate() {
            for path in named_paths(line) {
                let other = path.split("::").next().unwrap_or(path);
                let ok = other == module
                    || FOUNDATIONS.contains(&other)
                    || rule.iter().any(|allowed| {
                        path == *allowed || path.starts_with(&format!("{allowed}::"))
                    })
                    || !allowed.contains_key(other);
                if !ok {
                    found.push(format!(
                        "{}:{}: {module} uses crate::{other}",
                        file.display(),
                        number + 1
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn every_module_uses_only_what_its_stage_allows() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(
        found.is_empty(),
        "imports that cross the pipeline's stages (tests/architecture.rs lists the rules):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_runtime_never_names_a_build_stage() {
    // The rule itself, checked against a file that breaks it, so that the scan cannot pass
    // by reading nothing.
    let scratch = tempfile::tempdir().unwrap();
    let runtime = scratch.path().join("runtime");
    fs_err::create_dir_all(&runtime).unwrap();
    fs_err::write(
        runtime.join("settings.rs"),
        "// crate::resolve in a comment is fine\nuse crate::meltano::cast;\nuse crate::resolve::config;\n",
    )
    .unwrap();
    assert_eq!(
        violations(scratch.path()),
        [format!(
            "{}:3: runtime uses crate::resolve",
            runtime.join("settings.rs").display()
        )]
    );
    // And the real runtime names none of them.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/runtime");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 10, "src/runtime has its files");
    for file in files {
        let text = fs_err::read_to_string(&file).unwrap();
        for stage in [
            "resolve", "compile", "validate", "project", "emit", "cli", "plan",
        ] {
            let needle = format!("crate::{stage}::");
            assert!(
                !text
                    .lines()
                    .any(|line| line.split("//").next().unwrap_or("").contains(&needle)),
                "{} names crate::{stage}",
                file.display()
            );
        }
    }
}
