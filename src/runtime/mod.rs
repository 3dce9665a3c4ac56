//! `meltc-run`'s runtime: what runs inside the generated image in place of `meltano run`.
//!
//! So far one part: [`state`], Meltano-compatible incremental state in a local directory or
//! S3-compatible object storage. The runtime reads no project file: it gets plain values
//! (a backend URI, settings, a state ID) from the manifest `meltc build` writes.

pub mod state;
