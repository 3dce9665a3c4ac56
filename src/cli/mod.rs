//! The `meltc` command line: parse arguments, run a command, print, and map the result to an
//! exit code (in `exit`). Tests call [`run`] in-process with their own writers.

mod args;
mod build;
mod catalog;
mod config;
mod config_output;
mod diff;
mod exit;
mod explain;
mod graph;
mod init_ci;
mod lock;
mod lock_requirements;
mod one_environment;
mod open;
mod plan;
mod streams;
mod validate;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

pub use args::{Cli, Color, Command, ConfigFormat, DevCommand};
pub use exit::Outcome;

use crate::diagnostics::render::Style;

/// What a command needs from the outside world; real runs use the process's, tests their own.
pub struct Context<'a> {
    /// The working directory.
    pub cwd: PathBuf,
    /// `MELTANO_PROJECT_ROOT`.
    pub env_project_root: Option<PathBuf>,
    /// The process environment (read only by commands that show values: `meltc config`).
    pub env: BTreeMap<String, String>,
    /// Data output.
    pub stdout: &'a mut dyn Write,
    /// Messages and reports.
    pub stderr: &'a mut dyn Write,
    /// How reports look.
    pub style: Style,
}

/// Run meltc with the process's arguments, environment and streams.
#[must_use]
pub fn main() -> ExitCode {
    let cli = match parse(std::env::args_os()) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                Outcome::Failure.code()
            } else {
                0
            });
        }
    };
    let color = match cli.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
                && std::io::stderr().is_terminal()
        }
    };
    let width = terminal_width().unwrap_or(100);
    let (mut stdout, mut stderr) = (std::io::stdout().lock(), std::io::stderr().lock());
    let mut context = Context {
        cwd: std::env::current_dir().unwrap_or_default(),
        env_project_root: std::env::var_os("MELTANO_PROJECT_ROOT")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
        env: std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .collect(),
        stdout: &mut stdout,
        stderr: &mut stderr,
        style: Style { color, width },
    };
    run(cli, &mut context).into()
}

/// Parse `args` and run; for tests.
///
/// # Errors
/// The clap error when the arguments do not parse.
pub fn run_args<I, T>(args: I, context: &mut Context<'_>) -> Result<Outcome, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    Ok(run(parse(args)?, context))
}

/// Parse arguments; `--version` also names the bundled hub snapshot.
fn parse<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    use clap::{CommandFactory, FromArgMatches};
    let hub = crate::resolve::hub::HubIndex::bundled();
    // clap keeps version strings for the life of the program; this one is built once per run.
    let version: &'static str = Box::leak(
        format!(
            "{} (hub index {} from {})",
            env!("CARGO_PKG_VERSION"),
            hub.date(),
            hub.source()
        )
        .into_boxed_str(),
    );
    let matches = Cli::command().version(version).try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

/// Run a parsed command line.
pub fn run(cli: Cli, context: &mut Context<'_>) -> Outcome {
    match cli.command {
        Command::Validate(args) => validate::run(cli.project_root.as_deref(), &args, context),
        Command::Build(args) => build::run(cli.project_root.as_deref(), &args, context),
        Command::Diff(args) => diff::run(cli.project_root.as_deref(), &args, context),
        Command::Lock(args) if args.requirements => {
            lock_requirements::run(cli.project_root.as_deref(), &args, context)
        }
        Command::Lock(args) => lock::run(cli.project_root.as_deref(), &args, context),
        Command::InitCi(args) => init_ci::run(cli.project_root.as_deref(), &args, context),
        Command::Graph(args) => graph::run(cli.project_root.as_deref(), &args, context),
        Command::Plan(args) => plan::run(cli.project_root.as_deref(), &args, context),
        Command::Catalog(args) => catalog::run(cli.project_root.as_deref(), &args, context),
        Command::Completions { shell } => completions(shell, context),
        Command::Man => man_page(context),
        Command::Explain(args) => explain::run(&args, context),
        Command::Config(args) => config::run(cli.project_root.as_deref(), &args, context),
        Command::Dev(DevCommand::ImportHub { hub, out }) => import_hub(&hub, &out, context),
        Command::Dev(DevCommand::PlanSchema { out }) => {
            match fs_err::write(&out, crate::plan::schema_json()) {
                Ok(()) => Outcome::Clean,
                Err(error) => {
                    let _ = writeln!(context.stderr, "error: {error}");
                    Outcome::Failure
                }
            }
        }
        Command::Dev(DevCommand::ManifestSchema { out }) => {
            write_schema(&out, &crate::manifest::schema_json(), context)
        }
        Command::Dev(DevCommand::RunResultsSchema { out }) => {
            write_schema(&out, &crate::runtime::run_results::schema_json(), context)
        }
        Command::Dev(DevCommand::BenchResolve { runs }) => {
            bench_resolve(cli.project_root.as_deref(), runs, context)
        }
    }
}

/// `meltc dev manifest-schema` and `meltc dev run-results-schema`.
fn write_schema(out: &std::path::Path, schema: &str, context: &mut Context<'_>) -> Outcome {
    match fs_err::write(out, schema) {
        Ok(()) => Outcome::Clean,
        Err(error) => {
            let _ = writeln!(context.stderr, "error: {error}");
            Outcome::Failure
        }
    }
}

fn completions(shell: clap_complete::Shell, context: &mut Context<'_>) -> Outcome {
    use clap::CommandFactory;
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "meltc", context.stdout);
    Outcome::Clean
}

fn man_page(context: &mut Context<'_>) -> Outcome {
    use clap::CommandFactory;
    match clap_mangen::Man::new(Cli::command()).render(context.stdout) {
        Ok(()) => Outcome::Clean,
        Err(_) => Outcome::Failure,
    }
}

fn import_hub(hub: &std::path::Path, out: &std::path::Path, context: &mut Context<'_>) -> Outcome {
    match crate::resolve::hub::import::write_index(hub, out) {
        Ok(imported) => {
            let _ = writeln!(
                context.stderr,
                "wrote the hub index ({} plugins, {} variants) from `{}` to `{}`",
                imported.plugins,
                imported.variants,
                hub.display(),
                out.display()
            );
            Outcome::Clean
        }
        Err(error) => {
            let _ = writeln!(
                context.stderr,
                "error: cannot import the hub index: {error}"
            );
            Outcome::Failure
        }
    }
}

/// Load the project once, then time `resolve::resolve` over `runs` runs.
fn bench_resolve(
    project_root: Option<&std::path::Path>,
    runs: u32,
    context: &mut Context<'_>,
) -> Outcome {
    let open::Opened::Project(project, ..) = open::open(project_root, context) else {
        let _ = writeln!(context.stderr, "error: cannot load the project");
        return Outcome::Failure;
    };
    let mut times = Vec::new();
    let mut plugins = 0;
    for _ in 0..runs.max(1) {
        let start = std::time::Instant::now();
        let resolved = crate::resolve::resolve(&project);
        times.push(start.elapsed());
        plugins = resolved.plugins.len();
    }
    times.sort();
    let mean = times.iter().sum::<std::time::Duration>() / u32::try_from(times.len()).unwrap_or(1);
    let _ = writeln!(
        context.stdout,
        "resolve: {plugins} plugins, mean {:.2} ms, min {:.2} ms, max {:.2} ms over {} runs",
        mean.as_secs_f64() * 1000.0,
        times[0].as_secs_f64() * 1000.0,
        times[times.len() - 1].as_secs_f64() * 1000.0,
        times.len()
    );
    Outcome::Clean
}

fn terminal_width() -> Option<usize> {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|columns| columns.parse().ok())
        .filter(|width| *width >= 40)
}
