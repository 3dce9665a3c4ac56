//! `meltc graph`: its output goes through the real renderers. The golden cases
//! (`golden/graph-*`) pin the exact text; here Mermaid's own parser (npm `mermaid`, from
//! scripts/setup-test-env `--node`) reads every Mermaid output and Graphviz's `dot`
//! (Debian `graphviz`, `--system`) renders every DOT output to SVG.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{meltc, repo, test_home};

const EXAMPLE: &str = "examples/lakehouse";

/// The golden cases' expected graphs, by format.
fn golden_graphs(dot: bool) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs_err::read_dir(repo().join("golden"))
        .unwrap()
        .flatten()
        .map(|entry| entry.path().join("expected/stdout"))
        .filter(|path| path.to_string_lossy().contains("/graph-"))
        .filter(|path| {
            let text = fs_err::read_to_string(path).unwrap_or_default();
            !text.is_empty() && text.starts_with("digraph") == dot
        })
        .collect();
    files.sort();
    files
}

/// `meltc graph ARGS` on the example, which must succeed.
fn example_graph(args: &[&str]) -> String {
    let run = meltc(&repo(), &[&["-C", EXAMPLE, "graph"], args].concat());
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout
}

/// The example's graph in `format` for no environment and each of its environments, written
/// into `dir`.
fn example_graphs(dir: &Path, format: &str) -> Vec<PathBuf> {
    ["", "dev", "staging", "prod"]
        .iter()
        .map(|environment| {
            let mut args = vec!["--format", format];
            if !environment.is_empty() {
                args.extend(["--env", environment]);
            }
            let path = dir.join(format!("example-{environment}.{format}"));
            fs_err::write(&path, example_graph(&args)).unwrap();
            path
        })
        .collect()
}

#[test]
fn mermaid_parses_every_mermaid_graph() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = golden_graphs(false);
    assert!(files.len() >= 2, "{files:?}");
    files.extend(example_graphs(dir.path(), "mermaid"));
    let mermaid = test_home().join("node/node_modules/mermaid");
    assert!(
        mermaid.is_dir(),
        "Mermaid is not installed at {}: run scripts/setup-test-env --node",
        mermaid.display()
    );
    let output = Command::new("node")
        .arg(repo().join("scripts/node/mermaid-parse.mjs"))
        .args(&files)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout.matches(" flowchart").count(),
        files.len(),
        "every file is a flowchart:\n{stdout}"
    );
}

#[test]
fn graphviz_renders_every_dot_graph() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = golden_graphs(true);
    assert!(!files.is_empty());
    files.extend(example_graphs(dir.path(), "dot"));
    for file in &files {
        let output = Command::new("dot")
            .arg("-Tsvg")
            .arg(file)
            .output()
            .expect("`dot` runs (Debian graphviz: scripts/setup-test-env --system)");
        let svg = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && output.stderr.is_empty(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(svg.contains("<svg"), "{}", file.display());
    }
}

/// Environments change values, never structure: every environment draws the same graph under
/// its own title, and a second run prints the same bytes.
#[test]
fn every_environment_draws_the_same_graph() {
    let base = example_graph(&[]);
    assert_eq!(base, example_graph(&[]));
    assert!(base.starts_with("%% meltc graph: no environment\nflowchart LR\n"));
    for environment in ["dev", "staging", "prod"] {
        let graph = example_graph(&["--env", environment]);
        assert_eq!(
            graph.replace(&format!("environment {environment}"), "no environment"),
            base
        );
    }
    // Every job of the example is drawn, with each of its tasks.
    for job in [
        "postgres-to-lake",
        "github-to-lake",
        "all-to-lake",
        "postgres-to-jsonl",
    ] {
        assert!(base.contains(&format!("[\"{job}\"]:::job")), "{job}");
    }
    assert!(base.contains("t_all_to_lake_2(\"tap-github target-s3\"):::task"));
}

/// The README shows the example's real graph.
#[test]
fn readme_shows_the_example_graph() {
    let readme = fs_err::read_to_string(repo().join("README.md")).unwrap();
    let graph = example_graph(&[]);
    assert!(
        readme.contains(&format!("```mermaid\n{graph}```\n")),
        "README.md's ```mermaid block differs from `meltc -C {EXAMPLE} graph`:\n{graph}"
    );
}
