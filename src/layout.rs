//! Scale layouts: where the scale byte of (row, group) lives in the buffer a kernel writes.
//!
//! gridgames stores scales linearly (row-major `(rows, groups)`); real kernels write them
//! swizzled for the tensor cores that read them. Each layout here is an index formula, taken
//! from the public sources named below, so a verifier can read a kernel's scales as written.
//!
//! | layout | used by | padding | byte of (r, c) |
//! |---|---|---|---|
//! | `linear` | gridgames, ModelOpt checkpoints, FlashInfer `SfLayout.layout_linear` | none | `r·groups + c` |
//! | `128x4` | cuBLAS block-scaled GEMM (`CUBLASLT_MATMUL_MATRIX_SCALE_VEC16_UE4M3` / `VEC32_UE8M0`), TransformerEngine and ModelOpt on Blackwell, torchao `mx_formats.utils.to_blocked`, FlashInfer `SWIZZLED_128x4` | rows to 128, groups to 4, with zeros | `(r/128)·128·G + (c/4)·512 + (r%32)·16 + ((r%128)/32)·4 + c%4` |
//! | `8x4` | FlashInfer / TensorRT-LLM `SWIZZLED_8x4` (`compute_sf_index_swizzled_8x4`) | rows to 8, groups to 4, with zeros | `(r/8)·8·G + (c/4)·32 + (r%8)·4 + c%4` |
//!
//! (G: the padded group count.) Sources (read 2026-12): FlashInfer `flashinfer/quantization/
//! quantization_cute_dsl_utils.py` (`compute_sf_index_swizzled_128x4_gpu`, `…_8x4_gpu`) and
//! `fp4_layout.cuh` (`QuantizationSFLayout`, padding rule `PadUpFn(numRows, rowTile)` with
//! rowTile 128 or 8, scale columns padded to a multiple of 4); torchao
//! `torchao/prototype/mx_formats/utils.py` (`to_blocked`: 128×4 tiles, each rearranged
//! `(4, 32, 4) → (32, 4, 4)`). Only 1-byte scales are swizzled by these kernels.
//!
//! sm_120 (consumer Blackwell): CUTLASS's block-scaled GEMMs for sm_120 take the same scale
//! layout as sm_100's (`cutlass::detail::Sm1xxBlockScaledConfig`, one config for the "1xx"
//! architectures), i.e. `128x4`; the sm_120 `mma.sync … block_scale` instructions take scales
//! in registers, not in a memory layout. No separate "padded row-major" layout was found in
//! the public sources read (CUTLASS, FlashInfer, TensorRT-LLM, torchao), so none is offered:
//! a layout is added here only with the library source that defines it.

/// A scale layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScaleLayout {
    /// Row-major `(rows, groups)`, no padding.
    Linear,
    /// 128×4 tiles (rows padded to 128, groups to 4), the tensor-core layout of cuBLAS.
    Blocked128x4,
    /// 8×4 tiles (rows padded to 8, groups to 4), FlashInfer's `SWIZZLED_8x4`.
    Blocked8x4,
}

/// Why scales could not be read in a layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutError {
    /// The buffer does not have the layout's padded size for the shape.
    Length {
        /// The layout.
        layout: ScaleLayout,
        /// Rows of scales (rows of the tensor).
        rows: usize,
        /// Groups per row.
        groups: usize,
        /// Bytes the layout needs.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// A swizzled layout asked of a format whose scales are wider than one byte.
    ScaleBytes {
        /// The layout.
        layout: ScaleLayout,
        /// The format's name.
        format: &'static str,
        /// Its bytes per scale.
        bytes: u32,
    },
}

impl core::fmt::Display for LayoutError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LayoutError::Length {
                layout,
                rows,
                groups,
                expected,
                got,
            } => {
                let (pr, pg) = layout.padded(*rows, *groups);
                write!(
                    f,
                    "scales: {got} bytes, but the {} layout of {rows}x{groups} scales holds {expected} (rows padded to {pr}, groups to {pg})",
                    layout.name()
                )
            }
            LayoutError::ScaleBytes {
                layout,
                format,
                bytes,
            } => write!(
                f,
                "scale layout `{}` holds 1-byte scales; `{format}` has {bytes}-byte scales (option `scale_layout`)",
                layout.name()
            ),
        }
    }
}

impl core::error::Error for LayoutError {}

impl ScaleLayout {
    /// Every layout.
    pub const ALL: [ScaleLayout; 3] = [
        ScaleLayout::Linear,
        ScaleLayout::Blocked128x4,
        ScaleLayout::Blocked8x4,
    ];

    /// Its name on the command line and in Python (`linear`, `128x4`, `8x4`).
    pub fn name(self) -> &'static str {
        match self {
            ScaleLayout::Linear => "linear",
            ScaleLayout::Blocked128x4 => "128x4",
            ScaleLayout::Blocked8x4 => "8x4",
        }
    }

    /// Inverse of [`ScaleLayout::name`].
    pub fn from_name(name: &str) -> Option<ScaleLayout> {
        ScaleLayout::ALL.into_iter().find(|l| l.name() == name)
    }

    /// The padded `(rows, groups)` the layout stores.
    pub fn padded(self, rows: usize, groups: usize) -> (usize, usize) {
        let up = |n: usize, m: usize| n.div_ceil(m) * m;
        match self {
            ScaleLayout::Linear => (rows, groups),
            ScaleLayout::Blocked128x4 => (up(rows, 128), up(groups, 4)),
            ScaleLayout::Blocked8x4 => (up(rows, 8), up(groups, 4)),
        }
    }

    /// Whether the layout can hold `format`'s scales: every layout but `linear` holds
    /// 1-byte scales only.
    pub fn check_format(self, format: &crate::format::Format) -> Result<(), LayoutError> {
        if self == ScaleLayout::Linear || format.scale_bytes == 1 {
            Ok(())
        } else {
            Err(LayoutError::ScaleBytes {
                layout: self,
                format: format.name,
                bytes: format.scale_bytes,
            })
        }
    }

    /// Bytes the layout stores for `rows × groups` one-byte scales.
    pub fn stored_len(self, rows: usize, groups: usize) -> usize {
        let (r, g) = self.padded(rows, groups);
        r * g
    }

    /// The byte index of scale (row, group); `padded_groups` from [`ScaleLayout::padded`].
    pub fn offset(self, row: usize, group: usize, padded_groups: usize) -> usize {
        match self {
            ScaleLayout::Linear => row * padded_groups + group,
            ScaleLayout::Blocked128x4 => {
                (row / 128) * 128 * padded_groups
                    + (group / 4) * 512
                    + (row % 32) * 16
                    + ((row % 128) / 32) * 4
                    + group % 4
            }
            ScaleLayout::Blocked8x4 => {
                (row / 8) * 8 * padded_groups + (group / 4) * 32 + (row % 8) * 4 + group % 4
            }
        }
    }

    fn check_lengths(
        self,
        stored: usize,
        linear: usize,
        rows: usize,
        groups: usize,
    ) -> Result<(), LayoutError> {
        let expected = self.stored_len(rows, groups);
        if stored != expected || linear != rows * groups {
            return Err(LayoutError::Length {
                layout: self,
                rows,
                groups,
                expected,
                got: stored,
            });
        }
        Ok(())
    }

    /// Read `stored` (this layout) into `linear` (row-major `rows × groups`). The padding
    /// bytes are not read.
    pub fn to_linear(
        self,
        stored: &[u8],
        rows: usize,
        groups: usize,
        linear: &mut [u8],
    ) -> Result<(), LayoutError> {
        self.check_lengths(stored.len(), linear.len(), rows, groups)?;
        let (_, pg) = self.padded(rows, groups);
        for r in 0..rows {
            for g in 0..groups {
                linear[r * groups + g] = stored[self.offset(r, g, pg)];
            }
        }
        Ok(())
    }

    /// Write row-major `linear` scales into `stored` in this layout, padding with zeros (as
    /// the kernels named above do). `stored` must have [`ScaleLayout::stored_len`] bytes.
    pub fn from_linear(
        self,
        linear: &[u8],
        rows: usize,
        groups: usize,
        stored: &mut [u8],
    ) -> Result<(), LayoutError> {
        self.check_lengths(stored.len(), linear.len(), rows, groups)?;
        stored.fill(0);
        let (_, pg) = self.padded(rows, groups);
        for r in 0..rows {
            for g in 0..groups {
                stored[self.offset(r, g, pg)] = linear[r * groups + g];
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each swizzled layout is a bijection of the padded buffer: every (row, group) of the
    /// padded shape gets its own byte, and the bytes cover the buffer.
    #[test]
    fn offsets_are_a_permutation_of_the_padded_buffer() {
        for layout in ScaleLayout::ALL {
            for (rows, groups) in [(1, 1), (5, 3), (128, 4), (130, 9), (256, 8), (17, 33)] {
                let (pr, pg) = layout.padded(rows, groups);
                let mut seen = [false; 300 * 40];
                for r in 0..pr {
                    for g in 0..pg {
                        let o = layout.offset(r, g, pg);
                        assert!(
                            o < pr * pg && !seen[o],
                            "{layout:?} {rows}x{groups}: ({r},{g}) → {o}"
                        );
                        seen[o] = true;
                    }
                }
            }
        }
    }

    /// Spot values from the sources' formulas, written out by hand: in 128x4, row 1 of the
    /// first tile is byte 16 and row 32 byte 4; group 4 starts the second 512-byte tile; in
    /// 8x4, row 1 is byte 4 and group 4 starts the second 32-byte tile.
    #[test]
    fn hand_checked_offsets() {
        let l = ScaleLayout::Blocked128x4;
        assert_eq!(l.offset(1, 0, 8), 16);
        assert_eq!(l.offset(32, 0, 8), 4);
        assert_eq!(l.offset(0, 4, 8), 512);
        assert_eq!(l.offset(128, 0, 8), 1024);
        let l = ScaleLayout::Blocked8x4;
        assert_eq!(l.offset(1, 0, 8), 4);
        assert_eq!(l.offset(0, 4, 8), 32);
        assert_eq!(l.offset(8, 0, 8), 64);
    }

    #[test]
    fn round_trip_and_length_errors() {
        let (rows, groups) = (130, 9);
        let linear: [u8; 130 * 9] = core::array::from_fn(|i| (i % 251) as u8 + 1);
        for layout in ScaleLayout::ALL {
            let mut stored = [0u8; 256 * 12];
            let stored = &mut stored[..layout.stored_len(rows, groups)];
            layout.from_linear(&linear, rows, groups, stored).unwrap();
            let mut back = [0u8; 130 * 9];
            layout.to_linear(stored, rows, groups, &mut back).unwrap();
            assert_eq!(back, linear, "{layout:?}");
            if layout != ScaleLayout::Linear {
                let err = layout
                    .to_linear(&linear, rows, groups, &mut back)
                    .unwrap_err();
                assert!(matches!(err, LayoutError::Length { .. }));
            }
        }
    }
}
