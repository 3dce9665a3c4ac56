//! `meltc-run`'s runtime: what runs inside the generated image in place of `meltano run`. It
//! reads the manifest `meltc build` writes and nothing else.
//!
//! - [`settings`]: a plugin's variables and configuration at run time;
//! - [`state`]: Meltano-compatible incremental state in a local directory or S3-compatible
//!   object storage (Garage).

pub mod settings;
pub mod state;
