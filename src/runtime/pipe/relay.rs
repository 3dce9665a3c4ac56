//! Moving bytes and lines between the children and this process.
//!
//! - [`relay`]: the tap's stdout to the next process's stdin, counting records per stream
//!   with [`StreamCounter`] on the way. On Linux the bytes do not pass through this process:
//!   `tee(2)` duplicates what the tap wrote into a private pipe (page references, no copy),
//!   `splice(2)` moves the original on to the next process, and only the duplicate is read
//!   here, once, to be counted. Elsewhere (or if the kernel refuses), one 1 MiB buffer is read
//!   and written back;
//! - [`for_each_line`]: the lines of a child's stderr or of the target's stdout, with no
//!   limit on a line's length other than memory for state lines, and stderr lines cut at
//!   [`MAX_LOG_LINE`] so a child that never writes a newline cannot grow this process.

use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::sync::{Mutex, PoisonError};

use super::counter::StreamCounter;

/// The most moved at once: the capacity the data path's pipes are given, so one call can
/// drain the tap's pipe and fill the next one.
pub(super) const BUFFER: usize = 1024 * 1024;

/// Longest stderr line forwarded as one log line; the rest follows as further lines.
pub(super) const MAX_LOG_LINE: usize = 64 * 1024;

/// Move `from` to `to` until `from` ends, counting what passes into `counter`. Returns early,
/// without error, when `to` is closed (the next process exited: what happens then is the
/// supervisor's business); both ends are closed on return, which gives the next process
/// end-of-input and the tap a broken pipe. Only the bytes the next process was given are
/// counted.
pub(super) fn relay(
    from: impl Read + AsFd,
    to: impl Write + AsFd,
    counter: &Mutex<StreamCounter>,
) -> io::Result<()> {
    let mut buffer = vec![0_u8; BUFFER];
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let (from, to) = match zero_copy::relay(&from, &to, counter, &mut buffer)? {
        zero_copy::Done::Finished => return Ok(()),
        zero_copy::Done::Unsupported => (from, to),
    };
    copy_relay(from, to, counter, &mut buffer)
}

/// The portable relay: read a chunk into `buffer`, count it, write it on.
fn copy_relay(
    mut from: impl Read,
    mut to: impl Write,
    counter: &Mutex<StreamCounter>,
    buffer: &mut [u8],
) -> io::Result<()> {
    loop {
        let length = match from.read(buffer) {
            Ok(0) => {
                lock(counter).finish();
                return Ok(());
            }
            Ok(length) => length,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        let chunk = &buffer[..length];
        match to.write_all(chunk) {
            Ok(()) => lock(counter).feed(chunk),
            Err(error) if error.kind() == ErrorKind::BrokenPipe => return Ok(()),
            Err(error) => return Err(error),
        }
    }
}

/// The counter, even after a panic elsewhere while it was held (counts are best effort).
fn lock(counter: &Mutex<StreamCounter>) -> std::sync::MutexGuard<'_, StreamCounter> {
    counter.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod zero_copy {
    //! `tee` + `splice`: the tap's pages go to the next process without a copy; this process
    //! reads a duplicate once to count it.

    use std::io::{self, Read};
    use std::os::fd::AsFd;
    use std::sync::Mutex;

    use rustix::io::Errno;
    use rustix::pipe::{PipeFlags, SpliceFlags};

    use super::{BUFFER, StreamCounter, lock};

    /// How the zero-copy relay ended.
    pub(super) enum Done {
        /// The tap's output ended, or the next process closed its input.
        Finished,
        /// The kernel cannot `tee` these descriptors (nothing was moved): copy instead.
        Unsupported,
    }

    pub(super) fn relay(
        from: &impl AsFd,
        to: &impl AsFd,
        counter: &Mutex<StreamCounter>,
        buffer: &mut [u8],
    ) -> io::Result<Done> {
        // The duplicate's pipe, never inherited by a child started meanwhile; as large as
        // the tap's, so one `tee` takes all it holds.
        let (copy_out, copy_in) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC)?;
        let _ = rustix::pipe::fcntl_setpipe_size(&copy_in, BUFFER);
        let mut copy_out = std::fs::File::from(copy_out);
        let mut first = true;
        loop {
            let length = match rustix::pipe::tee(from, &copy_in, BUFFER, SpliceFlags::empty()) {
                Ok(0) => {
                    lock(counter).finish();
                    return Ok(Done::Finished);
                }
                Ok(length) => length,
                Err(Errno::INTR) => continue,
                Err(Errno::INVAL) if first => return Ok(Done::Unsupported),
                Err(error) => return Err(error.into()),
            };
            first = false;
            let moved = move_on(from, to, length)?;
            copy_out.read_exact(&mut buffer[..length])?;
            lock(counter).feed(&buffer[..moved]);
            if moved < length {
                return Ok(Done::Finished);
            }
        }
    }

    /// Splice `length` bytes (which `from` holds) into `to`; fewer only when `to` closed.
    fn move_on(from: &impl AsFd, to: &impl AsFd, length: usize) -> io::Result<usize> {
        let mut moved = 0;
        while moved < length {
            match rustix::pipe::splice(from, None, to, None, length - moved, SpliceFlags::empty()) {
                Ok(0) => break,
                Ok(count) => moved += count,
                Err(Errno::INTR) => {}
                Err(Errno::PIPE) => break,
                Err(error) => return Err(error.into()),
            }
        }
        Ok(moved)
    }
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

    /// A pipe as (read end, write end) files.
    fn pipe() -> (std::fs::File, std::fs::File) {
        let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        (read.into(), write.into())
    }

    fn input(records: usize) -> String {
        let mut text = String::new();
        for n in 0..records {
            let stream = if n % 4 == 0 { "orders" } else { "users" };
            text.push_str(&format!(
                "{{\"type\": \"RECORD\", \"stream\": \"{stream}\", \"record\": {{\"n\": {n}}}}}\n"
            ));
        }
        text
    }

    /// The relay through real pipes (tee and splice on Linux): every byte arrives, in
    /// order, and every record is counted in its stream.
    #[test]
    fn relay_moves_and_counts_through_pipes() {
        let text = input(200_000);
        let (tap_out, relay_in) = pipe();
        let (relay_out, target_in) = pipe();
        let writer = {
            let text = text.clone();
            let mut relay_in = relay_in;
            std::thread::spawn(move || relay_in.write_all(text.as_bytes()).unwrap())
        };
        let reader = std::thread::spawn(move || {
            let mut received = Vec::new();
            let mut relay_out = relay_out;
            relay_out.read_to_end(&mut received).unwrap();
            received
        });
        let counter = Mutex::new(StreamCounter::default());
        relay(tap_out, target_in, &counter).unwrap();
        writer.join().unwrap();
        assert!(
            reader.join().unwrap() == text.as_bytes(),
            "the bytes changed on the way"
        );
        let counts = lock(&counter).counts();
        assert_eq!(counts.get("users"), Some(150_000));
        assert_eq!(counts.get("orders"), Some(50_000));
    }

    /// Not pipes (a file and a buffer): the copying relay does the same.
    #[test]
    fn relay_copies_what_it_cannot_splice() {
        let text = input(10_000);
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        std::io::Seek::rewind(&mut file).unwrap();
        let (relay_out, target_in) = pipe();
        let reader = std::thread::spawn(move || {
            let mut received = Vec::new();
            let mut relay_out = relay_out;
            relay_out.read_to_end(&mut received).unwrap();
            received
        });
        let counter = Mutex::new(StreamCounter::default());
        relay(file, target_in, &counter).unwrap();
        assert!(reader.join().unwrap() == text.as_bytes());
        assert_eq!(lock(&counter).total(), 10_000);
    }

    /// The next process closes its input after a while: the relay returns without error,
    /// having counted only what it delivered.
    #[test]
    fn relay_stops_when_the_next_process_closes() {
        let text = input(100_000);
        let (tap_out, relay_in) = pipe();
        let (relay_out, target_in) = pipe();
        let writer = std::thread::spawn(move || {
            let mut relay_in = relay_in;
            // Broken pipe once the relay is gone: expected.
            let _ = relay_in.write_all(text.as_bytes());
        });
        let reader = std::thread::spawn(move || {
            let mut relay_out = relay_out;
            let mut first = vec![0_u8; 4096];
            relay_out.read_exact(&mut first).unwrap();
            drop(relay_out);
            first
        });
        let counter = Mutex::new(StreamCounter::default());
        relay(tap_out, target_in, &counter).unwrap();
        reader.join().unwrap();
        writer.join().unwrap();
        assert!(lock(&counter).total() < 100_000);
    }
}
