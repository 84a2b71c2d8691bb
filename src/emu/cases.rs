//! MMA case files: one dot product per line (format in `vectors/mma/README.md`).
//!
//! ```text
//! <instr> <a> <b> <sa> <sb> <c> <d>      # comment
//! ```
//! `instr` is `<arch>/<ptx name>` or an SFP4 pipeline `sfp4/<hopper|blackwell|exact>`; `a`,
//! `b` are the K element codes, element 0 first, as fixed-width hex (1 digit per FP4 code, 2
//! per FP6/FP8 code, 4 per BF16/F16, 8 per TF32/F32); `sa`, `sb` the scale bytes, block 0
//! first (2 digits each, `-` for none); `c`, `d` the accumulator bit patterns (8 hex digits
//! for FP32, 4 for FP16-output instructions). `d` may be `-` in a file given to `--emit`.

use std::fmt;

use super::sfp4::Pipeline;
use super::{instruction, EmuError, Format, Instruction};

/// What a case line runs: a tensor-core instruction or an SFP4 pipeline.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// A tensor-core instruction from the spec.
    Mma(&'static Instruction),
    /// An SFP4 × NVFP4 pipeline (`sfp4/...`).
    Sfp4(Pipeline),
}

impl Op {
    /// Resolves a case-file instruction token.
    pub fn from_id(id: &str) -> Result<Op, EmuError> {
        if let Some(p) = id.strip_prefix("sfp4/") {
            return Pipeline::from_name(p)
                .map(Op::Sfp4)
                .ok_or_else(|| EmuError::UnknownInstruction(id.to_string()));
        }
        instruction(id).map(Op::Mma)
    }

    fn a_format(&self) -> Format {
        match self {
            Op::Mma(i) => i.a,
            Op::Sfp4(_) => Format::E2M1,
        }
    }

    fn b_format(&self) -> Format {
        match self {
            Op::Mma(i) => i.b,
            Op::Sfp4(_) => Format::E2M1,
        }
    }

    fn acc_digits(&self) -> usize {
        match self {
            Op::Mma(i) => i.acc_format().hex_digits(),
            Op::Sfp4(_) => 8,
        }
    }

    fn scales_for(&self, k: usize) -> usize {
        match self {
            Op::Mma(i) => i.scales_for(k),
            Op::Sfp4(_) => k / 16,
        }
    }

    fn k_rule(&self) -> (usize, String) {
        match self {
            Op::Mma(i) => (i.k as usize, i.id()),
            Op::Sfp4(p) => (p.k_multiple(), format!("sfp4/{}", p.name())),
        }
    }

    /// Computes `d` for one case.
    pub fn compute(&self, c: &Case) -> Result<u32, EmuError> {
        match self {
            Op::Mma(i) => i.dot(&c.a, &c.b, &c.sa, &c.sb, c.c),
            Op::Sfp4(p) => p.dot(&c.a, &c.b, &c.sa, &c.sb, c.c),
        }
    }

    /// Whether results are FP16 bit patterns.
    pub fn is_f16(&self) -> bool {
        self.acc_digits() == 4
    }
}

/// One parsed case.
#[derive(Clone, Debug)]
pub struct Case {
    /// The instruction token as written.
    pub instr: String,
    /// A codes.
    pub a: Vec<u32>,
    /// B codes.
    pub b: Vec<u32>,
    /// A scale bytes.
    pub sa: Vec<u8>,
    /// B scale bytes.
    pub sb: Vec<u8>,
    /// C bits.
    pub c: u32,
    /// Expected D bits (`None` for `-`).
    pub d: Option<u32>,
}

/// A malformed line: what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError(pub String);

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(m: impl Into<String>) -> Result<T, LineError> {
    Err(LineError(m.into()))
}

/// Rejects anything but ASCII hex digits up front: the fixed-width fields are then sliced by
/// byte offsets, which would panic inside a multi-byte character, and `from_str_radix` alone
/// would also accept a leading `+` (fuzz/regressions/mma_cases).
fn check_hex(field: &str, tok: &str) -> Result<(), LineError> {
    match tok.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        Some((i, c)) => err(format!("{field}: `{c}` at byte {i} is not a hex digit")),
        None => Ok(()),
    }
}

fn hex_codes(field: &str, tok: &str, digits: usize, f: Format) -> Result<Vec<u32>, LineError> {
    check_hex(field, tok)?;
    if !tok.len().is_multiple_of(digits) {
        return err(format!(
            "{field}: {} hex digits is not a multiple of {digits} ({f} takes {digits} per element)",
            tok.len()
        ));
    }
    (0..tok.len() / digits)
        .map(|i| {
            let s = &tok[i * digits..(i + 1) * digits];
            let v = u32::from_str_radix(s, 16)
                .map_err(|_| LineError(format!("{field}: bad hex `{s}` at element {i}")))?;
            if u64::from(v) >> f.bits() != 0 {
                return err(format!(
                    "{field}: element {i} = {s} does not fit {f} ({} bits)",
                    f.bits()
                ));
            }
            Ok(v)
        })
        .collect()
}

fn hex_word(field: &str, tok: &str, digits: usize) -> Result<u32, LineError> {
    if tok.len() != digits || !tok.bytes().all(|c| c.is_ascii_hexdigit()) {
        return err(format!(
            "{field}: expected {digits} hex digits, found `{tok}`"
        ));
    }
    u32::from_str_radix(tok, 16).map_err(|_| LineError(format!("{field}: bad hex `{tok}`")))
}

fn scales(field: &str, tok: &str, n: usize) -> Result<Vec<u8>, LineError> {
    if n == 0 {
        return if tok == "-" {
            Ok(Vec::new())
        } else {
            err(format!(
                "{field}: expected `-` (this instruction has no scales), found `{tok}`"
            ))
        };
    }
    check_hex(field, tok)?;
    if tok.len() != 2 * n {
        return err(format!(
            "{field}: expected {} hex digits ({n} scale bytes), found {}",
            2 * n,
            tok.len()
        ));
    }
    (0..n)
        .map(|i| {
            let s = &tok[2 * i..2 * i + 2];
            u8::from_str_radix(s, 16)
                .map_err(|_| LineError(format!("{field}: bad hex `{s}` at scale {i}")))
        })
        .collect()
}

/// Splits off a `#` comment; returns (content, comment including `#`).
fn split_comment(line: &str) -> (&str, &str) {
    match line.find('#') {
        Some(p) => (&line[..p], &line[p..]),
        None => (line, ""),
    }
}

/// Parses one non-blank, non-comment line.
pub fn parse_line(content: &str) -> Result<(Op, Case), LineError> {
    let mut t: Vec<&str> = content.split_whitespace().collect();
    // An optional eighth field `k=<K>` states the dot-product length, so codes of the wrong
    // width (FP8 codes on an f16 line: 64 two-digit codes read as 32 four-digit ones) are
    // caught instead of silently giving another K.
    let declared_k = match t.last().and_then(|f| f.strip_prefix("k=")) {
        Some(v) if t.len() == 8 => {
            let k: usize = v
                .parse()
                .map_err(|_| LineError(format!("k=: `{v}` is not a count")))?;
            t.pop();
            Some(k)
        }
        _ => None,
    };
    if t.len() != 7 {
        return err(format!(
            "expected 7 fields `<instr> <a> <b> <sa> <sb> <c> <d>` (and optionally `k=<K>`), found {}",
            t.len()
        ));
    }
    let op = Op::from_id(t[0]).map_err(|e| LineError(e.to_string()))?;
    let (fa, fb) = (op.a_format(), op.b_format());
    if let Some(k) = declared_k {
        let want = k * fa.hex_digits();
        if t[1].len() != want {
            return err(format!(
                "a: k={k} {fa} codes need {want} hex digits ({} per code), found {}",
                fa.hex_digits(),
                t[1].len()
            ));
        }
    }
    let a = hex_codes("a", t[1], fa.hex_digits(), fa)?;
    let k = a.len();
    let (km, name) = op.k_rule();
    if k == 0 || k % km != 0 {
        return err(format!(
            "a: K = {k} is not allowed for {name} (a positive multiple of {km})"
        ));
    }
    if t[2].len() != k * fb.hex_digits() {
        return err(format!(
            "b: expected {} hex digits (K = {k} {fb} codes), found {}",
            k * fb.hex_digits(),
            t[2].len()
        ));
    }
    let b = hex_codes("b", t[2], fb.hex_digits(), fb)?;
    let ns = op.scales_for(k);
    let sa = scales("sa", t[3], ns)?;
    let sb = scales("sb", t[4], ns)?;
    let digits = op.acc_digits();
    let c = hex_word("c", t[5], digits)?;
    let d = if t[6] == "-" {
        None
    } else {
        Some(hex_word("d", t[6], digits)?)
    };
    Ok((
        op,
        Case {
            instr: t[0].to_string(),
            a,
            b,
            sa,
            sb,
            c,
            d,
        },
    ))
}

/// Distance in units in the last place between two bit patterns of the same width
/// (the number of representable values between them, +0 and −0 counted as one).
pub fn ulp_distance(x: u32, y: u32, f16: bool) -> u64 {
    let (sign, mag) = if f16 {
        (0x8000u32, 0x7FFFu32)
    } else {
        (0x8000_0000, 0x7FFF_FFFF)
    };
    let ord = |v: u32| -> i64 {
        let m = i64::from(v & mag);
        if v & sign != 0 {
            -m
        } else {
            m
        }
    };
    ord(x).abs_diff(ord(y))
}

/// A case whose `d` differed from the emulator's.
pub type Mismatch = CaseResult;

/// One checked case: where it is, the expected and computed bits.
#[derive(Clone, Debug)]
pub struct CaseResult {
    /// 1-based line number.
    pub line: usize,
    /// Instruction token.
    pub instr: String,
    /// Expected bits (from the file).
    pub expected: u32,
    /// Computed bits.
    pub got: u32,
    /// ULP distance (meaningless when either is NaN).
    pub ulps: u64,
    /// Both are NaN and only the payload differs.
    pub nan_payload_only: bool,
    /// The result is FP16 bits (an `.f16` output instruction), else FP32 bits.
    pub f16: bool,
}

/// Result of checking one file.
#[derive(Debug, Default)]
pub struct Report {
    /// Cases checked.
    pub cases: usize,
    /// Cases whose `d` differed.
    pub mismatches: Vec<Mismatch>,
    /// Malformed lines: (line, message).
    pub malformed: Vec<(usize, String)>,
    /// Per-instruction (cases, mismatches), in first-seen order.
    pub per_instr: Vec<(String, usize, usize)>,
    /// Every case, matching or not, in file order: filled by [`check_all`] only.
    pub results: Vec<CaseResult>,
}

impl Report {
    /// Whether the file passed (no mismatch, no malformed line).
    pub fn ok(&self) -> bool {
        self.mismatches.is_empty() && self.malformed.is_empty()
    }

    fn count(&mut self, instr: &str, mismatch: bool) {
        let pos = match self.per_instr.iter().position(|(n, _, _)| n == instr) {
            Some(p) => p,
            None => {
                self.per_instr.push((instr.to_string(), 0, 0));
                self.per_instr.len() - 1
            }
        };
        self.per_instr[pos].1 += 1;
        self.per_instr[pos].2 += usize::from(mismatch);
    }
}

/// Checks every case of a file's text.
pub fn check(text: &str) -> Report {
    check_keeping(text, false)
}

/// As [`check`], also keeping every case's result in [`Report::results`] (for `--json`).
pub fn check_all(text: &str) -> Report {
    check_keeping(text, true)
}

fn check_keeping(text: &str, keep_all: bool) -> Report {
    let mut r = Report::default();
    for (i, line) in text.lines().enumerate() {
        let (content, _) = split_comment(line);
        if content.trim().is_empty() {
            continue;
        }
        let (op, case) = match parse_line(content) {
            Ok(x) => x,
            Err(e) => {
                r.malformed.push((i + 1, e.0));
                continue;
            }
        };
        let Some(expected) = case.d else {
            r.malformed
                .push((i + 1, "d: expected a result to check, found `-`".into()));
            continue;
        };
        let got = match op.compute(&case) {
            Ok(g) => g,
            Err(e) => {
                r.malformed.push((i + 1, e.to_string()));
                continue;
            }
        };
        r.cases += 1;
        let bad = got != expected;
        r.count(&case.instr, bad);
        if bad || keep_all {
            let f16 = op.is_f16();
            let is_nan = |v| {
                if f16 {
                    super::value::is_nan_f16(v)
                } else {
                    super::value::is_nan_f32(v)
                }
            };
            let result = CaseResult {
                line: i + 1,
                instr: case.instr,
                expected,
                got,
                ulps: ulp_distance(expected, got, f16),
                nan_payload_only: bad && is_nan(expected) && is_nan(got),
                f16,
            };
            if keep_all {
                r.results.push(result.clone());
            }
            if bad {
                r.mismatches.push(result);
            }
        }
    }
    r
}

/// Recomputes `d` on every case line; comments and blank lines are kept. Fails on the first
/// malformed line (listing all of them), so no half-filled output is produced.
pub fn emit(text: &str) -> Result<String, Vec<(usize, String)>> {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let (content, comment) = split_comment(line);
        if content.trim().is_empty() {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let res = parse_line(content).and_then(|(op, case)| {
            op.compute(&case)
                .map(|d| (op, d))
                .map_err(|e| LineError(e.to_string()))
        });
        match res {
            Ok((op, d)) => {
                let t: Vec<&str> = content.split_whitespace().collect();
                let w = op.acc_digits();
                out.push_str(&t[..6].join(" "));
                out.push_str(&format!(" {d:0w$X}"));
                // Keep a `k=` field where the input had one.
                if let Some(k) = t.get(7) {
                    out.push(' ');
                    out.push_str(k);
                }
                if !comment.is_empty() {
                    out.push(' ');
                    out.push_str(comment);
                }
                out.push('\n');
            }
            Err(e) => bad.push((i + 1, e.0)),
        }
    }
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(bad)
    }
}
