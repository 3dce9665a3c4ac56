//! The emitters (Dockerfile, install script, Kubernetes, Dagster) checked by the real tools the
//! platform uses, on every generated artifact that is committed: the example's `deploy/` and
//! the golden builds. The tools come from `scripts/setup-test-env` (pins in
//! scripts/requirements/); a missing tool fails the test, never skips it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{meltc, repo, test_home, tool};

/// The Kubernetes version the manifests are validated against: the oldest minor that
/// `k8s-openapi`'s `v1_33` feature types, and the newest kubernetes-validate knows.
const KUBERNETES_VERSIONS: [&str; 2] = ["1.33.0", "1.37.0"];

/// Run `program` with `args`; panic with its output unless it exits 0.
fn run_ok(program: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let output = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|error| panic!("{}: {error}", program.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "{} {args:?} failed:\n{text}",
        program.display()
    );
    text
}

/// Every committed output folder of an environment (example and golden builds).
fn environment_folders() -> Vec<PathBuf> {
    let mut folders = Vec::new();
    for root in [
        repo().join("examples/lakehouse/deploy"),
        repo().join("golden-build"),
    ] {
        for entry in walkdir::WalkDir::new(root)
            .sort_by_file_name()
            .into_iter()
            .flatten()
        {
            if entry.file_name() == "manifest.json" {
                folders.push(entry.path().parent().unwrap().to_path_buf());
            }
        }
    }
    assert!(folders.len() >= 20, "only {} folders", folders.len());
    folders
}

fn files_named(name: &str) -> Vec<String> {
    environment_folders()
        .iter()
        .map(|folder| folder.join(name))
        .filter(|path| path.exists())
        .map(|path| path.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn every_folder_has_every_artifact() {
    for folder in environment_folders() {
        // The allow-list is the folder's own, or beside the Dockerfile when the image is built
        // from the project root (a plugin installs from the project's own folder).
        assert!(
            folder.join(".dockerignore").is_file()
                != folder.join("Dockerfile.dockerignore").is_file(),
            "{} needs exactly one of .dockerignore and Dockerfile.dockerignore",
            folder.display()
        );
        for file in [
            "Dockerfile",
            "install-plugins.sh",
            "k8s/kustomization.yaml",
            "k8s/configmap.yaml",
            "dagster/definitions.py",
        ] {
            assert!(
                folder.join(file).is_file(),
                "{} has no {file}",
                folder.display()
            );
        }
    }
}

#[test]
fn hadolint_is_clean_on_every_dockerfile() {
    let mut files = files_named("Dockerfile");
    files.push(
        repo()
            .join("docker/meltc/Dockerfile")
            .to_string_lossy()
            .into_owned(),
    );
    let args: Vec<&str> = ["--failure-threshold", "info", "--no-color"]
        .into_iter()
        .chain(files.iter().map(String::as_str))
        .collect();
    run_ok(&tool("hadolint"), &args, &[]);
}

#[test]
fn shellcheck_is_clean_on_every_install_script() {
    let files = files_named("install-plugins.sh");
    let args: Vec<&str> = files.iter().map(String::as_str).collect();
    run_ok(Path::new("shellcheck"), &args, &[]);
}

#[test]
fn kubernetes_validate_strict_accepts_every_manifest() {
    let mut files = Vec::new();
    for folder in environment_folders() {
        for entry in fs_err::read_dir(folder.join("k8s")).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            // kubernetes-validate has no schema for Kustomization (kustomize's own kind): it
            // only warns. Its content is checked by `kustomizations_list_their_folder`.
            if name.ends_with(".yaml") && name != "kustomization.yaml" {
                files.push(entry.path().to_string_lossy().into_owned());
            }
        }
    }
    assert!(files.len() >= 60, "only {} manifests", files.len());
    for version in KUBERNETES_VERSIONS {
        let args: Vec<&str> = ["--strict", "--quiet", "-k", version]
            .into_iter()
            .chain(files.iter().map(String::as_str))
            .collect();
        run_ok(&tool("kubernetes-validate"), &args, &[]);
    }
}

/// What `kubectl apply -k` would apply: every CronJob and the ConfigMap, never the example
/// Secret (applying it would overwrite the real values with empty ones).
#[test]
fn kustomizations_list_their_folder_but_not_the_secret() {
    for folder in environment_folders() {
        let k8s = folder.join("k8s");
        let text = fs_err::read_to_string(k8s.join("kustomization.yaml")).unwrap();
        let listed: Vec<&str> = text
            .lines()
            .filter_map(|line| line.strip_prefix("- "))
            .collect();
        let mut present: Vec<String> = fs_err::read_dir(&k8s)
            .unwrap()
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name != "kustomization.yaml" && name != "secret.example.yaml")
            .collect();
        present.sort();
        assert_eq!(listed, present, "{}", k8s.display());
    }
}

#[test]
fn checkov_reports_no_failed_check() {
    // One run over everything; a skip is an annotation (checkov.io/skipN) or a
    // `# checkov:skip=` comment that says why, inside the artifact.
    let mut args = vec![
        "--framework",
        "dockerfile",
        "kubernetes",
        "--compact",
        "--quiet",
        "--skip-download",
    ];
    let roots: Vec<String> = [
        repo().join("examples/lakehouse/deploy"),
        repo().join("golden-build"),
        // meltc's own image is held to the same bar (checkov ignores `-f` beside `-d`).
        repo().join("docker/meltc"),
    ]
    .iter()
    .map(|root| root.to_string_lossy().into_owned())
    .collect();
    for root in &roots {
        args.extend(["-d", root.as_str()]);
    }
    let output = run_ok(&tool("checkov"), &args, &[]);
    assert!(output.contains("Failed checks: 0"), "{output}");
    assert!(!output.contains("FAILED for resource"), "{output}");
}

/// `dagster definitions validate` on every environment of the example and the first of each
/// golden build (about 5 s each, three at a time), plus a 500-job generated project.
#[test]
fn dagster_loads_the_definitions() {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut seen_cases = std::collections::BTreeSet::new();
    for folder in environment_folders() {
        let case = folder.parent().unwrap().to_path_buf();
        if case.ends_with("deploy") || seen_cases.insert(case) {
            files.push(folder.join("dagster/definitions.py"));
        }
    }
    let big = big_project();
    files.push(big.path().join("deploy/env-0/dagster/definitions.py"));
    let names = names_project();
    files.push(names.path().join("deploy/prod/dagster/definitions.py"));
    let dagster = tool("dagster");
    let failures = std::sync::Mutex::new(Vec::new());
    let queue = std::sync::Mutex::new(files);
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                loop {
                    let Some(file) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let home = tempfile::tempdir().unwrap();
                    let output = Command::new(&dagster)
                        .args(["definitions", "validate", "-f"])
                        .arg(&file)
                        .env("DAGSTER_HOME", home.path())
                        .output()
                        .unwrap();
                    if !output.status.success() {
                        failures.lock().unwrap().push(format!(
                            "{}:\n{}",
                            file.display(),
                            String::from_utf8_lossy(&output.stderr)
                        ));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The generated benchmark project (300 extractors, 500 jobs, 200 schedules, 10
/// environments), built with every emitter.
fn big_project() -> tempfile::TempDir {
    let project = tempfile::tempdir().unwrap();
    let status = Command::new("python3")
        .arg(repo().join("bench/gen-project"))
        .arg(project.path())
        .status()
        .unwrap();
    assert!(status.success());
    let run = meltc(project.path(), &["build", "--all-envs"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    project
}

/// tests/fixtures/emit-names, built with every emitter.
fn names_project() -> tempfile::TempDir {
    let project = tempfile::tempdir().unwrap();
    crate::support::copy_tree(&repo().join("tests/fixtures/emit-names"), project.path());
    let run = meltc(project.path(), &["build", "--all-envs"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    project
}

/// Look-alike and overlong names: unique, valid for Kubernetes and Dagster, and accepted by
/// kubernetes-validate (Dagster loads them in `dagster_loads_the_definitions`).
#[test]
fn look_alike_and_long_names() {
    let project = names_project();
    let k8s = project.path().join("deploy/prod/k8s");
    let mut names: Vec<String> = fs_err::read_dir(&k8s)
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "configmap.yaml",
            "cronjob-a-very-long-schedule-name-that-goes-well-beyo-21ead1.yaml",
            "cronjob-load-jobs-8c42a4.yaml",
            "cronjob-load-jobs-bfc272.yaml",
            "kustomization.yaml"
        ]
    );
    let wrap = fs_err::read_to_string(k8s.join("cronjob-load-jobs-bfc272.yaml")).unwrap();
    assert!(wrap.contains("  schedule: \"0 0 * * 0,1,5,6\"\n"), "{wrap}");
    let files: Vec<String> = names
        .iter()
        .filter(|name| name.starts_with("cronjob-"))
        .map(|name| k8s.join(name).to_string_lossy().into_owned())
        .collect();
    let args: Vec<&str> = ["--strict", "--quiet", "-k", KUBERNETES_VERSIONS[0]]
        .into_iter()
        .chain(files.iter().map(String::as_str))
        .collect();
    run_ok(&tool("kubernetes-validate"), &args, &[]);
    let definitions =
        fs_err::read_to_string(project.path().join("deploy/prod/dagster/definitions.py")).unwrap();
    for literal in [
        "\"load-jobs\", \"load_jobs_8c42a4\", \"run_load_jobs_8c42a4\"",
        "\"load_jobs\", \"load_jobs_bfc272\", \"run_load_jobs_bfc272\"",
        "\"Load Jobs!\", \"Load_Jobs\", \"run_Load_Jobs\"",
    ] {
        assert!(definitions.contains(literal), "{literal}\n{definitions}");
    }
}

/// Names meltc makes for Kubernetes and Dagster are valid for them, on the big project too.
#[test]
fn generated_names_are_valid() {
    let big = big_project();
    let folder = big.path().join("deploy/env-0");
    let mut cronjobs = 0;
    for entry in fs_err::read_dir(folder.join("k8s")).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name
            .strip_prefix("cronjob-")
            .and_then(|n| n.strip_suffix(".yaml"))
        {
            cronjobs += 1;
            assert!(stem.len() <= 52, "{stem}");
            assert!(
                stem.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !stem.starts_with('-')
                    && !stem.ends_with('-'),
                "{stem}"
            );
        }
    }
    assert_eq!(cronjobs, 200);
    let manifest = meltc::manifest::Manifest::from_json(
        &fs_err::read_to_string(folder.join("manifest.json")).unwrap(),
    )
    .unwrap();
    assert!(manifest.jobs.len() >= 500);
    let definitions = fs_err::read_to_string(folder.join("dagster/definitions.py")).unwrap();
    assert_eq!(
        definitions.matches(": meltano_job(\n").count(),
        manifest.jobs.len()
    );
}

/// The install script the Dockerfile runs, run on this machine into a temporary prefix for
/// the example project: every virtualenv installs from its hashed lock and its plugin
/// answers. (tests/deploy.rs runs the same script inside a real image build.)
#[test]
fn install_script_makes_working_virtualenvs() {
    let folder = repo().join("examples/lakehouse/deploy/prod");
    let prefix = tempfile::tempdir().unwrap();
    let uv = test_home().join("venvs/_bootstrap/bin/uv");
    let cache = test_home().join("cache/uv");
    let locks = folder.join("locks");
    let venvs = [
        "extractors/tap-github",
        "extractors/tap-postgres",
        "loaders/target-jsonl",
        "loaders/target-s3",
        "utilities/dagster",
    ];
    let script = folder
        .join("install-plugins.sh")
        .to_string_lossy()
        .into_owned();
    let root = prefix.path().to_string_lossy().into_owned();
    let args: Vec<&str> = [script.as_str(), root.as_str()]
        .into_iter()
        .chain(venvs)
        .collect();
    run_ok(
        Path::new("sh"),
        &args,
        &[
            ("UV", &uv.to_string_lossy()),
            ("UV_CACHE_DIR", &cache.to_string_lossy()),
            ("MELTC_LOCKS", &locks.to_string_lossy()),
            ("PYTHON", "python3"),
            ("UV_PYTHON_DOWNLOADS", "never"),
        ],
    );
    for (venv, executable, answer) in [
        ("extractors/tap-postgres", "tap-postgres", "Version: 0.10.0"),
        ("extractors/tap-github", "tap-github", "Name: tap-github"),
        ("loaders/target-s3", "target-s3", "Name: target-s3"),
    ] {
        let program = prefix.path().join(venv).join("bin").join(executable);
        let text = run_ok(&program, &["--about"], &[]);
        assert!(text.contains(answer), "{executable} --about:\n{text}");
    }
    let target = prefix.path().join("loaders/target-jsonl/bin/target-jsonl");
    let text = run_ok(&target, &["--help"], &[]);
    assert!(text.contains("usage: target-jsonl"), "{text}");
    assert!(
        prefix
            .path()
            .join("utilities/dagster/bin/dagster_invoker")
            .exists()
    );
    // Exactly the locked versions, nothing more (`--require-hashes --no-deps`).
    let freeze = run_ok(
        &uv,
        &[
            "pip",
            "freeze",
            "--python",
            &prefix
                .path()
                .join("loaders/target-jsonl/bin/python")
                .to_string_lossy(),
        ],
        &[],
    );
    let lock = fs_err::read_to_string(locks.join("loaders/target-jsonl.txt")).unwrap();
    for line in freeze.lines().filter(|line| line.contains("==")) {
        assert!(lock.contains(line), "{line} is not in the lock");
    }
}

/// Plugins installed from the project's own folders (golden-build/local-plugins): the install
/// script, run with uv as the image's build stage runs it (the folders where the Dockerfile
/// copies them, `MELTC_SOURCES`), installs each folder as a package, not editable, after the
/// hashed lock of its dependencies; meltc-run then runs the scheduled job with those
/// virtualenvs as the pod would (another working directory, only the pod's variables), twice,
/// the second run incremental.
#[test]
fn plugins_from_the_projects_folders_install_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    crate::support::copy_tree(&repo().join("golden-build/local-plugins/project"), &project);
    let build = meltc(&project, &["build", "--env", "prod"]);
    assert_eq!(build.code, 0, "{}", build.stderr);
    let folder = project.join("deploy/prod");
    let dockerfile = fs_err::read_to_string(folder.join("Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("COPY tap-internal /meltc/project/tap-internal\n"),
        "{dockerfile}"
    );
    // As the Dockerfile's COPY lines and allow-list carry them: the folders, no hidden files.
    let sources = dir.path().join("sources");
    for path in ["tap-internal", "plugins-src/target-internal"] {
        crate::support::copy_tree(&project.join(path), &sources.join(path));
    }
    fs_err::remove_file(sources.join("tap-internal/.env")).unwrap();
    let prefix = dir.path().join("opt-meltano");
    let uv = test_home().join("venvs/_bootstrap/bin/uv");
    let script = folder.join("install-plugins.sh");
    run_ok(
        Path::new("sh"),
        &[&script.to_string_lossy(), &prefix.to_string_lossy()],
        &[
            ("UV", &uv.to_string_lossy()),
            (
                "UV_CACHE_DIR",
                &test_home().join("cache/uv").to_string_lossy(),
            ),
            ("MELTC_LOCKS", &folder.join("locks").to_string_lossy()),
            ("MELTC_SOURCES", &sources.to_string_lossy()),
            ("PYTHON", "python3"),
            ("UV_PYTHON_DOWNLOADS", "never"),
        ],
    );
    let freeze = |venv: &str| {
        run_ok(
            &uv,
            &[
                "pip",
                "freeze",
                "--python",
                &prefix.join(venv).join("bin/python").to_string_lossy(),
            ],
            &[],
        )
    };
    let tap = freeze("extractors/tap-internal");
    assert!(tap.contains("six==1.16.0\n"), "{tap}");
    assert!(
        tap.lines()
            .any(|line| line.starts_with("tap-internal @ file://")),
        "installed from the copy: {tap}"
    );
    assert!(!tap.contains("-e "), "never editable: {tap}");
    assert!(freeze("loaders/target-internal").contains("target-internal @ file://"));
    assert!(!prefix.join("extractors/tap-sandbox").exists(), "left out");

    // The pod: its own working directory, the plugins where the image has them.
    let pod = dir.path().join("pod");
    fs_err::create_dir_all(&pod).unwrap();
    let out = dir.path().join("out.jsonl");
    let state = dir.path().join("state");
    let run = |job: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_meltc-run"))
            .args(["job", job])
            .current_dir(&pod)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("MELTC_MANIFEST", folder.join("manifest.json"))
            .env("MELTC_PLUGINS_DIR", &prefix)
            .env("TMPDIR", &pod)
            .env("STATE_URI", format!("file://{}", state.display()))
            .env("OUT_FILE", &out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{job}: {stderr}");
    };
    run("sync");
    run("sync");
    run("sync-eu");
    let records: Vec<u64> = fs_err::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["n"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(
        records,
        [1, 2, 3, 4, 5, 6, 1, 2],
        "incremental, then the inheriting tap"
    );
}

/// `--emit` picks emitters (the manifest is always written); an unknown name is a usage error.
#[test]
fn emit_selects_emitters() {
    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().to_string_lossy().into_owned();
    let example = repo().join("examples/lakehouse");
    let run = meltc(
        &example,
        &["build", "--env", "prod", "--out", &out_arg, "--emit", "k8s"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let prod = out.path().join("prod");
    assert!(prod.join("manifest.json").is_file());
    assert!(prod.join("k8s/kustomization.yaml").is_file());
    assert!(!prod.join("Dockerfile").exists());
    assert!(!prod.join("dagster").exists());
    let run = meltc(
        &example,
        &[
            "build",
            "--env",
            "prod",
            "--out",
            &out_arg,
            "--emit",
            "docker,helm",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("not an emitter; one of manifest, docker, k8s, dagster"),
        "{}",
        run.stderr
    );
}

/// One owner per schedule: with `--orchestrator dagster` the CronJobs are suspended and the
/// Dagster schedules run; by default the reverse.
#[test]
fn orchestrator_owns_the_schedules() {
    let example = repo().join("examples/lakehouse");
    let committed = example.join("deploy/prod");
    let cronjob =
        fs_err::read_to_string(committed.join("k8s/cronjob-postgres-nightly.yaml")).unwrap();
    assert!(cronjob.contains("  suspend: false\n"), "{cronjob}");
    let definitions = fs_err::read_to_string(committed.join("dagster/definitions.py")).unwrap();
    assert!(definitions.contains("DefaultScheduleStatus.STOPPED"));
    let manual =
        fs_err::read_to_string(committed.join("k8s/cronjob-postgres-to-jsonl-manual.yaml"))
            .unwrap();
    assert!(manual.contains("  suspend: true\n"), "{manual}");

    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().to_string_lossy().into_owned();
    let run = meltc(
        &example,
        &[
            "build",
            "--env",
            "prod",
            "--out",
            &out_arg,
            "--orchestrator",
            "dagster",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let prod = out.path().join("prod");
    let cronjob = fs_err::read_to_string(prod.join("k8s/cronjob-postgres-nightly.yaml")).unwrap();
    assert!(cronjob.contains("  suspend: true\n"), "{cronjob}");
    assert!(cronjob.contains("Dagster owns the schedules"), "{cronjob}");
    let definitions = fs_err::read_to_string(prod.join("dagster/definitions.py")).unwrap();
    assert!(definitions.contains("DefaultScheduleStatus.RUNNING"));
}

/// A lock written for another pip_url is refused with the command that fixes it.
#[test]
fn a_stale_requirements_lock_fails_the_build() {
    let copy = tempfile::tempdir().unwrap();
    crate::support::copy_tree(&repo().join("examples/lakehouse"), copy.path());
    let yml = copy.path().join("meltano.yml");
    let text = fs_err::read_to_string(&yml).unwrap();
    fs_err::write(
        &yml,
        text.replace("target-jsonl==0.1.4", "target-jsonl==0.1.3"),
    )
    .unwrap();
    let run = meltc(copy.path(), &["build", "--env", "prod", "--check"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "docker: `meltc/locks/loaders/target-jsonl.txt` was locked for pip_url `target-jsonl==0.1.4`, but `target-jsonl` now has `target-jsonl==0.1.3`: run `meltc lock --requirements`"
        ),
        "{}",
        run.stderr
    );
}

/// `meltc lock --requirements` with the real uv: a hashed lock per virtualenv, `unchanged` the
/// second time without asking the index, the git URL pinned to a tag flagged, and the build
/// installing from it.
#[test]
fn lock_requirements_writes_hashed_locks() {
    let project = tempfile::tempdir().unwrap();
    fs_err::write(
        project.path().join("meltano.yml"),
        "default_environment: prod\n\
         annotations: {meltc: {image: {python: '3.11'}}}\n\
         plugins:\n  loaders:\n  - name: target-jsonl\n    variant: andyh1203\n    pip_url: target-jsonl==0.1.4\n\
         \x20 - name: target-s3\n    namespace: target_s3\n    pip_url: git+https://github.com/crowemi/target-s3.git@3.2.0\n\
         environments:\n- name: prod\n",
    )
    .unwrap();
    let uv = test_home().join("venvs/_bootstrap/bin/uv");
    let env = [("UV", uv.to_str().unwrap())];
    let run = crate::support::meltc_with(project.path(), &["lock", "--requirements"], &env);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("locked loaders/target-jsonl (meltc/locks/loaders/target-jsonl.txt, Python 3.11 on x86_64-manylinux_2_28)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("flagged loaders/target-s3 (`git+https://github.com/crowemi/target-s3.git@3.2.0` pins the ref `3.2.0`, not a commit"),
        "{}",
        run.stderr
    );
    let lock = fs_err::read_to_string(project.path().join("meltc/locks/loaders/target-jsonl.txt"))
        .unwrap();
    assert!(lock.starts_with("# Generated by `meltc lock --requirements`"));
    assert!(
        lock.contains("target-jsonl==0.1.4 \\\n    --hash=sha256:"),
        "{lock}"
    );
    let again = crate::support::meltc_with(
        project.path(),
        &["lock", "--requirements"],
        &[("UV", "/nonexistent/uv")],
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stderr.contains("unchanged loaders/target-jsonl"),
        "{}",
        again.stderr
    );
    let run = meltc(project.path(), &["build", "--env", "prod"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let dockerfile = fs_err::read_to_string(project.path().join("deploy/prod/Dockerfile")).unwrap();
    assert!(
        dockerfile
            .contains("COPY locks/loaders/target-jsonl.txt /meltc/locks/loaders/target-jsonl.txt")
    );
    let script =
        fs_err::read_to_string(project.path().join("deploy/prod/install-plugins.sh")).unwrap();
    assert!(script.contains("--require-hashes --no-deps -r \"$locks/loaders/target-jsonl.txt\""));
    assert_eq!(
        fs_err::read_to_string(
            project
                .path()
                .join("deploy/prod/locks/loaders/target-jsonl.txt")
        )
        .unwrap(),
        lock
    );
}

/// A base image meltc did not pin says nothing of its Python: `image.python` is required with
/// `image.base`, since the requirement locks are compiled for it.
#[test]
fn a_custom_base_needs_its_python() {
    let copy = tempfile::tempdir().unwrap();
    crate::support::copy_tree(&repo().join("examples/lakehouse"), copy.path());
    let yml = copy.path().join("meltano.yml");
    let text = fs_err::read_to_string(&yml).unwrap();
    let base = "registry.example/python:3.12-slim@sha256:0000000000000000000000000000000000000000000000000000000000000000";
    fs_err::write(
        &yml,
        text.replacen(
            "      python: \"3.11\"\n",
            &format!("      base: {base}\n"),
            1,
        ),
    )
    .unwrap();
    let run = meltc(copy.path(), &["build", "--env", "prod", "--check"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "error: prod: docker: `annotations.meltc.image.base` `{base}` is set but `annotations.meltc.image.python` is not"
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("set `annotations.meltc.image.python` to the base image's Python version"),
        "{}",
        run.stderr
    );
}

/// The install script checks the image's Python against the locks' before installing: an
/// interpreter of another version stops the image build with what to set.
#[test]
fn install_script_refuses_another_python() {
    let folder = repo().join("examples/lakehouse/deploy/prod");
    let prefix = tempfile::tempdir().unwrap();
    // An interpreter that reports Python 3.12, as a base image with 3.12 would have.
    let python = prefix.path().join("python3.12");
    fs_err::write(&python, "#!/bin/sh\necho 3.12\n").unwrap();
    fs_err::set_permissions(&python, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let output = Command::new("sh")
        .arg(folder.join("install-plugins.sh"))
        .arg(prefix.path().join("venvs"))
        .arg("loaders/target-jsonl")
        .env("PYTHON", &python)
        .env("UV", "/nonexistent/uv")
        .env("MELTC_LOCKS", folder.join("locks"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "install-plugins.sh: `{}` is Python 3.12, but the plugin locks are for Python 3.11: set annotations.meltc.image.python to \"3.12\" and run `meltc lock --requirements`",
            python.display()
        )),
        "{stderr}"
    );
    assert!(!prefix.path().join("venvs").exists(), "nothing installed");
    // No interpreter at all.
    let output = Command::new("sh")
        .arg(folder.join("install-plugins.sh"))
        .arg(prefix.path().join("venvs"))
        .arg("loaders/target-jsonl")
        .env("PYTHON", "/nonexistent/python3.11")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(
            "install-plugins.sh: the image has no Python interpreter `/nonexistent/python3.11`"
        ),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
