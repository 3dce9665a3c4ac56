//! A mapping is a plugin too. Meltano turns every item of a mapper's `mappings:` into a plugin
//! of its own (`MeltanoFile.get_plugins_for_mappings`, `core/meltano_file.py`): a deep copy of
//! the mapper's entry whose `config` is **replaced** by the mapping's `config` (not merged),
//! with the extras `mapping: true` and `mapping_name: <name>`. Everything else is the
//! mapper's: its name (so its env var names and the environment's entry for the mapper
//! apply), namespace, definition and parent.
//!
//! A name is looked up as `ProjectPluginsService.find_plugin` does
//! (`core/project_plugins_service.py`): through Meltano's list of plugins in type order, each
//! mapper followed by its mappings; the first plugin with that name (and type, when given)
//! wins, and a mapping wins where it is listed when its name matches (whatever type was
//! asked). A mapping name that two mappings share is an error when it is looked up
//! (`AmbiguousMappingName`). Every command that takes a plugin name (`meltc config`,
//! `meltc-run invoke`, job blocks) looks names up with [`find_listed`].

use indexmap::IndexMap;

use super::expand::{ConfigValue, Template};
use super::inherit::{self, Base};
use super::plugin::{Origin, ResolvedPlugin};
use crate::project::PluginType;
use crate::project::model::{Named, Plugin};
use crate::yaml::Node;

/// The mapper `entry` and each of its mappings, merged over `base`.
#[must_use]
pub fn merge_with_mappings<'p>(
    entry: Plugin<'p>,
    origin: &Origin,
    base: &Base<'_, 'p>,
    parent: Option<usize>,
) -> (ResolvedPlugin<'p>, Vec<ResolvedPlugin<'p>>) {
    let plugin = inherit::merge(entry, origin.clone(), base, parent, None);
    let mappings = entry
        .mapping_names()
        .into_iter()
        .map(|mapping| inherit::merge(entry, origin.clone(), base, parent, Some(mapping)))
        .collect();
    (plugin, mappings)
}

/// The `config:` a plugin is configured with: the mapping's for a mapping plugin (absent
/// means none, `mapping.get("config")`), else the entry's.
#[must_use]
pub fn config_node<'p>(entry: &Plugin<'p>, mapping: Option<Named<'p>>) -> Option<&'p Node> {
    match mapping {
        Some(mapping) => mapping.node.get("config"),
        None => entry.entry.node.get("config"),
    }
}

/// The extras Meltano adds to a mapping plugin, in its order, keyed without the `_`, each
/// with the node that says where it comes from (the mapping's name).
#[must_use]
pub fn added_extras<'p>(mapping: Option<Named<'p>>) -> Vec<(&'static str, ConfigValue, &'p Node)> {
    let Some(mapping) = mapping else {
        return Vec::new();
    };
    let Some(name_node) = mapping.node.get("name") else {
        return Vec::new();
    };
    vec![
        ("mapping", ConfigValue::Bool(true), name_node),
        (
            "mapping_name",
            ConfigValue::Text(Template::parse(mapping.name)),
            name_node,
        ),
    ]
}

/// The entry's extras (`select`, `mappings`, any unknown key), then the mapping's, keyed
/// without the `_`.
#[must_use]
pub fn entry_extras(
    entry: &Plugin<'_>,
    mapping: Option<Named<'_>>,
) -> IndexMap<String, ConfigValue> {
    let mut extras = inherit::entry_extras(entry);
    for (key, value, _) in added_extras(mapping) {
        extras.insert(key.to_owned(), value);
    }
    extras
}

/// One item of Meltano's plugin list: a plugin entry, or a mapping right after its mapper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listed<'a> {
    /// The plugin's type.
    pub plugin_type: PluginType,
    /// The plugin's name (a mapping's is its mapper's).
    pub name: &'a str,
    /// The mapping's name, for a mapping.
    pub mapping: Option<&'a str>,
}

/// Why a name cannot be looked up.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FindError {
    /// Several mappings have the name (Meltano's `AmbiguousMappingName`).
    #[error("mapping `{name}` is defined more than once (by `{}`)", .mappers.join("`, `"))]
    AmbiguousMapping {
        /// The mapping name.
        name: String,
        /// The mappers that define it, each once.
        mappers: Vec<String>,
    },
}

/// The error for `name`, which the mappings of `mappers` (once per mapping) share.
fn ambiguous(name: &str, mappers: &[&str]) -> FindError {
    let mut unique: Vec<String> = Vec::new();
    for mapper in mappers {
        if !unique.iter().any(|known| known == mapper) {
            unique.push((*mapper).to_owned());
        }
    }
    FindError::AmbiguousMapping {
        name: name.to_owned(),
        mappers: unique,
    }
}

/// The index in `list` of what `name` finds (see the module documentation), `None` when
/// nothing has the name.
///
/// # Errors
/// The name finds a mapping that another mapping shares.
pub fn find_listed(
    list: &[Listed<'_>],
    name: &str,
    plugin_type: Option<PluginType>,
) -> Result<Option<usize>, FindError> {
    for (index, item) in list.iter().enumerate() {
        match item.mapping {
            // A mapping's own name is its mapper's, which the mapper before it answered.
            None if item.name == name && plugin_type.is_none_or(|t| t == item.plugin_type) => {
                return Ok(Some(index));
            }
            Some(mapping) if mapping == name => {
                let sharing: Vec<&str> = list
                    .iter()
                    .filter(|other| other.mapping == Some(name))
                    .map(|other| other.name)
                    .collect();
                if sharing.len() > 1 {
                    return Err(ambiguous(name, &sharing));
                }
                return Ok(Some(index));
            }
            _ => {}
        }
    }
    Ok(None)
}

/// [`find_listed`] for many names without a type: each name's first item, found once.
#[derive(Debug, Default)]
pub struct ListIndex {
    /// Each name's first item in list order (a plugin by its name, a mapping by its own), and
    /// whether it is a mapping.
    first: std::collections::BTreeMap<String, (usize, bool)>,
    /// The mappers of the mappings of each name, once per mapping.
    mappers: std::collections::BTreeMap<String, Vec<String>>,
}

impl ListIndex {
    /// Index `list`.
    #[must_use]
    pub fn new(list: &[Listed<'_>]) -> Self {
        let mut index = Self::default();
        for (position, item) in list.iter().enumerate() {
            let key = item.mapping.unwrap_or(item.name);
            index
                .first
                .entry(key.to_owned())
                .or_insert((position, item.mapping.is_some()));
            if let Some(mapping) = item.mapping {
                index
                    .mappers
                    .entry(mapping.to_owned())
                    .or_default()
                    .push(item.name.to_owned());
            }
        }
        index
    }

    /// What `find_listed(list, name, None)` answers for the list this indexes.
    ///
    /// # Errors
    /// As [`find_listed`].
    pub fn find(&self, name: &str) -> Result<Option<usize>, FindError> {
        let Some(&(position, is_mapping)) = self.first.get(name) else {
            return Ok(None);
        };
        let sharing = self.mappers.get(name).map_or(&[][..], Vec::as_slice);
        if is_mapping && sharing.len() > 1 {
            let sharing: Vec<&str> = sharing.iter().map(String::as_str).collect();
            return Err(ambiguous(name, &sharing));
        }
        Ok(Some(position))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed<'a>(items: &[(PluginType, &'a str, Option<&'a str>)]) -> Vec<Listed<'a>> {
        items
            .iter()
            .map(|(plugin_type, name, mapping)| Listed {
                plugin_type: *plugin_type,
                name,
                mapping: *mapping,
            })
            .collect()
    }

    #[test]
    fn plugins_in_type_order_then_mappings_where_they_are_listed() {
        use PluginType::{Extractors, Mappers};
        let list = listed(&[
            (Extractors, "tap-x", None),
            (Mappers, "m-a", None),
            (Mappers, "m-a", Some("tap-x")),
            (Mappers, "m-a", Some("m-b")),
            (Mappers, "m-a", Some("m-a")),
            (Mappers, "m-a", Some("clean")),
            (Mappers, "m-b", None),
        ]);
        let find = |name, plugin_type| find_listed(&list, name, plugin_type);
        // An extractor listed first wins over a mapping of its name.
        assert_eq!(find("tap-x", None), Ok(Some(0)));
        // A mapping listed before a mapper of its name wins over it.
        assert_eq!(find("m-b", None), Ok(Some(3)));
        // A mapping named like its own mapper is never found.
        assert_eq!(find("m-a", None), Ok(Some(1)));
        assert_eq!(find("clean", None), Ok(Some(5)));
        // The type filter applies to plugins, not to mappings (as in Meltano).
        assert_eq!(find("clean", Some(Extractors)), Ok(Some(5)));
        // No extractor `m-a`: the mapper's own mapping of that name answers, as in Meltano.
        assert_eq!(find("m-a", Some(Extractors)), Ok(Some(4)));
        assert_eq!(find("m-b", Some(Extractors)), Ok(Some(3)));
        assert_eq!(find("tap-x", Some(Mappers)), Ok(Some(2)));
        assert_eq!(find("nothing", None), Ok(None));
        let index = ListIndex::new(&list);
        for name in ["tap-x", "m-a", "m-b", "clean", "nothing"] {
            assert_eq!(index.find(name), find(name, None), "{name}");
        }
    }

    #[test]
    fn a_shared_mapping_name_is_ambiguous() {
        use PluginType::Mappers;
        let list = listed(&[
            (Mappers, "m-a", None),
            (Mappers, "m-a", Some("clean")),
            (Mappers, "m-b", None),
            (Mappers, "m-b", Some("clean")),
        ]);
        assert_eq!(
            find_listed(&list, "clean", None),
            Err(FindError::AmbiguousMapping {
                name: "clean".to_owned(),
                mappers: vec!["m-a".to_owned(), "m-b".to_owned()],
            })
        );
        assert_eq!(find_listed(&list, "m-b", None), Ok(Some(2)));
        let index = ListIndex::new(&list);
        for name in ["clean", "m-a", "m-b"] {
            assert_eq!(index.find(name), find_listed(&list, name, None));
        }
    }
}
