//! A small, strict `.npy` reader and writer (format versions 1.0–3.0, little-endian, C
//! order): f32, f16, u16 (bf16 bit patterns) and u8. Declared sizes are checked against the
//! file length before any allocation.

/// A parsed array: dtype descriptor, shape and the raw little-endian data.
#[derive(Clone, Debug, PartialEq)]
pub struct Npy<'a> {
    /// NumPy dtype string (`<f4`, `<f2`, `<u2`, `|u1`, ...).
    pub descr: String,
    /// Shape (C order).
    pub shape: Vec<usize>,
    /// The raw little-endian data bytes, borrowed from the file.
    pub data: &'a [u8],
}

const MAGIC: &[u8] = b"\x93NUMPY";

fn item_size(descr: &str) -> Option<usize> {
    match descr {
        "<f4" | "<u4" => Some(4),
        "<f2" | "<u2" => Some(2),
        "|u1" | "<u1" => Some(1),
        _ => None,
    }
}

/// A parsed `.npy` header: where the data starts and how long it must be.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// NumPy dtype string of the array.
    pub descr: String,
    /// Shape (C order).
    pub shape: Vec<usize>,
    /// Byte offset of the data (the header's end).
    pub data_start: usize,
    /// Data bytes the shape and dtype need.
    pub data_len: usize,
}

/// Largest header accepted when reading a header alone (numpy writes well under 1 kB; a
/// version 2/3 header may declare up to 4 GiB, which must not become an allocation).
pub const MAX_HEADER: usize = 1 << 20;

/// Parse a `.npy` file's bytes.
pub fn parse(bytes: &[u8]) -> Result<Npy<'_>, String> {
    let h = parse_header(bytes, bytes.len() as u64)?;
    let data = bytes.get(h.data_start..).unwrap_or(&[]);
    Ok(Npy {
        descr: h.descr,
        shape: h.shape,
        data,
    })
}

/// Parse the header from the first bytes of a file of `file_len` bytes (`prefix` must hold
/// the whole header: [`MAX_HEADER`] bytes, or the whole file if shorter). The sizes the
/// header declares are checked against `file_len` before anything is allocated for the data.
pub fn parse_header(bytes: &[u8], file_len: u64) -> Result<Header, String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not a .npy file (bad magic)".into());
    }
    let major = bytes[6];
    let (header_len, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err("truncated .npy header".into());
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let end = start
        .checked_add(header_len)
        .filter(|&e| e <= bytes.len())
        .ok_or("truncated .npy header")?;
    let header = std::str::from_utf8(&bytes[start..end]).map_err(|_| "header is not text")?;
    let descr = dict_value(header, "descr").ok_or("header has no 'descr'")?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"').to_string();
    let fortran = dict_value(header, "fortran_order").ok_or("header has no 'fortran_order'")?;
    if fortran.trim() != "False" {
        return Err(
            "Fortran-order arrays are not supported (save with np.ascontiguousarray)".into(),
        );
    }
    let shape_text = dict_value(header, "shape").ok_or("header has no 'shape'")?;
    let shape: Vec<usize> = shape_text
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("bad shape entry `{s}`"))
        })
        .collect::<Result<_, _>>()?;
    let size = item_size(&descr).ok_or_else(|| {
        format!("unsupported dtype `{descr}` (expected <f4, <f2, <u4, <u2 (bf16 bits) or |u1)")
    })?;
    let count = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or("shape overflows")?;
    let need = count.checked_mul(size).ok_or("shape overflows")?;
    let have = file_len.saturating_sub(end as u64);
    if have != need as u64 {
        return Err(format!(
            "shape {shape:?} of {descr} needs {need} data bytes, the file has {have}"
        ));
    }
    Ok(Header {
        descr,
        shape,
        data_start: end,
        data_len: need,
    })
}

/// The text after `'key':` up to the next top-level comma (tuples kept whole).
fn dict_value<'h>(header: &'h str, key: &str) -> Option<&'h str> {
    let pat = format!("'{key}':");
    let at = header.find(&pat)? + pat.len();
    let rest = &header[at..];
    let mut depth = 0;
    for (i, c) in rest.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' | '}' if depth == 0 => return Some(rest[..i].trim()),
            _ => {}
        }
    }
    None
}

impl Npy<'_> {
    /// Values as f32 (exact for every supported float dtype). `u2` is read as bf16 bit
    /// patterns when `u16_as_bf16`; otherwise it is refused.
    pub fn to_f32(&self, u16_as_bf16: bool) -> Result<Vec<f32>, String> {
        Ok(match self.descr.as_str() {
            "<f4" => self
                .data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            "<f2" => self
                .data
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            "<u2" if u16_as_bf16 => self
                .data
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            "<u2" => return Err("uint16 input: read it as bf16 bit patterns (option `bf16`) or convert it to a float dtype".into()),
            d => return Err(format!("dtype `{d}` is not a float type")),
        })
    }
}

/// Serialize an array (`descr` one of `<f4`, `<f2`, `<u2`, `|u1`) as `.npy` version 1.0.
pub fn to_bytes(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = header_bytes(descr, shape);
    out.extend_from_slice(data);
    out
}

/// The `.npy` (version 1.0) header of an array of `descr` and `shape`, C order; the data
/// follows it directly (it starts on a 64-byte boundary).
pub fn header_bytes(descr: &str, shape: &[usize]) -> Vec<u8> {
    let shape_text = match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    // Pad so the data starts on a 64-byte boundary, header ending in '\n'.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out
}

/// f32 values as `.npy` bytes.
pub fn f32_bytes(shape: &[usize], values: &[f32]) -> Vec<u8> {
    let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    to_bytes("<f4", shape, &data)
}
