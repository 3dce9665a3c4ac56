//! YAML with a location on every node.
//!
//! `saphyr-parser` gives events with positions; [`parse`] builds a [`Node`] tree from them with
//! the semantics of Meltano's run time (ruamel.yaml round-trip loader, YAML 1.2 core schema):
//! `yes`/`no` stay strings, `017` is 17, duplicate keys are an error, anchors and `<<` merge
//! keys work. Plain scalars remember that they were plain so that checks can flag values
//! Meltano's two code paths read differently (ruamel.yaml in `core/yaml.py` at run time,
//! PyYAML's `SafeLoader` in `core/manifest/manifest.py` for `meltano compile`).

mod comment_overlap;
mod node;
mod parse;
mod reader;
mod scalar;
mod timestamp;

pub use node::{Mapping, Node, ScalarStyle, Value};
pub use parse::parse;
pub use scalar::{Ambiguity, ambiguity};
pub use timestamp::{Rendering, Timestamp, TimestampError};
