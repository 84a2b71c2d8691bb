//! Rendering the vector files and the MANIFEST, and writing them atomically.

use std::fmt::Write as _;
use std::path::Path;

use crate::decode::{self, Output};
use crate::element::{Element, Kind, Specials};
use crate::format::{Format, Ties};
use crate::quant::{Profile, QuantError, Quantizer};

use super::catalogue::{self, DecodeCase, QuantCase};
use super::text::{count_cases, hex_bytes, hex_f32s, hex_words};

/// The command that regenerates every file (written into every header).
pub const COMMAND: &str = "gridgames vectors generate";
/// The crate version written into every header.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// One generated file: its path relative to `vectors/`, and its text.
#[derive(Clone, Debug, PartialEq)]
pub struct GeneratedFile {
    /// Path relative to the vectors directory.
    pub path: String,
    /// The file's full text.
    pub text: String,
}

/// Name of a tie rule as in the spec files.
pub fn ties_name(t: Ties) -> &'static str {
    match t {
        Ties::EvenCode => "even-code",
        Ties::LowerIndex => "lower-index",
        Ties::TowardZero => "toward-zero",
        Ties::AwayFromZero => "away-from-zero",
    }
}

/// The bit-field description of an element format, one header value.
pub fn element_fields(e: &Element) -> String {
    let specials = match (e.kind, e.specials) {
        (Kind::Int, _) => "none",
        (_, Specials::None) => "none",
        (_, Specials::Ieee) => "ieee",
        (_, Specials::NanAllOnes) => "nan-all-ones",
    };
    format!(
        "{} kind={} bits={} signed={} exponent_bits={} mantissa_bits={} bias={} subnormals={} specials={specials}",
        e.name,
        if e.kind == Kind::Int { "int" } else { "float" },
        e.bits,
        e.signed as u8,
        e.exponent_bits,
        e.mantissa_bits,
        e.bias,
        e.subnormals as u8,
    )
}

/// The header lines describing a format completely (grids, scale, selector map), so a
/// reader can decode the file without our code or the spec YAML.
pub fn format_header(f: &Format) -> String {
    let mut h = String::new();
    let _ = writeln!(h, "# format: {}", f.name);
    let _ = writeln!(h, "# spec: {} sha256={}", f.spec_file, f.spec_sha256);
    let _ = writeln!(h, "# group: {}", f.group_size);
    let _ = writeln!(
        h,
        "# packing: {}",
        if f.high_nibble_first {
            "high-first"
        } else {
            "low-first"
        }
    );
    let _ = writeln!(
        h,
        "# scale: bytes={} value_mask={:02x} selector_mask={:02x} max={}",
        f.scale_bytes,
        f.value_mask,
        f.selector_mask,
        match f.scale_max {
            Some(m) => format!("{m:08x}"),
            None => "-".into(),
        }
    );
    let _ = writeln!(h, "# scale_element: {}", element_fields(&f.scale_element));
    let _ = writeln!(
        h,
        "# tensor_scale: {}",
        if f.tensor_scale { "f32" } else { "none" }
    );
    for (i, g) in f.grids.iter().enumerate() {
        let _ = writeln!(
            h,
            "# grid: {i} name={} values={} valid={:04x} target={:08x} ties={} selector={:02x}",
            g.name,
            hex_words(&g.values, 8),
            g.valid,
            g.target,
            ties_name(g.ties),
            f.selector_bits_of_grid.get(i).copied().unwrap_or(0)
        );
    }
    if f.scale_bytes == 1 {
        let map: String = (0..256u32)
            .map(|b| match f.grid_of_scale(b) {
                Some(g) => char::from_digit(g as u32, 16).unwrap_or('-'),
                None => '-',
            })
            .collect();
        let _ = writeln!(h, "# selector_of_byte: {map}");
    }
    h
}

fn canonical_nan(bits: u32, output: Output) -> u32 {
    match output {
        Output::F32 if f32::from_bits(bits).is_nan() => 0x7fc0_0000,
        Output::F16 if bits & 0x7c00 == 0x7c00 && bits & 0x3ff != 0 => 0x7e00,
        Output::Bf16 if bits & 0x7f80 == 0x7f80 && bits & 0x7f != 0 => 0x7fc0,
        _ => bits,
    }
}

/// The reference decode of one decode case: (f32, f16, bf16) bit patterns with NaNs made
/// canonical, or the error's name.
pub fn reference_decode(
    f: &Format,
    codes: &[u8],
    scales: &[u8],
    ts: Option<f32>,
    n: usize,
) -> Result<[Vec<u32>; 3], &'static str> {
    let mut outs: [Vec<u32>; 3] = [vec![0; n], vec![0; n], vec![0; n]];
    for (k, output) in [Output::F32, Output::F16, Output::Bf16]
        .into_iter()
        .enumerate()
    {
        decode::decode_bits(f, codes, scales, ts.unwrap_or(1.0), output, &mut outs[k]).map_err(
            |e| match e {
                decode::DecodeError::InvalidSelector { .. } => "invalid-selector",
                decode::DecodeError::InvalidCode { .. } => "invalid-code",
                decode::DecodeError::Length { .. } => "length",
            },
        )?;
        for v in outs[k].iter_mut() {
            *v = canonical_nan(*v, output);
        }
    }
    Ok(outs)
}

/// Render a decode vector file.
pub fn decode_file(f: &Format, cases: &[DecodeCase]) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "# gridgames golden vectors: decode, format {}", f.name);
    let _ = writeln!(t, "# command: {COMMAND}");
    let _ = writeln!(t, "# crate: gridgames {VERSION}");
    let _ = writeln!(t, "# kind: decode");
    t.push_str(&format_header(f));
    let _ = writeln!(t, "# fields: case rule q s t f32 f16 bf16 [error]");
    let _ = writeln!(t, "# cases: {}", cases.len());
    for c in cases {
        let n = c.codes.len() * 2;
        let ts = match c.tensor_scale {
            Some(v) => format!("{:08x}", v.to_bits()),
            None => "-".into(),
        };
        let _ = write!(
            t,
            "case={} rule={} q={} s={} t={ts}",
            c.name,
            c.rule,
            hex_bytes(&c.codes),
            hex_bytes(&c.scales)
        );
        match reference_decode(f, &c.codes, &c.scales, c.tensor_scale, n) {
            Ok([a, b, d]) => {
                let _ = writeln!(
                    t,
                    " f32={} f16={} bf16={}",
                    hex_words(&a, 8),
                    hex_words(&b, 4),
                    hex_words(&d, 4)
                );
            }
            Err(e) => {
                let _ = writeln!(t, " f32=- f16=- bf16=- error={e}");
            }
        }
    }
    t
}

/// Render a quantize vector file for one profile.
pub fn quantize_file(f: &Format, profile: Profile, cases: &[QuantCase]) -> Result<String, String> {
    let q = Quantizer::new(f, profile).map_err(|e| e.to_string())?;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# gridgames golden vectors: quantize, format {}, profile {}",
        f.name,
        profile.name()
    );
    let _ = writeln!(t, "# command: {COMMAND}");
    let _ = writeln!(t, "# crate: gridgames {VERSION}");
    let _ = writeln!(t, "# kind: quantize");
    let _ = writeln!(t, "# profile: {}", profile.name());
    t.push_str(&format_header(f));
    let mut rules: Vec<&str> = cases.iter().map(|c| c.rule).collect();
    rules.dedup();
    rules.sort_unstable();
    rules.dedup();
    let _ = writeln!(t, "# rules: {}", rules.join(" "));
    let _ = writeln!(t, "# fields: case rule x q s t g [error]");
    let _ = writeln!(t, "# cases: {}", cases.len());
    for c in cases {
        let _ = write!(t, "case={} rule={} x={}", c.name, c.rule, hex_f32s(&c.x));
        match q.quantize(&c.x, false) {
            Ok(r) => {
                let ts = match r.tensor_scale {
                    Some(v) => format!("{:08x}", v.to_bits()),
                    None => "-".into(),
                };
                let grids: String = r
                    .grid_of_group
                    .iter()
                    .map(|&g| char::from_digit(g as u32, 16).unwrap_or('?'))
                    .collect();
                let _ = writeln!(
                    t,
                    " q={} s={} t={ts} g={grids}",
                    hex_bytes(&r.codes),
                    hex_bytes(&r.scales)
                );
            }
            Err(QuantError::NonFinite { .. }) => {
                let _ = writeln!(t, " q=- s=- t=- g=- error=non-finite");
            }
            Err(e) => {
                return Err(format!(
                    "{} / {}: case {}: {e}",
                    f.name,
                    profile.name(),
                    c.name
                ))
            }
        }
    }
    Ok(t)
}

/// Every generated file, for every built-in format and every profile that applies to it.
pub fn generate_all() -> Result<Vec<GeneratedFile>, String> {
    let mut files = Vec::new();
    for f in crate::tables::FORMATS.iter() {
        files.push(GeneratedFile {
            path: format!("{}/decode.txt", f.name),
            text: decode_file(f, &catalogue::decode_cases(f)),
        });
        let cases = catalogue::quantize_cases(f)?;
        for profile in Profile::for_format(f) {
            files.push(GeneratedFile {
                path: format!("{}/{}/quantize.txt", f.name, profile.name()),
                text: quantize_file(f, profile, &cases)?,
            });
        }
    }
    Ok(files)
}

/// Every file under `dir`, as paths relative to it with `/` separators, sorted.
pub fn list_files(dir: &Path) -> Result<Vec<String>, String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), String> {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
            let path = entry.path();
            let kind = entry
                .file_type()
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if kind.is_dir() {
                walk(root, &path, out)?;
            } else if kind.is_file() {
                let rel = path
                    .strip_prefix(root)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push(parts.join("/"));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    if dir.exists() {
        walk(dir, dir, &mut out)?;
    }
    out.sort();
    Ok(out)
}

/// The MANIFEST text: every file under `dir` (generated files taken from `generated`,
/// which may not be on disk yet), with SHA-256 and case count.
pub fn manifest(dir: &Path, generated: &[GeneratedFile]) -> Result<String, String> {
    let mut paths = list_files(dir)?;
    paths.retain(|p| p != "MANIFEST");
    for g in generated {
        if !paths.contains(&g.path) {
            paths.push(g.path.clone());
        }
    }
    paths.sort();
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# gridgames vectors MANIFEST: every file under vectors/ except this one"
    );
    let _ = writeln!(t, "# command: {COMMAND}");
    let _ = writeln!(t, "# crate: gridgames {VERSION}");
    let _ = writeln!(
        t,
        "# fields: <sha256 of the file's bytes> <cases: data lines of a .txt file (non-empty, not starting with #), or - for other files> <path relative to vectors/>"
    );
    let mut total = 0usize;
    let mut body = String::new();
    for p in &paths {
        let bytes = match generated.iter().find(|g| &g.path == p) {
            Some(g) => g.text.as_bytes().to_vec(),
            None => std::fs::read(dir.join(p)).map_err(|e| format!("vectors/{p}: {e}"))?,
        };
        let cases = if p.ends_with(".txt") {
            let n = count_cases(&String::from_utf8_lossy(&bytes));
            total += n;
            n.to_string()
        } else {
            "-".into()
        };
        let _ = writeln!(body, "{} {cases} {p}", crate::fsio::sha256_hex(&bytes));
    }
    let _ = writeln!(t, "# files: {}, cases: {total}", paths.len());
    t.push_str(&body);
    Ok(t)
}

/// Write `text` to `path` atomically (a temporary file beside it, then a rename), creating
/// the directory first.
pub fn write_atomic(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    Ok(crate::fsio::write_atomic(path, text.as_bytes())?)
}

/// Files under `dir` inside a generated format directory that generation does not produce.
pub fn stale_files(dir: &Path, generated: &[GeneratedFile]) -> Result<Vec<String>, String> {
    let formats: Vec<&str> = crate::tables::FORMATS.iter().map(|f| f.name).collect();
    Ok(list_files(dir)?
        .into_iter()
        .filter(|p| {
            let top = p.split('/').next().unwrap_or("");
            formats.contains(&top) && !generated.iter().any(|g| &g.path == p)
        })
        .collect())
}
