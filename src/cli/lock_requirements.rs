//! `meltc lock --requirements`: one hashed requirements lock per plugin virtualenv, written by
//! `uv pip compile --generate-hashes` for the image's Python and platform
//! (`annotations.meltc.image`), to `meltc/locks/<type>/<venv>.txt` with a header saying what it
//! was compiled from ([`crate::compile::requirements::Header`]). The Dockerfile then installs
//! exactly that lock with `--require-hashes --no-deps`.
//!
//! A VCS requirement (`git+https://...@ref`) is locked only when its ref is a commit (a tag or
//! branch can move): then it has no hash, and its lock says `hashes: false`. A folder of the
//! project (`-e ./tap-internal`) is locked by its dependencies: uv compiles the folder, the
//! folder's own line (a path, no hash) is left out, and the header records a digest of its
//! `pyproject.toml`/`setup.py`/`setup.cfg` (see [`crate::compile::requirements`]). Anything
//! else it cannot lock (a ref that is not a commit, a variable, a pip option) is reported, with
//! the reason, and left to install from its `pip_url`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use super::args::LockArgs;
use super::build::{Selection, compile_selected};
use super::{Context, Outcome};
use crate::compile::Options;
use crate::compile::requirements::{Header, lock_path, metadata_digest};
use crate::emit::settings;
use crate::resolve::pip_url::{self, PipArg, PipUrl};

/// What one virtualenv is locked from.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Wanted {
    plugins: Vec<String>,
    plugin_type: String,
    pip_url: String,
    python: String,
    platform: String,
}

/// Run `meltc lock --requirements`.
pub fn run(project_root: Option<&Path>, args: &LockArgs, context: &mut Context<'_>) -> Outcome {
    let options = Options {
        allow_ephemeral_state: true,
    };
    let (project, compiled) =
        match compile_selected(project_root, &Selection::All, &options, context) {
            Ok(done) => done,
            Err(outcome) => return outcome,
        };
    let mut wanted: BTreeMap<String, Wanted> = BTreeMap::new();
    let mut errors = Vec::new();
    for compiled in &compiled {
        let deploy = match settings::deploy(&compiled.manifest) {
            Ok(deploy) => deploy,
            Err(problems) => {
                errors.extend(problems);
                continue;
            }
        };
        for plugin in &compiled.manifest.plugins {
            let (Some(venv), Some(pip_url)) = (&plugin.venv, &plugin.pip_url) else {
                continue;
            };
            let entry = Wanted {
                plugins: vec![plugin.name.clone()],
                plugin_type: plugin.plugin_type.clone(),
                pip_url: pip_url.clone(),
                python: deploy.image.python.clone(),
                platform: deploy.image.platform.clone(),
            };
            match wanted.get_mut(venv) {
                None => {
                    wanted.insert(venv.clone(), entry);
                }
                Some(known) if known.python != entry.python || known.platform != entry.platform => {
                    errors.push(format!(
                        "environments disagree on the image Python or platform of `{venv}` ({} on {} against {} on {}): locks are per project, so set annotations.meltc.image at the project level",
                        known.python, known.platform, entry.python, entry.platform
                    ));
                }
                Some(known) => {
                    if !known.plugins.contains(&plugin.name) {
                        known.plugins.push(plugin.name.clone());
                    }
                }
            }
        }
    }
    if !errors.is_empty() {
        for error in errors {
            let _ = writeln!(context.stderr, "error: {error}");
        }
        return Outcome::Findings;
    }
    let selected: Vec<(&String, &Wanted)> = wanted
        .iter()
        .filter(|(_, want)| {
            args.plugins.is_empty() || want.plugins.iter().any(|name| args.plugins.contains(name))
        })
        .filter(|(_, want)| {
            args.plugin_type
                .is_none_or(|kind| kind.as_str() == want.plugin_type)
        })
        .collect();
    if let Some(unknown) = args
        .plugins
        .iter()
        .find(|name| !wanted.values().any(|want| want.plugins.contains(name)))
    {
        let _ = writeln!(
            context.stderr,
            "error: `{unknown}` is not a plugin of the project with a pip_url"
        );
        return Outcome::Findings;
    }
    let uv = context
        .env
        .get("UV")
        .cloned()
        .unwrap_or_else(|| "uv".to_owned());
    let mut report = String::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (venv, want) in selected {
        let (status, note) = lock_one(&project.root, venv, want, &uv, args.update);
        *counts.entry(status).or_default() += 1;
        let _ = writeln!(report, "{status} {venv} ({note})");
    }
    let summary: Vec<String> = counts
        .iter()
        .map(|(status, count)| format!("{count} {status}"))
        .collect();
    let _ = write!(context.stderr, "{report}");
    let _ = writeln!(
        context.stderr,
        "{} virtualenvs: {}",
        counts.values().sum::<usize>(),
        if summary.is_empty() {
            "none".to_owned()
        } else {
            summary.join(", ")
        }
    );
    if counts.contains_key("failed") {
        Outcome::Findings
    } else {
        Outcome::Clean
    }
}

/// Lock one virtualenv: `(status, note)`.
fn lock_one(
    root: &Path,
    venv: &str,
    want: &Wanted,
    uv: &str,
    update: bool,
) -> (&'static str, String) {
    let args = match pip_url::parse(&want.pip_url, &want.python) {
        Err(error) => return ("failed", format!("pip_url: {error}")),
        Ok(PipUrl::NotInstallable(reason)) => return ("skipped", reason.to_string()),
        Ok(PipUrl::Args(args)) => args,
    };
    let paths: Vec<&str> = args
        .iter()
        .filter_map(|arg| match arg {
            PipArg::Path(path) => Some(path.as_str()),
            PipArg::Word(_) => None,
        })
        .collect();
    for path in &paths {
        if let Err(problem) = pip_url::check_path(root, path) {
            return (
                "skipped",
                format!("it installs from {}, {problem}", pip_url::describe(path)),
            );
        }
    }
    let lines = match requirement_lines(&args) {
        Ok(lines) => lines,
        Err(reason) => return ("flagged", reason),
    };
    let header = Header {
        pip_url: Some(want.pip_url.clone()),
        python: Some(want.python.clone()),
        platform: Some(want.platform.clone()),
        hashes: !lines.iter().any(|line| is_vcs(line)),
        metadata: metadata_digest(root, &paths),
    };
    let relative = lock_path(venv);
    let path = root.join(&relative);
    let current = fs_err::read_to_string(&path).ok();
    if let Some(current) = &current {
        if !update && Header::parse(current) == header {
            return ("unchanged", relative);
        }
    }
    let compiled = match compile(uv, root, &lines, want) {
        Ok(compiled) => compiled,
        Err(error) => return ("failed", error),
    };
    // The project's own paths are installed from the project, after the lock (`--no-deps`).
    let own: Vec<String> = paths.iter().map(|path| path_line(path)).collect();
    let compiled: String = compiled
        .lines()
        .filter(|line| !own.iter().any(|path| line.trim() == path))
        .map(|line| format!("{line}\n"))
        .collect();
    if compiled.contains("file://") {
        return (
            "failed",
            "uv wrote a `file://` requirement, which no image can install: lock the plugin's dependencies by hand or publish it".to_owned(),
        );
    }
    let text = format!("{}{compiled}", header.text(venv));
    if current.as_deref() == Some(text.as_str()) {
        return ("unchanged", relative);
    }
    match crate::atomic_file::write(&path, &text) {
        Ok(()) => (
            if current.is_some() {
                "updated"
            } else {
                "locked"
            },
            format!("{relative}, Python {} on {}", want.python, want.platform),
        ),
        Err(error) => ("failed", format!("cannot write `{relative}`: {error}")),
    }
}

/// A path of the project as a requirements line, relative to the project root where uv runs.
fn path_line(path: &str) -> String {
    if path == "." {
        ".".to_owned()
    } else {
        format!("./{path}")
    }
}

/// The requirements file lines of a pip_url's arguments; `Err` says why it is not lockable.
fn requirement_lines(args: &[PipArg]) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    let mut words = args.iter().map(|arg| match arg {
        PipArg::Word(word) => word.clone(),
        PipArg::Path(path) => path_line(path),
    });
    while let Some(word) = words.next() {
        if matches!(word.as_str(), "-c" | "--constraint") {
            let Some(file) = words.next() else {
                return Err(format!("`{word}` without a file"));
            };
            lines.push(format!("-c {file}"));
        } else if word.starts_with('-') {
            return Err(format!("the pip option `{word}` cannot be locked"));
        } else if is_vcs(&word) {
            match vcs_ref(&word) {
                Some(reference) if is_commit(reference) => lines.push(word.clone()),
                Some(reference) => {
                    return Err(format!(
                        "`{word}` pins the ref `{reference}`, not a commit: pin a commit SHA so that the lock can be reproduced"
                    ));
                }
                None => {
                    return Err(format!(
                        "`{word}` pins no commit: add `@<commit SHA>` so that the lock can be reproduced"
                    ));
                }
            }
        } else {
            lines.push(word.clone());
        }
    }
    Ok(lines)
}

/// A VCS requirement (`git+https://...`, or `name @ git+...` written as one word).
fn is_vcs(word: &str) -> bool {
    ["git+", "hg+", "svn+", "bzr+"]
        .iter()
        .any(|scheme| word.starts_with(scheme) || word.contains(&format!("@ {scheme}")))
}

/// The ref of a VCS URL: what follows the last `@` of its path, without a `#fragment`.
fn vcs_ref(word: &str) -> Option<&str> {
    let url = word.split('#').next().unwrap_or(word);
    let path = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = path.split_once('/').map(|(_, path)| path)?;
    path.rsplit_once('@').map(|(_, reference)| reference)
}

fn is_commit(reference: &str) -> bool {
    reference.len() == 40 && reference.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `uv pip compile --generate-hashes` of `lines`, run in the project root (where a path of the
/// project is read from, as by `meltano install`), its output without uv's header.
fn compile(uv: &str, root: &Path, lines: &[String], want: &Wanted) -> Result<String, String> {
    let mut child = Command::new(uv)
        .current_dir(root)
        .args([
            "pip",
            "compile",
            "--quiet",
            "--no-header",
            "--generate-hashes",
            "--python-version",
            &want.python,
            "--python-platform",
            &want.platform,
            "-",
        ])
        .env("UV_PYTHON_DOWNLOADS", "never")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| {
            format!("cannot run `{uv}` ({error}): install uv (`pip install uv`) or point UV at it")
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write as _;
        let input: String = lines.iter().map(|line| format!("{line}\n")).collect();
        stdin
            .write_all(input.as_bytes())
            .map_err(|error| format!("uv: {error}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|error| format!("uv: {error}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let message: Vec<&str> = stderr
            .lines()
            .filter(|line| !line.trim().is_empty())
            .take(6)
            .collect();
        return Err(format!("uv pip compile failed: {}", message.join(" / ")));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::{requirement_lines, vcs_ref};
    use crate::resolve::pip_url::PipArg;

    fn words(words: &[&str]) -> Vec<PipArg> {
        words
            .iter()
            .map(|word| PipArg::Word((*word).to_owned()))
            .collect()
    }

    #[test]
    fn vcs_requirements_must_pin_a_commit() {
        let sha = "5d9115985d3f9e7a568c6dcc68975f0c038253ff";
        let word = format!("git+https://github.com/ets/tap-x.git@{sha}");
        assert_eq!(vcs_ref(&word), Some(sha));
        assert_eq!(
            requirement_lines(&words(&[&word])).unwrap(),
            [word.as_str()]
        );
        let tag = "git+https://github.com/crowemi/target-s3.git@3.2.0";
        assert!(
            requirement_lines(&words(&[tag]))
                .unwrap_err()
                .contains("`3.2.0`, not a commit")
        );
        let bare = "git+https://github.com/x/y.git";
        assert!(
            requirement_lines(&words(&[bare]))
                .unwrap_err()
                .contains("pins no commit")
        );
        let user = "git+https://user@github.com/x/y.git".to_owned();
        assert_eq!(vcs_ref(&user), None);
    }

    #[test]
    fn constraints_pass_options_do_not() {
        assert_eq!(
            requirement_lines(&words(&[
                "apache-airflow==2.8.1",
                "--constraint",
                "https://c/x.txt"
            ]))
            .unwrap(),
            ["apache-airflow==2.8.1", "-c https://c/x.txt"]
        );
        assert!(requirement_lines(&words(&["--pre"])).is_err());
    }

    #[test]
    fn a_project_path_is_a_relative_line_read_from_the_project_root() {
        let args = [
            PipArg::Path("tap-internal".to_owned()),
            PipArg::Path(".".to_owned()),
            PipArg::Word("six==1.16.0".to_owned()),
        ];
        assert_eq!(
            requirement_lines(&args).unwrap(),
            ["./tap-internal", ".", "six==1.16.0"]
        );
    }
}
