//! meltc compiles a Meltano project into deterministic deploy artifacts.
//!
//! The pipeline, one module per stage; a stage depends only on the stages before it:
//!
//! ```text
//! meltano.yml + include_paths ─ project (load, spans) ─ resolve (plugins, settings) ─┬─ validate ─> diagnostics
//!                                                                                    └─ resolve::config + shell ─> meltc config
//! ```
//!
//! Validation reads the resolved plugins (definitions, capabilities, secrets, commands); only
//! `meltc config` evaluates values, with the process environment and `.env` passed in.
//!
//! `diagnostics` and `yaml` are shared foundations; `cli` drives the stages.

// Unit tests may print (timings of ignored tests); the library itself writes through `cli`.
#![cfg_attr(test, allow(clippy::print_stdout, clippy::print_stderr))]

pub mod atomic_file;
pub mod cli;
pub mod compile;
pub mod cron;
pub mod diagnostics;
pub mod emit;
pub mod graph;
pub mod manifest;
pub mod meltano;
pub mod plan;
pub mod project;
pub mod resolve;
pub mod runtime;
pub mod validate;
pub mod yaml;
