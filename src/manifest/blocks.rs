//! `meltano run`'s block grammar (Meltano's `BlockParser`, `core/block/block_parser.py`) over
//! a manifest's plugins: the compiler groups a job's blocks into steps with it, and
//! `meltc-run run BLOCK...` parses its arguments with the same rules.
//!
//! Scanning left to right, an extractor opens an extract/load set that continues with zero or
//! more mappings (by mapping name) and ends with one loader; any other plugin runs alone, with
//! `plugin:command` naming a command. A name is looked up as Meltano's `find_plugin` does
//! (`resolve::mapping`): the first plugin of that name in Meltano's type order, or a mapping
//! listed (after its mapper) before it.

use super::{Manifest, MappingRef, Plugin, Step};
use crate::meltano::PluginType;
use crate::meltano::plugin_lookup::{FindError, ListIndex, Listed};

/// Why a list of blocks is not a valid run (Meltano's messages, where it has one).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// No plugin, mapping (or, for `meltc-run run`, job) of that name.
    #[error("Block {0} not found")]
    NotFound(String),
    /// A mapping name that two mappers define.
    #[error("mapping `{0}` is defined by more than one mapper: {1}")]
    AmbiguousMapping(String, String),
    /// The mapper plugin named instead of one of its mappings.
    #[error("`{0}` is a mapper: name one of its mappings, not the mapper plugin")]
    MapperName(String),
    /// A set that does not end with a loader.
    #[error("the extractor `{0}` has no loader after it (Loader missing in block set)")]
    LoaderMissing(String),
    /// Something other than a mapping or loader inside a set.
    #[error("expected a mapping or a loader after `{extractor}`, found `{found}`")]
    ExpectedMapperOrLoader {
        /// The extractor that opened the set.
        extractor: String,
        /// The block found.
        found: String,
    },
    /// A loader or mapping outside a set.
    #[error("`{0}` must follow an extractor")]
    OutsideSet(String),
}

/// What a block name refers to.
enum Found<'m> {
    Plugin(&'m Plugin, Option<&'m str>),
    Mapping(&'m Plugin, &'m str),
}

/// Block names looked up once per manifest (a large project has hundreds of jobs).
pub struct Lookup<'m> {
    manifest: &'m Manifest,
    /// Meltano's plugin list (`resolve::mapping`): each plugin, each mapper followed by its
    /// mappings.
    listed: Vec<(Listed<'m>, super::Found<'m>)>,
    /// The list's names, indexed.
    index: ListIndex,
}

impl<'m> Lookup<'m> {
    /// Index `manifest`'s plugins and mappings.
    #[must_use]
    pub fn new(manifest: &'m Manifest) -> Self {
        let listed = manifest.listed();
        let items: Vec<Listed<'m>> = listed.iter().map(|(item, _)| *item).collect();
        Lookup {
            manifest,
            index: ListIndex::new(&items),
            listed,
        }
    }

    /// Group `blocks` into steps (see [`parse`]).
    ///
    /// # Errors
    /// As [`parse`].
    pub fn parse(&self, blocks: &[String]) -> Result<Vec<Step>, BlockError> {
        parse_with(self, blocks)
    }

    /// What `name` finds, as Meltano's `find_plugin`.
    fn find_name(&self, name: &str) -> Result<Option<super::Found<'m>>, BlockError> {
        match self.index.find(name) {
            Ok(found) => Ok(found.map(|position| self.listed[position].1)),
            Err(FindError::AmbiguousMapping { name, mappers }) => {
                Err(BlockError::AmbiguousMapping(name, mappers.join(", ")))
            }
        }
    }
}

fn find<'m>(lookup: &Lookup<'m>, block: &'m str) -> Result<Found<'m>, BlockError> {
    let mut parts = block.splitn(3, ':');
    let (name, command) = match (parts.next(), parts.next(), parts.next()) {
        (Some(name), Some(command), None) => (name, Some(command)),
        _ => (block, None),
    };
    match lookup.find_name(name)? {
        Some(super::Found::Plugin(plugin)) => Ok(Found::Plugin(plugin, command)),
        Some(super::Found::Mapping(mapper, mapping)) if command.is_none() => {
            Ok(Found::Mapping(mapper, &mapping.name))
        }
        _ => Err(BlockError::NotFound(block.to_owned())),
    }
}

/// The state ID of an extract/load set in the manifest's environment (none without one).
#[must_use]
pub fn state_id(manifest: &Manifest, extractor: &str, loader: &str) -> Option<String> {
    manifest
        .environment
        .as_ref()
        .map(|environment| format!("{}:{extractor}-to-{loader}", environment.name))
}

/// Group `blocks` into steps.
///
/// # Errors
/// The first block that breaks the grammar, as `meltano run` stops at it.
pub fn parse(manifest: &Manifest, blocks: &[String]) -> Result<Vec<Step>, BlockError> {
    Lookup::new(manifest).parse(blocks)
}

fn parse_with<'m>(lookup: &Lookup<'m>, blocks: &'m [String]) -> Result<Vec<Step>, BlockError> {
    let manifest = lookup.manifest;
    struct Open<'m> {
        extractor: &'m Plugin,
        mappings: Vec<MappingRef>,
    }
    let mut steps = Vec::new();
    let mut open: Option<Open<'_>> = None;
    for block in blocks {
        let found = find(lookup, block)?;
        open = match (open, found) {
            (Some(mut set), Found::Mapping(mapper, mapping)) => {
                set.mappings.push(MappingRef {
                    mapper: mapper.name.clone(),
                    mapping: mapping.to_owned(),
                });
                Some(set)
            }
            (Some(set), Found::Plugin(plugin, _)) if plugin.plugin_type == PluginType::Loaders => {
                steps.push(Step::ExtractLoad {
                    extractor: set.extractor.name.clone(),
                    mappings: set.mappings,
                    loader: plugin.name.clone(),
                    state_id: state_id(manifest, &set.extractor.name, &plugin.name),
                    incremental: set
                        .extractor
                        .capabilities
                        .iter()
                        .any(|capability| capability == "state"),
                });
                None
            }
            (_, Found::Plugin(plugin, _)) if plugin.plugin_type == PluginType::Mappers => {
                return Err(BlockError::MapperName(plugin.name.clone()));
            }
            (Some(set), Found::Plugin(plugin, _)) => {
                return Err(if plugin.plugin_type == PluginType::Extractors {
                    BlockError::LoaderMissing(set.extractor.name.clone())
                } else {
                    BlockError::ExpectedMapperOrLoader {
                        extractor: set.extractor.name.clone(),
                        found: block.clone(),
                    }
                });
            }
            (None, Found::Plugin(plugin, _)) if plugin.plugin_type == PluginType::Extractors => {
                Some(Open {
                    extractor: plugin,
                    mappings: Vec::new(),
                })
            }
            (None, Found::Plugin(plugin, _)) if plugin.plugin_type == PluginType::Loaders => {
                return Err(BlockError::OutsideSet(block.clone()));
            }
            (None, Found::Mapping(..)) => return Err(BlockError::OutsideSet(block.clone())),
            (None, Found::Plugin(plugin, command)) => {
                steps.push(Step::Command {
                    plugin: plugin.name.clone(),
                    command: command.map(str::to_owned),
                });
                None
            }
        };
    }
    if let Some(set) = open {
        return Err(BlockError::LoaderMissing(set.extractor.name.clone()));
    }
    Ok(steps)
}

/// `meltano run`'s arguments with job names replaced by their blocks (one level: a job's own
/// blocks are not expanded again).
#[must_use]
pub fn expand_jobs(manifest: &Manifest, arguments: &[String]) -> Vec<String> {
    arguments
        .iter()
        .flat_map(|argument| match manifest.job(argument) {
            Some(job) if !job.legacy_schedule => job.blocks.clone(),
            _ => vec![argument.clone()],
        })
        .collect()
}
