//! The runtime in the image (`meltc-run`): reads the manifest and nothing else.

pub mod settings;
