//! The runner of the bad-input table (cases.rs): each case builds a project, runs `meltc` or
//! `meltc-run` once, and asserts the exit code, the message, the location, that nothing
//! panicked, that no file under the case's folder changed (outside what the case allows), and
//! that the command's `TMPDIR` is empty afterwards.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::repo;

/// Which program a case runs.
#[derive(Clone, Copy, Debug)]
pub enum Tool {
    Meltc,
    /// `meltc-run`, with `MELTC_MANIFEST` at `deploy/dev/manifest.json`.
    Run,
}

/// One bad input.
pub struct Case {
    pub name: &'static str,
    pub tool: Tool,
    pub args: &'static [&'static str],
    /// Files of the project (relative path, contents); a `bin/` file is made executable.
    pub files: &'static [(&'static str, &'static str)],
    /// What plain files cannot say: links, folders, a built manifest, stored state.
    pub setup: fn(&Path),
    pub env: &'static [(&'static str, &'static str)],
    /// `RLIMIT_FSIZE` in KiB (a full disk: writes past it fail with `EFBIG`).
    pub file_size_limit_kib: Option<u64>,
    pub exit: i32,
    /// Text the output (stderr, then stdout) must contain.
    pub message: &'static str,
    /// `file:line:col` the output must contain.
    pub location: Option<&'static str>,
    /// Paths (relative to the project, prefixes) the command may create or change.
    pub may_write: &'static [&'static str],
}

/// The defaults of a row: meltc, nothing special.
pub const CASE: Case = Case {
    name: "",
    tool: Tool::Meltc,
    args: &[],
    files: &[],
    setup: |_| {},
    env: &[],
    file_size_limit_kib: None,
    exit: 1,
    message: "",
    location: None,
    may_write: &[],
};

/// Run every case; report all failures at once.
pub fn run_all(cases: &[Case]) -> usize {
    let mut failures = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for case in cases {
        assert!(names.insert(case.name), "two cases named {}", case.name);
        if let Err(message) = run_case(case) {
            failures.push(format!("=== {}\n{message}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad-input cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    cases.len()
}

fn run_case(case: &Case) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    let tmp = dir.path().join("tmp");
    fs_err::create_dir_all(&project).unwrap();
    fs_err::create_dir_all(&tmp).unwrap();
    for (path, contents) in case.files {
        write_file(&project.join(path), contents);
    }
    (case.setup)(&project);
    let before = snapshot(dir.path());
    let (code, text) = run_with_timeout(command(case, &project, &tmp));
    let mut problems = Vec::new();
    if code != case.exit {
        problems.push(format!("exit {code}, expected {}", case.exit));
    }
    if !text.contains(case.message) {
        problems.push(format!("no `{}` in the output", case.message));
    }
    if let Some(location) = case.location {
        if !text.contains(location) {
            problems.push(format!("no location `{location}` in the output"));
        }
    }
    if text.contains("panicked") || text.contains("RUST_BACKTRACE") {
        problems.push("panicked".to_owned());
    }
    let mut after = snapshot(dir.path());
    let state = Path::new("project/state");
    if matches!(case.tool, Tool::Run)
        && !before.contains_key(state)
        && after.get(state).is_some_and(|kind| kind == "other")
    {
        // meltc-run's file backend makes its root folder when it opens, as Meltano's does.
        after.remove(state);
    }
    // Undo `immutable` so that the folder can be removed.
    let _ = Command::new("chattr")
        .args(["-R", "-i"])
        .arg(&project)
        .stderr(std::process::Stdio::null())
        .status();
    problems.extend(changes(&before, &after, case.may_write));
    // Wherever a case may write, a temporary or staging file never remains.
    problems.extend(
        after
            .keys()
            .filter(|path| {
                let name = path.to_string_lossy();
                name.ends_with(".tmp") || name.contains("meltc-staging")
            })
            .map(|path| format!("temporary file left: {}", path.display())),
    );
    if problems.is_empty() {
        Ok(())
    } else {
        let shown: String = text.chars().take(2000).collect();
        Err(format!("{}\n--- output\n{shown}", problems.join("\n")))
    }
}

/// The program, in `project`, with a clean environment, `TMPDIR` at `tmp`, and the file size
/// limit applied by a shell that ignores `SIGXFSZ` first (an ignored signal stays ignored
/// across `exec`, so the write fails with `EFBIG` instead of killing the program).
fn command(case: &Case, project: &Path, tmp: &Path) -> Command {
    let program = match case.tool {
        Tool::Meltc => env!("CARGO_BIN_EXE_meltc"),
        Tool::Run => env!("CARGO_BIN_EXE_meltc-run"),
    };
    let mut command = match case.file_size_limit_kib {
        Some(kib) => {
            let mut shell = Command::new("bash");
            shell
                .args([
                    "-c",
                    &format!("trap '' XFSZ; ulimit -f {kib}; exec \"$@\""),
                    "limit",
                ])
                .arg(program);
            shell
        }
        None => Command::new(program),
    };
    command
        .args(case.args)
        .current_dir(project)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env("TMPDIR", tmp)
        .env("MELTC_MANIFEST", project.join("deploy/dev/manifest.json"))
        .envs(case.env.iter().map(|(name, value)| {
            (
                *name,
                value.replace("{project}", &project.to_string_lossy()),
            )
        }));
    command
}

fn write_file(path: &Path, contents: &str) {
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(path, contents).unwrap();
    if path.parent().is_some_and(|dir| dir.ends_with("bin")) {
        use std::os::unix::fs::PermissionsExt as _;
        fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// Every entry under `root` (not following links) with its kind and contents.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, String> {
    walkdir::WalkDir::new(root)
        .min_depth(1)
        .into_iter()
        .flatten()
        .map(|entry| {
            let kind = if entry.path_is_symlink() {
                format!("link {:?}", fs_err::read_link(entry.path()).ok())
            } else if entry.file_type().is_file() {
                let bytes = fs_err::read(entry.path()).unwrap_or_default();
                format!("file {} {:x}", bytes.len(), fnv(&bytes))
            } else {
                "other".to_owned()
            };
            (entry.path().strip_prefix(root).unwrap().to_path_buf(), kind)
        })
        .collect()
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn changes(
    before: &BTreeMap<PathBuf, String>,
    after: &BTreeMap<PathBuf, String>,
    may_write: &[&str],
) -> Vec<String> {
    let allowed = |path: &Path| {
        may_write
            .iter()
            .any(|prefix| path.starts_with(Path::new("project").join(prefix)))
    };
    let mut problems = Vec::new();
    for (path, kind) in after {
        if before.get(path) != Some(kind) && !allowed(path) {
            problems.push(format!(
                "left behind or changed: {} ({kind})",
                path.display()
            ));
        }
    }
    for path in before.keys() {
        if !after.contains_key(path) && !allowed(path) {
            problems.push(format!("removed: {}", path.display()));
        }
    }
    problems
}

/// The runtime fixture (tests/fixtures/runtime-fake) built for `dev`: a manifest to break, or
/// to run with bad surroundings.
pub fn built_fixture(project: &Path) {
    crate::support::copy_tree(&repo().join("tests/fixtures/runtime-fake"), project);
    let run = crate::support::meltc(project, &["build", "--env", "dev"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// `chattr +i`: not even root may change `path` (the tests run as root, so permission bits
/// would not stop them); undone after the case.
pub fn immutable(path: &Path) {
    let status = Command::new("chattr").arg("+i").arg(path).status().unwrap();
    assert!(status.success(), "chattr +i {}", path.display());
}

/// Run with a deadline (a command that blocks on a FIFO fails its case instead of hanging the
/// suite): the exit code (-1 for a signal or a timeout) and stderr followed by stdout.
fn run_with_timeout(mut command: Command) -> (i32, String) {
    let streams = tempfile::tempdir().unwrap();
    let (out, err) = (streams.path().join("out"), streams.path().join("err"));
    let mut child = command
        .stdout(fs_err::File::create(&out).unwrap().into_parts().0)
        .stderr(fs_err::File::create(&err).unwrap().into_parts().0)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let read = |path: &Path| String::from_utf8_lossy(&fs_err::read(path).unwrap()).into_owned();
    let text = format!("{}{}", read(&err), read(&out));
    match status {
        Some(status) => (status.code().unwrap_or(-1), text),
        None => (-1, format!("{text}\n(timed out after 20 s)")),
    }
}
