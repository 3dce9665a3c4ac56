//! The `meltc` command line: parse arguments, run a command, print, and map the result to an
//! exit code (in `exit`). Tests call [`run`] in-process with their own writers.

mod args;
mod exit;
mod validate;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

pub use args::{Cli, Color, Command};
pub use exit::Outcome;

use crate::diagnostics::render::Style;

/// What a command needs from the outside world; real runs use the process's, tests their own.
pub struct Context<'a> {
    /// The working directory.
    pub cwd: PathBuf,
    /// `MELTANO_PROJECT_ROOT`.
    pub env_project_root: Option<PathBuf>,
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
    let cli = match Cli::try_parse_from(std::env::args_os()) {
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
    Ok(run(Cli::try_parse_from(args)?, context))
}

/// Run a parsed command line.
pub fn run(cli: Cli, context: &mut Context<'_>) -> Outcome {
    match cli.command {
        Command::Validate(args) => validate::run(cli.project_root.as_deref(), &args, context),
    }
}

fn terminal_width() -> Option<usize> {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|columns| columns.parse().ok())
        .filter(|width| *width >= 40)
}
