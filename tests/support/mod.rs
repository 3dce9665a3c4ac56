//! Helpers of every test: run the real `meltc` binary, locate `../shared`, the test tools.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared` beside the repository (present in CI and for every developer): the real
/// projects of `corpus/` and the Hub snapshot. Only tests whose name says so read it
/// (`shared_corpus…`, `shared_reference…`), so that `-E 'not test(/shared_(corpus|reference)/)'`
/// is the self-contained suite (README "Tests"); they fail, never skip, without it.
pub fn shared() -> PathBuf {
    let test = std::thread::current().name().unwrap_or_default().to_owned();
    assert!(
        test.contains("shared_corpus") || test.contains("shared_reference"),
        "test `{test}` reads ../shared: name it `shared_corpus…` (or put it in the shared_corpus module)"
    );
    let shared = repo().join("../shared");
    assert!(
        shared.is_dir(),
        "the shared folder is expected beside the repository at {}",
        shared.display()
    );
    shared
}

/// What one run printed.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run `meltc` with `args` in `cwd`, with a fixed, clean environment (no colour, fixed width,
/// no `MELTANO_PROJECT_ROOT`).
pub fn meltc(cwd: &Path, args: &[&str]) -> Run {
    meltc_with(cwd, args, &[])
}

/// [`meltc`] with extra environment variables.
pub fn meltc_with(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_meltc"));
    command
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env_remove("MELTANO_PROJECT_ROOT");
    for (key, value) in env {
        command.env(key, value);
    }
    let output: Output = command.output().expect("meltc runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Run `meltc` with only `env` set (plus no colour and a fixed width): what `meltc config`
/// prints depends on the environment, so golden cases say exactly what it holds.
pub fn meltc_isolated(cwd: &Path, args: &[&str], env: &[(String, String)]) -> Run {
    let output: Output = Command::new(env!("CARGO_BIN_EXE_meltc"))
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .envs(env.iter().map(|(key, value)| (key, value)))
        .output()
        .expect("meltc runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A golden case's `env` file: `NAME=value` lines (the environment the command runs with).
pub fn case_env(case: &Path) -> Vec<(String, String)> {
    fs_err::read_to_string(case.join("env"))
        .unwrap_or_default()
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// The bin folder of the test tools installed by `scripts/setup-test-env`.
pub fn tool(name: &str) -> PathBuf {
    let path = test_home().join("bin").join(name);
    assert!(
        path.exists(),
        "`{name}` is not installed at {}: run scripts/setup-test-env",
        path.display()
    );
    path
}

/// `git ARGS` in `dir`, as a test user, without signing.
pub fn git(dir: &Path, args: &[&str]) -> Output {
    git_command(dir, args).output().expect("git runs")
}

/// The `git ARGS` command of [`git`], to add to (an environment).
pub fn git_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("git");
    command
        .args([
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@example.invalid",
        ])
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir);
    command
}

/// Whether `MELTC_BLESS=1` asks to rewrite expectations.
pub fn bless() -> bool {
    std::env::var("MELTC_BLESS").is_ok_and(|value| value == "1")
}

/// A unified diff of two texts, for failure messages.
pub fn diff(expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .header("expected", "actual")
        .to_string()
}

/// Parse `--format json` output into (code, severity, file, line) rows.
pub fn json_rows(stdout: &str) -> Vec<(String, String, String, u64)> {
    let document: serde_json::Value =
        serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"));
    document["diagnostics"]
        .as_array()
        .expect("diagnostics array")
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap_or_default().to_owned(),
                d["severity"].as_str().unwrap_or_default().to_owned(),
                d["file"].as_str().unwrap_or_default().to_owned(),
                d["line"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

/// The test tools' folder (`scripts/setup-test-env`): `MELTC_TEST_HOME`, else
/// `~/.cache/meltc-test`.
pub fn test_home() -> PathBuf {
    std::env::var_os("MELTC_TEST_HOME").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/meltc-test"),
        PathBuf::from,
    )
}

/// Copy `from` into `to` (files and folders only; the projects have no links).
pub fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from).into_iter().flatten() {
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            fs_err::create_dir_all(&target).unwrap();
        } else if entry.file_type().is_file() {
            fs_err::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Every file under `root` by `/`-separated relative path, with its bytes.
pub fn files(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .flatten()
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| {
            let relative = entry.path().strip_prefix(root).unwrap();
            (
                meltc::project::slash_path(relative),
                fs_err::read(entry.path()).unwrap(),
            )
        })
        .collect()
}

/// A validator for schemas/manifest.schema.json.
pub fn manifest_validator() -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(
        &fs_err::read_to_string(repo().join("schemas/manifest.schema.json")).unwrap(),
    )
    .unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

pub mod differential;
pub mod garage;
pub mod image;
pub mod kubelet;
pub mod pod;
pub mod postgres;

/// One command's result from [`meltano_batch`] or a [`MeltanoServer`].
pub struct MeltanoRun {
    pub code: i64,
    pub stdout: String,
    pub stderr: String,
    /// For [`Via::Both`]: how the CLI's result and the services' differ, if they do.
    pub mismatch: Option<String>,
}

/// Run `meltano` command lines in one Python process (`tests/support/meltano_batch.py`, which
/// goes through Meltano's real CLI entry point), in `root` with exactly `env`.
pub fn meltano_batch(
    root: &Path,
    env: &std::collections::BTreeMap<String, String>,
    argv: &[Vec<String>],
) -> Vec<MeltanoRun> {
    batch(root, env, serde_json::json!(argv))
}

/// How a [`MeltanoServer`] answers a command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// The Meltano services the command uses, called directly (no per-command CLI set-up).
    Services,
    /// The real CLI and the services, the result of the services and any mismatch.
    Both,
}

/// A Python process answering `meltano config --unsafe print` and `meltano compile --unsafe`
/// command lines of one project after another (`tests/support/meltano_batch.py --serve`),
/// through the Meltano services those commands use, the ones marked [`Via::Both`] also through
/// the real CLI, to prove the two agree: Meltano's imports are paid once per server.
pub struct MeltanoServer {
    child: std::process::Child,
    stdout: std::io::BufReader<std::process::ChildStdout>,
    /// Where the server's stderr (Meltano's log lines) goes: read when it fails.
    log: tempfile::NamedTempFile,
}

impl MeltanoServer {
    pub fn start() -> Self {
        let python = fs_err::canonicalize(tool("meltano"))
            .expect("meltano resolves")
            .with_file_name("python");
        let log = tempfile::NamedTempFile::new().expect("log file");
        let mut child = Command::new(python)
            .arg(repo().join("tests/support/meltano_batch.py"))
            .arg("--serve")
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("LANG", "C.UTF-8")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(log.reopen().expect("log file"))
            .spawn()
            .expect("python runs");
        let stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        Self { child, stdout, log }
    }

    /// The results of `requests` in the project at `root`, with exactly `env` as the process
    /// environment (and the version check, a request to the package index per CLI command
    /// that prints nothing the tests read, off).
    pub fn run(
        &mut self,
        root: &Path,
        env: &std::collections::BTreeMap<String, String>,
        requests: &[(Via, Vec<String>)],
    ) -> Vec<MeltanoRun> {
        use std::io::{BufRead as _, Write as _};
        let mut env = env.clone();
        env.insert(
            "MELTANO_CLI_DISABLE_VERSION_CHECK".to_owned(),
            "true".to_owned(),
        );
        let requests: Vec<serde_json::Value> = requests
            .iter()
            .map(|(via, argv)| {
                let via = match via {
                    Via::Services => "services",
                    Via::Both => "both",
                };
                serde_json::json!({"argv": argv, "via": via})
            })
            .collect();
        let job = serde_json::json!({"root": root, "env": env, "requests": requests});
        let stdin = self.child.stdin.as_mut().expect("stdin");
        let mut line = String::new();
        let answered = writeln!(stdin, "{job}")
            .and_then(|()| stdin.flush())
            .and_then(|()| self.stdout.read_line(&mut line));
        let results: Vec<serde_json::Value> = answered
            .ok()
            .and_then(|_| serde_json::from_str(&line).ok())
            .unwrap_or_else(|| {
                panic!(
                    "the meltano server failed on {}:\n{}",
                    root.display(),
                    fs_err::read_to_string(self.log.path()).unwrap_or_default()
                )
            });
        results.iter().map(MeltanoRun::from_json).collect()
    }
}

impl Drop for MeltanoServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take()); // end of input: the server exits
        let _ = self.child.wait();
    }
}

fn batch(
    root: &Path,
    env: &std::collections::BTreeMap<String, String>,
    requests: serde_json::Value,
) -> Vec<MeltanoRun> {
    use std::io::Write as _;
    let python = fs_err::canonicalize(tool("meltano"))
        .expect("meltano resolves")
        .with_file_name("python");
    let mut child = Command::new(python)
        .arg(repo().join("tests/support/meltano_batch.py"))
        .current_dir(root)
        .env_clear()
        .envs(env)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    let input = serde_json::to_string(&requests).expect("requests JSON");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("requests written");
    let output = child.wait_with_output().expect("driver finishes");
    let results: Vec<serde_json::Value> =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
            panic!(
                "the meltano batch driver failed ({error}):\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    results.iter().map(MeltanoRun::from_json).collect()
}

impl MeltanoRun {
    fn from_json(result: &serde_json::Value) -> Self {
        Self {
            code: result["code"].as_i64().unwrap_or(-1),
            stdout: result["stdout"].as_str().unwrap_or_default().to_owned(),
            stderr: result["stderr"].as_str().unwrap_or_default().to_owned(),
            mismatch: result["mismatch"].as_str().map(str::to_owned),
        }
    }
}
