//! `tap | [mapper…] | target` as child processes: the data path of `meltc-run`
//! (Meltano's `ExtractLoadBlocks` in `core/block/extract_load.py`, `BookmarkWriter` in
//! `core/plugin/singer/target.py`).
//!
//! Input: the [`Plugin`]s of one extract/load block in order (program, arguments, the whole
//! environment, working directory; the caller resolves all of it), [`Options`], a
//! [`Logger`], the process's [`Interrupts`], and a callback that persists state. Output: a
//! [`Report`] with the outcome and each plugin's exit status.
//!
//! What happens:
//! - every process starts at once, each in its own process group (so stopping one stops what
//!   it started too); the tap's stdin is `/dev/null`; each child's stdout feeds the next one's
//!   stdin; every child gets exactly the environment it is given;
//! - **the target's stdout lines are state messages**: each is handed to the callback on the
//!   calling thread as soon as it is read (Meltano persists each line at once, so a failed run
//!   keeps the state emitted before the failure);
//! - each child's stderr is forwarded line by line through the [`Logger`], tagged with the
//!   plugin's name;
//! - with [`Relay::Counting`] (the default) the tap's output passes through this process,
//!   which counts `RECORD` messages per stream on the way ([`Report::streams`]; a line counts
//!   when its top-level `"type"` is `"RECORD"`, found in a few bytes for the shapes
//!   `singer-python` and the Singer SDK write and by a scanner of the top-level object for any
//!   other); on Linux the bytes themselves do not cross into this process (`tee` a duplicate
//!   to count, `splice` the original on to the next process); with [`Relay::Direct`] the
//!   tap's stdout file descriptor is the next process's stdin and only states are counted.
//!   Later hops (mapper to mapper, mapper to target) are always direct, so the counts are
//!   the tap's streams as the catalog names them. The data path's pipes are enlarged to
//!   1 MiB. A progress line with the counts is logged every [`Options::progress_every`].
//!   README "meltc-run: the pipe and catalog selection" has the measured cost of both modes
//!   against a raw shell pipe;
//! - failures follow Meltano (`extract_load.py`): when the target exits while something
//!   upstream still runs, the upstream processes are killed and the target's exit code decides
//!   (the tap counts as successful); when a mapper exits while its upstream still runs, all are
//!   killed and the run fails ("Intermediate block (likely a mapper) failed"); when the tap
//!   exits (even failing) its downstream gets end-of-input and finishes on its own, so the
//!   target can still commit and emit state. Then: tap failed → "Extractor failed", target
//!   failed → "Loader failed", both → "Extractor and loader failed", a mapper failed →
//!   "Mappers failed";
//! - SIGTERM/SIGINT received by this process (see [`Interrupts`]) are forwarded to every
//!   running child; a second one, or [`Options::stop_grace`] later, kills them. Reaching
//!   [`Options::deadline`] (`--timeout`) sends SIGTERM, then SIGKILL after the grace period;
//! - every child is waited for before [`run`] returns, on every path (including a panic in the
//!   callback): no zombies, and no orphans inside the children's process groups.
//!
//! Departures from Meltano: the tap's stdin is `/dev/null` rather than inherited; no line
//! length limit (Meltano fails lines over `elt.buffer_size / 2`); a state line is handed over
//! as text, its JSON parsing is the caller's.

mod counter;
mod relay;
mod spawn;
mod supervise;

pub use supervise::run;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[cfg(doc)]
use crate::runtime::interrupt::Interrupts;
#[cfg(doc)]
use crate::runtime::log::Logger;

/// What a plugin is in the block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PluginKind {
    /// The tap: the first process.
    Extractor,
    /// A mapping between tap and target.
    Mapper,
    /// The target: the last process; its stdout is state.
    Loader,
}

impl PluginKind {
    /// Meltano's singular name (`extractor`, `mapper`, `loader`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Extractor => "extractor",
            Self::Mapper => "mapper",
            Self::Loader => "loader",
        }
    }
}

/// One process of the pipeline, fully resolved by the caller.
#[derive(Clone, Debug)]
pub struct Plugin {
    /// The plugin (or mapping) name, for logs and the report.
    pub name: String,
    /// Its place in the block.
    pub kind: PluginKind,
    /// The executable (a path, or a name looked up in `PATH` of *this* process).
    pub program: PathBuf,
    /// Its arguments (`--config …`, `--catalog …`, `--state …`).
    pub args: Vec<OsString>,
    /// Its whole environment: nothing of this process's environment is inherited.
    pub env: BTreeMap<OsString, OsString>,
    /// Its working directory.
    pub cwd: PathBuf,
}

/// How the tap's output reaches the next process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Relay {
    /// Through a buffer in this process, counting `RECORD` lines on the way.
    #[default]
    Counting,
    /// The tap's stdout is the next process's stdin; only states are counted.
    Direct,
}

/// How to run the pipeline.
#[derive(Clone, Debug)]
pub struct Options {
    /// When to give up (`--timeout`, measured from the start of the whole run, so it is an
    /// instant rather than a duration): SIGTERM, then SIGKILL after `stop_grace`.
    pub deadline: Option<Instant>,
    /// How often to log a progress line; `None` for never.
    pub progress_every: Option<Duration>,
    /// See [`Relay`].
    pub relay: Relay,
    /// How long stopped children get between SIGTERM (or the forwarded signal) and SIGKILL.
    pub stop_grace: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            deadline: None,
            progress_every: Some(Duration::from_secs(60)),
            relay: Relay::Counting,
            stop_grace: Duration::from_secs(10),
        }
    }
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// A signal ended it.
    Signal(i32),
}

impl Exit {
    /// How a process with this status ended.
    pub fn of(status: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => Self::Code(code),
            (None, Some(signal)) => Self::Signal(signal),
            (None, None) => Self::Code(-1),
        }
    }

    /// Python's `returncode`: the code, or minus the signal number.
    pub fn returncode(self) -> i32 {
        match self {
            Self::Code(code) => code,
            Self::Signal(signal) => -signal,
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Code(code) => write!(f, "exit code {code}"),
            Self::Signal(signal) => write!(f, "killed by signal {signal}"),
        }
    }
}

/// One plugin's end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginReport {
    /// The plugin's name.
    pub name: String,
    /// Its place in the block.
    pub kind: PluginKind,
    /// How it ended.
    pub exit: Exit,
    /// The signal this process sent it to stop it, if any (so its exit is not its own doing).
    pub stopped_with: Option<i32>,
}

/// Meltano's failure classes, with its messages as `Display`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The tap failed.
    Extractor,
    /// The target failed.
    Loader,
    /// Both failed.
    ExtractorAndLoader,
    /// A mapper exited non-zero.
    Mappers,
    /// A mapper exited while its upstream still ran.
    Intermediate,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Extractor => "Extractor failed",
            Self::Loader => "Loader failed",
            Self::ExtractorAndLoader => "Extractor and loader failed",
            Self::Mappers => "Mappers failed",
            Self::Intermediate => "Intermediate block (likely a mapper) failed",
        })
    }
}

/// How the run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every process succeeded (by Meltano's rules).
    Success,
    /// A plugin failed.
    Failed(Failure),
    /// [`Options::deadline`] passed.
    TimedOut,
    /// This process received this signal; the children were stopped.
    Interrupted(i32),
    /// The state callback refused a state; the children were stopped.
    StateNotSaved(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Success => f.write_str("succeeded"),
            Self::Failed(failure) => failure.fmt(f),
            Self::TimedOut => f.write_str("timed out"),
            Self::Interrupted(signal) => write!(f, "interrupted by signal {signal}"),
            Self::StateNotSaved(error) => write!(f, "state could not be saved: {error}"),
        }
    }
}

/// What [`run`] reports.
#[derive(Clone, Debug)]
pub struct Report {
    /// How it ended.
    pub outcome: Outcome,
    /// Each plugin's end, in pipeline order; empty when a signal received before [`run`]
    /// kept anything from starting.
    pub plugins: Vec<PluginReport>,
    /// `RECORD` lines the tap wrote ([`Relay::Counting`] only).
    pub records: Option<u64>,
    /// The same per stream ([`Relay::Counting`] only).
    pub streams: Option<StreamCounts>,
    /// State lines handed to the callback.
    pub states: u64,
    /// From the first spawn to the last exit.
    pub elapsed: Duration,
}

impl Report {
    /// Whether the run succeeded.
    pub fn success(&self) -> bool {
        self.outcome == Outcome::Success
    }
}

/// `RECORD` messages per stream, by stream name (a stream whose `SCHEMA` came but no record
/// has 0).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamCounts(pub BTreeMap<String, u64>);

impl StreamCounts {
    /// The records of `stream`, if the tap wrote its name.
    pub fn get(&self, stream: &str) -> Option<u64> {
        self.0.get(stream).copied()
    }

    /// Every stream's records, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.0
            .iter()
            .map(|(name, records)| (name.as_str(), *records))
    }

    /// All records.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

/// Why a pipeline could not run at all (a failing run is an [`Outcome`], not an error).
#[derive(Debug, thiserror::Error)]
pub enum PipeError {
    /// Not `extractor, mapper*, loader`.
    #[error("a pipeline is an extractor, zero or more mappers and a loader; got {0}")]
    Shape(String),
    /// A process could not be started; the ones started before it were killed and reaped.
    #[error("could not start `{plugin}` (`{program}`)")]
    Spawn {
        /// The plugin's name.
        plugin: String,
        /// The program that failed to start.
        program: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A thread could not be started.
    #[error("could not start a thread of the pipeline")]
    Thread(#[source] std::io::Error),
}

/// The state callback's error: why a state line could not be persisted.
pub type StateError = Box<dyn std::error::Error + Send + Sync>;

/// Whether `plugins` is `extractor, mapper*, loader`.
fn check_shape(plugins: &[Plugin]) -> Result<(), PipeError> {
    let kinds: Vec<PluginKind> = plugins.iter().map(|plugin| plugin.kind).collect();
    let valid = kinds.len() >= 2
        && kinds[0] == PluginKind::Extractor
        && kinds[kinds.len() - 1] == PluginKind::Loader
        && kinds[1..kinds.len() - 1]
            .iter()
            .all(|kind| *kind == PluginKind::Mapper);
    if valid {
        Ok(())
    } else {
        let names: Vec<&str> = kinds.iter().map(|kind| kind.as_str()).collect();
        Err(PipeError::Shape(format!("[{}]", names.join(", "))))
    }
}
