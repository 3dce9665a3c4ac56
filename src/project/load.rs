//! Reading a project from disk into a [`Project`].

use std::path::{Path, PathBuf};

use super::discover::PROJECT_FILE;
use super::include::{self, Pattern};
use super::merge::deep_merge;
use crate::diagnostics::{Diagnostic, FileId, SourceFile, SourceMap, Span, codes};
use crate::yaml::{Node, Value};

/// One YAML file of the project.
#[derive(Clone, Debug)]
pub struct ProjectFile {
    /// Its id in [`Project::sources`].
    pub id: FileId,
    /// Its document; `None` when it is empty or could not be parsed.
    pub root: Option<Node>,
}

/// A loaded project: every file with its own tree, and the merged document.
#[derive(Clone, Debug)]
pub struct Project {
    /// The project root (canonical).
    pub root: PathBuf,
    /// Every file read, for rendering diagnostics.
    pub sources: SourceMap,
    /// meltano.yml first, then the included files in merge order.
    pub files: Vec<ProjectFile>,
    /// All files deep-merged the way Meltano does; nodes keep the span of the file they came from.
    pub merged: Node,
}

/// The outcome of loading: the project when meltano.yml could be read and parsed, and every
/// problem found on the way (fatal or not).
#[derive(Debug)]
pub struct Loaded {
    /// `None` when meltano.yml itself is unreadable, unparsable or empty.
    pub project: Option<Project>,
    /// Files read so far (also when `project` is `None`, to render the diagnostics).
    pub sources: SourceMap,
    /// Problems found while loading.
    pub diagnostics: Vec<Diagnostic>,
}

/// Read the project at `root` (which holds a meltano.yml). File names in diagnostics are the
/// project-relative path behind `display_prefix`.
#[must_use]
pub fn load(root: &Path, display_prefix: &str) -> Loaded {
    let mut sources = SourceMap::default();
    let mut diagnostics = Vec::new();
    let root = match root.canonicalize() {
        Ok(root) => root,
        Err(error) => {
            diagnostics.push(Diagnostic::new(
                &codes::IO,
                format!("cannot open project root `{}`: {error}", root.display()),
            ));
            return Loaded {
                project: None,
                sources,
                diagnostics,
            };
        }
    };
    let main_path = root.join(PROJECT_FILE);
    let Some((main_id, main_root)) = read_yaml(
        &mut sources,
        &format!("{display_prefix}{PROJECT_FILE}"),
        &main_path,
        &mut diagnostics,
    ) else {
        return Loaded {
            project: None,
            sources,
            diagnostics,
        };
    };
    let Some(main_root) = main_root.filter(|node| !node.is_null()) else {
        if !diagnostics.iter().any(Diagnostic::is_error) {
            diagnostics.push(
                Diagnostic::new(&codes::PROJECT_EMPTY, "meltano.yml is empty")
                    .at(Span::new(main_id, 0, 0), "no document here")
                    .help("a Meltano project needs at least `plugins:`; run `meltano init` to start one"),
            );
        }
        return Loaded {
            project: None,
            sources,
            diagnostics,
        };
    };
    let patterns = include_patterns(&main_root);
    let matches = include::expand(&root, &main_path, &patterns, &mut diagnostics);
    let mut files = vec![ProjectFile {
        id: main_id,
        root: Some(main_root.clone()),
    }];
    let mut merged = main_root;
    for found in matches {
        let Some((id, file_root)) = read_yaml(
            &mut sources,
            &format!("{display_prefix}{}", found.name),
            &found.path,
            &mut diagnostics,
        ) else {
            continue;
        };
        match &file_root {
            Some(file_root) if matches!(file_root.value, Value::Mapping(_)) && matches!(merged.value, Value::Mapping(_)) => {
                deep_merge(&mut merged, file_root, &mut Vec::new(), &mut diagnostics);
            }
            Some(_) => {}
            None if !diagnostics.iter().any(|d| d.primary.as_ref().is_some_and(|l| l.span.file == id)) => diagnostics.push(
                Diagnostic::new(&codes::INCLUDE_EMPTY, format!("included file `{}` is empty", found.name))
                    .at(Span::new(id, 0, 0), "no document in this file")
                    .help("Meltano crashes on an empty included file: add content or remove it from include_paths"),
            ),
            None => {}
        }
        files.push(ProjectFile {
            id,
            root: file_root,
        });
    }
    let project = Project {
        root,
        sources: sources.clone(),
        files,
        merged,
    };
    Loaded {
        project: Some(project),
        sources,
        diagnostics,
    }
}

/// The string patterns of the main file's `include_paths` (other shapes are schema errors).
fn include_patterns(main_root: &Node) -> Vec<Pattern> {
    main_root
        .get("include_paths")
        .and_then(Node::as_sequence)
        .unwrap_or_default()
        .iter()
        .filter_map(|item| {
            item.as_str().map(|text| Pattern {
                text: text.to_owned(),
                span: item.span,
            })
        })
        .collect()
}

/// Read and parse one file; `None` when it could not be read at all.
fn read_yaml(
    sources: &mut SourceMap,
    name: &str,
    path: &Path,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<(FileId, Option<Node>)> {
    let bytes = match super::read::read_file(path) {
        Ok(bytes) => bytes,
        Err(error) => {
            diagnostics.push(
                Diagnostic::new(
                    &codes::IO,
                    format!("cannot read `{name}`: {}", error.source_kind_message()),
                )
                .help("check that the file exists and is readable"),
            );
            return None;
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let valid = error.utf8_error().valid_up_to();
            // Shown in a snippet: control bytes would drive the terminal, so they become U+FFFD.
            let text: String = String::from_utf8_lossy(error.as_bytes())
                .chars()
                .map(|c| {
                    if c.is_control() && c != '\n' && c != '\t' {
                        '\u{fffd}'
                    } else {
                        c
                    }
                })
                .collect();
            let offset = String::from_utf8_lossy(&error.as_bytes()[..valid]).len();
            let id = sources.add(SourceFile::new(name, path, text));
            diagnostics.push(
                Diagnostic::new(&codes::YAML_NOT_UTF8, format!("`{name}` is not UTF-8 text"))
                    .at(Span::new(id, offset, offset), "first invalid byte")
                    .help("save the file as UTF-8; Meltano reads YAML as UTF-8"),
            );
            return Some((id, None));
        }
    };
    let id = sources.add(SourceFile::new(name, path, text));
    let parsed = crate::yaml::parse(id, sources.get(id));
    diagnostics.extend(parsed.diagnostics);
    Some((id, parsed.root))
}

/// The message of an I/O error without fs-err's repeated path.
trait SourceKindMessage {
    fn source_kind_message(&self) -> String;
}

impl SourceKindMessage for std::io::Error {
    fn source_kind_message(&self) -> String {
        let kind = self.kind();
        match kind {
            std::io::ErrorKind::NotFound => "no such file".to_owned(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
            std::io::ErrorKind::IsADirectory => "is a folder".to_owned(),
            std::io::ErrorKind::InvalidInput => {
                "not a regular file (a FIFO, socket or device)".to_owned()
            }
            _ => std::error::Error::source(self)
                .map_or_else(|| self.to_string(), ToString::to_string),
        }
    }
}
