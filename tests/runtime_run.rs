//! `meltc-run job NAME` end to end on a built manifest: config from the pod's variables,
//! catalog discovery and selection, incremental state in Meltano's layout on a `file://`
//! backend, `--full-refresh`, `state get`, and a failing target. The plugins are small Singer
//! programs (tests/fixtures/runtime-fake/bin) so the test needs nothing installed; the real
//! taps, PostgreSQL and Garage are in the pipe and state tests.

use std::path::Path;
use std::process::Command;

use crate::support::{meltc, repo};

fn copy_fixture(to: &Path) {
    let from = repo().join("tests/fixtures/runtime-fake");
    for entry in walkdir::WalkDir::new(&from).into_iter().flatten() {
        let target = to.join(entry.path().strip_prefix(&from).unwrap());
        if entry.file_type().is_dir() {
            fs_err::create_dir_all(&target).unwrap();
        } else {
            fs_err::copy(entry.path(), &target).unwrap();
        }
    }
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

fn meltc_run(project: &Path, args: &[&str], env: &[(&str, String)]) -> Ran {
    let output = Command::new(env!("CARGO_BIN_EXE_meltc-run"))
        .args(args)
        .current_dir(project)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("MELTC_MANIFEST", project.join("deploy/dev/manifest.json"))
        .envs(env.iter().map(|(name, value)| (*name, value)))
        .output()
        .unwrap();
    Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The records the fake target wrote to `path`, in order.
pub fn records(path: &Path) -> Vec<u64> {
    fs_err::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["n"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

#[test]
fn a_job_runs_incrementally_with_meltano_state() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path();
    copy_fixture(project);
    let build = meltc(project, &["build", "--env", "dev"]);
    assert_eq!(build.code, 0, "{}", build.stderr);
    let state_dir = project.join("state");
    let out = project.join("out.jsonl");
    let env = [
        ("STATE_URI", format!("file://{}", state_dir.display())),
        ("OUT_FILE", out.display().to_string()),
        ("FAKE_TOKEN", "t0k3n-value".to_owned()),
    ];
    let first = meltc_run(project, &["job", "sync"], &env);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(records(&out), [1, 2, 3]);
    // The document Meltano writes, at Meltano's path.
    let stored =
        fs_err::read_to_string(state_dir.join("dev:tap-fake-to-target-fake/state.json")).unwrap();
    assert_eq!(
        stored,
        r#"{"completed": {"singer_state": {"bookmarks": {"users": {"n": 3}}}}, "partial": {}}"#
    );

    let second = meltc_run(project, &["job", "sync"], &env);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(
        records(&out),
        [1, 2, 3, 4, 5, 6],
        "the second run resumes from the bookmark"
    );

    let got = meltc_run(
        project,
        &["state", "get", "dev:tap-fake-to-target-fake"],
        &env,
    );
    assert_eq!(got.code, 0, "{}", got.stderr);
    assert_eq!(
        got.stdout,
        "{\"singer_state\":{\"bookmarks\":{\"users\":{\"n\":6}}}}\n"
    );

    let full = meltc_run(project, &["job", "sync", "--full-refresh"], &env);
    assert_eq!(full.code, 0, "{}", full.stderr);
    assert_eq!(records(&out)[6..], [1, 2, 3], "--full-refresh starts over");
    // Full refresh merges into `partial` (Meltano's `auto` strategy), keeping `completed`.
    let stored =
        fs_err::read_to_string(state_dir.join("dev:tap-fake-to-target-fake/state.json")).unwrap();
    assert_eq!(
        stored,
        r#"{"completed": {"singer_state": {"bookmarks": {"users": {"n": 6}}}}, "partial": {"singer_state": {"bookmarks": {"users": {"n": 3}}}}}"#
    );

    let suffixed = meltc_run(project, &["job", "sync", "--state-id-suffix", "blue"], &env);
    assert_eq!(suffixed.code, 0, "{}", suffixed.stderr);
    assert!(
        state_dir
            .join("dev:tap-fake-to-target-fake:blue/state.json")
            .is_file()
    );

    // No secret value reaches the log, and no run directory is left behind.
    for ran in [&first, &second, &full, &suffixed] {
        assert!(!ran.stderr.contains("t0k3n-value"), "{}", ran.stderr);
    }
}

#[test]
fn failures_exit_non_zero_and_keep_state() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path();
    copy_fixture(project);
    assert_eq!(meltc(project, &["build", "--env", "dev"]).code, 0);
    let state_dir = project.join("state");
    let env = [
        ("STATE_URI", format!("file://{}", state_dir.display())),
        // The target cannot open its output: it fails after reading nothing.
        (
            "OUT_FILE",
            project.join("missing/dir/out.jsonl").display().to_string(),
        ),
        ("FAKE_TOKEN", "x".to_owned()),
    ];
    let ran = meltc_run(project, &["job", "sync"], &env);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("tap-fake -> target-fake"),
        "{}",
        ran.stderr
    );
    assert!(
        !state_dir
            .join("dev:tap-fake-to-target-fake/state.json")
            .exists()
    );

    let unknown = meltc_run(project, &["job", "nope"], &env);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("its jobs: sync"),
        "{}",
        unknown.stderr
    );

    let missing = Command::new(env!("CARGO_BIN_EXE_meltc-run"))
        .args(["--manifest", "/nonexistent/manifest.json", "job", "sync"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("MELTC_MANIFEST"));

    let dry = meltc_run(project, &["run", "sync", "--dry-run"], &env);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(
        dry.stderr
            .contains("tap-fake | target-fake (state ID dev:tap-fake-to-target-fake)"),
        "{}",
        dry.stderr
    );
}
