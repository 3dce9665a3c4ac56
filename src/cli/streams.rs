//! The streams of the manifest: each extractor with a pinned catalog (`meltc catalog`) gets
//! the streams a run of the environment selects from it ([`crate::manifest::PinnedCatalog`]).
//! The rules are meltc-run's own: the plugin prepared as a run prepares it (the manifest's
//! values, no process variable: the build does not depend on the shell it runs in), its
//! selection rules applied by `runtime::catalog`, and the Singer SDK's rule for what a tap
//! syncs. An extractor with its own `catalog:` file or without a pinned catalog gets none, and
//! a project without `catalogs/` builds byte for byte as before.

use std::collections::BTreeMap;
use std::path::Path;

use crate::manifest::{Manifest, PinnedCatalog};
use crate::meltano::PluginType;
use crate::runtime::catalog;
use crate::runtime::pinned_catalog::{self, FOLDER};
use crate::runtime::prepare::{Host, prepare};
use crate::runtime::run::catalog_rules;

/// Fill in `manifest`'s pinned catalogs from `root`'s `catalogs/`.
///
/// # Errors
/// Each pinned catalog that cannot be read or selected from, located.
pub fn attach(root: &Path, manifest: &mut Manifest) -> Result<(), Vec<String>> {
    let folder = root.join(FOLDER);
    if !folder.is_dir() {
        return Ok(());
    }
    let environment = manifest.environment.as_ref().map(|e| e.name.clone());
    let process = BTreeMap::new();
    let literals = BTreeMap::new();
    let host = Host {
        process: &process,
        literals: &literals,
        project_root: root.to_str().unwrap_or("."),
        user_agent: crate::meltano::env_layers::USER_AGENT,
    };
    let mut errors = Vec::new();
    let mut found = Vec::new();
    for (index, plugin) in manifest.plugins.iter().enumerate() {
        if plugin.plugin_type != PluginType::Extractors {
            continue;
        }
        let (path, pinned) =
            match pinned_catalog::load(&folder, &plugin.name, environment.as_deref()) {
                Ok(Some(found)) => found,
                Ok(None) => continue,
                Err(error) => {
                    // Named from the project root, as meltano.yml's diagnostics are.
                    let prefix = format!("{}/", root.display());
                    errors.push(error.strip_prefix(&prefix).unwrap_or(&error).to_owned());
                    continue;
                }
            };
        let shown = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        let prepared = match prepare(manifest, plugin, &host) {
            Ok(prepared) => prepared,
            Err(problems) => {
                let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
                errors.push(format!("{shown}: {}: {}", plugin.name, problems.join("; ")));
                continue;
            }
        };
        let rules = catalog_rules(&prepared);
        if rules.custom_catalog {
            continue;
        }
        let mut selected = pinned.catalog;
        if let Err(error) = catalog::apply(&mut selected, &rules) {
            errors.push(format!("{shown}: {}: {error}", plugin.name));
            continue;
        }
        found.push((
            index,
            PinnedCatalog {
                file: shown,
                streams: catalog::selected_streams(&selected),
            },
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    for (index, pinned) in found {
        manifest.plugins[index].catalog = Some(pinned);
    }
    Ok(())
}
