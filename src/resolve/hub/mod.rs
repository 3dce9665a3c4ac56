//! The Meltano Hub, bundled: meltc's stand-in for the Hub API (Meltano's `MeltanoHubService`,
//! `core/hub/client.py`).
//!
//! Two files generated from a snapshot of `meltano/hub` by [`import`] live in `data/hub/` and are
//! compiled into the binary:
//!
//! - `index.json`: per plugin type and name, the default variant and, per variant, the byte
//!   range of its definition in `definitions.jsonl`; plus the snapshot's commit and date.
//! - `definitions.jsonl`: one minified JSON object per variant, as the Hub's data file has it
//!   minus website-only keys (see [`import`] for the list and the key order).
//!
//! [`HubIndex::bundled`] parses only `index.json`, once; a definition is parsed from its byte
//! range when asked for, and is then given the two changes the Hub's API makes when it serves a
//! definition (`utility_scripts/api/make_files.py` upstream): `logo_url` becomes absolute and
//! `docs` becomes the plugin's Hub page. What comes out is what Meltano would receive from the
//! API, so a lock file written from it matches one `meltano lock` writes.

pub mod import;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::definition::{Definition, DefinitionError};
use crate::meltano::PluginType;

/// The Hub's address, prefixed to logo paths and used for documentation pages.
pub const HUB_URL: &str = "https://hub.meltano.com";

/// File names inside the index directory (`data/hub/`).
pub const INDEX_FILE: &str = "index.json";
/// See [`INDEX_FILE`].
pub const DEFINITIONS_FILE: &str = "definitions.jsonl";

/// Version of the `index.json` layout; bump when it changes.
pub const FORMAT: u32 = 1;

static BUNDLED_INDEX: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/hub/index.json"));
static BUNDLED_DEFINITIONS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/hub/definitions.jsonl"
));

/// The plugin directory of a Hub snapshot, borrowing names from the index text.
#[derive(Debug)]
pub struct HubIndex<'data> {
    source: &'data str,
    date: &'data str,
    plugins: BTreeMap<PluginType, BTreeMap<&'data str, Entry<'data>>>,
    definitions: &'data str,
}

#[derive(Debug, Deserialize)]
struct IndexFile<'data> {
    format: u32,
    #[serde(borrow)]
    source: &'data str,
    #[serde(borrow)]
    date: &'data str,
    #[serde(borrow)]
    plugins: BTreeMap<PluginType, BTreeMap<&'data str, Entry<'data>>>,
}

#[derive(Debug, Deserialize)]
struct Entry<'data> {
    #[serde(borrow)]
    default_variant: Option<&'data str>,
    /// Variant name -> `[offset, length]` in the definitions file.
    #[serde(borrow)]
    variants: BTreeMap<&'data str, [usize; 2]>,
}

/// An index that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// `index.json` is not what this meltc expects.
    #[error("hub index: {0}")]
    Json(#[from] serde_json::Error),
    /// `index.json` has another layout version.
    #[error("hub index: format {found}, this meltc reads format {FORMAT}")]
    Format {
        /// The version in the file.
        found: u32,
    },
}

/// A Hub definition that cannot be read: a meltc bug when it comes from the bundled index
/// (the import and the tests parse every one).
#[derive(Debug, thiserror::Error)]
pub enum HubDefinitionError {
    /// The byte range is outside the definitions file.
    #[error("hub definition of {plugin_type} `{name}` variant `{variant}`: bad byte range")]
    Range {
        /// Plugin type.
        plugin_type: PluginType,
        /// Plugin name.
        name: String,
        /// Variant.
        variant: String,
    },
    /// The text is not a JSON object.
    #[error("hub definition of {plugin_type} `{name}` variant `{variant}`: {message}")]
    Json {
        /// Plugin type.
        plugin_type: PluginType,
        /// Plugin name.
        name: String,
        /// Variant.
        variant: String,
        /// What is wrong.
        message: String,
    },
    /// The object does not have a definition's shape.
    #[error("hub definition of {plugin_type} `{name}` variant `{variant}`: {source}")]
    Shape {
        /// Plugin type.
        plugin_type: PluginType,
        /// Plugin name.
        name: String,
        /// Variant.
        variant: String,
        /// What is wrong.
        source: DefinitionError,
    },
}

impl HubIndex<'static> {
    /// The index compiled into meltc, parsed on first use.
    ///
    /// # Panics
    /// When the bundled `index.json` does not parse: a build of meltc with broken data, which
    /// the tests rule out.
    #[must_use]
    pub fn bundled() -> &'static HubIndex<'static> {
        static INDEX: OnceLock<HubIndex<'static>> = OnceLock::new();
        INDEX.get_or_init(|| {
            HubIndex::from_parts(BUNDLED_INDEX, BUNDLED_DEFINITIONS)
                .unwrap_or_else(|error| panic!("meltc was built with a broken hub index: {error}"))
        })
    }
}

impl<'data> HubIndex<'data> {
    /// An index from the text of `index.json` and `definitions.jsonl`.
    ///
    /// # Errors
    /// When `index.json` does not parse or has another format version.
    pub fn from_parts(index_json: &'data str, definitions: &'data str) -> Result<Self, IndexError> {
        let file: IndexFile<'data> = serde_json::from_str(index_json)?;
        if file.format != FORMAT {
            return Err(IndexError::Format { found: file.format });
        }
        Ok(Self {
            source: file.source,
            date: file.date,
            plugins: file.plugins,
            definitions,
        })
    }

    /// Where the data comes from: `meltano/hub@<commit>`.
    #[must_use]
    pub fn source(&self) -> &'data str {
        self.source
    }

    /// The date of the Hub snapshot (`YYYY-MM-DD`).
    #[must_use]
    pub fn date(&self) -> &'data str {
        self.date
    }

    /// The Hub plugin `name` of `plugin_type`.
    #[must_use]
    pub fn plugin(&self, plugin_type: PluginType, name: &str) -> Option<HubPlugin<'_>> {
        let (&name, entry) = self.plugins.get(&plugin_type)?.get_key_value(name)?;
        Some(HubPlugin {
            plugin_type,
            name,
            entry,
            definitions: self.definitions,
        })
    }

    /// Every plugin name of `plugin_type`, sorted (for "did you mean").
    pub fn names(&self, plugin_type: PluginType) -> impl Iterator<Item = &'data str> + '_ {
        self.plugins
            .get(&plugin_type)
            .into_iter()
            .flat_map(|plugins| plugins.keys().copied())
    }

    /// The types that have a plugin called `name` (for a plugin declared under the wrong type).
    #[must_use]
    pub fn types_of(&self, name: &str) -> Vec<PluginType> {
        self.plugins
            .iter()
            .filter(|(_, plugins)| plugins.contains_key(name))
            .map(|(&plugin_type, _)| plugin_type)
            .collect()
    }
}

/// One plugin of the Hub, with its variants.
#[derive(Clone, Copy, Debug)]
pub struct HubPlugin<'index> {
    plugin_type: PluginType,
    name: &'index str,
    entry: &'index Entry<'index>,
    definitions: &'index str,
}

/// How a requested variant name was matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VariantMatch {
    /// The name as written.
    Exact,
    /// The name in another case (`AutoIDM` for `autoidm`): Meltano's Hub lookup is exact, so
    /// this only works while a lock file exists.
    CaseInsensitive,
    /// No variant, `default` or `original`: the Hub's default variant.
    Default,
}

/// A variant of a Hub plugin, found by [`HubPlugin::variant`].
#[derive(Clone, Copy, Debug)]
pub struct HubVariant<'index> {
    plugin: HubPlugin<'index>,
    name: &'index str,
    matched: VariantMatch,
    range: [usize; 2],
}

impl<'index> HubPlugin<'index> {
    /// The plugin type.
    #[must_use]
    pub fn plugin_type(&self) -> PluginType {
        self.plugin_type
    }

    /// The plugin name.
    #[must_use]
    pub fn name(&self) -> &'index str {
        self.name
    }

    /// The default variant, when the Hub names one that has a definition.
    #[must_use]
    pub fn default_variant(&self) -> Option<&'index str> {
        self.entry.default_variant
    }

    /// The variant names, sorted.
    pub fn variants(&self) -> impl Iterator<Item = &'index str> + use<'index> {
        self.entry.variants.keys().copied()
    }

    /// Find a variant the way Meltano does (`MeltanoHubService.find_definition`): none,
    /// `default` or `original` mean the default variant; otherwise the exact name, then
    /// (meltc's leniency) the name in another case.
    #[must_use]
    pub fn variant(&self, requested: Option<&str>) -> Option<HubVariant<'index>> {
        let (name, range, matched) = match requested {
            None | Some("default" | "original") => {
                let (name, range) = self
                    .entry
                    .variants
                    .get_key_value(self.entry.default_variant?)?;
                (*name, *range, VariantMatch::Default)
            }
            Some(requested) => match self.entry.variants.get_key_value(requested) {
                Some((name, range)) => (*name, *range, VariantMatch::Exact),
                None => {
                    let (name, range) = self
                        .entry
                        .variants
                        .iter()
                        .find(|(name, _)| name.eq_ignore_ascii_case(requested))?;
                    (*name, *range, VariantMatch::CaseInsensitive)
                }
            },
        };
        Some(HubVariant {
            plugin: *self,
            name,
            matched,
            range,
        })
    }

    /// The definition of `requested` (see [`HubPlugin::variant`]), when the variant exists.
    #[must_use]
    pub fn definition(
        &self,
        requested: Option<&str>,
    ) -> Option<Result<Definition, HubDefinitionError>> {
        self.variant(requested).map(|variant| variant.definition())
    }
}

impl<'index> HubVariant<'index> {
    /// The variant's name as the Hub spells it.
    #[must_use]
    pub fn name(&self) -> &'index str {
        self.name
    }

    /// How the request matched it.
    #[must_use]
    pub fn matched(&self) -> VariantMatch {
        self.matched
    }

    /// Parse the definition, as the Hub API serves it.
    ///
    /// # Errors
    /// When the bundled data is broken (see [`HubDefinitionError`]).
    pub fn definition(&self) -> Result<Definition, HubDefinitionError> {
        let plugin = &self.plugin;
        let [offset, length] = self.range;
        let text = offset
            .checked_add(length)
            .and_then(|end| plugin.definitions.get(offset..end))
            .ok_or_else(|| HubDefinitionError::Range {
                plugin_type: plugin.plugin_type,
                name: plugin.name.to_owned(),
                variant: self.name.to_owned(),
            })?;
        let json_error = |message: String| HubDefinitionError::Json {
            plugin_type: plugin.plugin_type,
            name: plugin.name.to_owned(),
            variant: self.name.to_owned(),
            message,
        };
        let Value::Object(mut map) =
            serde_json::from_str(text).map_err(|error| json_error(error.to_string()))?
        else {
            return Err(json_error("not a JSON object".to_owned()));
        };
        served_by_api(&mut map, plugin.plugin_type, plugin.name, self.name);
        Definition::from_json(plugin.plugin_type, map).map_err(|source| HubDefinitionError::Shape {
            plugin_type: plugin.plugin_type,
            name: plugin.name.to_owned(),
            variant: self.name.to_owned(),
            source,
        })
    }
}

/// The Hub API's changes to a data file (`make_files.py`): the logo path becomes a URL and
/// `docs` always points to the plugin's Hub page. (Website-only keys are already gone.)
fn served_by_api(map: &mut Map<String, Value>, plugin_type: PluginType, name: &str, variant: &str) {
    if let Some(Value::String(logo)) = map.get_mut("logo_url") {
        *logo = format!("{HUB_URL}{logo}");
    }
    map.insert(
        "docs".to_owned(),
        Value::String(format!("{HUB_URL}/{plugin_type}/{name}--{variant}")),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = r#"{
"format": 1,
"source": "meltano/hub@abc",
"date": "2026-01-02",
"plugins": {
"extractors": {
"tap-a": {"default_variant": "meltanolabs", "variants": {"autoidm": [0, 62], "meltanolabs": [63, 80]}},
"tap-b": {"default_variant": null, "variants": {}}
},
"loaders": {
"tap-a": {"default_variant": null, "variants": {}}
}
}
}"#;
    const DEFINITIONS: &str = concat!(
        r#"{"name":"tap-a","namespace":"tap_a","variant":"autoidm","x":1}"#,
        "\n",
        r#"{"name":"tap-a","namespace":"tap_a","variant":"meltanolabs","logo_url":"/l.png"}"#,
        "\n",
    );

    fn index() -> HubIndex<'static> {
        HubIndex::from_parts(INDEX, DEFINITIONS).unwrap()
    }

    #[test]
    fn variants_resolve_like_meltano_plus_case_folding() {
        let index = index();
        let plugin = index.plugin(PluginType::Extractors, "tap-a").unwrap();
        let cases = [
            (None, Some(("meltanolabs", VariantMatch::Default))),
            (
                Some("default"),
                Some(("meltanolabs", VariantMatch::Default)),
            ),
            (
                Some("original"),
                Some(("meltanolabs", VariantMatch::Default)),
            ),
            (Some("autoidm"), Some(("autoidm", VariantMatch::Exact))),
            (
                Some("AutoIDM"),
                Some(("autoidm", VariantMatch::CaseInsensitive)),
            ),
            (Some("nope"), None),
        ];
        for (requested, expected) in cases {
            let found = plugin
                .variant(requested)
                .map(|variant| (variant.name(), variant.matched()));
            assert_eq!(found, expected, "{requested:?}");
        }
        let no_default = index.plugin(PluginType::Extractors, "tap-b").unwrap();
        assert!(no_default.variant(None).is_none());
    }

    #[test]
    fn definitions_are_served_like_the_hub_api() {
        let index = index();
        let plugin = index.plugin(PluginType::Extractors, "tap-a").unwrap();
        let definition = plugin.definition(None).unwrap().unwrap();
        assert_eq!(
            definition.logo_url.as_deref(),
            Some("https://hub.meltano.com/l.png")
        );
        assert_eq!(
            definition.docs.as_deref(),
            Some("https://hub.meltano.com/extractors/tap-a--meltanolabs")
        );
        let other = plugin.definition(Some("autoidm")).unwrap().unwrap();
        assert_eq!(other.extras["x"], 1);
    }

    #[test]
    fn names_and_types() {
        let index = index();
        assert_eq!(
            index.names(PluginType::Extractors).collect::<Vec<_>>(),
            ["tap-a", "tap-b"]
        );
        assert_eq!(
            index.types_of("tap-a"),
            [PluginType::Extractors, PluginType::Loaders]
        );
        assert!(index.types_of("tap-z").is_empty());
        assert_eq!(
            (index.source(), index.date()),
            ("meltano/hub@abc", "2026-01-02")
        );
    }

    /// `cargo test --release --lib parse_timing -- --ignored --nocapture` prints how long the
    /// directory and one definition take to parse.
    #[test]
    #[ignore = "timing, not a check"]
    fn parse_timing() {
        let runs = 200_u32;
        let start = std::time::Instant::now();
        for _ in 0..runs {
            std::hint::black_box(HubIndex::from_parts(BUNDLED_INDEX, BUNDLED_DEFINITIONS).unwrap());
        }
        let directory = start.elapsed() / runs;
        let index = HubIndex::bundled();
        let plugin = index.plugin(PluginType::Extractors, "tap-github").unwrap();
        let start = std::time::Instant::now();
        for _ in 0..runs {
            std::hint::black_box(plugin.definition(None).unwrap().unwrap());
        }
        println!(
            "index.json: {directory:?}; tap-github definition: {:?}",
            start.elapsed() / runs
        );
    }

    #[test]
    fn bundled_index_parses_and_knows_common_plugins() {
        let index = HubIndex::bundled();
        let plugin = index.plugin(PluginType::Extractors, "tap-gitlab").unwrap();
        assert_eq!(plugin.default_variant(), Some("meltanolabs"));
        let definition = plugin.definition(None).unwrap().unwrap();
        assert_eq!(definition.namespace, "tap_gitlab");
    }
}
