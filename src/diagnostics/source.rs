//! Source files and spans: every byte meltc reports on comes from a [`SourceFile`] in a
//! [`SourceMap`], and every location is a [`Span`] (file id + byte range).
//!
//! Spans are byte offsets so that miette can render snippets directly; line and column are
//! computed on demand (1-based, columns counted in characters) for JSON and GitHub output.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Index of a file in a [`SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FileId(pub u32);

/// A byte range in one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    /// The file the range is in.
    pub file: FileId,
    /// First byte (inclusive).
    pub start: usize,
    /// Last byte (exclusive).
    pub end: usize,
}

impl Span {
    /// A span covering `start..end` of `file`.
    #[must_use]
    pub fn new(file: FileId, start: usize, end: usize) -> Self {
        Self {
            file,
            start,
            end: end.max(start),
        }
    }

    /// The length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether the span covers no byte.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// One loaded file: its name as shown to the user (relative to the project root), its path on
/// disk and its contents. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SourceFile {
    name: Arc<str>,
    path: Arc<Path>,
    contents: Arc<str>,
    line_starts: Arc<[usize]>,
}

impl SourceFile {
    /// Wrap `contents` read from `path`, shown to users as `name`.
    #[must_use]
    pub fn new(
        name: impl Into<String>,
        path: impl Into<PathBuf>,
        contents: impl Into<String>,
    ) -> Self {
        let contents: String = contents.into();
        let line_starts = std::iter::once(0)
            .chain(contents.match_indices('\n').map(|(index, _)| index + 1))
            .collect::<Vec<_>>();
        Self {
            name: Arc::from(name.into()),
            path: Arc::from(path.into()),
            contents: Arc::from(contents),
            line_starts: Arc::from(line_starts),
        }
    }

    /// The name shown in diagnostics (a path relative to the project root, `/`-separated).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the file is on disk.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The whole text.
    #[must_use]
    pub fn contents(&self) -> &str {
        &self.contents
    }

    /// 1-based line and column (in characters) of a byte offset.
    #[must_use]
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.contents.len());
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let line_start = self.line_starts[line - 1];
        let column = self
            .contents
            .get(line_start..offset)
            .map_or(offset - line_start, |text| text.chars().count());
        (line, column + 1)
    }

    /// Byte offset of a 1-based line and 0-based character column.
    #[must_use]
    pub fn offset_of(&self, line: usize, column: usize) -> usize {
        let Some(&line_start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.contents.len();
        };
        let rest = &self.contents[line_start..];
        rest.char_indices()
            .nth(column)
            .map_or(self.contents.len(), |(index, _)| line_start + index)
    }
}

/// All files of one project load, addressed by [`FileId`].
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    /// Add a file and return its id.
    pub fn add(&mut self, file: SourceFile) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).unwrap_or(u32::MAX));
        self.files.push(file);
        id
    }

    /// The file with this id.
    ///
    /// # Panics
    /// When the id does not come from this map (a meltc bug).
    #[must_use]
    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    /// Every file, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(index, file)| (FileId(u32::try_from(index).unwrap_or(u32::MAX)), file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let file = SourceFile::new("m.yml", "m.yml", "a: 1\nbé: x\n");
        assert_eq!(file.line_col(0), (1, 1));
        assert_eq!(file.line_col(5), (2, 1));
        let x = file.contents().find('x').unwrap();
        assert_eq!(file.line_col(x), (2, 5));
        assert_eq!(file.offset_of(2, 4), x);
    }
}
