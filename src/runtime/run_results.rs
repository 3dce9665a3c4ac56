//! What a `meltc-run job` or `meltc-run run` did, step by step and stream by stream: the
//! run-results file (`--run-results PATH`, described by `schemas/run-results.schema.json`),
//! the run's last log line, and the numbers a reporter (Dagster Pipes) hands on.
//!
//! Input: each step's [`StepResult`], filled in by the runner as the step goes (the pipe's
//! [`Report`], the state the step started from and the state stored after it); output: one
//! [`RunResults`] value, written as JSON (atomically, so a reader never sees half a file) and
//! summarised in one line. Every step of the run is listed, the ones a failure kept from
//! running as `not_run`, and the file is written on failure too, with the failing exit codes.
//!
//! Meltano has no such file (meltano#7085, open since 2022): its only record of a run is the
//! `runs` table of its system database, without counts.

use std::path::Path;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::pipe::{Exit, PluginKind, Report};
use crate::manifest::Step;

/// The format version [`RunResults::run_results_version`] carries; bump it on any change a
/// reader of version 1 would misread.
pub const RUN_RESULTS_VERSION: u32 = 1;

/// One run of `meltc-run job` or `meltc-run run`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "meltc-run run results")]
pub struct RunResults {
    /// The format version: 1.
    #[schemars(extend("const" = 1))]
    pub run_results_version: u32,
    /// The `meltc-run` that wrote the file.
    pub meltc_version: String,
    /// What ran, as its command line says it: `job NAME` or `run BLOCK...`.
    pub command: String,
    /// The manifest's environment; `null` for a manifest built without one (stateless runs).
    pub environment: Option<String>,
    /// When the run started: RFC 3339, UTC.
    pub started_at: String,
    /// From the start to the end of the last step.
    pub duration_seconds: f64,
    /// Whether every step succeeded.
    pub success: bool,
    /// `meltc-run`'s exit code: 0 success, 1 a step failed, 2 usage or configuration.
    pub exit_code: i32,
    /// Why the run failed, as the log says it; `null` on success.
    pub error: Option<String>,
    /// `RECORD` messages the extractors wrote, over every step and stream.
    pub records: u64,
    /// Every step of the run, in order, including those a failure kept from running.
    pub steps: Vec<StepResult>,
}

/// One step: an extract/load block or a command.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StepResult {
    /// The step as `meltano run` blocks write it: `tap-x mapping target-y`, `dbt:run`.
    pub name: String,
    /// How it ended.
    pub status: StepStatus,
    /// Why it failed; `null` unless `failed`.
    pub error: Option<String>,
    /// How long it ran (0 when it did not run).
    pub duration_seconds: f64,
    /// Each process of the step and how it ended, in pipeline order; empty when none
    /// started (a configuration error, a failed discovery).
    pub plugins: Vec<PluginResult>,
    /// The data an extract/load step moved; `null` for a command step.
    pub extract_load: Option<ExtractLoadResult>,
}

/// How a step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Every process succeeded (by Meltano's rules) and every state was stored.
    Succeeded,
    /// It failed: [`StepResult::error`] says why.
    Failed,
    /// An earlier step failed, the run was interrupted before it, or `--dry-run`.
    NotRun,
}

/// One process of a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PluginResult {
    /// The plugin's name (a mapping's name for a mapper).
    pub name: String,
    /// Its place in the step.
    pub kind: PluginRole,
    /// Python's `returncode`, as Meltano reports it: the exit code, or minus the number of
    /// the signal that ended the process.
    pub exit_code: i32,
    /// The signal `meltc-run` sent to stop it (the target ended first, a timeout, a signal
    /// received), so that its exit is not its own doing; `null` when it ended by itself.
    pub stopped_by_signal: Option<i32>,
}

/// A process's place in its step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PluginRole {
    /// The tap.
    Extractor,
    /// A mapping between tap and target.
    Mapper,
    /// The target.
    Loader,
    /// A command step's plugin.
    Command,
}

/// The data of an extract/load step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExtractLoadResult {
    /// The extractor.
    pub extractor: String,
    /// The mappings between, in order.
    pub mappings: Vec<String>,
    /// The loader.
    pub loader: String,
    /// Where the step's state is kept (`dev:tap-x-to-target-y`); `null` when it keeps none
    /// (no environment, no `state` capability, `--no-state-update`).
    pub state_id: Option<String>,
    /// `RECORD` messages the extractor wrote (what passed to the next process).
    pub records: u64,
    /// State lines the loader wrote.
    pub states: u64,
    /// The state the step started from, as `meltano state get` prints it (`{}` when none
    /// was stored, or with `--full-refresh`); `null` when the step keeps no state.
    pub state_before: Option<Value>,
    /// The state stored when the step ended; `null` when the step keeps no state or it
    /// could not be read back.
    pub state_after: Option<Value>,
    /// Each stream the extractor wrote a `SCHEMA` or `RECORD` for, or that has a bookmark
    /// before or after, by name.
    pub streams: Vec<StreamResult>,
}

/// One stream of an extract/load step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StreamResult {
    /// The stream's name as the extractor writes it (the catalog's `stream`).
    pub stream: String,
    /// Its `RECORD` messages in this step.
    pub records: u64,
    /// `singer_state.bookmarks.<stream>` of [`ExtractLoadResult::state_before`].
    pub bookmark_before: Option<Value>,
    /// `singer_state.bookmarks.<stream>` of [`ExtractLoadResult::state_after`].
    pub bookmark_after: Option<Value>,
}

impl StepResult {
    /// A step before it runs.
    #[must_use]
    pub fn not_run(step: &Step) -> Self {
        let (name, extract_load) = match step {
            Step::ExtractLoad {
                extractor,
                mappings,
                loader,
                ..
            } => {
                let mappings: Vec<String> = mappings.iter().map(|m| m.mapping.clone()).collect();
                let mut blocks = vec![extractor.clone()];
                blocks.extend(mappings.iter().cloned());
                blocks.push(loader.clone());
                let data = ExtractLoadResult {
                    extractor: extractor.clone(),
                    mappings,
                    loader: loader.clone(),
                    state_id: None,
                    records: 0,
                    states: 0,
                    state_before: None,
                    state_after: None,
                    streams: Vec::new(),
                };
                (blocks.join(" "), Some(data))
            }
            Step::Command { plugin, command } => (
                command
                    .as_ref()
                    .map_or_else(|| plugin.clone(), |command| format!("{plugin}:{command}")),
                None,
            ),
        };
        Self {
            name,
            status: StepStatus::NotRun,
            error: None,
            duration_seconds: 0.0,
            plugins: Vec::new(),
            extract_load,
        }
    }

    /// The step ran for `elapsed` and ended with `error` (none: success).
    pub fn finish(&mut self, elapsed: Duration, error: Option<String>) {
        self.duration_seconds = elapsed.as_secs_f64();
        self.status = if error.is_some() {
            StepStatus::Failed
        } else {
            StepStatus::Succeeded
        };
        self.error = error;
    }

    /// What the pipe reported: every process's end, the records per stream, the states.
    pub fn pipe(&mut self, report: &Report) {
        self.plugins = report
            .plugins
            .iter()
            .map(|plugin| PluginResult {
                name: plugin.name.clone(),
                kind: match plugin.kind {
                    PluginKind::Extractor => PluginRole::Extractor,
                    PluginKind::Mapper => PluginRole::Mapper,
                    PluginKind::Loader => PluginRole::Loader,
                },
                exit_code: plugin.exit.returncode(),
                stopped_by_signal: plugin.stopped_with,
            })
            .collect();
        if let Some(data) = &mut self.extract_load {
            data.records = report.records.unwrap_or(0);
            data.states = report.states;
            data.streams = report
                .streams
                .iter()
                .flat_map(|streams| streams.iter())
                .map(|(stream, records)| StreamResult {
                    stream: stream.to_owned(),
                    records,
                    bookmark_before: None,
                    bookmark_after: None,
                })
                .collect();
            data.bookmarks();
        }
    }

    /// A command step's process ended.
    pub fn command_exit(&mut self, plugin: &str, exit: Exit) {
        self.plugins = vec![PluginResult {
            name: plugin.to_owned(),
            kind: PluginRole::Command,
            exit_code: exit.returncode(),
            stopped_by_signal: None,
        }];
    }

    /// The extract/load data, for the runner to fill in (`None` for a command step).
    pub fn extract_load_mut(&mut self) -> Option<&mut ExtractLoadResult> {
        self.extract_load.as_mut()
    }
}

impl ExtractLoadResult {
    /// Set the state stored after the step, and each stream's bookmarks.
    pub fn state_after(&mut self, state: Option<Value>) {
        self.state_after = state;
        self.bookmarks();
    }

    /// Fill in each stream's bookmark before and after, adding the streams that have one
    /// but no message in this step (sorted by name, as the counts are).
    fn bookmarks(&mut self) {
        let names = [&self.state_before, &self.state_after]
            .into_iter()
            .flatten()
            .filter_map(bookmarks_of)
            .flat_map(|bookmarks| bookmarks.keys().cloned())
            .collect::<Vec<String>>();
        for name in names {
            if let Err(at) = self
                .streams
                .binary_search_by(|stream| stream.stream.as_str().cmp(&name))
            {
                self.streams.insert(
                    at,
                    StreamResult {
                        stream: name,
                        records: 0,
                        bookmark_before: None,
                        bookmark_after: None,
                    },
                );
            }
        }
        for stream in &mut self.streams {
            stream.bookmark_before = bookmark(self.state_before.as_ref(), &stream.stream);
            stream.bookmark_after = bookmark(self.state_after.as_ref(), &stream.stream);
        }
    }
}

/// `singer_state.bookmarks` of a stored state, when it is an object.
fn bookmarks_of(state: &Value) -> Option<&serde_json::Map<String, Value>> {
    state.get("singer_state")?.get("bookmarks")?.as_object()
}

/// `singer_state.bookmarks.<stream>` of a stored state.
fn bookmark(state: Option<&Value>, stream: &str) -> Option<Value> {
    bookmarks_of(state?)?.get(stream).cloned()
}

impl RunResults {
    /// A run of `command` that starts now, with its steps not run yet.
    #[must_use]
    pub fn start(command: String, environment: Option<String>, steps: &[Step]) -> Self {
        Self {
            run_results_version: RUN_RESULTS_VERSION,
            meltc_version: env!("CARGO_PKG_VERSION").to_owned(),
            command,
            environment,
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            duration_seconds: 0.0,
            success: false,
            exit_code: 0,
            error: None,
            records: 0,
            steps: steps.iter().map(StepResult::not_run).collect(),
        }
    }

    /// The run ended after `elapsed` with `exit_code` and, on failure, `error`.
    pub fn finish(&mut self, elapsed: Duration, exit_code: i32, error: Option<String>) {
        self.duration_seconds = elapsed.as_secs_f64();
        self.exit_code = exit_code;
        self.success = exit_code == 0;
        self.error = error;
        self.records = self
            .steps
            .iter()
            .filter_map(|step| step.extract_load.as_ref())
            .map(|data| data.records)
            .sum();
    }

    /// The file's text: pretty JSON with a final newline.
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Write the file at `path`, atomically.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        crate::atomic_file::write(path, &self.to_json())
    }

    /// The run in one line: outcome, time, steps, records per stream, states.
    /// `run succeeded in 4.210 s: 1 step, 3000 records (users 2000, orders 1000), 3 states`.
    #[must_use]
    pub fn summary(&self) -> String {
        let ran = self
            .steps
            .iter()
            .filter(|step| step.status != StepStatus::NotRun)
            .count();
        let total = self.steps.len();
        let steps = if ran == total {
            format!("{total} step{}", plural(total))
        } else {
            format!("{ran} of {total} steps")
        };
        let mut streams: Vec<(&str, u64)> = Vec::new();
        for step in self.steps.iter().filter_map(|s| s.extract_load.as_ref()) {
            streams.extend(
                step.streams
                    .iter()
                    .map(|stream| (stream.stream.as_str(), stream.records)),
            );
        }
        let states: u64 = self
            .steps
            .iter()
            .filter_map(|step| step.extract_load.as_ref())
            .map(|data| data.states)
            .sum();
        let outcome = if self.success {
            "run succeeded".to_owned()
        } else {
            format!("run failed (exit {})", self.exit_code)
        };
        format!(
            "{outcome} in {:.3} s: {steps}, {} record{}{}, {states} state{}",
            self.duration_seconds,
            self.records,
            plural(self.records),
            per_stream(&streams),
            plural(states),
        )
    }
}

/// ` (users 2000, orders 1000)`, the first streams only when there are many.
fn per_stream(streams: &[(&str, u64)]) -> String {
    const SHOWN: usize = 5;
    if streams.is_empty() {
        return String::new();
    }
    let mut parts: Vec<String> = streams
        .iter()
        .take(SHOWN)
        .map(|(name, records)| format!("{name} {records}"))
        .collect();
    if streams.len() > SHOWN {
        parts.push(format!("{} more streams", streams.len() - SHOWN));
    }
    format!(" ({})", parts.join(", "))
}

fn plural(count: impl TryInto<u64>) -> &'static str {
    if count.try_into().ok() == Some(1) {
        ""
    } else {
        "s"
    }
}

/// The JSON Schema of the run-results file, as `schemas/run-results.schema.json` holds it.
#[must_use]
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(RunResults);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::runtime::pipe::{Outcome, PluginReport, StreamCounts};

    fn step() -> Step {
        serde_json::from_value(json!({
            "kind": "extract_load",
            "extractor": "tap-x",
            "mappings": [],
            "loader": "target-y",
            "state_id": "dev:tap-x-to-target-y",
            "incremental": true
        }))
        .unwrap()
    }

    #[test]
    fn streams_get_counts_and_bookmarks_before_and_after() {
        let mut result = StepResult::not_run(&step());
        assert_eq!(result.name, "tap-x target-y");
        let data = result.extract_load_mut().unwrap();
        data.state_before = Some(json!({"singer_state": {"bookmarks": {
            "users": {"id": 3}, "gone": {"id": 1}
        }}}));
        let report = Report {
            outcome: Outcome::Success,
            plugins: vec![PluginReport {
                name: "tap-x".to_owned(),
                kind: PluginKind::Extractor,
                exit: Exit::Signal(9),
                stopped_with: Some(9),
            }],
            records: Some(7),
            streams: Some(StreamCounts(BTreeMap::from([
                ("users".to_owned(), 5),
                ("orders".to_owned(), 2),
                ("schema_only".to_owned(), 0),
            ]))),
            states: 2,
            elapsed: Duration::from_millis(1500),
        };
        result.pipe(&report);
        let data = result.extract_load_mut().unwrap();
        data.state_after(Some(json!({"singer_state": {"bookmarks": {
            "users": {"id": 8}, "orders": {"id": 2}
        }}})));
        result.finish(Duration::from_millis(1600), None);
        let value = serde_json::to_value(&result).unwrap();
        assert_eq!(value["status"], "succeeded");
        assert_eq!(value["duration_seconds"], 1.6);
        assert_eq!(
            value["plugins"],
            json!([{"name": "tap-x", "kind": "extractor", "exit_code": -9, "stopped_by_signal": 9}])
        );
        assert_eq!(
            value["extract_load"]["streams"],
            json!([
                {"stream": "gone", "records": 0, "bookmark_before": {"id": 1}, "bookmark_after": null},
                {"stream": "orders", "records": 2, "bookmark_before": null, "bookmark_after": {"id": 2}},
                {"stream": "schema_only", "records": 0, "bookmark_before": null, "bookmark_after": null},
                {"stream": "users", "records": 5, "bookmark_before": {"id": 3}, "bookmark_after": {"id": 8}},
            ])
        );
    }

    #[test]
    fn the_summary_says_it_in_one_line() {
        let command: Step = serde_json::from_value(json!({
            "kind": "command", "plugin": "dbt", "command": "run"
        }))
        .unwrap();
        let mut results = RunResults::start("job sync".to_owned(), None, &[step(), command]);
        assert_eq!(results.steps[1].name, "dbt:run");
        let data = results.steps[0].extract_load_mut().unwrap();
        data.records = 3;
        data.states = 1;
        data.streams = vec![StreamResult {
            stream: "users".to_owned(),
            records: 3,
            bookmark_before: None,
            bookmark_after: None,
        }];
        results.steps[0].finish(Duration::from_secs(1), Some("Loader failed".to_owned()));
        results.finish(Duration::from_millis(1250), 1, Some("boom".to_owned()));
        assert_eq!(
            results.summary(),
            "run failed (exit 1) in 1.250 s: 1 of 2 steps, 3 records (users 3), 1 state"
        );
        let text = results.to_json();
        let back: RunResults = serde_json::from_str(&text).unwrap();
        assert_eq!(back, results);
    }
}
