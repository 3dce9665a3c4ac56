//! The cron model (`src/cron/`) against croniter 6.0.0 and Dagster, in Dagster's venv: on a
//! table of expressions, meltc accepts exactly what croniter accepts, says Dagster can run
//! exactly what Dagster's `is_valid_cron_string` takes, and every CronJob `schedule` it writes
//! is one robfig/cron reads and fires when croniter fires the expression (60 times from
//! 2026-01-01).

use std::io::Write as _;
use std::process::{Command, Stdio};

use meltc::cron::{Cron, Interval, kubernetes_accepts};

use crate::support::{repo, tool};

const EXPRESSIONS: &[&str] = &[
    "0 6 L * *",
    "0 6 * * *",
    "0 0 * * 7",
    "0 0 * * fri-mon",
    "0 0 * * 5-7",
    "0 0 LW * *",
    "0 0 15W * *",
    "0 0 * * 1#2",
    "0 0 * * 5L",
    "0 0 * * L",
    "0 0 * * L5",
    "0 0 L-2 * *",
    "0 0 ? * *",
    "0 0 * * ?",
    "? 0 * * *",
    "0 0 2 * * *",
    "0 0 2 * * * 2030",
    "*/15 * * * *",
    "0 9 * JAN-MAR MON-FRI",
    "0 0 30 2 *",
    "0 0 31 2 *",
    "0 0 29 2 *",
    "61 * * * *",
    "0 24 * * *",
    "0 0 0 * *",
    "0 0 * 0 *",
    "0 0 * 13 *",
    "0 0 * * 8",
    "*/0 * * * *",
    "5/10 * * * *",
    "0-59/90 * * * *",
    "1-3/2 * * * *",
    "3-1 * * * *",
    "50-10/15 * * * *",
    "0,xyz * * * *",
    "0 0 * * mon,wed",
    "0 0 1,15 * *",
    "H * * * *",
    "R * * * *",
    "R(0-29) * * * *",
    "0 0 L L *",
    "0 0 1L * *",
    "0 0 * * 0#1",
    "0 0 * * 7#1",
    "0 0 * * 1#6",
    "+5 * * * *",
    "05 * * * *",
    "0 0 1-L * *",
    "0 0 * * MON#2",
    "0 0 * * sun-sat",
    "0 0 * * 0-7",
    "0 12 * * 1-5/2",
    "0 0 1 */3 *",
    "0 0 * * 6-0",
    "TZ=UTC 0 0 * * *",
    "0 0 l * *",
    "0 0 * * 1#2,3#4",
    "0 0 * * 1#2,3",
    "0 6 5-5 * *",
    "0 0 1,,15 * *",
    "0 0 * NOV-FEB *",
    "0 22-2 * * *",
    "*/7 */5 */3 */2 *",
    "0 0 * * 1-5#2",
    "0 0 10-25/5 * 1",
    "0 0 * * * 30",
    "0 0 * * 7 0",
    "0 0 0 * * *",
    "1-5,30 * * * *",
    "0 0 * jan/2 *",
    "-5 * * * *",
    "5- * * * *",
    "0 0 ?,1 * *",
    "* * * * * * *",
];

/// Dagster takes croniter's `R`, but croniter draws a new value each time it reads the
/// expression, so a schedule's ticks would wander: meltc asks for a fixed value instead.
const DAGSTER_STRICTER: &[&str] = &["R * * * *", "R(0-29) * * * *"];

#[test]
fn the_cron_model_agrees_with_croniter_and_dagster() {
    let parsed: Vec<Result<Cron, String>> = EXPRESSIONS.iter().map(|e| Cron::parse(e)).collect();
    let input: Vec<(String, Option<String>)> = EXPRESSIONS
        .iter()
        .zip(&parsed)
        .map(|(expression, cron)| {
            let rendering = cron.as_ref().ok().and_then(|cron| cron.kubernetes().ok());
            ((*expression).to_owned(), rendering)
        })
        .collect();
    let python = fs_err::canonicalize(tool("dagster"))
        .unwrap()
        .with_file_name("python");
    let mut child = Command::new(python)
        .arg(repo().join("tests/support/croniter_check.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&input).unwrap().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let verdicts: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let mut failures = Vec::new();
    let (mut accepted, mut rendered) = (0, 0);
    for ((expression, cron), (verdict, (_, rendering))) in EXPRESSIONS
        .iter()
        .zip(&parsed)
        .zip(verdicts.iter().zip(&input))
    {
        if cron.is_ok() != verdict["croniter"] {
            failures.push(format!(
                "{expression}: meltc {cron:?}, croniter {}",
                verdict["croniter"]
            ));
            continue;
        }
        let Ok(cron) = cron else { continue };
        accepted += 1;
        let dagster_verdict = verdict["dagster"] == true && !DAGSTER_STRICTER.contains(expression);
        if cron.dagster().is_ok() != dagster_verdict {
            failures.push(format!(
                "{expression}: meltc dagster {:?}, Dagster {}",
                cron.dagster(),
                verdict["dagster"]
            ));
        }
        if let Some(rendering) = rendering {
            rendered += 1;
            if !kubernetes_accepts(rendering) {
                failures.push(format!("{expression}: `{rendering}` is not robfig's"));
            }
            if verdict["rendering_fires"] != verdict["fires"] {
                failures.push(format!("{expression}: `{rendering}` fires at other times"));
            }
        }
        // Validation goes through the same model.
        assert!(Interval::parse(expression).is_ok(), "{expression}");
    }
    println!(
        "cron: {} expressions, {accepted} accepted by croniter, {rendered} written for Kubernetes",
        EXPRESSIONS.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
