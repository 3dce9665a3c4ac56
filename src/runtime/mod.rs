//! `meltc-run`'s runtime: what runs inside the generated image in place of `meltano run`. It
//! reads the manifest `meltc build` writes and nothing else.
//!
//! - [`prepare`]: a plugin's variables and configuration at run time;
//! - [`state`]: Meltano-compatible incremental state in a local directory or S3-compatible
//!   object storage (Garage); [`state_cli`]: the `meltc-run state` commands;
//! - [`catalog`]: Singer catalog selection (`select`, `metadata`, `schema`, `select_filter`),
//!   as Meltano applies it before a tap runs;
//! - [`catalog_cache`]: Meltano's discovered-catalog cache in `.meltano/run/<tap>/`;
//! - [`pinned_catalog`]: the catalogs `meltc catalog` stores in the project's `catalogs/`;
//! - [`pipe`]: `tap | [mapper…] | target` as child processes, with the target's state lines
//!   handed to the caller as they arrive;
//! - [`run_results`]: what a run did per step and stream (the `--run-results` file and the
//!   closing summary line);
//! - [`required`]: the secrets a run cannot start without;
//! - [`config_file`]: the private directory of per-plugin config, catalog and state files;
//! - [`interrupt`]: SIGTERM/SIGINT caught and handed to the running pipeline;
//! - [`log`]: how the children's stderr and the runtime's own lines are written;
//! - [`dev`]: `meltc-run dev-pipe`, the pipe from the command line (benchmark and tests).

pub mod catalog;
pub mod catalog_cache;
pub mod cli;
pub mod config_file;
pub mod dev;
pub mod exit;
pub mod interrupt;
pub mod log;
pub mod pinned_catalog;
pub mod pipe;
pub mod pipes;
pub mod prepare;
pub mod required;
pub mod run;
pub mod run_results;
pub mod state;
pub mod state_cli;
