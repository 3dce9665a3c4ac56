//! The bad-input table: one row per case, across `meltc validate`, `build`, `lock`, `config`,
//! `diff` and `meltc-run`. The committed golden cases (golden/, exit code 1 or 2) are the
//! other half of the suite; these are the ones a golden folder cannot hold (links, FIFOs,
//! full disks, broken output folders, stored state, a built manifest) or that need the runtime.

use std::os::unix::fs::symlink;
use std::path::Path;

use super::table::{CASE, Case, Tool, built_fixture, immutable, run_all};

const PROJECT: &str = "plugins:\n  extractors:\n  - name: tap-x\n    namespace: tap_x\n    pip_url: tap-x\n  loaders:\n  - name: target-y\n    namespace: target_y\n    pip_url: target-y\njobs:\n- name: sync\n  tasks: [tap-x target-y]\nenvironments:\n- name: dev\n";
/// A job runs `tap-local`, installed from the project's own folder `tap-local`.
const LOCAL_PROJECT: &str = "plugins:\n  extractors:\n  - name: tap-local\n    namespace: tap_local\n    pip_url: -e ./tap-local\n  loaders:\n  - name: target-y\n    namespace: target_y\n    pip_url: target-y\njobs:\n- name: sync\n  tasks: [tap-local target-y]\nenvironments:\n- name: dev\n";
const BROKEN_YAML: &str = "plugins:\n  extractors:\n  - name: [tap-x\n";
/// A mapper with a mapping (a mapping is a plugin too): `clean` gives the mapper's integer
/// setting a word.
const MAPPER_PROJECT: &str = "plugins:\n  extractors:\n  - name: tap-x\n    namespace: tap_x\n    pip_url: tap-x\n  loaders:\n  - name: target-y\n    namespace: target_y\n    pip_url: target-y\n  mappers:\n  - name: mapper-z\n    namespace: mapper_z\n    pip_url: mapper-z\n    settings:\n    - {name: batch_size, kind: integer}\n    mappings:\n    - name: clean\n      config: {batch_size: many}\njobs:\n- name: sync\n  tasks: [tap-x clean target-y]\nenvironments:\n- name: dev\n";
const HUB_PROJECT: &str = "plugins:\n  loaders:\n  - name: target-jsonl\n    variant: andyh1203\n";
const LOCK: &str = "plugins/loaders/target-jsonl--andyh1203.lock";
const STATE: &str = "state/dev:tap-fake-to-target-fake/state.json";
const STORED_STATE: &str =
    r#"{"completed": {"singer_state": {"bookmarks": {"users": {"n": 3}}}}, "partial": {}}"#;
const RUN_ENV: &[(&str, &str)] = &[
    ("STATE_URI", "file://{project}/state"),
    ("OUT_FILE", "{project}/out.jsonl"),
    ("FAKE_TOKEN", "t0k3n"),
];

fn project(root: &Path) {
    fs_err::write(root.join("meltano.yml"), PROJECT).unwrap();
}

/// A previous build of [`PROJECT`] in deploy/dev: what a failed build must leave alone.
fn built(root: &Path) {
    project(root);
    let run = crate::support::meltc(root, &["build", "--env", "dev"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

fn state(root: &Path, text: &str) {
    built_fixture(root);
    let path = root.join(STATE);
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(path, text).unwrap();
}

fn manifest(root: &Path, edit: impl Fn(&mut serde_json::Value)) {
    built_fixture(root);
    let path = root.join("deploy/dev/manifest.json");
    let mut value: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(&path).unwrap()).unwrap();
    edit(&mut value);
    fs_err::write(path, serde_json::to_string_pretty(&value).unwrap()).unwrap();
}

/// Replace `from` (which must be there) in the fixture's tap.
fn patch_tap(root: &Path, from: &str, to: &str) {
    let tap = root.join("bin/tap-fake");
    let text = fs_err::read_to_string(&tap).unwrap();
    assert!(text.contains(from), "{from}");
    fs_err::write(&tap, text.replace(from, to)).unwrap();
}

fn tap_script(root: &Path, script: &str) {
    built_fixture(root);
    let tap = root.join("bin/tap-fake");
    fs_err::write(&tap, script).unwrap();
}

#[test]
fn every_bad_input_gets_a_located_error_and_leaves_nothing_behind() {
    let count = run_all(&cases());
    assert!(count >= 50, "{count} cases");
}

#[allow(clippy::too_many_lines, reason = "a table: one row per case")]
fn cases() -> Vec<Case> {
    vec![
        // ------------------------------------------------------------ project files
        Case {
            name: "meltano-yml-is-a-fifo",
            args: &["validate"],
            setup: |root| {
                let status = std::process::Command::new("mkfifo")
                    .arg(root.join("meltano.yml"))
                    .status()
                    .unwrap();
                assert!(status.success());
            },
            exit: 2,
            message: "cannot read `meltano.yml`: not a regular file (a FIFO, socket or device)",
            ..CASE
        },
        Case {
            name: "meltano-yml-links-to-dev-zero",
            args: &["validate"],
            setup: |root| symlink("/dev/zero", root.join("meltano.yml")).unwrap(),
            exit: 2,
            message: "cannot read `meltano.yml`: not a regular file",
            ..CASE
        },
        Case {
            name: "meltano-yml-is-a-symlink-loop",
            args: &["validate"],
            setup: |root| symlink("meltano.yml", root.join("meltano.yml")).unwrap(),
            exit: 2,
            message: "meltano.yml",
            ..CASE
        },
        Case {
            name: "included-file-is-a-fifo",
            args: &["validate"],
            files: &[(
                "meltano.yml",
                "include_paths: ['./extra/*.yml']\nplugins: {}\n",
            )],
            setup: |root| {
                fs_err::create_dir_all(root.join("extra")).unwrap();
                let status = std::process::Command::new("mkfifo")
                    .arg(root.join("extra/pipe.yml"))
                    .status()
                    .unwrap();
                assert!(status.success());
            },
            exit: 1,
            message: "meltc::include::not-a-file",
            location: Some("meltano.yml:1:17"),
            ..CASE
        },
        Case {
            name: "include-folder-symlink-loop",
            args: &["validate"],
            files: &[(
                "meltano.yml",
                "include_paths: ['./extra/**/*.yml']\nplugins: {}\n",
            )],
            setup: |root| {
                fs_err::create_dir_all(root.join("extra")).unwrap();
                symlink("..", root.join("extra/loop")).unwrap();
                fs_err::write(root.join("extra/a.yml"), "jobs: []\n").unwrap();
            },
            exit: 0,
            message: "",
            ..CASE
        },
        Case {
            name: "include-symlink-escapes-root",
            args: &["validate"],
            files: &[(
                "meltano.yml",
                "include_paths: ['./extra/*.yml']\nplugins: {}\n",
            )],
            setup: |root| {
                fs_err::create_dir_all(root.join("extra")).unwrap();
                fs_err::write(root.join("../outside.yml"), "jobs: []\n").unwrap();
                symlink("../../outside.yml", root.join("extra/out.yml")).unwrap();
            },
            exit: 1,
            message: "meltc::include::outside-root",
            location: Some("meltano.yml:1:17"),
            ..CASE
        },
        Case {
            name: "include-folder-symlink-escapes-root",
            args: &["validate"],
            files: &[(
                "meltano.yml",
                "include_paths: ['./extra/**/*.yml']\nplugins: {}\n",
            )],
            setup: |root| {
                fs_err::create_dir_all(root.join("extra")).unwrap();
                fs_err::create_dir_all(root.join("../elsewhere")).unwrap();
                fs_err::write(root.join("../elsewhere/x.yml"), "jobs: []\n").unwrap();
                symlink("../../elsewhere", root.join("extra/away")).unwrap();
            },
            exit: 1,
            message: "meltc::include::outside-root",
            location: Some("meltano.yml:1:17"),
            ..CASE
        },
        Case {
            name: "include-parent-pattern",
            args: &["validate"],
            files: &[(
                "meltano.yml",
                "include_paths: ['./../*.yml']\nplugins: {}\n",
            )],
            setup: |root| fs_err::write(root.join("../sibling.yml"), "jobs: []\n").unwrap(),
            exit: 1,
            message: "outside the project root",
            location: Some("meltano.yml:1:17"),
            ..CASE
        },
        Case {
            name: "included-file-not-utf8",
            args: &["validate"],
            files: &[
                (
                    "meltano.yml",
                    "include_paths: ['./extra.yml']\nplugins: {}\n",
                ),
                ("extra.yml", "jobs:\n- name: caf\u{e9}\n"),
            ],
            setup: |root| {
                let path = root.join("extra.yml");
                let mut bytes = fs_err::read(&path).unwrap();
                bytes.extend_from_slice(b"- name: \xff\xfe\n");
                fs_err::write(path, bytes).unwrap();
            },
            exit: 1,
            message: "`extra.yml` is not UTF-8 text",
            location: Some("extra.yml:3:9"),
            ..CASE
        },
        // Meltano's YAML reader refuses a tab outside quotes, block scalars, comments and flow
        // collections, in included files too (vendor/saphyr-parser/MELTC.md).
        Case {
            name: "included-file-tab-outside-flow",
            args: &["validate"],
            files: &[
                (
                    "meltano.yml",
                    "include_paths: ['./extra.yml']\nplugins: {}\n",
                ),
                (
                    "extra.yml",
                    "jobs:\n- name: sync\n  tasks:\t[tap-x target-y]\n",
                ),
            ],
            exit: 1,
            message: "found a tab character that cannot start any token",
            location: Some("extra.yml:3:9"),
            ..CASE
        },
        Case {
            name: "included-file-control-character",
            args: &["validate"],
            files: &[
                (
                    "meltano.yml",
                    "include_paths: ['./extra.yml']\nplugins: {}\n",
                ),
                ("extra.yml", "jobs: # \u{7}\n- name: sync\n"),
            ],
            exit: 1,
            message: "the character U+0007 is not allowed",
            location: Some("extra.yml:1:9"),
            ..CASE
        },
        Case {
            name: "project-root-is-a-file",
            args: &["--project-root", "meltano.yml", "validate"],
            files: &[("meltano.yml", PROJECT)],
            exit: 2,
            message: "meltano.yml",
            ..CASE
        },
        Case {
            name: "project-root-missing",
            args: &["--project-root", "nowhere", "validate"],
            exit: 2,
            message: "nowhere",
            ..CASE
        },
        Case {
            name: "meltano-project-root-env-missing",
            args: &["validate"],
            env: &[("MELTANO_PROJECT_ROOT", "{project}/nowhere")],
            exit: 2,
            message: "nowhere",
            ..CASE
        },
        // ------------------------------------------------------------ build
        Case {
            name: "build-broken-yaml-writes-nothing",
            args: &["build", "--env", "dev"],
            files: &[("meltano.yml", BROKEN_YAML)],
            exit: 1,
            message: "meltc::yaml::syntax",
            location: Some("meltano.yml:4:1"),
            ..CASE
        },
        Case {
            name: "build-broken-yaml-keeps-previous-output",
            args: &["build", "--env", "dev"],
            setup: |root| {
                built(root);
                fs_err::write(root.join("meltano.yml"), BROKEN_YAML).unwrap();
            },
            exit: 1,
            message: "meltc::yaml::syntax",
            location: Some("meltano.yml:4:1"),
            ..CASE
        },
        Case {
            name: "build-tab-outside-flow-keeps-previous-output",
            args: &["build", "--env", "dev"],
            setup: |root| {
                built(root);
                let text = PROJECT.replace("pip_url: tap-x", "pip_url:\ttap-x");
                fs_err::write(root.join("meltano.yml"), text).unwrap();
            },
            exit: 1,
            message: "meltc::yaml::syntax",
            location: Some("meltano.yml:5:13"),
            ..CASE
        },
        Case {
            name: "build-unknown-environment",
            args: &["build", "--env", "prod"],
            setup: built,
            exit: 2,
            message: "prod",
            ..CASE
        },
        Case {
            name: "build-out-is-a-file",
            args: &["build", "--env", "dev", "--out", "out"],
            files: &[("meltano.yml", PROJECT), ("out", "not a folder\n")],
            exit: 2,
            message: "out",
            ..CASE
        },
        Case {
            name: "build-deploy-is-a-file",
            args: &["build", "--env", "dev"],
            files: &[("meltano.yml", PROJECT), ("deploy", "not a folder\n")],
            exit: 2,
            message: "deploy",
            ..CASE
        },
        Case {
            name: "build-env-folder-is-a-file",
            args: &["build", "--env", "dev"],
            files: &[("meltano.yml", PROJECT), ("deploy/dev", "not a folder\n")],
            exit: 2,
            message: "deploy/dev",
            ..CASE
        },
        Case {
            name: "build-out-is-a-symlink-loop",
            args: &["build", "--env", "dev", "--out", "out"],
            setup: |root| {
                project(root);
                symlink("out", root.join("out")).unwrap();
            },
            exit: 2,
            message: "out",
            ..CASE
        },
        Case {
            name: "build-over-a-user-file",
            args: &["build", "--env", "dev"],
            files: &[
                ("meltano.yml", PROJECT),
                ("deploy/dev/manifest.json", "{}\n"),
            ],
            exit: 2,
            message: "was not generated by meltc",
            ..CASE
        },
        Case {
            name: "build-index-is-a-folder",
            args: &["build", "--env", "dev"],
            setup: |root| {
                built(root);
                let index = root.join("deploy/dev/.meltc-generated");
                fs_err::remove_file(&index).unwrap();
                fs_err::create_dir_all(index).unwrap();
            },
            exit: 2,
            message: ".meltc-generated",
            ..CASE
        },
        Case {
            name: "build-full-disk-writes-nothing",
            args: &["build", "--env", "dev"],
            files: &[("meltano.yml", PROJECT)],
            file_size_limit_kib: Some(1),
            exit: 2,
            message: "File too large",
            ..CASE
        },
        Case {
            name: "build-full-disk-keeps-previous-output",
            args: &["build", "--env", "dev"],
            setup: |root| {
                built(root);
                let text = fs_err::read_to_string(root.join("meltano.yml")).unwrap();
                fs_err::write(
                    root.join("meltano.yml"),
                    text.replace("pip_url: tap-x\n", "pip_url: tap-x==2\n"),
                )
                .unwrap();
            },
            file_size_limit_kib: Some(1),
            exit: 2,
            message: "File too large",
            ..CASE
        },
        Case {
            name: "build-state-lost-keeps-previous-output",
            args: &["build", "--all-envs"],
            setup: |root| {
                built(root);
                let text = fs_err::read_to_string(root.join("meltano.yml")).unwrap();
                let text = text.replace(
                    "pip_url: tap-x\n",
                    "pip_url: tap-x\n    capabilities: [state]\n",
                );
                fs_err::write(
                    root.join("meltano.yml"),
                    format!(
                        "{text}schedules:\n- name: nightly\n  job: sync\n  interval: '@daily'\n"
                    ),
                )
                .unwrap();
            },
            exit: 1,
            message: "meltc::build::state-lost",
            location: Some("meltano.yml:17:9"),
            ..CASE
        },
        Case {
            name: "build-corrupt-lock-file",
            args: &["build", "--env", "dev"],
            files: &[
                (
                    "meltano.yml",
                    "plugins:\n  loaders:\n  - name: target-jsonl\n    variant: andyh1203\nenvironments:\n- name: dev\n",
                ),
                (LOCK, "{\"name\": \"target-jsonl\",\n  \"namespace\": \n"),
            ],
            exit: 1,
            message: "not valid JSON: EOF while parsing a value at line 3 column 0",
            location: Some("meltano.yml:3:11"),
            ..CASE
        },
        Case {
            name: "build-check-corrupt-output",
            args: &["build", "--env", "dev", "--check"],
            setup: |root| {
                built(root);
                fs_err::write(
                    root.join("deploy/dev/manifest.json"),
                    "{\"manifest_version\": 1",
                )
                .unwrap();
            },
            exit: 1,
            message: "deploy/dev/manifest.json",
            ..CASE
        },
        Case {
            name: "build-check-output-is-a-file",
            args: &["build", "--env", "dev", "--check"],
            files: &[("meltano.yml", PROJECT), ("deploy", "x\n")],
            exit: 1,
            message: "drift: 7 files differ",
            ..CASE
        },
        Case {
            name: "build-output-folder-immutable",
            args: &["build", "--env", "dev"],
            setup: |root| {
                built(root);
                let text = fs_err::read_to_string(root.join("meltano.yml")).unwrap();
                fs_err::write(
                    root.join("meltano.yml"),
                    text.replace("pip_url: tap-x\n", "pip_url: tap-x==2\n"),
                )
                .unwrap();
                immutable(&root.join("deploy"));
            },
            exit: 2,
            message: "Operation not permitted",
            ..CASE
        },
        // ------------------------------------------------------------ lock
        Case {
            name: "lock-truncated-json",
            args: &["lock"],
            files: &[
                ("meltano.yml", HUB_PROJECT),
                (LOCK, "{\"name\": \"target-jsonl\",\n"),
            ],
            exit: 1,
            message: "meltc::plugin::invalid-lock",
            location: Some("meltano.yml:3:11"),
            ..CASE
        },
        Case {
            name: "lock-file-is-a-json-list",
            args: &["lock"],
            files: &[("meltano.yml", HUB_PROJECT), (LOCK, "[1, 2]\n")],
            exit: 1,
            message: "meltc::plugin::invalid-lock",
            location: Some("meltano.yml:3:11"),
            ..CASE
        },
        Case {
            name: "lock-file-empty",
            args: &["lock"],
            files: &[("meltano.yml", HUB_PROJECT), (LOCK, "")],
            exit: 1,
            message: "meltc::plugin::invalid-lock",
            location: Some("meltano.yml:3:11"),
            ..CASE
        },
        Case {
            name: "lock-file-not-utf8",
            args: &["lock"],
            files: &[("meltano.yml", HUB_PROJECT)],
            setup: |root| {
                let path = root.join(LOCK);
                fs_err::create_dir_all(path.parent().unwrap()).unwrap();
                fs_err::write(path, b"{\"name\": \"\xff\"}\n").unwrap();
            },
            exit: 1,
            message: "meltc::plugin::invalid-lock",
            location: Some("meltano.yml:3:11"),
            ..CASE
        },
        Case {
            name: "lock-file-is-a-folder",
            args: &["lock"],
            files: &[
                ("meltano.yml", HUB_PROJECT),
                ("plugins/loaders/target-jsonl--andyh1203.lock/x", ""),
            ],
            exit: 2,
            message: "target-jsonl--andyh1203.lock",
            ..CASE
        },
        Case {
            name: "lock-plugins-is-a-file",
            args: &["lock"],
            files: &[("meltano.yml", HUB_PROJECT), ("plugins", "not a folder\n")],
            exit: 2,
            message: "plugins",
            ..CASE
        },
        Case {
            name: "lock-full-disk-leaves-no-temp-file",
            args: &["lock"],
            files: &[("meltano.yml", HUB_PROJECT)],
            file_size_limit_kib: Some(1),
            exit: 2,
            message: "File too large",
            may_write: &["plugins"],
            ..CASE
        },
        Case {
            name: "lock-update-full-disk-keeps-old-file",
            args: &["lock", "--update"],
            files: &[
                ("meltano.yml", HUB_PROJECT),
                (
                    LOCK,
                    "{\"plugin_type\": \"loaders\", \"name\": \"target-jsonl\", \"namespace\": \"old\", \"variant\": \"andyh1203\", \"pip_url\": \"old\"}\n",
                ),
            ],
            file_size_limit_kib: Some(1),
            exit: 2,
            message: "File too large",
            ..CASE
        },
        Case {
            name: "lock-broken-yaml",
            args: &["lock"],
            files: &[("meltano.yml", BROKEN_YAML)],
            exit: 1,
            message: "meltc::yaml::syntax",
            location: Some("meltano.yml:4:1"),
            ..CASE
        },
        Case {
            name: "lock-folder-immutable",
            args: &["lock"],
            files: &[("meltano.yml", HUB_PROJECT), ("plugins/loaders/.keep", "")],
            setup: |root| immutable(&root.join("plugins/loaders")),
            exit: 2,
            message: "cannot write `plugins/loaders/target-jsonl--andyh1203.lock`",
            ..CASE
        },
        // ------------------------------------------------------------ config and diff
        Case {
            name: "config-dotenv-is-a-folder",
            args: &["config", "tap-x"],
            files: &[("meltano.yml", PROJECT), (".env/x", "")],
            exit: 2,
            message: ".env",
            ..CASE
        },
        Case {
            name: "config-dotenv-not-utf8",
            args: &["config", "tap-x"],
            files: &[("meltano.yml", PROJECT)],
            setup: |root| fs_err::write(root.join(".env"), b"TAP_X_A=\xff\xfe\n").unwrap(),
            exit: 2,
            message: ".env",
            ..CASE
        },
        Case {
            name: "config-broken-yaml",
            args: &["config", "tap-x"],
            files: &[("meltano.yml", BROKEN_YAML)],
            exit: 1,
            message: "meltc::yaml::syntax",
            location: Some("meltano.yml:4:1"),
            ..CASE
        },
        Case {
            name: "config-yaml-1-1-directive",
            args: &["config", "tap-x"],
            files: &[(
                "meltano.yml",
                "%YAML 1.1\n---\nplugins:\n  extractors:\n  - name: tap-x\n    namespace: tap_x\n",
            )],
            exit: 1,
            message: "meltc::yaml::unsupported",
            location: Some("meltano.yml:1:7"),
            ..CASE
        },
        Case {
            name: "config-unknown-environment",
            args: &["config", "tap-x", "--env", "prod"],
            files: &[("meltano.yml", PROJECT)],
            exit: 2,
            message: "prod",
            ..CASE
        },
        Case {
            name: "config-corrupt-lock-file",
            args: &["config", "target-jsonl"],
            files: &[("meltano.yml", HUB_PROJECT), (LOCK, "{\"name\": 1,,}\n")],
            exit: 1,
            message: "meltc::plugin::invalid-lock",
            location: Some("meltano.yml:3:11"),
            ..CASE
        },
        Case {
            name: "diff-unknown-environment",
            args: &["diff", "dev", "prod"],
            files: &[("meltano.yml", PROJECT)],
            exit: 2,
            message: "prod",
            ..CASE
        },
        Case {
            name: "diff-broken-yaml",
            args: &["diff", "dev", "dev"],
            files: &[("meltano.yml", BROKEN_YAML)],
            exit: 1,
            message: "meltc::yaml::syntax",
            location: Some("meltano.yml:4:1"),
            ..CASE
        },
        Case {
            name: "diff-comment-before-plain-value",
            args: &["diff", "dev", "dev"],
            files: &[(
                "meltano.yml",
                "plugins:\n  extractors:\n  - name: tap-x\n    namespace: tap_x\n    config:\n      page_size: # rows\n        500\n\nenvironments:\n- name: dev\n",
            )],
            exit: 1,
            message: "overlap in comment",
            location: Some("meltano.yml:6:18"),
            ..CASE
        },
        // ------------------------------------------------------------ meltc-run: the manifest
        Case {
            name: "run-manifest-missing",
            tool: Tool::Run,
            args: &["job", "sync"],
            exit: 2,
            message: "set MELTC_MANIFEST or --manifest",
            ..CASE
        },
        Case {
            name: "run-manifest-not-json",
            tool: Tool::Run,
            args: &["job", "sync"],
            files: &[(
                "deploy/dev/manifest.json",
                "{\"manifest_version\": 1,\n  oops\n",
            )],
            exit: 2,
            message: "not a meltc manifest",
            location: Some("line 2 column 3"),
            ..CASE
        },
        Case {
            name: "run-manifest-empty",
            tool: Tool::Run,
            args: &["job", "sync"],
            files: &[("deploy/dev/manifest.json", "")],
            exit: 2,
            message: "not a meltc manifest",
            location: Some("line 1 column 0"),
            ..CASE
        },
        Case {
            name: "run-manifest-is-a-folder",
            tool: Tool::Run,
            args: &["job", "sync"],
            files: &[("deploy/dev/manifest.json/x", "")],
            exit: 2,
            message: "manifest.json",
            ..CASE
        },
        Case {
            name: "run-manifest-truncated",
            tool: Tool::Run,
            args: &["job", "sync"],
            setup: |root| {
                built_fixture(root);
                let path = root.join("deploy/dev/manifest.json");
                let text = fs_err::read_to_string(&path).unwrap();
                fs_err::write(&path, &text[..text.len() / 2]).unwrap();
            },
            exit: 2,
            message: "not a meltc manifest: EOF while parsing",
            ..CASE
        },
        Case {
            name: "run-manifest-other-version",
            tool: Tool::Run,
            args: &["job", "sync"],
            setup: |root| manifest(root, |m| m["manifest_version"] = 99.into()),
            exit: 2,
            message: "manifest_version",
            ..CASE
        },
        Case {
            name: "run-manifest-without-plugins",
            tool: Tool::Run,
            args: &["job", "sync"],
            setup: |root| {
                manifest(root, |m| {
                    m.as_object_mut().unwrap().remove("plugins");
                });
            },
            exit: 2,
            message: "plugins",
            ..CASE
        },
        Case {
            name: "run-manifest-job-names-a-missing-plugin",
            tool: Tool::Run,
            args: &["job", "sync"],
            env: RUN_ENV,
            setup: |root| manifest(root, |m| m["plugins"] = serde_json::json!([])),
            exit: 2,
            message: "tap-fake",
            ..CASE
        },
        Case {
            name: "run-manifest-not-utf8",
            tool: Tool::Run,
            args: &["job", "sync"],
            setup: |root| {
                fs_err::create_dir_all(root.join("deploy/dev")).unwrap();
                fs_err::write(root.join("deploy/dev/manifest.json"), b"{\"a\": \"\xff\"}").unwrap();
            },
            exit: 2,
            message: "manifest.json",
            ..CASE
        },
        // ------------------------------------------------------------ meltc-run: the environment
        Case {
            name: "run-unknown-job",
            tool: Tool::Run,
            args: &["job", "nightly"],
            env: RUN_ENV,
            setup: built_fixture,
            exit: 2,
            message: "the manifest has no job `nightly`; its jobs: sync",
            ..CASE
        },
        Case {
            name: "run-missing-secret",
            tool: Tool::Run,
            args: &["job", "sync"],
            env: &[
                ("STATE_URI", "file://{project}/state"),
                ("OUT_FILE", "{project}/out.jsonl"),
            ],
            setup: built_fixture,
            exit: 2,
            message: "tap-fake: the secret variable FAKE_TOKEN (read by `token`) is not set",
            ..CASE
        },
        Case {
            name: "run-empty-secret",
            tool: Tool::Run,
            args: &["run", "tap-fake", "target-fake"],
            env: &[
                ("STATE_URI", "file://{project}/state"),
                ("OUT_FILE", "{project}/out.jsonl"),
                ("FAKE_TOKEN", ""),
            ],
            setup: built_fixture,
            exit: 2,
            message: "the secret variable FAKE_TOKEN (read by `token`) is not set",
            ..CASE
        },
        Case {
            name: "run-invoke-missing-secret",
            tool: Tool::Run,
            args: &["invoke", "tap-fake", "--about"],
            env: &[("STATE_URI", "file://{project}/state")],
            setup: built_fixture,
            exit: 2,
            message: "the secret variable FAKE_TOKEN (read by `token`) is not set",
            ..CASE
        },
        // A literal secret of meltano.yml is a key of the Secret: without it, nothing starts.
        Case {
            name: "run-missing-literal-secret",
            tool: Tool::Run,
            args: &["job", "sync"],
            env: RUN_ENV,
            setup: |root| {
                crate::support::copy_tree(
                    &crate::support::repo().join("tests/fixtures/runtime-fake"),
                    root,
                );
                let yml = root.join("meltano.yml");
                let text = fs_err::read_to_string(&yml).unwrap();
                fs_err::write(&yml, format!("env:\n  WAREHOUSE_TOKEN: lit-3a9f\n{text}")).unwrap();
                let run = crate::support::meltc(root, &["build", "--env", "dev"]);
                assert_eq!(run.code, 0, "{}", run.stderr);
            },
            exit: 2,
            message: "tap-fake: the secret variable WAREHOUSE_TOKEN (read by `env.WAREHOUSE_TOKEN`) is not set",
            ..CASE
        },
        Case {
            name: "run-literal-secret-key-holds-no-json",
            tool: Tool::Run,
            args: &["job", "sync"],
            env: &[
                ("STATE_URI", "file://{project}/state"),
                ("OUT_FILE", "{project}/out.jsonl"),
                ("TAP_FAKE_TOKEN", "not json {"),
            ],
            setup: |root| {
                manifest(root, |m| {
                    let token = &mut m["plugins"][0]["settings"][1];
                    assert_eq!(token["name"], "token");
                    token.as_object_mut().unwrap().remove("value");
                    token.as_object_mut().unwrap().remove("references");
                    token["secret_literal"] =
                        serde_json::json!({"key": "TAP_FAKE_TOKEN", "json": true});
                });
            },
            exit: 2,
            message: "setting `token` comes from the Secret key `TAP_FAKE_TOKEN`, which does not hold JSON",
            ..CASE
        },
        Case {
            name: "run-manifest-secret-literal-unknown-field",
            tool: Tool::Run,
            args: &["job", "sync"],
            env: RUN_ENV,
            setup: |root| {
                manifest(root, |m| {
                    m["env"] = serde_json::json!({"X_TOKEN": {"secret_literal": {"key": "X_TOKEN", "value": "leak"}}});
                });
            },
            exit: 2,
            message: "not a meltc manifest",
            ..CASE
        },
        Case {
            name: "run-unknown-block",
            tool: Tool::Run,
            args: &["run", "tap-fake", "target-nope"],
            env: RUN_ENV,
            setup: built_fixture,
            exit: 2,
            message: "target-nope",
            ..CASE
        },
        Case {
            name: "run-bad-log-format",
            tool: Tool::Run,
            args: &["--log-format", "xml", "job", "sync"],
            setup: built_fixture,
            exit: 2,
            message: "xml",
            ..CASE
        },
        Case {
            name: "run-bad-state-id",
            tool: Tool::Run,
            args: &["state", "get", "../escape"],
            env: RUN_ENV,
            setup: built_fixture,
            exit: 1,
            message: "`../escape` cannot be used as a state ID",
            // Opening the file backend makes its folder; nothing is written in it.
            may_write: &["state"],
            ..CASE
        },
        Case {
            name: "run-state-backend-unsupported-scheme",
            tool: Tool::Run,
            args: &["job", "sync"],
            env: &[
                ("STATE_URI", "gs://bucket/state"),
                ("OUT_FILE", "{project}/out.jsonl"),
                ("FAKE_TOKEN", "t"),
            ],
            setup: built_fixture,
            exit: 1,
            message: "gs://",
            ..CASE
        },
        // ------------------------------------------------------------ meltc-run: stored state
        Case {
            name: "run-state-not-json",
            tool: Tool::Run,
            args: &["job", "sync"],
            env: RUN_ENV,
            setup: |root| state(root, "{bad"),
            exit: 1,
            message: "cannot be read (not JSON: key must be a string at line 1 column 2)",
            ..CASE
        },
        Case {
            name: "run-state-is-a-json-list",
            tool: Tool::Run,
            args: &["job", "sync"],
            env: RUN_ENV,
            setup: |root| state(root, "[1]"),
            exit: 1,
            message: "not a JSON object",
            ..CASE
        },
        Case {
            name: "run-state-empty-file",
            tool: Tool::Run,
            args: &["job", "sync"],
            env: RUN_ENV,
            setup: |root| state(root, ""),
            exit: 1,
            message: "cannot be read",
            ..CASE
        },
        Case {
            name: "run-state-get-corrupt",
            tool: Tool::Run,
            args: &["state", "get", "dev:tap-fake-to-target-fake"],
            env: RUN_ENV,
            setup: |root| state(root, "{\"completed\": "),
            exit: 1,
            message: "state.json` cannot be read",
            ..CASE
        },
        Case {
            name: "run-state-file-is-a-folder",
            tool: Tool::Run,
            args: &["job", "sync"],
            env: RUN_ENV,
            setup: |root| {
                built_fixture(root);
                fs_err::create_dir_all(root.join(STATE)).unwrap();
            },
            exit: 1,
            message: "state.json",
            ..CASE
        },
        Case {
            name: "run-state-folder-is-a-file",
            tool: Tool::Run,
            args: &["job", "sync"],
            env: RUN_ENV,
            setup: |root| {
                built_fixture(root);
                fs_err::write(root.join("state"), "not a folder\n").unwrap();
            },
            exit: 1,
            message: "state",
            ..CASE
        },
        Case {
            name: "run-state-set-not-json",
            tool: Tool::Run,
            args: &["state", "set", "dev:tap-fake-to-target-fake", "{oops"],
            env: RUN_ENV,
            setup: built_fixture,
            exit: 1,
            message: "invalid JSON for state `dev:tap-fake-to-target-fake`: key must be a string at line 1 column 2",
            may_write: &["state"],
            ..CASE
        },
        Case {
            name: "run-state-write-full-disk-keeps-old-state",
            tool: Tool::Run,
            args: &["job", "sync"],
            env: RUN_ENV,
            setup: |root| {
                state(root, STORED_STATE);
                // The run itself writes little; a big state is what the full disk refuses.
                patch_tap(
                    root,
                    "\"value\": {\"bookmarks\"",
                    "\"value\": {\"pad\": \"x\" * 20000, \"bookmarks\"",
                );
            },
            file_size_limit_kib: Some(8),
            exit: 1,
            message: "File too large",
            // The history keeps the state the run was about to replace.
            may_write: &["out.jsonl", "state/dev:tap-fake-to-target-fake/history"],
            ..CASE
        },
        Case {
            name: "run-state-folder-immutable",
            tool: Tool::Run,
            args: &["job", "sync"],
            env: RUN_ENV,
            setup: |root| {
                built_fixture(root);
                fs_err::create_dir_all(root.join("state")).unwrap();
                immutable(&root.join("state"));
            },
            exit: 1,
            // The run lease is taken first, so nothing runs.
            message: "cannot take the run lease: cannot write the run lease of state `dev:tap-fake-to-target-fake`",
            ..CASE
        },
        // ------------------------------------------------------------ meltc-run: plugins
        Case {
            name: "run-tap-executable-missing",
            tool: Tool::Run,
            args: &["job", "sync"],
            env: RUN_ENV,
            setup: |root| {
                built_fixture(root);
                fs_err::remove_file(root.join("bin/tap-fake")).unwrap();
            },
            exit: 1,
            message: "tap-fake",
            ..CASE
        },
        Case {
            name: "run-tap-not-executable",
            tool: Tool::Run,
            args: &["job", "sync"],
            env: RUN_ENV,
            setup: |root| {
                use std::os::unix::fs::PermissionsExt as _;
                built_fixture(root);
                fs_err::set_permissions(
                    root.join("bin/tap-fake"),
                    std::fs::Permissions::from_mode(0o644),
                )
                .unwrap();
            },
            exit: 1,
            message: "tap-fake",
            ..CASE
        },
        Case {
            name: "run-tap-fails-state-untouched",
            tool: Tool::Run,
            args: &["job", "sync"],
            env: RUN_ENV,
            setup: |root| {
                state(root, STORED_STATE);
                patch_tap(
                    root,
                    "print(json.dumps({\"type\": \"STATE\"",
                    "sys.exit(3)\nprint(json.dumps({\"type\": \"STATE\"",
                );
            },
            exit: 1,
            message: "Extractor failed",
            may_write: &["out.jsonl"],
            ..CASE
        },
        Case {
            name: "run-discovery-prints-garbage",
            tool: Tool::Run,
            args: &["job", "sync"],
            env: RUN_ENV,
            setup: |root| tap_script(root, "#!/bin/sh\necho 'this is not a catalog'\n"),
            exit: 1,
            message: "catalog",
            ..CASE
        },
        Case {
            name: "run-discovery-fails",
            tool: Tool::Run,
            args: &["job", "sync"],
            env: RUN_ENV,
            setup: |root| tap_script(root, "#!/bin/sh\necho 'no access' >&2\nexit 4\n"),
            exit: 1,
            message: "tap-fake",
            ..CASE
        },
        // ------------------------------------------------------------ mappings (a plugin too)
        Case {
            name: "config-mapping-value-of-the-wrong-kind",
            args: &["config", "clean"],
            files: &[("meltano.yml", MAPPER_PROJECT)],
            exit: 1,
            message: "`clean` (mapping of `mapper-z`): the value of setting `batch_size` is not an integer",
            location: Some("meltano.yml:18:28"),
            ..CASE
        },
        Case {
            name: "build-mapping-shadowed-by-an-extractor",
            args: &["build", "--env", "dev"],
            files: &[(
                "meltano.yml",
                "plugins:\n  extractors:\n  - name: tap-x\n    namespace: tap_x\n  mappers:\n  - name: mapper-z\n    namespace: mapper_z\n    mappings:\n    - name: tap-x\nenvironments:\n- name: dev\n",
            )],
            exit: 1,
            message: "meltc::mapping::shadowed",
            location: Some("meltano.yml:9:13"),
            ..CASE
        },
        Case {
            name: "config-mapping-name-shared",
            args: &["config", "clean"],
            files: &[(
                "meltano.yml",
                "plugins:\n  mappers:\n  - name: mapper-a\n    namespace: mapper_a\n    mappings: [{name: clean}]\n  - name: mapper-b\n    namespace: mapper_b\n    mappings: [{name: clean}]\n",
            )],
            exit: 2,
            message: "mapping `clean` is defined more than once (by `mapper-a`, `mapper-b`)",
            ..CASE
        },
        Case {
            name: "validate-deny-warnings-lint-capability",
            args: &["validate", "--deny-warnings"],
            files: &[(
                "meltano.yml",
                "plugins:\n  loaders:\n  - name: target-y\n    namespace: target_y\n    capabilities: [about, state]\n",
            )],
            exit: 1,
            message: "`state` is an extractor capability",
            location: Some("meltano.yml:5:27"),
            ..CASE
        },
        Case {
            name: "run-invoke-mapping-value-of-the-wrong-kind",
            tool: Tool::Run,
            args: &["invoke", "clean"],
            setup: |root| {
                fs_err::write(root.join("meltano.yml"), MAPPER_PROJECT).unwrap();
                let run = crate::support::meltc(root, &["build", "--env", "dev"]);
                assert_eq!(run.code, 0, "{}", run.stderr);
            },
            exit: 2,
            message: "batch_size",
            ..CASE
        },
        Case {
            name: "run-invoke-mapping-name-shared-in-the-manifest",
            tool: Tool::Run,
            args: &["invoke", "clean"],
            setup: |root| {
                fs_err::write(root.join("meltano.yml"), MAPPER_PROJECT).unwrap();
                let run = crate::support::meltc(root, &["build", "--env", "dev"]);
                assert_eq!(run.code, 0, "{}", run.stderr);
                let path = root.join("deploy/dev/manifest.json");
                let mut manifest: serde_json::Value =
                    serde_json::from_str(&fs_err::read_to_string(&path).unwrap()).unwrap();
                let mapper = &mut manifest["plugins"][2];
                let copy = mapper["mappings"][0].clone();
                mapper["mappings"].as_array_mut().unwrap().push(copy);
                fs_err::write(path, serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
            },
            exit: 2,
            message: "mapping `clean` is defined more than once",
            ..CASE
        },
        Case {
            name: "run-invoke-unknown-mapping",
            tool: Tool::Run,
            args: &["invoke", "cleen"],
            setup: |root| {
                fs_err::write(root.join("meltano.yml"), MAPPER_PROJECT).unwrap();
                let run = crate::support::meltc(root, &["build", "--env", "dev"]);
                assert_eq!(run.code, 0, "{}", run.stderr);
            },
            exit: 2,
            message: "the manifest has no plugin `cleen`",
            ..CASE
        },
        Case {
            name: "run-discovery-catalog-streams-not-a-list",
            tool: Tool::Run,
            args: &["job", "sync"],
            env: RUN_ENV,
            setup: |root| tap_script(root, "#!/bin/sh\necho '{\"streams\": 5}'\n"),
            exit: 1,
            message: "`streams` is not a list",
            ..CASE
        },
        // ------------------------------------------------------------ plugins from the project
        Case {
            name: "local-plugin-folder-missing",
            args: &["build", "--env", "dev"],
            files: &[("meltano.yml", LOCAL_PROJECT)],
            exit: 1,
            message: "`tap-local` installs from the project's `tap-local`, which does not exist",
            location: Some("meltano.yml:5:14"),
            ..CASE
        },
        Case {
            name: "local-plugin-path-leaves-project",
            args: &["build", "--env", "dev"],
            files: &[(
                "meltano.yml",
                "plugins:\n  extractors:\n  - name: tap-local\n    namespace: tap_local\n    pip_url: -e ../tap-local\n  loaders:\n  - name: target-y\n    namespace: target_y\n    pip_url: target-y\njobs:\n- name: sync\n  tasks: [tap-local target-y]\nenvironments:\n- name: dev\n",
            )],
            setup: |root| {
                // The folder exists beside the project: still not something the image can carry.
                fs_err::create_dir_all(root.parent().unwrap().join("tap-local")).unwrap();
                fs_err::write(root.parent().unwrap().join("tap-local/setup.py"), "").unwrap();
            },
            exit: 1,
            message: "`tap-local` installs from `../tap-local`, which is outside the project",
            location: Some("meltano.yml:5:14"),
            ..CASE
        },
        Case {
            name: "local-plugin-folder-is-a-link-out-of-the-project",
            args: &["validate"],
            files: &[("meltano.yml", LOCAL_PROJECT)],
            setup: |root| {
                let outside = root.parent().unwrap().join("elsewhere");
                fs_err::create_dir_all(&outside).unwrap();
                fs_err::write(outside.join("pyproject.toml"), "").unwrap();
                symlink(&outside, root.join("tap-local")).unwrap();
            },
            exit: 1,
            message: "which is a link that leads out of the",
            location: Some("meltano.yml:5:14"),
            ..CASE
        },
        Case {
            name: "local-plugin-folder-unreadable-pyproject-is-a-folder",
            args: &["build", "--env", "dev"],
            files: &[
                ("meltano.yml", LOCAL_PROJECT),
                ("tap-local/README.md", "no project\n"),
            ],
            setup: |root| fs_err::create_dir_all(root.join("tap-local/pyproject.toml")).unwrap(),
            exit: 1,
            message: "which has no pyproject.toml or setup.py",
            location: Some("meltano.yml:5:14"),
            ..CASE
        },
        // ------------------------------------------------------------ meltc-run: ephemeral state
        Case {
            name: "run-state-systemdb-without-allow-ephemeral-state",
            tool: Tool::Run,
            args: &["job", "sync"],
            env: RUN_ENV,
            setup: |root| {
                manifest(root, |m| {
                    m["settings"]["state_backend.uri"] = "systemdb".into();
                    m["state"] = serde_json::json!({"uri": "systemdb", "persistent": false});
                });
            },
            exit: 1,
            message: "the state backend `systemdb` is not supported by meltc-run: it keeps state in `file://` and `s3://` backends only (use S3-compatible storage, for example Garage, through `state_backend.s3.endpoint_url`); or build with --allow-ephemeral-state to run its jobs as full syncs",
            ..CASE
        },
        Case {
            name: "run-ephemeral-job-keeps-no-state",
            tool: Tool::Run,
            args: &["job", "sync"],
            env: RUN_ENV,
            setup: |root| {
                manifest(root, |m| {
                    m["settings"]["state_backend.uri"] = "systemdb".into();
                    m["state"] = serde_json::json!({"uri": "systemdb", "persistent": false});
                    m["jobs"][0]["ephemeral_state"] = true.into();
                });
            },
            exit: 0,
            message: "so `tap-fake` runs as a full sync and no state is read or written",
            may_write: &["out.jsonl"],
            ..CASE
        },
        // ------------------------------------------------------------ timestamps and cron
        Case {
            name: "impossible-date-in-an-included-file",
            args: &["validate"],
            files: &[
                (
                    "meltano.yml",
                    "include_paths: ['./extract/*.yml']\nplugins: {}\n",
                ),
                (
                    "extract/events.yml",
                    "plugins:\n  extractors:\n  - name: tap-events\n    namespace: tap_events\n    config:\n      start_date: 2023-02-29\n",
                ),
            ],
            exit: 1,
            message: "day is out of range for month",
            location: Some("extract/events.yml:6:19"),
            ..CASE
        },
        Case {
            name: "build-stops-on-an-impossible-hour",
            args: &["build", "--env", "dev"],
            files: &[(
                "meltano.yml",
                "plugins:\n  extractors:\n  - name: tap-x\n    namespace: tap_x\n    pip_url: tap-x\n    config:\n      start_date: 2024-01-31T24:00:00Z\nenvironments:\n- name: dev\n",
            )],
            exit: 1,
            message: "hour must be in 0..23",
            location: Some("meltano.yml:7:19"),
            ..CASE
        },
        Case {
            name: "build-stops-on-a-number-in-an-environment-plugin-env",
            args: &["build", "--env", "dev"],
            files: &[(
                "meltano.yml",
                "plugins:\n  extractors:\n  - name: tap-x\n    namespace: tap_x\n    pip_url: tap-x\nenvironments:\n- name: dev\n  config:\n    plugins:\n      extractors:\n      - name: tap-x\n        env: {TAP_X_PORT: 5432}\n",
            )],
            exit: 1,
            message: "`TAP_X_PORT` in this `env:` is a number, not text",
            location: Some("meltano.yml:12:27"),
            ..CASE
        },
        Case {
            name: "build-cron-last-day-on-kubernetes",
            args: &["build", "--env", "dev"],
            files: &[(
                "meltano.yml",
                "plugins:\n  extractors:\n  - name: tap-x\n    namespace: tap_x\n    pip_url: tap-x\n  loaders:\n  - name: target-y\n    namespace: target_y\n    pip_url: target-y\njobs:\n- name: sync\n  tasks: [tap-x target-y]\nschedules:\n- name: month-end\n  job: sync\n  interval: 0 6 L * *\nenvironments:\n- name: dev\n",
            )],
            exit: 1,
            message: "runs `0 6 L * *`, which Kubernetes CronJobs cannot run",
            location: Some("meltano.yml:16:13"),
            ..CASE
        },
        Case {
            name: "build-cron-seconds-on-dagster",
            args: &["build", "--env", "dev", "--orchestrator", "dagster"],
            files: &[(
                "meltano.yml",
                "plugins:\n  extractors:\n  - name: tap-x\n    namespace: tap_x\n    pip_url: tap-x\n  loaders:\n  - name: target-y\n    namespace: target_y\n    pip_url: target-y\njobs:\n- name: sync\n  tasks: [tap-x target-y]\nschedules:\n- name: often\n  job: sync\n  interval: 0 6 * * MON 30\nenvironments:\n- name: dev\n",
            )],
            exit: 1,
            message: "which Dagster schedules cannot run",
            location: Some("meltano.yml:16:13"),
            ..CASE
        },
        Case {
            name: "plan-against-a-fifo",
            args: &["plan", "--env", "dev", "--against", "deployed.json"],
            files: &[("meltano.yml", PROJECT)],
            setup: |root| {
                let status = std::process::Command::new("mkfifo")
                    .arg(root.join("deployed.json"))
                    .status()
                    .unwrap();
                assert!(status.success());
            },
            exit: 2,
            message: "`deployed.json` is neither a file, a folder nor a git revision",
            ..CASE
        },
        Case {
            name: "plan-against-a-truncated-manifest",
            args: &["plan", "--env", "dev", "--against", "deploy/dev"],
            setup: |root| {
                built(root);
                let path = root.join("deploy/dev/manifest.json");
                let text = fs_err::read_to_string(&path).unwrap();
                fs_err::write(&path, &text[..text.len() / 2]).unwrap();
            },
            exit: 2,
            message: "deploy/dev/manifest.json: not a meltc manifest: EOF while parsing",
            ..CASE
        },
        Case {
            name: "plan-against-another-manifest-version",
            args: &[
                "plan",
                "--env",
                "dev",
                "--against",
                "deploy/dev/manifest.json",
            ],
            setup: |root| {
                built(root);
                let path = root.join("deploy/dev/manifest.json");
                let text = fs_err::read_to_string(&path).unwrap();
                fs_err::write(
                    &path,
                    text.replacen("\"manifest_version\": 1", "\"manifest_version\": 99", 1),
                )
                .unwrap();
            },
            exit: 2,
            message: "manifest_version 99 is not supported",
            ..CASE
        },
        Case {
            name: "plan-against-a-folder-with-broken-kubernetes-yaml",
            args: &["plan", "--env", "dev", "--against", "deploy"],
            setup: |root| {
                built(root);
                fs_err::write(root.join("deploy/dev/k8s/configmap.yaml"), "data: [\n").unwrap();
            },
            exit: 2,
            message: "deploy/dev: k8s/configmap.yaml is not YAML",
            ..CASE
        },
        Case {
            name: "plan-against-a-folder-without-a-manifest",
            args: &["plan", "--env", "dev", "--against", "notes"],
            files: &[
                ("meltano.yml", PROJECT),
                ("notes/dev/readme.txt", "hello\n"),
            ],
            exit: 2,
            message: "notes/dev holds no manifest.json: not a build output folder",
            ..CASE
        },
    ]
}
