//! Loading a project: find the root, read meltano.yml and its included files with spans,
//! merge them the way Meltano does, and give typed views of plugins, jobs, schedules and
//! environments.

mod plugin_type;

pub use plugin_type::PluginType;
