//! Counting the tap's `RECORD` messages per stream as its output passes through, in chunks
//! cut anywhere, without parsing the records.
//!
//! A line counts as a record of stream `S` when it is a JSON object whose top-level `"type"`
//! is `"RECORD"` and whose top-level `"stream"` is the string `S` (Singer's RECORD message);
//! a `SCHEMA` line makes its stream known with no record yet (a selected stream with nothing
//! new still shows, with 0). Everything else (`STATE`, `ACTIVATE_VERSION`, `BATCH`, lines that
//! are no JSON object) counts nothing.
//!
//! Two ways to read a line, with the same answers:
//! - the fast path: the line starts `{"type": "RECORD", "stream": "NAME"` exactly as
//!   `singer-python` writes it, or `{"type":"RECORD","stream":"NAME"` as the Singer SDK does,
//!   with `NAME` free of escapes and all of it in the chunk at hand: a prefix comparison and a
//!   `memchr` for the name's end, then a `memchr` for the line's end;
//! - [`Scanner`]: any other shape (keys in any order, whitespace, escapes in keys or names,
//!   nested values before the keys that matter, a line cut by the chunk's end), byte by byte
//!   over the top-level object until both keys are known, with memory bounded by the longest
//!   captured string rather than by the line.
//!
//! Departure from a full JSON parser: the first `"type"` and `"stream"` of a line decide (a
//! line is not read past them, and Python's `json.loads`, which the targets use, keeps the
//! last of duplicate keys), and a line is not checked for validity past them (the target
//! rejects an invalid one).

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::StreamCounts;

/// Line starts of the fast path, up to the opening quote of the stream's name.
const FAST_HEADS: [&[u8]; 2] = [
    b"{\"type\": \"RECORD\", \"stream\": \"",
    b"{\"type\":\"RECORD\",\"stream\":\"",
];

/// Longest top-level key kept (raw, escapes included): longer keys are neither `type` nor
/// `stream` (`\u0073\u0074\u0072\u0065\u0061\u006d` is 36 bytes).
const MAX_KEY: usize = 64;

/// Longest `type` or `stream` value kept (raw); a longer one makes the line count nothing.
const MAX_VALUE: usize = 64 * 1024;

/// Records per stream of a byte stream fed in chunks.
#[derive(Debug, Default)]
pub(super) struct StreamCounter {
    names: Vec<String>,
    records: Vec<u64>,
    index: BTreeMap<String, usize>,
    /// The stream of the previous record: taps write a stream's records in runs.
    last: Option<usize>,
    total: u64,
    line: Line,
    /// Reads the lines the fast path does not take.
    scanner: Scanner,
}

/// Where the counter is in the current line.
#[derive(Clone, Copy, Debug, Default)]
enum Line {
    /// At a line's first byte.
    #[default]
    Start,
    /// [`StreamCounter::scanner`] reads the line's top-level object (a line cut by a
    /// chunk's end, or not the fast path's shape).
    Scanning,
    /// The line is counted: skip to its end.
    Skipping,
}

impl StreamCounter {
    /// Count the lines of `chunk` (the continuation of the chunks before it).
    pub(super) fn feed(&mut self, chunk: &[u8]) {
        let mut rest = chunk;
        while !rest.is_empty() {
            match self.line {
                Line::Skipping => {
                    let Some(end) = memchr::memchr(b'\n', rest) else {
                        return;
                    };
                    rest = &rest[end + 1..];
                    self.line = Line::Start;
                }
                Line::Start => {
                    if let Some((name, after)) = fast_record(rest) {
                        self.record(name);
                        rest = after;
                        self.line = Line::Skipping;
                    } else {
                        self.scanner.reset();
                        self.line = Line::Scanning;
                    }
                }
                Line::Scanning => {
                    let (used, step) = self.scanner.feed(rest);
                    rest = &rest[used..];
                    match step {
                        Step::More => {}
                        Step::Decided(message) => {
                            self.line = Line::Skipping;
                            self.message(message);
                        }
                        Step::LineEnd(message) => {
                            self.line = Line::Start;
                            self.message(message);
                        }
                    }
                }
            }
        }
    }

    /// At end of input: count a last line without a line end.
    pub(super) fn finish(&mut self) {
        if let Line::Scanning = std::mem::take(&mut self.line) {
            let message = self.scanner.message();
            self.message(message);
        }
    }

    /// `RECORD` lines counted so far, over all streams.
    #[cfg(test)]
    pub(super) fn total(&self) -> u64 {
        self.total
    }

    /// The counts so far, by stream name.
    pub(super) fn counts(&self) -> StreamCounts {
        StreamCounts(
            self.names
                .iter()
                .cloned()
                .zip(self.records.iter().copied())
                .collect(),
        )
    }

    fn message(&mut self, message: Message) {
        match message {
            Message::Record(name) => self.record(name.as_bytes()),
            Message::Schema(name) => {
                self.stream(name.as_bytes());
            }
            Message::Other => {}
        }
    }

    fn record(&mut self, name: &[u8]) {
        let index = self.stream(name);
        self.records[index] += 1;
        self.total += 1;
    }

    /// The index of stream `name`, added when new.
    fn stream(&mut self, name: &[u8]) -> usize {
        if let Some(last) = self.last {
            if self.names[last].as_bytes() == name {
                return last;
            }
        }
        let name = String::from_utf8_lossy(name);
        let index = match self.index.get(name.as_ref()) {
            Some(&index) => index,
            None => {
                let index = self.names.len();
                self.names.push(name.clone().into_owned());
                self.records.push(0);
                self.index.insert(name.into_owned(), index);
                index
            }
        };
        self.last = Some(index);
        index
    }
}

/// The stream name of a line in the fast path's shape, and the bytes after the name's closing
/// quote; `None` for any other line (the scanner decides those).
fn fast_record(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let after = FAST_HEADS
        .iter()
        .find_map(|head| line.strip_prefix(*head))?;
    let end = memchr::memchr3(b'"', b'\\', b'\n', after)?;
    (after[end] == b'"').then(|| (&after[..end], &after[end + 1..]))
}

/// What a line is, as far as counting goes.
#[derive(Debug, PartialEq, Eq)]
enum Message {
    Record(String),
    Schema(String),
    Other,
}

/// What [`Scanner::feed`] found.
enum Step {
    /// The chunk ended before the line was decided.
    More,
    /// Decided before the line's end: skip the rest.
    Decided(Message),
    /// The line ended (its `\n` consumed).
    LineEnd(Message),
}

/// Which top-level key a value belongs to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Field {
    Type,
    Stream,
    #[default]
    Other,
}

/// Where the scanner is in the top-level object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    #[default]
    BeforeObject,
    BeforeKey,
    Key,
    AfterKey,
    BeforeValue,
    StringValue,
    /// Inside an object or array value, `depth` levels down.
    Nested,
    /// Inside a number, `true`, `false` or `null`.
    Scalar,
    AfterValue,
    /// The object closed, or the line is no JSON object: nothing more to learn.
    Done,
}

/// A `type` or `stream` value as read.
#[derive(Debug, Default, PartialEq, Eq)]
enum Value {
    #[default]
    Missing,
    Text(String),
    /// Present but not a string (or too long to keep).
    Unusable,
}

/// Reads one line's top-level object byte by byte, for `"type"` and `"stream"`.
#[derive(Debug, Default)]
struct Scanner {
    state: State,
    /// The key or string value being read, raw (reused from line to line).
    capture: Vec<u8>,
    /// Whether `capture` holds the whole string so far (off for values of other keys and
    /// past the limit).
    capturing: bool,
    /// After a backslash inside a string.
    escaped: bool,
    /// Inside a string within a nested value.
    nested_string: bool,
    depth: usize,
    field: Field,
    message_type: Value,
    stream: Value,
}

impl Scanner {
    /// Ready for a new line (the capture buffer's allocation is kept).
    fn reset(&mut self) {
        let mut capture = std::mem::take(&mut self.capture);
        capture.clear();
        *self = Self {
            capture,
            ..Self::default()
        };
    }

    /// Read `bytes` up to the line's end or a decision; returns how many bytes were used.
    fn feed(&mut self, bytes: &[u8]) -> (usize, Step) {
        for (index, &byte) in bytes.iter().enumerate() {
            if byte == b'\n' {
                return (index + 1, Step::LineEnd(self.message()));
            }
            self.byte(byte);
            if let Some(message) = self.decided() {
                return (index + 1, Step::Decided(message));
            }
        }
        (bytes.len(), Step::More)
    }

    /// The message, once the keys that matter are known (or the object is over).
    fn decided(&mut self) -> Option<Message> {
        match (&self.message_type, &self.stream) {
            (Value::Text(kind), _) if !matches!(kind.as_str(), "RECORD" | "SCHEMA") => {
                Some(Message::Other)
            }
            (Value::Unusable, _) | (_, Value::Unusable) => Some(Message::Other),
            (Value::Text(_), Value::Text(_)) => Some(self.message()),
            _ if self.state == State::Done => Some(self.message()),
            _ => None,
        }
    }

    /// What the line is, with what was read of it.
    fn message(&mut self) -> Message {
        let stream = match std::mem::take(&mut self.stream) {
            Value::Text(stream) => stream,
            Value::Missing | Value::Unusable => return Message::Other,
        };
        match &self.message_type {
            Value::Text(kind) if kind == "RECORD" => Message::Record(stream),
            Value::Text(kind) if kind == "SCHEMA" => Message::Schema(stream),
            _ => Message::Other,
        }
    }

    fn byte(&mut self, byte: u8) {
        let whitespace = matches!(byte, b' ' | b'\t' | b'\r');
        self.state = match self.state {
            State::BeforeObject if whitespace => State::BeforeObject,
            State::BeforeObject if byte == b'{' => State::BeforeKey,
            State::BeforeKey if whitespace => State::BeforeKey,
            State::BeforeKey if byte == b'"' => self.open_string(true, State::Key),
            State::Key => match self.string_byte(byte, MAX_KEY) {
                Some(key) => {
                    self.field = match key.as_deref() {
                        Some("type") => Field::Type,
                        Some("stream") => Field::Stream,
                        _ => Field::Other,
                    };
                    State::AfterKey
                }
                None => State::Key,
            },
            State::AfterKey if whitespace => State::AfterKey,
            State::AfterKey if byte == b':' => State::BeforeValue,
            State::BeforeValue if whitespace => State::BeforeValue,
            State::BeforeValue => self.value_start(byte),
            State::StringValue => match self.string_byte(byte, MAX_VALUE) {
                Some(text) => {
                    self.set(text.map_or(Value::Unusable, Value::Text));
                    State::AfterValue
                }
                None => State::StringValue,
            },
            State::Nested => self.nested_byte(byte),
            State::Scalar if matches!(byte, b',' | b'}') || whitespace => Self::after_value(byte),
            State::Scalar => State::Scalar,
            State::AfterValue => Self::after_value(byte),
            // Not the start of an object or a key, or the object is over.
            State::BeforeObject | State::BeforeKey | State::AfterKey | State::Done => State::Done,
        };
    }

    fn open_string(&mut self, capture: bool, state: State) -> State {
        self.capture.clear();
        self.capturing = capture;
        state
    }

    /// The first byte of a top-level value.
    fn value_start(&mut self, byte: u8) -> State {
        match byte {
            b'"' => self.open_string(self.field != Field::Other, State::StringValue),
            b'{' | b'[' => {
                self.set(Value::Unusable);
                self.depth = 1;
                State::Nested
            }
            _ => {
                self.set(Value::Unusable);
                State::Scalar
            }
        }
    }

    /// Give the current field its value (only `type` and `stream` are kept; the first of
    /// each wins).
    fn set(&mut self, value: Value) {
        let slot = match self.field {
            Field::Type => &mut self.message_type,
            Field::Stream => &mut self.stream,
            Field::Other => return,
        };
        if *slot == Value::Missing {
            *slot = value;
        }
    }

    /// A byte after a top-level value (or the one ending a scalar).
    fn after_value(byte: u8) -> State {
        match byte {
            b',' => State::BeforeKey,
            b' ' | b'\t' | b'\r' => State::AfterValue,
            // `}` closes the object; anything else is not JSON: either way, done.
            _ => State::Done,
        }
    }

    /// A byte inside a top-level string (a key or a value), raw bytes kept up to `limit`.
    /// At the closing quote: `Some` with the decoded text (`None` inside when it was not
    /// captured, is too long, or is not a valid JSON string).
    fn string_byte(&mut self, byte: u8, limit: usize) -> Option<Option<String>> {
        if !self.escaped && byte == b'"' {
            let text = self
                .capturing
                .then(|| decode(&self.capture).map(Cow::into_owned))
                .flatten();
            return Some(text);
        }
        self.escaped = !self.escaped && byte == b'\\';
        if self.capturing {
            if self.capture.len() < limit {
                self.capture.push(byte);
            } else {
                self.capturing = false;
            }
        }
        None
    }

    /// A byte inside a nested object or array: only strings and brackets matter.
    fn nested_byte(&mut self, byte: u8) -> State {
        if self.nested_string {
            if self.escaped {
                self.escaped = false;
            } else if byte == b'\\' {
                self.escaped = true;
            } else if byte == b'"' {
                self.nested_string = false;
            }
            return State::Nested;
        }
        match byte {
            b'"' => self.nested_string = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' => {
                self.depth -= 1;
                if self.depth == 0 {
                    return State::AfterValue;
                }
            }
            _ => {}
        }
        State::Nested
    }
}

/// The text of a raw JSON string's content (between its quotes), escapes decoded; `None` when
/// it is not a valid JSON string.
fn decode(raw: &[u8]) -> Option<Cow<'_, str>> {
    if memchr::memchr(b'\\', raw).is_none() {
        return std::str::from_utf8(raw).ok().map(Cow::Borrowed);
    }
    let mut quoted = Vec::with_capacity(raw.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(raw);
    quoted.push(b'"');
    serde_json::from_slice::<String>(&quoted)
        .ok()
        .map(Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Count `text` fed in chunks of `size`.
    fn count(text: &str, size: usize) -> BTreeMap<String, u64> {
        let mut counter = StreamCounter::default();
        for piece in text.as_bytes().chunks(size) {
            counter.feed(piece);
        }
        counter.finish();
        let counts = counter.counts();
        assert_eq!(counter.total(), counts.total());
        counts.0
    }

    /// What a full JSON parser says a line is (first of duplicate keys, as the counter).
    fn parsed(line: &str) -> Option<(String, bool)> {
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        let object = value.as_object()?;
        let stream = object.get("stream")?.as_str()?.to_owned();
        match object.get("type")?.as_str()? {
            "RECORD" => Some((stream, true)),
            "SCHEMA" => Some((stream, false)),
            _ => None,
        }
    }

    fn expected(lines: &[&str]) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for line in lines {
            if let Some((stream, record)) = parsed(line) {
                *counts.entry(stream).or_insert(0) += u64::from(record);
            }
        }
        counts
    }

    /// Every valid shape of a Singer line, and lines that must count nothing.
    const SHAPES: &[&str] = &[
        // singer-python and the Singer SDK.
        r#"{"type": "RECORD", "stream": "users", "record": {"id": 1}, "time_extracted": "2024-01-01"}"#,
        r#"{"type":"RECORD","stream":"users","record":{"id":2}}"#,
        // Keys in another order, whitespace, nested values before the keys that matter.
        r#"{"stream": "orders", "type": "RECORD", "record": {}}"#,
        r#"  {  "record" : {"type": "STATE", "stream": "x", "a": [1, {"b": "}"}]} , "type" : "RECORD" , "stream" : "orders" }  "#,
        r#"{"version": 3, "record": [1, 2, "]"], "time_extracted": null, "stream": "orders", "type": "RECORD"}"#,
        "{\t\"type\"\t:\t\"RECORD\",\r\"stream\":\"tabs\",\"record\":{}}\r",
        r#"{"type": "RECORD", "record": {"stream": "wrong"}, "stream": "users"}"#,
        // Escapes in keys, in names, in values before them.
        r#"{"\u0074ype": "RECORD", "str\u0065am": "users"}"#,
        r#"{"type": "RECORD", "stream": "caf\u00e9 \"quoted\" \\ back"}"#,
        r#"{"note": "a \"type\": \"RECORD\" inside", "type": "RECORD", "stream": "escaped"}"#,
        r#"{"type": "RECORD", "stream": "emoji \ud83d\ude00"}"#,
        "{\"type\": \"RECORD\", \"stream\": \"unicode é 日本\"}",
        r#"{"type": "SCHEMA", "stream": "empty_stream", "schema": {}, "key_properties": []}"#,
        r#"{"stream": "schema_later", "schema": {"type": "object"}, "type": "SCHEMA"}"#,
        // Nothing to count.
        r#"{"type": "STATE", "value": {"bookmarks": {"users": {"stream": "x"}}}}"#,
        r#"{"type": "ACTIVATE_VERSION", "stream": "users", "version": 1}"#,
        r#"{"type": "BATCH", "stream": "users", "encoding": {}, "manifest": []}"#,
        r#"{"type": "RECORD", "record": {}}"#,
        r#"{"type": "RECORD", "stream": 5}"#,
        r#"{"type": "RECORD", "stream": null}"#,
        r#"{"type": ["RECORD"], "stream": "users"}"#,
        r#"{"type": "record", "stream": "users"}"#,
        r#"{"type": "RECORDS", "stream": "users"}"#,
        r#"{"types": "RECORD", "stream": "users"}"#,
        r#"["RECORD", "users"]"#,
        r#""{\"type\": \"RECORD\"}""#,
        "",
        "   ",
        "not json at all",
    ];

    #[test]
    fn every_shape_counts_as_a_json_parser_reads_it() {
        for line in SHAPES {
            let want = expected(&[line]);
            for size in [1, 2, 3, 5, 8, 13, 31, 32, 33, 64, 4096] {
                assert_eq!(
                    count(&format!("{line}\n"), size),
                    want,
                    "{line:?} in chunks of {size}"
                );
            }
            // A last line without a line end counts too.
            assert_eq!(count(line, 7), want, "{line:?} without a line end");
        }
    }

    #[test]
    fn counts_per_stream_over_many_lines() {
        let mut text = String::new();
        for n in 0..1000 {
            let stream = ["users", "orders", "caf\\u00e9"][n % 3];
            text.push_str(&format!(
                "{{\"type\": \"RECORD\", \"stream\": \"{stream}\", \"record\": {{\"n\": {n}}}}}\n"
            ));
            if n % 100 == 0 {
                text.push_str("{\"type\": \"STATE\", \"value\": {}}\n");
            }
        }
        let want = BTreeMap::from([
            ("café".to_owned(), 333),
            ("orders".to_owned(), 333),
            ("users".to_owned(), 334),
        ]);
        for size in [1, 17, 100, 1 << 20] {
            assert_eq!(count(&text, size), want, "chunks of {size}");
        }
    }

    /// Random lines of every shape cut into random chunks count as a parser reads them.
    #[test]
    fn chunk_boundaries_never_change_the_counts() {
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |bound: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            usize::try_from(seed % u64::try_from(bound).unwrap()).unwrap()
        };
        for _ in 0..400 {
            let lines: Vec<&str> = (0..next(30)).map(|_| SHAPES[next(SHAPES.len())]).collect();
            let mut text = lines.join("\n");
            if next(2) == 0 {
                text.push('\n');
            }
            let mut counter = StreamCounter::default();
            let mut rest = text.as_bytes();
            while !rest.is_empty() {
                let size = 1 + next(rest.len().min(90));
                counter.feed(&rest[..size]);
                rest = &rest[size..];
            }
            counter.finish();
            assert_eq!(counter.counts().0, expected(&lines), "{text:?}");
        }
    }

    #[test]
    fn the_first_of_duplicate_keys_decides() {
        let line = r#"{"type": "RECORD", "stream": "first", "stream": "second"}"#;
        assert_eq!(count(line, 1), BTreeMap::from([("first".to_owned(), 1)]));
        assert_eq!(count(line, 100), BTreeMap::from([("first".to_owned(), 1)]));
    }

    #[test]
    fn long_lines_and_long_names_are_bounded() {
        // A record far longer than any buffer, its keys at the end: memory stays bounded
        // (nothing of the record is kept) and it still counts.
        let big = "x".repeat(3 << 20);
        let line = format!(
            "{{\"record\": {{\"text\": \"{big}\"}}, \"type\": \"RECORD\", \"stream\": \"big\"}}\n"
        );
        assert_eq!(count(&line, 65536), BTreeMap::from([("big".to_owned(), 1)]));
        // A stream name past the limit counts nothing rather than growing without bound.
        let name = "n".repeat(MAX_VALUE + 1);
        let line = format!(
            "{{\"type\": \"RECORD\", \"stream\": \"{name}\"}}\n{{\"type\": \"RECORD\", \"stream\": \"ok\"}}\n"
        );
        assert_eq!(count(&line, 4096), BTreeMap::from([("ok".to_owned(), 1)]));
    }

    #[test]
    fn a_name_cut_by_a_line_end_is_no_fast_record() {
        // Not JSON (a raw newline in a string): the line ends at the newline, as the target
        // reads it, and the next line is read from its start.
        let text = "{\"type\": \"RECORD\", \"stream\": \"cut\n{\"type\": \"RECORD\", \"stream\": \"next\"}\n";
        assert_eq!(count(text, 1000), BTreeMap::from([("next".to_owned(), 1)]));
        assert_eq!(count(text, 3), BTreeMap::from([("next".to_owned(), 1)]));
    }
}
