//! Plugins installed from a path of the project (`pip_url: -e ./tap-internal`, `-e .`,
//! `${MELTANO_PROJECT_ROOT}/extract/tap-y`): the image installs them from the project, so the
//! path must stay inside it, exist, and be something pip can install. A path that cannot be
//! carried into the image is a warning (the plugin is left out of the image), and an error when
//! a job or schedule runs the plugin, as for plugins meltc cannot resolve (README
//! "`meltc validate`", "The image (Dockerfile, install-plugins.sh)").

use std::collections::BTreeSet;

use super::ProjectIndex;
use super::plugins::used_plugins;
use crate::diagnostics::{Diagnostic, codes};
use crate::meltano::PluginType;
use crate::project::model::Plugin;
use crate::resolve::pip_url::{self, NotInstallable, PipUrl};

/// Run the check over every plugin that writes its own `pip_url`.
pub fn check(index: &ProjectIndex<'_>, diagnostics: &mut Vec<Diagnostic>) {
    let used = venvs_used(index);
    let mut seen = BTreeSet::new();
    for plugin in &index.plugins {
        if matches!(
            plugin.plugin_type,
            PluginType::Transforms | PluginType::Files
        ) || !seen.insert((plugin.plugin_type, plugin.name()))
        {
            continue;
        }
        let Some(node) = plugin.entry.node.get("pip_url") else {
            continue;
        };
        let Some(written) = node.as_str() else {
            continue;
        };
        // Only paths matter here: the Python version is the image's, any will do.
        let Ok(parsed) = pip_url::parse(written, "3") else {
            continue; // an unclosed quote: the build reports it
        };
        let problems: Vec<(String, &str)> = match &parsed {
            PipUrl::NotInstallable(NotInstallable::OutsideProject { path }) => vec![(
                format!("installs from `{path}`, which is outside the project"),
                "the image is built from the project and carries only its own folders: move the package into the project (`./tap-x`), or publish it and pin its version",
            )],
            PipUrl::NotInstallable(NotInstallable::Absolute { path }) => vec![(
                format!("installs from the absolute path `{path}`, a folder of one machine"),
                "write the folder relative to the project: `-e .` for the project itself, `./tap-x` or `${MELTANO_PROJECT_ROOT}/tap-x` below it",
            )],
            PipUrl::NotInstallable(_) => Vec::new(),
            PipUrl::Args(_) => parsed
                .paths()
                .into_iter()
                .filter_map(|path| {
                    let problem = pip_url::check_path(&index.project.root, path).err()?;
                    let help = match problem {
                        pip_url::PathProblem::Missing => {
                            "commit it with the project (the image installs it from there), or correct the path"
                        }
                        pip_url::PathProblem::NotAPackage => {
                            "pip installs a folder only when it holds a Python project"
                        }
                        pip_url::PathProblem::LeavesProject => {
                            "the image is built from the project and cannot follow a link out of it: move the package into the project"
                        }
                    };
                    Some((format!("installs from {}, {problem}", pip_url::describe(path)), help))
                })
                .collect(),
        };
        let used = used.contains(&(plugin.plugin_type, plugin.name()));
        for (what, help) in problems {
            diagnostics.push(diagnostic(plugin, node.span, &what, help, used));
        }
    }
}

fn diagnostic(
    plugin: &Plugin<'_>,
    span: crate::diagnostics::Span,
    what: &str,
    help: &str,
    used: bool,
) -> Diagnostic {
    let (code, consequence, label) = if used {
        (
            &codes::PLUGIN_LOCAL_PATH_USED,
            "a job or schedule runs it, so its image cannot be built",
            "not in the image",
        )
    } else {
        (
            &codes::PLUGIN_LOCAL_PATH,
            "it is left out of the image",
            "left out of the image",
        )
    };
    Diagnostic::new(code, format!("`{}` {what}: {consequence}", plugin.name()))
        .at(span, label)
        .help(help)
}

/// The plugins (type, name) whose virtualenv a job or schedule needs: the plugins used, and
/// for each the `inherit_from` parent it shares its virtualenv with (no `pip_url` of its own,
/// as Meltano's `venv_name`), up the chain.
fn venvs_used<'a>(index: &ProjectIndex<'a>) -> BTreeSet<(PluginType, &'a str)> {
    let mut venvs = BTreeSet::new();
    for (plugin_type, name) in used_plugins(index) {
        let mut current = index.plugin_of_type(plugin_type, name);
        let mut steps = 0;
        while let Some(plugin) = current {
            venvs.insert((plugin_type, plugin.name()));
            steps += 1;
            if plugin.entry.node.get("pip_url").is_some() || steps > index.plugins.len() {
                break;
            }
            current = plugin
                .inherit_from()
                .and_then(|parent| index.plugin_of_type(plugin_type, parent));
        }
    }
    venvs
}
