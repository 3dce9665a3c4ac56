//! `meltc build`, `--check` and `meltc diff`, run as a user runs them: the manifest schema,
//! golden outputs, determinism across machines, the secret canary, drift, atomic output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::{bless, copy_tree, diff, meltc, meltc_isolated, meltc_with, repo};

/// Every file under `folder`, relative path -> contents.
fn read_tree(folder: &Path) -> BTreeMap<String, String> {
    walkdir::WalkDir::new(folder)
        .sort_by_file_name()
        .into_iter()
        .flatten()
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| {
            let relative = entry
                .path()
                .strip_prefix(folder)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (relative, fs_err::read_to_string(entry.path()).unwrap())
        })
        .collect()
}

fn example() -> PathBuf {
    repo().join("examples/lakehouse")
}

#[test]
fn manifest_schema_file_is_generated_from_the_types() {
    let path = repo().join("schemas/manifest.schema.json");
    let generated = meltc::manifest::schema_json();
    if bless() {
        fs_err::write(&path, &generated).unwrap();
    }
    let on_disk = fs_err::read_to_string(&path).unwrap();
    assert!(
        on_disk == generated,
        "schemas/manifest.schema.json is stale: run `cargo run -- dev manifest-schema`\n{}",
        diff(&on_disk, &generated)
    );
}

#[test]
fn run_results_schema_file_is_generated_from_the_types() {
    let path = repo().join("schemas/run-results.schema.json");
    let generated = meltc::runtime::run_results::schema_json();
    if bless() {
        fs_err::write(&path, &generated).unwrap();
    }
    let on_disk = fs_err::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "schemas/run-results.schema.json is stale: run `cargo run -- dev run-results-schema`\n{}",
        diff(&on_disk, &generated)
    );
}

/// The example's committed `deploy/` is what `meltc build --all-envs` writes: the CI drift
/// check a user runs, on our own example.
#[test]
fn example_deploy_folder_has_no_drift() {
    let run = meltc(&example(), &["build", "--all-envs", "--check"]);
    assert_eq!(
        run.code, 0,
        "examples/lakehouse/deploy drifted; run `cargo run -- -C examples/lakehouse build --all-envs` and review:\n{}{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stderr.contains("no drift: 3 folders up to date"),
        "{}",
        run.stderr
    );
}

/// Golden builds: `golden-build/<case>/project/` holds the project (a real one copied in, with
/// `SOURCE.md` saying from where, and `overlay/` adding what the copy leaves out of the real
/// repository), `args` adds flags, `expected/` is the whole reviewed output folder of `meltc
/// build --all-envs`.
#[test]
fn golden_builds() {
    let root = repo().join("golden-build");
    let mut cases: Vec<PathBuf> = fs_err::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 8, "expected at least 8 golden builds");
    let mut failures = String::new();
    for case in &cases {
        let extra = fs_err::read_to_string(case.join("args")).unwrap_or_default();
        let out = tempfile::tempdir().unwrap();
        // Built in a copy, into its default `deploy/`: an image that installs a plugin from the
        // project is built from the project root, so its output folder must be inside it.
        copy_tree(&case.join("project"), out.path());
        // What the corpus leaves out of a real project (its plugins' own folders).
        if case.join("overlay").is_dir() {
            copy_tree(&case.join("overlay"), out.path());
        }
        let mut args = vec!["build", "--all-envs"];
        args.extend(extra.split_whitespace());
        let run = meltc(out.path(), &args);
        let built = out.path().join("deploy");
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        if run.code != 0 {
            failures.push_str(&format!("=== {name}: exit {}\n{}\n", run.code, run.stderr));
            continue;
        }
        let actual = read_tree(&built);
        let expected_dir = case.join("expected");
        if bless() {
            let _ = fs_err::remove_dir_all(&expected_dir);
            for (path, text) in &actual {
                let target = expected_dir.join(path);
                fs_err::create_dir_all(target.parent().unwrap()).unwrap();
                fs_err::write(target, text).unwrap();
            }
            continue;
        }
        let expected = read_tree(&expected_dir);
        if expected.keys().ne(actual.keys()) {
            failures.push_str(&format!(
                "=== {name}: files differ\nexpected {:?}\nactual   {:?}\n",
                expected.keys().collect::<Vec<_>>(),
                actual.keys().collect::<Vec<_>>()
            ));
            continue;
        }
        for (path, text) in &actual {
            if &expected[path] != text {
                failures.push_str(&format!(
                    "=== {name}/{path}\n{}",
                    diff(&expected[path], text)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "golden builds differ (MELTC_BLESS=1 to rewrite, then read the diff):\n{failures}"
    );
}

/// Every manifest meltc writes (example and golden builds) is valid against
/// schemas/manifest.schema.json and reads back into the same value.
#[test]
fn built_manifests_match_the_schema_and_read_back() {
    let validator = crate::support::manifest_validator();
    let mut manifests = Vec::new();
    for root in [example().join("deploy"), repo().join("golden-build")] {
        for entry in walkdir::WalkDir::new(root)
            .sort_by_file_name()
            .into_iter()
            .flatten()
        {
            if entry.file_name() == "manifest.json" {
                manifests.push(entry.path().to_path_buf());
            }
        }
    }
    assert!(
        manifests.len() >= 12,
        "found only {} manifests",
        manifests.len()
    );
    for path in manifests {
        let text = fs_err::read_to_string(&path).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|error| format!("{}: {error}", error.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
        let manifest = meltc::manifest::Manifest::from_json(&text)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        assert_eq!(
            manifest.to_json(),
            text,
            "{} does not round-trip",
            path.display()
        );
    }
}

/// The same project built from another working directory, with another `--out` spelling and a
/// different environment (variables, `.env`, `MELTANO_*`) gives byte-identical files.
#[test]
fn builds_are_byte_identical_across_machines() {
    let copy = tempfile::tempdir().unwrap();
    copy_tree(&example(), copy.path());
    let first = tempfile::tempdir().unwrap();
    let run = meltc_isolated(
        &example(),
        &[
            "build",
            "--all-envs",
            "--out",
            &first.path().to_string_lossy(),
        ],
        &[("PATH".into(), "/usr/bin:/bin".into())],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Another checkout, another cwd, a relative --out, a hostile environment and a `.env`.
    fs_err::write(
        copy.path().join(".env"),
        "PG_PASSWORD=from-dotenv\nGITHUB_TOKEN=x\n",
    )
    .unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let project = copy.path().to_string_lossy().into_owned();
    let run = meltc_with(
        cwd.path(),
        &["-C", &project, "build", "--all-envs", "--out", "out"],
        &[
            ("MELTANO_ENVIRONMENT", "dev"),
            ("MELTANO_STATE_BACKEND_URI", "file:///tmp/elsewhere"),
            ("TAP_POSTGRES_HOST", "other-host"),
            ("PG_USER", "someone-else"),
            ("TZ", "Pacific/Kiritimati"),
            ("LC_ALL", "C"),
            ("HOME", "/nonexistent"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (a, b) = (read_tree(first.path()), read_tree(&cwd.path().join("out")));
    assert!(a.len() >= 6, "{:?}", a.keys());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (path, text) in &a {
        assert!(
            text == &b[path],
            "{path} differs:\n{}",
            diff(text, &b[path])
        );
        assert!(
            !text.contains(&project) && !text.contains(&*repo().to_string_lossy()),
            "{path} holds an absolute path"
        );
    }
}

/// Every variable the manifests reference, and every env var a setting is read from, set to a
/// unique canary (in the process and in `.env`): no artifact contains any of them.
#[test]
fn no_artifact_contains_a_variable_value() {
    let copy = tempfile::tempdir().unwrap();
    copy_tree(&example(), copy.path());
    let plain = tempfile::tempdir().unwrap();
    let run = meltc(
        copy.path(),
        &[
            "build",
            "--all-envs",
            "--out",
            &plain.path().to_string_lossy(),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut names = std::collections::BTreeSet::new();
    for (path, text) in read_tree(plain.path()) {
        if !path.ends_with("manifest.json") {
            continue;
        }
        let manifest = meltc::manifest::Manifest::from_json(&text).unwrap();
        names.extend(manifest.variables.keys().cloned());
        for plugin in &manifest.plugins {
            for prefix in &plugin.read_prefixes {
                for setting in &plugin.settings {
                    names.insert(meltc::meltano::env_var::to_env_var(prefix, &setting.name));
                }
            }
        }
    }
    // meltc reads the project's location from it, by design; it is a path, not a value.
    names.remove("MELTANO_PROJECT_ROOT");
    assert!(names.len() > 50, "{names:?}");
    let canaries: Vec<(String, String)> = names
        .iter()
        .enumerate()
        .map(|(index, name)| (name.clone(), format!("canary{index:04}x7q")))
        .collect();
    let dotenv: String = canaries
        .iter()
        .map(|(name, value)| format!("{name}={value}d\n"))
        .collect();
    fs_err::write(copy.path().join(".env"), dotenv).unwrap();
    let out = tempfile::tempdir().unwrap();
    let env: Vec<(&str, &str)> = canaries
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let run = meltc_with(
        copy.path(),
        &[
            "build",
            "--all-envs",
            "--out",
            &out.path().to_string_lossy(),
        ],
        &env,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let files = read_tree(out.path());
    assert!(!files.is_empty());
    for (path, text) in files.iter().chain([
        (&"stderr".to_owned(), &run.stderr),
        (&"stdout".to_owned(), &run.stdout),
    ]) {
        assert!(!text.contains("x7q"), "{path} contains a canary value");
    }
}

#[test]
fn check_reports_drift_and_stale_files_and_writes_nothing() {
    let copy = tempfile::tempdir().unwrap();
    copy_tree(&example(), copy.path());
    let project = copy.path();
    // A user's own file in the output folder is never touched.
    fs_err::write(project.join("deploy/prod/NOTES.md"), "mine\n").unwrap();
    let run = meltc(project, &["build", "--env", "prod", "--check"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);

    let yml = project.join("meltano.yml");
    let text = fs_err::read_to_string(&yml).unwrap();
    fs_err::write(
        &yml,
        text.replace("interval: 0 2 * * *", "interval: 0 4 * * *"),
    )
    .unwrap();
    // An earlier build also generated `old.txt`.
    let index = project.join("deploy/prod/.meltc-generated");
    let listed = fs_err::read_to_string(&index).unwrap();
    fs_err::write(&index, format!("{listed}old.txt\n")).unwrap();
    fs_err::write(project.join("deploy/prod/old.txt"), "generated once\n").unwrap();
    let before = read_tree(&project.join("deploy"));
    let run = meltc(project, &["build", "--env", "prod", "--check"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("--- a/deploy/prod/manifest.json"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("-      \"cron\": \"0 2 * * *\""),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("+      \"cron\": \"0 4 * * *\""),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("stale: deploy/prod/old.txt"),
        "{}",
        run.stdout
    );
    assert_eq!(
        before,
        read_tree(&project.join("deploy")),
        "--check wrote something"
    );

    let run = meltc(
        project,
        &["build", "--env", "prod", "--check", "--format", "json"],
    );
    assert_eq!(run.code, 1);
    let document: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        document["drift"],
        serde_json::json!([
            {"path": "deploy/prod/dagster/definitions.py", "change": "changed"},
            {"path": "deploy/prod/k8s/cronjob-postgres-nightly.yaml", "change": "changed"},
            {"path": "deploy/prod/manifest.json", "change": "changed"},
            {"path": "deploy/prod/old.txt", "change": "stale"}
        ])
    );

    let run = meltc(project, &["build", "--env", "prod"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("built deploy/prod/: 3 written, 14 unchanged, 1 removed"),
        "{}",
        run.stderr
    );
    assert!(!project.join("deploy/prod/old.txt").exists());
    assert_eq!(
        fs_err::read_to_string(project.join("deploy/prod/NOTES.md")).unwrap(),
        "mine\n"
    );
    assert_eq!(
        meltc(project, &["build", "--env", "prod", "--check"]).code,
        0
    );
    // Other environments' folders are not touched by a one-environment build.
    assert_eq!(
        before["dev/manifest.json"],
        read_tree(&project.join("deploy"))["dev/manifest.json"]
    );
}

#[test]
fn a_failing_build_writes_nothing() {
    let copy = tempfile::tempdir().unwrap();
    copy_tree(&example(), copy.path());
    let project = copy.path();
    let before = read_tree(&project.join("deploy"));
    let yml = project.join("meltano.yml");
    let text = fs_err::read_to_string(&yml).unwrap();
    // prod loses its S3 state backend: its scheduled incremental jobs would start over each run.
    let broken = text.replace(
        "state_backend:\n  uri: s3://meltano-state/lakehouse",
        "state_backend:\n  uri: systemdb",
    );
    assert_ne!(broken, text);
    fs_err::write(&yml, broken).unwrap();
    let run = meltc(project, &["build", "--all-envs"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("meltc::build::state-lost"),
        "{}",
        run.stderr
    );
    assert_eq!(before, read_tree(&project.join("deploy")));
    let leftovers: Vec<_> = fs_err::read_dir(project.join("deploy"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("staging-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let run = meltc(project, &["build", "--all-envs", "--allow-ephemeral-state"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let manifest = fs_err::read_to_string(project.join("deploy/prod/manifest.json")).unwrap();
    assert!(manifest.contains("\"persistent\": false"));
}

#[test]
fn usage_errors() {
    let run = meltc(&example(), &["build"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("needs `--env NAME` or `--all-envs`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("dev, staging, prod"), "{}", run.stderr);
    // A project without environments builds without `--env`; other flags still apply.
    let plain = tempfile::tempdir().unwrap();
    fs_err::write(
        plain.path().join("meltano.yml"),
        "plugins:\n  extractors:\n  - name: tap-x\n    namespace: tap_x\n",
    )
    .unwrap();
    let run = meltc(plain.path(), &["build", "--check"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("+++ b/deploy/_no_environment/manifest.json"),
        "{}",
        run.stdout
    );
    assert!(!plain.path().join("deploy").exists(), "--check wrote files");
    let run = meltc(plain.path(), &["build", "--emit", "manifest"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        plain
            .path()
            .join("deploy/_no_environment/manifest.json")
            .is_file()
    );
    let run = meltc(&example(), &["build", "--env", "prd", "--check"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("did you mean `prod`"), "{}", run.stderr);
}

#[test]
fn diff_shows_what_promotion_changes() {
    let run = meltc(&example(), &["diff", "staging", "prod"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("--- staging\n+++ prod\n"),
        "{}",
        run.stdout
    );
    // Resolved values with their source; secrets stay references.
    for line in [
        "-extractors.tap-postgres.host = postgres.shop-staging.svc.cluster.local (environment)\n",
        "+extractors.tap-postgres.host = postgres.shop.svc.cluster.local (environment)\n",
        "-extractors.tap-postgres.ssl_enable = false (default)\n",
        "+extractors.tap-postgres.ssl_enable = true (environment)\n",
        "+environment.state_id_suffix = k8s\n",
        " extractors.tap-postgres.password = ${PG_PASSWORD} (meltano.yml, secret)\n",
    ] {
        assert!(
            run.stdout.contains(line),
            "missing {line:?} in\n{}",
            run.stdout
        );
    }
    assert!(
        run.stderr
            .contains("7 values differ between `staging` and `prod`"),
        "{}",
        run.stderr
    );
    assert!(!run.stdout.contains("x7q"));
    let run = meltc(&example(), &["diff", "prod", "prod"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains("are the same"));
    let run = meltc(&example(), &["diff", "staging", "prod", "--format", "json"]);
    let document: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let changes = document["changes"].as_array().unwrap();
    assert!(!changes.is_empty());
    assert!(changes.iter().all(|change| change["from"] != change["to"]));
}
