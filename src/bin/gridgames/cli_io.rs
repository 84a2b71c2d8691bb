//! Shared file helpers for the CLI: the `--max-bytes` bound on what a command reads.
//!
//! Every input file comes from someone else (a checkpoint, a colleague's `.npy`), so a
//! command reads at most `--max-bytes` of it and refuses a larger one with a message naming
//! the flag, before allocating. The bound is enforced on the bytes actually read (`take`),
//! not only on the length the file system reports, so a FIFO or a device such as
//! `/dev/zero` is refused the same way.
use std::path::Path;

use gridgames::fsio::FileError;

/// The default bound (16 GiB; see [`gridgames::fsio::DEFAULT_MAX_BYTES`]).
pub use gridgames::fsio::DEFAULT_MAX_BYTES;

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

/// The library's file error in the CLI's words (the limit is this flag).
fn message(e: FileError) -> String {
    match e {
        FileError::TooLarge { path, max } => format!(
            "{}: larger than --max-bytes ({max} bytes); raise --max-bytes if the file is meant to be this large",
            path.display()
        ),
        other => other.to_string(),
    }
}

/// Check the length the file system reports (a cheap early refusal, before opening).
pub fn check_size(path: &Path, max: u64) -> Result<(), String> {
    gridgames::fsio::check_size(path, max).map_err(message)
}

/// Read a whole input file, at most `max` bytes.
pub fn read_input(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    gridgames::fsio::read_capped(path, max).map_err(message)
}

/// Read a whole UTF-8 input file, at most `max` bytes.
pub fn read_text(path: &Path, max: u64) -> Result<String, String> {
    if path.extension().is_some_and(|e| e == "gz") {
        return read_gzip_text(path, max);
    }
    gridgames::fsio::read_text_capped(path, max).map_err(message)
}

/// A gzip-compressed text file, decompressed under the same `--max-bytes` bound (applied to
/// the decompressed size too, so a small bomb cannot fill memory).
fn read_gzip_text(path: &Path, max: u64) -> Result<String, String> {
    use std::io::Read;
    let compressed = gridgames::fsio::read_capped(path, max).map_err(message)?;
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(&compressed[..])
        .take(max.saturating_add(1))
        .read_to_end(&mut text)
        .map_err(|e| format!("{}: not valid gzip: {e}", path.display()))?;
    if text.len() as u64 > max {
        return Err(format!(
            "{}: decompresses to more than {max} bytes (raise --max-bytes to read it)",
            path.display()
        ));
    }
    String::from_utf8(text).map_err(|e| {
        format!(
            "{}: decompressed text is not UTF-8 (byte {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

/// A tensor's name and its values, flattened.
pub type NamedValues = (String, Vec<f32>);

/// Every 2-D tensor of a safetensors file (or those whose name contains `pattern`) as f32,
/// sorted by name, read through the library's container reader under the `--max-bytes`
/// bound; also the SHA-256 of the file's bytes (for the provenance).
pub fn load_safetensors(
    path: &Path,
    pattern: Option<&str>,
    two_d_only: bool,
    max_bytes: u64,
) -> Result<(Vec<NamedValues>, String), String> {
    let bytes = read_input(path, max_bytes)?;
    let mut out = Vec::new();
    for t in gridgames::container::float_input_from_bytes(path, &bytes, false, pattern)? {
        if two_d_only && t.shape.len() != 2 {
            continue;
        }
        if let Some(i) = t.data.iter().position(|v| !v.is_finite()) {
            return Err(format!(
                "{}: tensor {}: value {i} is not finite",
                path.display(),
                t.name
            ));
        }
        out.push((t.name, t.data));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    if out.is_empty() {
        return Err(format!(
            "{}: no {}tensor{} of type f32/f16/bf16",
            path.display(),
            if two_d_only { "2-D " } else { "" },
            pattern.map(|p| format!(" named *{p}*")).unwrap_or_default()
        ));
    }
    Ok((out, gridgames::fsio::sha256_hex(&bytes)))
}

/// A little-endian f32, f16 (or bf16 stored as u16) `.npy` file, flattened.
pub fn load_npy(path: &Path, max_bytes: u64) -> Result<Vec<f32>, String> {
    let bytes = read_input(path, max_bytes)?;
    let mut tensors = gridgames::container::float_input_from_bytes(path, &bytes, false, None)?;
    Ok(tensors.pop().map(|t| t.data).unwrap_or_default())
}

/// Refuse an output path that would destroy the input (the same file, also through a link or
/// another spelling of the path) or whose extension does not match what is written.
pub fn check_output(input: &Path, output: &Path, wanted_ext: &str) -> Result<(), String> {
    if same_file(input, output) {
        return Err(format!(
            "{}: the output is the input file ({}); refusing to overwrite it",
            output.display(),
            input.display()
        ));
    }
    let ext = output.extension().and_then(|e| e.to_str()).unwrap_or("");
    if !ext.eq_ignore_ascii_case(wanted_ext) {
        return Err(format!(
            "{}: this command writes a .{wanted_ext} file; give the output that extension",
            output.display()
        ));
    }
    Ok(())
}

/// Whether two paths name the same existing file (device and inode on unix, the canonical
/// path elsewhere).
fn same_file(a: &Path, b: &Path) -> bool {
    let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        ma.dev() == mb.dev() && ma.ino() == mb.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (ma, mb);
        matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
    }
}

/// A `--tensor` / `--exclude` regular expression (the same matching in every command: a
/// regex searched anywhere in the tensor's name).
pub fn regex_arg(flag: &str, text: Option<&str>) -> Result<Option<regex::Regex>, String> {
    text.map(|t| {
        regex::Regex::new(t).map_err(|e| format!("{flag} `{t}`: not a regular expression: {e}"))
    })
    .transpose()
}

/// `--scale-layout NAME`, when given.
pub fn scale_layout_arg(name: Option<&str>) -> Result<Option<gridgames::ScaleLayout>, String> {
    name.map(|n| {
        gridgames::ScaleLayout::from_name(n).ok_or_else(|| {
            let names: Vec<&str> = gridgames::ScaleLayout::ALL
                .iter()
                .map(|l| l.name())
                .collect();
            format!("--scale-layout {n}: expected one of {}", names.join(", "))
        })
    })
    .transpose()
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
