//! The deployed side of a plan, from what `--against` names:
//!
//! - a manifest file: the other files are generated from it by this meltc (the emitters are
//!   deterministic), so images, Secret keys and ConfigMap values are the ones it would deploy;
//! - a build output folder (`deploy/<env>/`, or `deploy/` holding one): the manifest and the
//!   files listed in its `.meltc-generated`, as they are on disk;
//! - a git revision (`REV`, the build output folder of the environment at that revision, or
//!   `REV:PATH` for another folder or a manifest file), read with the `git` command
//!   (`git ls-tree`, `git cat-file`): no checkout, nothing written.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{AgainstKind, Side};
use crate::emit::{self, Artifacts, INDEX_FILE};
use crate::manifest::{self, Manifest};

/// Where the deployed side is and what the new build would put there.
pub struct Request<'a> {
    /// `--against` as given.
    pub given: &'a str,
    /// The working directory (relative paths start here).
    pub cwd: &'a Path,
    /// The folder `meltc build` writes this environment to (`<root>/deploy/<env>`), for a bare
    /// git revision.
    pub build_folder: &'a Path,
    /// The environment's folder name (`prod`), to find it inside a `deploy/` folder.
    pub folder_name: &'a str,
    /// The project files the emitters copy, for a manifest given alone.
    pub inputs: &'a emit::Inputs,
}

/// Read the deployed side.
///
/// # Errors
/// A message naming what could not be read and why.
pub fn load(request: &Request<'_>) -> Result<(Side, AgainstKind), String> {
    // Messages name paths as given (relative to the working directory), never absolute.
    let path = request.cwd.join(request.given);
    if path.is_file() {
        let text = read(&path)?;
        return Ok((
            from_manifest(&text, request.given, request)?,
            AgainstKind::Manifest,
        ));
    }
    if path.is_dir() {
        let (folder, shown) = if path.join(manifest::FILE_NAME).is_file() {
            (path, request.given.to_owned())
        } else {
            (
                path.join(request.folder_name),
                format!(
                    "{}/{}",
                    request.given.trim_end_matches('/'),
                    request.folder_name
                ),
            )
        };
        return Ok((from_folder(&folder, &shown)?, AgainstKind::Folder));
    }
    Ok((from_git(request)?, AgainstKind::Git))
}

fn read(path: &Path) -> Result<String, String> {
    fs_err::read_to_string(path).map_err(|error| error.to_string())
}

fn parse_manifest(text: &str, shown: &str) -> Result<Manifest, String> {
    Manifest::from_json(text).map_err(|error| format!("{shown}: {error}"))
}

fn from_manifest(text: &str, shown: &str, request: &Request<'_>) -> Result<Side, String> {
    let manifest = parse_manifest(text, shown)?;
    let files = emit::emit(&manifest, request.inputs, &[]).map_err(|problems| {
        format!(
            "{shown}: cannot generate its files: {}",
            problems.join("; ")
        )
    })?;
    Side::new(manifest, files).map_err(|error| format!("{shown}: {error}"))
}

fn from_folder(folder: &Path, shown: &str) -> Result<Side, String> {
    let manifest_path = folder.join(manifest::FILE_NAME);
    if !manifest_path.is_file() {
        return Err(format!(
            "{shown} holds no {}: not a build output folder",
            manifest::FILE_NAME
        ));
    }
    let manifest = parse_manifest(
        &read(&manifest_path)?,
        &format!("{shown}/{}", manifest::FILE_NAME),
    )?;
    let listed = match fs_err::read_to_string(folder.join(INDEX_FILE)) {
        Ok(text) => emit::parse_index(&text),
        Err(_) => walk(folder),
    };
    let mut files = Artifacts::new();
    for path in listed.into_iter().filter(|path| emit::is_safe_path(path)) {
        let file = folder.join(&path);
        // A listed file that is gone is one a deploy adds back.
        if file.is_file() {
            files.insert(path, read(&file)?);
        }
    }
    Side::new(manifest, files).map_err(|error| format!("{shown}: {error}"))
}

/// Every file under `folder`, `/`-separated, for a folder without an index.
fn walk(folder: &Path) -> Vec<String> {
    let mut paths: Vec<String> = walkdir::WalkDir::new(folder)
        .into_iter()
        .flatten()
        .filter(|entry| entry.file_type().is_file())
        .filter_map(|entry| {
            let relative = entry.path().strip_prefix(folder).ok()?;
            let parts: Vec<String> = relative
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect();
            Some(parts.join("/"))
        })
        .collect();
    paths.sort();
    paths
}

/// `git` in `dir`; stdout, or a message with git's stderr.
fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|error| format!("cannot run git: {error}"))?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}

fn git_text(dir: &Path, args: &[&str]) -> Result<String, String> {
    String::from_utf8(git(dir, args)?).map_err(|_| format!("git {} is not UTF-8", args.join(" ")))
}

fn from_git(request: &Request<'_>) -> Result<Side, String> {
    let not_found = |why: &str| {
        format!(
            "`{}` is neither a file, a folder nor a git revision ({why})",
            request.given
        )
    };
    let (revision, path) = match request.given.split_once(':') {
        Some((revision, path)) if !revision.is_empty() => (revision, request.cwd.join(path)),
        _ => (request.given, request.build_folder.to_path_buf()),
    };
    let top =
        git_text(request.cwd, &["rev-parse", "--show-toplevel"]).map_err(|e| not_found(&e))?;
    let top = PathBuf::from(top.trim());
    let commit = format!("{revision}^{{commit}}");
    git(request.cwd, &["rev-parse", "--verify", "--quiet", &commit])
        .map_err(|_| not_found(&format!("git knows no revision `{revision}`")))?;
    let relative = repository_path(&top, &path).ok_or_else(|| {
        format!(
            "{} is outside the git repository {}",
            path.display(),
            top.display()
        )
    })?;
    let shown = format!("{revision}:{relative}");
    let blob = |file: &str| -> Result<Option<String>, String> {
        let object = if relative.is_empty() {
            format!("{revision}:{file}")
        } else if file.is_empty() {
            format!("{revision}:{relative}")
        } else {
            format!("{revision}:{relative}/{file}")
        };
        match git(&top, &["cat-file", "-e", &object]) {
            Ok(_) => git_text(&top, &["cat-file", "blob", &object]).map(Some),
            Err(_) => Ok(None),
        }
    };
    let kind = git_text(&top, &["cat-file", "-t", &format!("{revision}:{relative}")])
        .map_err(|_| format!("{shown} does not exist at revision `{revision}`"))?;
    if kind.trim() == "blob" {
        let text = blob("")?.unwrap_or_default();
        return from_manifest(&text, &shown, request);
    }
    let manifest_text = blob(manifest::FILE_NAME)?.ok_or_else(|| {
        format!(
            "{shown} holds no {}: not a build output folder",
            manifest::FILE_NAME
        )
    })?;
    let manifest = parse_manifest(&manifest_text, &format!("{shown}/{}", manifest::FILE_NAME))?;
    let listed = match blob(INDEX_FILE)? {
        Some(text) => emit::parse_index(&text),
        None => {
            let prefix = format!("{relative}/");
            git_text(
                &top,
                &[
                    "ls-tree",
                    "-r",
                    "--name-only",
                    "--full-tree",
                    revision,
                    "--",
                    &prefix,
                ],
            )?
            .lines()
            .filter_map(|line| line.strip_prefix(&prefix).map(str::to_owned))
            .collect()
        }
    };
    let mut files = Artifacts::new();
    for path in listed.into_iter().filter(|path| emit::is_safe_path(path)) {
        if let Some(text) = blob(&path)? {
            files.insert(path, text);
        }
    }
    Side::new(manifest, files).map_err(|error| format!("{shown}: {error}"))
}

/// `path` relative to the repository's top folder, `/`-separated (lexically: the folder may
/// no longer exist in the working tree).
fn repository_path(top: &Path, path: &Path) -> Option<String> {
    let top = fs_err::canonicalize(top).ok()?;
    // Canonicalize the longest part of `path` that exists, then add the rest as written.
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    while !existing.exists() {
        rest.push(existing.file_name()?.to_os_string());
        existing = existing.parent()?.to_path_buf();
    }
    let mut full = fs_err::canonicalize(&existing).ok()?;
    for part in rest.into_iter().rev() {
        full.push(part);
    }
    let mut parts = Vec::new();
    for component in full.strip_prefix(&top).ok()?.components() {
        match component {
            std::path::Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            std::path::Component::ParentDir => {
                parts.pop()?;
            }
            _ => {}
        }
    }
    Some(parts.join("/"))
}
