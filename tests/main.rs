//! The one integration-test binary (one link step on a 2-core machine).

// Test code may unwrap and print: a failure there is a failed test, not a user-facing panic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod architecture;
mod bad_input;
mod build;
mod canary;
mod catalog_meltano;
mod catalog_pinned;
mod cli;
mod compile_meltano;
mod config_meltano;
mod cron_croniter;
mod dagster_pipes;
mod deploy;
mod deploy_bench;
mod emit;
mod explain;
mod fuzz_replay;
mod golden;
mod graph;
mod image_local_plugins;
mod init_ci;
mod interrupted_build;
mod lock;
mod mapping_meltano;
mod meltano_lint;
mod pipe;
mod plan;
mod precommit;
mod properties;
mod runtime_e2e;
mod runtime_faults;
mod runtime_run;
mod runtime_secrets;
mod runtime_settings;
mod shared_corpus;
mod state;
mod state_commands;
mod support;
mod timestamps_meltano;
mod yaml_meltano;
