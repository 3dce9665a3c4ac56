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

#[test]
fn invoke_hands_a_singer_plugin_its_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path();
    copy_fixture(project);
    assert_eq!(meltc(project, &["build", "--env", "dev"]).code, 0);
    fs_err::create_dir_all(project.join("tmp")).unwrap();
    let env = [
        (
            "STATE_URI",
            format!("file://{}", project.join("state").display()),
        ),
        ("OUT_FILE", project.join("out.jsonl").display().to_string()),
        ("FAKE_TOKEN", "t0k3n-value".to_owned()),
        ("TMPDIR", project.join("tmp").display().to_string()),
    ];
    // The fake tap reads `--config` before anything else, as Singer taps do.
    let discovered = meltc_run(project, &["invoke", "tap-fake", "--discover"], &env);
    assert_eq!(discovered.code, 0, "{}", discovered.stderr);
    let catalog: serde_json::Value = serde_json::from_str(&discovered.stdout).unwrap();
    assert_eq!(catalog["streams"][0]["tap_stream_id"], "users");
    assert_eq!(
        fs_err::read_dir(project.join("tmp")).unwrap().count(),
        0,
        "the config file is removed afterwards"
    );
}

/// Every file under `folder` (relative paths), for "nothing else was written".
fn files_under(folder: &Path) -> Vec<String> {
    let mut files: Vec<String> = walkdir::WalkDir::new(folder)
        .into_iter()
        .flatten()
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| {
            entry
                .path()
                .strip_prefix(folder)
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    files.sort();
    files
}

/// `--allow-ephemeral-state`, both halves: the build refuses a scheduled incremental job on the
/// default `systemdb` (and on an explicit one) without the flag; with it, the manifest marks
/// the job, the CronJob says every run is a full sync, and meltc-run, run as the pod runs it
/// (a clean environment with only the pod's variables, `TMPDIR` its own), runs it as a full
/// sync twice, says so in its log, and writes no state anywhere. A backend the pod's own
/// environment names wins (state kept there); a job the build did not mark is refused.
#[test]
fn an_ephemeral_build_runs_full_syncs_and_keeps_no_state() {
    for backend in ["", "state_backend:\n  uri: systemdb\n"] {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("project");
        copy_fixture(&project);
        let yml = fs_err::read_to_string(project.join("meltano.yml")).unwrap();
        let yml = yml.replace("state_backend:\n  uri: ${STATE_URI}\n", backend);
        fs_err::write(project.join("meltano.yml"), &yml).unwrap();

        let refused = meltc(&project, &["build", "--env", "dev"]);
        assert_eq!(refused.code, 1, "{}", refused.stderr);
        assert!(
            refused.stderr.contains("meltc::build::state-lost"),
            "{}",
            refused.stderr
        );
        let build = meltc(
            &project,
            &["build", "--env", "dev", "--allow-ephemeral-state"],
        );
        assert_eq!(build.code, 0, "{}", build.stderr);
        let manifest = meltc::manifest::Manifest::from_json(
            &fs_err::read_to_string(project.join("deploy/dev/manifest.json")).unwrap(),
        )
        .unwrap();
        assert!(!manifest.state.persistent);
        assert!(manifest.job("sync").unwrap().ephemeral_state);
        let cronjob =
            fs_err::read_to_string(project.join("deploy/dev/k8s/cronjob-sync-hourly.yaml"))
                .unwrap();
        assert!(cronjob.contains("EVERY RUN IS A FULL SYNC"), "{cronjob}");

        let tmp = dir.path().join("tmp");
        fs_err::create_dir_all(&tmp).unwrap();
        let out = dir.path().join("out.jsonl");
        let pod = [
            ("OUT_FILE", out.display().to_string()),
            ("FAKE_TOKEN", "t0k3n-value".to_owned()),
            ("TMPDIR", tmp.display().to_string()),
        ];
        let before = files_under(&project);
        for run in 1..=2 {
            let ran = meltc_run(&project, &["job", "sync"], &pod);
            assert_eq!(ran.code, 0, "run {run}: {}", ran.stderr);
            assert!(
                ran.stderr.contains(
                    "job `sync` was built with --allow-ephemeral-state: environment `dev` keeps state in `systemdb`, which this pod loses, so `tap-fake` runs as a full sync and no state is read or written"
                ),
                "{}",
                ran.stderr
            );
            assert!(
                ran.stderr
                    .contains("tap-fake -> target-fake: 1 state received, none stored"),
                "{}",
                ran.stderr
            );
        }
        assert_eq!(records(&out), [1, 2, 3, 1, 2, 3], "two full syncs");
        assert_eq!(files_under(&project), before, "no state file anywhere");
        assert_eq!(fs_err::read_dir(&tmp).unwrap().count(), 0);

        // The pod's own MELTANO_STATE_BACKEND_URI wins over meltano.yml: state is kept there.
        let state_dir = dir.path().join("state");
        let mut kept = pod.to_vec();
        kept.push((
            "MELTANO_STATE_BACKEND_URI",
            format!("file://{}", state_dir.display()),
        ));
        for _ in 0..2 {
            let ran = meltc_run(&project, &["job", "sync"], &kept);
            assert_eq!(ran.code, 0, "{}", ran.stderr);
            assert!(!ran.stderr.contains("state_ephemeral"), "{}", ran.stderr);
        }
        assert_eq!(records(&out)[6..], [1, 2, 3, 4, 5, 6], "incremental again");
        assert!(
            state_dir
                .join("dev:tap-fake-to-target-fake/state.json")
                .is_file()
        );

        // A build that did not allow it (no cron schedule, so nothing to refuse) marks no
        // job: meltc-run refuses the backend instead of a silent full sync.
        fs_err::write(
            project.join("meltano.yml"),
            yml.replace("  interval: '@hourly'", "  interval: '@manual'"),
        )
        .unwrap();
        let build = meltc(&project, &["build", "--env", "dev"]);
        assert_eq!(build.code, 0, "{}", build.stderr);
        let refused = meltc_run(&project, &["job", "sync"], &pod);
        assert_eq!(refused.code, 1, "{}", refused.stderr);
        assert!(
            refused
                .stderr
                .contains("or build with --allow-ephemeral-state to run its jobs as full syncs"),
            "{}",
            refused.stderr
        );
        assert_eq!(records(&out).len(), 12, "nothing ran");
    }
}
