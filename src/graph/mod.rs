//! The project as a graph, for people: schedules → jobs → tasks → plugins, with mappings (and
//! their mapper) and `inherit_from` parents. Built from one compiled [`Manifest`], the same
//! value `meltc build` writes, so the picture never disagrees with what is deployed.
//!
//! 1. [`Graph::from_manifest`] collects nodes and edges in the manifest's order (schedules and
//!    jobs in file order, plugins in Meltano's type order then file order): the same project
//!    gives the same graph, byte for byte, once rendered.
//! 2. [`mermaid::render`] and [`dot::render`] print it; each owns the escaping of its syntax.
//!
//! Node keys (`job/sync`, `plugin/extractors/tap-x`) are what renderers turn into identifiers;
//! they never hold anything but names from the manifest.

pub mod dot;
pub mod mermaid;

use crate::manifest::{Manifest, Step};

/// What a node stands for; renderers pick a shape and a style from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// A schedule (label: name and interval).
    Schedule,
    /// A job (or the job a legacy extractor/loader schedule becomes).
    Job,
    /// One task (step) of a job: an extract-load set or a plugin command.
    Task,
    /// A plugin.
    Plugin,
    /// A mapping of a mapper plugin.
    Mapping,
}

impl NodeKind {
    /// A short name (`schedule`, `job`...), used for styles.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            NodeKind::Schedule => "schedule",
            NodeKind::Job => "job",
            NodeKind::Task => "task",
            NodeKind::Plugin => "plugin",
            NodeKind::Mapping => "mapping",
        }
    }
}

/// A node: a unique key and the lines of its label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Unique within the graph (`schedule/<name>`, `job/<name>`, `task/<job>/<n>`,
    /// `plugin/<type>/<name>`, `mapping/<mapper>/<name>`).
    pub key: String,
    /// What it is.
    pub kind: NodeKind,
    /// The label, one entry per line, unescaped.
    pub lines: Vec<String>,
}

/// How an edge is drawn: a solid arrow, or a dashed one for `inherit_from`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeStyle {
    /// Runs, uses.
    Solid,
    /// Inherits from.
    Dashed,
}

/// An edge between two node keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    /// The key of the node it starts from.
    pub from: String,
    /// The key of the node it points to.
    pub to: String,
    /// The label (empty: none), unescaped.
    pub label: String,
    /// How it is drawn.
    pub style: EdgeStyle,
}

/// The graph of one compiled environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Graph {
    /// A title: the environment, or that there is none.
    pub title: String,
    /// Nodes, in the order they are drawn.
    pub nodes: Vec<Node>,
    /// Edges, in the order they are drawn; both ends are in `nodes`.
    pub edges: Vec<Edge>,
}

impl Graph {
    /// The graph of a compiled environment.
    #[must_use]
    pub fn from_manifest(manifest: &Manifest) -> Self {
        let title = match &manifest.environment {
            Some(environment) => format!("environment {}", environment.name),
            None => "no environment".to_owned(),
        };
        let mut graph = Graph {
            title,
            nodes: Vec::new(),
            edges: Vec::new(),
        };
        for schedule in &manifest.schedules {
            let key = format!("schedule/{}", schedule.name);
            graph.node(
                &key,
                NodeKind::Schedule,
                vec![schedule.name.clone(), schedule.interval.clone()],
            );
            graph.edge(&key, &format!("job/{}", schedule.job), "", EdgeStyle::Solid);
        }
        for job in &manifest.jobs {
            graph.job(job, &manifest.plugins);
        }
        for plugin in &manifest.plugins {
            let key = plugin_key(plugin.plugin_type.as_str(), &plugin.name);
            graph.node(
                &key,
                NodeKind::Plugin,
                vec![
                    plugin.name.clone(),
                    plugin.plugin_type.singular().to_owned(),
                ],
            );
            if let Some(parent) = &plugin.inherit_from {
                graph.edge(
                    &key,
                    &plugin_key(plugin.plugin_type.as_str(), parent),
                    "inherit_from",
                    EdgeStyle::Dashed,
                );
            }
            for mapping in &plugin.mappings {
                let mapping_key = format!("mapping/{}/{}", plugin.name, mapping.name);
                graph.node(
                    &mapping_key,
                    NodeKind::Mapping,
                    vec![mapping.name.clone(), "mapping".to_owned()],
                );
                graph.edge(&mapping_key, &key, "mapper", EdgeStyle::Solid);
            }
        }
        graph.keep_connected_edges();
        graph
    }

    fn job(&mut self, job: &crate::manifest::Job, plugins: &[crate::manifest::Plugin]) {
        let key = format!("job/{}", job.name);
        let mut lines = vec![job.name.clone()];
        if job.legacy_schedule {
            lines.push("legacy schedule".to_owned());
        }
        self.node(&key, NodeKind::Job, lines);
        for (index, step) in job.steps.iter().enumerate() {
            let task = format!("task/{}/{}", job.name, index + 1);
            // Order only matters when there is more than one task.
            let order = if job.steps.len() > 1 {
                (index + 1).to_string()
            } else {
                String::new()
            };
            self.edge(&key, &task, &order, EdgeStyle::Solid);
            match step {
                Step::ExtractLoad {
                    extractor,
                    mappings,
                    loader,
                    ..
                } => {
                    let mut blocks = vec![extractor.clone()];
                    blocks.extend(mappings.iter().map(|mapping| mapping.mapping.clone()));
                    blocks.push(loader.clone());
                    self.node(&task, NodeKind::Task, vec![blocks.join(" ")]);
                    self.edge(
                        &task,
                        &plugin_key("extractors", extractor),
                        "extract",
                        EdgeStyle::Solid,
                    );
                    for mapping in mappings {
                        let to = format!("mapping/{}/{}", mapping.mapper, mapping.mapping);
                        self.edge(&task, &to, "map", EdgeStyle::Solid);
                    }
                    self.edge(
                        &task,
                        &plugin_key("loaders", loader),
                        "load",
                        EdgeStyle::Solid,
                    );
                }
                Step::Command { plugin, command } => {
                    let label = match command {
                        Some(command) => format!("{plugin}:{command}"),
                        None => plugin.clone(),
                    };
                    self.node(&task, NodeKind::Task, vec![label]);
                    // A command step names the plugin, not its type; the first of that name in
                    // Meltano's type order is the one it runs.
                    if let Some(found) = plugins.iter().find(|candidate| candidate.name == *plugin)
                    {
                        let to = plugin_key(found.plugin_type.as_str(), &found.name);
                        self.edge(&task, &to, "run", EdgeStyle::Solid);
                    }
                }
            }
        }
    }

    fn node(&mut self, key: &str, kind: NodeKind, lines: Vec<String>) {
        self.nodes.push(Node {
            key: key.to_owned(),
            kind,
            lines,
        });
    }

    fn edge(&mut self, from: &str, to: &str, label: &str, style: EdgeStyle) {
        self.edges.push(Edge {
            from: from.to_owned(),
            to: to.to_owned(),
            label: label.to_owned(),
            style,
        });
    }

    /// Drop edges to nodes the manifest does not have (a parent the environment cannot run),
    /// so a renderer never draws a node without a label.
    fn keep_connected_edges(&mut self) {
        let known: std::collections::BTreeSet<String> =
            self.nodes.iter().map(|node| node.key.clone()).collect();
        self.edges
            .retain(|edge| known.contains(&edge.from) && known.contains(&edge.to));
    }
}

/// `text` with each character `escape` maps replaced, and control characters (never meant in
/// a label, and able to end a line of either syntax) as spaces.
fn escape_chars(text: &str, escape: impl Fn(char) -> Option<&'static str>) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match escape(character) {
            Some(escaped) => out.push_str(escaped),
            None if character.is_control() => out.push(' '),
            None => out.push(character),
        }
    }
    out
}

fn plugin_key(plugin_type: &str, name: &str) -> String {
    format!("plugin/{plugin_type}/{name}")
}
