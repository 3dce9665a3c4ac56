//! Plugin entries: legacy types and bundles, `inherit_from` parents and cycles, plugins meltc
//! cannot resolve.

use std::collections::BTreeSet;

use super::ProjectIndex;
use crate::diagnostics::{Diagnostic, codes, suggest};
use crate::project::PluginType;
use crate::project::model::Plugin;
use crate::resolve::Origin;
use crate::resolve::hub::VariantMatch;

/// Run the plugin checks.
pub fn check(index: &ProjectIndex<'_>, diagnostics: &mut Vec<Diagnostic>) {
    let mut reported_cycles = BTreeSet::new();
    let used = used_plugins(index);
    for plugin in &index.plugins {
        let legacy_bundle = legacy(index, plugin, diagnostics);
        inheritance(index, plugin, &mut reported_cycles, diagnostics);
        // A name with `:` is already a schema error; resolving it would only add noise.
        if !legacy_bundle && !plugin.name().contains(':') {
            resolution(
                index,
                plugin,
                used.contains(&(plugin.plugin_type, plugin.name())),
                diagnostics,
            );
        }
    }
}

/// Plugins that a job task or a legacy schedule runs.
pub(super) fn used_plugins<'a>(index: &ProjectIndex<'a>) -> BTreeSet<(PluginType, &'a str)> {
    let mut used = BTreeSet::new();
    for job in index.jobs.values() {
        for token in &index.blocks(job) {
            let name = token.text.split(':').next().unwrap_or_default();
            if let Ok(Some(plugin)) = index.resolved.find_plugin(name, None) {
                used.insert((plugin.plugin_type, plugin.entry.name()));
            }
        }
    }
    for schedule in crate::project::model::schedules(&index.project.merged) {
        for (key, plugin_type) in [
            ("extractor", PluginType::Extractors),
            ("loader", PluginType::Loaders),
        ] {
            if let Some(plugin) = schedule
                .get_str(key)
                .and_then(|name| index.plugin_of_type(plugin_type, name))
            {
                used.insert((plugin_type, plugin.name()));
            }
        }
    }
    used
}

/// Whether meltc can find the plugin's definition (custom, lock file, hub index).
fn resolution<'a>(
    index: &ProjectIndex<'a>,
    plugin: &Plugin<'a>,
    used: bool,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let entry = plugin.entry;
    let variant_span = entry
        .node
        .get("variant")
        .map_or(entry.name_span, |node| node.span);
    let hub_name = plugin.inherit_from().unwrap_or(entry.name);
    let Some(resolved) = index.resolved(plugin) else {
        return;
    };
    match &resolved.origin {
        Origin::Custom | Origin::Parent(_) | Origin::Cycle => {}
        Origin::InvalidLock(path, error) => diagnostics.push(
            Diagnostic::new(
                &codes::PLUGIN_LOCK_INVALID,
                format!(
                    "the lock file of `{}` cannot be used: {}",
                    entry.name,
                    error.replace(&format!("{}/", index.project.root.display()), "")
                ),
            )
            .at(
                entry.name_span,
                format!("defined by `{}`", relative(index, path)),
            )
            .help("regenerate it with `meltano lock --update` (or restore it from git)"),
        ),
        Origin::Lock(path) => {
            let Some(variant) = plugin.variant() else {
                return;
            };
            let Some(hub) =
                crate::resolve::hub::HubIndex::bundled().plugin(plugin.plugin_type, hub_name)
            else {
                return;
            };
            let spelled = hub
                .variants()
                .find(|known| known.eq_ignore_ascii_case(variant));
            if spelled == Some(variant) {
                return;
            }
            let message = match spelled {
                Some(known) => format!(
                    "variant `{variant}` of `{hub_name}` is spelled `{known}` in the hub index"
                ),
                None => {
                    format!("variant `{variant}` of `{hub_name}` is not in the bundled hub index")
                }
            };
            diagnostics.push(
                Diagnostic::new(&codes::PLUGIN_LOCK_ONLY_VARIANT, message)
                    .at(variant_span, format!("defined only by `{}`", relative(index, path)))
                    .help(match spelled {
                        Some(known) => format!("write `variant: {known}` (and rename the lock file) so a Hub lookup finds it too"),
                        None => format!("keep the lock file in git: nothing else defines this variant (hub variants: {})", hub.variants().collect::<Vec<_>>().join(", ")),
                    }),
            );
        }
        Origin::Hub {
            variant: found,
            matched,
        } => {
            if let Some(written @ ("default" | "original")) = plugin.variant() {
                diagnostics.push(
                    Diagnostic::new(&codes::PLUGIN_VARIANT_ALIAS, format!("`variant: {written}` of `{}` means the hub's current default, `{found}`", entry.name))
                        .at(variant_span, "follows the hub's default")
                        .help(format!("write `variant: {found}` so a change of default on the hub does not change the plugin")),
                );
            } else if *matched == VariantMatch::CaseInsensitive {
                diagnostics.push(unknown_variant(
                    plugin,
                    hub_name,
                    variant_span,
                    Some(found),
                    Vec::new(),
                ));
            }
        }
        Origin::UnknownVariant(variants) => {
            diagnostics.push(unknown_variant(
                plugin,
                hub_name,
                variant_span,
                None,
                variants.iter().map(String::as_str).collect(),
            ));
        }
        Origin::Unresolved if plugin.inherit_from().is_some() => {} // reported as an unknown parent
        Origin::Unresolved => diagnostics.push(unresolved(index, plugin, used)),
    }
}

fn unknown_variant(
    plugin: &Plugin<'_>,
    hub_name: &str,
    span: crate::diagnostics::Span,
    spelled: Option<&str>,
    variants: Vec<&str>,
) -> Diagnostic {
    let variant = plugin.variant().unwrap_or_default();
    let help = match spelled {
        Some(known) => format!(
            "the hub spells it `{known}`; Meltano's Hub lookup is exact, so write `variant: {known}`"
        ),
        None => suggest::help_line(variant, variants.iter().copied()).map_or_else(
            || format!("the hub has: {}", variants.join(", ")),
            |line| format!("{line} (the hub has: {})", variants.join(", ")),
        ),
    };
    Diagnostic::new(
        &codes::PLUGIN_UNKNOWN_VARIANT,
        format!(
            "`{hub_name}` has no variant `{variant}` in the hub index and no lock file defines it"
        ),
    )
    .at(span, "unknown variant")
    .help(help)
}

fn unresolved(index: &ProjectIndex<'_>, plugin: &Plugin<'_>, used: bool) -> Diagnostic {
    let hub = crate::resolve::hub::HubIndex::bundled();
    let other_types: Vec<_> = hub
        .types_of(plugin.name())
        .into_iter()
        .map(PluginType::as_str)
        .collect();
    let help = if other_types.is_empty() {
        suggest::help_line(plugin.name(), hub.names(plugin.plugin_type)).map_or_else(
            || format!("give it a `namespace` (and `pip_url`, `executable`, `settings`) to define it as a custom plugin, or add its lock file under `plugins/{}/`", plugin.plugin_type),
            |line| format!("{line} (a hub {})", plugin.plugin_type.singular()),
        )
    } else {
        format!(
            "the hub has `{}` under `{}`: move it there",
            plugin.name(),
            other_types.join("`, `")
        )
    };
    let (code, consequence) = if used {
        (
            &codes::PLUGIN_UNRESOLVED_USED,
            "a job or schedule runs it, so it cannot be built",
        )
    } else {
        (&codes::PLUGIN_UNRESOLVED, "it is left out of the image")
    };
    let _ = index;
    Diagnostic::new(code, format!("`{}` is not a custom plugin, has no lock file and is not in the hub index: {consequence}", plugin.name()))
        .at(plugin.entry.name_span, format!("unknown {}", plugin.plugin_type.singular()))
        .help(help)
}

fn relative(index: &ProjectIndex<'_>, path: &std::path::Path) -> String {
    path.strip_prefix(&index.project.root)
        .map_or_else(|_| path.display().to_string(), crate::project::slash_path)
}

/// Report legacy plugin types; `true` for a legacy files bundle (which needs no definition).
fn legacy<'a>(
    index: &ProjectIndex<'a>,
    plugin: &Plugin<'a>,
    diagnostics: &mut Vec<Diagnostic>,
) -> bool {
    let entry = plugin.entry;
    match plugin.plugin_type {
        PluginType::Transforms => {
            let pip_url = index
                .resolved(plugin)
                .and_then(|resolved| resolved.pip_url.as_deref());
            diagnostics.push(
                Diagnostic::new(&codes::PLUGIN_LEGACY_TYPE, format!("`{}` is a legacy `transforms` plugin: a dbt package, which Meltano never installs in a virtualenv or runs (it only writes it into dbt's `packages.yml` when the plugin is added)", entry.name))
                    .at(entry.name_span, "legacy plugin type")
                    .help(format!("meltc leaves it out of the image; list the package in your dbt project's `packages.yml`{} and run dbt as a utility (e.g. `dbt-postgres` under `utilities:`)", pip_url.map(dbt_package_entry).unwrap_or_default())),
            );
        }
        PluginType::Files if !plugin.is_custom() && !entry.name.starts_with("files-") => diagnostics.push(
            Diagnostic::new(&codes::PLUGIN_LEGACY_FILES, format!("`{}` is a files bundle from before 2022", entry.name))
                .at(entry.name_span, "legacy files bundle")
                .help(format!("files bundles only scaffold files at `meltano add` time and are never installed in an image; today's bundle is `files-{}`", entry.name)),
        ),
        _ => return false,
    }
    plugin.plugin_type == PluginType::Files
}

/// The `packages.yml` entry Meltano writes for a transform's pip_url (`TransformAddService.
/// add_to_packages`, core/transform_add_service.py: one `@` splits the git URL from the
/// revision), as a parenthesised hint.
fn dbt_package_entry(pip_url: &str) -> String {
    match pip_url.split('@').collect::<Vec<_>>().as_slice() {
        [git, revision] => format!(" (`{{git: {git}, revision: {revision}}}`)"),
        _ => format!(" (`{{git: {pip_url}}}`)"),
    }
}

fn inheritance<'a>(
    index: &ProjectIndex<'a>,
    plugin: &Plugin<'a>,
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
            // The chain ends where it started: the members, sorted, identify the cycle.
            let mut key = cycle[..cycle.len() - 1].to_vec();
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
    if index.facts(plugin).resolved || crate::validate::facts::hub_knows(plugin.plugin_type, parent)
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
        Diagnostic::new(&codes::INHERIT_UNKNOWN, format!("`{}` inherits from `{parent}`, which is not {} here, in a lock file or in the hub index", plugin.name(), crate::diagnostics::with_article(plugin.plugin_type.singular())))
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
