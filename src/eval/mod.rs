//! The accuracy study behind `gridgames eval`: relative MSE ‖x − x̂‖² / ‖x‖² of every format on
//! synthetic distributions and real weights, for several group sizes (the format's grids
//! kept, its group size overridden), with the format's real scale rounding (the `reference`
//! profile unless told otherwise); and the PO2 gain of a multi-grid format over the best of
//! its own grids used alone.

pub mod plot;
pub mod rng;

use crate::format::Format;
pub use crate::quant::Profile;
use crate::quant::{QuantError, Quantizer};
pub use rng::{Distribution, Rng};

/// The group sizes of the study.
pub const GROUP_SIZES: [u32; 6] = [8, 16, 32, 64, 128, 256];

/// Every scale byte selects grid 0: the selector table of a single-grid view.
static GRID0_OF_EVERY_BYTE: [i8; 256] = [0; 256];
static NO_SELECTOR_BITS: [u32; 1] = [0];

/// The same format with another group size (grids, scales and rules unchanged).
pub fn with_group_size(format: &Format, group_size: u32) -> Format {
    Format {
        group_size,
        ..*format
    }
}

/// Grid `grid` of a format used alone: same container and scale rules, no selector bits
/// written (the value mask keeps the format's scale range). `None` when there is no such grid.
pub fn single_grid(format: &Format, grid: usize) -> Option<Format> {
    let grids = format.grids.get(grid..=grid)?;
    Some(Format {
        grids,
        selector_mask: 0,
        selector_of_byte: if format.scale_bytes == 1 {
            &GRID0_OF_EVERY_BYTE
        } else {
            &[]
        },
        selector_bits_of_grid: &NO_SELECTOR_BITS,
        ..*format
    })
}

/// Squared error and energy of one tensor (or a sum over tensors), in f64.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ErrorSum {
    /// Σ (x − x̂)².
    pub sse: f64,
    /// Σ x².
    pub energy: f64,
    /// Values counted.
    pub count: u64,
}

impl ErrorSum {
    /// ‖x − x̂‖² / ‖x‖² (0 for an all-zero input).
    pub fn relative_mse(&self) -> f64 {
        if self.energy == 0.0 {
            0.0
        } else {
            self.sse / self.energy
        }
    }

    /// Add another tensor's sums.
    pub fn add(&mut self, other: ErrorSum) {
        self.sse += other.sse;
        self.energy += other.energy;
        self.count += other.count;
    }
}

/// Quantize one tensor (its own tensor scale, the last group zero-padded), decode it and sum
/// the squared error over the input values.
pub fn tensor_error(format: &Format, profile: Profile, x: &[f32]) -> Result<ErrorSum, String> {
    let q = Quantizer::new(format, profile).map_err(|e: QuantError| e.to_string())?;
    let quantized = q.quantize(x, true).map_err(|e| e.to_string())?;
    let decoded = quantized
        .decode_f32()
        .map_err(|e| format!("decoding {}: {e:?}", format.name))?;
    let mut sum = ErrorSum::default();
    for (&v, &d) in x.iter().zip(&decoded) {
        let e = v as f64 - d as f64;
        sum.sse += e * e;
        sum.energy += (v as f64) * (v as f64);
    }
    sum.count = x.len() as u64;
    Ok(sum)
}

/// Relative MSE of `format` at `group_size` over a set of tensors (each with its own tensor
/// scale).
pub fn relative_mse(
    format: &Format,
    profile: Profile,
    group_size: u32,
    tensors: &[&[f32]],
) -> Result<ErrorSum, String> {
    let f = with_group_size(format, group_size);
    let mut total = ErrorSum::default();
    for t in tensors {
        total.add(tensor_error(&f, profile, t)?);
    }
    Ok(total)
}

/// The PO2 gain of a multi-grid format: 1 − mse(format) / min_j mse(grid j alone). Zero for
/// single-grid formats.
pub fn po2_gain(
    format: &Format,
    profile: Profile,
    group_size: u32,
    tensors: &[&[f32]],
) -> Result<Option<f64>, String> {
    if format.grids.len() < 2 {
        return Ok(None);
    }
    let multi = relative_mse(format, profile, group_size, tensors)?.relative_mse();
    let mut best = f64::INFINITY;
    for g in 0..format.grids.len() {
        if let Some(single) = single_grid(format, g) {
            best = best.min(relative_mse(&single, profile, group_size, tensors)?.relative_mse());
        }
    }
    Ok(Some(if best > 0.0 { 1.0 - multi / best } else { 0.0 }))
}
