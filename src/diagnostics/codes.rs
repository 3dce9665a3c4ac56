//! Every diagnostic code meltc can report, in one table.
//!
//! A code is part of meltc's interface: CI scripts filter on it and `meltc explain` looks it
//! up, so a code is never renamed or reused. Each entry says its default severity and a
//! one-line summary; the golden suite has a case for every code (tests check that).

use super::Severity;

/// A stable diagnostic identifier.
#[derive(Debug, PartialEq, Eq)]
pub struct Code {
    /// `meltc::<area>::<what>`.
    pub name: &'static str,
    /// The severity it is reported with.
    pub severity: Severity,
    /// What it means, in one line.
    pub summary: &'static str,
}

macro_rules! codes {
    ($($ident:ident = $name:literal, $severity:ident, $summary:literal;)*) => {
        $(
            #[doc = $summary]
            pub static $ident: Code = Code { name: $name, severity: Severity::$severity, summary: $summary };
        )*
        /// Every code, in declaration order.
        pub static ALL: &[&Code] = &[$(&$ident),*];
    };
}

codes! {
    IO = "meltc::io", Error, "a file or folder could not be read";
    PROJECT_NOT_FOUND = "meltc::project::not-found", Error, "no meltano.yml in the given folder or its parents";
    PROJECT_EMPTY = "meltc::project::empty", Error, "meltano.yml is empty, which Meltano rejects";
    YAML_SYNTAX = "meltc::yaml::syntax", Error, "the file is not valid YAML";
    YAML_DUPLICATE_KEY = "meltc::yaml::duplicate-key", Error, "a mapping has the same key twice, which Meltano rejects";
    YAML_MULTIPLE_DOCUMENTS = "meltc::yaml::multiple-documents", Error, "the file holds more than one YAML document";
    YAML_UNSUPPORTED = "meltc::yaml::unsupported", Error, "a YAML feature Meltano cannot load (unknown tag, complex key, alias bomb)";
    YAML_NOT_UTF8 = "meltc::yaml::not-utf8", Error, "the file is not UTF-8 text";
    YAML_AMBIGUOUS_BOOL = "meltc::yaml::ambiguous-bool", Warning, "an unquoted yes/no/on/off: a string at run time, a boolean in `meltano compile`";
    YAML_AMBIGUOUS_NUMBER = "meltc::yaml::ambiguous-number", Warning, "an unquoted number that YAML 1.1 and 1.2 read differently (017, 0o17, 1:30)";
    YAML_UNQUOTED_DATE = "meltc::yaml::unquoted-date", Warning, "an unquoted date or timestamp, turned into an ISO string by Meltano's run time";
    YAML_IMPOSSIBLE_DATE = "meltc::yaml::impossible-date", Error, "an unquoted date or timestamp that cannot exist (`2024-02-30`, hour 24); Meltano fails to load the project";
    ENV_NOT_TEXT = "meltc::env::not-text", Error, "a plugin's or an environment's `env:` value is an unquoted number, boolean or date; `meltano run` stops with a TypeError";
    INCLUDE_OUTSIDE_ROOT = "meltc::include::outside-root", Error, "an include_paths match resolves outside the project root";
    INCLUDE_NOT_A_FILE = "meltc::include::not-a-file", Error, "an include_paths match is not a regular file";
    INCLUDE_BAD_PATTERN = "meltc::include::bad-pattern", Error, "an include_paths pattern is absolute or not a valid glob";
    INCLUDE_NO_MATCH = "meltc::include::no-match", Warning, "an include_paths pattern matches no file";
    INCLUDE_EMPTY = "meltc::include::empty", Error, "an included file is empty (Meltano crashes merging it)";
    INCLUDE_TYPE_CONFLICT = "meltc::include::type-conflict", Error, "an included file gives a key another kind of value than an earlier file (Meltano crashes, or drops the earlier value)";
    SCHEMA = "meltc::schema", Error, "the document does not match meltc's JSON Schema for meltano.yml";
    KEY_UNKNOWN = "meltc::key::unknown", Warning, "a key Meltano does not know; it is kept as an unused setting or extra";
    KEY_IGNORED = "meltc::key::ignored", Warning, "a key Meltano ignores: `version` other than 1, a schedule's `start_date`, legacy keys beside a schedule's `job`";
    VALUE_NULL = "meltc::value::null", Warning, "a key with no value where Meltano's schema wants one; Meltano reads it as unset";
    VALUE_TYPE = "meltc::value::type", Warning, "a value of a type Meltano's schema rejects, which its run time converts or ignores";
    DUPLICATE_PLUGIN = "meltc::name::duplicate-plugin", Error, "two plugins of one type share a name; Meltano keeps only one";
    DUPLICATE_JOB = "meltc::name::duplicate-job", Error, "two jobs share a name; Meltano keeps only one";
    DUPLICATE_SCHEDULE = "meltc::name::duplicate-schedule", Error, "two schedules share a name; Meltano keeps only one";
    DUPLICATE_ENVIRONMENT = "meltc::name::duplicate-environment", Error, "two environments share a name; Meltano keeps only one";
    UNKNOWN_PLUGIN = "meltc::ref::unknown-plugin", Error, "a job task names no plugin, mapping or job";
    UNKNOWN_JOB = "meltc::ref::unknown-job", Error, "a schedule names a job that does not exist";
    UNKNOWN_ENVIRONMENT = "meltc::ref::unknown-environment", Error, "`default_environment` names an environment that does not exist";
    UNKNOWN_ENVIRONMENT_ARGUMENT = "meltc::usage::unknown-environment", Error, "`--env` names an environment that does not exist";
    UNKNOWN_PLUGIN_ARGUMENT = "meltc::usage::unknown-plugin", Error, "the plugin named on the command line does not exist";
    ENVIRONMENT_UNKNOWN_PLUGIN = "meltc::ref::environment-plugin", Warning, "an environment configures a plugin the project does not define; Meltano ignores it";
    INHERIT_UNKNOWN = "meltc::inherit::unknown-parent", Error, "inherit_from names no plugin of the same type, lock file or hub plugin";
    INHERIT_CYCLE = "meltc::inherit::cycle", Error, "inherit_from forms a cycle (Meltano crashes with RecursionError)";
    TASK_STRING = "meltc::job::string-tasks", Error, "a job's tasks is a string; Meltano iterates it character by character and fails";
    TASK_EMPTY = "meltc::job::empty-task", Error, "a job has an empty task or block name";
    TASK_SEQUENCE = "meltc::job::block-sequence", Error, "a job's blocks do not form extractor → mappings → loader sets";
    TASK_NESTED_JOB = "meltc::job::nested-job", Error, "a job lists another job; Meltano expands jobs one level only";
    TASK_MAPPER_NAME = "meltc::job::mapper-name", Error, "a job names a mapper plugin instead of one of its mappings";
    TASK_NOT_INVOKABLE = "meltc::job::not-invokable", Error, "a job task names a plugin Meltano cannot run: a legacy `transforms:` dbt package or a `files:` bundle";
    MAPPING_SHADOWED = "meltc::mapping::shadowed", Error, "a mapping and a plugin answer to one name, and Meltano always finds the one listed first";
    MAPPING_AMBIGUOUS = "meltc::mapping::ambiguous", Error, "two mappings share a name; Meltano refuses every use of it";
    TASK_UNKNOWN_COMMAND = "meltc::job::unknown-command", Error, "a `plugin:command` task names a command the plugin does not define";
    SCHEDULE_CRON = "meltc::schedule::invalid-cron", Error, "a schedule interval is not a valid cron expression";
    SCHEDULE_LEGACY = "meltc::schedule::legacy", Warning, "an extractor/loader schedule (pre-jobs); meltc runs it as a job with the schedule name as state ID";
    SCHEDULE_UNKNOWN_PLUGIN = "meltc::schedule::unknown-plugin", Error, "a legacy schedule names an extractor or loader that does not exist";
    PLUGIN_LEGACY_TYPE = "meltc::plugin::legacy-type", Warning, "a plugin of a type Meltano keeps only for old projects";
    PLUGIN_LEGACY_FILES = "meltc::plugin::legacy-files", Warning, "a files bundle from before 2022 (`files: dbt`); it only scaffolds files and is never installed";
    PLUGIN_UNRESOLVED = "meltc::plugin::unresolved", Warning, "a plugin that is not custom, not in the bundled hub index and has no lock file";
    PLUGIN_UNRESOLVED_USED = "meltc::plugin::unresolved-used", Error, "a job or schedule uses a plugin meltc cannot resolve";
    PLUGIN_LOCAL_PATH = "meltc::plugin::local-path", Warning, "a plugin installs from a path the image cannot carry (outside the project, absolute, missing, or not a Python project); it is left out of the image";
    PLUGIN_LOCAL_PATH_USED = "meltc::plugin::local-path-used", Error, "a job or schedule runs a plugin that installs from a path the image cannot carry (outside the project, absolute, missing, or not a Python project)";
    PLUGIN_UNKNOWN_VARIANT = "meltc::plugin::unknown-variant", Error, "a plugin names a variant that neither the hub index nor a lock file has";
    PLUGIN_LOCK_ONLY_VARIANT = "meltc::plugin::lock-only-variant", Warning, "a variant the bundled hub index does not have (or spells differently); only its lock file defines it";
    PLUGIN_VARIANT_ALIAS = "meltc::plugin::variant-alias", Warning, "`variant: original` or `default` follows whatever the hub's default is; pin the real variant";
    PLUGIN_CAPABILITY = "meltc::plugin::capability", Warning, "a capability that is not one of the plugin type's (copied from another plugin, or a typo); Meltano never uses it";
    PLUGIN_LOG_PARSER = "meltc::plugin::log-parser", Warning, "a `log_parser` Meltano does not have; the plugin's log lines stay plain text";
    PLUGIN_LOCK_INVALID = "meltc::plugin::invalid-lock", Error, "a plugin lock file is not the JSON Meltano writes";
    LOCK_UNKNOWN_PLUGIN = "meltc::lock::unknown-plugin", Error, "`meltc lock` names a plugin the project does not have (Meltano ignores such a name)";
    LOCK_NO_PLUGINS = "meltc::lock::no-plugins", Error, "`meltc lock --plugin-type T` finds no plugin of that type in the project";
    LOCK_NOT_ON_HUB = "meltc::lock::not-on-hub", Error, "a plugin to lock is neither in the bundled hub index nor defined by a lock file";
    LOCK_UNPINNED_VARIANT = "meltc::lock::unpinned-variant", Warning, "a lock file written for a plugin without a pinned `variant:`; Meltano looks for `<name>--default.lock` instead and asks the Hub";
    CONFIG_SEVERAL_ENV_VARS = "meltc::config::several-env-vars", Error, "a setting is set by more than one of the environment variables it is read from (Meltano refuses this)";
    CONFIG_INVALID_VALUE = "meltc::config::invalid-value", Error, "a setting's value does not fit its kind or options, or it is written under two names with different values";
    SETTING_LITERAL_SECRET = "meltc::setting::literal-secret", Warning, "a secret setting has a literal value in a committed file; use a `${VAR}` reference";
    ENV_LITERAL_SECRET = "meltc::env::literal-secret", Warning, "an `env:` block gives a secret variable a literal value in a committed file; set the variable outside meltano.yml";
    STATE_EPHEMERAL = "meltc::state::ephemeral", Warning, "an incremental job keeps its state where a pod loses it (system database on SQLite)";
    STATE_UNKNOWN_SCHEME = "meltc::state::unknown-scheme", Error, "the state backend URI has a scheme no Meltano backend provides";
    BUILD_STATE_LOST = "meltc::build::state-lost", Error, "a scheduled incremental job would keep its state where meltc-run in a pod loses it (`meltc build` refuses unless `--allow-ephemeral-state`)";
    BUILD_LEGACY_SCHEDULE_NAME = "meltc::build::legacy-schedule-name", Error, "a legacy extractor/loader schedule has the name of a job; the job meltc makes from it needs that name";
    BUILD_CRON_UNSUPPORTED = "meltc::build::cron-unsupported", Error, "the orchestrator that owns the schedules cannot run a schedule's cron expression (`L`, `#` or seconds on Kubernetes; seconds on Dagster)";
}

/// Look a code up by name.
#[must_use]
pub fn find(name: &str) -> Option<&'static Code> {
    ALL.iter().copied().find(|code| code.name == name)
}

#[cfg(test)]
mod tests {
    use super::ALL;

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut names: Vec<_> = ALL.iter().map(|code| code.name).collect();
        names.sort_unstable();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count, "duplicate code names");
        for name in names {
            assert!(name.starts_with("meltc::"), "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == ':' || c == '-'),
                "{name}"
            );
        }
    }
}
