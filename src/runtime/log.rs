//! How `meltc-run` writes what its children say on stderr and what it says itself.
//!
//! Two formats: `text` for a terminal (`tap-postgres | message`, names padded to one column)
//! and `json` for log collectors (one object per line with `plugin`, `stream`, `message`).
//! One line is written with one `write` under a lock, so lines of concurrent children never
//! interleave. Writing never fails the run: a log sink that errors is ignored (the children
//! must not stop because nobody reads the logs).

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Map, Value, json};

/// The name `meltc-run`'s own lines carry in place of a plugin name.
pub const RUNTIME_NAME: &str = "meltc-run";

/// `--log-format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// `name | message`, for people.
    #[default]
    Text,
    /// One JSON object per line, for machines.
    Json,
}

/// Severity of `meltc-run`'s own lines (children's lines carry none: their text is theirs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Progress and summaries.
    Info,
    /// Something the user should look at; the run goes on.
    Warning,
    /// Why the run failed.
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

/// Where the lines go. Cheap to clone: clones share the sink and the lock.
#[derive(Clone)]
pub struct Logger {
    inner: Arc<Inner>,
}

struct Inner {
    format: LogFormat,
    sink: Mutex<Box<dyn Write + Send>>,
    /// Column width of the name in text lines: the longest name seen so far.
    width: AtomicUsize,
}

impl std::fmt::Debug for Logger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logger")
            .field("format", &self.inner.format)
            .finish_non_exhaustive()
    }
}

impl Logger {
    /// Lines in `format` to `sink`.
    pub fn new(format: LogFormat, sink: Box<dyn Write + Send>) -> Self {
        Self {
            inner: Arc::new(Inner {
                format,
                sink: Mutex::new(sink),
                width: AtomicUsize::new(RUNTIME_NAME.len()),
            }),
        }
    }

    /// Lines in `format` to this process's stderr.
    pub fn stderr(format: LogFormat) -> Self {
        Self::new(format, Box::new(std::io::stderr()))
    }

    /// Lines in `format` kept in memory, for tests and for callers that ship them elsewhere.
    pub fn in_memory(format: LogFormat) -> (Self, LogBuffer) {
        let buffer = LogBuffer::default();
        (Self::new(format, Box::new(buffer.clone())), buffer)
    }

    /// The format lines are written in.
    pub fn format(&self) -> LogFormat {
        self.inner.format
    }

    /// Widen the name column of text lines to fit `name`.
    pub fn fit_name(&self, name: &str) {
        self.inner
            .width
            .fetch_max(name.chars().count(), Ordering::Relaxed);
    }

    /// One line a child wrote on `stream` (`"stderr"`), without its line end.
    pub fn plugin_line(&self, plugin: &str, kind: &str, stream: &str, message: &str) {
        let line = match self.inner.format {
            LogFormat::Text => self.text_line(plugin, message),
            LogFormat::Json => json_line(&json!({
                "plugin": plugin,
                "kind": kind,
                "stream": stream,
                "message": message,
            })),
        };
        self.write(&line);
    }

    /// One line of `meltc-run`'s own: `event` names what happened (`progress`, `exit`, …),
    /// `fields` are extra data for the JSON format (the text format shows the message only,
    /// so the message must say what matters).
    pub fn event(&self, level: Level, event: &str, message: &str, fields: &[(&str, Value)]) {
        let line = match self.inner.format {
            LogFormat::Text => {
                // The message says it all for people; fields are for machines.
                let text = if level == Level::Info {
                    message.to_owned()
                } else {
                    format!("{}: {message}", level.as_str())
                };
                self.text_line(RUNTIME_NAME, &text)
            }
            LogFormat::Json => {
                let mut object = Map::new();
                object.insert("plugin".into(), json!(RUNTIME_NAME));
                object.insert("stream".into(), json!("event"));
                object.insert("level".into(), json!(level.as_str()));
                object.insert("event".into(), json!(event));
                object.insert("message".into(), json!(message));
                for (key, value) in fields {
                    object.insert((*key).to_owned(), value.clone());
                }
                json_line(&Value::Object(object))
            }
        };
        self.write(&line);
    }

    fn text_line(&self, name: &str, message: &str) -> String {
        let width = self.inner.width.load(Ordering::Relaxed);
        format!("{name:<width$} | {message}\n")
    }

    fn write(&self, line: &str) {
        let mut sink = self
            .inner
            .sink
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Ignored on purpose (module docs): a closed log must not fail the pipeline.
        let _ = sink.write_all(line.as_bytes());
        let _ = sink.flush();
    }
}

/// What a [`Logger::in_memory`] wrote.
#[derive(Clone, Debug, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    /// Everything written so far (lossy UTF-8).
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn json_line(value: &Value) -> String {
    let mut line = value.to_string();
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_json() {
        let (logger, sink) = Logger::in_memory(LogFormat::Text);
        logger.fit_name("tap-postgres");
        logger.plugin_line("tap-postgres", "extractor", "stderr", "hello");
        logger.event(
            Level::Warning,
            "exit",
            "target failed",
            &[("code", json!(1))],
        );
        let (json_logger, json_sink) = Logger::in_memory(LogFormat::Json);
        json_logger.plugin_line("tap-x", "extractor", "stderr", "a \"quoted\" line");
        json_logger.event(Level::Info, "progress", "running", &[("records", json!(5))]);
        assert_eq!(
            sink.text(),
            "tap-postgres | hello\nmeltc-run    | warning: target failed\n"
        );
        assert_eq!(
            json_sink.text(),
            concat!(
                r#"{"plugin":"tap-x","kind":"extractor","stream":"stderr","message":"a \"quoted\" line"}"#,
                "\n",
                r#"{"plugin":"meltc-run","stream":"event","level":"info","event":"progress","message":"running","records":5}"#,
                "\n"
            )
        );
    }
}
