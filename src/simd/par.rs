//! The public entry points: argument checks, the oracle fallback, and the split of whole
//! groups over threads (`std::thread::scope`; each thread writes its own disjoint slices).

use crate::decode::{self, DecodeError, Output};
use crate::format::Format;
use crate::quant::{store_group, QuantError, Quantized, Quantizer, TensorContext};

use super::plan::{DecodePlan, QuantPlan};
use super::portable::{self, DecodeKernel, PortableDecode, PortableElements};
use super::{Backend, Options};

/// Below this many values per thread, extra threads cost more than they save.
const MIN_PER_THREAD: usize = 1 << 16;

fn threads_for(opts: &Options, values: usize) -> usize {
    opts.threads.max(1).min(values / MIN_PER_THREAD).max(1)
}

/// Groups from which a decode precomputes the table of every scale byte
/// (`DecodePlan::precompute_byte_tables`).
const BYTE_TABLE_MIN_GROUPS: usize = 2048;

/// Decode to raw output bits, as `crate::decode::decode_bits`, bit for bit (errors included).
pub fn decode_bits(
    opts: &Options,
    format: &Format,
    codes: &[u8],
    scales: &[u8],
    tensor_scale: f32,
    output: Output,
    out: &mut [u32],
) -> Result<(), DecodeError> {
    let backend = opts.backend.effective();
    let n = out.len();
    let group = format.group_size as usize;
    let lengths_ok = group > 0
        && codes.len() == format.code_bytes(n)
        && scales.len() == n.div_ceil(group) * format.scale_bytes as usize;
    // A NaN tensor scale meets a NaN block scale in one product: which NaN payload survives
    // depends on the operand order the compiler picks, so leave it to the oracle.
    let nan_ts = format.tensor_scale && tensor_scale.is_nan();
    if backend == Backend::Scalar || !lengths_ok || format.grids.is_empty() || nan_ts {
        return decode::decode_bits(format, codes, scales, tensor_scale, output, out);
    }
    let mut plan = DecodePlan::new(format, tensor_scale, output);
    // 256 tables cost about as much as 256 groups: build them when there are many more.
    if n / group >= BYTE_TABLE_MIN_GROUPS {
        plan.precompute_byte_tables();
    }
    if run_decode(backend, &plan, codes, scales, out, threads_for(opts, n)).is_err() {
        // Report the oracle's error, with the oracle's partial output.
        return decode::decode_bits(format, codes, scales, tensor_scale, output, out);
    }
    Ok(())
}

/// Decode to f32, as `crate::decode::decode_f32`, bit for bit (errors included).
pub fn decode_f32(
    opts: &Options,
    format: &Format,
    codes: &[u8],
    scales: &[u8],
    tensor_scale: f32,
    out: &mut [f32],
) -> Result<(), DecodeError> {
    let len = out.len();
    // SAFETY: f32 and u32 have the same size and alignment, every bit pattern is valid for
    // both, and the u32 view replaces the only use of `out` for its whole lifetime.
    let bits = unsafe { core::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<u32>(), len) };
    let r = decode_bits(opts, format, codes, scales, tensor_scale, Output::F32, bits);
    match r {
        // decode_f32 and decode_bits(F32) agree on values; let the oracle's own f32 entry
        // point produce the error and partial output.
        Err(_) => decode::decode_f32(format, codes, scales, tensor_scale, out),
        Ok(()) => Ok(()),
    }
}

fn decode_kernel(
    backend: Backend,
    plan: &DecodePlan,
    codes: &[u8],
    scales: &[u8],
    g0: usize,
    out: &mut [u32],
) -> Result<(), ()> {
    match backend {
        #[cfg(target_arch = "x86_64")]
        Backend::Avx2 | Backend::Avx512 => {
            super::x86::decode_groups(backend, plan, codes, scales, g0, out)
        }
        _ => PortableDecode::decode_groups(plan, codes, scales, g0, out),
    }
}

fn run_decode(
    backend: Backend,
    plan: &DecodePlan,
    codes: &[u8],
    scales: &[u8],
    out: &mut [u32],
    threads: usize,
) -> Result<(), ()> {
    let group = plan.format.group_size as usize;
    let n = out.len();
    let full = n / group;
    // Whole groups start on byte boundaries only when the group size is even.
    let (body, tail) = if group.is_multiple_of(2) {
        out.split_at_mut(full * group)
    } else {
        out.split_at_mut(0)
    };
    if !body.is_empty() {
        if threads <= 1 {
            decode_kernel(backend, plan, codes, scales, 0, body)?;
        } else {
            let per = full.div_ceil(threads);
            let ok = std::thread::scope(|s| {
                let handles: Vec<_> = body
                    .chunks_mut(per * group)
                    .enumerate()
                    .map(|(k, chunk)| {
                        s.spawn(move || decode_kernel(backend, plan, codes, scales, k * per, chunk))
                    })
                    .collect();
                handles.into_iter().all(|h| matches!(h.join(), Ok(Ok(()))))
            });
            if !ok {
                return Err(());
            }
        }
    }
    let first = n - tail.len();
    portable::decode_span(plan, codes, scales, first, tail)
}

/// The largest magnitude bits of `x` (sign cleared; ≥ `0x7f80_0000` when any value is NaN or
/// infinite), with the backend's vector max.
pub(crate) fn amax_bits(backend: Backend, x: &[f32]) -> u32 {
    match backend {
        #[cfg(target_arch = "x86_64")]
        Backend::Avx2 | Backend::Avx512 => super::x86::amax_bits(backend, x),
        _ => portable::amax_bits(x),
    }
}

/// `amax_bits` over `threads` threads (a maximum, so the split does not change it): on large
/// tensors the pass that fixes the tensor scale is a memory-bound scan as long as a fifth of
/// the quantize itself, and a serial one kept two threads from 1.8×.
fn amax_bits_threads(backend: Backend, x: &[f32], threads: usize) -> u32 {
    if threads <= 1 {
        return amax_bits(backend, x);
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = x
            .chunks(x.len().div_ceil(threads))
            .map(|c| s.spawn(move || amax_bits(backend, c)))
            .collect();
        // A worker that panicked gives the Inf pattern: the oracle then runs and reports.
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(0x7f80_0000))
            .max()
            .unwrap_or(0)
    })
}

/// Whether a scan of `values` is taken to read memory, not cache (`avx2_quant::LARGE_SCAN`):
/// only then does moving phase A into it pay.
fn large_scan(values: usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    return values >= super::avx2_quant::LARGE_SCAN;
    #[cfg(not(target_arch = "x86_64"))]
    return false;
}

/// The largest magnitude bits of `x` (`amax_bits`) over `threads` threads and, with
/// `per_group`, where the block kernel takes the format on this backend, every whole group's
/// amax bits (phase A of the kernel, done by the scan that reads `x` anyway: the kernel then
/// skips it); the list is empty where they are not computed.
fn scan_amax(
    backend: Backend,
    format: &Format,
    x: &[f32],
    threads: usize,
    per_group: bool,
) -> (u32, Vec<u32>) {
    #[cfg(target_arch = "x86_64")]
    if per_group {
        let group = format.group_size as usize;
        let whole = x.len() / group.max(1);
        let (body, tail) = x.split_at(whole * group);
        let mut out = vec![0u32; whole];
        let per = whole.div_ceil(threads.max(1)).max(1);
        let maxima: Option<Vec<u32>> = if threads <= 1 {
            super::x86::group_amax_bits(backend, format, body, &mut out).map(|m| vec![m])
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = body
                    .chunks(per * group)
                    .zip(out.chunks_mut(per))
                    .map(|(xc, oc)| {
                        s.spawn(move || super::x86::group_amax_bits(backend, format, xc, oc))
                    })
                    .collect();
                // A worker that panicked gives the Inf pattern: the oracle then runs and
                // reports.
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or(Some(0x7f80_0000)))
                    .collect()
            })
        };
        if let Some(maxima) = maxima {
            let max = maxima.into_iter().max().unwrap_or(0);
            return (max.max(amax_bits(backend, tail)), out);
        }
    }
    let _ = (format, per_group);
    (amax_bits_threads(backend, x, threads), Vec::new())
}

/// Quantize as `q.quantize(x, pad)`, bit for bit (errors included). Runs the fast path for
/// the reference profile on eligible formats with an even group size, the oracle otherwise.
pub fn quantize(
    q: &Quantizer,
    x: &[f32],
    pad: bool,
    opts: &Options,
) -> Result<Quantized, QuantError> {
    let backend = opts.backend.effective();
    let f = q.format;
    let group = f.group_size as usize;
    if backend == Backend::Scalar
        || group == 0
        || group % 2 == 1
        || !super::plan::quant_eligible(&f, q.profile)
        || (!x.len().is_multiple_of(group) && !pad)
    {
        return q.quantize(x, pad);
    }
    let threads = threads_for(opts, x.len());
    let per_group = large_scan(x.len());
    let (amax, mut group_amax) = scan_amax(backend, &f, x, threads, per_group);
    if amax >= 0x7f80_0000 {
        // A NaN or an infinity: the oracle names it.
        return q.quantize(x, pad);
    }
    let padded = (group - x.len() % group) % group;
    let data;
    let xs = if padded > 0 {
        let mut v = x.to_vec();
        v.resize(x.len() + padded, 0.0);
        data = v;
        &data[..]
    } else {
        x
    };
    if padded > 0 && !group_amax.is_empty() {
        // The padded last group: its zeros do not change its amax.
        group_amax.push(amax_bits(backend, &x[x.len() - (group - padded)..]));
    }
    let ctx = q.tensor_context_for_amax(f32::from_bits(amax));
    let Some(plan) = QuantPlan::cached(q, ctx.scale) else {
        return q.quantize(x, pad);
    };
    let groups = xs.len() / group;
    let sb = f.scale_bytes as usize;
    let mut codes = vec![0u8; xs.len() / 2];
    let mut scales = vec![0u8; groups * sb];
    let mut grid_of_group = vec![0u8; groups];
    let threads = threads_for(opts, xs.len());
    run_quantize(
        backend,
        &plan,
        Groups {
            x: xs,
            amax: (!group_amax.is_empty()).then_some(&group_amax[..]),
        },
        &mut codes,
        &mut scales,
        &mut grid_of_group,
        threads,
    );
    Ok(Quantized {
        format: f,
        profile: q.profile,
        len: x.len(),
        padded,
        codes,
        scales,
        tensor_scale: f.tensor_scale.then_some(ctx.scale),
        grid_of_group,
    })
}

/// Whole groups of a tensor and, when the scan computed them (`scan_amax`), their amax bits.
#[derive(Clone, Copy)]
struct Groups<'a> {
    x: &'a [f32],
    amax: Option<&'a [u32]>,
}

/// Whole groups (`x.len()` a multiple of the even group size) over `threads` threads.
fn run_quantize(
    backend: Backend,
    plan: &QuantPlan,
    input: Groups,
    codes: &mut [u8],
    scales: &mut [u8],
    grid_of_group: &mut [u8],
    threads: usize,
) {
    let group = plan.format.group_size as usize;
    let sb = plan.format.scale_bytes as usize;
    let xs = input.x;
    let groups = xs.len() / group;
    let group_amax = input.amax.filter(|a| a.len() == groups);
    if threads <= 1 {
        quantize_kernel(backend, plan, xs, group_amax, codes, scales, grid_of_group);
        return;
    }
    let per = groups.div_ceil(threads);
    std::thread::scope(|s| {
        let parts = xs
            .chunks(per * group)
            .zip(codes.chunks_mut(per * group / 2))
            .zip(scales.chunks_mut(per * sb))
            .zip(grid_of_group.chunks_mut(per));
        for (k, (((xc, cc), sc), gc)) in parts.enumerate() {
            let ga = group_amax.map(|a| &a[k * per..k * per + gc.len()]);
            s.spawn(move || quantize_kernel(backend, plan, xc, ga, cc, sc, gc));
        }
    });
}

/// Quantize a run of groups of a tensor whose context is already fixed (a chunk of a tensor
/// quantized in pieces, as the CLI streams files): `codes` and `scales` are replaced by the
/// packed codes and stored scales that `q.quantize_group(group, ctx)` gives group by group
/// (`x` split into groups from its start; a short last group is quantized as it is). The fast
/// path runs where `quantize` would run it (reference profile, eligible format, even group
/// size, finite input, a backend other than `Scalar`); otherwise the oracle, group by group.
pub fn quantize_chunk(
    q: &Quantizer,
    ctx: &TensorContext,
    x: &[f32],
    opts: &Options,
    codes: &mut Vec<u8>,
    scales: &mut Vec<u8>,
) {
    let f = &q.format;
    let group = f.group_size as usize;
    let sb = f.scale_bytes as usize;
    codes.clear();
    codes.resize(f.code_bytes(x.len()), 0);
    scales.clear();
    scales.resize(x.len().div_ceil(group.max(1)) * sb, 0);
    let backend = opts.backend.effective();
    let eligible = backend != Backend::Scalar
        && group > 0
        && group.is_multiple_of(2)
        && super::plan::quant_eligible(f, q.profile);
    let threads = threads_for(opts, x.len());
    let (amax, group_amax) = if eligible {
        scan_amax(backend, f, x, threads, large_scan(x.len()))
    } else {
        (0, Vec::new())
    };
    let fast = eligible && amax < 0x7f80_0000;
    let plan = if fast {
        QuantPlan::cached(q, ctx.scale)
    } else {
        None
    };
    let whole = if plan.is_some() {
        x.len() / group.max(1) * group
    } else {
        0
    };
    if let Some(plan) = &plan {
        let mut grid_of_group = vec![0u8; whole / group];
        run_quantize(
            backend,
            plan,
            Groups {
                x: &x[..whole],
                amax: (!group_amax.is_empty()).then_some(&group_amax[..]),
            },
            &mut codes[..whole / 2],
            &mut scales[..whole / group * sb],
            &mut grid_of_group,
            threads_for(opts, whole),
        );
    }
    for (k, chunk) in x[whole..].chunks(group.max(1)).enumerate() {
        let g = whole / group.max(1) + k;
        store_group(f, &q.quantize_group(chunk, ctx), g, codes, scales);
    }
}

fn quantize_kernel(
    backend: Backend,
    plan: &QuantPlan,
    x: &[f32],
    group_amax: Option<&[u32]>,
    codes: &mut [u8],
    scales: &mut [u8],
    grid_of_group: &mut [u8],
) {
    match backend {
        #[cfg(target_arch = "x86_64")]
        Backend::Avx2 | Backend::Avx512 => {
            super::x86::quantize_groups(backend, plan, x, group_amax, codes, scales, grid_of_group)
        }
        _ => {
            let _ = group_amax;
            portable::quantize_groups::<PortableElements>(plan, x, codes, scales, grid_of_group)
        }
    }
}
