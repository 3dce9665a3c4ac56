//! Meltano's rules that build time and run time share: the compiler, the runtime and
//! `meltc plan` must agree on them, so each lives here once. This module depends on nothing
//! of meltc but the foundations (`diagnostics` for spans); `project`, `resolve`, `compile`,
//! the emitters and `runtime` build on it.
//!
//! - [`template`]: the `${VAR}` template of values and `env:` entries.
//! - [`python_json`]: JSON as Python's `json.dumps` writes it, and Python's truthiness.
//! - [`shell_words`]: command lines split as Python's `shlex.split` does.
//! - [`state_id`]: the name a job's bookmarks are stored under.

pub mod python_json;
pub mod shell_words;
pub mod state_id;
pub mod template;
