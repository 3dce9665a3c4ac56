//! `meltano run`'s block grammar (reference/meltano-spec.md §11.1) over a manifest's plugins:
//! the compiler groups a job's blocks into steps with it, and `meltc-run run BLOCK...` parses
//! its arguments with the same rules.
//!
//! Scanning left to right, an extractor opens an extract/load set that continues with zero or
//! more mappings (by mapping name) and ends with one loader; any other plugin runs alone, with
//! `plugin:command` naming a command. A name is looked up as the first plugin of that name in
//! Meltano's type order, then as a mapping.

use std::collections::BTreeMap;

use super::{Manifest, MappingRef, Plugin, Step};

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
    /// The first plugin of each name, in Meltano's type order.
    plugins: BTreeMap<&'m str, &'m Plugin>,
    /// Each mapping name and the mappers that define it.
    mappings: BTreeMap<&'m str, Vec<&'m Plugin>>,
}

impl<'m> Lookup<'m> {
    /// Index `manifest`'s plugins and mappings.
    #[must_use]
    pub fn new(manifest: &'m Manifest) -> Self {
        let mut plugins = BTreeMap::new();
        let mut mappings: BTreeMap<&str, Vec<&Plugin>> = BTreeMap::new();
        for plugin in &manifest.plugins {
            plugins.entry(plugin.name.as_str()).or_insert(plugin);
            for mapping in &plugin.mappings {
                let mappers = mappings.entry(mapping.name.as_str()).or_default();
                if !mappers.iter().any(|known| known.name == plugin.name) {
                    mappers.push(plugin);
                }
            }
        }
        Lookup {
            manifest,
            plugins,
            mappings,
        }
    }

    /// Group `blocks` into steps (see [`parse`]).
    ///
    /// # Errors
    /// As [`parse`].
    pub fn parse(&self, blocks: &[String]) -> Result<Vec<Step>, BlockError> {
        parse_with(self, blocks)
    }
}

fn find<'m>(lookup: &Lookup<'m>, block: &'m str) -> Result<Found<'m>, BlockError> {
    let mut parts = block.splitn(3, ':');
    let (name, command) = match (parts.next(), parts.next(), parts.next()) {
        (Some(name), Some(command), None) => (name, Some(command)),
        _ => (block, None),
    };
    if let Some(plugin) = lookup.plugins.get(name) {
        return Ok(Found::Plugin(plugin, command));
    }
    if command.is_none() {
        let mappers = lookup.mappings.get(block).map_or(&[][..], Vec::as_slice);
        match mappers {
            [mapper] => return Ok(Found::Mapping(mapper, block)),
            [] => {}
            several => {
                let names: Vec<&str> = several.iter().map(|p| p.name.as_str()).collect();
                return Err(BlockError::AmbiguousMapping(
                    block.to_owned(),
                    names.join(", "),
                ));
            }
        }
    }
    Err(BlockError::NotFound(block.to_owned()))
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
            (Some(set), Found::Plugin(plugin, _)) if plugin.plugin_type == "loaders" => {
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
            (_, Found::Plugin(plugin, _)) if plugin.plugin_type == "mappers" => {
                return Err(BlockError::MapperName(plugin.name.clone()));
            }
            (Some(set), Found::Plugin(plugin, _)) => {
                return Err(if plugin.plugin_type == "extractors" {
                    BlockError::LoaderMissing(set.extractor.name.clone())
                } else {
                    BlockError::ExpectedMapperOrLoader {
                        extractor: set.extractor.name.clone(),
                        found: block.clone(),
                    }
                });
            }
            (None, Found::Plugin(plugin, _)) if plugin.plugin_type == "extractors" => Some(Open {
                extractor: plugin,
                mappings: Vec::new(),
            }),
            (None, Found::Plugin(plugin, _)) if plugin.plugin_type == "loaders" => {
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
