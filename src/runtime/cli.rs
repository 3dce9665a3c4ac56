//! The `meltc-run` command line: what the CronJob pod and the Dagster op execute.
//!
//! Exit codes: [`RunExit`] (0 success, 1 a step failed, 2 usage or configuration, 75 another
//! run holds a state ID's run lease).
//!
//! `job` and `run` end with a one-line summary of the run (records per stream, states, time)
//! and, with `--run-results PATH`, write the same numbers per step and stream as a JSON file
//! (`runtime::run_results`); with `--log-format json` the summary line carries them too.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

use super::exit::RunExit;
use super::interrupt::Interrupts;
use super::log::{Level, LogFormat, Logger};
use super::pipes::Pipes;
use super::run::{RunError, RunOptions, Runtime};
use super::run_results::RunResults;
use super::state::StateStrategy;
use crate::manifest::{Manifest, blocks};

/// meltc-run runs the jobs of a manifest written by `meltc build`, in place of `meltano run`.
#[derive(Debug, Parser)]
#[command(name = "meltc-run", version, about)]
struct Cli {
    /// The manifest (in the image: /etc/meltc/manifest.json).
    #[arg(
        long,
        env = "MELTC_MANIFEST",
        global = true,
        default_value = "manifest.json"
    )]
    manifest: PathBuf,

    /// The project root plugins run in (`MELTANO_PROJECT_ROOT`; default: the working directory).
    #[arg(long, env = "MELTANO_PROJECT_ROOT", global = true)]
    project_root: Option<PathBuf>,

    /// Where the plugins' virtualenvs are (`<dir>/<type>/<name>/bin/`); otherwise executables
    /// are looked up on `PATH`.
    #[arg(long, env = "MELTC_PLUGINS_DIR", global = true)]
    plugins_dir: Option<PathBuf>,

    /// The pinned catalogs (`meltc catalog`; the image's `/etc/meltc/catalogs`): a run uses an
    /// extractor's instead of discovering while its key matches the run's settings; default:
    /// the project's `catalogs/`.
    #[arg(long, env = "MELTC_CATALOGS", global = true)]
    catalogs: Option<PathBuf>,

    /// Log lines for people (`human`) or one JSON object per line (`json`, for pods).
    #[arg(long, value_enum, global = true, default_value_t = Format::Human)]
    log_format: Format,

    #[command(subcommand)]
    command: Cmd,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Format {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run a job of the manifest: `meltc-run job postgres-to-lake`.
    Job {
        /// The job's name.
        name: String,
        #[command(flatten)]
        options: RunArgs,
    },
    /// Run blocks as `meltano run` does: `meltc-run run tap-x hash-emails target-y dbt:run`.
    Run {
        /// Plugins, mappings, `plugin:command`, or job names.
        #[arg(required = true)]
        blocks: Vec<String>,
        #[command(flatten)]
        options: RunArgs,
    },
    /// Run one plugin with its configuration: `meltc-run invoke dbt-postgres run`.
    Invoke {
        /// The plugin.
        plugin: String,
        /// Arguments for its executable (`plugin:command` runs a named command).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Incremental state in the environment's backend, as `meltano state`.
    State(super::state_cli::StateArgs),
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Ignore stored state (and merge the new state into it).
    #[arg(long, env = "MELTANO_RUN_FULL_REFRESH")]
    full_refresh: bool,
    /// Suffix for state IDs (`<env>:<tap>-to-<target>:<suffix>`).
    #[arg(long, env = "MELTANO_RUN_STATE_ID_SUFFIX")]
    state_id_suffix: Option<String>,
    /// Neither read nor write state.
    #[arg(long)]
    no_state_update: bool,
    /// How target states are stored: `auto`, `merge`, `overwrite`.
    #[arg(long, env = "MELTANO_RUN_STATE_STRATEGY", default_value = "auto", value_parser = parse_strategy)]
    state_strategy: StateStrategy,
    /// Stop after this many seconds (the children are stopped; exit 1).
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<u64>,
    /// Print the steps, run nothing.
    #[arg(long)]
    dry_run: bool,
    /// Discover the catalog even when the cached one (`.meltano/run/<tap>/`) matches.
    #[arg(long)]
    refresh_catalog: bool,
    /// When another run holds a step's state ID, wait up to this long for it to finish
    /// (default: exit 75 at once).
    #[arg(
        long,
        env = "MELTC_RUN_LEASE_WAIT",
        value_name = "SECONDS",
        default_value_t = 0
    )]
    lease_wait: u64,
    /// Write what the run did (per step and stream: records, duration, state before and
    /// after, exit codes) to this JSON file, on failure too (schemas/run-results.schema.json).
    #[arg(long, env = "MELTC_RUN_RESULTS", value_name = "PATH")]
    run_results: Option<PathBuf>,
}

fn parse_strategy(text: &str) -> Result<StateStrategy, String> {
    match text {
        "auto" => Ok(StateStrategy::Auto),
        "merge" => Ok(StateStrategy::Merge),
        "overwrite" => Ok(StateStrategy::Overwrite),
        _ => Err("one of auto, merge, overwrite".to_owned()),
    }
}

/// Run `meltc-run` with the process's arguments and environment.
#[must_use]
#[allow(clippy::print_stderr, reason = "errors before the logger exists")]
pub fn main() -> ExitCode {
    let mut raw = std::env::args_os();
    if raw.nth(1).is_some_and(|command| command == "dev-pipe") {
        return super::dev::dev_pipe(raw.collect());
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                RunExit::Usage
            } else {
                RunExit::Success
            });
        }
    };
    let logger = Logger::stderr(match cli.log_format {
        Format::Human => LogFormat::Text,
        Format::Json => LogFormat::Json,
    });
    let text = match fs_err::read_to_string(&cli.manifest) {
        Ok(text) => text,
        Err(error) => {
            logger.event(Level::Error, "manifest", &format!("{error}; set MELTC_MANIFEST or --manifest to the manifest.json `meltc build` wrote"), &[]);
            return RunExit::Usage.into();
        }
    };
    let manifest = match Manifest::from_json(&text) {
        Ok(manifest) => manifest,
        Err(error) => {
            logger.event(
                Level::Error,
                "manifest",
                &format!("{}: {error}", cli.manifest.display()),
                &[],
            );
            return RunExit::Usage.into();
        }
    };
    let interrupts = Interrupts::install().unwrap_or_else(|_| Interrupts::none());
    let process: BTreeMap<String, String> = std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
        .collect();
    let project_root = cli
        .project_root
        .clone()
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("."));
    let (process, literals) = super::prepare::split_literals(&manifest, process);
    let runtime = Runtime {
        manifest: &manifest,
        process,
        literals,
        project_root,
        plugins_dir: cli.plugins_dir.clone(),
        catalogs_dir: cli.catalogs.clone(),
        logger: &logger,
        interrupts: &interrupts,
    };
    match cli.command {
        Cmd::Job { name, options } => {
            let job = manifest.job(&name);
            let steps = job.map(|job| job.steps.as_slice()).ok_or_else(|| {
                RunError::Blocks(format!(
                    "the manifest has no job `{name}`; its jobs: {}",
                    manifest
                        .jobs
                        .iter()
                        .map(|job| job.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            });
            let run = RunOptions {
                ephemeral_job: job
                    .filter(|job| job.ephemeral_state)
                    .map(|job| job.name.clone()),
                ..run_options(&options, format!("job {name}"))
            };
            run_and_report(&runtime, steps, &run, options.run_results.as_deref())
        }
        Cmd::Run {
            blocks: names,
            options,
        } => {
            let expanded = blocks::expand_jobs(&manifest, &names);
            let run = run_options(&options, format!("run {}", names.join(" ")));
            let results_path = options.run_results.as_deref();
            match blocks::parse(&manifest, &expanded) {
                Ok(steps) => run_and_report(&runtime, Ok(&steps), &run, results_path),
                Err(error) => {
                    let error = RunError::Blocks(error.to_string());
                    run_and_report(&runtime, Err(error), &run, results_path)
                }
            }
        }
        Cmd::Invoke { plugin, args } => {
            let (name, command) = match plugin.split_once(':') {
                Some((name, command)) => (name.to_owned(), Some(command.to_owned())),
                None => (plugin.clone(), None),
            };
            finish(&logger, runtime.command(&name, command.as_deref(), &args))
        }
        Cmd::State(command) => finish(&logger, super::state_cli::run(&runtime, command)),
    }
}

/// The exit of a failed run.
fn failure_code(error: &RunError) -> RunExit {
    match error {
        RunError::Blocks(_)
        | RunError::Config { .. }
        | RunError::Variable(_)
        | RunError::Usage(_) => RunExit::Usage,
        RunError::LeaseHeld(_) => RunExit::LeaseHeld,
        _ => RunExit::Failed,
    }
}

/// Log why a command failed; its exit code.
fn finish(logger: &Logger, result: Result<(), RunError>) -> ExitCode {
    match result {
        Ok(()) => RunExit::Success.into(),
        Err(error) => {
            logger.event(Level::Error, "run_failed", &error.to_string(), &[]);
            failure_code(&error).into()
        }
    }
}

/// Run `steps` (`job` and `run`), write the run-results file when asked, and end with the
/// summary line.
fn run_and_report(
    runtime: &Runtime<'_>,
    steps: Result<&[crate::manifest::Step], RunError>,
    options: &RunOptions,
    results_path: Option<&std::path::Path>,
) -> ExitCode {
    let logger = runtime.logger;
    // Refused before anything runs: a results file that cannot be written is found out at
    // the start of a long sync, not at its end.
    if let Some(path) = results_path {
        if let Err(error) = check_results_path(path) {
            return finish(logger, Err(error));
        }
    }
    // Dagster Pipes, when Dagster started the run: refused before anything runs when its
    // parameters cannot be read, so that a broken orchestration is not a silent one.
    let pipes = match Pipes::from_env(|name| std::env::var(name).ok()) {
        Ok(pipes) => pipes,
        Err(error) => {
            return finish(
                logger,
                Err(RunError::Usage(format!("Dagster Pipes: {error}"))),
            );
        }
    };
    if let Some(pipes) = &pipes {
        if let Err(error) = pipes.opened() {
            return finish(
                logger,
                Err(RunError::Usage(format!(
                    "Dagster Pipes: the messages cannot be written: {error}"
                ))),
            );
        }
    }
    let started = Instant::now();
    let environment = runtime.manifest.environment.as_ref();
    let mut results = RunResults::start(
        options.command.clone(),
        environment.map(|environment| environment.name.clone()),
        steps.as_ref().map_or(&[], |steps| steps),
    );
    let result = steps.and_then(|steps| runtime.run_steps(steps, options, &mut results.steps));
    let mut code = match &result {
        Ok(()) => RunExit::Success,
        Err(error) => {
            logger.event(Level::Error, "run_failed", &error.to_string(), &[]);
            failure_code(error)
        }
    };
    let error = result.err().map(|error| error.to_string());
    results.finish(started.elapsed(), i32::from(code.code()), error);
    if let Some(path) = results_path {
        if let Err(error) = results.write(path) {
            logger.event(
                Level::Error,
                "run_results",
                &format!(
                    "the run results cannot be written to `{}`: {error}",
                    path.display()
                ),
                &[],
            );
            if code == RunExit::Success {
                code = RunExit::Failed;
            }
            results.exit_code = i32::from(code.code());
            results.success = false;
        }
    }
    if let Some(pipes) = &pipes {
        // Once, after the run: the pipe never waits for a report.
        if let Err(error) = pipes.finish(&results) {
            logger.event(
                Level::Error,
                "dagster_pipes",
                &format!("the Dagster Pipes messages cannot be written: {error}"),
                &[],
            );
        }
    }
    let level = if results.success {
        Level::Info
    } else {
        Level::Error
    };
    let fields = serde_json::to_value(&results).unwrap_or_default();
    logger.event(
        level,
        "run_summary",
        &results.summary(),
        &[("results", fields)],
    );
    code.into()
}

/// The run-results file's folder must exist and the path must not be a folder.
fn check_results_path(path: &std::path::Path) -> Result<(), RunError> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => std::path::Path::new("."),
    };
    if !parent.is_dir() {
        return Err(RunError::Usage(format!(
            "--run-results `{}`: the folder `{}` does not exist",
            path.display(),
            parent.display()
        )));
    }
    if path.is_dir() {
        return Err(RunError::Usage(format!(
            "--run-results `{}` is a folder; give a file path",
            path.display()
        )));
    }
    Ok(())
}

fn run_options(args: &RunArgs, command: String) -> RunOptions {
    RunOptions {
        lease_wait: Duration::from_secs(args.lease_wait),
        command,
        full_refresh: args.full_refresh,
        state_id_suffix: args.state_id_suffix.clone(),
        no_state_update: args.no_state_update,
        dry_run: args.dry_run,
        refresh_catalog: args.refresh_catalog,
        strategy: args.state_strategy,
        deadline: args
            .timeout
            .map(|seconds| Instant::now() + Duration::from_secs(seconds)),
        ephemeral_job: None,
    }
}
