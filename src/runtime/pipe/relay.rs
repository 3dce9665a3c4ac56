//! Moving bytes and lines between the children and this process.
//!
//! - [`relay`]: the tap's stdout to the next stdin through one 1 MiB buffer, counting
//!   `RECORD` lines with [`RecordCounter`] on the way;
//! - [`for_each_line`]: the lines of a child's stderr or of the target's stdout, with no
//!   limit on a line's length other than memory for state lines, and stderr lines cut at
//!   [`MAX_LOG_LINE`] so a child that never writes a newline cannot grow this process.

use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};

/// The relay's buffer: the capacity the data path's pipes are given, so one read can drain
/// the tap's pipe and one write fill the next one.
const BUFFER: usize = 1024 * 1024;

/// Longest stderr line forwarded as one log line; the rest follows as further lines.
pub(super) const MAX_LOG_LINE: usize = 64 * 1024;

/// How many bytes of a line's start [`RecordCounter`] looks at.
const PREFIX: usize = 32;

/// Copy `from` to `to` until `from` ends, adding the `RECORD` lines seen to `records`.
/// Returns early, without error, when `to` is closed (the next process exited: what happens
/// then is the supervisor's business); both ends are closed on return, which gives the next
/// process end-of-input and the tap a broken pipe.
pub(super) fn relay(
    mut from: impl Read,
    mut to: impl Write,
    records: &AtomicU64,
) -> io::Result<()> {
    let mut buffer = vec![0_u8; BUFFER];
    let mut counter = RecordCounter::default();
    loop {
        let length = match from.read(&mut buffer) {
            Ok(0) => {
                records.fetch_add(counter.finish(), Ordering::Relaxed);
                return Ok(());
            }
            Ok(length) => length,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        let chunk = &buffer[..length];
        records.fetch_add(counter.feed(chunk), Ordering::Relaxed);
        match to.write_all(chunk) {
            Ok(()) => {}
            Err(error) if error.kind() == ErrorKind::BrokenPipe => return Ok(()),
            Err(error) => return Err(error),
        }
    }
}

/// Counts Singer `RECORD` messages in a byte stream cut into arbitrary chunks, by looking at
/// the first [`PREFIX`] bytes of each line only: `{"type": "RECORD"` with any whitespace.
#[derive(Debug, Default)]
pub(super) struct RecordCounter {
    prefix: [u8; PREFIX],
    length: usize,
    /// The current line's start was classified; skip to its end.
    skipping: bool,
}

impl RecordCounter {
    /// The number of `RECORD` lines whose start is in `chunk` (a line is counted once, when
    /// enough of it has been seen). One `memchr` pass over the bytes plus a look at each
    /// line's first bytes; only a line cut by the chunk's end is copied (at most [`PREFIX`]
    /// bytes).
    pub(super) fn feed(&mut self, chunk: &[u8]) -> u64 {
        let mut count = 0;
        let mut rest = chunk;
        while !rest.is_empty() {
            if self.skipping {
                let Some(end) = memchr::memchr(b'\n', rest) else {
                    return count;
                };
                rest = &rest[end + 1..];
                self.skipping = false;
            } else if self.length > 0 {
                // A line whose start came in an earlier chunk.
                let window = &rest[..rest.len().min(PREFIX - self.length)];
                let end = memchr::memchr(b'\n', window);
                let taken = &window[..end.unwrap_or(window.len())];
                self.prefix[self.length..self.length + taken.len()].copy_from_slice(taken);
                self.length += taken.len();
                if end.is_some() || self.length == PREFIX {
                    count += u64::from(is_record(&self.prefix[..self.length]));
                    self.length = 0;
                    self.skipping = end.is_none();
                }
                rest = &rest[end.map_or(window.len(), |end| end + 1)..];
            } else {
                match memchr::memchr(b'\n', rest) {
                    Some(end) => {
                        count += u64::from(is_record(&rest[..end.min(PREFIX)]));
                        rest = &rest[end + 1..];
                    }
                    None if rest.len() >= PREFIX => {
                        count += u64::from(is_record(&rest[..PREFIX]));
                        self.skipping = true;
                        return count;
                    }
                    None => {
                        self.prefix[..rest.len()].copy_from_slice(rest);
                        self.length = rest.len();
                        return count;
                    }
                }
            }
        }
        count
    }

    /// At end of input: 1 when the last line, without a line end, is a `RECORD` not yet
    /// counted.
    pub(super) fn finish(&mut self) -> u64 {
        let pending = !self.skipping && self.length > 0 && is_record(&self.prefix[..self.length]);
        self.length = 0;
        self.skipping = false;
        u64::from(pending)
    }
}

/// Whether a line starts `{"type": "RECORD"` (whitespace allowed around the tokens).
fn is_record(start: &[u8]) -> bool {
    let mut rest = start;
    for token in [&b"{"[..], b"\"type\"", b":", b"\"RECORD\""] {
        rest = rest.trim_ascii_start();
        match rest.strip_prefix(token) {
            Some(after) => rest = after,
            None => return false,
        }
    }
    true
}

/// Call `line` with each line of `reader` (lossy UTF-8, without `\n` or `\r\n`), cutting
/// lines longer than `limit` bytes into pieces when a limit is given. Stops at end of input
/// or at the first read error (a child killed mid-line), after handing over what was read.
pub(super) fn for_each_line(reader: impl Read, limit: Option<usize>, mut line: impl FnMut(&str)) {
    let mut reader = BufReader::new(reader);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        let read = match limit {
            Some(limit) => (&mut reader)
                .take(u64::try_from(limit).unwrap_or(u64::MAX))
                .read_until(b'\n', &mut buffer),
            None => reader.read_until(b'\n', &mut buffer),
        };
        match read {
            Ok(0) | Err(_) if buffer.is_empty() => return,
            Ok(_) | Err(_) => {}
        }
        let mut text = buffer.as_slice();
        text = text.strip_suffix(b"\n").unwrap_or(text);
        text = text.strip_suffix(b"\r").unwrap_or(text);
        line(&String::from_utf8_lossy(text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count_in_chunks(text: &str, chunk: usize) -> u64 {
        let mut counter = RecordCounter::default();
        let counted: u64 = text
            .as_bytes()
            .chunks(chunk)
            .map(|piece| counter.feed(piece))
            .sum();
        counted + counter.finish()
    }

    #[test]
    fn counts_records_across_chunks() {
        let text = concat!(
            "{\"type\": \"SCHEMA\", \"stream\": \"users\", \"schema\": {}}\n",
            "{\"type\": \"RECORD\", \"stream\": \"users\", \"record\": {\"type\": \"RECORD\"}}\n",
            "{\"type\":\"RECORD\",\"stream\":\"users\",\"record\":{}}\n",
            "  { \"type\" :  \"RECORD\" }\r\n",
            "{\"stream\": \"users\", \"type\": \"RECORD\"}\n",
            "{\"type\": \"STATE\", \"value\": {}}\n",
            "{\"type\": \"RECORD\"",
        );
        for chunk in [1, 2, 3, 7, 31, 32, 33, 64, 1000] {
            assert_eq!(count_in_chunks(text, chunk), 4, "chunks of {chunk}");
        }
        assert_eq!(count_in_chunks("", 5), 0);
        assert_eq!(count_in_chunks("\n\n\n", 1), 0);
    }

    /// Random lines cut into random chunks count like a line-by-line count.
    #[test]
    fn chunking_never_changes_the_count() {
        let lines = [
            "{\"type\": \"RECORD\", \"stream\": \"s\", \"record\": {\"a\": 1}}",
            "{\"type\":\"RECORD\"}",
            "{\"type\": \"STATE\", \"value\": {}}",
            "",
            "   {  \"type\"  :  \"RECORD\"",
            "{\"type\": \"RECORDS\"}",
            "{\"type\": \"RECOR",
            "x",
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |bound: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            usize::try_from(seed % u64::try_from(bound).unwrap()).unwrap()
        };
        for _ in 0..300 {
            let count = next(40);
            let text: Vec<&str> = (0..count).map(|_| lines[next(lines.len())]).collect();
            let mut text = text.join("\n");
            if next(2) == 0 {
                text.push('\n');
            }
            let expected: u64 = text
                .split('\n')
                .map(|line| u64::from(is_record(&line.as_bytes()[..line.len().min(PREFIX)])))
                .sum();
            let mut counter = RecordCounter::default();
            let mut rest = text.as_bytes();
            let mut counted = 0;
            while !rest.is_empty() {
                let size = 1 + next(rest.len().min(70));
                counted += counter.feed(&rest[..size]);
                rest = &rest[size..];
            }
            counted += counter.finish();
            assert_eq!(counted, expected, "{text:?}");
        }
    }

    #[test]
    fn lines_are_cut_at_the_limit() {
        let mut lines = Vec::new();
        for_each_line("ab\ncdefg\nh".as_bytes(), Some(3), |line| {
            lines.push(line.to_owned());
        });
        assert_eq!(lines, ["ab", "cde", "fg", "h"]);
        let mut lines = Vec::new();
        for_each_line("x\r\n\ny\n".as_bytes(), None, |line| {
            lines.push(line.to_owned());
        });
        assert_eq!(lines, ["x", "", "y"]);
    }

    #[test]
    fn relay_copies_and_counts() {
        let input = "{\"type\": \"RECORD\"}\n".repeat(10_000);
        let records = AtomicU64::new(0);
        let mut output = Vec::new();
        relay(input.as_bytes(), &mut output, &records).unwrap();
        assert_eq!(output, input.as_bytes());
        assert_eq!(records.load(Ordering::Relaxed), 10_000);
    }
}
