//! The text line format shared by every vector file (see `vectors/README.md`): `#` header
//! lines with `# key: value`, and data lines of space-separated `key=value` fields whose
//! numbers are lowercase hex bit patterns.

use std::fmt::Write as _;

/// Lowercase hex of bytes, two digits each, in order.
pub fn hex_bytes(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Words as fixed-width lowercase hex (`digits` = 4 or 8), most significant digit first.
pub fn hex_words(words: &[u32], digits: usize) -> String {
    let mut s = String::with_capacity(words.len() * digits);
    for w in words {
        let _ = write!(s, "{w:0digits$x}");
    }
    s
}

/// f32 values as their bit patterns, 8 hex digits each.
pub fn hex_f32s(xs: &[f32]) -> String {
    let bits: Vec<u32> = xs.iter().map(|x| x.to_bits()).collect();
    hex_words(&bits, 8)
}

/// Parse concatenated fixed-width hex words. `field` names the field in errors.
pub fn parse_words(s: &str, digits: usize, field: &str) -> Result<Vec<u32>, String> {
    if !s.len().is_multiple_of(digits) {
        return Err(format!(
            "field `{field}`: {} hex digits is not a multiple of {digits}",
            s.len()
        ));
    }
    // from_str_radix accepts a leading `+`; the format is hex digits only.
    if let Some(bad) = s.bytes().position(|b| !b.is_ascii_hexdigit()) {
        return Err(format!(
            "field `{field}`: character {bad} is not a hex digit"
        ));
    }
    let mut out = Vec::with_capacity(s.len() / digits);
    for (i, chunk) in s.as_bytes().chunks(digits).enumerate() {
        let text = std::str::from_utf8(chunk).map_err(|_| format!("field `{field}`: not ASCII"))?;
        let w = u32::from_str_radix(text, 16).map_err(|_| {
            format!("field `{field}`: `{text}` (word {i}) is not {digits} hex digits")
        })?;
        out.push(w);
    }
    Ok(out)
}

/// Parse concatenated two-digit hex bytes.
pub fn parse_bytes(s: &str, field: &str) -> Result<Vec<u8>, String> {
    Ok(parse_words(s, 2, field)?
        .into_iter()
        .map(|w| w as u8)
        .collect())
}

/// One parsed data line: its fields in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// `key=value` fields in file order.
    pub fields: Vec<(String, String)>,
}

impl Line {
    /// Split a data line into `key=value` fields. Anything after a ` #` is a comment.
    pub fn parse(text: &str) -> Result<Line, String> {
        let text = match text.find(" #") {
            Some(i) => &text[..i],
            None => text,
        };
        let mut fields = Vec::new();
        for token in text.split_whitespace() {
            let (k, v) = token
                .split_once('=')
                .ok_or_else(|| format!("`{token}` is not a key=value field"))?;
            fields.push((k.to_string(), v.to_string()));
        }
        Ok(Line { fields })
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key`, or an error naming it.
    pub fn need(&self, key: &str) -> Result<&str, String> {
        self.get(key)
            .ok_or_else(|| format!("missing field `{key}`"))
    }

    /// The value of `key`, `None` for a missing field or `-`.
    pub fn opt(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| *v != "-")
    }
}

/// A whole case file: header keys (in order) and data lines with their 1-based line numbers.
#[derive(Clone, Debug, Default)]
pub struct CaseFile {
    /// `# key: value` header lines, in order.
    pub header: Vec<(String, String)>,
    /// Data lines with their 1-based line numbers.
    pub lines: Vec<(usize, Line)>,
}

impl CaseFile {
    /// Parse a file; `name` is used in error messages.
    pub fn parse(name: &str, text: &str) -> Result<CaseFile, String> {
        let mut file = CaseFile::default();
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.trim_end();
            if line.is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix('#') {
                if let Some((k, v)) = rest.trim_start().split_once(": ") {
                    if !k.contains(' ') {
                        file.header.push((k.to_string(), v.to_string()));
                    }
                }
                continue;
            }
            let parsed = Line::parse(line).map_err(|e| format!("{name}:{n}: {e}"))?;
            file.lines.push((n, parsed));
        }
        Ok(file)
    }

    /// The first header value for `key`.
    pub fn header(&self, key: &str) -> Option<&str> {
        self.header
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Number of cases in a text file: non-empty lines that do not start with `#`.
pub fn count_cases(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .count()
}
