//! A plan as text: for people (a terminal), and as Markdown for a pull-request comment. The
//! JSON form is the [`Plan`] type itself (`schemas/plan.schema.json`).

use std::fmt::Write as _;

use super::{AgainstKind, Change, ChangeKind, Plan, StateIdChange};

/// The lists of a plan with their titles, in the order they are shown.
fn sections(plan: &Plan) -> [(&'static str, &[Change]); 8] {
    [
        ("Jobs", &plan.jobs),
        ("Schedules", &plan.schedules),
        ("Plugins", &plan.plugins),
        ("Settings", &plan.settings),
        ("Images", &plan.images),
        ("Secret keys", &plan.secret_keys),
        ("ConfigMap values", &plan.config_map),
        ("Files", &plan.files),
    ]
}

fn sign(change: ChangeKind) -> &'static str {
    match change {
        ChangeKind::Added => "+",
        ChangeKind::Changed => "~",
        ChangeKind::Removed => "-",
    }
}

fn kind_text(kind: AgainstKind) -> &'static str {
    match kind {
        AgainstKind::Manifest => "manifest",
        AgainstKind::Folder => "build output folder",
        AgainstKind::Git => "git revision",
    }
}

fn environment(plan: &Plan) -> String {
    plan.environment.as_ref().map_or_else(
        || "no environment".to_owned(),
        |name| format!("environment `{name}`"),
    )
}

/// One change on one line: `~ name: before -> after`.
fn change_line(change: &Change) -> String {
    let mut line = format!("{} {}", sign(change.change), change.name);
    match (&change.before, &change.after) {
        (Some(before), Some(after)) => {
            let _ = write!(line, ": {before} -> {after}");
        }
        (None, Some(value)) | (Some(value), None) => {
            let _ = write!(line, ": {value}");
        }
        (None, None) => {}
    }
    line
}

fn fresh_line(id: &StateIdChange) -> String {
    let jobs = id.jobs.join(", ");
    let mut line = if id.stored == Some(true) {
        format!("{} already holds state (job {jobs})", id.state_id)
    } else {
        format!(
            "{} starts fresh: its first run is a full sync (job {jobs})",
            id.state_id
        )
    };
    if let Some(from) = &id.renamed {
        let _ = write!(
            line,
            "; it replaces {from}: keep its bookmarks with `meltc-run state copy {from} {}` before the first run",
            id.state_id
        );
    }
    line
}

fn orphaned_line(id: &StateIdChange) -> String {
    let jobs = id.jobs.join(", ");
    if id.stored == Some(false) {
        format!(
            "{} is no longer run (was job {jobs}); the backend holds no state for it",
            id.state_id
        )
    } else {
        format!(
            "{} is orphaned: no job runs it any more (was job {jobs}); its bookmarks stay in the backend",
            id.state_id
        )
    }
}

/// The state findings, one line each.
fn state_lines(plan: &Plan) -> Vec<String> {
    let state = &plan.state;
    let mut lines = Vec::new();
    if let Some(backend) = &state.backend {
        lines.push(format!(
            "the state backend changes ({}): every state ID starts fresh there unless its state is copied",
            change_line(backend).trim_start_matches("~ ")
        ));
    }
    lines.extend(state.fresh.iter().map(fresh_line));
    lines.extend(state.orphaned.iter().map(orphaned_line));
    for ineffective in &state.ineffective {
        lines.push(format!(
            "{}: {} -> {} has no effect on {} ({}): {}",
            ineffective.setting,
            ineffective.before,
            ineffective.after,
            ineffective.state_ids.join(", "),
            if state.bookmarks_from == "assumed" {
                "a bookmark is assumed to exist"
            } else {
                "it holds a bookmark"
            },
            ineffective.reason
        ));
    }
    lines
}

/// The counts line.
fn summary(plan: &Plan) -> String {
    if !plan.changes {
        return "Nothing to deploy.".to_owned();
    }
    let count = |kind: ChangeKind| {
        sections(plan)
            .iter()
            .filter(|(title, _)| *title != "Files")
            .flat_map(|(_, changes)| changes.iter())
            .filter(|change| change.change == kind)
            .count()
    };
    let mut text = format!(
        "Plan: {} added, {} changed, {} removed",
        count(ChangeKind::Added),
        count(ChangeKind::Changed),
        count(ChangeKind::Removed)
    );
    let files = plan.files.len();
    let _ = write!(text, ", {files} file{}", if files == 1 { "" } else { "s" });
    let state = &plan.state;
    let _ = write!(
        text,
        "; state: {} fresh, {} orphaned, {} ineffective.",
        state.fresh.len(),
        state.orphaned.len(),
        state.ineffective.len()
    );
    text
}

/// For a terminal.
#[must_use]
pub fn human(plan: &Plan) -> String {
    let mut text = format!(
        "meltc plan: {} against {} ({})\n",
        environment(plan),
        plan.against.given,
        kind_text(plan.against.kind)
    );
    for (title, changes) in sections(plan) {
        if changes.is_empty() {
            continue;
        }
        let _ = writeln!(text, "\n{title}:");
        for change in changes {
            let _ = writeln!(text, "  {}", change_line(change));
        }
    }
    let state = state_lines(plan);
    if !state.is_empty() {
        let _ = writeln!(text, "\nState (bookmarks: {}):", plan.state.bookmarks_from);
        for line in state {
            let _ = writeln!(text, "  ! {line}");
        }
    }
    let _ = writeln!(text, "\n{}", summary(plan));
    text
}

/// Markdown text in a table cell: pipes escaped, code spans for names and values.
fn cell(text: &str) -> String {
    let text = text.replace('|', "\\|").replace('\n', " ");
    if text.contains('`') {
        text
    } else {
        format!("`{text}`")
    }
}

/// For a pull-request comment. The first line is an HTML comment naming the environment, so
/// that a workflow can find and update its own comment.
#[must_use]
pub fn markdown(plan: &Plan) -> String {
    let name = plan.environment.as_deref().unwrap_or("_no_environment");
    let mut text = format!("<!-- meltc-plan:{name} -->\n");
    let _ = writeln!(
        text,
        "### meltc plan: {} against `{}` ({})\n",
        environment(plan),
        plan.against.given.replace('`', "'"),
        kind_text(plan.against.kind)
    );
    let _ = writeln!(text, "**{}**", summary(plan));
    let state = state_lines(plan);
    if !state.is_empty() {
        let _ = writeln!(
            text,
            "\n#### State (bookmarks: {})\n",
            plan.state.bookmarks_from
        );
        for line in state {
            let _ = writeln!(text, "- :warning: {line}");
        }
    }
    for (title, changes) in sections(plan) {
        if changes.is_empty() {
            continue;
        }
        if title == "Files" {
            let names: Vec<String> = changes
                .iter()
                .map(|change| format!("{} {}", sign(change.change), cell(&change.name)))
                .collect();
            let _ = writeln!(text, "\n#### Files\n\n{}", names.join(", "));
            continue;
        }
        let _ = writeln!(text, "\n#### {title}\n");
        let _ = writeln!(text, "| | name | deployed | after the deploy |");
        let _ = writeln!(text, "| --- | --- | --- | --- |");
        for change in changes {
            let value = |value: &Option<String>| value.as_deref().map_or_else(String::new, cell);
            let _ = writeln!(
                text,
                "| {} | {} | {} | {} |",
                match change.change {
                    ChangeKind::Added => "added",
                    ChangeKind::Changed => "changed",
                    ChangeKind::Removed => "removed",
                },
                cell(&change.name),
                value(&change.before),
                value(&change.after)
            );
        }
    }
    text
}
