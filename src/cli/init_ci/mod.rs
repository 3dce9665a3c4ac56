//! `meltc init-ci`: write the CI setup of a project (`files`): a GitHub Actions workflow, a
//! shell script for any other CI, and the pre-commit hook.
//!
//! 1. Find the project (as every command does) and check that it is inside `--dir`.
//! 2. Plan each file: new, unchanged, or existing with other content. Nothing is written when
//!    a file would be overwritten without `--force`.
//! 3. `.pre-commit-config.yaml` holds the user's other hooks, so it is never overwritten, not
//!    even with `--force`: the hook is appended when the file's `repos:` list is its last key
//!    and the result still parses with one more repository; otherwise the snippet to add is
//!    printed.
//! 4. Each file is written atomically (`crate::atomic_file`: a sibling, then a rename).

mod files;

use std::path::{Path, PathBuf};

use super::args::InitCiArgs;
use super::open::{find_root, shown_path};
use super::{Context, Outcome};
use crate::diagnostics::render;
use crate::project;

/// What to do with one file.
enum Plan {
    /// Write it (new, or `--force` over other content).
    Write {
        path: PathBuf,
        text: String,
        executable: bool,
        replaces: bool,
    },
    /// Already there with this content.
    Unchanged(PathBuf),
    /// There with other content, and no `--force`.
    Conflict(PathBuf),
}

/// Run `meltc init-ci`.
pub fn run(project_root: Option<&Path>, args: &InitCiArgs, context: &mut Context<'_>) -> Outcome {
    let root = match find_root(project_root, context) {
        Ok(root) => root,
        Err(diagnostic) => {
            let text = render::human(&[*diagnostic], &Default::default(), context.style);
            let _ = context.stderr.write_all(text.as_bytes());
            return Outcome::Failure;
        }
    };
    let dir = match &args.dir {
        Some(dir) if dir.is_absolute() => dir.clone(),
        Some(dir) => context.cwd.join(dir),
        None => context.cwd.clone(),
    };
    let Some(project) = project_in(&root, &dir) else {
        let _ = writeln!(
            context.stderr,
            "error: the project `{}` is not inside `{}`\n  help: CI files go in the repository that holds the project: `meltc init-ci --dir <its root>`",
            shown_path(&root, &context.cwd),
            shown_path(&dir, &context.cwd)
        );
        return Outcome::Failure;
    };
    let plans = [
        plan(
            &dir,
            files::WORKFLOW,
            files::workflow(&project),
            false,
            args.force,
        ),
        plan(
            &dir,
            files::SCRIPT,
            files::script(&project),
            true,
            args.force,
        ),
    ];
    let conflicts: Vec<&PathBuf> = plans
        .iter()
        .filter_map(|plan| match plan {
            Plan::Conflict(path) => Some(path),
            _ => None,
        })
        .collect();
    if !conflicts.is_empty() {
        for path in conflicts {
            let _ = writeln!(
                context.stderr,
                "error: `{}` exists with other content; nothing was written\n  help: read it, then run `meltc init-ci --force` to replace it",
                shown_path(path, &context.cwd)
            );
        }
        return Outcome::Failure;
    }
    for plan in plans {
        let done = match plan {
            Plan::Write {
                path,
                text,
                executable,
                replaces,
            } => write_atomically(&path, &text, executable).map(|()| {
                format!(
                    "{} `{}`",
                    if replaces { "replaced" } else { "wrote" },
                    shown_path(&path, &context.cwd)
                )
            }),
            Plan::Unchanged(path) => Ok(format!(
                "`{}` is up to date",
                shown_path(&path, &context.cwd)
            )),
            Plan::Conflict(_) => continue,
        };
        match done {
            Ok(message) => {
                let _ = writeln!(context.stderr, "{message}");
            }
            Err(error) => {
                let _ = writeln!(context.stderr, "error: {error}");
                return Outcome::Failure;
            }
        }
    }
    match pre_commit(&dir, &project, context) {
        Ok(()) => {
            let _ = writeln!(
                context.stderr,
                "next: commit these files; the workflow copies meltc from the image `{}` (push it to your registry and set MELTC_IMAGE), and `pre-commit install` enables the hook",
                crate::emit::deploy_settings::DEFAULT_MELTC_IMAGE
            );
            Outcome::Clean
        }
        Err(error) => {
            let _ = writeln!(context.stderr, "error: {error}");
            Outcome::Failure
        }
    }
}

/// The project's folder relative to `dir`, `/`-separated (`.` for `dir` itself), when inside.
fn project_in(root: &Path, dir: &Path) -> Option<String> {
    let dir = dir.canonicalize().ok()?;
    let root = root.canonicalize().ok()?;
    let relative = root.strip_prefix(&dir).ok()?;
    Some(if relative.as_os_str().is_empty() {
        ".".to_owned()
    } else {
        project::slash_path(relative)
    })
}

fn plan(dir: &Path, name: &str, text: String, executable: bool, force: bool) -> Plan {
    let path = dir.join(name);
    let replaces = path.exists();
    match fs_err::read_to_string(&path) {
        Ok(existing) if existing == text => Plan::Unchanged(path),
        // Other content, or unreadable (writing will then say why).
        _ if replaces && !force => Plan::Conflict(path),
        _ => Plan::Write {
            path,
            text,
            executable,
            replaces,
        },
    }
}

/// Add the hook to `.pre-commit-config.yaml`: create it, leave it when it has the hook, append
/// when that is safe, else print the snippet.
fn pre_commit(dir: &Path, project: &str, context: &mut Context<'_>) -> std::io::Result<()> {
    let path = dir.join(files::PRE_COMMIT);
    let shown = shown_path(&path, &context.cwd);
    if !path.exists() {
        write_atomically(&path, &files::pre_commit_config(project), false)?;
        let _ = writeln!(context.stderr, "wrote `{shown}`");
        return Ok(());
    }
    let existing = fs_err::read_to_string(&path)?;
    if existing.contains(files::HOOK_ID) {
        let _ = writeln!(
            context.stderr,
            "`{shown}` already has the `{}` hook; left as it is",
            files::HOOK_ID
        );
        return Ok(());
    }
    if let Some(merged) = append_repo(&existing, project) {
        write_atomically(&path, &merged, false)?;
        let _ = writeln!(
            context.stderr,
            "added the `{}` hook to `{shown}`",
            files::HOOK_ID
        );
        return Ok(());
    }
    let _ = writeln!(
        context.stderr,
        "`{shown}` exists and its `repos:` list cannot be extended safely (not its last key, or not a block list); left as it is\n  help: add this item to its `repos:` list (printed on stdout)"
    );
    context
        .stdout
        .write_all(files::pre_commit_repo(project, "").as_bytes())
}

/// `existing` with the hook's repository appended to `repos:`, when `repos:` is the last
/// top-level key and a block list, and the result parses with exactly one more repository.
fn append_repo(existing: &str, project: &str) -> Option<String> {
    let lines: Vec<&str> = existing.lines().collect();
    let start = lines
        .iter()
        .rposition(|line| !line.starts_with([' ', '\t', '#', '-']) && !line.trim().is_empty())?;
    if lines[start].split('#').next()?.trim_end() != "repos:" {
        return None;
    }
    let indent: String = lines[start + 1..]
        .iter()
        .find(|line| line.trim_start().starts_with("- "))
        .map(|line| line[..line.len() - line.trim_start().len()].to_owned())?;
    let mut merged = existing.to_owned();
    if !merged.ends_with('\n') {
        merged.push('\n');
    }
    merged.push_str(&files::pre_commit_repo(project, &indent));
    (repository_count(&merged)? == repository_count(existing)? + 1).then_some(merged)
}

/// How many items `repos:` has, when the text parses as YAML.
fn repository_count(text: &str) -> Option<usize> {
    let source = crate::diagnostics::SourceFile::new(files::PRE_COMMIT, files::PRE_COMMIT, text);
    let parsed = crate::yaml::parse(crate::diagnostics::FileId(0), &source);
    if !parsed.diagnostics.is_empty() {
        return None;
    }
    Some(parsed.root?.get("repos")?.as_sequence()?.len())
}

/// Write atomically (`atomic_file`), then make a script executable.
fn write_atomically(path: &Path, text: &str, executable: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    crate::atomic_file::write(path, text)?;
    if executable {
        fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::append_repo;

    #[test]
    fn appends_to_a_last_block_list_only() {
        let existing = "repos:\n  - repo: https://example.invalid/hooks\n    rev: v1\n    hooks:\n      - id: x\n";
        let merged = append_repo(existing, ".").unwrap();
        assert!(merged.starts_with(existing));
        assert!(merged.ends_with("  - repo: local\n    hooks:\n    - id: meltc-validate\n      name: meltc validate\n      entry: meltc validate\n      language: system\n      # Included files can have any name: any YAML or lock file change re-checks.\n      files: (\\.ya?ml|\\.lock)$\n      pass_filenames: false\n"), "{merged}");
        // `repos:` not last, a flow list, no list at all: left alone.
        assert_eq!(
            append_repo(
                "repos:\n- repo: a\n  hooks: []\nci:\n  autofix: true\n",
                "."
            ),
            None
        );
        assert_eq!(append_repo("repos: []\n", "."), None);
        assert_eq!(append_repo("default_stages: [pre-commit]\n", "."), None);
    }
}
