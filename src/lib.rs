//! meltc compiles a Meltano project into deterministic deploy artifacts, and ships
//! `meltc-run`, the runtime in the image.
//!
//! The pipeline, one module per stage; a stage depends only on the stages before it and on the
//! layers below (tests/architecture.rs keeps it so):
//!
//! ```text
//! build time (meltc):
//!   meltano.yml + include_paths
//!     ─ project (load, spans)
//!     ─ resolve (definitions, settings)      ─┬─ validate ─> diagnostics
//!                                             ├─ resolve::config + shell ─> meltc config
//!     ─ compile (one environment)            ─┴─> manifest::Manifest
//!     ─ emit (Dockerfile, Kubernetes, Dagster, manifest.json) ─> files
//! run time (meltc-run, in the image):
//!   manifest.json ─ runtime (settings, catalog, state, pipe) ─> the plugins
//!
//! below every stage:  meltano   Meltano's rules build time and run time share
//!                     manifest  the contract between them
//!                     diagnostics, yaml, cron, atomic_file   foundations
//! ```
//!
//! Validation reads the resolved plugins (definitions, capabilities, secrets, commands); only
//! `meltc config` (on the build machine) and `runtime` (in the pod) evaluate values, each with
//! its own process environment, through the same rules in `meltano`. `cli` drives the stages;
//! `graph` and `plan` read manifests and artifacts.

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
