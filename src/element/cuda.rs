//! NVIDIA's own float conversions, as CUDA 13.0's `cuda_fp8.h`, `cuda_fp6.h` and `cuda_fp4.h`
//! compute them (`__nv_cvt_float_to_fp8`, `__nv_cvt_float_to_e8m0`, `__nv_cvt_float_to_fp6`,
//! `__nv_cvt_float_to_fp4`), checked over all 2^32 f32 inputs on an H200 (gpu/cvt_probe.cu,
//! gpu/results/h200_cvt_probe.txt, tests/cuda_cvt.rs): all 14 modes equal the H200 on every
//! one of the 2^32 inputs (gpu/results/h200host_cvt_exhaustive_cpu.txt). Where they differ
//! from the policies of [`super::Policy`]:
//!
//! - E4M3 and E5M2: every NaN becomes 0x7F, sign dropped (E5M2 too, where IEEE-style 0x7E
//!   would be expected); non-NaN inputs follow `satfinite` (`__NV_SATFINITE`) or `ml_dtypes`
//!   (`__NV_NOSAT`: overflow to Inf for E5M2, to NaN 0x7F for E4M3). Round to nearest only.
//! - UE8M0: no round-to-nearest; round toward zero or up, on |x| (the sign is ignored):
//!   ±0 → 0x00, subnormals → 0x00 (RZ; RP up to 2^-127, 0x01 above it: measured, where a
//!   "0x01 for every subnormal" reading would be off), NaN → 0xFF, ±Inf → 0xFE (SATFINITE) or
//!   0xFF (NOSAT), results past 0xFE → 0xFE (SATFINITE) or 0xFF (NOSAT).
//! - E2M1, E2M3, E3M2: always saturating; round to nearest (ties even) or toward zero; equal
//!   to `satfinite` with that rounding, NaN included.

use super::{Element, EncodeError, Policy, Rounding};

/// `__NV_SATFINITE` or `__NV_NOSAT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CudaSaturation {
    /// Overflow and ±Inf saturate to the largest finite value.
    SatFinite,
    /// Overflow goes to Inf or NaN.
    NoSat,
}

/// `cudaRoundNearest`, `cudaRoundZero`, `cudaRoundPosInf`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CudaRounding {
    /// Round to nearest, ties to even (`rn`).
    Nearest,
    /// Toward zero (`rz`).
    Zero,
    /// Toward +Inf (`rp`; for UE8M0, whose values are all positive, up in magnitude).
    PosInf,
}

impl CudaRounding {
    /// `rn`, `rz`, `rp`.
    pub fn from_name(name: &str) -> Option<CudaRounding> {
        match name {
            "rn" => Some(CudaRounding::Nearest),
            "rz" => Some(CudaRounding::Zero),
            "rp" => Some(CudaRounding::PosInf),
            _ => None,
        }
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            CudaRounding::Nearest => "rn",
            CudaRounding::Zero => "rz",
            CudaRounding::PosInf => "rp",
        }
    }
}

/// Why NVIDIA has no such conversion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoCudaConversion(pub String);

impl std::fmt::Display for NoCudaConversion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether CUDA converts f32 to `element` with this saturation and rounding.
pub fn check_mode(
    element: &Element,
    sat: CudaSaturation,
    rounding: CudaRounding,
) -> Result<(), NoCudaConversion> {
    let ok = match element.name {
        "e4m3" | "e5m2" => rounding == CudaRounding::Nearest,
        "ue8m0" => rounding != CudaRounding::Nearest,
        "e2m1" | "e2m3" | "e3m2" => {
            sat == CudaSaturation::SatFinite && rounding != CudaRounding::PosInf
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(NoCudaConversion(format!(
            "CUDA 13.0 has no f32 -> {} conversion with {} and rounding {} (fp8: rn; e8m0: rz, rp; fp6/fp4: satfinite with rn, rz)",
            element.name,
            match sat {
                CudaSaturation::SatFinite => "SATFINITE",
                CudaSaturation::NoSat => "NOSAT",
            },
            rounding.name()
        )))
    }
}

/// The code CUDA gives for `x`; a mode CUDA does not have is an error saying so.
pub fn convert(
    element: &Element,
    x: f32,
    sat: CudaSaturation,
    rounding: CudaRounding,
) -> Result<u32, NoCudaConversion> {
    check_mode(element, sat, rounding)?;
    let encode_err = |e: EncodeError| NoCudaConversion(format!("{}: {x:e}: {e}", element.name));
    match element.name {
        "e4m3" | "e5m2" => {
            if x.is_nan() {
                return Ok(0x7F);
            }
            let policy = match sat {
                CudaSaturation::SatFinite => Policy::Satfinite,
                CudaSaturation::NoSat => Policy::MlDtypes,
            };
            element
                .encode(f64::from(x), Rounding::NearestEven, policy)
                .map(|r| r.0)
                .map_err(encode_err)
        }
        "ue8m0" => {
            let bits = x.to_bits() & 0x7fff_ffff;
            let clamp = |code: u32| match (code > 0xFE, sat) {
                (false, _) => code,
                (true, CudaSaturation::SatFinite) => 0xFE,
                (true, CudaSaturation::NoSat) => 0xFF,
            };
            if bits > 0x7f80_0000 {
                return Ok(0xFF);
            }
            if bits == 0x7f80_0000 {
                return Ok(clamp(0xFF));
            }
            if bits == 0 {
                return Ok(0);
            }
            let field = bits >> 23;
            let mant = bits & 0x7f_ffff;
            if field == 0 {
                // Subnormal |x| < 2^-126: code 0x00 is 2^-127, 0x01 is 2^-126; rounding up
                // gives 0x00 up to 2^-127 itself (f32 bits 0x00400000) and 0x01 above.
                let up = rounding == CudaRounding::PosInf && bits > 0x0040_0000;
                return Ok(u32::from(up));
            }
            let up = rounding == CudaRounding::PosInf && mant != 0;
            Ok(clamp(field + u32::from(up)))
        }
        _ => {
            let r = match rounding {
                CudaRounding::Zero => Rounding::TowardZero,
                _ => Rounding::NearestEven,
            };
            element
                .encode(f64::from(x), r, Policy::Satfinite)
                .map(|r| r.0)
                .map_err(encode_err)
        }
    }
}

/// One f32 → element conversion rule, as `convert --policy P --rounding R` names it: one of
/// gridgames' policies (round to nearest), or NVIDIA's (`cuda-satfinite`, `cuda-nosat`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conversion {
    /// A [`Policy`] with its rounding for the element.
    Policy(Policy, Rounding),
    /// NVIDIA's header conversion.
    Cuda(CudaSaturation, CudaRounding),
}

impl Conversion {
    /// The conversion named by `policy` (`satfinite`, `ml_dtypes`, `ocp`, `cuda-satfinite`,
    /// `cuda-nosat`) and `rounding` (`rn`, `rz`, `rp`; None: `rn`, or `rz` for UE8M0 under
    /// a CUDA policy since CUDA has no nearest mode there), for `element`.
    pub fn parse(
        element: &Element,
        policy: &str,
        rounding: Option<&str>,
    ) -> Result<Conversion, String> {
        let r = match rounding {
            None => None,
            Some(t) => Some(
                CudaRounding::from_name(t)
                    .ok_or_else(|| format!("rounding `{t}`: expected rn, rz or rp"))?,
            ),
        };
        let sat = match policy {
            "cuda-satfinite" => Some(CudaSaturation::SatFinite),
            "cuda-nosat" => Some(CudaSaturation::NoSat),
            _ => None,
        };
        if let Some(sat) = sat {
            let r = r.unwrap_or(if element.name == "ue8m0" {
                CudaRounding::Zero
            } else {
                CudaRounding::Nearest
            });
            check_mode(element, sat, r).map_err(|e| e.to_string())?;
            return Ok(Conversion::Cuda(sat, r));
        }
        let p = Policy::from_name(policy).ok_or_else(|| {
            format!("unknown policy `{policy}` (expected satfinite, ml_dtypes, ocp, cuda-satfinite, cuda-nosat)")
        })?;
        if r.is_some_and(|r| r != CudaRounding::Nearest) {
            return Err(format!(
                "policy `{policy}` rounds to nearest only; rz/rp are NVIDIA's modes (cuda-satfinite, cuda-nosat)"
            ));
        }
        Ok(Conversion::Policy(p, p.rounding_for(element)))
    }

    /// The code of `x`.
    pub fn apply(&self, element: &Element, x: f32) -> Result<u32, String> {
        match *self {
            Conversion::Policy(p, r) => element
                .encode(f64::from(x), r, p)
                .map(|c| c.0)
                .map_err(|e| e.to_string()),
            Conversion::Cuda(s, r) => convert(element, x, s, r).map_err(|e| e.to_string()),
        }
    }
}
