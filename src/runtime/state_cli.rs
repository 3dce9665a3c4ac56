//! `meltc-run state …`: incremental state in the environment's backend, as `meltano state`, plus
//! meltc-run's own `history`, `rollback`, `copy`, `clear --stream` and `edit`
//! (README "State operations"). Data goes to stdout; what was done, to the log.
//!
//! Every command that writes takes the state ID's run lease first ([`commands::with_lease`]),
//! so it is refused (exit 75) while a run of that ID is going; reading never waits.

use std::time::Duration;

use clap::Subcommand;

use super::log::Level;
use super::run::{RunError, Runtime};
use super::state::edit::{self, Edited};
use super::state::lease::{Holder, rfc3339};
use super::state::{StateBackendSettings, StateError, StateResult, StateStore, commands};

/// `meltc-run state [--lease-wait SECONDS] COMMAND`.
#[derive(Debug, clap::Args)]
pub struct StateArgs {
    /// When a run (or another state command) holds the state ID, wait up to this long before
    /// giving up with exit 75 (commands that change state only).
    #[arg(
        long,
        env = "MELTC_RUN_LEASE_WAIT",
        value_name = "SECONDS",
        default_value_t = 0,
        global = true
    )]
    lease_wait: u64,
    #[command(subcommand)]
    command: StateCmd,
}

#[derive(Debug, Subcommand)]
enum StateCmd {
    /// State IDs, optionally matching a glob pattern.
    List {
        /// A pattern (`prod:*`).
        pattern: Option<String>,
    },
    /// The state of an ID (partial merged onto completed), compact JSON.
    Get {
        /// The state ID.
        id: String,
    },
    /// Replace the state of an ID (a JSON document with `singer_state`).
    Set {
        /// The state ID.
        id: String,
        /// The state.
        json: String,
    },
    /// Remove the state of an ID, or only the bookmarks of some streams.
    Clear {
        /// The state ID.
        id: String,
        /// Remove only this stream's bookmark and keep the others (repeatable).
        #[arg(long = "stream", value_name = "NAME")]
        streams: Vec<String>,
    },
    /// The current state and the last states it replaced, newest first.
    History {
        /// The state ID.
        id: String,
    },
    /// Put back a state from the history (the one the last run or command replaced, unless
    /// `--to` says which).
    Rollback {
        /// The state ID.
        id: String,
        /// The history entry (`state history` numbers them; 1 is the newest).
        #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
        to: u64,
    },
    /// Copy the state of an ID to another (a plugin or environment was renamed), keeping both.
    Copy {
        /// The state ID to copy from.
        from: String,
        /// The state ID to copy to.
        to: String,
    },
    /// Edit the state of an ID in `$VISUAL` or `$EDITOR`; it is validated before it is stored.
    Edit {
        /// The state ID.
        id: String,
    },
}

/// Run one `state` command.
///
/// # Errors
/// [`RunError::LeaseHeld`] when a run holds the state ID, [`RunError::State`] otherwise.
pub fn run(runtime: &Runtime<'_>, args: StateArgs) -> Result<(), RunError> {
    let store = open(runtime, args.lease_wait)?;
    let info = |event: &str, message: &str| runtime.logger.event(Level::Info, event, message, &[]);
    match args.command {
        StateCmd::List { pattern } => print_lines(commands::list(&store, pattern.as_deref())),
        StateCmd::Get { id } => print_lines(commands::get(&store, &id).map(|line| vec![line])),
        StateCmd::Set { id, json } => locked(&store, &id, "set", || {
            commands::set(&store, &id, &json, true)
        }),
        StateCmd::Clear { id, streams } if streams.is_empty() => {
            locked(&store, &id, "clear", || commands::clear(&store, &id))
        }
        StateCmd::Clear { id, streams } => {
            locked(&store, &id, "clear --stream", || {
                commands::clear_streams(&store, &id, &streams)
            })?;
            let names: Vec<String> = streams.iter().map(|name| format!("`{name}`")).collect();
            info(
                "state_streams_cleared",
                &format!(
                    "cleared the bookmark of {} in state `{id}`; the other streams keep theirs \
                     (`state rollback {id}` undoes this)",
                    names.join(", ")
                ),
            );
            Ok(())
        }
        StateCmd::History { id } => print_lines(commands::history(&store, &id)),
        StateCmd::Rollback { id, to } => {
            let to = usize::try_from(to).unwrap_or(usize::MAX);
            let entry = locked(&store, &id, "rollback", || {
                commands::rollback(&store, &id, to)
            })?;
            info(
                "state_rolled_back",
                &format!(
                    "state `{id}` is back to history entry {to} (kept when a `{}` replaced it at \
                     {}); the state it replaced is history entry 1 now",
                    entry.reason,
                    rfc3339(entry.saved_at)
                ),
            );
            Ok(())
        }
        StateCmd::Copy { from, to } => {
            locked(&store, &to, "copy", || commands::copy(&store, &from, &to))?;
            info(
                "state_copied",
                &format!("copied state `{from}` to `{to}`; `{from}` is unchanged"),
            );
            Ok(())
        }
        StateCmd::Edit { id } => {
            let message = match edit_state(runtime, &store, &id)? {
                Edited::Saved => format!(
                    "state `{id}` saved; the state before the edit is history entry 1 \
                     (`state rollback {id}` puts it back)"
                ),
                // Meltano's words (`cli/state.py` `edit_state`).
                Edited::Unchanged => "No changes detected".to_owned(),
                Edited::Emptied => "Empty content provided - no changes made".to_owned(),
            };
            info("state_edited", &message);
            Ok(())
        }
    }
}

/// The store the environment's settings name, waiting up to `lease_wait` seconds for a run.
fn open(runtime: &Runtime<'_>, lease_wait: u64) -> Result<StateStore, RunError> {
    let variables = runtime.project_variables();
    let mut settings = StateBackendSettings::from_meltano_env(&variables)
        .map_err(failed)?
        .ok_or_else(|| {
            RunError::State(format!(
                "the environment keeps state in `{}`, which meltc-run does not read; set \
                 MELTANO_STATE_BACKEND_URI",
                runtime.manifest.state.uri
            ))
        })?;
    settings.lease.wait = Duration::from_secs(lease_wait);
    StateStore::open(&settings, &variables).map_err(failed)
}

/// `operation` on `state_id` under its run lease, taken as `state WHAT`.
fn locked<T>(
    store: &StateStore,
    state_id: &str,
    what: &str,
    operation: impl FnOnce() -> StateResult<T>,
) -> Result<T, RunError> {
    let holder = Holder::this_process(format!("state {what}"));
    commands::with_lease(store, state_id, &holder, operation).map_err(failed)
}

/// `state edit` with `$VISUAL`, else `$EDITOR`, else `vi`.
fn edit_state(runtime: &Runtime<'_>, store: &StateStore, id: &str) -> Result<Edited, RunError> {
    let variable = |name: &str| runtime.process.get(name).map(String::as_str);
    let editor = edit::editor_command(variable("VISUAL"), variable("EDITOR"));
    edit::edit(store, id, &editor, &Holder::this_process("state edit")).map_err(failed)
}

#[allow(clippy::print_stdout, reason = "the state commands print their result")]
fn print_lines(lines: StateResult<Vec<String>>) -> Result<(), RunError> {
    for line in lines.map_err(failed)? {
        println!("{line}");
    }
    Ok(())
}

/// A held lease is its own error (exit 75); every other one is a state error.
fn failed(error: StateError) -> RunError {
    match error {
        StateError::LeaseHeld { .. } => RunError::LeaseHeld(error.to_string()),
        other => RunError::State(other.to_string()),
    }
}
