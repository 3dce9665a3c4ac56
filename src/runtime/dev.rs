//! `meltc-run dev-pipe`: the pipe module driven from the command line, for the benchmark
//! (`bench/pipe`) and the tests that need a whole process (signals, the private directory).
//! Hidden and unstable; not a user command.
//!
//! ```text
//! meltc-run dev-pipe [--log-format text|json] [--timeout SECS] [--direct] [--progress SECS]
//!                    [--grace SECS] [--config-files] [--rusage]
//!                    -- TAP [ARGS…] '|' [MAPPER [ARGS…] '|']… TARGET [ARGS…]
//! ```
//!
//! Each plugin is named after its program's file name and gets this process's environment
//! and working directory. State lines are printed to stdout as they are delivered. With
//! `--config-files`, each plugin gets `--config <file>` in a private directory (its path is
//! logged as a `config-dir` event). With `--rusage`, a last `rusage` event gives this
//! process's own peak resident memory and CPU time (children excluded), from `/proc/self`.
//! Exit code: 0 success, 1 failure or timeout, 2 usage,
//! 128 + the signal when interrupted.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::runtime::config_file::{FileKind, RunDir};
use crate::runtime::exit::RunExit;
use crate::runtime::interrupt::Interrupts;
use crate::runtime::log::{Level, LogFormat, Logger};
use crate::runtime::pipe::{self, Options, Outcome, Plugin, PluginKind, Relay};

/// Parsed arguments.
struct Args {
    format: LogFormat,
    options: Options,
    config_files: bool,
    rusage: bool,
    commands: Vec<Vec<OsString>>,
}

/// Run `meltc-run dev-pipe ARGS` (the arguments after `dev-pipe`).
pub fn dev_pipe(args: Vec<OsString>) -> ExitCode {
    let args = match parse(args) {
        Ok(args) => args,
        Err(message) => {
            Logger::stderr(LogFormat::Text).event(Level::Error, "usage", &message, &[]);
            return RunExit::Usage.into();
        }
    };
    let logger = Logger::stderr(args.format);
    match run(&args, &logger) {
        Ok(code) => code,
        Err(message) => {
            logger.event(Level::Error, "error", &message, &[]);
            RunExit::Usage.into()
        }
    }
}

fn run(args: &Args, logger: &Logger) -> Result<ExitCode, String> {
    let interrupts = Interrupts::install().map_err(|e| format!("signals: {e}"))?;
    let env: std::collections::BTreeMap<OsString, OsString> = std::env::vars_os().collect();
    let cwd = std::env::current_dir().map_err(|e| format!("working directory: {e}"))?;
    let run_dir = RunDir::create().map_err(|e| format!("private directory: {e}"))?;
    if args.config_files {
        let path = run_dir.path().display().to_string();
        logger.event(
            Level::Info,
            "config-dir",
            &format!("config directory: {path}"),
            &[("path", json!(path))],
        );
    }
    let last = args.commands.len() - 1;
    let mut plugins = Vec::new();
    for (index, command) in args.commands.iter().enumerate() {
        let program = PathBuf::from(&command[0]);
        let name = program
            .file_name()
            .map_or_else(|| "plugin".to_owned(), |n| n.to_string_lossy().into_owned());
        let mut plugin_args: Vec<OsString> = command[1..].to_vec();
        if args.config_files {
            let path = run_dir
                .write_json(&name, FileKind::Config, &json!({"plugin": name}))
                .map_err(|e| e.to_string())?;
            plugin_args.extend([OsString::from("--config"), path.into_os_string()]);
        }
        plugins.push(Plugin {
            name,
            kind: match index {
                0 => PluginKind::Extractor,
                _ if index == last => PluginKind::Loader,
                _ => PluginKind::Mapper,
            },
            program,
            args: plugin_args,
            env: env.clone(),
            cwd: cwd.clone(),
        });
    }
    let stdout = std::io::stdout();
    let mut on_state = |line: &str| -> Result<(), pipe::StateError> {
        let mut out = stdout.lock();
        writeln!(out, "{line}")?;
        out.flush()?;
        Ok(())
    };
    let report = pipe::run(&plugins, &args.options, logger, &interrupts, &mut on_state)
        .map_err(|e| error_chain(&e))?;
    if args.rusage {
        log_own_usage(logger);
    }
    Ok(match report.outcome {
        Outcome::Success => ExitCode::SUCCESS,
        Outcome::Interrupted(signal) => {
            ExitCode::from(u8::try_from(128 + signal).unwrap_or(u8::MAX))
        }
        _ => ExitCode::FAILURE,
    })
}

/// This process's peak RSS (`VmHWM`) and CPU time (`utime`, `stime`; its threads included,
/// its children not), for the benchmark.
fn log_own_usage(logger: &Logger) {
    let status = fs_err::read_to_string("/proc/self/status").unwrap_or_default();
    let peak_kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0);
    let stat = fs_err::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name in parentheses: utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |index: usize| -> f64 {
        // USER_HZ is 100 on every Linux architecture this runs on.
        fields
            .get(index)
            .and_then(|value| value.parse::<f64>().ok())
            .map_or(0.0, |value| value / 100.0)
    };
    let (user, system) = (ticks(11), ticks(12));
    logger.event(
        Level::Info,
        "rusage",
        &format!(
            "meltc-run itself: peak RSS {peak_kib} KiB, CPU {user:.2}s user + {system:.2}s system"
        ),
        &[
            ("peak_rss_kib", json!(peak_kib)),
            ("user_seconds", json!(user)),
            ("system_seconds", json!(system)),
        ],
    );
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    message
}

fn parse(args: Vec<OsString>) -> Result<Args, String> {
    let mut options = Options::default();
    let mut format = LogFormat::Text;
    let mut config_files = false;
    let mut rusage = false;
    let mut rest = args.into_iter();
    let seconds = |value: Option<OsString>, flag: &str| -> Result<Duration, String> {
        value
            .and_then(|value| value.to_str().and_then(|text| text.parse::<f64>().ok()))
            .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
            .map(Duration::from_secs_f64)
            .ok_or_else(|| format!("`{flag}` needs a number of seconds"))
    };
    loop {
        let Some(arg) = rest.next() else {
            return Err("expected `-- TAP … '|' TARGET …`".to_owned());
        };
        match arg.to_str() {
            Some("--") => break,
            Some("--direct") => options.relay = Relay::Direct,
            Some("--config-files") => config_files = true,
            Some("--rusage") => rusage = true,
            Some("--timeout") => {
                options.deadline = Some(Instant::now() + seconds(rest.next(), "--timeout")?);
            }
            Some("--progress") => {
                options.progress_every = Some(seconds(rest.next(), "--progress")?)
            }
            Some("--grace") => options.stop_grace = seconds(rest.next(), "--grace")?,
            Some("--log-format") => {
                format = match rest.next().as_deref().and_then(OsStr::to_str) {
                    Some("text") => LogFormat::Text,
                    Some("json") => LogFormat::Json,
                    _ => return Err("`--log-format` is `text` or `json`".to_owned()),
                };
            }
            _ => return Err(format!("unknown argument `{}`", arg.to_string_lossy())),
        }
    }
    let mut commands: Vec<Vec<OsString>> = vec![Vec::new()];
    for arg in rest {
        if arg == "|" {
            commands.push(Vec::new());
        } else if let Some(command) = commands.last_mut() {
            command.push(arg);
        }
    }
    if commands.len() < 2 || commands.iter().any(Vec::is_empty) {
        return Err("expected at least `TAP '|' TARGET`, each with a program".to_owned());
    }
    Ok(Args {
        format,
        options,
        config_files,
        rusage,
        commands,
    })
}
