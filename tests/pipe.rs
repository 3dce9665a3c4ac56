//! The pipe module with real processes: small shell and Python programs written to a temporary
//! directory as taps, mappers and targets, the real `target-jsonl`, and `meltc-run dev-pipe`
//! for what needs a whole process (signals, the private config directory).
//!
//! Every test that starts children records their PIDs (and some grandchildren's) and checks
//! afterwards that none is left, zombie or orphan.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use meltc::runtime::interrupt::Interrupts;
use meltc::runtime::log::{LogFormat, Logger};
use meltc::runtime::pipe::{
    self, Exit, Failure, Options, Outcome, PipeError, Plugin, PluginKind, Relay, Report,
};
use sha1::{Digest, Sha1};

use crate::support::tool;

/// A temporary directory of programs and the PID files they write.
struct Lab {
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write an executable program.
    fn program(&self, name: &str, text: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.path().join(name);
        fs_err::write(&path, text).unwrap();
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn plugin(&self, name: &str, kind: PluginKind, text: &str, args: &[&str]) -> Plugin {
        let program = self.program(name, text);
        Plugin {
            name: name.to_owned(),
            kind,
            program,
            args: args.iter().map(OsString::from).collect(),
            env: self.env(),
            cwd: self.path().to_owned(),
        }
    }

    /// The children's whole environment: a `PATH` and where to write PID files.
    fn env(&self) -> BTreeMap<OsString, OsString> {
        BTreeMap::from([
            ("PATH".into(), std::env::var_os("PATH").unwrap_or_default()),
            ("LAB".into(), self.path().as_os_str().to_owned()),
        ])
    }

    /// Every PID the programs wrote to `*.pid` files.
    fn pids(&self) -> Vec<(String, i32)> {
        let mut pids = Vec::new();
        for entry in fs_err::read_dir(self.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|ext| ext == "pid") {
                let text = fs_err::read_to_string(&path).unwrap();
                for pid in text.split_whitespace() {
                    let name = path.file_stem().unwrap().to_string_lossy().into_owned();
                    pids.push((name, pid.parse().unwrap()));
                }
            }
        }
        pids
    }

    /// Assert that no process whose PID was recorded is left: not running, not a zombie of
    /// ours. (A killed grandchild adopted by PID 1 may linger as a zombie until PID 1 reaps
    /// it; that is PID 1's business, so a `Z` of another parent passes.)
    #[track_caller]
    fn assert_no_process_left(&self) {
        let pids = self.pids();
        assert!(!pids.is_empty(), "the programs recorded no PID");
        let deadline = Instant::now() + Duration::from_secs(5);
        for (name, pid) in pids {
            loop {
                let stat = fs_err::read_to_string(format!("/proc/{pid}/stat")).ok();
                let alive = stat.as_deref().is_some_and(|stat| {
                    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
                    let mut fields = after.split_whitespace();
                    let state = fields.next().unwrap_or("");
                    let parent: i32 = fields.next().and_then(|p| p.parse().ok()).unwrap_or(0);
                    state != "Z" || u32::try_from(parent).ok() == Some(std::process::id())
                });
                if !alive {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "`{name}` (pid {pid}) is still there: {stat:?}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// A tap: writes its PID, a SCHEMA, `$1` records with a STATE after every `$2`-th, then
/// exits with `$3` (default 0). Optional `$4`: seconds to sleep after each record.
const TAP: &str = r#"#!/usr/bin/env python3
import json, os, sys, time
open(os.path.join(os.environ["LAB"], "tap.pid"), "a").write(f"{os.getpid()}\n")
count, every = int(sys.argv[1]), int(sys.argv[2])
code = int(sys.argv[3]) if len(sys.argv) > 3 else 0
pause = float(sys.argv[4]) if len(sys.argv) > 4 else 0
out = sys.stdout
out.write(json.dumps({"type": "SCHEMA", "stream": "users", "schema": {"type": "object", "properties": {"id": {"type": "integer"}}}, "key_properties": ["id"]}) + "\n")
for i in range(1, count + 1):
    out.write(json.dumps({"type": "RECORD", "stream": "users", "record": {"id": i}}) + "\n")
    if i % every == 0:
        out.write(json.dumps({"type": "STATE", "value": {"bookmark": i}}) + "\n")
    if pause:
        out.flush()
        time.sleep(pause)
out.flush()
print(f"tap wrote {count} records", file=sys.stderr, flush=True)
# Not sys.exit: Python's shutdown closes stdout milliseconds before the process ends, and a
# target that exits in between would be "the target exited first" (Meltano's rule, tested
# on its own below). os._exit closes and exits at once.
os._exit(code)
"#;

/// A target: writes its PID and prints the value of every STATE message as it reads it.
/// `$1` (optional): after that many input lines, exit with `$2`.
const TARGET: &str = r#"#!/usr/bin/env python3
import json, os, sys
open(os.path.join(os.environ["LAB"], "target.pid"), "a").write(f"{os.getpid()}\n")
stop_after = int(sys.argv[1]) if len(sys.argv) > 1 else None
code = int(sys.argv[2]) if len(sys.argv) > 2 else 0
for number, line in enumerate(sys.stdin, 1):
    message = json.loads(line)
    if message["type"] == "STATE":
        print(json.dumps(message["value"]), flush=True)
    if stop_after is not None and number >= stop_after:
        print(f"target stops after {number} lines", file=sys.stderr)
        sys.exit(code)
print("target read everything", file=sys.stderr)
"#;

fn tap(lab: &Lab, args: &[&str]) -> Plugin {
    lab.plugin("tap-fake", PluginKind::Extractor, TAP, args)
}

fn target(lab: &Lab, args: &[&str]) -> Plugin {
    lab.plugin("target-fake", PluginKind::Loader, TARGET, args)
}

/// Run `plugins` in-process; returns the report, the states and the log.
fn run_with(
    plugins: &[Plugin],
    options: &Options,
    format: LogFormat,
) -> (Report, Vec<String>, String) {
    let (logger, capture) = Logger::in_memory(format);
    let mut states = Vec::new();
    let mut on_state = |line: &str| -> Result<(), pipe::StateError> {
        states.push(line.to_owned());
        Ok(())
    };
    let report = pipe::run(
        plugins,
        options,
        &logger,
        &Interrupts::none(),
        &mut on_state,
    )
    .expect("the pipeline starts");
    (report, states, capture.text())
}

fn run(plugins: &[Plugin]) -> (Report, Vec<String>, String) {
    run_with(plugins, &Options::default(), LogFormat::Text)
}

fn exits(report: &Report) -> Vec<(String, Exit, Option<i32>)> {
    report
        .plugins
        .iter()
        .map(|plugin| (plugin.name.clone(), plugin.exit, plugin.stopped_with))
        .collect()
}

fn bookmarks(states: &[String]) -> Vec<u64> {
    states
        .iter()
        .map(|state| {
            let value: serde_json::Value = serde_json::from_str(state).unwrap();
            value["bookmark"].as_u64().unwrap()
        })
        .collect()
}

#[test]
fn records_and_states_flow_in_both_relay_modes() {
    for relay in [Relay::Counting, Relay::Direct] {
        let lab = Lab::new();
        let options = Options {
            relay,
            ..Options::default()
        };
        let plugins = [tap(&lab, &["1000", "100"]), target(&lab, &[])];
        let (report, states, log) = run_with(&plugins, &options, LogFormat::Text);
        assert_eq!(report.outcome, Outcome::Success, "{log}");
        assert_eq!(
            bookmarks(&states),
            (1..=10).map(|i| i * 100).collect::<Vec<_>>()
        );
        assert_eq!(report.states, 10);
        let records = (relay == Relay::Counting).then_some(1000);
        assert_eq!(report.records, records);
        assert_eq!(
            exits(&report),
            [
                ("tap-fake".into(), Exit::Code(0), None),
                ("target-fake".into(), Exit::Code(0), None)
            ]
        );
        assert!(
            log.contains("tap-fake    | tap wrote 1000 records\n"),
            "{log}"
        );
        assert!(
            log.contains("target-fake | target read everything\n"),
            "{log}"
        );
        lab.assert_no_process_left();
    }
}

#[test]
fn tap_dying_mid_stream_fails_the_run_after_the_target_finishes() {
    let lab = Lab::new();
    // 50 records, a state every 10, then exit 3: the target still gets end-of-input and
    // passes on every state it saw.
    let plugins = [tap(&lab, &["50", "10", "3"]), target(&lab, &[])];
    let (report, states, log) = run(&plugins);
    assert_eq!(report.outcome, Outcome::Failed(Failure::Extractor), "{log}");
    assert_eq!(bookmarks(&states), [10, 20, 30, 40, 50]);
    assert_eq!(report.plugins[0].exit, Exit::Code(3));
    assert_eq!(report.plugins[1].exit, Exit::Code(0));
    assert!(log.contains("extractor tap-fake: exit code 3"), "{log}");
    assert!(
        log.contains("block Extractor failed: 50 records, 5 states"),
        "{log}"
    );
    lab.assert_no_process_left();
}

#[test]
fn tap_killed_by_a_signal_fails_the_run() {
    let lab = Lab::new();
    let tap = lab.plugin(
        "tap-killed",
        PluginKind::Extractor,
        "#!/bin/sh\necho $$ > \"$LAB/tap.pid\"\necho '{\"type\": \"STATE\", \"value\": {\"bookmark\": 1}}'\nkill -9 $$\n",
        &[],
    );
    let (report, states, _) = run(&[tap, target(&lab, &[])]);
    assert_eq!(report.outcome, Outcome::Failed(Failure::Extractor));
    assert_eq!(report.plugins[0].exit, Exit::Signal(9));
    assert_eq!(bookmarks(&states), [1]);
    lab.assert_no_process_left();
}

#[test]
fn target_dying_stops_the_tap_and_fails_the_run() {
    let lab = Lab::new();
    // An endless, slow tap (so it does not die of the broken pipe before the target's exit is
    // seen); the target exits 2 after 21 lines (the schema, 10 records and 10 states).
    let plugins = [
        tap(&lab, &["1000000", "1", "0", "0.02"]),
        target(&lab, &["21", "2"]),
    ];
    let started = Instant::now();
    let (report, states, log) = run(&plugins);
    assert_eq!(report.outcome, Outcome::Failed(Failure::Loader), "{log}");
    assert_eq!(bookmarks(&states), (1..=10).collect::<Vec<_>>());
    assert_eq!(report.plugins[1].exit, Exit::Code(2));
    // The tap was killed by meltc-run, not by its own doing.
    assert_eq!(report.plugins[0].stopped_with, Some(9));
    assert!(started.elapsed() < Duration::from_secs(20));
    lab.assert_no_process_left();
}

#[test]
fn target_ending_early_with_success_is_success() {
    // Meltano: when the target exits first, the tap is killed and counted as successful;
    // the target's code decides.
    let lab = Lab::new();
    let plugins = [
        tap(&lab, &["1000000", "1", "0", "0.02"]),
        target(&lab, &["5", "0"]),
    ];
    let (report, _, log) = run(&plugins);
    assert_eq!(report.outcome, Outcome::Success, "{log}");
    assert_eq!(report.plugins[0].stopped_with, Some(9));
    lab.assert_no_process_left();
}

#[test]
fn target_emitting_states_then_failing_keeps_those_states() {
    let lab = Lab::new();
    let target = lab.plugin(
        "target-flaky",
        PluginKind::Loader,
        r#"#!/bin/sh
echo $$ > "$LAB/target.pid"
cat > /dev/null
echo '{"bookmark": 1}'
echo '{"bookmark": 2}'
echo '{"bookmark": 3}'
echo "disk full" >&2
exit 1
"#,
        &[],
    );
    let (report, states, log) = run(&[tap(&lab, &["20", "5"]), target]);
    assert_eq!(report.outcome, Outcome::Failed(Failure::Loader));
    assert_eq!(bookmarks(&states), [1, 2, 3]);
    assert!(log.contains("target-flaky | disk full\n"), "{log}");
    assert!(log.contains("loader target-flaky: exit code 1"), "{log}");
    lab.assert_no_process_left();
}

#[test]
fn both_failing() {
    let lab = Lab::new();
    let target = lab.plugin(
        "target-bad",
        PluginKind::Loader,
        "#!/bin/sh\necho $$ > \"$LAB/target.pid\"\ncat > /dev/null\nsleep 0.2\nexit 4\n",
        &[],
    );
    let (report, _, _) = run(&[tap(&lab, &["5", "5", "1"]), target]);
    assert_eq!(
        report.outcome,
        Outcome::Failed(Failure::ExtractorAndLoader),
        "{report:?}"
    );
    assert_eq!(
        Failure::ExtractorAndLoader.to_string(),
        "Extractor and loader failed"
    );
    lab.assert_no_process_left();
}

/// A mapper: passes lines through; `$1` (optional): exit with `$2` after that many lines.
const MAPPER: &str = r#"#!/usr/bin/env python3
import os, sys
open(os.path.join(os.environ["LAB"], "mapper.pid"), "a").write(f"{os.getpid()}\n")
stop_after = int(sys.argv[1]) if len(sys.argv) > 1 else None
code = int(sys.argv[2]) if len(sys.argv) > 2 else 0
for number, line in enumerate(sys.stdin, 1):
    sys.stdout.write(line.replace('"users"', '"people"'))
    if stop_after is not None and number >= stop_after:
        sys.stdout.flush()
        sys.exit(code)
sys.stdout.flush()
sys.exit(code)
"#;

#[test]
fn mappers_between_tap_and_target() {
    let lab = Lab::new();
    let mapper = |name: &str, args: &[&str]| lab.plugin(name, PluginKind::Mapper, MAPPER, args);
    // Two mappers in a row, all fine.
    let plugins = [
        tap(&lab, &["300", "100"]),
        mapper("mapper-a", &[]),
        mapper("mapper-b", &[]),
        target(&lab, &[]),
    ];
    for relay in [Relay::Counting, Relay::Direct] {
        let options = Options {
            relay,
            ..Options::default()
        };
        let (report, states, log) = run_with(&plugins, &options, LogFormat::Text);
        assert_eq!(report.outcome, Outcome::Success, "{log}");
        assert_eq!(bookmarks(&states), [100, 200, 300]);
    }
    // A mapper exiting while the tap still runs: Meltano's "intermediate block" failure.
    // (The tap writes slowly, so it does not die of the broken pipe before the mapper's exit
    // is seen: with both gone the rules see an ordinary end.)
    let plugins = [
        tap(&lab, &["1000000", "1", "0", "0.05"]),
        mapper("mapper-a", &["10", "0"]),
        target(&lab, &[]),
    ];
    let (report, _, log) = run(&plugins);
    assert_eq!(
        report.outcome,
        Outcome::Failed(Failure::Intermediate),
        "{log}"
    );
    // A mapper failing after its input ended: "Mappers failed".
    let plugins = [
        tap(&lab, &["10", "5"]),
        mapper("mapper-a", &["1000", "5"]),
        target(&lab, &[]),
    ];
    let (report, states, log) = run(&plugins);
    assert_eq!(report.outcome, Outcome::Failed(Failure::Mappers), "{log}");
    assert_eq!(bookmarks(&states), [5, 10]);
    lab.assert_no_process_left();
}

#[test]
fn timeout_stops_the_pipeline_and_kills_what_ignores_sigterm() {
    let lab = Lab::new();
    // The tap ignores SIGTERM and starts a grandchild: both must be gone afterwards.
    let tap = lab.plugin(
        "tap-stuck",
        PluginKind::Extractor,
        r#"#!/bin/sh
trap '' TERM
sleep 300 &
echo "$$ $!" > "$LAB/tap.pid"
echo '{"type": "STATE", "value": {"bookmark": 7}}'
while :; do sleep 1; done
"#,
        &[],
    );
    let options = Options {
        // Long enough for the Python target to start and pass the state on under a loaded
        // CI machine (0.3-0.4 s to start at load 15; 800 ms failed there now and then).
        deadline: Some(Instant::now() + Duration::from_millis(3000)),
        stop_grace: Duration::from_millis(500),
        ..Options::default()
    };
    let started = Instant::now();
    let (report, states, log) = run_with(&[tap, target(&lab, &[])], &options, LogFormat::Text);
    assert_eq!(report.outcome, Outcome::TimedOut);
    assert!(log.contains("error: run timed out"), "{log}");
    assert_eq!(bookmarks(&states), [7]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(report.plugins[0].exit, Exit::Signal(9));
    lab.assert_no_process_left();
}

#[test]
fn stderr_is_forwarded_as_text_and_as_json() {
    let lab = Lab::new();
    let tap = lab.plugin(
        "tap-chatty",
        PluginKind::Extractor,
        "#!/bin/sh\necho $$ > \"$LAB/tap.pid\"\necho 'starting \"sync\"' >&2\nprintf 'no newline at the end' >&2\n",
        &[],
    );
    let plugins = [tap, target(&lab, &[])];
    let (_, _, text) = run_with(&plugins, &Options::default(), LogFormat::Text);
    assert!(text.contains("tap-chatty  | starting \"sync\"\n"), "{text}");
    assert!(
        text.contains("tap-chatty  | no newline at the end\n"),
        "{text}"
    );
    assert!(
        text.contains("target-fake | target read everything\n"),
        "{text}"
    );
    let (_, _, json) = run_with(&plugins, &Options::default(), LogFormat::Json);
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert!(lines.contains(&serde_json::json!({
        "plugin": "tap-chatty", "kind": "extractor", "stream": "stderr", "message": "starting \"sync\"",
    })));
    let summary = lines.last().unwrap();
    assert_eq!(summary["plugin"], "meltc-run");
    assert_eq!(summary["event"], "block");
    assert_eq!(summary["success"], true);
    lab.assert_no_process_left();
}

#[test]
fn progress_lines_count_records_and_states() {
    let lab = Lab::new();
    let plugins = [tap(&lab, &["30", "10", "0", "0.02"]), target(&lab, &[])];
    let options = Options {
        progress_every: Some(Duration::from_millis(150)),
        ..Options::default()
    };
    let (report, _, log) = run_with(&plugins, &options, LogFormat::Json);
    assert!(report.success());
    let progress: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|line| line["event"] == "progress")
        .collect();
    assert!(!progress.is_empty(), "{log}");
    let last = progress.last().unwrap();
    assert!(last["records"].as_u64().unwrap() > 0, "{last}");
    assert!(last["states"].is_u64(), "{last}");
    lab.assert_no_process_left();
}

#[test]
fn large_volume_is_relayed_intact() {
    let lab = Lab::new();
    // One million RECORD lines of varying length from a file, checksummed by the target.
    let data = lab.path().join("records.jsonl");
    let mut text = String::with_capacity(80_000_000);
    for i in 0..1_000_000_u64 {
        let padding = "x".repeat(usize::try_from(i % 97).unwrap());
        text.push_str(&format!(
            "{{\"type\": \"RECORD\", \"stream\": \"s\", \"record\": {{\"id\": {i}, \"p\": \"{padding}\"}}}}\n"
        ));
    }
    fs_err::write(&data, &text).unwrap();
    let expected: String = Sha1::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let tap = lab.plugin(
        "tap-file",
        PluginKind::Extractor,
        "#!/bin/sh\necho $$ > \"$LAB/tap.pid\"\nexec cat \"$LAB/records.jsonl\"\n",
        &[],
    );
    let target = lab.plugin(
        "target-sum",
        PluginKind::Loader,
        "#!/bin/sh\necho $$ > \"$LAB/target.pid\"\nsha1sum | cut -c1-40\n",
        &[],
    );
    for relay in [Relay::Counting, Relay::Direct] {
        let options = Options {
            relay,
            ..Options::default()
        };
        let (report, states, log) =
            run_with(&[tap.clone(), target.clone()], &options, LogFormat::Text);
        assert!(report.success(), "{log}");
        assert_eq!(states, std::slice::from_ref(&expected));
        if relay == Relay::Counting {
            assert_eq!(report.records, Some(1_000_000));
        }
    }
    lab.assert_no_process_left();
}

#[test]
fn real_target_jsonl() {
    let lab = Lab::new();
    let out = lab.path().join("out");
    let config = lab.path().join("target.config.json");
    fs_err::write(
        &config,
        serde_json::json!({"destination_path": out, "do_timestamp_file": false}).to_string(),
    )
    .unwrap();
    let target = Plugin {
        name: "target-jsonl".into(),
        kind: PluginKind::Loader,
        program: tool("target-jsonl"),
        args: vec!["--config".into(), config.into_os_string()],
        env: lab.env(),
        cwd: lab.path().to_owned(),
    };
    // target-jsonl emits the last STATE when it follows the last RECORD.
    let (report, states, log) = run(&[tap(&lab, &["2500", "500"]), target]);
    assert!(report.success(), "{log}");
    assert_eq!(bookmarks(&states), [2500]);
    assert_eq!(report.records, Some(2500));
    let written = fs_err::read_to_string(out.join("users.jsonl")).unwrap();
    assert_eq!(written.lines().count(), 2500);
    assert_eq!(written.lines().last(), Some("{\"id\": 2500}"));
    lab.assert_no_process_left();
}

#[test]
fn environment_and_working_directory_are_exactly_the_given_ones() {
    let lab = Lab::new();
    let work = lab.path().join("work");
    fs_err::create_dir(&work).unwrap();
    // `env` and `pwd` as targets: what they print becomes the state lines. (No shell or
    // Python in between: those add variables of their own.)
    let mut target = Plugin {
        name: "target-env".into(),
        kind: PluginKind::Loader,
        program: "/usr/bin/env".into(),
        args: Vec::new(),
        env: BTreeMap::from([
            ("ONLY_THIS".into(), "1".into()),
            ("AND_THIS".into(), "two words".into()),
        ]),
        cwd: work.clone(),
    };
    // The test process has variables the child must not see.
    assert!(std::env::var_os("HOME").is_some());
    let (report, states, log) = run(&[tap(&lab, &["1", "1"]), target.clone()]);
    assert!(report.success(), "{log}");
    assert_eq!(states, ["AND_THIS=two words", "ONLY_THIS=1"]);
    target.program = "/bin/pwd".into();
    let (report, states, log) = run(&[tap(&lab, &["1", "1"]), target]);
    assert!(report.success(), "{log}");
    assert_eq!(states, [work.to_str().unwrap()]);
    // The tap may be killed (the target ends first) before it writes its PID.
    if !lab.pids().is_empty() {
        lab.assert_no_process_left();
    }
}

#[test]
fn a_plugin_that_cannot_start_leaves_nothing_running() {
    let lab = Lab::new();
    let mut target = target(&lab, &[]);
    target.program = lab.path().join("no-such-target");
    let logger = Logger::in_memory(LogFormat::Text).0;
    let error = pipe::run(
        &[tap(&lab, &["1000000", "1", "0", "0.01"]), target],
        &Options::default(),
        &logger,
        &Interrupts::none(),
        &mut |_| Ok(()),
    )
    .unwrap_err();
    assert!(
        matches!(&error, PipeError::Spawn { plugin, .. } if plugin == "target-fake"),
        "{error:?}"
    );
    // The tap was started first; it may not have written its PID before it was killed.
    std::thread::sleep(Duration::from_millis(100));
    if !lab.pids().is_empty() {
        lab.assert_no_process_left();
    }
}

#[test]
fn only_extractor_mappers_loader() {
    let lab = Lab::new();
    let logger = Logger::in_memory(LogFormat::Text).0;
    let mut backwards = target(&lab, &[]);
    backwards.kind = PluginKind::Extractor;
    let shapes: [Vec<Plugin>; 3] = [
        vec![tap(&lab, &["1", "1"])],
        vec![target(&lab, &[]), tap(&lab, &["1", "1"])],
        vec![tap(&lab, &["1", "1"]), backwards],
    ];
    for plugins in shapes {
        let error = pipe::run(
            &plugins,
            &Options::default(),
            &logger,
            &Interrupts::none(),
            &mut |_| Ok(()),
        )
        .unwrap_err();
        assert!(matches!(error, PipeError::Shape(_)), "{error:?}");
    }
}

#[test]
fn a_state_that_cannot_be_saved_stops_the_pipeline() {
    let lab = Lab::new();
    let logger = Logger::in_memory(LogFormat::Text).0;
    let mut seen = 0;
    let report = pipe::run(
        &[tap(&lab, &["1000000", "1"]), target(&lab, &[])],
        &Options::default(),
        &logger,
        &Interrupts::none(),
        &mut |_| {
            seen += 1;
            if seen == 3 {
                Err("the state backend is down".into())
            } else {
                Ok(())
            }
        },
    )
    .unwrap();
    assert_eq!(
        report.outcome,
        Outcome::StateNotSaved("the state backend is down".into())
    );
    assert_eq!(seen, 3);
    lab.assert_no_process_left();
}

/// `meltc-run dev-pipe` with `args`, stdout and stderr piped.
fn dev_pipe(lab: &Lab, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_meltc-run"))
        .arg("dev-pipe")
        .args(args)
        .current_dir(lab.path())
        .env("LAB", lab.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn sigterm_is_forwarded_state_is_kept_and_the_config_directory_removed() {
    interrupt_dev_pipe(rustix::process::Signal::TERM);
}

#[test]
fn sigint_is_forwarded_too() {
    interrupt_dev_pipe(rustix::process::Signal::INT);
}

/// Send `signal` to `meltc-run dev-pipe` in the middle of a run.
fn interrupt_dev_pipe(signal: rustix::process::Signal) {
    let lab = Lab::new();
    // A slow tap, and a target that saves a last state when SIGTERM or SIGINT arrives.
    let tap = lab.program("tap-slow", TAP);
    let target = lab.program(
        "target-graceful",
        r#"#!/usr/bin/env python3
import json, os, signal, sys
open(os.path.join(os.environ["LAB"], "target.pid"), "a").write(f"{os.getpid()}\n")
assert sys.argv[1] == "--config" and os.path.exists(sys.argv[2])
# One write per line: print() writes the text and the newline separately, and a signal
# handler running between the two glued its line to the previous one.
def emit(value):
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()
def terminated(number, frame):
    emit({"bookmark": -1})
    sys.exit(0)
signal.signal(signal.SIGTERM, terminated)
signal.signal(signal.SIGINT, terminated)
for line in sys.stdin:
    message = json.loads(line)
    if message["type"] == "STATE":
        emit(message["value"])
"#,
    );
    let tap = tap.to_str().unwrap();
    let target = target.to_str().unwrap();
    let mut child = dev_pipe(
        &lab,
        &[
            "--config-files",
            "--",
            tap,
            "100000",
            "1",
            "0",
            "0.02",
            "|",
            target,
        ],
    );
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut states = Vec::new();
    while states.len() < 3 {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "dev-pipe ended early"
        );
        states.push(line.trim_end().to_owned());
    }
    rustix::process::kill_process(rustix::process::Pid::from_child(&child), signal).unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    states.extend(rest.lines().map(str::to_owned));
    let status = child.wait().unwrap();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert_eq!(status.code(), Some(128 + signal.as_raw()), "{log}");
    assert!(
        log.contains("signal received: forwarding it to the pipeline"),
        "{log}"
    );
    // The states before the signal, then the one the target saved when it arrived.
    assert_eq!(
        &states[..3],
        [
            "{\"bookmark\": 1}",
            "{\"bookmark\": 2}",
            "{\"bookmark\": 3}"
        ]
    );
    assert_eq!(
        states.last().map(String::as_str),
        Some("{\"bookmark\": -1}"),
        "{states:?}"
    );
    // The config directory named in the log is gone.
    let dir = log
        .lines()
        .find_map(|line| {
            line.split_once("config directory: ")
                .map(|(_, path)| path.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no config directory in the log:\n{log}"));
    assert!(!Path::new(&dir).exists(), "{dir} is still there");
    lab.assert_no_process_left();
}

/// A tap closes its stdout a moment before it exits, so a mapper that reads to the end of its
/// input exits first: that is the ordinary end of a run, not a mapper that stopped early (the
/// race the mapping canary once lost under load).
#[test]
fn a_mapper_ending_with_its_input_before_the_tap_exits_is_success() {
    let lab = Lab::new();
    let tap = lab.plugin(
        "tap-lingers",
        PluginKind::Extractor,
        r#"#!/bin/sh
echo '{"type": "STATE", "value": {"bookmark": 1}}'
exec 1>&-
sleep 0.5
"#,
        &[],
    );
    let mapper = lab.plugin("mapper-a", PluginKind::Mapper, MAPPER, &[]);
    let (report, states, log) = run(&[tap, mapper, target(&lab, &[])]);
    assert_eq!(report.outcome, Outcome::Success, "{log}");
    assert_eq!(bookmarks(&states), [1]);
}
