//! File input and output shared by every reader and writer of the crate and the CLI: one
//! size-capped reader, one atomic writer, one SHA-256 helper.
//!
//! Every input comes from someone else (a checkpoint, a colleague's case file, a spec), so a
//! read is bounded before it allocates: the length the file system reports is checked first
//! (a cheap early refusal), and the bound is then enforced on the bytes actually read
//! (`take`), so a FIFO or a device such as `/dev/zero` is refused the same way.
//!
//! Every output goes to a temporary file beside the target and is renamed into place, so a
//! failed or interrupted write never leaves a partial file under the target's name.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// 16 GiB: larger than any single checkpoint shard in common use (typically 2–10 GB), small
/// enough that a mistaken path such as a disk image fails quickly with a clear message.
pub const DEFAULT_MAX_BYTES: u64 = 16 << 30;

/// 1 MiB: the largest spec file read at run time (the built-in ones are under 8 KiB).
pub const MAX_SPEC_BYTES: u64 = 1 << 20;

/// Why a file could not be read or written.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileError {
    /// The operating system refused (missing file, permissions, a missing directory...).
    Io {
        /// The file named by the caller.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// The file holds more bytes than the caller's bound.
    TooLarge {
        /// The file named by the caller.
        path: PathBuf,
        /// The bound, in bytes.
        max: u64,
    },
    /// A text file that is not UTF-8.
    NotUtf8 {
        /// The file named by the caller.
        path: PathBuf,
    },
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileError::Io { path, message } => write!(f, "{}: {message}", path.display()),
            FileError::TooLarge { path, max } => write!(
                f,
                "{}: larger than the read limit ({max} bytes); raise the limit if the file \
                 is meant to be this large",
                path.display()
            ),
            FileError::NotUtf8 { path } => write!(f, "{}: not UTF-8 text", path.display()),
        }
    }
}

impl std::error::Error for FileError {}

impl From<FileError> for String {
    fn from(e: FileError) -> String {
        e.to_string()
    }
}

fn io_error(path: &Path, e: std::io::Error) -> FileError {
    FileError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Refuse early when the file system reports a regular file longer than `max` bytes.
pub fn check_size(path: &Path, max: u64) -> Result<(), FileError> {
    let meta = std::fs::metadata(path).map_err(|e| io_error(path, e))?;
    if meta.is_file() && meta.len() > max {
        return Err(FileError::TooLarge {
            path: path.to_path_buf(),
            max,
        });
    }
    Ok(())
}

/// Read a whole file, at most `max` bytes.
pub fn read_capped(path: &Path, max: u64) -> Result<Vec<u8>, FileError> {
    check_size(path, max)?;
    let file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(path, e))?;
    if bytes.len() as u64 > max {
        return Err(FileError::TooLarge {
            path: path.to_path_buf(),
            max,
        });
    }
    Ok(bytes)
}

/// Read a whole UTF-8 text file, at most `max` bytes.
pub fn read_text_capped(path: &Path, max: u64) -> Result<String, FileError> {
    String::from_utf8(read_capped(path, max)?).map_err(|_| FileError::NotUtf8 {
        path: path.to_path_buf(),
    })
}

/// The temporary file a write to `path` goes through (hidden, beside it, named by process).
pub fn temp_path_for(path: &Path) -> Result<PathBuf, FileError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| FileError::Io {
        path: path.to_path_buf(),
        message: "not a file path".into(),
    })?;
    Ok(dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    )))
}

/// Temporary files being written, removed by [`remove_registered_temps`] (the CLI calls it
/// on SIGINT/SIGTERM, so an interrupted run leaves no `.…tmp-PID` file behind).
static TEMPS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Register a temporary file for removal on interruption.
pub fn register_temp(path: &Path) {
    if let Ok(mut t) = TEMPS.lock() {
        t.push(path.to_path_buf());
    }
}

/// Forget a temporary file (renamed into place, or removed).
pub fn unregister_temp(path: &Path) {
    if let Ok(mut t) = TEMPS.lock() {
        t.retain(|p| p != path);
    }
}

/// Remove every registered temporary file (best effort).
pub fn remove_registered_temps() {
    if let Ok(mut t) = TEMPS.lock() {
        for p in t.drain(..) {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A file written in pieces and put in place atomically: the bytes go to a registered
/// temporary file beside `path` (removed on interruption, see [`remove_registered_temps`]),
/// which [`AtomicFile::commit`] renames over `path`. Dropped without a commit (an error on
/// the way), the temporary file is removed, so no partial output is ever left at `path`.
#[derive(Debug)]
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<std::fs::File>,
}

impl AtomicFile {
    /// Start writing `path`. A missing directory is reported by the target's name.
    pub fn create(path: &Path) -> Result<AtomicFile, FileError> {
        let tmp = temp_path_for(path)?;
        register_temp(&tmp);
        match std::fs::File::create(&tmp) {
            Ok(file) => Ok(AtomicFile {
                path: path.to_path_buf(),
                tmp,
                file: Some(file),
            }),
            Err(e) => {
                unregister_temp(&tmp);
                Err(io_error(path, e))
            }
        }
    }

    /// Append `bytes`.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), FileError> {
        // Fields borrowed apart: no copy of the path per write (decode writes per chunk).
        match &mut self.file {
            Some(f) => f.write_all(bytes).map_err(|e| io_error(&self.path, e)),
            None => Err(committed(&self.path)),
        }
    }

    /// The open temporary file, for writers that seek (safetensors layouts).
    pub fn file(&mut self) -> Result<&mut std::fs::File, FileError> {
        self.file.as_mut().ok_or_else(|| committed(&self.path))
    }

    /// Put the file in place: flushed to the device, then renamed over the target.
    pub fn commit(mut self) -> Result<(), FileError> {
        if let Some(f) = self.file.take() {
            f.sync_all().map_err(|e| io_error(&self.path, e))?;
        }
        std::fs::rename(&self.tmp, &self.path).map_err(|e| io_error(&self.path, e))?;
        unregister_temp(&self.tmp);
        self.tmp = PathBuf::new();
        Ok(())
    }
}

/// The error of a write after `commit` (which consumes the file, so this cannot happen
/// through the public API).
fn committed(path: &Path) -> FileError {
    FileError::Io {
        path: path.to_path_buf(),
        message: "already committed".into(),
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            self.file = None;
            let _ = std::fs::remove_file(&self.tmp);
            unregister_temp(&self.tmp);
        }
    }
}

/// Write `bytes` to `path` atomically ([`AtomicFile`] in one piece).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes)?;
    f.commit()
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_is_capped_by_what_is_read() {
        let e = read_capped(Path::new("/dev/zero"), 4096).unwrap_err();
        assert!(matches!(e, FileError::TooLarge { max: 4096, .. }), "{e}");
    }

    #[test]
    fn atomic_write_leaves_nothing_on_a_missing_directory() {
        let e = write_atomic(Path::new("/nonexistent-dir-gg/out.bin"), b"x").unwrap_err();
        assert!(
            e.to_string().starts_with("/nonexistent-dir-gg/out.bin:"),
            "{e}"
        );
    }

    #[test]
    fn sha256_of_empty() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
