//! Replacing a file so that a reader (or a process killed half-way) sees the old text or the
//! new one, never a part: write a sibling, then rename it over the file.

use std::path::Path;

/// Write `text` to `path` atomically, creating its folder. The sibling is named after this
/// process, so two processes replacing the same file never write into one temporary file.
///
/// # Errors
/// The folder, the sibling or the rename.
pub fn write(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        fs_err::create_dir_all(parent)?;
    }
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    let staged = path.with_file_name(name);
    if let Err(error) = fs_err::write(&staged, text) {
        let _ = fs_err::remove_file(&staged);
        return Err(error);
    }
    fs_err::rename(&staged, path)
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_and_leaves_no_sibling() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b.txt");
        super::write(&path, "one").unwrap();
        super::write(&path, "two").unwrap();
        assert_eq!(fs_err::read_to_string(&path).unwrap(), "two");
        assert_eq!(fs_err::read_dir(dir.path().join("a")).unwrap().count(), 1);
    }
}
