//! Reading a file the user points meltc at. A FIFO would block the read forever and a device
//! such as `/dev/zero` never ends, so anything that is neither a regular file nor a folder (a
//! folder fails the read with its own error) is refused before it is opened.

use std::io;
use std::path::Path;

/// The bytes of `path` (links followed), or an error naming it; see the module docs.
///
/// # Errors
/// When `path` cannot be read or is a FIFO, socket or device.
pub fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    refuse_special(path)?;
    fs_err::read(path)
}

/// An error when `path` is a FIFO, socket or device; when it cannot even be inspected, the read
/// that follows says why, in its usual words.
///
/// # Errors
/// When `path` is a FIFO, socket or device.
pub fn refuse_special(path: &Path) -> io::Result<()> {
    match std::fs::metadata(path) {
        Ok(metadata) if !metadata.is_file() && !metadata.is_dir() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{}` is not a regular file", path.display()),
        )),
        _ => Ok(()),
    }
}

/// [`read_file`] as UTF-8 text.
///
/// # Errors
/// As [`read_file`], and when the bytes are not UTF-8.
pub fn read_text(path: &Path) -> io::Result<String> {
    String::from_utf8(read_file(path)?).map_err(|error| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("`{}` is not UTF-8 text: {error}", path.display()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_devices_and_reads_files() {
        let error = read_file(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(error.to_string(), "`/dev/zero` is not a regular file");
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(dir.path().join("a"), "text").unwrap();
        assert_eq!(read_text(&dir.path().join("a")).unwrap(), "text");
        assert!(read_file(dir.path()).is_err());
    }
}
