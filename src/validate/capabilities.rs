//! A plugin's `capabilities` and `log_parser`, as Meltano's schema lists them per plugin type
//! (`meltano/schemas/meltano.schema.json`, read by `meltano compile --lint`).
//!
//! Meltano reads capabilities only to drive an extractor (`catalog`, `properties`,
//! `discover`, `state`: `core/plugin/singer/tap.py`); everything else is documentation. So a
//! capability of another plugin type (`state` on a loader, copied from an extractor) or one
//! that nothing defines (`discovery`) is a warning: it says something Meltano never does.
//! Meltano's schema lags the Singer SDK, whose targets also declare `record-flattening`,
//! `target-schema` and `validate-records` and whose mappers declare `schema-flattening` and
//! `batch` (`singer_sdk/helpers/capabilities.py`); those are accepted without a word, as are
//! the lock files the Hub writes with them (a deliberate departure, schemas/README.md).
//!
//! `log_parser` is an extra of every Singer plugin (`SingerPlugin.EXTRA_SETTINGS`,
//! `core/plugin/singer/base.py`), and Meltano has one parser, `singer-sdk`
//! (`core/logging/parsers.py`); any other name leaves the plugin's log lines as plain text.

use crate::diagnostics::{Diagnostic, codes, suggest};
use crate::project::PluginType;
use crate::project::model::Plugin;
use crate::yaml::Node;

/// Meltano's schema, extractors.
const EXTRACTOR: &[&str] = &[
    "properties",
    "catalog",
    "discover",
    "state",
    "about",
    "stream-maps",
    "activate-version",
    "batch",
    "test",
    "log-based",
    "schema-flattening",
    "structured-logging",
];

/// Meltano's schema, loaders; then the SDK's target capabilities it does not list.
const LOADER: &[&str] = &[
    "about",
    "stream-maps",
    "activate-version",
    "batch",
    "soft-delete",
    "hard-delete",
    "datatype-failsafe",
    "schema-flattening",
    "structured-logging",
    "record-flattening",
    "target-schema",
    "validate-records",
];

/// Meltano's schema, mappers; then the SDK's plugin capabilities it does not list.
const MAPPER: &[&str] = &[
    "about",
    "stream-maps",
    "structured-logging",
    "schema-flattening",
    "batch",
];

/// The only log parser Meltano has.
const LOG_PARSERS: &[&str] = &["singer-sdk"];

/// The capabilities a plugin of `plugin_type` can have (none for non-Singer types).
fn of_type(plugin_type: PluginType) -> &'static [&'static str] {
    match plugin_type {
        PluginType::Extractors => EXTRACTOR,
        PluginType::Loaders => LOADER,
        PluginType::Mappers => MAPPER,
        _ => &[],
    }
}

/// Check a plugin entry's `capabilities` and `log_parser`.
pub fn check(plugin: &Plugin<'_>, diagnostics: &mut Vec<Diagnostic>) {
    let node = plugin.entry.node;
    if let Some((key, list)) = node.entry("capabilities") {
        capabilities(plugin, key, list, diagnostics);
    }
    let singer = matches!(
        plugin.plugin_type,
        PluginType::Extractors | PluginType::Loaders | PluginType::Mappers
    );
    if let (true, Some(parser)) = (singer, node.get("log_parser")) {
        let Some(name) = parser.as_str() else { return };
        if !LOG_PARSERS.contains(&name) && !name.contains('$') {
            diagnostics.push(
                Diagnostic::new(
                    &codes::PLUGIN_LOG_PARSER,
                    format!("`log_parser: {name}` of `{}`: Meltano has no such log parser, so the plugin's log lines stay plain text", plugin.name()),
                )
                .at(parser.span, "unknown log parser")
                .help(suggest::help_line(name, LOG_PARSERS.iter().copied()).unwrap_or_else(|| {
                    "Meltano's only log parser is `singer-sdk` (for Singer SDK plugins); remove the key otherwise".to_owned()
                })),
            );
        }
    }
}

fn capabilities(plugin: &Plugin<'_>, key: &Node, list: &Node, diagnostics: &mut Vec<Diagnostic>) {
    let noun = plugin.plugin_type.singular();
    let allowed = of_type(plugin.plugin_type);
    if allowed.is_empty() {
        if !list.is_null() {
            diagnostics.push(
                Diagnostic::new(
                    &codes::PLUGIN_CAPABILITY,
                    format!("{noun} `{}` lists capabilities, which only extractors, loaders and mappers have", plugin.name()),
                )
                .at(key.span, "never read")
                .help("remove `capabilities:`: Meltano reads them only for Singer plugins"),
            );
        }
        return;
    }
    for item in list.as_sequence().unwrap_or_default() {
        let Some(capability) = item.as_str() else {
            continue; // the schema reports a capability that is not text
        };
        if allowed.contains(&capability) {
            continue;
        }
        let owners: Vec<&str> = [
            (PluginType::Extractors, EXTRACTOR),
            (PluginType::Loaders, LOADER),
            (PluginType::Mappers, MAPPER),
        ]
        .iter()
        .filter(|(_, list)| list.contains(&capability))
        .map(|(owner, _)| owner.singular())
        .collect();
        let (message, label, help) = if owners.is_empty() {
            (
                format!(
                    "`{capability}` is not a capability Meltano or the Singer SDK defines ({noun} `{}`)",
                    plugin.name()
                ),
                "unknown capability",
                suggest::help_line(capability, allowed.iter().copied())
                    .unwrap_or_else(|| format!("{noun} capabilities are {}", allowed.join(", "))),
            )
        } else {
            (
                format!(
                    "`{capability}` is {} capability: Meltano never uses it on the {noun} `{}`",
                    with_owner(&owners),
                    plugin.name()
                ),
                "not a capability of this plugin type",
                format!(
                    "remove it (copied from another plugin?); {noun} capabilities are {}",
                    allowed.join(", ")
                ),
            )
        };
        diagnostics.push(
            Diagnostic::new(&codes::PLUGIN_CAPABILITY, message)
                .at(item.span, label)
                .help(help),
        );
    }
}

/// `an extractor`, `an extractor or loader`.
fn with_owner(owners: &[&str]) -> String {
    crate::diagnostics::with_article(&owners.join(" or "))
}
