//! Meltano's rules that build time and run time share (DESIGN.md, "Layout"): the compiler, the
//! runtime and `meltc plan` must agree on them, so each lives here once.
//!
//! - [`state_id`]: the name a job's bookmarks are stored under.

pub mod state_id;
