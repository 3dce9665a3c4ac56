//! Plugin entries: legacy types and bundles, `inherit_from` parents and cycles, plugins meltc
//! cannot resolve.

use std::collections::BTreeSet;

use super::ProjectIndex;
use super::facts::facts;
use crate::diagnostics::{Diagnostic, codes, suggest};
use crate::project::PluginType;
use crate::project::model::Plugin;

/// Run the plugin checks.
pub fn check(index: &ProjectIndex<'_>, diagnostics: &mut Vec<Diagnostic>) {
    let mut reported_cycles = BTreeSet::new();
    for plugin in &index.plugins {
        legacy(plugin, diagnostics);
        inheritance(index, plugin, &mut reported_cycles, diagnostics);
    }
}

fn legacy(plugin: &Plugin<'_>, diagnostics: &mut Vec<Diagnostic>) {
    let entry = plugin.entry;
    match plugin.plugin_type {
        PluginType::Transforms => diagnostics.push(
            Diagnostic::new(&codes::PLUGIN_LEGACY_TYPE, format!("`{}` is a `transforms` plugin, a type kept only for old projects", entry.name))
                .at(entry.name_span, "legacy plugin type")
                .help("run dbt as a utility (e.g. `dbt-postgres` under `utilities:`); meltc never installs dbt packages"),
        ),
        PluginType::Files if !plugin.is_custom() && !entry.name.starts_with("files-") => diagnostics.push(
            Diagnostic::new(&codes::PLUGIN_LEGACY_FILES, format!("`{}` is a files bundle from before 2022", entry.name))
                .at(entry.name_span, "legacy files bundle")
                .help(format!("files bundles only scaffold files at `meltano add` time and are never installed in an image; today's bundle is `files-{}`", entry.name)),
        ),
        _ => {}
    }
}

fn inheritance(
    index: &ProjectIndex<'_>,
    plugin: &Plugin<'_>,
    reported: &mut BTreeSet<Vec<String>>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let Some(parent) = plugin.inherit_from() else {
        return;
    };
    let (_, parent_node) = plugin
        .entry
        .node
        .entry("inherit_from")
        .unwrap_or((plugin.entry.node, plugin.entry.node));
    if plugin.variant().is_none() {
        if let Some(cycle) = cycle_from(index, plugin) {
            let mut key = cycle.clone();
            key.sort();
            if reported.insert(key) {
                diagnostics.push(
                    Diagnostic::new(&codes::INHERIT_CYCLE, format!("`inherit_from` forms a cycle: {}", cycle.join(" → ")))
                        .at(parent_node.span, "inherits from a plugin that leads back here")
                        .help("Meltano crashes on this (RecursionError): make one plugin of the cycle inherit from a hub plugin, or give it a `variant`"),
                );
            }
            return;
        }
        if index.plugin_of_type(plugin.plugin_type, parent).is_some() {
            return;
        }
    }
    if facts(index, plugin).source.is_some()
        || crate::validate::facts::hub_knows(plugin.plugin_type, parent)
    {
        return;
    }
    let same_type = index
        .plugins
        .iter()
        .filter(|p| p.plugin_type == plugin.plugin_type)
        .map(Plugin::name);
    let other_type = index
        .plugins
        .iter()
        .find(|p| p.name() == parent && p.plugin_type != plugin.plugin_type);
    let help = match other_type {
        Some(other) => Some(format!(
            "`{parent}` is one of the {} here: a plugin can only inherit from a plugin of its own type",
            other.plugin_type
        )),
        None => suggest::help_line(parent, same_type),
    };
    diagnostics.push(
        Diagnostic::new(&codes::INHERIT_UNKNOWN, format!("`{}` inherits from `{parent}`, which is not a {} here, in a lock file or in the hub index", plugin.name(), plugin.plugin_type.singular()))
            .at(parent_node.span, "unknown parent")
            .maybe_help(help.or_else(|| Some(format!("define `{parent}` under `{}:` or fix the name", plugin.plugin_type)))),
    );
}

/// The names on the cycle `plugin` is part of, starting with it, or `None`.
fn cycle_from(index: &ProjectIndex<'_>, plugin: &Plugin<'_>) -> Option<Vec<String>> {
    let mut chain = vec![plugin.name().to_owned()];
    let mut current = *plugin;
    while let Some(parent_name) = current
        .inherit_from()
        .filter(|_| current.variant().is_none())
    {
        let parent = index.plugin_of_type(plugin.plugin_type, parent_name)?;
        if parent.name() == plugin.name() {
            chain.push(parent_name.to_owned());
            return Some(chain);
        }
        if chain.iter().any(|name| name == parent_name) {
            return None; // a cycle further up the chain; reported from one of its members
        }
        chain.push(parent_name.to_owned());
        current = parent;
    }
    None
}
