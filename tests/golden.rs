//! The golden runner: one folder per case under `golden/`.
//!
//! ```text
//! golden/<case>/README.md        one line: why the case exists
//! golden/<case>/project/...      the input (the command runs with this as working directory)
//! golden/<case>/args             the meltc arguments, one per line (default: `validate`)
//! golden/<case>/env              optional `NAME=value` lines: the command's whole environment
//! golden/<case>/expected/stdout  expected standard output
//! golden/<case>/expected/stderr  expected standard error
//! golden/<case>/expected/exit-code
//! ```
//!
//! Every case is compared exactly; the exact set of expected files is checked too.
//! `MELTC_BLESS=1 cargo test golden` rewrites `expected/`: read the diff before committing it.

use std::fmt::Write as _;
use std::path::Path;

use crate::support::{bless, case_env, diff, meltc_isolated, repo};

const EXPECTED_FILES: [&str; 3] = ["exit-code", "stderr", "stdout"];

#[test]
fn golden_cases() {
    let root = repo().join("golden");
    let mut cases: Vec<_> = fs_err::read_dir(&root)
        .expect("golden/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 40,
        "expected at least 40 golden cases, found {}",
        cases.len()
    );
    let mut failures = String::new();
    for case in &cases {
        if let Err(message) = run_case(case) {
            let _ = writeln!(
                failures,
                "=== {}\n{message}",
                case.file_name().unwrap_or_default().to_string_lossy()
            );
        }
    }
    assert!(
        failures.is_empty(),
        "golden cases differ (MELTC_BLESS=1 to rewrite, then read the diff):\n{failures}"
    );
}

fn run_case(case: &Path) -> Result<(), String> {
    if !case.join("README.md").is_file() {
        return Err("missing README.md saying why the case exists".to_owned());
    }
    let args_text =
        fs_err::read_to_string(case.join("args")).unwrap_or_else(|_| "validate\n".to_owned());
    let args: Vec<&str> = args_text.lines().filter(|line| !line.is_empty()).collect();
    let run = meltc_isolated(&case.join("project"), &args, &case_env(case));
    let actual = [format!("{}\n", run.code), run.stderr, run.stdout];
    let expected_dir = case.join("expected");
    if bless() {
        fs_err::create_dir_all(&expected_dir).map_err(|e| e.to_string())?;
        for (name, text) in EXPECTED_FILES.iter().zip(&actual) {
            fs_err::write(expected_dir.join(name), text).map_err(|e| e.to_string())?;
        }
        return Ok(());
    }
    let mut present: Vec<String> = fs_err::read_dir(&expected_dir)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    present.sort();
    if present != EXPECTED_FILES {
        return Err(format!(
            "expected/ holds {present:?}, not exactly {EXPECTED_FILES:?}"
        ));
    }
    let mut problems = String::new();
    for (name, text) in EXPECTED_FILES.iter().zip(&actual) {
        let expected =
            fs_err::read_to_string(expected_dir.join(name)).map_err(|e| e.to_string())?;
        if &expected != text {
            let _ = writeln!(problems, "--- {name}\n{}", diff(&expected, text));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

#[test]
fn every_diagnostic_code_has_a_golden_case() {
    let root = repo().join("golden");
    let mut seen = std::collections::BTreeSet::new();
    for entry in walkdir::WalkDir::new(&root).into_iter().flatten() {
        if entry.file_name() == "stderr" || entry.file_name() == "stdout" {
            let text = fs_err::read_to_string(entry.path()).unwrap_or_default();
            for code in meltc::diagnostics::codes::ALL {
                if text.contains(code.name) {
                    seen.insert(code.name);
                }
            }
        }
    }
    let missing: Vec<_> = meltc::diagnostics::codes::ALL
        .iter()
        .map(|c| c.name)
        .filter(|name| !seen.contains(name))
        .collect();
    assert!(
        missing.is_empty(),
        "codes without a golden case: {missing:?}"
    );
}
