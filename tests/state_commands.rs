//! `meltc-run state history | rollback | copy | clear --stream | edit` end to end: the fake
//! project run by the real `meltc-run`, state in a real Garage (and a folder), each command
//! against a concurrent run (refused with exit 75 by the run lease, or waiting with
//! `--lease-wait`), and the real `meltano` 4.4.1 reading every state meltc-run wrote while
//! history and lease files lie beside it.

use std::collections::BTreeMap;
use std::path::Path;

use crate::runtime_faults::{Lab, STATE_ID, text};
use crate::support::garage::Garage;
use crate::support::meltano_batch;

/// `meltc-run ARGS`: exit code and log.
fn run(lab: &Lab, args: &[&str]) -> (i32, String, String) {
    let output = lab.run(args);
    (
        output.status.code().unwrap_or(-1),
        text(&output.stdout),
        text(&output.stderr),
    )
}

/// `meltc-run ARGS` must succeed; returns its stdout.
fn ok(lab: &Lab, args: &[&str]) -> String {
    let (code, stdout, log) = run(lab, args);
    assert_eq!(code, 0, "meltc-run {args:?}:\n{log}");
    stdout
}

/// The lines of `state history ID` after the header, split into their columns (number,
/// replaced at, by, state).
fn history(lab: &Lab, state_id: &str) -> Vec<(String, String, String, String)> {
    let printed = ok(lab, &["state", "history", state_id]);
    let mut lines = printed.lines();
    assert_eq!(
        lines.next(),
        Some("#  replaced at           by            state")
    );
    lines
        .map(|line| {
            let mut parts = line.split_whitespace();
            let mut next = || parts.next().unwrap_or_default().to_owned();
            (next(), next(), next(), next())
        })
        .collect()
}

fn users(n: u64) -> String {
    format!(r#"{{"singer_state":{{"bookmarks":{{"users":{{"n":{n}}}}}}}}}"#)
}

/// An executable shell script `name` in the lab with `body`, for `$EDITOR`.
fn script(lab: &Lab, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    let path = lab.root().join(name);
    fs_err::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

/// The real `meltano` lists exactly `ids` and gets each as `meltc-run state get` prints it.
fn meltano_reads(lab: &Lab, ids: &[&str]) {
    let mut env: BTreeMap<String, String> = lab.env().iter().cloned().collect();
    let uri = env["STATE_URI"].clone();
    env.insert("MELTANO_STATE_BACKEND_URI".to_owned(), uri);
    env.insert("HOME".to_owned(), home(lab.root()));
    env.insert("LANG".to_owned(), "C.UTF-8".to_owned());
    env.insert(
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS".to_owned(),
        "false".to_owned(),
    );
    let argv = |args: &[&str]| -> Vec<String> {
        ["--environment", "dev", "state"]
            .iter()
            .chain(args)
            .map(|arg| (*arg).to_owned())
            .collect()
    };
    let mut commands = vec![argv(&["list"])];
    commands.extend(ids.iter().map(|id| argv(&["get", id])));
    let runs = meltano_batch(lab.root(), &env, &commands);
    for run in &runs {
        assert_eq!(run.code, 0, "meltano failed:\n{}", run.stderr);
    }
    let mut listed: Vec<&str> = runs[0].stdout.lines().collect();
    listed.sort_unstable();
    let mut expected = ids.to_vec();
    expected.sort_unstable();
    assert_eq!(listed, expected, "meltano state list");
    let ours: Vec<String> = ok(lab, &["state", "list"])
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(ours, expected, "meltc-run state list");
    for (id, run) in ids.iter().zip(&runs[1..]) {
        assert_eq!(
            run.stdout.trim_end(),
            ok(lab, &["state", "get", id]).trim_end(),
            "meltano state get {id}"
        );
    }
}

fn home(root: &Path) -> String {
    root.join("home").display().to_string()
}

/// Runs, history, rollback, the next run resuming, pruning; then Meltano reads it all.
fn history_and_rollback(lab: &mut Lab) {
    ok(lab, &["job", "sync"]);
    ok(lab, &["job", "sync"]);
    assert_eq!(lab.stored(), Some(6));
    let entries = history(lab, STATE_ID);
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries[0], ("0".into(), "-".into(), "-".into(), users(6)));
    let (number, saved_at, by, state) = &entries[1];
    assert_eq!((number.as_str(), by.as_str()), ("1", "run"));
    assert_eq!(state, &users(3));
    assert!(
        saved_at.len() == 20 && saved_at.ends_with('Z'),
        "{saved_at}"
    );

    // Back to the state before the last run; the next run resumes from it.
    let (code, _, log) = run(lab, &["state", "rollback", STATE_ID]);
    assert_eq!(code, 0, "{log}");
    assert!(
        log.contains(&format!(
            "state `{STATE_ID}` is back to history entry 1 (kept when a `run` replaced it at {saved_at})"
        )),
        "{log}"
    );
    assert_eq!(lab.stored(), Some(3));
    let entries = history(lab, STATE_ID);
    let columns: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|(n, _, by, state)| (n.as_str(), by.as_str(), state.as_str()))
        .collect();
    assert_eq!(
        columns,
        [
            ("0", "-", users(3).as_str()),
            ("1", "rollback", users(6).as_str()),
            ("2", "run", users(3).as_str())
        ]
    );
    ok(lab, &["job", "sync"]);
    assert_eq!(lab.written(), [1, 2, 3, 4, 5, 6, 4, 5, 6]);
    assert_eq!(lab.stored(), Some(6));

    // Any entry can be put back: entry 3 is the first run's state.
    ok(lab, &["state", "rollback", STATE_ID, "--to", "3"]);
    assert_eq!(lab.stored(), Some(3));
    let (code, _, log) = run(lab, &["state", "rollback", STATE_ID, "--to", "9"]);
    assert_eq!(code, 1, "{log}");
    assert!(
        log.contains(&format!(
            "state `{STATE_ID}` has 4 history entries, so there is no entry 9 to roll back to"
        )),
        "{log}"
    );
    let (code, _, log) = run(lab, &["state", "rollback", STATE_ID, "--to", "0"]);
    assert_eq!(code, 2, "{log}");

    // Only the newest N are kept.
    lab.set("MELTC_STATE_HISTORY", "2");
    ok(lab, &["job", "sync"]);
    let numbers: Vec<String> = history(lab, STATE_ID).into_iter().map(|e| e.0).collect();
    assert_eq!(numbers, ["0", "1", "2"]);

    meltano_reads(lab, &[STATE_ID]);
}

#[test]
fn history_and_rollback_with_the_next_run_resuming_on_garage() {
    let Some(garage) = Garage::start() else {
        return;
    };
    history_and_rollback(&mut Lab::on_garage(&garage, "history"));
}

#[test]
fn history_and_rollback_with_the_next_run_resuming_in_a_folder() {
    let mut lab = Lab::new();
    history_and_rollback(&mut lab);
    // Beside state.json, under names Meltano does not read.
    let folder = lab.root().join("state").join(STATE_ID);
    let mut names: Vec<String> = fs_err::read_dir(folder.join("history"))
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names
            .iter()
            .all(|name| name.ends_with(".json") && name != "state.json")
    );
    assert!(!folder.join("lease").exists(), "the lease was released");
}

#[test]
fn copy_keeps_the_bookmarks_of_a_renamed_state_id_on_garage() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let lab = Lab::on_garage(&garage, "copy");
    ok(&lab, &["job", "sync"]);
    // A suffix stands for a renamed plugin or environment: a new state ID, empty until copied.
    let renamed = "dev:tap-fake-to-target-fake:blue";
    let (code, _, log) = run(&lab, &["state", "copy", STATE_ID, renamed]);
    assert_eq!(code, 0, "{log}");
    assert!(
        log.contains(&format!(
            "copied state `{STATE_ID}` to `{renamed}`; `{STATE_ID}` is unchanged"
        )),
        "{log}"
    );
    ok(&lab, &["job", "sync", "--state-id-suffix", "blue"]);
    assert_eq!(lab.written(), [1, 2, 3, 4, 5, 6]);
    assert_eq!(lab.stored_in(renamed), Some(6));
    assert_eq!(lab.stored(), Some(3));

    // Copying over a state keeps the one it replaced.
    ok(&lab, &["state", "copy", STATE_ID, renamed]);
    let entries = history(&lab, renamed);
    assert_eq!(entries[1].2, "copy");
    assert_eq!(entries[1].3, users(6));

    for (from, to, message) in [
        (STATE_ID, STATE_ID, "cannot move or copy state"),
        ("dev:nothing-to-target-fake", renamed, "has no stored state"),
    ] {
        let (code, _, log) = run(&lab, &["state", "copy", from, to]);
        assert_eq!(code, 1, "{log}");
        assert!(log.contains(message), "{log}");
    }
    meltano_reads(&lab, &[STATE_ID, renamed]);
}

#[test]
fn clear_stream_resets_one_stream_and_keeps_the_others_on_garage() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let lab = Lab::on_garage(&garage, "streams");
    ok(
        &lab,
        &[
            "state",
            "set",
            STATE_ID,
            r#"{"singer_state": {"currently_syncing": "orders", "bookmarks": {"users": {"n": 7}, "orders": {"id": 9}}}}"#,
        ],
    );
    let (code, _, log) = run(&lab, &["state", "clear", STATE_ID, "--stream", "orders"]);
    assert_eq!(code, 0, "{log}");
    assert!(
        log.contains("cleared the bookmark of `orders` in state `dev:tap-fake-to-target-fake`"),
        "{log}"
    );
    assert_eq!(
        ok(&lab, &["state", "get", STATE_ID]).trim_end(),
        r#"{"singer_state":{"currently_syncing":null,"bookmarks":{"users":{"n":7}}}}"#
    );
    assert_eq!(history(&lab, STATE_ID)[1].2, "clear-stream");
    // The run resumes the stream that kept its bookmark.
    ok(&lab, &["job", "sync"]);
    assert_eq!(lab.written(), [8, 9, 10]);

    let (code, _, log) = run(&lab, &["state", "clear", STATE_ID, "--stream", "order"]);
    assert_eq!(code, 1, "{log}");
    assert!(
        log.contains(
            "state `dev:tap-fake-to-target-fake` has no bookmark for stream `order`; its streams: `users`"
        ),
        "{log}"
    );
    assert_eq!(lab.stored(), Some(10));
    meltano_reads(&lab, &[STATE_ID]);
}

#[test]
fn edit_validates_before_storing_and_can_be_rolled_back_on_garage() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let mut lab = Lab::on_garage(&garage, "edit");
    ok(&lab, &["job", "sync"]);

    // The editor gets the merged state with indent=2, as `meltano state edit` writes it.
    let editor = script(&lab, "set-n-1", r#"sed -i 's/"n": 3/"n": 1/' "$1""#);
    lab.set("EDITOR", editor);
    let (code, _, log) = run(&lab, &["state", "edit", STATE_ID]);
    assert_eq!(code, 0, "{log}");
    assert!(
        log.contains("state `dev:tap-fake-to-target-fake` saved"),
        "{log}"
    );
    assert_eq!(lab.stored(), Some(1));
    assert_eq!(history(&lab, STATE_ID)[1].2, "edit");

    // Refused edits change nothing and keep the text.
    for (body, problem) in [
        ("printf '{oops' > \"$1\"", "it is not JSON"),
        (
            r#"printf '{"bookmarks": {}}' > "$1""#,
            "it must be an object with a top-level `singer_state` key",
        ),
        (
            r#"printf '{"singer_state": {"bookmarks": {"users": 5}}}' > "$1""#,
            "the bookmark of stream `users` must be a JSON object",
        ),
    ] {
        lab.set("VISUAL", script(&lab, "bad-edit", body));
        let (code, _, log) = run(&lab, &["state", "edit", STATE_ID]);
        assert_eq!(code, 1, "{log}");
        assert!(log.contains(problem), "{log}");
        let kept = log
            .split("the edited text is kept in `")
            .nth(1)
            .and_then(|rest| rest.split('`').next())
            .unwrap_or_else(|| panic!("no kept file named:\n{log}"));
        assert!(Path::new(kept).is_file(), "{kept}");
        assert_eq!(lab.stored(), Some(1));
    }
    for (body, said) in [
        ("true", "No changes detected"),
        (": > \"$1\"", "Empty content provided - no changes made"),
    ] {
        lab.set("VISUAL", script(&lab, "no-edit", body));
        let (code, _, log) = run(&lab, &["state", "edit", STATE_ID]);
        assert_eq!(code, 0, "{log}");
        assert!(log.contains(said), "{log}");
    }
    lab.set("VISUAL", script(&lab, "failing-editor", "exit 3"));
    let (code, _, log) = run(&lab, &["state", "edit", STATE_ID]);
    assert_eq!(code, 1, "{log}");
    assert!(
        log.contains("exited with exit status: 3; nothing was saved"),
        "{log}"
    );

    ok(&lab, &["state", "rollback", STATE_ID]);
    assert_eq!(lab.stored(), Some(3));
    meltano_reads(&lab, &[STATE_ID]);
}

#[test]
fn state_commands_refuse_or_wait_for_a_running_job_on_garage() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let mut lab = Lab::on_garage(&garage, "busy");
    ok(&lab, &["job", "sync"]);
    lab.set("FAKE_SLEEP", "0.05");
    lab.batch(200);
    lab.set(
        "EDITOR",
        script(&lab, "set-n-1", r#"sed -i 's/"n": [0-9]*/"n": 1/' "$1""#),
    );
    // Records of this run, not the first one's: only then does it hold the lease for sure.
    let before = lab.written().len();
    let running = lab.spawn(&["job", "sync"]);
    lab.wait_for_records(before + 3);
    let state = r#"{"singer_state": {"bookmarks": {"users": {"n": 1}}}}"#;
    for args in [
        vec!["state", "set", STATE_ID, state],
        vec!["state", "clear", STATE_ID],
        vec!["state", "clear", STATE_ID, "--stream", "users"],
        vec!["state", "rollback", STATE_ID],
        vec!["state", "copy", "dev:other-to-target-fake", STATE_ID],
        vec!["state", "edit", STATE_ID],
    ] {
        let (code, _, log) = run(&lab, &args);
        assert_eq!(code, 75, "{args:?} while a run holds the lease:\n{log}");
        assert!(
            log.contains("is in use by another run: `job sync` on host"),
            "{args:?}:\n{log}"
        );
    }
    // Reading never waits.
    ok(&lab, &["state", "get", STATE_ID]);
    ok(&lab, &["state", "history", STATE_ID]);
    // With --lease-wait, a command waits for the run to end, then applies.
    let (code, _, log) = run(
        &lab,
        &["state", "rollback", STATE_ID, "--lease-wait", "120"],
    );
    let finished = running.wait_with_output().unwrap();
    assert_eq!(
        finished.status.code(),
        Some(0),
        "{}",
        text(&finished.stderr)
    );
    assert_eq!(code, 0, "{log}");
    assert_eq!(lab.stored(), Some(3), "rolled back over the whole run");
    meltano_reads(&lab, &[STATE_ID]);
}
