//! The `meltc-validate` pre-commit hook, run by the real `pre-commit` (installed by
//! scripts/setup-test-env) in a temporary git repository: a broken meltano.yml is refused with
//! its located message, a clean one is committed.

use std::process::Command;

use crate::support::{git, git_command, repo, tool};

#[test]
fn hook_refuses_a_broken_project_and_accepts_a_fixed_one() {
    let pre_commit = tool("pre-commit");
    // The hook is taken from this repository's working tree through a snapshot commit, so that
    // uncommitted changes to .pre-commit-hooks.yaml are what is tested.
    let snapshot = tempfile::tempdir().unwrap();
    let status = Command::new("git")
        .args(["clone", "-q", "--no-hardlinks"])
        .arg(repo())
        .arg(snapshot.path())
        .status()
        .unwrap();
    assert!(status.success());
    fs_err::copy(
        repo().join(".pre-commit-hooks.yaml"),
        snapshot.path().join(".pre-commit-hooks.yaml"),
    )
    .unwrap();
    git(snapshot.path(), &["add", ".pre-commit-hooks.yaml"]);
    // Fixed dates give the same commit for the same tree, so pre-commit reuses the hook's
    // built environment across runs instead of compiling meltc again.
    let dated = Command::new("git")
        .args([
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@example.invalid",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "hook under test",
        ])
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .current_dir(snapshot.path())
        .status()
        .unwrap();
    assert!(dated.success());
    let rev = String::from_utf8(git(snapshot.path(), &["rev-parse", "HEAD"]).stdout).unwrap();

    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    git(dir, &["init", "-q"]);
    let config = format!(
        "repos:\n- repo: {}\n  rev: {}\n  hooks:\n  - id: meltc-validate\n",
        snapshot.path().display(),
        rev.trim()
    );
    fs_err::write(dir.join(".pre-commit-config.yaml"), config).unwrap();
    let broken = "plugins:\n  extractors:\n  - name: tap-x\n    namespace: tap_x\n  loaders:\n  - name: target-y\n    namespace: target_y\njobs:\n- name: sync\n  tasks: [tap-x target-z]\n";
    fs_err::write(dir.join("meltano.yml"), broken).unwrap();
    let home = repo().join("target/pre-commit-home");
    // Everything that runs the hook gets the same environment: `pre-commit install` and, above
    // all, the `git commit`s, whose hook builds meltc with `cargo install` on first use.
    let hook_env = |command: &mut Command| {
        command
            .env("PRE_COMMIT_HOME", &home)
            // `cargo install` builds with the release profile, which nothing else in the suite
            // builds: optimised, that is a 9-minute compile of every crate on CI's 2 cores. The
            // hook's behaviour does not depend on optimisation, so the test builds it
            // unoptimised, in a target folder of its own (no thrashing with a real release
            // build) that later runs reuse.
            .env("CARGO_TARGET_DIR", repo().join("target/pre-commit-build"))
            .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
            .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "256")
            .env("CARGO_PROFILE_RELEASE_INCREMENTAL", "true")
            .env("NO_COLOR", "1");
    };
    let run = |args: &[&str]| {
        let mut command = Command::new(&pre_commit);
        command.args(args).current_dir(dir);
        hook_env(&mut command);
        command.output().expect("pre-commit runs")
    };
    let commit = |message: &str| {
        let mut command = git_command(dir, &["commit", "-q", "-m", message]);
        hook_env(&mut command);
        command.output().expect("git commit runs")
    };
    let installed = run(&["install"]);
    assert!(
        installed.status.success(),
        "{}",
        String::from_utf8_lossy(&installed.stderr)
    );
    git(dir, &["add", "."]);
    let refused = commit("broken");
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&refused.stdout),
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(
        !refused.status.success(),
        "the broken commit went through:\n{output}"
    );
    assert!(output.contains("meltc::ref::unknown-plugin"), "{output}");
    assert!(
        output.contains("meltano.yml:10:17"),
        "the message points at the typo:\n{output}"
    );
    assert!(output.contains("did you mean `target-y`?"), "{output}");

    fs_err::write(
        dir.join("meltano.yml"),
        broken.replace("target-z", "target-y"),
    )
    .unwrap();
    git(dir, &["add", "."]);
    let accepted = commit("fixed");
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&accepted.stdout),
        String::from_utf8_lossy(&accepted.stderr)
    );
    assert!(
        accepted.status.success(),
        "the fixed commit was refused:\n{output}"
    );
}
