//! What each fuzz target does with one input. The fuzz targets (fuzz/fuzz_targets/) and the
//! stable replay test (tests/fuzz_replay.rs, which includes this file) call the same
//! functions, so the harness is exercised on every CI run even without a fuzzer.
//!
//! A target fails by panicking: the library under test panicked, or an invariant checked here
//! does not hold. Inputs are bytes; the text targets read them as lossy UTF-8 so that every
//! input reaches the code under test.

use std::cell::RefCell;
use std::path::Path;

use meltc::diagnostics::{Diagnostic, render};
use meltc::meltano::template::{ConfigValue, Part, Template};
use meltc::project::Project;
use meltc::runtime::catalog::{self, Rules};
use meltc::runtime::state::StateId;
use meltc::runtime::state::document::{self, StateDocument};
use meltc::runtime::state::pattern::StatePattern;
use serde_json::Value;

/// A target's name (the file under fuzz/fuzz_targets/ and the corpus folder) and its function.
pub type Target = (&'static str, fn(&[u8]));

/// Every target.
pub const TARGETS: [Target; 5] = [
    ("project_load", project_load),
    ("validate", validate),
    ("expand", expand),
    ("select_match", select_match),
    ("state_document", state_document),
];

/// A line starting with this marker, in a project input, starts another file: the rest of the
/// line is its project-relative name. The text before the first marker is meltano.yml.
pub const FILE_MARKER: &str = "#%% ";

/// The YAML loader, `include_paths` expansion and the deep merge: whatever the files hold,
/// loading returns diagnostics that render, and a missing project comes with an error.
pub fn project_load(data: &[u8]) {
    with_project(data, |_| {});
}

/// Schema and semantic validation of every environment, on whatever loaded.
pub fn validate(data: &[u8]) {
    with_project(data, |project| {
        let mut all = meltc::validate::validate(project, &meltc::validate::Options::default());
        for name in meltc::validate::environment_names(project) {
            let options = meltc::validate::Options {
                environment: Some(name),
            };
            all.extend(meltc::validate::validate(project, &options));
        }
        render_all(&all, &project.sources);
    });
}

/// Write the project files of `data` into a scratch folder (reused by the thread), load it, and
/// run `then` on the project when there is one.
fn with_project(data: &[u8], then: impl FnOnce(&Project)) {
    thread_local! {
        static SCRATCH: RefCell<Option<tempfile::TempDir>> = const { RefCell::new(None) };
    }
    SCRATCH.with(|cell| {
        let mut cell = cell.borrow_mut();
        let scratch = cell.get_or_insert_with(|| tempfile::tempdir().expect("a scratch folder"));
        let root = scratch.path().join("project");
        let _ = fs_err::remove_dir_all(&root);
        fs_err::create_dir_all(&root).expect("the project folder");
        write_project(&root, &String::from_utf8_lossy(data));
        let loaded = meltc::project::load(&root, "");
        render_all(&loaded.diagnostics, &loaded.sources);
        match &loaded.project {
            None => assert!(
                loaded.diagnostics.iter().any(Diagnostic::is_error),
                "no project and no error"
            ),
            Some(project) => then(project),
        }
    });
}

/// Split `text` at [`FILE_MARKER`] lines into meltano.yml and included files. Names are kept
/// inside `root` (no `..`, no absolute path): the loader's own escape checks are for links and
/// patterns, which the input still controls.
fn write_project(root: &Path, text: &str) {
    let mut files = vec![("meltano.yml".to_owned(), String::new())];
    for line in text.split_inclusive('\n') {
        if let Some(name) = line.strip_prefix(FILE_MARKER) {
            files.push((safe_name(name.trim_end()), String::new()));
        } else if let Some(last) = files.last_mut() {
            last.1.push_str(line);
        }
    }
    for (name, contents) in files {
        let path = root.join(&name);
        if let Some(parent) = path.parent() {
            if fs_err::create_dir_all(parent).is_err() {
                continue;
            }
        }
        // A name that is already a folder (or under a file) is skipped: not what is tested.
        let _ = fs_err::write(path, contents);
    }
}

fn safe_name(name: &str) -> String {
    let parts: Vec<&str> = name
        .split('/')
        .filter(|part| !part.is_empty() && *part != "." && *part != "..")
        .collect();
    if parts.is_empty() {
        "included.yml".to_owned()
    } else {
        parts.join("/")
    }
}

fn render_all(diagnostics: &[Diagnostic], sources: &meltc::diagnostics::SourceMap) {
    let style = render::Style {
        color: false,
        width: 80,
    };
    let _ = render::human(diagnostics, sources, style);
    let json = render::json(diagnostics, sources);
    serde_json::from_str::<Value>(&json).expect("the JSON report is JSON");
    for diagnostic in diagnostics {
        let _ = render::plain_line(diagnostic, sources);
    }
}

/// `${VAR}` templates: parsing, expansion, display, and JSON values of templates.
pub fn expand(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let template = Template::parse(&text);
    let unset = template.expand(&|_| None);
    let literals: Vec<&str> = template
        .parts()
        .iter()
        .filter_map(|part| match part {
            Part::Literal(text) => Some(text.as_str()),
            Part::Variable { .. } => None,
        })
        .collect();
    assert_eq!(
        unset,
        literals.concat(),
        "unset variables expand to nothing"
    );
    assert!(
        template.references().count() <= text.matches('$').count(),
        "every reference starts at a `$`"
    );
    // One pass: a value that looks like a reference is never expanded again.
    let once = template.expand(&|_| Some("${X}"));
    assert_eq!(
        once.matches("${X}").count(),
        template.references().count()
            + literals
                .iter()
                .map(|literal| literal.matches("${X}").count())
                .sum::<usize>()
    );
    let _ = template.display();
    assert_eq!(
        Template::literal(&text).expand(&|_| Some("value")),
        text,
        "a literal is never expanded"
    );
    assert_eq!(
        meltc::meltano::template::has_reference(&text),
        !template.is_literal()
    );
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        let config = ConfigValue::from_json(&value);
        let _ = config.references();
        let _ = config.expand(&|_| Some("value"));
        assert_eq!(ConfigValue::literal(&value).expand(&|_| Some("x")), value);
    }
}

/// Select patterns: `fnmatch` on a name, and the selection rules applied to a catalog.
///
/// Input: line 1 holds patterns separated by `,`, line 2 a name, the rest a JSON catalog.
pub fn select_match(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.splitn(3, '\n');
    let patterns: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split(',')
        .map(str::to_owned)
        .collect();
    let name = lines.next().unwrap_or_default();
    for pattern in &patterns {
        let _ = catalog::fnmatch(name, pattern);
        if !pattern.contains(['*', '?', '[']) {
            assert_eq!(catalog::fnmatch(name, pattern), name == pattern);
        }
    }
    assert!(catalog::fnmatch(name, "*"), "`*` matches everything");
    assert!(
        name.contains(['*', '?', '[']) || catalog::fnmatch(name, name),
        "a name without wildcards matches itself"
    );
    let Ok(mut value) = serde_json::from_str::<Value>(lines.next().unwrap_or_default()) else {
        return;
    };
    let rules = Rules {
        select: patterns.clone(),
        select_filter: patterns.iter().take(1).cloned().collect(),
        ..Rules::default()
    };
    if catalog::apply(&mut value, &rules).is_ok() {
        let once = value.clone();
        catalog::apply(&mut value, &rules).expect("a selected catalog is still valid");
        assert_eq!(value, once, "selection is idempotent");
        let _ = catalog::catalog_file(&value);
    }
}

/// The stored state document: parse, write back, merge, and the state IDs and patterns that
/// name it.
pub fn state_document(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(parsed) = StateDocument::parse(&text) {
        let written = parsed.to_json();
        let again = StateDocument::parse(&written).expect("a written document reads back");
        assert_eq!(again.to_json(), written, "writing is stable");
        let merged = parsed.merged();
        let _ = document::tap_state_file(&merged);
        let _ = parsed.is_complete();
        let updated = StateDocument::updated(Some(parsed.clone()), parsed.clone());
        let _ = updated.to_json();
    }
    let _ = StateId::new(text.as_ref());
    if let Ok(pattern) = StatePattern::new(&text) {
        let _ = pattern.matches(&text);
    }
}
