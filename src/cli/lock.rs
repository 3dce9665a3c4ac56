//! `meltc lock`: pick the plugins, lock each from the bundled hub index ([`crate::resolve::lock`]),
//! and report one line per plugin, the findings, and a summary on stderr.
//!
//! Where it departs from `meltano lock` (README "meltc lock"): a name that is not a plugin of
//! the project is an error (Meltano ignores it, meltano/meltano#7356); a plugin inheriting from
//! a Hub plugin gets the lock file Meltano reads for it; `--update` leaves a file alone when it
//! holds the same definition; a variant the hub spells in another case is an error, not a
//! crash; a lock that Meltano will not read (no pinned `variant:`) is a warning.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use super::args::LockArgs;
use super::open::{display_prefix, find_root};
use super::{Context, Outcome};
use crate::diagnostics::render;
use crate::diagnostics::{Diagnostic, SourceMap, codes, sort_and_dedup, suggest};
use crate::meltano::PluginType;
use crate::project;
use crate::project::model::{self, Plugin};
use crate::resolve::hub::HubIndex;
use crate::resolve::lock::{self, ApplyError, Change, Locked, Plan, Unavailable};

/// The statuses of the summary, in the order it lists them.
const STATUSES: [&str; 6] = [
    "locked",
    "updated",
    "unchanged",
    "kept",
    "skipped",
    "failed",
];

/// What one run found and did.
#[derive(Default)]
struct Report {
    lines: String,
    diagnostics: Vec<Diagnostic>,
    counts: [usize; STATUSES.len()],
    /// Set when the bundled hub data is broken (a meltc bug).
    broken: bool,
}

impl Report {
    fn line(&mut self, status: &'static str, subject: &str, note: Option<String>) {
        if let Some(index) = STATUSES.iter().position(|known| *known == status) {
            self.counts[index] += 1;
        }
        let _ = match note {
            Some(note) => writeln!(self.lines, "{status} {subject} ({note})"),
            None => writeln!(self.lines, "{status} {subject}"),
        };
    }

    fn summary(&self) -> String {
        let plugins: usize = self.counts.iter().sum();
        let done: Vec<String> = STATUSES
            .iter()
            .zip(self.counts)
            .filter(|(_, count)| *count > 0)
            .map(|(status, count)| format!("{count} {status}"))
            .collect();
        let mut text = if done.is_empty() {
            "no plugin locked".to_owned()
        } else {
            format!(
                "{plugins} plugin{}: {}",
                if plugins == 1 { "" } else { "s" },
                done.join(", ")
            )
        };
        if !self.diagnostics.is_empty() {
            let _ = write!(text, "; {}", render::summary(&self.diagnostics));
        }
        text
    }
}

/// Lock, then print and classify.
pub fn run(project_root: Option<&Path>, args: &LockArgs, context: &mut Context<'_>) -> Outcome {
    let mut report = Report::default();
    let sources = lock_project(project_root, args, context, &mut report);
    sort_and_dedup(&mut report.diagnostics);
    let mut text = std::mem::take(&mut report.lines);
    if !report.diagnostics.is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&render::human(&report.diagnostics, &sources, context.style));
    }
    text.push_str(&report.summary());
    text.push('\n');
    let outcome = if report.broken {
        Outcome::Failure
    } else {
        Outcome::of(&report.diagnostics, false)
    };
    match context.stderr.write_all(text.as_bytes()) {
        Ok(()) => outcome,
        Err(_) => Outcome::Failure,
    }
}

/// Find and load the project, then lock the selected plugins; the files read, for rendering.
fn lock_project(
    project_root: Option<&Path>,
    args: &LockArgs,
    context: &Context<'_>,
    report: &mut Report,
) -> SourceMap {
    let root = match find_root(project_root, context) {
        Ok(root) => root,
        Err(diagnostic) => {
            report.diagnostics.push(*diagnostic);
            return SourceMap::default();
        }
    };
    let prefix = display_prefix(&root, &context.cwd);
    let loaded = project::load(&root, &prefix);
    // Warnings are `meltc validate`'s business; errors mean the plugins cannot be trusted.
    report
        .diagnostics
        .extend(loaded.diagnostics.into_iter().filter(Diagnostic::is_error));
    let Some(project) = loaded.project else {
        return loaded.sources;
    };
    if !report.diagnostics.is_empty() {
        return loaded.sources;
    }
    let plugins = unique_plugins(&project.merged);
    let selected = select(&plugins, args, report);
    let is_project_plugin = |plugin_type: PluginType, name: &str| {
        plugins
            .iter()
            .any(|plugin| plugin.plugin_type == plugin_type && plugin.name() == name)
    };
    let mut locked_paths = BTreeSet::new();
    let shown = |path: &Path| shown_path(&project.root, &prefix, path);
    for plugin in &selected {
        match lock::plan(&project.root, plugin, is_project_plugin) {
            Plan::Custom => report.line(
                "skipped",
                &subject(plugin),
                Some("custom: its meltano.yml entry is its definition".to_owned()),
            ),
            Plan::LegacyFilesBundle => report.line(
                "skipped",
                &subject(plugin),
                Some(format!(
                    "a files bundle from before 2022, not on the hub; today's is `files-{}`",
                    plugin.name()
                )),
            ),
            Plan::InheritsProjectPlugin(parent) => report.line(
                "skipped",
                &subject(plugin),
                Some(format!("inherits from `{parent}`, whose lock file it uses")),
            ),
            Plan::Lock(locked) => {
                if locked_paths.insert(locked.path.clone()) {
                    write_lock(plugin, &locked, args.update, &shown, report);
                } else {
                    report.line(
                        "skipped",
                        &subject(plugin),
                        Some(format!("uses `{}`, locked above", shown(&locked.path))),
                    );
                }
            }
            Plan::Unavailable { reason, existing } => {
                unavailable(plugin, reason, existing.as_deref(), args.update, report);
            }
        }
    }
    project.sources
}

/// The project's plugins in Meltano's order, each (type, name) once: the first wins.
fn unique_plugins(document: &crate::yaml::Node) -> Vec<Plugin<'_>> {
    let mut seen = BTreeSet::new();
    model::plugins(document)
        .into_iter()
        .filter(|plugin| seen.insert((plugin.plugin_type, plugin.name())))
        .collect()
}

/// The plugins the arguments name (all, of `--plugin-type`), in project order; a finding for
/// each name that selects nothing.
fn select<'a>(plugins: &[Plugin<'a>], args: &LockArgs, report: &mut Report) -> Vec<Plugin<'a>> {
    let of_type: Vec<Plugin<'a>> = plugins
        .iter()
        .filter(|plugin| {
            args.plugin_type
                .is_none_or(|kind| plugin.plugin_type == kind)
        })
        .copied()
        .collect();
    if args.plugins.is_empty() {
        // A project without plugins has nothing to lock; a type that selects none is a mistake.
        if let (true, Some(kind)) = (of_type.is_empty(), args.plugin_type) {
            let types: BTreeSet<&str> = plugins.iter().map(|p| p.plugin_type.as_str()).collect();
            report.diagnostics.push(
                Diagnostic::new(
                    &codes::LOCK_NO_PLUGINS,
                    format!("the project has no {kind}"),
                )
                .help(if types.is_empty() {
                    "the project has no plugins at all".to_owned()
                } else {
                    format!(
                        "it has plugins under: {}",
                        types.into_iter().collect::<Vec<_>>().join(", ")
                    )
                }),
            );
        }
        return of_type;
    }
    let mut reported = BTreeSet::new();
    for name in &args.plugins {
        if !of_type.iter().any(|plugin| plugin.name() == name) && reported.insert(name) {
            report
                .diagnostics
                .push(unknown_name(name, plugins, &of_type, args.plugin_type));
        }
    }
    of_type
        .into_iter()
        .filter(|plugin| args.plugins.iter().any(|name| name == plugin.name()))
        .collect()
}

/// A name on the command line that is no plugin (of the type asked for).
fn unknown_name(
    name: &str,
    plugins: &[Plugin<'_>],
    of_type: &[Plugin<'_>],
    plugin_type: Option<PluginType>,
) -> Diagnostic {
    if let (Some(kind), Some(other)) = (
        plugin_type,
        plugins.iter().find(|plugin| plugin.name() == name),
    ) {
        return Diagnostic::new(
            &codes::LOCK_UNKNOWN_PLUGIN,
            format!(
                "`{name}` is {}, not {}",
                article(other.plugin_type),
                article(kind)
            ),
        )
        .at(
            other.entry.name_span,
            format!("defined under `{}`", other.plugin_type),
        )
        .help(format!(
            "use `--plugin-type {}`, or leave `--plugin-type` out",
            other.plugin_type
        ));
    }
    let message = match plugin_type {
        Some(kind) => format!("`{name}` is not {} of the project", article(kind)),
        None => format!("`{name}` is not a plugin of the project"),
    };
    let diagnostic = Diagnostic::new(&codes::LOCK_UNKNOWN_PLUGIN, message);
    if let Some(closest) = suggest::did_you_mean(name, of_type.iter().map(Plugin::name)) {
        let plugin = of_type.iter().find(|plugin| plugin.name() == closest);
        let diagnostic = diagnostic.help(format!("did you mean `{closest}`?"));
        return match plugin {
            Some(plugin) => diagnostic.at(plugin.entry.name_span, "the closest plugin name"),
            None => diagnostic,
        };
    }
    let on_hub = HubIndex::bundled().types_of(name);
    if let Some(kind) = on_hub.first() {
        return diagnostic.help(format!(
            "`{name}` is a hub {}: add it to meltano.yml first (`meltano add {} {name}`)",
            kind.singular(),
            kind.singular()
        ));
    }
    let names: Vec<&str> = of_type.iter().map(Plugin::name).collect();
    diagnostic.help(match names.len() {
        0 => "the project has none".to_owned(),
        1..=12 => format!("the project has: {}", names.join(", ")),
        count => format!("the project has {count} (see `plugins:` in meltano.yml)"),
    })
}

/// Write (or leave) one lock file, and say which.
fn write_lock(
    plugin: &Plugin<'_>,
    locked: &Locked,
    update: bool,
    shown: &impl Fn(&Path) -> String,
    report: &mut Report,
) {
    let subject = format!("{}/{}--{}", plugin.plugin_type, locked.name, locked.variant);
    let parent_of =
        (locked.name != plugin.name()).then(|| format!("the parent of `{}`", plugin.name()));
    let with = |note: &str| match &parent_of {
        Some(parent) if note.is_empty() => Some(parent.clone()),
        Some(parent) => Some(format!("{parent}; {note}")),
        None => (!note.is_empty()).then(|| note.to_owned()),
    };
    match lock::apply(locked, update) {
        Ok(Change::Created) => report.line("locked", &subject, with("")),
        Ok(Change::Updated) => report.line("updated", &subject, with("")),
        Ok(Change::Unchanged) => report.line("unchanged", &subject, with("")),
        Ok(Change::SameDefinition) => report.line(
            "unchanged",
            &subject,
            with("the same definition, written differently: left as it is"),
        ),
        Ok(Change::Differs) => report.line(
            "kept",
            &subject,
            with("the hub index has another definition; `--update` rewrites it"),
        ),
        Ok(Change::Unreadable) => {
            report.line("kept", &subject, with("unreadable; `--update` rewrites it"));
            let problem = crate::resolve::lockfile::read(&locked.path, plugin.plugin_type)
                .err()
                .map_or_else(|| "not a JSON object".to_owned(), |e| e.to_string());
            report.diagnostics.push(
                Diagnostic::new(
                    &codes::PLUGIN_LOCK_INVALID,
                    format!("the lock file `{}` cannot be used: {problem}", shown(&locked.path)),
                )
                .at(plugin.entry.name_span, "locked there")
                .help("`meltc lock --update` rewrites it from the bundled hub index (or restore it from git)"),
            );
            return;
        }
        Err(error) => {
            let (path, source) = match &error {
                ApplyError::Read(error) => (&error.path, &error.source),
                ApplyError::Write(error) => (&error.path, &error.source),
            };
            let verb = if matches!(error, ApplyError::Read(_)) {
                "read"
            } else {
                "write"
            };
            report.line("failed", &subject, Some(format!("cannot {verb} it")));
            report.diagnostics.push(Diagnostic::new(
                &codes::IO,
                format!("cannot {verb} `{}`: {source}", shown(path)),
            ));
            return;
        }
    }
    if !locked.pinned {
        report.diagnostics.push(unpinned(plugin, locked, shown));
    }
}

/// A lock file Meltano will not read: the project does not name the variant exactly.
fn unpinned(plugin: &Plugin<'_>, locked: &Locked, shown: &impl Fn(&Path) -> String) -> Diagnostic {
    let written = plugin.variant();
    let looked_for = format!("{}--{}.lock", locked.name, written.unwrap_or("default"));
    let (span, label) = match plugin.entry.node.get("variant") {
        Some(node) => (node.span, format!("Meltano looks for `{looked_for}`")),
        None => (
            plugin.entry.name_span,
            format!("no `variant:`, so Meltano looks for `{looked_for}`"),
        ),
    };
    let pin = match written {
        Some(_) => format!("write `variant: {}`", locked.variant),
        None => format!("add `variant: {}`", locked.variant),
    };
    Diagnostic::new(
        &codes::LOCK_UNPINNED_VARIANT,
        format!(
            "Meltano will not read `{}`: `{}` does not pin its variant",
            shown(&locked.path),
            plugin.name()
        ),
    )
    .at(span, label)
    .help(format!(
        "{pin} so that Meltano uses this lock file instead of asking the Hub on every run"
    ))
}

/// A plugin the hub index cannot lock: kept when a lock file defines it, else a finding.
fn unavailable(
    plugin: &Plugin<'_>,
    reason: Unavailable,
    existing: Option<&Path>,
    update: bool,
    report: &mut Report,
) {
    let variant_span = plugin
        .entry
        .node
        .get("variant")
        .map_or(plugin.entry.name_span, |node| node.span);
    let hub_name = plugin.inherit_from().unwrap_or(plugin.name());
    if let Some(existing) = existing {
        let keep = match &reason {
            Unavailable::NotOnHub => Some("not in the bundled hub index".to_owned()),
            Unavailable::UnknownVariant(_) | Unavailable::NoDefaultVariant(_) => {
                Some("the bundled hub index does not have this variant".to_owned())
            }
            Unavailable::VariantCase(spelled) if !update => {
                Some(format!("the hub index spells the variant `{spelled}`"))
            }
            Unavailable::VariantCase(_) | Unavailable::Broken(_) => None,
        };
        if let Some(note) = keep {
            report.line(
                "kept",
                &lock_subject(plugin.plugin_type, existing),
                Some(note),
            );
            return;
        }
    }
    let (note, diagnostic) = match reason {
        Unavailable::NotOnHub => ("not in the bundled hub index", not_on_hub(plugin, hub_name)),
        Unavailable::UnknownVariant(variants) => {
            let variant = plugin.variant().unwrap_or_default();
            let help = suggest::help_line(variant, variants.iter().copied()).map_or_else(
                || format!("the hub has: {}", variants.join(", ")),
                |line| format!("{line} (the hub has: {})", variants.join(", ")),
            );
            (
                "unknown variant",
                Diagnostic::new(
                    &codes::PLUGIN_UNKNOWN_VARIANT,
                    format!("`{hub_name}` has no variant `{variant}` in the hub index and no lock file defines it"),
                )
                .at(variant_span, "unknown variant")
                .help(help),
            )
        }
        Unavailable::NoDefaultVariant(variants) => (
            "no default variant",
            Diagnostic::new(
                &codes::PLUGIN_UNKNOWN_VARIANT,
                format!("the hub index names no default variant of `{hub_name}`"),
            )
            .at(variant_span, "which variant?")
            .help(format!("set `variant:` to one of: {}", variants.join(", "))),
        ),
        Unavailable::VariantCase(spelled) => (
            "variant spelled differently",
            Diagnostic::new(
                &codes::PLUGIN_UNKNOWN_VARIANT,
                format!(
                    "`{hub_name}` has no variant `{}` in the hub index, only `{spelled}`",
                    plugin.variant().unwrap_or_default()
                ),
            )
            .at(variant_span, "another case than the hub's")
            .help(format!(
                "the hub spells it `{spelled}`; Meltano's Hub lookup is exact, so write `variant: {spelled}`"
            )),
        ),
        Unavailable::Broken(message) => {
            report.broken = true;
            report.line("failed", &subject(plugin), Some(format!("{message} (a meltc bug: please report it)")));
            return;
        }
    };
    report.line("failed", &subject(plugin), Some(note.to_owned()));
    report.diagnostics.push(diagnostic);
}

/// A plugin (or its `inherit_from`) that the hub index does not have.
fn not_on_hub(plugin: &Plugin<'_>, hub_name: &str) -> Diagnostic {
    let hub = HubIndex::bundled();
    let inherited = plugin.inherit_from().is_some();
    let span = plugin
        .entry
        .node
        .get("inherit_from")
        .filter(|_| inherited)
        .map_or(plugin.entry.name_span, |node| node.span);
    let message = if inherited {
        format!(
            "`{}` inherits from `{hub_name}`, which is neither a plugin of the project nor in the bundled hub index",
            plugin.name()
        )
    } else {
        format!("`{hub_name}` is not in the bundled hub index and no lock file defines it")
    };
    let other_types: Vec<&str> = hub
        .types_of(hub_name)
        .into_iter()
        .map(PluginType::as_str)
        .collect();
    let help = if other_types.is_empty() {
        suggest::help_line(hub_name, hub.names(plugin.plugin_type)).map_or_else(
            || "a plugin that is not on the hub is a custom plugin: give it a `namespace` (and `pip_url`, `executable`, `settings`)".to_owned(),
            |line| format!("{line} (a hub {})", plugin.plugin_type.singular()),
        )
    } else {
        format!(
            "the hub has `{hub_name}` under `{}`: move it there",
            other_types.join("`, `")
        )
    };
    Diagnostic::new(&codes::LOCK_NOT_ON_HUB, message)
        .at(span, "not on the hub")
        .help(help)
}

/// `extractors/tap-x`: a plugin in the per-plugin lines.
fn subject(plugin: &Plugin<'_>) -> String {
    format!("{}/{}", plugin.plugin_type, plugin.name())
}

/// `extractors/tap-x--v`: a lock file in the per-plugin lines.
fn lock_subject(plugin_type: PluginType, path: &Path) -> String {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    format!("{plugin_type}/{stem}")
}

/// `an extractor`, `a loader`.
fn article(plugin_type: PluginType) -> String {
    crate::diagnostics::with_article(plugin_type.singular())
}

/// A path under the project root as the user sees it (like the file names in diagnostics).
fn shown_path(root: &Path, prefix: &str, path: &Path) -> String {
    match path.strip_prefix(root) {
        Ok(relative) => format!("{prefix}{}", project::slash_path(relative)),
        Err(_) => path.display().to_string(),
    }
}
