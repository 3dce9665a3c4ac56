//! `meltc-run job` when things go wrong: the tap dies mid-stream, the target dies, SIGTERM
//! arrives, Garage stops, a second run starts on the same state ID (and the first is killed),
//! a target ends with an empty state, a tap's bookmark moves backwards. The plugins are the
//! fake pair of tests/fixtures/runtime-fake with their fault knobs (a STATE after every record,
//! a sleep, a death after record k, an empty final state, a tap ignoring its state), so each
//! fault happens at a known point; the empty final state also goes through the real
//! `target-jsonl`.
//!
//! Every case checks Singer's contract on the stored state: never beyond the last state the
//! target emitted (the target emits a state only after writing the records before it), the
//! exit code, that no child process outlives the run, and that the private folder holding the
//! config (with the token) is gone.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::garage::{self, Garage};
use crate::support::{copy_tree, meltc, repo, tool};

const TOKEN: &str = "t0k3n-canary-value";
pub(crate) const STATE_ID: &str = "dev:tap-fake-to-target-fake";

/// The fake project, built, with the environment `meltc-run` gets.
pub(crate) struct Lab {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Lab {
    /// The fake project built for `dev`, state in a local folder.
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&repo().join("tests/fixtures/runtime-fake"), dir.path());
        let build = meltc(dir.path(), &["build", "--env", "dev"]);
        assert_eq!(build.code, 0, "{}", build.stderr);
        for folder in ["tmp", "pids"] {
            fs_err::create_dir_all(dir.path().join(folder)).unwrap();
        }
        let path = |name: &str| dir.path().join(name).display().to_string();
        let env = vec![
            ("PATH".to_owned(), std::env::var("PATH").unwrap_or_default()),
            ("STATE_URI".to_owned(), format!("file://{}", path("state"))),
            ("OUT_FILE".to_owned(), path("out.jsonl")),
            ("FAKE_TOKEN".to_owned(), TOKEN.to_owned()),
            ("FAKE_STATE_EVERY".to_owned(), "1".to_owned()),
            ("FAKE_PID_DIR".to_owned(), path("pids")),
            ("TMPDIR".to_owned(), path("tmp")),
        ];
        Self { dir, env }
    }

    /// The fake project with its state in `garage` under `prefix`.
    pub(crate) fn on_garage(garage: &Garage, prefix: &str) -> Self {
        let mut lab = Self::new();
        lab.set("STATE_URI", format!("s3://{}/{prefix}", garage::BUCKET));
        lab.set(
            "MELTANO_STATE_BACKEND_S3_AWS_ACCESS_KEY_ID",
            garage.key_id.clone(),
        );
        lab.set(
            "MELTANO_STATE_BACKEND_S3_AWS_SECRET_ACCESS_KEY",
            garage.secret.clone(),
        );
        lab.set(
            "MELTANO_STATE_BACKEND_S3_ENDPOINT_URL",
            garage.endpoint.clone(),
        );
        lab.set("AWS_DEFAULT_REGION", garage::REGION);
        lab
    }

    /// Records per run (the fixture's `batch`), rebuilt into the manifest.
    pub(crate) fn batch(&self, records: u32) {
        let project = self.root().join("meltano.yml");
        let text: String = fs_err::read_to_string(&project)
            .unwrap()
            .lines()
            .map(|line| match line.split_once("batch: ") {
                Some((indent, _)) => format!("{indent}batch: {records}\n"),
                None => format!("{line}\n"),
            })
            .collect();
        fs_err::write(&project, text).unwrap();
        assert_eq!(meltc(self.root(), &["build", "--env", "dev"]).code, 0);
    }

    /// Add the real `target-jsonl` as a loader and the job `sync-jsonl` (`tap-fake
    /// target-jsonl`, state ID `dev:tap-fake-to-target-jsonl`), writing into `jsonl/`.
    pub(crate) fn with_target_jsonl(&self) {
        let project = self.root().join("meltano.yml");
        let text = fs_err::read_to_string(&project).unwrap();
        let loader = format!(
            "  - name: target-jsonl\n    namespace: target_jsonl\n    executable: {}\n    \
             config:\n      destination_path: {}\n      do_timestamp_file: false\n",
            tool("target-jsonl").display(),
            self.root().join("jsonl").display()
        );
        let text = text
            .replacen("jobs:\n", &format!("{loader}jobs:\n"), 1)
            .replacen(
                "schedules:\n",
                "- name: sync-jsonl\n  tasks:\n  - tap-fake target-jsonl\nschedules:\n",
                1,
            );
        fs_err::write(&project, text).unwrap();
        let build = meltc(self.root(), &["build", "--env", "dev"]);
        assert_eq!(build.code, 0, "{}", build.stderr);
    }

    pub(crate) fn root(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn set(&mut self, name: &str, value: impl Into<String>) {
        self.env.retain(|(key, _)| key != name);
        self.env.push((name.to_owned(), value.into()));
    }

    /// The environment `meltc-run` gets (for Meltano on the same state backend).
    pub(crate) fn env(&self) -> &[(String, String)] {
        &self.env
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_meltc-run"));
        command
            .args(args)
            .current_dir(self.root())
            .env_clear()
            .envs(self.env.iter().map(|(key, value)| (key, value)))
            .env(
                "MELTC_MANIFEST",
                self.root().join("deploy/dev/manifest.json"),
            );
        command
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    pub(crate) fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// The records the target wrote, in order.
    pub(crate) fn written(&self) -> Vec<u64> {
        crate::runtime_run::records(&self.root().join("out.jsonl"))
    }

    /// Wait until the target wrote at least `count` records.
    pub(crate) fn wait_for_records(&self, count: usize) {
        let started = Instant::now();
        while self.written().len() < count {
            assert!(started.elapsed() < Duration::from_secs(30), "no progress");
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The bookmark stored for the job, read back through `meltc-run state get`.
    pub(crate) fn stored(&self) -> Option<u64> {
        self.stored_in(STATE_ID)
    }

    /// The bookmark of `users` stored under `state_id`.
    pub(crate) fn stored_in(&self, state_id: &str) -> Option<u64> {
        let got = self.run(&["state", "get", state_id]);
        assert_eq!(got.status.code(), Some(0), "{}", text(&got.stderr));
        let value: serde_json::Value = serde_json::from_slice(&got.stdout).unwrap();
        value["singer_state"]["bookmarks"]["users"]["n"].as_u64()
    }

    /// How many times the tap started (its PID files).
    pub(crate) fn tap_starts(&self) -> usize {
        fs_err::read_dir(self.root().join("pids"))
            .unwrap()
            .flatten()
            .filter(|entry| entry.file_name().to_string_lossy().starts_with("tap-"))
            .count()
    }

    /// After a run: no child left, no private folder left, the token in no log line.
    pub(crate) fn assert_aftermath(&self, output: &Output) {
        let stderr = text(&output.stderr);
        assert!(!stderr.contains(TOKEN), "the token was logged:\n{stderr}");
        assert!(!text(&output.stdout).contains(TOKEN));
        let left: Vec<PathBuf> = fs_err::read_dir(self.root().join("tmp"))
            .unwrap()
            .flatten()
            .map(|entry| entry.path())
            .collect();
        assert!(
            left.is_empty(),
            "private files left behind: {left:?}\n{stderr}"
        );
        for entry in fs_err::read_dir(self.root().join("pids"))
            .unwrap()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name.rsplit('-').next().unwrap();
            assert!(!running(pid), "{name} outlived the run\n{stderr}");
        }
    }
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Whether `pid` is a live process (a zombie is dead, only not yet reaped).
fn running(pid: &str) -> bool {
    fs_err::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or_default()
            .trim_start()
            .starts_with('Z')
    })
}

fn signal(child: &Child, signal: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_child(child);
    rustix::process::kill_process(pid, signal).unwrap();
}

#[test]
fn the_tap_dying_mid_stream_fails_the_run_and_keeps_the_states_before() {
    let mut lab = Lab::new();
    lab.set("FAKE_DIE_AFTER", "4");
    lab.batch(10);
    let output = lab.run(&["job", "sync"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("tap-fake"),
        "{}",
        text(&output.stderr)
    );
    lab.assert_aftermath(&output);
    assert_eq!(lab.written(), [1, 2, 3, 4]);
    // Every state the target emitted was stored as it arrived, as Meltano does.
    assert_eq!(lab.stored(), Some(4));

    // The next run resumes after the last stored bookmark.
    lab.set("FAKE_DIE_AFTER", "0");
    let output = lab.run(&["job", "sync"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(lab.written(), (1..=14).collect::<Vec<_>>());
    assert_eq!(lab.stored(), Some(14));
}

#[test]
fn the_target_dying_stops_the_tap_and_keeps_only_what_it_committed() {
    let mut lab = Lab::new();
    lab.set("FAKE_TARGET_DIE_AFTER", "5");
    // A tap that would go on for a long time: it must be stopped, not waited for.
    lab.set("FAKE_SLEEP", "0.01");
    lab.batch(100000);
    let started = Instant::now();
    let output = lab.run(&["job", "sync"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(
        text(&output.stderr).contains("target-fake"),
        "{}",
        text(&output.stderr)
    );
    lab.assert_aftermath(&output);
    assert_eq!(lab.written(), [1, 2, 3, 4]);
    assert_eq!(lab.stored(), Some(4));
}

#[test]
fn sigterm_stops_the_children_and_keeps_the_stored_state() {
    let mut lab = Lab::new();
    lab.set("FAKE_SLEEP", "0.05");
    lab.batch(1000);
    let child = lab.spawn(&["job", "sync"]);
    lab.wait_for_records(5);
    signal(&child, rustix::process::Signal::TERM);
    let output = child.wait_with_output().unwrap();
    assert_ne!(output.status.code(), Some(0), "{}", text(&output.stderr));
    lab.assert_aftermath(&output);
    let written = lab.written();
    assert!(written.len() >= 5 && written.len() < 1000, "{written:?}");
    let stored = lab.stored().expect("states were stored before the signal");
    assert!(
        stored >= 4 && stored <= *written.last().unwrap(),
        "stored {stored}, written up to {:?}",
        written.last()
    );
}

#[test]
fn a_timeout_stops_the_run_like_sigterm() {
    let mut lab = Lab::new();
    lab.set("FAKE_SLEEP", "0.05");
    lab.batch(1000);
    // 1000 records at 50 ms take 50 s; 6 s is well inside that and, unlike 2 s, leaves a
    // loaded machine time to start the Python tap and write its first records.
    let output = lab.run(&["job", "sync", "--timeout", "6"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    lab.assert_aftermath(&output);
    let written = lab.written();
    assert!(!written.is_empty() && written.len() < 1000, "{written:?}");
    assert!(
        lab.stored()
            .is_some_and(|stored| stored <= *written.last().unwrap())
    );
}

#[test]
fn garage_stopping_mid_run_fails_the_run_and_never_stores_beyond_the_target() {
    let Some(mut garage) = Garage::start() else {
        return;
    };
    let mut lab = Lab::on_garage(&garage, "faults");
    lab.set("FAKE_SLEEP", "0.05");
    lab.batch(1000);
    let child = lab.spawn(&["job", "sync"]);
    lab.wait_for_records(5);
    garage.kill();
    let output = child.wait_with_output().unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&garage.endpoint),
        "the error names the endpoint:\n{stderr}"
    );
    assert!(!stderr.contains(&garage.secret), "{stderr}");
    lab.assert_aftermath(&output);
    let written = lab.written();
    assert!(written.len() < 1000, "the run stopped: {}", written.len());
    garage.restart();
    // Storing lags the target by a few states (each is a locked write to Garage); what was
    // stored before the outage is kept, and nothing beyond what the target wrote.
    let stored = lab.stored().expect("the states before the outage are kept");
    assert!(stored <= *written.last().unwrap(), "{stored} > {written:?}");
}

/// Two runs of one state ID started together, `rounds` times: one runs the pipe, the other
/// exits 75 naming the lease before starting anything, and the state is the winner's.
fn two_runs_at_once_one_runs(lab: &mut Lab, rounds: u32) {
    lab.set("FAKE_SLEEP", "0.01");
    lab.batch(30);
    for round in 1..=rounds {
        let before = lab.tap_starts();
        let first = lab.spawn(&["job", "sync"]);
        let second = lab.spawn(&["job", "sync"]);
        let outputs = [
            first.wait_with_output().unwrap(),
            second.wait_with_output().unwrap(),
        ];
        let mut codes: Vec<i32> = outputs
            .iter()
            .map(|output| output.status.code().unwrap_or(-1))
            .collect();
        codes.sort_unstable();
        let logs: Vec<String> = outputs.iter().map(|o| text(&o.stderr)).collect();
        assert_eq!(codes, [0, 75], "round {round}:\n{}", logs.join("\n---\n"));
        let refused = &logs[usize::from(outputs[0].status.code() == Some(0))];
        assert!(
            refused.contains(
                "state `dev:tap-fake-to-target-fake` is in use by another run: `job sync` on host"
            ),
            "{refused}"
        );
        assert!(
            refused.contains("/lease/"),
            "the message names the lease:\n{refused}"
        );
        for output in &outputs {
            lab.assert_aftermath(output);
        }
        assert_eq!(
            lab.tap_starts(),
            before + 1,
            "round {round}: both ran the pipe"
        );
        assert_eq!(lab.stored(), Some(30 * u64::from(round)));
    }
}

#[test]
fn two_runs_on_one_state_id_never_both_run_the_pipe() {
    two_runs_at_once_one_runs(&mut Lab::new(), 3);
}

#[test]
fn two_runs_on_one_state_id_never_both_run_the_pipe_on_garage() {
    let Some(garage) = Garage::start() else {
        return;
    };
    two_runs_at_once_one_runs(&mut Lab::on_garage(&garage, "twice"), 3);
}

#[test]
fn a_second_run_waits_for_the_first_with_lease_wait_and_resumes_after_it() {
    let mut lab = Lab::new();
    lab.set("FAKE_SLEEP", "0.02");
    lab.batch(50);
    let first = lab.spawn(&["job", "sync"]);
    lab.wait_for_records(2);
    let second = lab.run(&["job", "sync", "--lease-wait", "60"]);
    let first = first.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stderr));
    // One after the other: the second started from the first's last bookmark.
    assert_eq!(lab.written(), (1..=100).collect::<Vec<_>>());
    assert_eq!(lab.stored(), Some(100));
}

#[test]
fn a_killed_lease_holder_blocks_the_next_run_no_longer_than_the_lease() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let mut lab = Lab::on_garage(&garage, "killed");
    lab.set("MELTC_RUN_LEASE_SECONDS", "3");
    // A kill while a state write holds Meltano's lock leaves it too: stale after 2 s here.
    lab.set("MELTANO_STATE_BACKEND_LOCK_TIMEOUT_SECONDS", "2");
    lab.set("FAKE_SLEEP", "0.05");
    lab.batch(1000);
    let holder = lab.spawn(&["job", "sync"]);
    let started = Instant::now();
    while lab.stored().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no state stored"
        );
        thread::sleep(Duration::from_millis(50));
    }
    // SIGKILL: no chance to give the lease back. Its tap and target die of the broken pipe.
    signal(&holder, rustix::process::Signal::KILL);
    let killed_at = Instant::now();
    let _ = holder.wait_with_output();

    let refused = lab.run(&["job", "sync"]);
    assert_eq!(refused.status.code(), Some(75), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains("is in use by another run"),
        "{}",
        text(&refused.stderr)
    );
    let stored = lab.stored().expect("states before the kill are kept");

    // The next run waiting for the lease gets it once it expires: 3 s after the holder's last
    // renewal (at most 0.3 s before the kill), then within a 1 s retry. Its own setting's
    // variable makes it short without a rebuild.
    lab.set("TAP_FAKE_BATCH", "3");
    let started = killed_at.elapsed();
    let next = lab.run(&["job", "sync", "--lease-wait", "30"]);
    let log = text(&next.stderr);
    assert_eq!(next.status.code(), Some(0), "{log}");
    // `waited 2.3 s for another run to finish`, logged from a 1 s wait on.
    let waited = log
        .split("waited ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|seconds| seconds.parse::<f64>().ok())
        .map_or(Duration::from_secs(1), Duration::from_secs_f64);
    let got = started + waited;
    eprintln!(
        "the next run started {started:?} after the kill, waited {waited:?}: it held the lease \
         {got:?} after the kill (the lease lasts 3 s)"
    );
    assert!(
        got < Duration::from_millis(3000 + 1000 + 1000),
        "blocked for {got:?}, beyond the 3 s lease and its 1 s retry"
    );
    assert_eq!(lab.stored(), Some(stored + 3));
}

#[test]
fn an_empty_final_state_from_the_target_keeps_the_bookmarks_on_garage() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let mut lab = Lab::on_garage(&garage, "empty");
    let output = lab.run(&["job", "sync"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(lab.stored(), Some(3));
    // A target that always ends with its latest state, `{}` when it got none (sdk#3000).
    lab.set("FAKE_TARGET_FINAL_STATE", "{}");
    let output = lab.run(&["job", "sync"]);
    let log = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{log}");
    assert!(
        log.contains("warning: Received empty state, incremental state has not been updated"),
        "{log}"
    );
    assert_eq!(
        lab.stored(),
        Some(6),
        "the empty state replaced the bookmarks"
    );
    let next = lab.run(&["job", "sync"]);
    assert_eq!(next.status.code(), Some(0), "{}", text(&next.stderr));
    assert_eq!(lab.written(), (1..=9).collect::<Vec<_>>());
}

#[test]
fn the_real_target_jsonl_passing_an_empty_final_state_keeps_the_bookmarks_on_garage() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let mut lab = Lab::on_garage(&garage, "jsonl");
    lab.with_target_jsonl();
    let state_id = "dev:tap-fake-to-target-jsonl";
    let output = lab.run(&["job", "sync-jsonl"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(lab.stored_in(state_id), Some(3));
    // The tap ends with `STATE {}`; target-jsonl emits the last state it got: `{}`.
    lab.set("FAKE_FINAL_EMPTY_STATE", "1");
    let output = lab.run(&["job", "sync-jsonl"]);
    let log = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{log}");
    assert!(log.contains("Received empty state"), "{log}");
    assert_eq!(lab.stored_in(state_id), Some(3));
    let written = fs_err::read_to_string(lab.root().join("jsonl/users.jsonl")).unwrap();
    assert_eq!(written.lines().count(), 6, "{written}");
}

#[test]
fn a_bookmark_moving_backwards_is_a_warning_naming_the_stream() {
    let mut lab = Lab::new();
    lab.batch(5);
    let output = lab.run(&["job", "sync"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    // The tap starts over from 0 although the state says 5: every state goes backwards.
    lab.set("FAKE_IGNORE_STATE", "1");
    let output = lab.run(&["job", "sync"]);
    let log = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{log}");
    let warning = "warning: the bookmark of stream `users` moved backwards: `n` went from 5 to 1 \
                   (without --full-refresh)";
    assert_eq!(
        log.matches(warning).count(),
        1,
        "one warning per stream:\n{log}"
    );
    assert_eq!(log.matches("moved backwards").count(), 1, "{log}");
    // Stored anyway, as Meltano does; the history keeps the one the run replaced.
    assert_eq!(lab.stored(), Some(5));
    lab.batch(3);
    let output = lab.run(&["job", "sync"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(lab.stored(), Some(3));
    // A full refresh starts over on purpose: no warning.
    let output = lab.run(&["job", "sync", "--full-refresh"]);
    let log = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{log}");
    assert!(!log.contains("moved backwards"), "{log}");
}

/// The run-results file of a run with `--run-results results.json`, checked against
/// schemas/run-results.schema.json.
fn run_results(lab: &Lab) -> serde_json::Value {
    let text = fs_err::read_to_string(lab.root().join("results.json")).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let schema: serde_json::Value = serde_json::from_str(
        &fs_err::read_to_string(repo().join("schemas/run-results.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{text}");
    assert_eq!(value["run_results_version"], 1);
    value
}

/// The records per stream of the results' only step, by name.
fn stream_records(results: &serde_json::Value) -> Vec<(String, u64)> {
    results["steps"][0]["extract_load"]["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|stream| {
            (
                stream["stream"].as_str().unwrap().to_owned(),
                stream["records"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn run_results_count_what_the_tap_wrote_per_stream_and_the_states_before_and_after() {
    let mut lab = Lab::new();
    // 6 records of `orders` in another key order, then 10 of `users`, a state after each.
    lab.set("FAKE_ORDERS", "6");
    lab.batch(10);
    let output = lab.run(&["job", "sync", "--run-results", "results.json"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    lab.assert_aftermath(&output);
    let results = run_results(&lab);
    assert_eq!(results["command"], "job sync");
    assert_eq!(results["environment"], "dev");
    assert_eq!(results["success"], true);
    assert_eq!(results["exit_code"], 0);
    assert_eq!(results["records"], 16);
    let step = &results["steps"][0];
    assert_eq!(step["name"], "tap-fake target-fake");
    assert_eq!(step["status"], "succeeded");
    assert_eq!(
        step["plugins"],
        serde_json::json!([
            {"name": "tap-fake", "kind": "extractor", "exit_code": 0, "stopped_by_signal": null},
            {"name": "target-fake", "kind": "loader", "exit_code": 0, "stopped_by_signal": null},
        ])
    );
    let data = &step["extract_load"];
    assert_eq!(data["state_id"], STATE_ID);
    assert_eq!(data["records"], 16);
    assert_eq!(data["states"], 10);
    assert_eq!(data["state_before"], serde_json::json!({}));
    assert_eq!(
        data["state_after"],
        serde_json::json!({"singer_state": {"bookmarks": {"users": {"n": 10}}}})
    );
    assert_eq!(
        stream_records(&results),
        [("orders".to_owned(), 6), ("users".to_owned(), 10)]
    );
    assert_eq!(
        data["streams"][1]["bookmark_before"],
        serde_json::Value::Null
    );
    assert_eq!(
        data["streams"][1]["bookmark_after"],
        serde_json::json!({"n": 10})
    );
    assert!(
        stderr.contains("run succeeded in ")
            && stderr.contains(": 1 step, 16 records (orders 6, users 10), 10 states\n"),
        "{stderr}"
    );

    // The next run starts from the stored bookmark; `--log-format json` carries the same
    // numbers in its last line.
    lab.set("FAKE_ORDERS", "0");
    let output = lab.run(&[
        "--log-format",
        "json",
        "job",
        "sync",
        "--run-results",
        "results.json",
    ]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let results = run_results(&lab);
    let data = &results["steps"][0]["extract_load"];
    assert_eq!(
        data["state_before"],
        serde_json::json!({"singer_state": {"bookmarks": {"users": {"n": 10}}}})
    );
    assert_eq!(
        data["streams"][0]["bookmark_before"],
        serde_json::json!({"n": 10})
    );
    assert_eq!(
        data["streams"][0]["bookmark_after"],
        serde_json::json!({"n": 20})
    );
    assert_eq!(stream_records(&results), [("users".to_owned(), 10)]);
    let last: serde_json::Value = serde_json::from_str(stderr.lines().last().unwrap()).unwrap();
    assert_eq!(last["event"], "run_summary");
    let mut logged = last["results"].clone();
    let mut written = results.clone();
    for value in [&mut logged, &mut written] {
        value.as_object_mut().unwrap().remove("duration_seconds");
    }
    assert_eq!(logged["steps"], written["steps"]);
    assert_eq!(logged["records"], 10);
}

#[test]
fn run_results_are_written_when_the_tap_dies_with_its_exit_code() {
    let mut lab = Lab::new();
    lab.set("FAKE_DIE_AFTER", "4");
    lab.batch(10);
    let output = lab.run(&["job", "sync", "--run-results", "results.json"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    lab.assert_aftermath(&output);
    let results = run_results(&lab);
    assert_eq!(results["success"], false);
    assert_eq!(results["exit_code"], 1);
    assert!(
        results["error"].as_str().unwrap().contains("tap-fake"),
        "{results}"
    );
    let step = &results["steps"][0];
    assert_eq!(step["status"], "failed");
    assert_eq!(step["plugins"][0]["name"], "tap-fake");
    assert_eq!(step["plugins"][0]["exit_code"], 3);
    assert_eq!(step["plugins"][1]["exit_code"], 0);
    assert_eq!(stream_records(&results), [("users".to_owned(), 4)]);
    assert_eq!(
        step["extract_load"]["state_after"],
        serde_json::json!({"singer_state": {"bookmarks": {"users": {"n": 4}}}})
    );
    assert!(stderr.contains("run failed (exit 1) in "), "{stderr}");
}

#[test]
fn run_results_are_written_when_the_target_dies_with_its_exit_code() {
    let mut lab = Lab::new();
    lab.set("FAKE_TARGET_DIE_AFTER", "5");
    lab.set("FAKE_SLEEP", "0.01");
    lab.batch(100000);
    let output = lab.run(&["job", "sync", "--run-results", "results.json"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    lab.assert_aftermath(&output);
    let results = run_results(&lab);
    let step = &results["steps"][0];
    assert_eq!(step["status"], "failed");
    assert_eq!(step["plugins"][1]["name"], "target-fake");
    assert_eq!(step["plugins"][1]["exit_code"], 4);
    // The tap was stopped by meltc-run, not by its own doing.
    assert_eq!(step["plugins"][0]["stopped_by_signal"], 9, "{step}");
    let users = stream_records(&results)[0].1;
    assert!(users >= 5, "{users} records reached the target");
    assert_eq!(
        step["extract_load"]["state_after"],
        serde_json::json!({"singer_state": {"bookmarks": {"users": {"n": 4}}}})
    );
}

#[test]
fn a_run_results_path_in_a_missing_folder_is_refused_before_anything_runs() {
    let lab = Lab::new();
    let output = lab.run(&["job", "sync", "--run-results", "nowhere/results.json"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the folder `nowhere` does not exist"),
        "{stderr}"
    );
    assert!(!lab.root().join("out.jsonl").exists());
}
