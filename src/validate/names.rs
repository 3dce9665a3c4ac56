//! Names defined twice. Meltano keeps one silently (the first at run time; for plugins, the last in
//! `meltano compile`) and only notices repeats between included files; meltc reports every
//! repeat, in or across files, with both places.

use std::collections::BTreeMap;

use crate::diagnostics::{Code, Diagnostic, Span, codes};
use crate::project::Project;
use crate::project::model::{self, Named};

/// Report duplicate plugin (per type), job, schedule and environment names.
pub fn check(project: &Project, diagnostics: &mut Vec<Diagnostic>) {
    let mut seen: BTreeMap<(&'static str, String), Span> = BTreeMap::new();
    for file in &project.files {
        let Some(root) = &file.root else { continue };
        let mut defined: Vec<(&'static Code, &'static str, String, Named<'_>)> = Vec::new();
        for plugin in model::plugins(root) {
            defined.push((
                &codes::DUPLICATE_PLUGIN,
                plugin.plugin_type.singular(),
                plugin.plugin_type.as_str().to_owned(),
                plugin.entry,
            ));
        }
        defined.extend(
            model::jobs(root)
                .into_iter()
                .map(|job| (&codes::DUPLICATE_JOB, "job", String::new(), job)),
        );
        defined.extend(
            model::schedules(root)
                .into_iter()
                .map(|s| (&codes::DUPLICATE_SCHEDULE, "schedule", String::new(), s)),
        );
        defined.extend(model::environments(root).into_iter().map(|e| {
            (
                &codes::DUPLICATE_ENVIRONMENT,
                "environment",
                String::new(),
                e,
            )
        }));
        for (code, noun, scope, entry) in defined {
            let key = (code.name, format!("{scope}/{}", entry.name));
            match seen.get(&key) {
                Some(first) => diagnostics.push(
                    Diagnostic::new(code, format!("{noun} `{}` is defined more than once", entry.name))
                        .at(entry.name_span, "defined again here")
                        .also(*first, "first defined here")
                        .help(format!("Meltano uses only one of them at run time (the first): rename or remove one {noun}")),
                ),
                None => {
                    seen.insert(key, entry.name_span);
                }
            }
        }
    }
}
