//! Mapping names. A mapping is a plugin too (`resolve::mapping`): `meltano run`, `meltano
//! config` and `meltano invoke` find it by name through Meltano's plugin list, where each
//! mapper is followed by its mappings. A mapping that an earlier plugin's name answers for
//! (the extractor `clean` before the mapping `clean`, or the mapper itself) can never be run;
//! a mapper that an earlier mapping's name answers for can never be named; and a name two
//! mappings share fails every lookup (`AmbiguousMappingName`). Each is a definition that never
//! takes effect: an error.

use std::collections::BTreeSet;

use super::ProjectIndex;
use crate::diagnostics::{Diagnostic, Span, codes};
use crate::resolve::ResolvedPlugin;
use crate::resolve::mapping::{FindError, ListIndex};

/// Report mapping names that never find their mapping, or hide a plugin.
pub fn check(index: &ProjectIndex<'_>, diagnostics: &mut Vec<Diagnostic>) {
    let resolved = &index.resolved;
    if resolved.mappings.is_empty() {
        return;
    }
    let listed = resolved.listed();
    let names = ListIndex::new(&listed);
    let mut ambiguous = BTreeSet::new();
    for (position, item) in listed.iter().enumerate() {
        let plugin = resolved.listed_plugin(position);
        let name = item.mapping.unwrap_or(item.name);
        match names.find(name) {
            Err(FindError::AmbiguousMapping { .. }) if ambiguous.insert(name) => {
                diagnostics.extend(ambiguous_mapping(resolved, name));
            }
            Ok(Some(found)) if found != position => {
                let winner = resolved.listed_plugin(found);
                // Plugins of one name in several types are Meltano's own business (and
                // duplicates are reported elsewhere): only a mapping on either side counts.
                if plugin.mapping.is_some() || winner.mapping.is_some() {
                    diagnostics.push(shadowed(plugin, winner));
                }
            }
            _ => {}
        }
    }
}

/// Where a plugin or mapping is named.
fn name_span(plugin: &ResolvedPlugin<'_>) -> Span {
    plugin
        .mapping
        .map_or(plugin.entry.entry.name_span, |mapping| mapping.name_span)
}

/// What a plugin or mapping is, in words.
fn describe(plugin: &ResolvedPlugin<'_>) -> String {
    match plugin.mapping {
        Some(mapping) => format!("the mapping `{}` of `{}`", mapping.name, plugin.name),
        None => format!("the {} `{}`", plugin.plugin_type.singular(), plugin.name),
    }
}

fn shadowed(hidden: &ResolvedPlugin<'_>, winner: &ResolvedPlugin<'_>) -> Diagnostic {
    let name = hidden.block_name();
    let what = describe(hidden);
    Diagnostic::new(
        &codes::MAPPING_SHADOWED,
        format!("{what} can never be named: `{name}` finds {} first", describe(winner)),
    )
    .at(name_span(hidden), "never found by this name")
    .also(name_span(winner), "found instead")
    .help(if hidden.mapping.is_some() {
        "rename the mapping: Meltano looks plugins up by name in type order, each mapper followed by its mappings".to_owned()
    } else {
        format!("rename the mapping `{name}`: it hides this plugin from `meltano run`, `config` and `invoke`")
    })
}

fn ambiguous_mapping(resolved: &crate::resolve::Resolved<'_>, name: &str) -> Option<Diagnostic> {
    let defining: Vec<&ResolvedPlugin<'_>> = resolved
        .mappings
        .iter()
        .filter(|mapping| mapping.block_name() == name)
        .collect();
    let (first, rest) = defining.split_first()?;
    let mut mappers: Vec<String> = Vec::new();
    for mapping in &defining {
        let mapper = format!("`{}`", mapping.name);
        if !mappers.contains(&mapper) {
            mappers.push(mapper);
        }
    }
    let mut diagnostic = Diagnostic::new(
        &codes::MAPPING_AMBIGUOUS,
        format!(
            "mapping `{name}` is defined more than once (by {})",
            mappers.join(", ")
        ),
    )
    .help("rename all but one: Meltano refuses every use of the name (`AmbiguousMappingName`)");
    if let Some(last) = rest.last() {
        diagnostic = diagnostic.at(name_span(last), "defined again here");
    }
    diagnostic = diagnostic.also(name_span(first), "first defined here");
    for middle in rest.iter().take(rest.len().saturating_sub(1)) {
        diagnostic = diagnostic.also(name_span(middle), "also defined here");
    }
    Some(diagnostic)
}
