//! The supervisor: one thread per pipe end and per child, one event channel, and the calling
//! thread deciding what each event means by Meltano's rules.
//!
//! Helper threads own their pipe ends and never block the supervisor: a thread that waits for
//! a child uses `waitid(WNOWAIT)`, which reports the exit without reaping, so the supervisor
//! can still signal the child's process group (its ID cannot be reused while the zombie
//! exists) before it reaps. Reaping happens here only, after that report, which is what makes
//! "no zombie, no stray signal" hold on every path.

use std::process::Child;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::process::{Pid, Signal, WaitId, WaitIdOptions};
use serde_json::json;

use super::counter::StreamCounter;
use super::relay::{MAX_LOG_LINE, for_each_line, relay};
use super::spawn::{Spawned, signal_group, spawn_all};
use super::{
    Exit, Failure, Options, Outcome, PipeError, Plugin, PluginKind, PluginReport, Relay, Report,
    StateError, StreamCounts,
};
use crate::runtime::interrupt::Interrupts;
use crate::runtime::log::{Level, Logger};

/// State lines read ahead of the callback before the target's stdout is left to fill up
/// (then the target blocks: Meltano's backpressure too).
const STATE_QUEUE: usize = 64;

/// After the last child exits, how long to wait for its output to drain before giving up on
/// it (a process outside the children's groups may hold a pipe open).
const DRAIN: Duration = Duration::from_secs(5);

/// How long a mapper's upstream may take to exit after the mapper saw the end of its input.
const UPSTREAM_END: Duration = Duration::from_secs(2);

/// What the helper threads report.
enum Event {
    /// Child `index` exited and is a zombie: signal its group, then reap it.
    Exited(usize),
    /// A line of the target's stdout.
    State(String),
    /// The target's stdout ended.
    StatesEnd,
    /// A stderr reader or the relay ended.
    ReaderEnd,
    /// This process received a signal.
    Signal(i32),
}

/// One child's bookkeeping.
#[derive(Default)]
struct Slot {
    exit: Option<Exit>,
    /// The signal this process sent to stop it.
    stopped_with: Option<i32>,
}

/// The children, killed and reaped on drop if still running (a panic in the callback, an
/// early return).
struct Children {
    children: Vec<Child>,
    slots: Vec<Slot>,
}

impl Drop for Children {
    fn drop(&mut self) {
        let running: Vec<usize> = self.running().collect();
        for &index in &running {
            signal_group(&self.children[index], Signal::KILL);
        }
        for index in running {
            let _ = self.children[index].wait();
        }
    }
}

impl Children {
    fn running(&self) -> impl Iterator<Item = usize> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.exit.is_none())
            .map(|(index, _)| index)
    }

    /// Whether child `index` has exited, reaped or not.
    fn has_exited(&self, index: usize) -> bool {
        if self.slots[index].exit.is_some() {
            return true;
        }
        let pid = Pid::from_child(&self.children[index]);
        let options = WaitIdOptions::EXITED | WaitIdOptions::NOWAIT | WaitIdOptions::NOHANG;
        matches!(
            rustix::process::waitid(WaitId::Pid(pid), options),
            Ok(Some(_))
        )
    }

    /// Signal the group of every running child (the last first, as Meltano stops upstream
    /// blocks from the target backwards).
    fn signal_running(&mut self, signal: Signal) {
        let running: Vec<usize> = self.running().collect();
        for index in running.into_iter().rev() {
            self.signal(index, signal);
        }
    }

    fn signal(&mut self, index: usize, signal: Signal) {
        if self.slots[index].exit.is_none() {
            signal_group(&self.children[index], signal);
            self.slots[index].stopped_with = Some(signal.as_raw());
        }
    }

    /// Reap child `index` after its exit was reported; its group is killed first so nothing
    /// it started outlives it (and holds its pipes open).
    fn reap(&mut self, index: usize) -> Exit {
        if let Some(exit) = self.slots[index].exit {
            return exit;
        }
        let child = &mut self.children[index];
        signal_group(child, Signal::KILL);
        let exit = child.wait().map_or(Exit::Code(-1), Exit::of);
        self.slots[index].exit = Some(exit);
        exit
    }
}

/// Why the supervisor is stopping the children, when it decided to.
enum Stopping {
    /// The target ended while upstream ran: upstream killed, the exit codes decide.
    TargetFirst,
    /// An outcome decided by this process (timeout, signal, state, intermediate failure).
    Decided(Outcome),
}

struct Supervisor<'a> {
    plugins: &'a [Plugin],
    options: &'a Options,
    logger: &'a Logger,
    children: Children,
    stopping: Option<Stopping>,
    /// When to SIGKILL what still runs after a graceful stop.
    kill_at: Option<Instant>,
    states: u64,
    state_failed: bool,
    counter: Option<Arc<Mutex<StreamCounter>>>,
    started: Instant,
}

/// Run one extract/load block (module docs of [`super`]). `on_state` receives each line of
/// the target's stdout (without its line end) in order, on this thread; an error from it
/// stops the pipeline with [`Outcome::StateNotSaved`]. When `interrupts` already holds a
/// signal, nothing starts and the outcome is [`Outcome::Interrupted`].
pub fn run(
    plugins: &[Plugin],
    options: &Options,
    logger: &Logger,
    interrupts: &Interrupts,
    on_state: &mut dyn FnMut(&str) -> Result<(), StateError>,
) -> Result<Report, PipeError> {
    super::check_shape(plugins)?;
    for plugin in plugins {
        logger.fit_name(&plugin.name);
    }
    let (events, receiver) = mpsc::channel();
    // Subscribed before anything starts, so no signal falls between two steps.
    let signal_events = events.clone();
    let _subscription = interrupts.subscribe(Box::new(move |signal| {
        let _ = signal_events.send(Event::Signal(signal));
    }));
    if let Some(signal) = interrupts.received() {
        return Ok(not_started(signal));
    }
    let started = Instant::now();
    let Spawned {
        children,
        relay_ends,
        target_stdout,
        stderrs,
    } = spawn_all(plugins, options.relay)?;
    let slots = children.iter().map(|_| Slot::default()).collect();
    let children = Children { children, slots };

    let (credits, credit_back) = mpsc::sync_channel(STATE_QUEUE);
    let counter =
        (options.relay == Relay::Counting).then(|| Arc::new(Mutex::new(StreamCounter::default())));
    let mut readers = 0;
    let start = |name: &str, work: Box<dyn FnOnce() + Send>| {
        std::thread::Builder::new()
            .name(format!("meltc-run {name}"))
            .spawn(work)
            .map(drop)
            .map_err(PipeError::Thread)
    };
    // From here on a `?` drops `children`, which kills and reaps them.
    for (index, child) in children.children.iter().enumerate() {
        let pid = Pid::from_child(child);
        let events = events.clone();
        start("wait", Box::new(move || wait_for_exit(pid, index, &events)))?;
    }
    for (plugin, stderr) in plugins.iter().zip(stderrs) {
        let Some(stderr) = stderr else { continue };
        let (logger, events) = (logger.clone(), events.clone());
        let (name, kind) = (plugin.name.clone(), plugin.kind.as_str());
        readers += 1;
        start(
            "stderr",
            Box::new(move || {
                for_each_line(stderr, Some(MAX_LOG_LINE), |line| {
                    logger.plugin_line(&name, kind, "stderr", line);
                });
                let _ = events.send(Event::ReaderEnd);
            }),
        )?;
    }
    if let (Some((from, to)), Some(counter)) = (relay_ends, &counter) {
        let (counter, events, logger) = (Arc::clone(counter), events.clone(), logger.clone());
        readers += 1;
        start(
            "relay",
            Box::new(move || {
                if let Err(error) = relay(from, to, &counter) {
                    logger.event(
                        Level::Warning,
                        "relay",
                        &format!("reading the extractor's output failed: {error}"),
                        &[],
                    );
                }
                let _ = events.send(Event::ReaderEnd);
            }),
        )?;
    }
    let mut states_open = false;
    if let Some(stdout) = target_stdout {
        let events = events.clone();
        states_open = true;
        start(
            "states",
            Box::new(move || read_states(stdout, &events, &credits)),
        )?;
    }
    drop(events);

    let mut supervisor = Supervisor {
        plugins,
        options,
        logger,
        children,
        stopping: None,
        kill_at: None,
        states: 0,
        state_failed: false,
        counter,
        started,
    };
    supervisor.run_loop(&receiver, &credit_back, readers, states_open, on_state);
    Ok(supervisor.report())
}

/// The report of a pipeline that a signal received earlier kept from starting: no plugin.
fn not_started(signal: i32) -> Report {
    Report {
        outcome: Outcome::Interrupted(signal),
        plugins: Vec::new(),
        records: None,
        streams: None,
        states: 0,
        elapsed: Duration::ZERO,
    }
}

/// Block until child `pid` exits (without reaping it), then report it.
fn wait_for_exit(pid: Pid, index: usize, events: &Sender<Event>) {
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOWAIT;
    // Anything but an interruption means exited, or nothing to wait for: either way the
    // supervisor reaps now.
    while let Err(Errno::INTR) = rustix::process::waitid(WaitId::Pid(pid), options) {}
    let _ = events.send(Event::Exited(index));
}

/// Hand each line of the target's stdout over, at most [`STATE_QUEUE`] ahead of the callback.
fn read_states(stdout: impl std::io::Read, events: &Sender<Event>, credits: &SyncSender<()>) {
    for_each_line(stdout, None, |line| {
        // Blocks while the queue is full; fails once the supervisor is gone.
        if credits.send(()).is_ok() {
            let _ = events.send(Event::State(line.to_owned()));
        }
    });
    let _ = events.send(Event::StatesEnd);
}

impl Supervisor<'_> {
    fn run_loop(
        &mut self,
        receiver: &Receiver<Event>,
        credit_back: &Receiver<()>,
        mut readers: usize,
        mut states_open: bool,
        on_state: &mut dyn FnMut(&str) -> Result<(), StateError>,
    ) {
        let mut next_progress = self
            .options
            .progress_every
            .map(|every| self.started + every);
        let mut drain_until: Option<Instant> = None;
        loop {
            let all_exited = self.children.running().next().is_none();
            if all_exited && readers == 0 && !states_open {
                return;
            }
            if all_exited && drain_until.is_none() {
                drain_until = Some(Instant::now() + DRAIN);
            }
            let wake = [next_progress, self.deadline(), self.kill_at, drain_until]
                .into_iter()
                .flatten()
                .min();
            let event = match wake {
                Some(at) => receiver.recv_timeout(at.saturating_duration_since(Instant::now())),
                None => receiver.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match event {
                Ok(Event::Exited(index)) => self.exited(index),
                Ok(Event::State(line)) => {
                    let _ = credit_back.try_recv();
                    self.state(&line, on_state);
                }
                Ok(Event::StatesEnd) => states_open = false,
                Ok(Event::ReaderEnd) => readers = readers.saturating_sub(1),
                Ok(Event::Signal(signal)) => self.interrupted(signal),
                Err(RecvTimeoutError::Timeout) => {
                    let now = Instant::now();
                    if drain_until.is_some_and(|until| now >= until) {
                        self.logger.event(
                            Level::Warning,
                            "drain",
                            "a pipe stayed open after every plugin exited; not waiting for it",
                            &[],
                        );
                        return;
                    }
                    self.tick(now, &mut next_progress);
                }
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// The deadline, while it can still fire.
    fn deadline(&self) -> Option<Instant> {
        if self.stopping.is_some() {
            None
        } else {
            self.options.deadline
        }
    }

    fn tick(&mut self, now: Instant, next_progress: &mut Option<Instant>) {
        if self.deadline().is_some_and(|deadline| now >= deadline) {
            self.logger.event(
                Level::Error,
                "timeout",
                "run timed out: stopping the pipeline",
                &[("elapsed_seconds", json!(self.started.elapsed().as_secs()))],
            );
            self.stop(Outcome::TimedOut, Signal::TERM);
        }
        if self.kill_at.is_some_and(|at| now >= at) {
            self.kill_at = None;
            self.children.signal_running(Signal::KILL);
        }
        if let (Some(at), Some(every)) = (*next_progress, self.options.progress_every) {
            if now >= at {
                self.progress();
                *next_progress = Some(at + every);
            }
        }
    }

    /// Stop every running child with `signal`, then SIGKILL after the grace period.
    fn stop(&mut self, outcome: Outcome, signal: Signal) {
        if self.stopping.is_none() {
            self.stopping = Some(Stopping::Decided(outcome));
        }
        self.children.signal_running(signal);
        self.kill_at = Some(Instant::now() + self.options.stop_grace);
    }

    fn interrupted(&mut self, signal: i32) {
        if self.stopping.is_some() {
            self.logger.event(
                Level::Warning,
                "signal",
                "signal received again: killing the pipeline",
                &[("signal", json!(signal))],
            );
            self.children.signal_running(Signal::KILL);
            return;
        }
        self.logger.event(
            Level::Warning,
            "signal",
            "signal received: forwarding it to the pipeline",
            &[("signal", json!(signal))],
        );
        let forwarded = Signal::from_named_raw(signal).unwrap_or(Signal::TERM);
        self.stop(Outcome::Interrupted(signal), forwarded);
    }

    fn state(&mut self, line: &str, on_state: &mut dyn FnMut(&str) -> Result<(), StateError>) {
        if self.state_failed {
            return;
        }
        self.states += 1;
        if let Err(error) = on_state(line) {
            self.state_failed = true;
            let message = error.to_string();
            self.logger.event(
                Level::Error,
                "state",
                &format!("could not save state: {message}"),
                &[],
            );
            self.stop(Outcome::StateNotSaved(message), Signal::TERM);
        }
    }

    /// Child `index` exited: reap it, then apply Meltano's rules on who exited first.
    fn exited(&mut self, index: usize) {
        self.children.reap(index);
        if self.stopping.is_some() {
            return;
        }
        let target = self.plugins.len() - 1;
        if self.children.has_exited(target) {
            let upstream: Vec<usize> = (0..target)
                .filter(|&upstream| !self.children.has_exited(upstream))
                .collect();
            if !upstream.is_empty() {
                self.stopping = Some(Stopping::TargetFirst);
                for upstream in upstream.into_iter().rev() {
                    self.children.signal(upstream, Signal::KILL);
                }
            }
            return;
        }
        let head = (0..target)
            .find(|&index| !self.children.has_exited(index))
            .unwrap_or(target);
        let exited_mapper = (head + 1..target).find(|&index| self.children.has_exited(index));
        if exited_mapper.is_some_and(|mapper| !self.upstream_ends_cleanly(head..mapper)) {
            self.logger.event(
                Level::Error,
                "intermediate",
                "a mapper exited while its input was still running",
                &[],
            );
            self.stopping = Some(Stopping::Decided(Outcome::Failed(Failure::Intermediate)));
            self.children.signal_running(Signal::KILL);
        }
    }

    /// Whether the processes upstream of an exited mapper all exit with code 0 within
    /// [`UPSTREAM_END`]. A mapper reads to the end of its input and exits as soon as the tap
    /// closes its stdout, which a tap does just before its own exit: that is the ordinary end,
    /// not a mapper that stopped early (whose tap is still writing, or dies of the broken pipe).
    fn upstream_ends_cleanly(&mut self, upstream: std::ops::Range<usize>) -> bool {
        let until = Instant::now() + UPSTREAM_END;
        for upstream in upstream {
            while !self.children.has_exited(upstream) {
                if Instant::now() >= until {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            if self.children.reap(upstream) != Exit::Code(0) {
                return false;
            }
        }
        true
    }

    fn progress(&self) {
        let elapsed = self.started.elapsed().as_secs();
        let streams = self.streams();
        let records = streams.as_ref().map(StreamCounts::total);
        let message = format!("{}, {elapsed}s elapsed", counts(records, self.states));
        self.logger.event(
            Level::Info,
            "progress",
            &message,
            &[
                ("records", json!(records)),
                ("streams", streams_json(streams.as_ref())),
                ("states", json!(self.states)),
                ("elapsed_seconds", json!(elapsed)),
            ],
        );
    }

    /// The records per stream so far ([`Relay::Counting`] only).
    fn streams(&self) -> Option<StreamCounts> {
        self.counter.as_ref().map(|counter| {
            counter
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .counts()
        })
    }

    fn outcome(&self, plugins: &[PluginReport]) -> Outcome {
        match &self.stopping {
            Some(Stopping::Decided(outcome)) => return outcome.clone(),
            Some(Stopping::TargetFirst) | None => {}
        }
        let code = |report: &PluginReport| {
            if report.stopped_with.is_some() {
                // Stopped because the target ended first: Meltano counts it as successful.
                0
            } else {
                report.exit.returncode()
            }
        };
        let extractor = plugins.first().map_or(0, code);
        let loader = plugins.last().map_or(0, code);
        let mappers_failed = plugins
            .iter()
            .filter(|report| report.kind == PluginKind::Mapper)
            .any(|report| code(report) != 0);
        match (extractor != 0, loader != 0) {
            (true, true) => Outcome::Failed(Failure::ExtractorAndLoader),
            (true, false) => Outcome::Failed(Failure::Extractor),
            (false, true) => Outcome::Failed(Failure::Loader),
            (false, false) if mappers_failed => Outcome::Failed(Failure::Mappers),
            (false, false) => Outcome::Success,
        }
    }

    fn report(mut self) -> Report {
        // Every child was reaped by the loop; this covers a loop that ended early.
        for index in 0..self.plugins.len() {
            self.children.reap(index);
        }
        let plugins: Vec<PluginReport> = self
            .plugins
            .iter()
            .zip(&self.children.slots)
            .map(|(plugin, slot)| PluginReport {
                name: plugin.name.clone(),
                kind: plugin.kind,
                exit: slot.exit.unwrap_or(Exit::Code(-1)),
                stopped_with: slot.stopped_with,
            })
            .collect();
        let outcome = self.outcome(&plugins);
        let streams = self.streams();
        let report = Report {
            outcome,
            plugins,
            records: streams.as_ref().map(StreamCounts::total),
            streams,
            states: self.states,
            elapsed: self.started.elapsed(),
        };
        log_report(self.logger, &report);
        report
    }
}

/// `12 records, 3 states`, or `3 states` when records are not counted.
fn counts(records: Option<u64>, states: u64) -> String {
    match records {
        Some(records) => format!("{records} records, {states} states"),
        None => format!("{states} states"),
    }
}

/// One line per plugin that did not exit 0 on its own, then the block's summary.
fn log_report(logger: &Logger, report: &Report) {
    for plugin in &report.plugins {
        if plugin.exit == Exit::Code(0) && plugin.stopped_with.is_none() {
            continue;
        }
        let stopped = plugin
            .stopped_with
            .map(|signal| format!(" (stopped by meltc-run with signal {signal})"))
            .unwrap_or_default();
        logger.event(
            if report.success() {
                Level::Info
            } else {
                Level::Warning
            },
            "exit",
            &format!(
                "{} {}: {}{stopped}",
                plugin.kind.as_str(),
                plugin.name,
                plugin.exit
            ),
            &[
                ("name", json!(plugin.name)),
                ("returncode", json!(plugin.exit.returncode())),
            ],
        );
    }
    let counts = counts(report.records, report.states);
    let seconds = format!("{:.3}", report.elapsed.as_secs_f64());
    logger.event(
        if report.success() {
            Level::Info
        } else {
            Level::Error
        },
        "block",
        &format!("block {}: {counts} in {seconds}s", report.outcome),
        &[
            ("success", json!(report.success())),
            ("records", json!(report.records)),
            ("streams", streams_json(report.streams.as_ref())),
            ("states", json!(report.states)),
            ("duration_seconds", json!(report.elapsed.as_secs_f64())),
        ],
    );
}

/// `{"users": 12, "orders": 3}` for the JSON log, `null` when records are not counted.
fn streams_json(streams: Option<&StreamCounts>) -> serde_json::Value {
    streams.map_or(serde_json::Value::Null, |streams| json!(streams.0))
}
