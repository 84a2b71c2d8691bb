//! Shared file helpers for the CLI: the `--max-bytes` bound on what a command reads.
//!
//! Every input file comes from someone else (a checkpoint, a colleague's `.npy`), so a
//! command reads at most `--max-bytes` of it and refuses a larger one with a message naming
//! the flag, before allocating. The bound is enforced on the bytes actually read (`take`),
//! not only on the length the file system reports, so a FIFO or a device such as
//! `/dev/zero` is refused the same way.
use std::io::Read;
use std::path::Path;

/// 16 GiB: larger than any single checkpoint shard in common use (typically 2–10 GB), small
/// enough that a mistaken path such as a disk image fails quickly with a clear message.
pub const DEFAULT_MAX_BYTES: u64 = 16 << 30;

/// The `--max-bytes` option, flattened into each command that reads tensors.
#[derive(clap::Args, Clone, Copy, Debug)]
pub struct Limits {
    /// Largest input file read, in bytes (suffixes K, M, G, T: powers of 1024).
    #[arg(long, default_value = "16G", value_parser = parse_size)]
    pub max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// Parse `123`, `64K`, `512M`, `16G`, `1T` (binary multiples; case-insensitive, optional
/// trailing `B` or `iB`).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let upper = t.to_ascii_uppercase();
    let t = upper
        .strip_suffix("IB")
        .or_else(|| upper.strip_suffix('B'))
        .unwrap_or(&upper);
    let (digits, shift) = match t.chars().last() {
        Some('K') => (&t[..t.len() - 1], 10),
        Some('M') => (&t[..t.len() - 1], 20),
        Some('G') => (&t[..t.len() - 1], 30),
        Some('T') => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    let n: u64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a size (expected e.g. 4096, 512M, 16G)"))?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("`{text}` is too large"))
}

fn too_large(path: &Path, max: u64) -> String {
    format!(
        "{}: larger than --max-bytes ({max} bytes); raise --max-bytes if the file is meant to be this large",
        path.display()
    )
}

/// Check the length the file system reports (a cheap early refusal, before opening).
pub fn check_size(path: &Path, max: u64) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.is_file() && meta.len() > max {
        return Err(too_large(path, max));
    }
    Ok(())
}

/// Read a whole input file, at most `max` bytes.
pub fn read_input(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    check_size(path, max)?;
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() as u64 > max {
        return Err(too_large(path, max));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("512m"), Ok(512 * 1024 * 1024));
        assert_eq!(parse_size("16GiB"), Ok(16 * 1024 * 1024 * 1024));
        assert_eq!(parse_size("2GB"), Ok(2 * 1024 * 1024 * 1024));
        assert!(parse_size("x").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999T").is_err());
    }
}
