//! Tensor-core MMA emulator: NVIDIA's fused dot-product-add arithmetic, bit for bit.
//!
//! The models are MMA-Sim's (Xie et al., arXiv 2511.10909; the `mmasim` 2.1.1 package),
//! reimplemented in integer arithmetic: every input is decoded to an exact dyadic value,
//! terms are aligned and truncated with shifts, summed in `i128`, and rounded into the
//! output format by integer code ([`value::Rounding::round`]). No floating-point operation
//! computes an emulated result.
//!
//! * [`fdpa`]: T-FDPA, ST-FDPA and GST-FDPA, one chunk at a time.
//! * [`spec`]: the per-architecture parameters, from `spec/mma/<arch>.yaml`.
//! * [`Instruction::dot`]: one dot product `d = a·b + c` through an instruction, chained over
//!   K in chunks of `l_max` (each chunk's result is the next chunk's C), and
//!   [`Instruction::gemm`], the matrix form.
//! * [`sfp4`]: SFP4 (shifted NVFP4) on Blackwell and Hopper tensor cores, and exact.
//! * [`cases`]: the line-per-dot-product case files under `vectors/mma/`.

pub mod cases;
pub mod fdpa;
pub mod gemm;
pub mod sfp4;
pub mod spec;
pub mod value;

use std::fmt;

pub use spec::{hardware_evidence, registry, CPath, Instruction, Model, Registry};
pub use value::{Format, Rounding};

use fdpa::{FdpaParams, Group};
use value::Val;

/// Errors of the emulator: bad spec files, or operands that do not fit an instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmuError {
    /// A spec file does not parse or is inconsistent.
    Spec(String),
    /// No instruction of that name.
    UnknownInstruction(String),
    /// Operand shapes or codes do not fit the instruction.
    Shape(String),
}

impl fmt::Display for EmuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmuError::Spec(m) => write!(f, "spec: {m}"),
            EmuError::UnknownInstruction(m) => write!(f, "unknown instruction `{m}`"),
            EmuError::Shape(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for EmuError {}

/// Looks an instruction up by `<arch>/<ptx name>`.
pub fn instruction(id: &str) -> Result<&'static Instruction, EmuError> {
    registry()?
        .get(id)
        .ok_or_else(|| EmuError::UnknownInstruction(id.to_string()))
}

impl Instruction {
    /// Number of scale bytes per operand for a dot product of length `k` (0 if unscaled).
    pub fn scales_for(&self, k: usize) -> usize {
        match self.model {
            Model::TFdpa => 0,
            _ => k / self.block as usize,
        }
    }

    /// Checks that `k` is a length this instruction can compute (a positive multiple of its K).
    pub fn check_k(&self, k: usize) -> Result<(), EmuError> {
        if k == 0 || !k.is_multiple_of(self.k as usize) {
            return Err(EmuError::Shape(format!(
                "K = {k} is not a positive multiple of {}'s K = {}",
                self.id(),
                self.k
            )));
        }
        Ok(())
    }

    fn params(&self) -> FdpaParams {
        FdpaParams {
            f: self.f,
            rho: self.rounding,
            e_zero: self.e_zero,
        }
    }

    /// The C/D format: FP32, or FP16 for `rne-fp16` instructions.
    pub fn acc_format(&self) -> Format {
        if self.rounding.is_f16() {
            Format::F16
        } else {
            Format::F32
        }
    }

    /// One dot product `d = Σ a_i·b_i + c` (codes of the operand formats, element 0 first;
    /// scale bytes block 0 first; `c` and the result as FP32, or FP16, bit patterns).
    pub fn dot(&self, a: &[u32], b: &[u32], sa: &[u8], sb: &[u8], c: u32) -> Result<u32, EmuError> {
        let k = a.len();
        self.check_k(k)?;
        if b.len() != k {
            return Err(EmuError::Shape(format!(
                "a has {k} elements but b has {}",
                b.len()
            )));
        }
        let ns = self.scales_for(k);
        if sa.len() != ns || sb.len() != ns {
            return Err(EmuError::Shape(format!(
                "{} needs {ns} scale bytes per operand for K = {k}, got {} and {}",
                self.id(),
                sa.len(),
                sb.len()
            )));
        }
        let acc = self.acc_format();
        if u64::from(c) >> acc.bits() != 0 {
            return Err(EmuError::Shape(format!("c = {c:#x} does not fit {acc}")));
        }
        let da = decode_all(self.a, a)?;
        let db = decode_all(self.b, b)?;
        let p = self.params();
        let l = self.l_max as usize;
        let mut d = c;
        match self.model {
            Model::TFdpa => {
                let (da, db) = match self.convert {
                    Some(f) => (reexpress(&da, f), reexpress(&db, f)),
                    None => (da, db),
                };
                // One instruction (K elements) at a time, so chained instructions see each
                // other's rounded outputs as C.
                let kk = self.k as usize;
                let pattern: Vec<u32> = if self.chunk_pattern.is_empty() {
                    (0..kk).map(|k| (k / l) as u32).collect()
                } else {
                    self.chunk_pattern.clone()
                };
                let nchunks = pattern.iter().max().map_or(0, |&m| m as usize + 1);
                let mut xa = Vec::with_capacity(kk);
                let mut xb = Vec::with_capacity(kk);
                for (ia, ib) in da.chunks(kk).zip(db.chunks(kk)) {
                    let mut r = if self.c_path == CPath::Fused { d } else { 0 };
                    for chunk in 0..nchunks {
                        xa.clear();
                        xb.clear();
                        for (k, (va, vb)) in ia.iter().zip(ib).enumerate() {
                            if pattern[k % pattern.len()] as usize == chunk {
                                xa.push(*va);
                                xb.push(*vb);
                            }
                        }
                        r = fdpa::t_fdpa(&xa, &xb, acc.decode(r), &p);
                    }
                    d = match self.c_path {
                        CPath::Fused => r,
                        CPath::Fp32Add => value::add_f32(r, d),
                        CPath::Fp16Add => value::add_f16(r, d),
                    };
                }
            }
            Model::StFdpa => {
                let sf = self.scale_format()?;
                for (i, (ca, cb)) in da.chunks(l).zip(db.chunks(l)).enumerate() {
                    d = fdpa::st_fdpa(
                        ca,
                        cb,
                        acc.decode(d),
                        sf.decode(sa[i].into()),
                        sf.decode(sb[i].into()),
                        &p,
                    );
                }
            }
            Model::GstFdpa => {
                let sf = self.scale_format()?;
                let g = self.group as usize;
                let per_scale = (self.block / self.group) as usize;
                let mut groups = Vec::with_capacity(l / g);
                for (ci, (ca, cb)) in a.chunks(l).zip(b.chunks(l)).enumerate() {
                    groups.clear();
                    for (gi, (ga, gb)) in ca.chunks(g).zip(cb.chunks(g)).enumerate() {
                        let s = (ci * l / g + gi) / per_scale;
                        let (p4, all_zero) = fp4_group(ga, gb);
                        groups.push(Group {
                            p4,
                            all_zero,
                            alpha: sf.decode(sa[s].into()),
                            beta: sf.decode(sb[s].into()),
                        });
                    }
                    d = fdpa::gst_fdpa(&groups, acc.decode(d), &p);
                }
            }
        }
        Ok(d)
    }

    fn scale_format(&self) -> Result<Format, EmuError> {
        self.scale
            .ok_or_else(|| EmuError::Spec(format!("{} has no scale format", self.id())))
    }

    /// Matrix form: `D = A·B + C` for an M×K `a`, a K×N `b` and an M×N row-major `c`.
    ///
    /// Scales: `a.scales` is M × (K/block) (row `i` holds row `i`'s blocks, block 0 first);
    /// `b.scales` is N × (K/block) (column `j`'s blocks). Returns D row-major.
    pub fn gemm(
        &self,
        m: usize,
        n: usize,
        k: usize,
        a: &Operand,
        b: &Operand,
        c: &[u32],
    ) -> Result<Vec<u32>, EmuError> {
        self.check_k(k)?;
        if c.len() != m * n {
            return Err(EmuError::Shape(format!(
                "C has {} elements, expected {m}×{n}",
                c.len()
            )));
        }
        let ns = self.scales_for(k);
        let rows: Vec<Vec<u32>> = (0..m)
            .map(|i| a.vector(i, m, k, true))
            .collect::<Result<_, _>>()?;
        let cols: Vec<Vec<u32>> = (0..n)
            .map(|j| b.vector(j, n, k, false))
            .collect::<Result<_, _>>()?;
        let sa = scale_rows(a.scales, m, ns, "A")?;
        let sb = scale_rows(b.scales, n, ns, "B")?;
        if self.model == Model::GstFdpa {
            return self.gemm_gst(&rows, &cols, &sa, &sb, c);
        }
        let mut d = Vec::with_capacity(m * n);
        for (i, row) in rows.iter().enumerate() {
            for (j, col) in cols.iter().enumerate() {
                d.push(self.dot(row, col, sa[i], sb[j], c[i * n + j])?);
            }
        }
        Ok(d)
    }

    /// GST-FDPA GEMM with the FP4 operands pre-decoded to small integers (the bench path).
    fn gemm_gst(
        &self,
        rows: &[Vec<u32>],
        cols: &[Vec<u32>],
        sa: &[&[u8]],
        sb: &[&[u8]],
        c: &[u32],
    ) -> Result<Vec<u32>, EmuError> {
        let sf = self.scale_format()?;
        let n = cols.len();
        let dec =
            |v: &Vec<u32>| -> Result<Vec<i8>, EmuError> { v.iter().map(|&x| fp4_x2(x)).collect() };
        let ra: Vec<Vec<i8>> = rows.iter().map(dec).collect::<Result<_, _>>()?;
        let cb: Vec<Vec<i8>> = cols.iter().map(dec).collect::<Result<_, _>>()?;
        let sdec = |s: &[&[u8]]| -> Vec<Vec<Val>> {
            s.iter()
                .map(|r| r.iter().map(|&x| sf.decode(x.into())).collect())
                .collect()
        };
        let (va, vb) = (sdec(sa), sdec(sb));
        let p = self.params();
        let (l, g) = (self.l_max as usize, self.group as usize);
        let per_scale = (self.block / self.group) as usize;
        let mut d = Vec::with_capacity(c.len());
        let mut groups = Vec::with_capacity(l / g);
        for (i, x) in ra.iter().enumerate() {
            for (j, y) in cb.iter().enumerate() {
                let mut acc = c[i * n + j];
                for (ci, (cx, cy)) in x.chunks(l).zip(y.chunks(l)).enumerate() {
                    groups.clear();
                    for (gi, (gx, gy)) in cx.chunks(g).zip(cy.chunks(g)).enumerate() {
                        let s = (ci * l / g + gi) / per_scale;
                        let mut sum = 0i32;
                        let mut nz = false;
                        for (&u, &v) in gx.iter().zip(gy) {
                            let prod = i32::from(u) * i32::from(v);
                            sum += prod;
                            nz |= prod != 0;
                        }
                        groups.push(Group {
                            p4: i64::from(sum),
                            all_zero: !nz,
                            alpha: va[i][s],
                            beta: vb[j][s],
                        });
                    }
                    acc = fdpa::gst_fdpa(&groups, Format::F32.decode(acc), &p);
                }
                d.push(acc);
            }
        }
        Ok(d)
    }
}

/// Storage order of a matrix operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Element (r, c) at `r · cols + c`.
    RowMajor,
    /// Element (r, c) at `c · rows + r`.
    ColMajor,
}

/// Element storage of a matrix operand.
#[derive(Clone, Copy, Debug)]
pub enum Elements<'a> {
    /// One code per element (low bits of each `u32`).
    Codes(&'a [u32]),
    /// FP4 codes packed two per byte, element 2i in the low nibble, 2i+1 in the high nibble
    /// (in storage order).
    PackedFp4(&'a [u8]),
}

/// A matrix operand: elements in a layout, plus its block scales (may be empty).
#[derive(Clone, Copy, Debug)]
pub struct Operand<'a> {
    /// The elements.
    pub elements: Elements<'a>,
    /// Their storage order.
    pub layout: Layout,
    /// Scale bytes, one row per M-row of A or per N-column of B, blocks along K.
    pub scales: &'a [u8],
}

impl Operand<'_> {
    /// Code at storage index `idx`.
    fn code(&self, idx: usize) -> Option<u32> {
        match self.elements {
            Elements::Codes(c) => c.get(idx).copied(),
            Elements::PackedFp4(p) => p.get(idx / 2).map(|&byte| {
                u32::from(if idx.is_multiple_of(2) {
                    byte & 0xF
                } else {
                    byte >> 4
                })
            }),
        }
    }

    /// The K-vector `t` (row `t` of A when `is_a`, column `t` of B otherwise); `outer` is M or N.
    fn vector(&self, t: usize, outer: usize, k: usize, is_a: bool) -> Result<Vec<u32>, EmuError> {
        (0..k)
            .map(|x| {
                // A is outer×K (row r = t); B is K×outer (column = t).
                let (r, c, rows, cols) = if is_a {
                    (t, x, outer, k)
                } else {
                    (x, t, k, outer)
                };
                let idx = match self.layout {
                    Layout::RowMajor => r * cols + c,
                    Layout::ColMajor => c * rows + r,
                };
                self.code(idx).ok_or_else(|| {
                    EmuError::Shape(format!("operand too short for element ({r}, {c})"))
                })
            })
            .collect()
    }
}

fn scale_rows<'a>(
    s: &'a [u8],
    rows: usize,
    per: usize,
    what: &str,
) -> Result<Vec<&'a [u8]>, EmuError> {
    if s.len() != rows * per {
        return Err(EmuError::Shape(format!(
            "{what} scales: {} bytes, expected {rows}×{per}",
            s.len()
        )));
    }
    Ok((0..rows).map(|r| &s[r * per..(r + 1) * per]).collect())
}

/// Re-expresses decoded values in a wider format `f` (an exact conversion): only the frexp
/// exponent changes, because values subnormal in the narrow format may be normal in `f`.
fn reexpress(v: &[Val], f: Format) -> Vec<Val> {
    v.iter()
        .map(|x| match *x {
            Val::Fin(fin) if fin.mag != 0 => {
                let msb = 63 - fin.mag.leading_zeros() as i32;
                Val::Fin(value::Fin {
                    fexp: (msb + fin.exp).max(f.e_sub()),
                    ..fin
                })
            }
            Val::Fin(fin) => Val::Fin(value::Fin {
                fexp: f.e_sub(),
                ..fin
            }),
            other => other,
        })
        .collect()
}

fn decode_all(f: Format, codes: &[u32]) -> Result<Vec<Val>, EmuError> {
    codes
        .iter()
        .map(|&x| {
            if u64::from(x) >> f.bits() != 0 {
                Err(EmuError::Shape(format!(
                    "code {x:#x} does not fit {f} ({} bits)",
                    f.bits()
                )))
            } else {
                Ok(f.decode(x))
            }
        })
        .collect()
}

/// Twice the value of an E2M1 code, as a small integer (exact: E2M1 values are multiples of ½).
pub fn fp4_x2(code: u32) -> Result<i8, EmuError> {
    const MAG: [i8; 8] = [0, 1, 2, 3, 4, 6, 8, 12];
    if code > 0xF {
        return Err(EmuError::Shape(format!(
            "FP4 code {code:#x} has more than 4 bits"
        )));
    }
    let m = MAG[(code & 7) as usize];
    Ok(if code & 8 != 0 { -m } else { m })
}

/// Σ a·b · 4 over one group of E2M1 codes, and whether every product is zero.
fn fp4_group(a: &[u32], b: &[u32]) -> (i64, bool) {
    let mut sum = 0i64;
    let mut nz = false;
    for (&x, &y) in a.iter().zip(b) {
        // Codes were range-checked by decode_all.
        let p = i64::from(fp4_x2(x).unwrap_or(0)) * i64::from(fp4_x2(y).unwrap_or(0));
        sum += p;
        nz |= p != 0;
    }
    (sum, !nz)
}
