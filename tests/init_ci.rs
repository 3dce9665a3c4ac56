//! `meltc init-ci`: the files it writes are accepted by their own tools (GitHub's workflow
//! schema through check-jsonschema's vendored copy, shellcheck, the real `pre-commit`), do what
//! they say on a real project, and never replace a user's file without `--force`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{copy_tree, git, git_command, meltc, repo, tool};

const WORKFLOW: &str = ".github/workflows/meltc.yml";
const SCRIPT: &str = "ci/meltc-check.sh";
const PRE_COMMIT: &str = ".pre-commit-config.yaml";

/// A git repository holding the example project (with its committed deploy/) in `meltano/`.
fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(
        &repo().join("examples/lakehouse"),
        &dir.path().join("meltano"),
    );
    git(dir.path(), &["init", "-q"]);
    dir
}

/// What hooks run with: the meltc under test first on PATH, pre-commit's cache in a temporary
/// home, no colour.
struct HookEnv {
    bin: tempfile::TempDir,
    home: tempfile::TempDir,
}

impl HookEnv {
    fn new() -> Self {
        let bin = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_meltc"), bin.path().join("meltc")).unwrap();
        Self {
            bin,
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn output(&self, command: &mut Command) -> Output {
        let path = format!(
            "{}:{}",
            self.bin.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        command
            .env("PATH", path)
            .env("PRE_COMMIT_HOME", self.home.path())
            .env("NO_COLOR", "1")
            .output()
            .expect("runs")
    }

    fn pre_commit(&self, root: &Path, args: &[&str]) -> Output {
        self.output(
            Command::new(tool("pre-commit"))
                .args(args)
                .current_dir(root),
        )
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn run_ok(program: &Path, args: &[&str], cwd: &Path) -> String {
    let output = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("{} runs: {e}", program.display()));
    assert!(
        output.status.success(),
        "{}: {}",
        program.display(),
        text(&output)
    );
    text(&output)
}

#[test]
fn writes_files_their_tools_accept_and_that_check_the_project() {
    let dir = repository();
    let root = dir.path();
    let run = meltc(root, &["-C", "meltano", "init-ci"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for name in [WORKFLOW, SCRIPT, PRE_COMMIT] {
        assert!(
            run.stderr.contains(&format!("wrote `{name}`")),
            "{}",
            run.stderr
        );
    }
    let workflow = fs_err::read_to_string(root.join(WORKFLOW)).unwrap();
    assert!(
        workflow.contains("meltc -C meltano validate --format github\n"),
        "{workflow}"
    );
    assert!(
        workflow.contains("meltc -C meltano build --all-envs --check\n"),
        "{workflow}"
    );
    // GitHub's workflow schema, vendored in check-jsonschema (no network).
    run_ok(
        &tool("check-jsonschema"),
        &["--builtin-schema", "vendor.github-workflows", WORKFLOW],
        root,
    );
    run_ok(Path::new("shellcheck"), &[SCRIPT], root);
    let checkov = run_ok(
        &tool("checkov"),
        &[
            "--framework",
            "github_actions",
            "--compact",
            "--quiet",
            "--skip-download",
            "-d",
            ".github",
        ],
        root,
    );
    assert!(
        checkov.contains("Passed checks") && !checkov.contains("FAILED for resource"),
        "{checkov}"
    );
    run_ok(&tool("pre-commit"), &["validate-config", PRE_COMMIT], root);
    use std::os::unix::fs::PermissionsExt as _;
    let mode = fs_err::metadata(root.join(SCRIPT))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);

    // The script checks the project from any working directory: clean, then a typo (exit 1
    // with the located message).
    let script = |cwd: &Path| {
        Command::new(root.join(SCRIPT))
            .current_dir(cwd)
            .env("MELTC", env!("CARGO_BIN_EXE_meltc"))
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let clean = script(&root.join("meltano"));
    assert!(clean.status.success(), "{}", text(&clean));
    let project = root.join("meltano/meltano.yml");
    let original = fs_err::read_to_string(&project).unwrap();
    fs_err::write(
        &project,
        original.replace(
            "- tap-github target-s3\n- name: all",
            "- tap-github target-s3x\n- name: all",
        ),
    )
    .unwrap();
    let broken = script(Path::new("/"));
    assert_eq!(broken.status.code(), Some(1), "{}", text(&broken));
    assert!(
        text(&broken).contains("did you mean `target-s3`?"),
        "{}",
        text(&broken)
    );

    // A second run changes nothing.
    fs_err::write(&project, original).unwrap();
    let again = meltc(root, &["-C", "meltano", "init-ci"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again
            .stderr
            .contains("`.github/workflows/meltc.yml` is up to date"),
        "{}",
        again.stderr
    );
    assert!(
        again
            .stderr
            .contains("already has the `meltc-validate` hook"),
        "{}",
        again.stderr
    );
}

/// The generated hook, run by the real pre-commit with the meltc under test on PATH (a local
/// `language: system` hook: nothing to build), refuses a broken commit and accepts the fix.
#[test]
fn the_pre_commit_hook_refuses_a_broken_commit() {
    let dir = repository();
    let root = dir.path();
    assert_eq!(meltc(root, &["-C", "meltano", "init-ci"]).code, 0);
    let hooks = HookEnv::new();
    let installed = hooks.pre_commit(root, &["install"]);
    assert!(installed.status.success(), "{}", text(&installed));
    let project = root.join("meltano/meltano.yml");
    let original = fs_err::read_to_string(&project).unwrap();
    fs_err::write(
        &project,
        original.replace("job: github-to-lake", "job: github-to-laek"),
    )
    .unwrap();
    git(root, &["add", "."]);
    let commit = || hooks.output(&mut git_command(root, &["commit", "-q", "-m", "change"]));
    let refused = commit();
    assert!(
        !refused.status.success(),
        "the broken commit went through:\n{}",
        text(&refused)
    );
    assert!(
        text(&refused).contains("meltc::ref::unknown-job"),
        "{}",
        text(&refused)
    );
    assert!(
        text(&refused).contains("meltano/meltano.yml:"),
        "{}",
        text(&refused)
    );
    fs_err::write(&project, original).unwrap();
    git(root, &["add", "."]);
    let accepted = commit();
    assert!(accepted.status.success(), "{}", text(&accepted));
}

#[test]
fn an_existing_pre_commit_config_is_extended_or_left_alone() {
    let dir = repository();
    let root = dir.path();
    let theirs = "# our hooks\nrepos:\n  - repo: local\n    hooks:\n      - id: no-tabs\n        name: no tabs\n        entry: \"\\t\"\n        language: pygrep\n";
    fs_err::write(root.join(PRE_COMMIT), theirs).unwrap();
    let run = meltc(root, &["-C", "meltano", "init-ci"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("added the `meltc-validate` hook to `.pre-commit-config.yaml`"),
        "{}",
        run.stderr
    );
    let merged = fs_err::read_to_string(root.join(PRE_COMMIT)).unwrap();
    assert!(merged.starts_with(theirs), "{merged}");
    assert!(
        merged.contains("\n  - repo: local\n    hooks:\n    - id: meltc-validate\n"),
        "{merged}"
    );
    // Both hooks run, each once.
    git(root, &["add", "."]);
    let ran = HookEnv::new().pre_commit(root, &["run", "--all-files"]);
    let output = text(&ran);
    assert!(ran.status.success(), "{output}");
    assert_eq!(output.matches("meltc validate").count(), 1, "{output}");
    assert_eq!(output.matches("no tabs").count(), 1, "{output}");

    // `repos:` is not the last key: the file is left byte for byte; the item is printed.
    let other = "repos:\n- repo: local\n  hooks: []\nci:\n  autofix_prs: false\n";
    fs_err::write(root.join(PRE_COMMIT), other).unwrap();
    let run = meltc(root, &["-C", "meltano", "init-ci"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        fs_err::read_to_string(root.join(PRE_COMMIT)).unwrap(),
        other
    );
    assert!(
        run.stderr.contains("cannot be extended safely"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout
            .starts_with("- repo: local\n  hooks:\n  - id: meltc-validate\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn files_are_replaced_only_with_force() {
    let dir = repository();
    let root = dir.path();
    let workflow: PathBuf = root.join(WORKFLOW);
    fs_err::create_dir_all(workflow.parent().unwrap()).unwrap();
    fs_err::write(&workflow, "name: ours\n").unwrap();
    let refused = meltc(root, &["-C", "meltano", "init-ci"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains(
            "`.github/workflows/meltc.yml` exists with other content; nothing was written"
        ),
        "{}",
        refused.stderr
    );
    assert_eq!(fs_err::read_to_string(&workflow).unwrap(), "name: ours\n");
    assert!(!root.join(SCRIPT).exists() && !root.join(PRE_COMMIT).exists());
    let forced = meltc(root, &["-C", "meltano", "init-ci", "--force"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert!(
        forced
            .stderr
            .contains("replaced `.github/workflows/meltc.yml`"),
        "{}",
        forced.stderr
    );

    // The project must be inside --dir; without a project there is nothing to check.
    let elsewhere = tempfile::tempdir().unwrap();
    let outside = meltc(
        root,
        &["-C", "meltano", "init-ci", "--dir"]
            .into_iter()
            .chain([elsewhere.path().to_str().unwrap()])
            .collect::<Vec<_>>(),
    );
    assert_eq!(outside.code, 2, "{}", outside.stderr);
    assert!(
        outside.stderr.contains("is not inside"),
        "{}",
        outside.stderr
    );
    let none = meltc(elsewhere.path(), &["init-ci"]);
    assert_eq!(none.code, 2, "{}", none.stderr);
    assert!(none.stderr.contains("no meltano.yml"), "{}", none.stderr);
    assert!(fs_err::read_dir(elsewhere.path()).unwrap().next().is_none());
}

/// The `run:` text of the workflow step named `name` in job `job`, read with meltc's YAML
/// parser (the text GitHub hands the runner's shell).
fn step_script(workflow: &str, job: &str, name: &str) -> String {
    let source = meltc::diagnostics::SourceFile::new(WORKFLOW, WORKFLOW, workflow);
    let parsed = meltc::yaml::parse(meltc::diagnostics::FileId(0), &source);
    let document = parsed.root.expect("the workflow is YAML").to_json();
    document["jobs"][job]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|step| step["name"] == name)
        .and_then(|step| step["run"].as_str())
        .unwrap_or_else(|| panic!("no step `{name}` in job `{job}`"))
        .to_owned()
}

#[test]
fn the_workflow_plans_every_deployed_environment_against_the_base_revision() {
    let dir = repository();
    let root = dir.path();
    let run = meltc(root, &["-C", "meltano", "init-ci"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for args in [&["add", "-A"][..], &["commit", "-q", "-m", "base"]] {
        let output = git(root, args);
        assert!(output.status.success(), "{}", text(&output));
    }
    let base = String::from_utf8(git(root, &["rev-parse", "HEAD"]).stdout).unwrap();
    // The pull request: the nightly schedule moves from 2:00 to 4:00.
    let meltano_yml = root.join("meltano/meltano.yml");
    let project = fs_err::read_to_string(&meltano_yml).unwrap();
    assert!(project.contains("interval: 0 2 * * *"));
    fs_err::write(
        &meltano_yml,
        project.replace("interval: 0 2 * * *", "interval: 0 4 * * *"),
    )
    .unwrap();

    let workflow = fs_err::read_to_string(root.join(WORKFLOW)).unwrap();
    let script = step_script(&workflow, "plan", "meltc plan against the base branch");
    let runner = tempfile::tempdir().unwrap();
    let summary = runner.path().join("summary.md");
    fs_err::write(&summary, "").unwrap();
    // GitHub runs `run:` with `bash -e`; the text is POSIX, so dash runs it too.
    for shell in ["bash", "sh"] {
        let hooks = HookEnv::new();
        let output = hooks.output(
            Command::new(shell)
                .args(["-e", "-c", &script])
                .current_dir(root)
                .env("BASE", base.trim())
                .env("RUNNER_TEMP", runner.path())
                .env("GITHUB_STEP_SUMMARY", &summary),
        );
        assert!(output.status.success(), "{shell}: {}", text(&output));
    }
    let plan = fs_err::read_to_string(runner.path().join("meltc-plan.md")).unwrap();
    for environment in ["dev", "prod", "staging"] {
        assert!(
            plan.contains(&format!("<!-- meltc-plan:{environment} -->\n### meltc plan: environment `{environment}` against `{}` (git revision)", base.trim())),
            "{plan}"
        );
    }
    assert_eq!(
        plan.matches("| changed | `postgres-nightly` | `job postgres-to-lake at 0 2 * * *` | `job postgres-to-lake at 0 4 * * *` |").count(),
        3,
        "{plan}"
    );
    // The job summary got each run's plan.
    let summary = fs_err::read_to_string(&summary).unwrap();
    assert_eq!(summary, plan.repeat(2));
    // shellcheck reads the step as the POSIX script it is.
    let checked = Command::new("shellcheck")
        .args(["-s", "sh", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().unwrap().write_all(script.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(checked.status.success(), "{}", text(&checked));

    // An environment the base revision deploys but the project no longer has is an error:
    // the step fails after writing the other plans.
    let renamed = fs_err::read_to_string(&meltano_yml)
        .unwrap()
        .replace("- name: staging", "- name: preprod");
    fs_err::write(&meltano_yml, renamed).unwrap();
    let hooks = HookEnv::new();
    let output = hooks.output(
        Command::new("sh")
            .args(["-e", "-c", &script])
            .current_dir(root)
            .env("BASE", base.trim())
            .env("RUNNER_TEMP", runner.path())
            .env("GITHUB_STEP_SUMMARY", runner.path().join("summary-2.md")),
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let plan = fs_err::read_to_string(runner.path().join("meltc-plan.md")).unwrap();
    assert!(plan.contains("<!-- meltc-plan:prod -->"), "{plan}");
}
