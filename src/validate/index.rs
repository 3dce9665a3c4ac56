//! Lookups every check needs: plugins by name, mappings, jobs.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use super::facts::Facts;

use crate::meltano::PluginType;
use crate::project::Project;
use crate::project::model::{self, Named, Plugin};
use crate::resolve::{Resolved, ResolvedPlugin};

/// The merged project with its names indexed. The first definition of a name wins, as at
/// Meltano's run time.
pub struct ProjectIndex<'a> {
    /// The project.
    pub project: &'a Project,
    /// Every plugin, in type order then file order.
    pub plugins: Vec<Plugin<'a>>,
    /// Jobs by name.
    pub jobs: BTreeMap<&'a str, Named<'a>>,
    /// Mapping names -> their mapper.
    pub mappings: BTreeMap<&'a str, Plugin<'a>>,
    /// Every plugin resolved (definition, settings, commands): shared with the caller, which
    /// compiles from the same resolution instead of resolving again.
    pub resolved: Arc<Resolved<'a>>,
    /// Facts computed so far: checks ask for the same plugin many times (once per job task).
    facts: RefCell<BTreeMap<(PluginType, &'a str), Rc<Facts>>>,
}

impl<'a> ProjectIndex<'a> {
    /// Index `project`, resolving it.
    #[must_use]
    pub fn new(project: &'a Project) -> Self {
        Self::with_resolved(project, Arc::new(crate::resolve::resolve(project)))
    }

    /// Index `project` with its resolution, `resolved` (`crate::resolve::resolve(project)`).
    #[must_use]
    pub fn with_resolved(project: &'a Project, resolved: Arc<Resolved<'a>>) -> Self {
        let plugins = model::plugins(&project.merged);
        let mut jobs = BTreeMap::new();
        for job in model::jobs(&project.merged) {
            jobs.entry(job.name).or_insert(job);
        }
        let mut mappings = BTreeMap::new();
        for plugin in &plugins {
            for mapping in plugin.mapping_names() {
                mappings.entry(mapping.name).or_insert(*plugin);
            }
        }
        Self {
            project,
            plugins,
            jobs,
            mappings,
            resolved,
            facts: RefCell::default(),
        }
    }

    /// The first plugin named `name`, in Meltano's type order.
    #[must_use]
    pub fn plugin(&self, name: &str) -> Option<Plugin<'a>> {
        self.plugins
            .iter()
            .find(|plugin| plugin.name() == name)
            .copied()
    }

    /// The plugin of `plugin_type` named `name`.
    #[must_use]
    pub fn plugin_of_type(&self, plugin_type: PluginType, name: &str) -> Option<Plugin<'a>> {
        self.plugins
            .iter()
            .find(|plugin| plugin.plugin_type == plugin_type && plugin.name() == name)
            .copied()
    }

    /// Every name a job task may use: plugins, mappings and jobs.
    pub fn block_names(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.plugins
            .iter()
            .map(Plugin::name)
            .chain(self.mappings.keys().copied())
            .chain(self.jobs.keys().copied())
    }

    /// The resolved form of `plugin` (the first plugin of its type and name).
    #[must_use]
    pub fn resolved(&self, plugin: &Plugin<'a>) -> Option<&ResolvedPlugin<'a>> {
        self.resolved
            .find_of_type(plugin.plugin_type, plugin.name())
    }

    /// The facts of `plugin`, computed once.
    #[must_use]
    pub fn facts(&self, plugin: &Plugin<'a>) -> Rc<Facts> {
        let key = (plugin.plugin_type, plugin.name());
        if let Some(facts) = self.facts.borrow().get(&key) {
            return Rc::clone(facts);
        }
        let facts = Rc::new(self.resolved(plugin).map(Facts::of).unwrap_or_default());
        self.facts.borrow_mut().insert(key, Rc::clone(&facts));
        facts
    }

    /// The blocks a job runs, in order (empty when it has no list of tasks).
    #[must_use]
    pub fn blocks(&self, job: &Named<'_>) -> Vec<model::Token> {
        job.node
            .get("tasks")
            .map(|tasks| model::task_tokens(tasks, self.source(tasks.span.file)))
            .unwrap_or_default()
    }

    /// The source text of the file a span is in.
    #[must_use]
    pub fn source(&self, file: crate::diagnostics::FileId) -> &'a str {
        self.project.sources.get(file).contents()
    }
}
