//! Job tasks: every block must name a plugin, mapping or `plugin:command`, and the blocks must
//! follow `meltano run`'s grammar (Meltano's `TaskSets.flat_args` in `core/task_sets.py`,
//! `BlockParser` in `core/block/block_parser.py`): an extractor starts a set that continues
//! with mappings and ends with one loader; other plugins run alone.

use super::ProjectIndex;
use crate::diagnostics::{Diagnostic, codes, suggest};
use crate::meltano::PluginType;
use crate::project::model::{Named, Plugin, Token};

/// Check every job's tasks.
pub fn check(index: &ProjectIndex<'_>, diagnostics: &mut Vec<Diagnostic>) {
    for job in crate::project::model::jobs(&index.project.merged) {
        let Some((tasks_key, tasks)) = job.node.entry("tasks") else {
            continue;
        };
        if tasks.as_str().is_some() {
            diagnostics.push(
                Diagnostic::new(&codes::TASK_STRING, format!("the tasks of job `{}` are a string, not a list", job.name))
                    .at(tasks.span, "a string")
                    .also(tasks_key.span, "tasks")
                    .help("Meltano runs each character as a block and fails: write `tasks: [\"tap-x target-y\"]`"),
            );
            continue;
        }
        // Meltano flattens every task of a job into one block list (`[tap, target]` is one set).
        check_blocks(index, &job, &index.blocks(&job), diagnostics);
    }
}

/// What a block name refers to.
enum Block<'a> {
    Plugin(Plugin<'a>),
    Mapping(Plugin<'a>),
}

fn check_blocks(
    index: &ProjectIndex<'_>,
    job: &Named<'_>,
    tokens: &[Token],
    diagnostics: &mut Vec<Diagnostic>,
) {
    let mut open_set: Option<&Token> = None;
    let reported_before = diagnostics.len();
    for token in tokens {
        // `meltano run` stops at the first bad block; what follows would only be noise.
        if diagnostics.len() > reported_before {
            return;
        }
        let Some(block) = resolve(index, job, token, diagnostics) else {
            open_set = None;
            continue;
        };
        match block {
            Block::Mapping(_) if open_set.is_some() => {}
            Block::Plugin(plugin)
                if open_set.is_some() && plugin.plugin_type == PluginType::Loaders =>
            {
                open_set = None
            }
            Block::Plugin(plugin) if plugin.plugin_type == PluginType::Mappers => {
                let mappings: Vec<_> = plugin
                    .mapping_names()
                    .iter()
                    .map(|m| format!("`{}`", m.name))
                    .collect();
                let help = if mappings.is_empty() {
                    format!(
                        "add a `mappings:` list to `{}` and name a mapping here",
                        plugin.name()
                    )
                } else {
                    format!("name one of its mappings instead: {}", mappings.join(", "))
                };
                diagnostics.push(
                    Diagnostic::new(
                        &codes::TASK_MAPPER_NAME,
                        format!(
                            "job `{}` names the mapper plugin `{}`",
                            job.name, token.text
                        ),
                    )
                    .at(token.span, "a mapper, not a mapping")
                    .help(help),
                );
            }
            Block::Plugin(plugin) if plugin.plugin_type == PluginType::Extractors => {
                if let Some(start) = open_set {
                    diagnostics.push(loader_missing(job, start));
                }
                open_set = Some(token);
            }
            Block::Plugin(plugin) if open_set.is_some() => {
                diagnostics.push(
                    Diagnostic::new(&codes::TASK_SEQUENCE, format!("job `{}`: expected a mapping or a loader after `{}`, found the {} `{}`", job.name, open_set.map_or("", |t| t.text.as_str()), plugin.plugin_type.singular(), token.text))
                        .at(token.span, "not a mapping or loader")
                        .help("an extractor must be followed by its mappings and exactly one loader before any other block"),
                );
                open_set = None;
            }
            // Meltano's block parser makes any other plugin a command block and invokes it;
            // a dbt package (`DbtTransformPlugin`) or a file bundle (`FilePlugin`) is not
            // invokable (core/plugin/dbt/base.py, core/plugin/file.py), so the run fails.
            Block::Plugin(plugin)
                if matches!(
                    plugin.plugin_type,
                    PluginType::Transforms | PluginType::Files
                ) =>
            {
                let what = if plugin.plugin_type == PluginType::Transforms {
                    "a legacy `transforms` plugin (a dbt package)"
                } else {
                    "a `files` bundle"
                };
                diagnostics.push(
                    Diagnostic::new(
                        &codes::TASK_NOT_INVOKABLE,
                        format!(
                            "job `{}` runs `{}`, {what}, which Meltano cannot run",
                            job.name, token.text
                        ),
                    )
                    .at(token.span, "not a runnable plugin")
                    .help("run dbt as a utility with a command instead (`dbt-postgres:run`), or remove the task"),
                );
            }
            Block::Plugin(plugin) | Block::Mapping(plugin)
                if matches!(
                    plugin.plugin_type,
                    PluginType::Loaders | PluginType::Mappers
                ) =>
            {
                diagnostics.push(
                    Diagnostic::new(
                        &codes::TASK_SEQUENCE,
                        format!(
                            "job `{}`: `{}` must follow an extractor",
                            job.name, token.text
                        ),
                    )
                    .at(token.span, "no extractor before this")
                    .help("put the extractor first: `tap-x [mapping ...] target-y`"),
                );
            }
            Block::Plugin(_) | Block::Mapping(_) => {}
        }
    }
    if let (Some(start), true) = (open_set, diagnostics.len() == reported_before) {
        diagnostics.push(loader_missing(job, start));
    }
}

fn loader_missing(job: &Named<'_>, start: &Token) -> Diagnostic {
    Diagnostic::new(
        &codes::TASK_SEQUENCE,
        format!(
            "job `{}`: the extractor `{}` has no loader",
            job.name, start.text
        ),
    )
    .at(start.span, "no loader follows")
    .help("end the set with a loader: `tap-x target-y`")
}

fn resolve<'a>(
    index: &ProjectIndex<'a>,
    job: &Named<'_>,
    token: &Token,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Block<'a>> {
    if token.text.is_empty() {
        diagnostics.push(
            Diagnostic::new(
                &codes::TASK_EMPTY,
                format!("job `{}` has an empty block name", job.name),
            )
            .at(token.span, "two spaces in a row, or an empty task")
            .help("separate blocks with single spaces; Meltano reads an empty name and fails"),
        );
        return None;
    }
    let mut parts = token.text.splitn(3, ':');
    let (name, command) = match (parts.next(), parts.next(), parts.next()) {
        (Some(name), Some(command), None) => (name, Some(command)),
        _ => (token.text.as_str(), None),
    };
    if index.jobs.contains_key(name) && command.is_none() {
        diagnostics.push(
            Diagnostic::new(&codes::TASK_NESTED_JOB, format!("job `{}` lists the job `{name}`", job.name))
                .at(token.span, "a job inside a job")
                .help(format!("Meltano expands jobs one level only: copy the tasks of `{name}` here, or schedule both jobs")),
        );
        return None;
    }
    // Meltano's `find_plugin` (`resolve::mapping`): a plugin, or a mapping listed before it.
    match index.resolved.find_plugin(name, None) {
        Ok(Some(found)) if found.mapping.is_none() => {
            let plugin = found.entry;
            if let Some(command) = command {
                check_command(index, job, token, &plugin, command, diagnostics);
            }
            return Some(Block::Plugin(plugin));
        }
        Ok(Some(found)) if command.is_none() => return Some(Block::Mapping(found.entry)),
        // Reported where the mappings are defined (`mappings.rs`).
        Err(_) => return None,
        _ => {}
    }
    diagnostics.push(
        Diagnostic::new(
            &codes::UNKNOWN_PLUGIN,
            format!(
                "job `{}` refers to `{name}`, which is not a plugin, mapping or job",
                job.name
            ),
        )
        .at(token.span, "unknown block")
        .maybe_help(
            suggest::help_line(name, index.block_names())
                .or_else(|| Some("define the plugin under `plugins:` or fix the name".to_owned())),
        ),
    );
    None
}

fn check_command<'a>(
    index: &ProjectIndex<'a>,
    job: &Named<'_>,
    token: &Token,
    plugin: &Plugin<'a>,
    command: &str,
    diagnostics: &mut Vec<Diagnostic>,
) {
    if matches!(
        plugin.plugin_type,
        PluginType::Extractors | PluginType::Loaders
    ) {
        return; // ignored inside an extract/load set (Meltano's `BlockParser`)
    }
    let known = index.facts(plugin);
    // Only a complete definition (custom, lock file or hub) can prove a command missing.
    if !known.resolved || known.commands.contains(command) {
        return;
    }
    diagnostics.push(
        Diagnostic::new(
            &codes::TASK_UNKNOWN_COMMAND,
            format!(
                "job `{}` runs `{command}` of `{}`, which defines no such command",
                job.name,
                plugin.name()
            ),
        )
        .at(token.span, "unknown command")
        .maybe_help(
            suggest::help_line(command, known.commands.iter().map(String::as_str)).or_else(|| {
                let list: Vec<_> = known.commands.iter().map(|c| format!("`{c}`")).collect();
                Some(if list.is_empty() {
                    format!("`{}` defines no commands", plugin.name())
                } else {
                    format!("its commands are {}", list.join(", "))
                })
            }),
        ),
    );
}
