//! Bad inputs that golden/ cannot hold. Here: the generated ones (size, randomness, depth),
//! each with a located error and exit 1 or 2, never a panic or a hang. In `cases`: the table of
//! files, links, full disks, broken output folders, stored state and manifests, run through
//! `table`. The committed ones live in golden/.

mod cases;
mod table;

use crate::support::meltc;

fn run_with(contents: &[u8]) -> crate::support::Run {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(dir.path().join("meltano.yml"), contents).unwrap();
    meltc(dir.path(), &["validate", "--format", "json"])
}

fn assert_located_error(run: &crate::support::Run, code: &str) {
    assert!(
        matches!(run.code, 1 | 2),
        "exit {}: {}{}",
        run.code,
        run.stdout,
        run.stderr
    );
    assert!(
        run.stdout.contains(code),
        "expected {code}:\n{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("\"line\""),
        "not located:\n{}",
        run.stdout
    );
}

#[test]
fn a_50_megabyte_file_is_read_and_rejected_with_a_location() {
    let mut text = String::from("plugins:\n  extractors:\n");
    let mut index = 0;
    while text.len() < 50 * 1024 * 1024 {
        text.push_str(&format!("  - name: tap-{index}\n    namespace: tap_{index}\n    config: {{host: db-{index}.example.internal, port: 5432}}\n"));
        index += 1;
    }
    text.push_str("  - name: [broken\n");
    let run = run_with(text.as_bytes());
    assert_located_error(&run, "meltc::yaml::syntax");
}

#[test]
fn random_bytes_never_panic() {
    // A fixed-seed xorshift: reproducible garbage, including NUL and invalid UTF-8.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for case in 0..24 {
        let length = 64 + case * 97;
        let bytes: Vec<u8> = (0..length)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect();
        let run = run_with(&bytes);
        assert!(
            matches!(run.code, 0..=2),
            "case {case}: exit {} (panic?)\n{}",
            run.code,
            run.stderr
        );
        assert!(
            !run.stderr.contains("panicked"),
            "case {case}: {}",
            run.stderr
        );
    }
}

#[test]
fn deep_nesting_and_long_lines_are_refused_cleanly() {
    assert_located_error(
        &run_with(format!("a: {}1{}\n", "[".repeat(10_000), "]".repeat(10_000)).as_bytes()),
        "meltc::yaml",
    );
    assert_located_error(
        &run_with(format!("a: {}\n", "{b: ".repeat(5_000)).as_bytes()),
        "meltc::yaml",
    );
    let long = format!(
        "plugins:\n  extractors:\n  - name: {}\n    namespace: x\n    inherit_from: y\n",
        "t".repeat(1_000_000)
    );
    let run = run_with(long.as_bytes());
    assert!(
        matches!(run.code, 0..=2) && !run.stderr.contains("panicked"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_huge_flat_project_validates() {
    let mut text = String::from("plugins:\n  extractors:\n");
    for index in 0..3000 {
        text.push_str(&format!(
            "  - name: tap-{index}\n    namespace: tap_{index}\n"
        ));
    }
    text.push_str("  loaders:\n  - name: target-x\n    namespace: target_x\njobs:\n");
    for index in 0..3000 {
        text.push_str(&format!(
            "- name: job-{index}\n  tasks: [tap-{index} target-x]\n"
        ));
    }
    let run = run_with(text.as_bytes());
    assert_eq!(run.code, 0, "{}", run.stdout);
}
