//! The secret canary across every command and artifact: a project whose secrets hold
//! distinctive values, set both in the process and in `.env`, goes through `meltc validate`,
//! `build --all-envs` (every emitter), `config` (every format, no `--show-secrets`), `diff`,
//! `lock`, error paths, and `meltc-run` (both log formats; meltc-run writes every level
//! always) including a failing run and `state get`. Every stdout, stderr, written file and the
//! runs' `TMPDIR` is searched for the canary: none may hold it.
//!
//! The project also writes secrets literally in meltano.yml, in every kind of `env:` block
//! (project, plugin, environment, the environment's plugin entry, schedule) and in a sensitive
//! setting's `config:`, and a sensitive setting reads its own variable. Those literals may be
//! in meltano.yml only: nowhere else, not in a report's snippet; each is a key of the Secret,
//! and the pods (meltc-run) get them from there, as a cluster would give them.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{copy_tree, repo};

/// Every canary value starts with this, so one search finds them all.
const CANARY: &str = "CANARY_7f3a";

/// Every literal secret of meltano.yml starts with this: it may be in meltano.yml only.
const LITERAL: &str = "LITERAL_5b1d";

/// The literal secrets, by the Secret key that must hold each, with the value a pod gets.
const LITERALS: [(&str, &str); 6] = [
    ("WAREHOUSE_TOKEN", "LITERAL_5b1d_project"),
    ("TAP_FAKE_SERVICE_TOKEN", "LITERAL_5b1d_plugin"),
    ("API_SECRET", "LITERAL_5b1d_environment"),
    ("ENTRY_TOKEN", "LITERAL_5b1d_entry"),
    ("SLACK_TOKEN", "LITERAL_5b1d_schedule"),
    ("TAP_FAKE_API_SECRET", "LITERAL_5b1d_config"),
];

/// The secrets of the project: the fixture's token, and a password and an object setting read
/// only from the environment.
const SECRETS: [(&str, &str); 4] = [
    ("FAKE_TOKEN", "CANARY_7f3a_token"),
    ("TAP_FAKE_PASSWORD", "CANARY_7f3a_password"),
    ("PROD_TOKEN", "CANARY_7f3a_prod"),
    ("TAP_FAKE_CREDENTIALS", "{\"key\": \"CANARY_7f3a_object\""),
];

const EXTRA_SETTINGS: &str = "    - name: password
      kind: password
    - name: credentials
      kind: object
      sensitive: true
    - name: api_secret
      sensitive: true
";

/// `meltc-run` arguments, its environment, the exit code expected.
type Run<'a> = (&'a [&'a str], &'a Vec<(&'static str, String)>, i32);

struct Search {
    places: usize,
    hits: Vec<String>,
}

impl Search {
    fn text(&mut self, place: &str, text: &str) {
        self.places += 1;
        if text.contains(CANARY) || text.contains(LITERAL) {
            self.hits.push(place.to_owned());
        }
    }

    /// Every file but `.env` (which holds the canaries on purpose) and meltano.yml (which
    /// holds the literals on purpose, and is searched for the canary alone).
    fn tree(&mut self, root: &Path) {
        for entry in walkdir::WalkDir::new(root).into_iter().flatten() {
            if !entry.file_type().is_file() || entry.file_name() == ".env" {
                continue;
            }
            let bytes = fs_err::read(entry.path()).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            let place = entry.path().display().to_string();
            if entry.file_name() == "meltano.yml" {
                self.places += 1;
                if text.contains(CANARY) {
                    self.hits.push(place);
                }
            } else {
                self.text(&place, &text);
            }
        }
    }
}

fn project() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("project");
    copy_tree(&repo().join("tests/fixtures/runtime-fake"), &root);
    let yml = root.join("meltano.yml");
    let text = fs_err::read_to_string(&yml).unwrap();
    let text = text
        .replace("      kind: password\n", &format!("      kind: password\n{EXTRA_SETTINGS}"))
        .replace(
            "      token: ${FAKE_TOKEN}\n",
            "      token: ${FAKE_TOKEN}\n      api_secret: LITERAL_5b1d_config\n      credentials: ${TAP_FAKE_CREDENTIALS}\n    env:\n      TAP_FAKE_SERVICE_TOKEN: LITERAL_5b1d_plugin\n",
        )
        .replace(
            "  interval: '@hourly'\n",
            "  interval: '@hourly'\n  env:\n    SLACK_TOKEN: LITERAL_5b1d_schedule\n",
        )
        .replace(
            "environments:\n- name: dev\n",
            "environments:\n- name: dev\n  env:\n    API_SECRET: LITERAL_5b1d_environment\n  config:\n    plugins:\n      extractors:\n      - name: tap-fake\n        env:\n          ENTRY_TOKEN: LITERAL_5b1d_entry\n- name: prod\n  config:\n    plugins:\n      extractors:\n      - name: tap-fake\n        config:\n          token: ${PROD_TOKEN}\n",
        );
    let text = format!("env:\n  WAREHOUSE_TOKEN: LITERAL_5b1d_project\n{text}");
    for (_, literal) in LITERALS {
        assert!(text.contains(literal), "{literal} not written:\n{text}");
    }
    fs_err::write(&yml, text).unwrap();
    let dotenv: String = SECRETS
        .iter()
        .map(|(name, value)| format!("{name}='{value}_dotenv'\n"))
        .collect();
    fs_err::write(root.join(".env"), dotenv).unwrap();
    (dir, root)
}

fn run(
    program: &str,
    cwd: &Path,
    tmp: &Path,
    args: &[&str],
    extra: &[(&str, String)],
) -> (i32, String, String) {
    let output = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("TMPDIR", tmp)
        .env("MELTANO_LOG_LEVEL", "debug")
        .env("MELTANO_CLI_LOG_LEVEL", "debug")
        .envs(SECRETS)
        .envs(extra.iter().map(|(name, value)| (*name, value)))
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn no_secret_value_reaches_any_output_log_or_file() {
    let (dir, root) = project();
    let tmp = dir.path().join("tmp");
    fs_err::create_dir_all(&tmp).unwrap();
    let meltc = env!("CARGO_BIN_EXE_meltc");
    let mut search = Search {
        places: 0,
        hits: Vec::new(),
    };
    let mut check = |label: &str, (code, stdout, stderr): (i32, String, String), expected: i32| {
        if code != expected {
            search.hits.push(format!(
                "(exit {code}, expected {expected}) {label}: {stdout}{stderr}"
            ));
        }
        search.text(&format!("{label} stdout"), &stdout);
        search.text(&format!("{label} stderr"), &stderr);
    };
    let commands: [(&[&str], i32); 18] = [
        (&["validate"], 0),
        (&["validate", "--format", "json"], 0),
        (&["validate", "--format", "github"], 0),
        (&["build", "--all-envs"], 0),
        (&["build", "--all-envs", "--check"], 0),
        (&["build", "--all-envs", "--check", "--format", "json"], 0),
        (&["config", "tap-fake", "--env", "dev"], 1),
        (
            &["config", "tap-fake", "--env", "prod", "--format", "json"],
            1,
        ),
        (
            &["config", "tap-fake", "--env", "prod", "--format", "env"],
            1,
        ),
        (&["config", "target-fake", "--env", "dev"], 0),
        (&["diff", "dev", "prod"], 1),
        // The dev deploy as what prod would replace: every value differs, none may show.
        (&["plan", "--env", "prod", "--against", "deploy/dev"], 1),
        (
            &[
                "plan",
                "--env",
                "prod",
                "--against",
                "deploy/dev",
                "--format",
                "json",
            ],
            1,
        ),
        (
            &[
                "plan",
                "--env",
                "prod",
                "--against",
                "deploy/dev/manifest.json",
                "--format",
                "markdown",
            ],
            1,
        ),
        (&["lock"], 0),
        (&["config", "tap-nope"], 2),
        (&["build", "--env", "nope"], 2),
        (&["config", "tap-fake", "--env", "nope"], 2),
    ];
    for (args, expected) in commands {
        check(
            &format!("meltc {}", args.join(" ")),
            run(meltc, &root, &tmp, args, &[]),
            expected,
        );
    }
    // Above, the object setting from the environment is not JSON: the error must not echo it.
    let valid_object = format!("{{\"key\": \"{CANARY}_valid\"}}");
    check(
        "meltc config tap-fake (valid object)",
        run(
            meltc,
            &root,
            &tmp,
            &["config", "tap-fake"],
            &[("TAP_FAKE_CREDENTIALS", valid_object.clone())],
        ),
        0,
    );

    // The control: the values are there to leak; `--show-secrets` is the one way to print them.
    let shown = run(
        meltc,
        &root,
        &tmp,
        &["config", "tap-fake", "--show-secrets"],
        &[("TAP_FAKE_CREDENTIALS", valid_object.clone())],
    );
    assert!(
        shown.1.contains("CANARY_7f3a_token")
            && shown.1.contains("CANARY_7f3a_password")
            && shown.1.contains("LITERAL_5b1d_config"),
        "{}{}",
        shown.1,
        shown.2
    );
    // Each literal secret is a key of the Secret, in every environment that has it.
    let example = fs_err::read_to_string(root.join("deploy/dev/k8s/secret.example.yaml")).unwrap();
    for (key, _) in LITERALS {
        assert!(
            example.contains(&format!("  {key}: \"\"")),
            "{key}:\n{example}"
        );
    }
    // The self-referencing sensitive setting is an input of the pod, as a secret.
    assert!(
        example.contains("  TAP_FAKE_CREDENTIALS: \"\""),
        "{example}"
    );

    let runner = env!("CARGO_BIN_EXE_meltc-run");
    let state = dir.path().join("state");
    // The pod's variables: the Secret's keys of the literal secrets included.
    let env = |out: &Path| {
        let mut pod = vec![
            (
                "MELTC_MANIFEST",
                root.join("deploy/dev/manifest.json").display().to_string(),
            ),
            ("STATE_URI", format!("file://{}", state.display())),
            ("OUT_FILE", out.display().to_string()),
            ("TAP_FAKE_CREDENTIALS", valid_object.clone()),
        ];
        pod.extend(LITERALS.map(|(key, value)| (key, value.to_owned())));
        pod
    };
    let good = env(&dir.path().join("out.jsonl"));
    let failing = env(&dir.path().join("missing/dir/out.jsonl"));
    let runs: [Run<'_>; 7] = [
        (&["job", "sync"], &good, 0),
        (&["--log-format", "json", "job", "sync"], &good, 0),
        (&["job", "sync", "--dry-run"], &good, 0),
        (&["job", "sync"], &failing, 1),
        (
            &["--log-format", "json", "run", "tap-fake", "target-fake"],
            &failing,
            1,
        ),
        (&["state", "get", "dev:tap-fake-to-target-fake"], &good, 0),
        (&["--log-format", "json", "state", "list"], &good, 0),
    ];
    for (args, env, expected) in runs {
        check(
            &format!("meltc-run {}", args.join(" ")),
            run(runner, &root, &tmp, args, env),
            expected,
        );
    }
    // The whole project (generated files, locks, Meltano's catalog cache under .meltano/) but
    // `.env`, which holds the canaries on purpose.
    search.tree(&root);
    search.tree(&state);
    search.tree(&tmp);
    let left: Vec<_> = fs_err::read_dir(&tmp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(
        left.is_empty(),
        "meltc-run left its run directories: {left:?}"
    );
    println!(
        "canary: {} places checked, {} hits",
        search.places,
        search.hits.len()
    );
    assert!(search.places >= 60, "only {} places checked", search.places);
    assert!(
        search.hits.is_empty(),
        "the canary leaked into: {:#?}",
        search.hits
    );
}

/// A mapper whose sensitive setting a mapping gives from a variable, between the fixture's
/// tap and target: the mapper checks it got the value, then passes the records through.
const MAPPER: &str = "  mappers:
  - name: mapper-fake
    namespace: mapper_fake
    executable: bin/mapper-fake
    settings:
    - name: api_key
      sensitive: true
    mappings:
    - name: mask
      config:
        api_key: ${MAPPER_API_KEY}
";

const MAPPER_SCRIPT: &str = "#!/bin/sh
# The fixture's mapper: fails without its api_key, then passes records through.
while [ $# -gt 0 ]; do
  if [ \"$1\" = --config ]; then grep -qF \"\\\"$MAPPER_API_KEY\\\"\" \"$2\" || exit 5; fi
  shift
done
exec cat
";

/// A mapping is a plugin too: its secret (a sensitive setting of the mapper, given by the
/// mapping from a variable) stays out of `config MAPPING`, the manifest, `diff`, the run's
/// log and its leftovers, as any plugin's does, while the mapper gets it.
#[test]
fn no_secret_of_a_mapping_reaches_any_output_log_or_file() {
    use std::os::unix::fs::PermissionsExt as _;
    let (dir, root) = project();
    let yml = root.join("meltano.yml");
    let text = fs_err::read_to_string(&yml).unwrap();
    let text = text
        .replace("jobs:\n", &format!("{MAPPER}jobs:\n"))
        .replace(
            "jobs:\n",
            "jobs:\n- name: sync-masked\n  tasks:\n  - tap-fake mask target-fake\n",
        );
    fs_err::write(&yml, text).unwrap();
    let script = root.join("bin/mapper-fake");
    fs_err::write(&script, MAPPER_SCRIPT).unwrap();
    fs_err::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut dotenv = fs_err::read_to_string(root.join(".env")).unwrap();
    dotenv.push_str("MAPPER_API_KEY='CANARY_7f3a_mapping_dotenv'\n");
    fs_err::write(root.join(".env"), dotenv).unwrap();
    let tmp = dir.path().join("tmp");
    fs_err::create_dir_all(&tmp).unwrap();
    let mut search = Search {
        places: 0,
        hits: Vec::new(),
    };
    let key = [("MAPPER_API_KEY", "CANARY_7f3a_mapping".to_owned())];
    let meltc = env!("CARGO_BIN_EXE_meltc");
    let commands: [(&[&str], i32); 7] = [
        (&["validate"], 0),
        (&["build", "--all-envs"], 0),
        (&["config", "mask", "--env", "dev"], 0),
        (&["config", "mask", "--format", "json"], 0),
        (&["config", "mask", "--format", "env"], 0),
        (&["diff", "dev", "prod"], 1),
        (&["config", "masks"], 2),
    ];
    for (args, expected) in commands {
        let (code, stdout, stderr) = run(meltc, &root, &tmp, args, &key);
        let label = format!("meltc {}", args.join(" "));
        if code != expected {
            search
                .hits
                .push(format!("(exit {code}) {label}: {stdout}{stderr}"));
        }
        search.text(&format!("{label} stdout"), &stdout);
        search.text(&format!("{label} stderr"), &stderr);
    }
    // The control: the value is there to leak.
    let shown = run(
        meltc,
        &root,
        &tmp,
        &["config", "mask", "--show-secrets"],
        &key,
    );
    assert!(
        shown.1.contains("CANARY_7f3a_mapping"),
        "{}{}",
        shown.1,
        shown.2
    );
    let runner = env!("CARGO_BIN_EXE_meltc-run");
    // The pod's variables: the Secret's keys of the project's literal secrets included.
    let mut env = vec![
        (
            "MELTC_MANIFEST",
            root.join("deploy/dev/manifest.json").display().to_string(),
        ),
        (
            "STATE_URI",
            format!("file://{}", dir.path().join("state").display()),
        ),
        (
            "OUT_FILE",
            dir.path().join("out.jsonl").display().to_string(),
        ),
        (
            "TAP_FAKE_CREDENTIALS",
            format!("{{\"key\": \"{CANARY}_valid\"}}"),
        ),
        key[0].clone(),
    ];
    env.extend(LITERALS.map(|(key, value)| (key, value.to_owned())));
    for args in [
        &["job", "sync-masked"][..],
        &["--log-format", "json", "invoke", "mask"],
    ] {
        let (code, stdout, stderr) = run(runner, &root, &tmp, args, &env);
        let label = format!("meltc-run {}", args.join(" "));
        if code != 0 {
            search
                .hits
                .push(format!("(exit {code}) {label}: {stdout}{stderr}"));
        }
        search.text(&format!("{label} stdout"), &stdout);
        search.text(&format!("{label} stderr"), &stderr);
    }
    search.tree(&root);
    search.tree(&tmp);
    assert!(
        fs_err::read_to_string(dir.path().join("out.jsonl")).is_ok_and(|out| !out.is_empty()),
        "the masked job copied no record: {:?}",
        search.hits
    );
    println!(
        "canary (mapping): {} places checked, {} hits",
        search.places,
        search.hits.len()
    );
    assert!(
        search.hits.is_empty(),
        "the mapping's canary leaked into: {:#?}",
        search.hits
    );
}
