//! Locking: the lock file each plugin of a project gets from the bundled hub index, and writing
//! it (Meltano's `PluginLockService` in `core/plugin_lock_service.py`, `meltano lock` in
//! `cli/lock.py`).
//!
//! 1. [`plan`]: whether a plugin is locked at all, which hub variant, which file, and the exact
//!    bytes Meltano writes there ([`lockfile::render`]).
//! 2. [`apply`]: compare with the file on disk and write it when it is new or, with `update`,
//!    when the definition changed; atomically ([`lockfile::write_text`]).
//!
//! What is locked, and under which name:
//! - A custom plugin (`namespace` without `inherit_from`) is its own definition: nothing.
//! - A plugin inheriting from a plugin of the project uses that plugin's definition: nothing.
//! - A plugin inheriting from a Hub plugin (the parent is not in the project, or `variant:` is
//!   set) reads `<inherit_from>--<variant>.lock` at run time, which `meltano lock` never writes;
//!   meltc writes it.
//! - Every other plugin: `<name>--<variant>.lock`, with the variant as the Hub spells it, which
//!   is also what `meltano lock` writes when `variant:` is missing, `default` or `original`
//!   (`PluginLockService.save_definition` names the file after the variant it found). Meltano's
//!   run time, though, looks for `<name>--default.lock` (`--original.lock`) for such a plugin and
//!   goes to the Hub when it is missing, so that lock file is read by meltc only:
//!   [`Locked::pinned`] is false and the command says how to pin the variant.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::hub::{HubIndex, VariantMatch};
use super::lockfile::{self, WriteError};
use crate::meltano::PluginType;
use crate::project::model::Plugin;

/// What locking one plugin means.
#[derive(Debug)]
pub enum Plan<'a> {
    /// `namespace` without `inherit_from`: the entry is the definition.
    Custom,
    /// A `files` bundle from before 2022 (`files: dbt`), which no hub serves any more and
    /// which only `meltano add` ever used.
    LegacyFilesBundle,
    /// `inherit_from` a plugin of the project, whose lock file it uses.
    InheritsProjectPlugin(&'a str),
    /// The lock file to write.
    Lock(Box<Locked>),
    /// The hub index cannot give the definition.
    Unavailable {
        /// Why.
        reason: Unavailable,
        /// The lock file that defines the plugin today, if there is one.
        existing: Option<PathBuf>,
    },
}

/// A lock file and its content, from the hub index.
#[derive(Debug)]
pub struct Locked {
    /// The plugin name in the file (`inherit_from` for an inheriting plugin).
    pub name: String,
    /// The variant as the Hub spells it.
    pub variant: String,
    /// `plugins/<type>/<name>--<variant>.lock` under the project root.
    pub path: PathBuf,
    /// The bytes Meltano writes.
    pub text: String,
    /// Whether Meltano reads this file at run time: the project names exactly this variant.
    pub pinned: bool,
}

/// Why the hub index cannot give a plugin's definition.
#[derive(Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// No hub plugin of this type and name.
    NotOnHub,
    /// No `variant:` (or `default`/`original`) and the hub names no default.
    NoDefaultVariant(Vec<&'static str>),
    /// The hub has no such variant (its variants).
    UnknownVariant(Vec<&'static str>),
    /// The hub has the variant in another case (its spelling). Meltano's Hub lookup is exact.
    VariantCase(&'static str),
    /// The bundled data is broken (a meltc bug).
    Broken(String),
}

/// What [`apply`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// There was no file: written.
    Created,
    /// The definition changed and `update` was given: rewritten.
    Updated,
    /// The file holds these bytes already.
    Unchanged,
    /// The file holds the same definition written differently (key order, escapes, no final
    /// newline from Meltano before 3.6): left as it is, also with `update`.
    SameDefinition,
    /// The definition differs and `update` was not given: left as it is.
    Differs,
    /// The file there is not a JSON object (truncated, not JSON) and `update` was not given:
    /// left as it is, and an error, since neither tool can use it.
    Unreadable,
}

/// An existing lock file that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read `{}`: {source}", path.display())]
pub struct ReadError {
    /// The lock file.
    pub path: PathBuf,
    /// What failed.
    pub source: std::io::Error,
}

/// Why [`apply`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Reading the file there.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// Writing it.
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// What locking `plugin` of the project at `root` means. `is_project_plugin` says whether the
/// project has a plugin of a type and name (an `inherit_from` parent).
#[must_use]
pub fn plan<'a>(
    root: &Path,
    plugin: &Plugin<'a>,
    is_project_plugin: impl Fn(PluginType, &str) -> bool,
) -> Plan<'a> {
    if plugin.is_custom() {
        return Plan::Custom;
    }
    let written = plugin.variant();
    if let Some(parent) = plugin.inherit_from() {
        // Meltano's order (`ProjectPluginsService.find_parent`): a project parent only when
        // `variant` is not set.
        if written.is_none() && is_project_plugin(plugin.plugin_type, parent) {
            return Plan::InheritsProjectPlugin(parent);
        }
    }
    let name = plugin.inherit_from().unwrap_or(plugin.name());
    let unavailable = |reason| Plan::Unavailable {
        reason,
        existing: existing_lock(root, plugin.plugin_type, name, written),
    };
    let Some(hub) = HubIndex::bundled().plugin(plugin.plugin_type, name) else {
        let legacy = plugin.plugin_type == PluginType::Files && !name.starts_with("files-");
        return match unavailable(Unavailable::NotOnHub) {
            Plan::Unavailable { existing: None, .. } if legacy => Plan::LegacyFilesBundle,
            plan => plan,
        };
    };
    let Some(found) = hub.variant(written) else {
        let variants = hub.variants().collect();
        return unavailable(match written {
            None | Some("default" | "original") => Unavailable::NoDefaultVariant(variants),
            Some(_) => Unavailable::UnknownVariant(variants),
        });
    };
    if found.matched() == VariantMatch::CaseInsensitive {
        return unavailable(Unavailable::VariantCase(found.name()));
    }
    let definition = match found.definition() {
        Ok(definition) => definition,
        Err(error) => return unavailable(Unavailable::Broken(error.to_string())),
    };
    Plan::Lock(Box::new(Locked {
        name: name.to_owned(),
        variant: found.name().to_owned(),
        path: lockfile::path(root, plugin.plugin_type, name, Some(found.name())),
        text: lockfile::render(&definition),
        pinned: found.matched() == VariantMatch::Exact,
    }))
}

/// The lock file meltc reads for `name` and the variant as written (`validate`'s order), when
/// one exists: the exact variant; without one, Meltano's `--default` name, then the bare name.
fn existing_lock(
    root: &Path,
    plugin_type: PluginType,
    name: &str,
    written: Option<&str>,
) -> Option<PathBuf> {
    let candidates = match written {
        Some(variant) => vec![lockfile::path(root, plugin_type, name, Some(variant))],
        None => vec![
            lockfile::path(root, plugin_type, name, Some("default")),
            lockfile::path(root, plugin_type, name, None),
        ],
    };
    candidates.into_iter().find(|path| path.is_file())
}

/// Bring the file at `locked.path` in line with `locked.text`: write it when it is missing, or
/// when `update` is given and the definition differs.
///
/// # Errors
/// When the existing file cannot be read or the new one cannot be written.
#[allow(
    clippy::disallowed_methods,
    reason = "ReadError and WriteError carry the path already"
)]
pub fn apply(locked: &Locked, update: bool) -> Result<Change, ApplyError> {
    let current = match crate::project::refuse_special(&locked.path)
        .and_then(|()| std::fs::read(&locked.path))
    {
        Ok(bytes) => Some(bytes),
        Err(error) if error.kind() == ErrorKind::NotFound => None,
        Err(source) => {
            return Err(ReadError {
                path: locked.path.clone(),
                source,
            }
            .into());
        }
    };
    let change = match current {
        None => Change::Created,
        Some(bytes) if bytes == locked.text.as_bytes() => return Ok(Change::Unchanged),
        Some(bytes) if same_definition(&bytes, &locked.text) => {
            return Ok(Change::SameDefinition);
        }
        Some(_) if update => Change::Updated,
        Some(bytes)
            if serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&bytes)
                .is_err() =>
        {
            return Ok(Change::Unreadable);
        }
        Some(_) => return Ok(Change::Differs),
    };
    lockfile::write_text(&locked.path, &locked.text)?;
    Ok(change)
}

/// Whether `bytes` is JSON equal to `text` (object keys in any order).
fn same_definition(bytes: &[u8], text: &str) -> bool {
    let parse = |bytes: &[u8]| serde_json::from_slice::<serde_json::Value>(bytes).ok();
    match (parse(bytes), parse(text.as_bytes())) {
        (Some(current), Some(new)) => current == new,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::{FileId, SourceFile};

    /// Plan every plugin of `yaml` in a project at `root`.
    fn plans(root: &Path, yaml: &str) -> Vec<(String, String)> {
        let source = SourceFile::new("meltano.yml", "meltano.yml", yaml);
        let document = crate::yaml::parse(FileId(0), &source).root.unwrap();
        let plugins = crate::project::model::plugins(&document);
        plugins
            .iter()
            .map(|plugin| {
                let found = plan(root, plugin, |plugin_type, name| {
                    plugins
                        .iter()
                        .any(|p| p.plugin_type == plugin_type && p.name() == name)
                });
                let shown = match found {
                    Plan::Custom => "custom".to_owned(),
                    Plan::LegacyFilesBundle => "legacy".to_owned(),
                    Plan::InheritsProjectPlugin(parent) => format!("inherits {parent}"),
                    Plan::Lock(locked) => format!(
                        "{} pinned={}",
                        locked.path.strip_prefix(root).unwrap().display(),
                        locked.pinned
                    ),
                    Plan::Unavailable { reason, existing } => {
                        format!("{reason:?} existing={}", existing.is_some())
                    }
                };
                (plugin.name().to_owned(), shown)
            })
            .collect()
    }

    #[test]
    fn plans_follow_meltano_naming_and_resolution_order() {
        let root = tempfile::tempdir().unwrap();
        let yaml = "plugins:
  extractors:
  - name: tap-gitlab
    variant: meltanolabs
  - name: tap-github
  - name: tap-csv
    variant: original
  - name: tap-custom
    namespace: tap_custom
  - name: tap-gitlab-eu
    inherit_from: tap-gitlab
  - name: tap-github-2
    inherit_from: tap-github
    variant: meltanolabs
  - name: tap-hubspot-eu
    inherit_from: tap-hubspot
    variant: meltanolabs
  - name: tap-postgres
    variant: MeltanoLabs
  - name: tap-postgres-x
    inherit_from: tap-postgres
    variant: nope
  - name: tap-nowhere
  files:
  - name: dbt
  - name: files-nowhere
";
        let expected = [
            (
                "tap-gitlab",
                "plugins/extractors/tap-gitlab--meltanolabs.lock pinned=true",
            ),
            (
                "tap-github",
                "plugins/extractors/tap-github--meltanolabs.lock pinned=false",
            ),
            (
                "tap-csv",
                "plugins/extractors/tap-csv--meltanolabs.lock pinned=false",
            ),
            ("tap-custom", "custom"),
            ("tap-gitlab-eu", "inherits tap-gitlab"),
            // `variant:` set: the parent is the lock/hub definition, not the project plugin.
            (
                "tap-github-2",
                "plugins/extractors/tap-github--meltanolabs.lock pinned=true",
            ),
            (
                "tap-hubspot-eu",
                "plugins/extractors/tap-hubspot--meltanolabs.lock pinned=true",
            ),
            (
                "tap-postgres",
                "VariantCase(\"meltanolabs\") existing=false",
            ),
            (
                "tap-postgres-x",
                "UnknownVariant([\"airbyte\", \"meltanolabs\", \"singer-io\", \"transferwise\"]) existing=false",
            ),
            ("tap-nowhere", "NotOnHub existing=false"),
            ("dbt", "legacy"),
            ("files-nowhere", "NotOnHub existing=false"),
        ];
        let actual = plans(root.path(), yaml);
        let expected: Vec<_> = expected
            .iter()
            .map(|(name, plan)| ((*name).to_owned(), (*plan).to_owned()))
            .collect();
        assert_eq!(actual, expected);
    }

    #[test]
    fn existing_locks_of_plugins_the_hub_lacks_are_found() {
        let root = tempfile::tempdir().unwrap();
        let folder = root.path().join("plugins/extractors");
        fs_err::create_dir_all(&folder).unwrap();
        fs_err::write(folder.join("tap-nowhere--matatika.lock"), "{}").unwrap();
        fs_err::write(folder.join("tap-bare.lock"), "{}").unwrap();
        let yaml = "plugins:
  extractors:
  - name: tap-nowhere
    variant: matatika
  - name: tap-bare
";
        let actual = plans(root.path(), yaml);
        assert_eq!(actual[0].1, "NotOnHub existing=true");
        assert_eq!(actual[1].1, "NotOnHub existing=true");
    }

    #[test]
    fn apply_writes_new_files_and_rewrites_only_changed_definitions() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("plugins/loaders/target-x--v.lock");
        let locked = |text: &str| Locked {
            name: "target-x".to_owned(),
            variant: "v".to_owned(),
            path: path.clone(),
            text: text.to_owned(),
            pinned: true,
        };
        let new = locked("{\n  \"a\": 1,\n  \"b\": 2\n}\n");
        assert_eq!(apply(&new, false).unwrap(), Change::Created);
        assert_eq!(apply(&new, true).unwrap(), Change::Unchanged);
        // Same JSON, other bytes (Meltano before 3.6 wrote no final newline): left alone.
        fs_err::write(&path, "{\"b\": 2, \"a\": 1}").unwrap();
        assert_eq!(apply(&new, true).unwrap(), Change::SameDefinition);
        assert_eq!(
            fs_err::read_to_string(&path).unwrap(),
            "{\"b\": 2, \"a\": 1}"
        );
        let changed = locked("{\n  \"a\": 3\n}\n");
        assert_eq!(apply(&changed, false).unwrap(), Change::Differs);
        assert_eq!(apply(&changed, true).unwrap(), Change::Updated);
        assert_eq!(fs_err::read_to_string(&path).unwrap(), changed.text);
        let leftovers: Vec<_> = fs_err::read_dir(path.parent().unwrap())
            .unwrap()
            .flatten()
            .map(|entry| entry.file_name())
            .collect();
        assert_eq!(leftovers, ["target-x--v.lock"]);
    }

    #[test]
    fn a_failed_write_names_the_lock_file_and_leaves_nothing() {
        let root = tempfile::tempdir().unwrap();
        // `plugins` is a file, so the folder cannot be made.
        fs_err::write(root.path().join("plugins"), "").unwrap();
        let path = root.path().join("plugins/loaders/target-x--v.lock");
        let error = lockfile::write_text(&path, "{}\n").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with(&format!("cannot write `{}`", path.display())),
            "{error}"
        );
        // The target is a folder: the rename fails after the temporary was written.
        let folder = root.path().join("other/target-y--v.lock");
        fs_err::create_dir_all(folder.join("inside")).unwrap();
        assert!(lockfile::write_text(&folder, "{}\n").is_err());
        let names: Vec<_> = fs_err::read_dir(root.path().join("other"))
            .unwrap()
            .flatten()
            .map(|entry| entry.file_name())
            .collect();
        assert_eq!(names, ["target-y--v.lock"]);
    }
}
