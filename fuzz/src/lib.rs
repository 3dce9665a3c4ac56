//! The fuzz harness of meltc: what each target does with an input (`harness`) and where its
//! seed inputs come from (`seeds`). Both files are also compiled into the stable replay test
//! (tests/fuzz_replay.rs).

pub mod harness;
pub mod seeds;

pub use harness::{expand, project_load, select_match, state_document, validate};
