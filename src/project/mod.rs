//! Loading a project: find the root, read meltano.yml and its included files with spans,
//! merge them the way Meltano does, and give typed views of plugins, jobs, schedules and
//! environments.
//!
//! 1. [`find_root`]: `--project-root`, `MELTANO_PROJECT_ROOT`, or the first folder upward
//!    holding a meltano.yml.
//! 2. [`load`]: read meltano.yml (YAML 1.2, spans kept), expand `include_paths`, read each
//!    included file, and deep-merge them into one document.
//! 3. [`model`]: borrow typed views (plugins, jobs, schedules, environments) from a document.
//!
//! This stage never stops at the first problem and never guesses: ill-shaped values are left
//! for the schema check to report.

mod discover;
mod include;
mod load;
mod merge;
pub mod model;
mod read;

pub use discover::{DiscoverError, PROJECT_FILE, find_root};
pub use include::slash_path;
pub use load::{Loaded, Project, ProjectFile, load};
pub use read::{read_file, read_text, refuse_special};
