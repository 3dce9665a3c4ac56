//! `include_paths`: which files a project pulls in, in which order (Meltano's
//! `ProjectFiles._resolve_include_paths`, `core/project_files.py`).
//!
//! Each pattern is a pathlib-style glob relative to the root (`*`, `?`, `[…]`, `**` = zero or
//! more folders). Meltano returns one pattern's matches in file-system order; meltc sorts them
//! so that the merge order, and so every output, is the same on every machine. The main
//! meltano.yml is skipped, repeats keep their first place, and a match that is not a regular
//! file or that resolves outside the root is an error.

use std::path::{Component, Path, PathBuf};

use globset::GlobBuilder;
use walkdir::WalkDir;

use crate::diagnostics::{Diagnostic, Span, codes};

/// One pattern from `include_paths`, with where it was written.
#[derive(Clone, Debug)]
pub struct Pattern {
    /// The pattern text.
    pub text: String,
    /// Its location in meltano.yml.
    pub span: Span,
}

/// A file to include.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    /// Relative to the root, `/`-separated.
    pub name: String,
    /// On disk.
    pub path: PathBuf,
    /// Index of the pattern that matched it.
    pub pattern: usize,
}

/// Expand the patterns under `root` (the canonical project root).
#[must_use]
pub fn expand(
    root: &Path,
    main_file: &Path,
    patterns: &[Pattern],
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Match> {
    let mut matches: Vec<Match> = Vec::new();
    for (index, pattern) in patterns.iter().enumerate() {
        let found = match expand_one(root, &pattern.text) {
            Ok(found) => found,
            Err(reason) => {
                diagnostics.push(
                    Diagnostic::new(&codes::INCLUDE_BAD_PATTERN, format!("invalid include_paths pattern `{}`: {reason}", pattern.text))
                        .at(pattern.span, "this pattern")
                        .help("write a glob relative to the project root, such as `./extract/*.meltano.yml`"),
                );
                continue;
            }
        };
        if found.is_empty() {
            diagnostics.push(
                Diagnostic::new(
                    &codes::INCLUDE_NO_MATCH,
                    format!("include_paths pattern `{}` matches no file", pattern.text),
                )
                .at(pattern.span, "matches nothing")
                .help("check the pattern; Meltano silently ignores it"),
            );
        }
        for (name, path) in found {
            if let Some(checked) = check_match(root, main_file, &name, &path, pattern, diagnostics)
            {
                if !matches.iter().any(|existing| existing.path == checked) {
                    matches.push(Match {
                        name,
                        path: checked,
                        pattern: index,
                    });
                }
            }
        }
    }
    matches
}

/// Resolve a match; `None` when it is skipped (the main file) or wrong (reported).
fn check_match(
    root: &Path,
    main_file: &Path,
    name: &str,
    path: &Path,
    pattern: &Pattern,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<PathBuf> {
    let name = if name.is_empty() { "." } else { name };
    let Ok(resolved) = path.canonicalize() else {
        diagnostics.push(
            Diagnostic::new(
                &codes::INCLUDE_NOT_A_FILE,
                format!("included path `{name}` is not a file"),
            )
            .at(pattern.span, format!("matches `{name}`, a link to nothing"))
            .help("the symbolic link points at a missing file: fix or remove the link"),
        );
        return None;
    };
    if resolved == main_file {
        return None;
    }
    if !resolved.starts_with(root) {
        diagnostics.push(
            Diagnostic::new(
                &codes::INCLUDE_OUTSIDE_ROOT,
                format!("included path `{name}` is outside the project root"),
            )
            .at(pattern.span, format!("matches `{name}`"))
            .help("Meltano refuses files outside the project root: move the file into the project"),
        );
        return None;
    }
    if !resolved.is_file() {
        diagnostics.push(
            Diagnostic::new(
                &codes::INCLUDE_NOT_A_FILE,
                format!("included path `{name}` is not a file"),
            )
            .at(pattern.span, format!("matches `{name}`"))
            .help(
                "Meltano refuses folders here: make the pattern match files only, e.g. `dir/*.yml`",
            ),
        );
        return None;
    }
    Some(resolved)
}

/// The paths a pattern matches, sorted, as (name relative to root, path).
fn expand_one(root: &Path, pattern: &str) -> Result<Vec<(String, PathBuf)>, String> {
    if pattern.is_empty() {
        return Err("the pattern is empty".to_owned());
    }
    if Path::new(pattern).is_absolute() {
        return Err("absolute patterns are not supported".to_owned());
    }
    // pathlib drops `.` components; a literal prefix (including `..`) is where the walk starts.
    let components: Vec<&str> = pattern
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    let literal = components.iter().take_while(|part| !has_glob(part)).count();
    let base: PathBuf = components[..literal].iter().collect();
    let rest = &components[literal..];
    let prefix = components[..literal].join("/");
    if rest.is_empty() {
        let path = root.join(&base);
        return Ok(if path.exists() {
            vec![(prefix, path)]
        } else {
            Vec::new()
        });
    }
    let glob = GlobBuilder::new(&rest.join("/"))
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|error| error.kind().to_string())?
        .compile_matcher();
    let start = root.join(&base);
    let mut found = Vec::new();
    let max_depth = if rest.contains(&"**") {
        usize::MAX
    } else {
        rest.len()
    };
    for entry in WalkDir::new(&start)
        .follow_links(true)
        .min_depth(1)
        .max_depth(max_depth)
    {
        // A dangling link is an error for walkdir but a match for pathlib; other errors (a
        // link loop, an unreadable folder) end that branch of the walk.
        let path = match &entry {
            Ok(entry) => entry.path().to_path_buf(),
            Err(error) => match error.path() {
                Some(path) if path.symlink_metadata().is_ok() && path.metadata().is_err() => {
                    path.to_path_buf()
                }
                _ => continue,
            },
        };
        let Ok(relative) = path.strip_prefix(&start) else {
            continue;
        };
        let relative = slash_path(relative);
        if glob.is_match(&relative) {
            let name = if prefix.is_empty() {
                relative
            } else {
                format!("{prefix}/{relative}")
            };
            found.push((name, path.clone()));
        }
    }
    found.sort();
    Ok(found)
}

fn has_glob(part: &str) -> bool {
    part.contains(['*', '?', '['])
}

/// A relative path with `/` separators, for names shown to users and glob matching.
#[must_use]
pub fn slash_path(path: &Path) -> String {
    path.components()
        .filter_map(|component| match component {
            Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::FileId;

    fn pattern(text: &str) -> Pattern {
        Pattern {
            text: text.to_owned(),
            span: Span::new(FileId(0), 0, 0),
        }
    }

    fn names(root: &Path, patterns: &[&str]) -> (Vec<String>, Vec<&'static str>) {
        let patterns: Vec<_> = patterns.iter().map(|text| pattern(text)).collect();
        let mut diagnostics = Vec::new();
        let root = root.canonicalize().unwrap();
        let found = expand(
            &root,
            &root.join("meltano.yml"),
            &patterns,
            &mut diagnostics,
        );
        (
            found.into_iter().map(|m| m.name).collect(),
            diagnostics.iter().map(|d| d.code.name).collect(),
        )
    }

    #[test]
    fn globs_follow_pathlib_rules() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for file in [
            "meltano.yml",
            "a.yml",
            "sub/b.yml",
            "sub/deep/c.yml",
            "sub/deep/x.txt",
            "subconfig_2.yml",
        ] {
            let path = root.join(file);
            fs_err::create_dir_all(path.parent().unwrap()).unwrap();
            fs_err::write(path, "{}\n").unwrap();
        }
        assert_eq!(names(root, &["*.yml"]).0, ["a.yml", "subconfig_2.yml"]);
        assert_eq!(
            names(root, &["./**/*.yml"]).0,
            ["a.yml", "sub/b.yml", "sub/deep/c.yml", "subconfig_2.yml"]
        );
        assert_eq!(
            names(root, &["./*/**/*.yml"]).0,
            ["sub/b.yml", "sub/deep/c.yml"]
        );
        assert_eq!(
            names(root, &["subconfig_[0-9].yml", "*.yml"]).0,
            ["subconfig_2.yml", "a.yml"]
        );
        assert_eq!(names(root, &["sub/deep/c.yml"]).0, ["sub/deep/c.yml"]);
        assert_eq!(
            names(root, &["nothing/*.yml"]),
            (vec![], vec!["meltc::include::no-match"])
        );
        assert_eq!(
            names(root, &["/etc/*.yml"]).1,
            ["meltc::include::bad-pattern"]
        );
        assert_eq!(names(root, &["sub"]).1, ["meltc::include::not-a-file"]);
    }

    #[test]
    fn paths_outside_the_root_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("project");
        fs_err::create_dir_all(&root).unwrap();
        fs_err::write(dir.path().join("outside.yml"), "{}\n").unwrap();
        fs_err::write(root.join("meltano.yml"), "{}\n").unwrap();
        assert_eq!(
            names(&root, &["../*.yml"]).1,
            ["meltc::include::outside-root"]
        );
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("outside.yml"), root.join("link.yml"))
                .unwrap();
            assert_eq!(names(&root, &["*.yml"]).1, ["meltc::include::outside-root"]);
        }
    }
}
