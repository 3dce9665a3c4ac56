//! Meltano's rules that build time and run time share: the compiler, the runtime and
//! `meltc plan` must agree on them, so each lives here once. This module depends on nothing
//! of meltc but the foundations (`diagnostics` for spans); `project`, `resolve`, `compile`,
//! the emitters and `runtime` build on it.
//!
//! - [`template`]: the `${VAR}` template of values and `env:` entries.
//! - [`python_json`]: JSON as Python's `json.dumps` writes it, and Python's truthiness.
//! - [`shell_words`]: command lines split as Python's `shlex.split` does.
//! - [`plugin_type`], [`plugin_class`]: the plugin types, and the class Meltano instantiates.
//! - [`plugin_lookup`]: a plugin name looked up as Meltano does (mappings included).
//! - [`setting_kind`], [`setting`], [`env_var`], [`cast`]: a plugin's settings, their kinds,
//!   the env var names each is read from and written to, and casting a value to its kind.
//! - [`env_layers`]: the one layering of the variables a plugin sees; [`setting_value`]: a
//!   setting's value with its source, and the one env-var lookup; [`plugin_config`]: the
//!   configuration object a plugin is handed.
//! - [`state_id`]: the name a job's bookmarks are stored under.

pub mod cast;
pub mod env_layers;
pub mod env_var;
pub mod plugin_class;
pub mod plugin_config;
pub mod plugin_lookup;
pub mod plugin_type;
pub mod python_json;
pub mod setting;
pub mod setting_kind;
pub mod setting_value;
pub mod shell_words;
pub mod state_id;
pub mod template;

pub use plugin_class::PluginClass;
pub use plugin_type::PluginType;
pub use setting::Setting;
pub use setting_kind::SettingKind;
