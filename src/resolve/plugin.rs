//! Resolving every plugin of a project: where its definition comes from
//! (`ProjectPluginsService.find_parent` in `core/project_plugins_service.py`,
//! `MeltanoHubService` in `core/hub/client.py`) and the plugin that results from the entry
//! merged over it.
//!
//! Order, as Meltano's `find_parent`: a custom plugin (`namespace` without `inherit_from`) is
//! its own definition; an `inherit_from` without `variant` names a project plugin of the same
//! type when there is one (chains follow it, a cycle is an error); otherwise the lock file
//! `plugins/<type>/<inherit_from or name>--<variant>.lock`, then the bundled hub index by name
//! and variant (or its default variant). meltc is more lenient than Meltano in one place: a
//! plugin without `variant` also finds `<name>.lock` and the lock of the hub's default variant
//! (Meltano looks only for `<name>--default.lock` and otherwise asks the Hub).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::hub::{HubIndex, HubPlugin, VariantMatch};
use super::inherit::Base;
use super::mapping::merge_with_mappings;
use super::{Command, Definition, inherit, lockfile};
use crate::meltano::PluginType;
use crate::meltano::plugin_lookup::{FindError, ListIndex, Listed, find_listed};
use crate::meltano::setting::Setting;
use crate::project::Project;
use crate::project::model::{self, Named, Plugin};

/// Where a plugin's definition comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `namespace` without `inherit_from`: the entry is the definition.
    Custom,
    /// `inherit_from` a plugin of the project (the parent's own origin decides the rest).
    Parent(String),
    /// A lock file.
    Lock(PathBuf),
    /// The bundled hub index.
    Hub {
        /// The variant found, as the hub spells it.
        variant: String,
        /// How the requested variant matched it.
        matched: VariantMatch,
    },
    /// A lock file that cannot be used, and why.
    InvalidLock(PathBuf, String),
    /// The hub index has the plugin but not the requested variant; its variants.
    UnknownVariant(Vec<String>),
    /// `inherit_from` leads back to this plugin.
    Cycle,
    /// Nothing defines it.
    Unresolved,
}

/// A project plugin with its definition merged in: what every later stage reads.
#[derive(Clone, Debug)]
pub struct ResolvedPlugin<'p> {
    /// The entry in meltano.yml (or an included file), with spans.
    pub entry: Plugin<'p>,
    /// `plugins.<type>`.
    pub plugin_type: PluginType,
    /// The name.
    pub name: String,
    /// Where the definition comes from.
    pub origin: Origin,
    /// Whether a complete definition was found (through every parent).
    pub resolved: bool,
    /// The project parent (`inherit_from`), as an index into [`Resolved::plugins`].
    pub parent: Option<usize>,
    /// The name of the definition at the root of the chain (hub/lock name, or the custom
    /// plugin's own name).
    pub definition_name: String,
    /// The variant: the entry's, else the parent's or the definition's.
    pub variant: Option<String>,
    /// Prefix of env vars and default schema names.
    pub namespace: String,
    /// Display name.
    pub label: String,
    /// pip requirement string(s).
    pub pip_url: Option<String>,
    /// Python for the venv.
    pub python: Option<String>,
    /// The program to run.
    pub executable: String,
    /// Singer capabilities.
    pub capabilities: Vec<String>,
    /// The setting definitions (declared, inherited, implicit), in Meltano's order.
    pub settings: Vec<Arc<Setting>>,
    /// The extras (`_select`, ...), in Meltano's order.
    pub extras: Vec<Arc<Setting>>,
    /// Commands, parent's first.
    pub commands: Arc<indexmap::IndexMap<String, Command>>,
    /// The entry's own `env:` block, as templates (the parents' are on their plugins;
    /// `plugin_env` layers them).
    pub env: indexmap::IndexMap<String, crate::meltano::template::Template>,
    /// How the config is handed over and which built-in extras exist.
    pub class: crate::meltano::PluginClass,
    /// Env var prefixes settings are read from: name, namespace.
    pub read_prefixes: Vec<String>,
    /// Env var prefixes settings are written to: name, namespace, the parents', `meltano_<verb>`.
    pub write_prefixes: Vec<String>,
    /// For a mapping plugin (a copy of its mapper, [`super::mapping`]): the mapping's entry
    /// under the mapper's `mappings:`. `name` stays the mapper's, as in Meltano.
    pub mapping: Option<Named<'p>>,
}

impl ResolvedPlugin<'_> {
    /// Whether the plugin uses `inherit_from` (Meltano reads `env_aliases` only when not).
    #[must_use]
    pub fn inherits(&self) -> bool {
        self.entry.inherit_from().is_some()
    }

    /// The name a command line or a job block uses: the mapping's for a mapping plugin.
    #[must_use]
    pub fn block_name(&self) -> &str {
        self.mapping
            .map_or(self.name.as_str(), |mapping| mapping.name)
    }

    /// The setting (or extra) called `name` or with that alias.
    #[must_use]
    pub fn setting(&self, name: &str) -> Option<&Setting> {
        self.settings
            .iter()
            .chain(&self.extras)
            .find(|setting| setting.answers_to(name))
            .map(AsRef::as_ref)
    }
}

/// Every plugin of a project, resolved.
#[derive(Debug)]
pub struct Resolved<'p> {
    /// The project.
    pub project: &'p Project,
    /// Every plugin entry, in Meltano's type order then file order (duplicates included).
    pub plugins: Vec<ResolvedPlugin<'p>>,
    /// Every mapping of every mapper entry, as the plugin Meltano makes of it
    /// ([`super::mapping`]), in file order. Not in `plugins`: a mapping is installed, locked
    /// and checked as its mapper; it is found by name through [`Resolved::find_plugin`].
    pub mappings: Vec<ResolvedPlugin<'p>>,
    /// Where the mappings of `plugins[i]` are in `mappings`.
    mapping_ranges: Vec<std::ops::Range<usize>>,
    /// Meltano's plugin list: `plugins` in order, each mapper followed by its mappings.
    order: Vec<Listing>,
    /// The list's names, indexed.
    names: ListIndex,
}

/// An item of Meltano's plugin list.
#[derive(Clone, Copy, Debug)]
enum Listing {
    /// `plugins[i]`.
    Plugin(usize),
    /// `mappings[i]`.
    Mapping(usize),
}

impl<'p> Resolved<'p> {
    /// The first plugin named `name` in Meltano's type order.
    #[must_use]
    pub fn find(&self, name: &str) -> Option<&ResolvedPlugin<'p>> {
        self.plugins.iter().find(|plugin| plugin.name == name)
    }

    /// The first plugin of `plugin_type` named `name`.
    #[must_use]
    pub fn find_of_type(&self, plugin_type: PluginType, name: &str) -> Option<&ResolvedPlugin<'p>> {
        self.plugins
            .iter()
            .find(|plugin| plugin.plugin_type == plugin_type && plugin.name == name)
    }

    /// What `name` names on a command line or in a job, as Meltano's `find_plugin` looks it
    /// up: a plugin (of `plugin_type`, when given) or a mapping ([`super::mapping`]).
    ///
    /// # Errors
    /// The name finds a mapping that another mapping shares.
    pub fn find_plugin(
        &self,
        name: &str,
        plugin_type: Option<PluginType>,
    ) -> Result<Option<&ResolvedPlugin<'p>>, FindError> {
        let found = match plugin_type {
            None => self.names.find(name)?,
            Some(_) => find_listed(&self.listed(), name, plugin_type)?,
        };
        Ok(found.map(|position| self.listed_plugin(position)))
    }

    /// Meltano's plugin list: every plugin in type order, each mapper followed by its mappings.
    #[must_use]
    pub fn listed(&self) -> Vec<Listed<'_>> {
        (0..self.plugins.len() + self.mappings.len())
            .map(|position| {
                let plugin = self.listed_plugin(position);
                Listed {
                    plugin_type: plugin.plugin_type,
                    name: &plugin.name,
                    mapping: plugin.mapping.map(|mapping| mapping.name),
                }
            })
            .collect()
    }

    /// The plugin at `position` of Meltano's list.
    #[must_use]
    pub fn listed_plugin(&self, position: usize) -> &ResolvedPlugin<'p> {
        match self.order[position] {
            Listing::Plugin(index) => &self.plugins[index],
            Listing::Mapping(index) => &self.mappings[index],
        }
    }

    /// The mapping plugins of the mapper entry `plugin`, in file order.
    pub fn mappings_of<'r>(
        &'r self,
        plugin: &'r ResolvedPlugin<'p>,
    ) -> impl Iterator<Item = &'r ResolvedPlugin<'p>> + 'r {
        let range = self
            .plugins
            .iter()
            .position(|entry| std::ptr::eq(entry, plugin))
            .map_or(0..0, |index| self.mapping_ranges[index].clone());
        self.mappings[range].iter()
    }

    /// The project parent of `plugin`.
    #[must_use]
    pub fn parent(&self, plugin: &ResolvedPlugin<'p>) -> Option<&ResolvedPlugin<'p>> {
        plugin.parent.map(|index| &self.plugins[index])
    }

    /// `plugin` and its project parents, nearest first.
    #[must_use]
    pub fn chain<'r>(&'r self, plugin: &'r ResolvedPlugin<'p>) -> Vec<&'r ResolvedPlugin<'p>> {
        let mut chain = vec![plugin];
        while let Some(parent) = self.parent(chain[chain.len() - 1]) {
            if chain.len() > self.plugins.len() {
                break; // cannot happen: cycles have no parent link
            }
            chain.push(parent);
        }
        chain
    }
}

/// Resolve every plugin of `project`.
#[must_use]
pub fn resolve(project: &Project) -> Resolved<'_> {
    let entries = model::plugins(&project.merged);
    let mut resolver = Resolver {
        root: &project.root,
        entries: &entries,
        done: vec![None; entries.len()],
        in_progress: vec![false; entries.len()],
        mappings: vec![Vec::new(); entries.len()],
        hub_cache: BTreeMap::new(),
    };
    for index in 0..entries.len() {
        resolver.resolve(index);
    }
    let plugins: Vec<ResolvedPlugin<'_>> = resolver.done.into_iter().flatten().collect();
    let mut mappings = Vec::new();
    let mut mapping_ranges = Vec::with_capacity(plugins.len());
    let mut order = Vec::new();
    for (index, of_entry) in resolver.mappings.into_iter().enumerate() {
        order.push(Listing::Plugin(index));
        let start = mappings.len();
        order.extend((start..start + of_entry.len()).map(Listing::Mapping));
        mappings.extend(of_entry);
        mapping_ranges.push(start..mappings.len());
    }
    let mut resolved = Resolved {
        project,
        plugins,
        mappings,
        mapping_ranges,
        order,
        names: ListIndex::default(),
    };
    resolved.names = ListIndex::new(&resolved.listed());
    resolved
}

struct Resolver<'r, 'p> {
    root: &'r Path,
    entries: &'r [Plugin<'p>],
    done: Vec<Option<ResolvedPlugin<'p>>>,
    in_progress: Vec<bool>,
    /// The mapping plugins of each entry (none but for mappers).
    mappings: Vec<Vec<ResolvedPlugin<'p>>>,
    hub_cache: BTreeMap<(PluginType, String, String), Option<Arc<Definition>>>,
}

impl<'p> Resolver<'_, 'p> {
    fn resolve(&mut self, index: usize) {
        if self.done[index].is_some() || self.in_progress[index] {
            return;
        }
        self.in_progress[index] = true;
        let entry = self.entries[index];
        let (resolved, mappings) = match self.project_parent(&entry) {
            Some(parent) if self.in_progress[parent] => {
                merge_with_mappings(entry, &Origin::Cycle, &Base::Missing, None)
            }
            Some(parent) => {
                self.resolve(parent);
                match &self.done[parent] {
                    Some(parent_plugin) => merge_with_mappings(
                        entry,
                        &Origin::Parent(parent_plugin.name.clone()),
                        &Base::Project(parent_plugin),
                        Some(parent),
                    ),
                    None => merge_with_mappings(entry, &Origin::Cycle, &Base::Missing, None),
                }
            }
            None => {
                let (origin, definition) = self.definition(&entry);
                let base = definition
                    .as_deref()
                    .map_or(Base::Missing, Base::Definition);
                merge_with_mappings(entry, &origin, &base, None)
            }
        };
        self.in_progress[index] = false;
        self.done[index] = Some(resolved);
        self.mappings[index] = mappings;
    }

    /// The project plugin `entry` inherits from: only without `variant` (Meltano's
    /// `ProjectPluginsService.find_parent`).
    fn project_parent(&self, entry: &Plugin<'_>) -> Option<usize> {
        if entry.is_custom() || entry.variant().is_some() {
            return None;
        }
        let parent = entry.inherit_from()?;
        self.entries
            .iter()
            .position(|other| other.plugin_type == entry.plugin_type && other.name() == parent)
    }

    /// The definition of a plugin that has no project parent.
    fn definition(&mut self, entry: &Plugin<'_>) -> (Origin, Option<Arc<Definition>>) {
        if entry.is_custom() {
            return (
                Origin::Custom,
                inherit::custom_definition(entry).map(Arc::new),
            );
        }
        let name = entry.inherit_from().unwrap_or(entry.name());
        let hub = HubIndex::bundled().plugin(entry.plugin_type, name);
        for path in lock_candidates(self.root, entry, name, hub.as_ref()) {
            if path.is_file() {
                return match lockfile::read(&path, entry.plugin_type) {
                    Ok(definition) => (Origin::Lock(path), Some(Arc::new(definition))),
                    Err(error) => (Origin::InvalidLock(path, error.to_string()), None),
                };
            }
        }
        let Some(hub) = hub else {
            return (Origin::Unresolved, None);
        };
        let Some(found) = hub.variant(entry.variant()) else {
            return (
                Origin::UnknownVariant(hub.variants().map(str::to_owned).collect()),
                None,
            );
        };
        let key = (entry.plugin_type, name.to_owned(), found.name().to_owned());
        let definition = self
            .hub_cache
            .entry(key)
            .or_insert_with(|| found.definition().ok().map(Arc::new))
            .clone();
        let origin = Origin::Hub {
            variant: found.name().to_owned(),
            matched: found.matched(),
        };
        (origin, definition)
    }
}

/// Lock files that may hold the definition, in the order they are tried: the exact variant;
/// without one, Meltano's `--default` name, the variant-less name, and the hub default's.
#[must_use]
pub fn lock_candidates(
    root: &Path,
    entry: &Plugin<'_>,
    name: &str,
    hub: Option<&HubPlugin<'_>>,
) -> Vec<PathBuf> {
    let plugin_type = entry.plugin_type;
    match entry.variant() {
        Some(variant) => vec![lockfile::path(root, plugin_type, name, Some(variant))],
        None => {
            let mut candidates = vec![
                lockfile::path(root, plugin_type, name, Some("default")),
                lockfile::path(root, plugin_type, name, None),
            ];
            if let Some(default) = hub.and_then(HubPlugin::default_variant) {
                candidates.push(lockfile::path(root, plugin_type, name, Some(default)));
            }
            candidates
        }
    }
}

/// The lock file Meltano itself reads for `entry` (`<inherit_from or name>--<variant or
/// default>.lock`), for telling which plugins Meltano can resolve without the Hub.
#[must_use]
pub fn meltano_lock_path(root: &Path, entry: &Plugin<'_>) -> PathBuf {
    let name = entry.inherit_from().unwrap_or(entry.name());
    lockfile::path(
        root,
        entry.plugin_type,
        name,
        Some(entry.variant().unwrap_or("default")),
    )
}
