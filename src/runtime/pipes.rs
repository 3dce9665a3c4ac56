//! Dagster Pipes: what `meltc-run` tells the Dagster process that started it.
//!
//! Input: `DAGSTER_PIPES_CONTEXT` and `DAGSTER_PIPES_MESSAGES` (set by Dagster's
//! `PipesSubprocessClient`: each the base64 of zlib-compressed JSON params), and the run's
//! [`RunResults`] at its end; output: JSON lines `{"__dagster_pipes_version": "0.1", "method",
//! "params"}` appended to the messages file (or written to stderr/stdout when the params say
//! `stdio`): `opened` at the start; at the end one `report_asset_materialization` per asset of
//! the context, with the records its stream carried (`dagster/row_count`), its bookmark before
//! and after and the step's duration; a `log` line with the run's summary; `closed`, with an
//! exception carrying `meltc-run`'s reason when the run failed. The protocol is that of
//! `dagster_pipes/__init__.py` (dagster-pipes 1.13: `PipesDefaultContextLoader`,
//! `PipesDefaultMessageWriter`, `PipesContext.report_asset_materialization`).
//!
//! Nothing here counts: the numbers are the run results the pipe already collected, and the
//! reports are written once, after the run, so the pipe pays nothing for them.
//!
//! Asset keys: the generated `definitions.py` passes each stream's key (its `AssetKey` as a
//! user string, `loader/stream` or the `annotations.meltc.dagster.asset_keys` override) in the
//! context's extras under [`STREAM_KEYS_EXTRA`], so the keys are those it declares, computed
//! once, in one place. Without it, a stream's key is `loader/stream`, the default.

use std::io::Write;
use std::path::PathBuf;

use base64::Engine;
use serde_json::{Map, Value, json};

use super::run_results::{RunResults, StepStatus};

/// The environment variable of the context's params.
pub const CONTEXT_ENV: &str = "DAGSTER_PIPES_CONTEXT";
/// The environment variable of the message writer's params.
pub const MESSAGES_ENV: &str = "DAGSTER_PIPES_MESSAGES";
/// The protocol version every message carries (`PIPES_PROTOCOL_VERSION`).
const PROTOCOL_VERSION: &str = "0.1";
/// The extras key under which `definitions.py` maps each stream to its asset key.
pub const STREAM_KEYS_EXTRA: &str = "meltc/stream_asset_keys";

/// Where messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Channel {
    /// Appended to a file, one line each (`{"path": ...}`).
    File(PathBuf),
    /// Written to stderr (`{"stdio": "stderr"}`).
    Stderr,
    /// Written to stdout (`{"stdio": "stdout"}`).
    Stdout,
}

/// A Pipes session: the context Dagster handed over and where messages go.
#[derive(Debug)]
pub struct Pipes {
    channel: Channel,
    /// The asset keys the step materializes (`None`: an op, no assets).
    asset_keys: Option<Vec<String>>,
    /// Stream name to asset key, from the extras.
    stream_keys: Map<String, Value>,
}

impl Pipes {
    /// The session the environment describes; `None` when Dagster did not start the process.
    ///
    /// # Errors
    /// The variables are set but cannot be decoded, or the context file cannot be read.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        let (Some(context), Some(messages)) = (var(CONTEXT_ENV), var(MESSAGES_ENV)) else {
            return Ok(None);
        };
        let context_params = decode_param(&context).map_err(|e| format!("{CONTEXT_ENV}: {e}"))?;
        let messages_params =
            decode_param(&messages).map_err(|e| format!("{MESSAGES_ENV}: {e}"))?;
        let channel = channel(&messages_params).map_err(|e| format!("{MESSAGES_ENV}: {e}"))?;
        let data = context_data(&context_params).map_err(|e| format!("{CONTEXT_ENV}: {e}"))?;
        let asset_keys = data
            .get("asset_keys")
            .and_then(Value::as_array)
            .map(|keys| {
                keys.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            });
        let stream_keys = data
            .get("extras")
            .and_then(|extras| extras.get(STREAM_KEYS_EXTRA))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        Ok(Some(Self {
            channel,
            asset_keys,
            stream_keys,
        }))
    }

    /// `opened`: the process has started and speaks Pipes.
    ///
    /// # Errors
    /// The message cannot be written.
    pub fn opened(&self) -> std::io::Result<()> {
        self.write("opened", &json!({"extras": {}}))
    }

    /// `log`: a line in Dagster's event log.
    ///
    /// # Errors
    /// The message cannot be written.
    pub fn log(&self, level: &str, message: &str) -> std::io::Result<()> {
        self.write("log", &json!({"message": message, "level": level}))
    }

    /// The run's end: a materialization per asset of the context (on success), the summary
    /// as a log line, and `closed` (with `meltc-run`'s reason as the exception on failure).
    ///
    /// # Errors
    /// A message cannot be written.
    pub fn finish(&self, results: &RunResults) -> std::io::Result<()> {
        if results.success {
            for (key, metadata) in self.materializations(results) {
                self.write(
                    "report_asset_materialization",
                    &json!({"asset_key": key, "data_version": null, "metadata": metadata}),
                )?;
            }
        }
        let level = if results.success { "INFO" } else { "ERROR" };
        self.log(level, &results.summary())?;
        let params = match (&results.error, results.success) {
            (_, true) => json!({}),
            (error, false) => {
                let message = error.clone().unwrap_or_else(|| results.summary());
                json!({"exception": {
                    "message": message,
                    "stack": [],
                    "name": "MeltcRunError",
                    "cause": null,
                    "context": null,
                }})
            }
        };
        self.write("closed", &params)
    }

    /// Each asset of the context with its metadata, in the context's order. An asset whose
    /// stream carried nothing this run reports 0 rows: the step ran and it is up to date.
    fn materializations(&self, results: &RunResults) -> Vec<(String, Value)> {
        let Some(asset_keys) = &self.asset_keys else {
            return Vec::new();
        };
        let mut by_key: Map<String, Value> = Map::new();
        for step in results
            .steps
            .iter()
            .filter(|step| step.status == StepStatus::Succeeded)
        {
            let Some(data) = &step.extract_load else {
                continue;
            };
            for stream in &data.streams {
                let key = self
                    .stream_keys
                    .get(&stream.stream)
                    .and_then(Value::as_str)
                    .map_or_else(
                        || format!("{}/{}", data.loader, stream.stream),
                        str::to_owned,
                    );
                let mut metadata = step_metadata(step.duration_seconds, data.state_id.as_deref());
                metadata.insert(
                    "dagster/row_count".into(),
                    typed(stream.records.into(), "int"),
                );
                metadata.insert(
                    "meltc/bookmark_before".into(),
                    typed(
                        stream.bookmark_before.clone().unwrap_or(Value::Null),
                        "json",
                    ),
                );
                metadata.insert(
                    "meltc/bookmark_after".into(),
                    typed(stream.bookmark_after.clone().unwrap_or(Value::Null), "json"),
                );
                by_key.insert(key, Value::Object(metadata));
            }
        }
        let duration = results.duration_seconds;
        asset_keys
            .iter()
            .map(|key| {
                let metadata = by_key.remove(key).unwrap_or_else(|| {
                    let mut metadata = step_metadata(duration, None);
                    metadata.insert("dagster/row_count".into(), typed(0.into(), "int"));
                    Value::Object(metadata)
                });
                (key.clone(), metadata)
            })
            .collect()
    }

    fn write(&self, method: &str, params: &Value) -> std::io::Result<()> {
        let message = json!({
            "__dagster_pipes_version": PROTOCOL_VERSION,
            "method": method,
            "params": params,
        });
        let mut line = message.to_string();
        line.push('\n');
        match &self.channel {
            // One write of a whole line to a file opened for append: Dagster's reader, which
            // tails the file, never sees half a message.
            Channel::File(path) => fs_err::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?
                .write_all(line.as_bytes()),
            Channel::Stderr => std::io::stderr().lock().write_all(line.as_bytes()),
            Channel::Stdout => std::io::stdout().lock().write_all(line.as_bytes()),
        }
    }
}

/// The metadata every asset of a step carries.
fn step_metadata(duration_seconds: f64, state_id: Option<&str>) -> Map<String, Value> {
    let mut metadata = Map::new();
    metadata.insert(
        "meltc/duration_seconds".into(),
        typed(duration_seconds.into(), "float"),
    );
    if let Some(state_id) = state_id {
        metadata.insert("meltc/state_id".into(), typed(state_id.into(), "text"));
    }
    metadata
}

/// A metadata value with its type (`{"raw_value", "type"}`, `PipesMetadataValue`).
fn typed(raw_value: Value, kind: &str) -> Value {
    json!({"raw_value": raw_value, "type": kind})
}

/// `decode_param`: base64, then zlib, then JSON.
fn decode_param(text: &str) -> Result<Value, String> {
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format!("not base64: {e}"))?;
    let json = miniz_oxide::inflate::decompress_to_vec_zlib(&compressed)
        .map_err(|e| format!("not zlib-compressed: {e:?}"))?;
    serde_json::from_slice(&json).map_err(|e| format!("not JSON: {e}"))
}

/// The message writer's channel (`PipesDefaultMessageWriter.open`).
fn channel(params: &Value) -> Result<Channel, String> {
    if let Some(path) = params.get("path") {
        let path = path.as_str().ok_or("`path` is not a string")?;
        return Ok(Channel::File(PathBuf::from(path)));
    }
    let stdio = params
        .get("stdio")
        .or_else(|| params.get("buffered_stdio"))
        .ok_or_else(|| format!("expected `path` or `stdio`, got {params}"))?;
    match stdio.as_str() {
        Some("stderr") => Ok(Channel::Stderr),
        Some("stdout") => Ok(Channel::Stdout),
        _ => Err(format!("`stdio` is {stdio}, not \"stderr\" or \"stdout\"")),
    }
}

/// The context data (`PipesDefaultContextLoader.load_context`): from `path` or `data`.
fn context_data(params: &Value) -> Result<Value, String> {
    if let Some(path) = params.get("path") {
        let path = path.as_str().ok_or("`path` is not a string")?;
        let text = fs_err::read_to_string(path).map_err(|e| e.to_string())?;
        return serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"));
    }
    params
        .get("data")
        .filter(|data| data.is_object())
        .cloned()
        .ok_or_else(|| format!("expected `path` or `data`, got {params}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use crate::manifest::Step;
    use crate::runtime::run_results::StreamResult;

    /// `encode_param`, as Dagster's side does it.
    fn encode(value: &Value) -> String {
        let compressed =
            miniz_oxide::deflate::compress_to_vec_zlib(value.to_string().as_bytes(), 6);
        base64::engine::general_purpose::STANDARD.encode(compressed)
    }

    fn session(dir: &std::path::Path, context: &Value) -> (Pipes, PathBuf) {
        let context_file = dir.join("context.json");
        fs_err::write(&context_file, context.to_string()).unwrap();
        let messages = dir.join("messages");
        let vars = [
            (CONTEXT_ENV, encode(&json!({"path": context_file}))),
            (MESSAGES_ENV, encode(&json!({"path": messages}))),
        ];
        let pipes = Pipes::from_env(|name| {
            vars.iter()
                .find(|(var, _)| *var == name)
                .map(|(_, value)| value.clone())
        })
        .unwrap()
        .unwrap();
        (pipes, messages)
    }

    fn messages(path: &std::path::Path) -> Vec<Value> {
        fs_err::read_to_string(path)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    fn results(success: bool) -> RunResults {
        let step = Step::ExtractLoad {
            extractor: "tap-postgres".into(),
            mappings: Vec::new(),
            loader: "target-jsonl".into(),
            state_id: None,
            incremental: true,
        };
        let mut results = RunResults::start("run tap-postgres target-jsonl".into(), None, &[step]);
        let step = &mut results.steps[0];
        step.finish(
            std::time::Duration::from_millis(1500),
            (!success).then(|| "target-jsonl exited 1".to_owned()),
        );
        let data = step.extract_load_mut().unwrap();
        data.state_id = Some("dev:tap-postgres-to-target-jsonl".into());
        data.streams = vec![
            StreamResult {
                stream: "public-orders".into(),
                records: 7,
                bookmark_before: Some(json!({"replication_key_value": 3})),
                bookmark_after: Some(json!({"replication_key_value": 10})),
            },
            StreamResult {
                stream: "public-users".into(),
                records: 2,
                bookmark_before: None,
                bookmark_after: None,
            },
        ];
        let code = if success { 0 } else { 1 };
        results.finish(
            std::time::Duration::from_secs(2),
            code,
            (!success).then(|| {
                "step `tap-postgres target-jsonl` failed: target-jsonl exited 1".to_owned()
            }),
        );
        results
    }

    #[test]
    fn no_variables_no_session() {
        assert!(Pipes::from_env(|_| None).unwrap().is_none());
    }

    #[test]
    fn a_bad_parameter_is_named() {
        let error = Pipes::from_env(|name| {
            Some(if name == CONTEXT_ENV {
                "%%".into()
            } else {
                encode(&json!({"path": "/x"}))
            })
        })
        .unwrap_err();
        assert!(
            error.starts_with("DAGSTER_PIPES_CONTEXT: not base64"),
            "{error}"
        );
        let error = Pipes::from_env(|name| {
            Some(if name == CONTEXT_ENV {
                encode(&json!({"data": {}}))
            } else {
                encode(&json!({"stdio": "tty"}))
            })
        })
        .unwrap_err();
        assert!(
            error.starts_with("DAGSTER_PIPES_MESSAGES: `stdio` is \"tty\""),
            "{error}"
        );
    }

    #[test]
    fn a_success_materializes_every_asset_with_its_stream_s_counts() {
        let dir = tempfile::tempdir().unwrap();
        let context = json!({
            "asset_keys": ["raw/orders", "target-jsonl/public-users", "target-jsonl/public-items"],
            "extras": {STREAM_KEYS_EXTRA: {"public-orders": "raw/orders"}},
            "run_id": "r", "job_name": null, "retry_number": 0,
        });
        let (pipes, path) = session(dir.path(), &context);
        pipes.opened().unwrap();
        pipes.finish(&results(true)).unwrap();
        let messages = messages(&path);
        let methods: Vec<&str> = messages
            .iter()
            .map(|m| m["method"].as_str().unwrap())
            .collect();
        assert_eq!(
            methods,
            [
                "opened",
                "report_asset_materialization",
                "report_asset_materialization",
                "report_asset_materialization",
                "log",
                "closed"
            ]
        );
        assert!(
            messages
                .iter()
                .all(|m| m["__dagster_pipes_version"] == "0.1")
        );
        let orders = &messages[1]["params"];
        assert_eq!(orders["asset_key"], "raw/orders");
        assert_eq!(
            orders["metadata"]["dagster/row_count"],
            json!({"raw_value": 7, "type": "int"})
        );
        assert_eq!(
            orders["metadata"]["meltc/bookmark_before"]["raw_value"],
            json!({"replication_key_value": 3})
        );
        assert_eq!(
            orders["metadata"]["meltc/bookmark_after"]["raw_value"],
            json!({"replication_key_value": 10})
        );
        assert_eq!(
            orders["metadata"]["meltc/duration_seconds"]["raw_value"],
            json!(1.5)
        );
        assert_eq!(
            orders["metadata"]["meltc/state_id"]["raw_value"],
            "dev:tap-postgres-to-target-jsonl"
        );
        let users = &messages[2]["params"];
        assert_eq!(users["asset_key"], "target-jsonl/public-users");
        assert_eq!(users["metadata"]["dagster/row_count"]["raw_value"], 2);
        // A stream of the step that carried nothing this time: 0 rows, still materialized.
        assert_eq!(
            messages[3]["params"]["metadata"]["dagster/row_count"]["raw_value"],
            0
        );
        assert_eq!(messages[5]["params"], json!({}));
    }

    #[test]
    fn a_failure_closes_with_meltc_run_s_reason_and_materializes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let context = json!({"asset_keys": ["target-jsonl/public-users"], "extras": {}});
        let (pipes, path) = session(dir.path(), &context);
        pipes.finish(&results(false)).unwrap();
        let messages = messages(&path);
        let methods: Vec<&str> = messages
            .iter()
            .map(|m| m["method"].as_str().unwrap())
            .collect();
        assert_eq!(methods, ["log", "closed"]);
        assert_eq!(messages[0]["params"]["level"], "ERROR");
        let exception = &messages[1]["params"]["exception"];
        assert_eq!(
            exception["message"],
            "step `tap-postgres target-jsonl` failed: target-jsonl exited 1"
        );
        assert_eq!(exception["stack"], json!([]));
    }

    #[test]
    fn an_op_without_assets_gets_logs_only() {
        let dir = tempfile::tempdir().unwrap();
        let (pipes, path) = session(dir.path(), &json!({"asset_keys": null, "extras": {}}));
        pipes.finish(&results(true)).unwrap();
        let methods: Vec<String> = messages(&path)
            .iter()
            .map(|m| m["method"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(methods, ["log", "closed"]);
    }
}
