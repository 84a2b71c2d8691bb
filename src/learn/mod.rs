//! Grid learning (`gridgames learn`): k-means over grids with block-level assignment.
//!
//! Every group is normalized by its scale `s` (the group's largest magnitude mapped to the
//! grid target 1, optionally with the UE4M3 block-scale rounding of the NVFP4 container in
//! the loop), so a grid is a sorted list of at most 16 values with largest magnitude 1. Each
//! iteration (1) assigns every group to the grid with the lowest error `s² Σ (y − Q(y))²`
//! (ties to the lower grid index), then (2) moves every learnable grid value to the
//! `s²`-weighted mean of the normalized values nearest to it among its groups (a weighted
//! Lloyd step; pinned values and empty cells stay). Both steps lower the objective, so it
//! stops when no assignment changes and no value moves, or at the iteration or time bound.
//!
//! With `mirror`, grid 1 is grid 0 negated (signed-absmax normalization, as PO2(Split87)
//! uses): a group assigned to the mirror is learned from as its negation.
//!
//! Everything is in f64 and single-threaded, so a run is a pure function of its inputs and
//! seed (the time bound aside, and the provenance says which bound stopped it).

use crate::element::{Policy, Rounding};
use crate::tables::UE4M3;

/// Largest UE4M3 value: the NVFP4 container's block-scale range.
const UE4M3_MAX: f64 = 448.0;

/// A grid under learning: sorted values (ascending), which of them are pinned.
#[derive(Clone, Debug, PartialEq)]
pub struct LearnGrid {
    /// Sorted ascending, largest magnitude 1.
    pub values: Vec<f64>,
    /// Same length: true where the value never moves.
    pub pinned: Vec<bool>,
    /// The whole grid is fixed (e.g. NF4 in PO2(NF4)).
    pub fixed: bool,
}

impl LearnGrid {
    /// A learnable grid with `neg` negative levels −k/neg, an exact 0 and `pos` positive
    /// levels k/pos (uniform start), with the given values pinned (they must be among the
    /// start values: −1, 0, 1).
    pub fn uniform(neg: usize, pos: usize, pins: &[f64]) -> Result<LearnGrid, String> {
        if neg + pos + 1 > 16 || neg == 0 || pos == 0 {
            return Err(format!(
                "{neg} negative + 1 zero + {pos} positive levels: need 1..=15 levels in all, at least one on each side"
            ));
        }
        let mut values: Vec<f64> = (1..=neg).rev().map(|k| -(k as f64) / neg as f64).collect();
        values.push(0.0);
        values.extend((1..=pos).map(|k| k as f64 / pos as f64));
        LearnGrid::with_pins(values, pins, false)
    }

    /// A grid from explicit values (sorted and normalized to largest magnitude 1 here).
    pub fn with_pins(mut values: Vec<f64>, pins: &[f64], fixed: bool) -> Result<LearnGrid, String> {
        values.sort_by(f64::total_cmp);
        values.dedup();
        let m = values.iter().fold(0f64, |m, v| m.max(v.abs()));
        if m == 0.0 || values.len() < 2 {
            return Err("a grid needs at least two distinct values".to_string());
        }
        for v in &mut values {
            *v /= m;
        }
        let mut pinned = vec![fixed; values.len()];
        for &p in pins {
            match values.iter().position(|&v| v == p) {
                Some(i) => pinned[i] = true,
                None => {
                    return Err(format!(
                        "pin {p} is not a value of the starting grid {values:?}"
                    ))
                }
            }
        }
        Ok(LearnGrid {
            values,
            pinned,
            fixed,
        })
    }

    /// The index of the value nearest to `y`; ties to the lower index.
    pub fn nearest(&self, y: f64) -> usize {
        // Binary search on midpoints: index of the first midpoint ≥ y.
        let v = &self.values;
        let (mut lo, mut hi) = (0usize, v.len() - 1);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if y <= 0.5 * (v[mid] + v[mid + 1]) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo
    }

    /// The mirror image (every value negated).
    pub fn mirror(&self) -> LearnGrid {
        LearnGrid {
            values: self.values.iter().rev().map(|v| -v).collect(),
            pinned: self.pinned.iter().rev().copied().collect(),
            fixed: self.fixed,
        }
    }
}

/// Settings of a learning run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Elements per group.
    pub group_size: usize,
    /// Round the block scale to UE4M3 (with the tensor scale amax/448 per tensor) inside the
    /// loop, as the NVFP4 container will.
    pub ue4m3_in_loop: bool,
    /// Grid 1 is grid 0's mirror (two grids given, the second ignored).
    pub mirror: bool,
    /// Iteration bound.
    pub max_iters: u32,
    /// Time bound in seconds (0 = none).
    pub max_seconds: f64,
}

/// One iteration's report (for progress bars and the provenance).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// Iteration number, from 1.
    pub iteration: u32,
    /// Σ min_j error / Σ x²: the relative MSE of the grids (without output rounding).
    pub objective: f64,
    /// Groups whose grid changed in this iteration's assignment.
    pub changed: u64,
    /// Largest move of a grid value in this iteration's update.
    pub max_move: f64,
}

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// No assignment changed and no value moved.
    Converged,
    /// The iteration bound was reached.
    Iterations,
    /// The time bound was reached.
    Time,
}

/// The learned grids and how the run went.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The learned grids, in the order given.
    pub grids: Vec<LearnGrid>,
    /// Iterations run.
    pub iterations: u32,
    /// Why the run stopped.
    pub stop: Stop,
    /// The last iteration's report.
    pub last: Progress,
    /// Fraction of groups on each grid at the end.
    pub share: Vec<f64>,
}

/// Normalized groups: y = x / s and the weight s², per group.
struct Normalized {
    y: Vec<f64>,
    weight: Vec<f64>,
    energy: f64,
    group_size: usize,
}

fn ue4m3_round(v: f64) -> f64 {
    match UE4M3.encode(v, Rounding::NearestEven, Policy::Satfinite) {
        Ok((code, _)) => UE4M3.decode(code & 0x7f),
        Err(_) => UE4M3_MAX,
    }
}

fn normalize(tensors: &[&[f32]], cfg: &Config) -> Normalized {
    let g = cfg.group_size;
    let mut y = Vec::new();
    let mut weight = Vec::new();
    let mut energy = 0.0;
    for t in tensors {
        let tensor_amax = t.iter().fold(0f64, |m, &v| m.max((v as f64).abs()));
        let ts = tensor_amax / UE4M3_MAX;
        for chunk in t.chunks_exact(g) {
            let amax = chunk.iter().fold(0f64, |m, &v| m.max((v as f64).abs()));
            let s = if cfg.ue4m3_in_loop && ts > 0.0 {
                ue4m3_round(amax / ts) * ts
            } else {
                amax
            };
            energy += chunk.iter().map(|&v| (v as f64).powi(2)).sum::<f64>();
            weight.push(s * s);
            for &v in chunk {
                y.push(if s > 0.0 { v as f64 / s } else { 0.0 });
            }
        }
    }
    Normalized {
        y,
        weight,
        energy,
        group_size: g,
    }
}

fn group_sse(grid: &LearnGrid, y: &[f64], sign: f64) -> f64 {
    y.iter()
        .map(|&v| {
            let v = sign * v;
            let d = v - grid.values[grid.nearest(v)];
            d * d
        })
        .sum()
}

/// Run the learner. `grids` are the starting grids (fixed ones included); `on_progress` is
/// called after every iteration.
// The grid index j also names the groups assigned to grid j, so the loops index by it.
#[allow(clippy::needless_range_loop)]
pub fn learn(
    tensors: &[&[f32]],
    mut grids: Vec<LearnGrid>,
    cfg: &Config,
    mut on_progress: impl FnMut(&Progress),
) -> Result<Outcome, String> {
    if cfg.group_size == 0 {
        return Err("group size must be positive".to_string());
    }
    if grids.is_empty() || grids.len() > 4 {
        return Err(format!("{} grids: need 1 to 4", grids.len()));
    }
    if cfg.mirror && grids.len() != 2 {
        return Err(
            "`mirror` needs exactly two grids (the second is the first's mirror)".to_string(),
        );
    }
    let data = normalize(tensors, cfg);
    let groups = data.weight.len();
    if groups == 0 {
        return Err(format!(
            "no complete group of {} values in the data",
            cfg.group_size
        ));
    }
    let n = grids.len();
    let mut assign = vec![u8::MAX; groups];
    let start = std::time::Instant::now();
    let mut iteration = 0;
    let mut last;
    let stop = loop {
        if cfg.mirror {
            grids[1] = grids[0].mirror();
        }
        // (1) assignment.
        let mut changed = 0u64;
        let mut total = 0.0;
        for (gi, a) in assign.iter_mut().enumerate() {
            let y = &data.y[gi * data.group_size..(gi + 1) * data.group_size];
            let mut best = (f64::INFINITY, 0u8);
            for (j, grid) in grids.iter().enumerate() {
                let e = group_sse(grid, y, 1.0);
                if e < best.0 {
                    best = (e, j as u8);
                }
            }
            total += best.0 * data.weight[gi];
            if *a != best.1 {
                changed += 1;
                *a = best.1;
            }
        }
        // (2) weighted Lloyd step on each learnable grid.
        let mut max_move = 0f64;
        let learn_count = if cfg.mirror { 1 } else { n };
        for j in 0..learn_count {
            if grids[j].fixed {
                continue;
            }
            let len = grids[j].values.len();
            let mut sum = vec![0f64; len];
            let mut wsum = vec![0f64; len];
            for (gi, &a) in assign.iter().enumerate() {
                let sign = if a as usize == j {
                    1.0
                } else if cfg.mirror && a == 1 {
                    -1.0
                } else {
                    continue;
                };
                let w = data.weight[gi];
                for &v in &data.y[gi * data.group_size..(gi + 1) * data.group_size] {
                    let v = sign * v;
                    let k = grids[j].nearest(v);
                    sum[k] += w * v;
                    wsum[k] += w;
                }
            }
            let grid = &mut grids[j];
            for k in 0..len {
                if grid.pinned[k] || wsum[k] == 0.0 {
                    continue;
                }
                let nv = sum[k] / wsum[k];
                max_move = max_move.max((nv - grid.values[k]).abs());
                grid.values[k] = nv;
            }
        }
        iteration += 1;
        last = Progress {
            iteration,
            objective: total / data.energy.max(f64::MIN_POSITIVE),
            changed,
            max_move,
        };
        on_progress(&last);
        if changed == 0 && max_move == 0.0 {
            break Stop::Converged;
        }
        if iteration >= cfg.max_iters {
            break Stop::Iterations;
        }
        if cfg.max_seconds > 0.0 && start.elapsed().as_secs_f64() >= cfg.max_seconds {
            break Stop::Time;
        }
    };
    if cfg.mirror {
        grids[1] = grids[0].mirror();
    }
    let mut share = vec![0f64; n];
    for &a in &assign {
        if (a as usize) < n {
            share[a as usize] += 1.0 / groups as f64;
        }
    }
    Ok(Outcome {
        grids,
        iterations: iteration,
        stop,
        last,
        share,
    })
}

/// The f32 values of a learned grid, ascending, checked distinct and with largest
/// magnitude exactly 1.
pub fn f32_values(grid: &LearnGrid) -> Result<Vec<f32>, String> {
    let v: Vec<f32> = grid.values.iter().map(|&x| x as f32).collect();
    for w in v.windows(2) {
        if w[0] >= w[1] {
            return Err(format!(
                "learned values {} and {} coincide in f32; learn with fewer levels",
                w[0], w[1]
            ));
        }
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_ties_go_low() {
        let g = LearnGrid::with_pins(vec![-1.0, 0.0, 0.5, 1.0], &[], false).unwrap();
        assert_eq!(g.nearest(0.25), 1);
        assert_eq!(g.nearest(0.2500001), 2);
        assert_eq!(g.nearest(-5.0), 0);
        assert_eq!(g.nearest(5.0), 3);
        assert_eq!(g.nearest(-0.5), 0);
    }

    #[test]
    fn lloyd_on_two_point_data_finds_the_points() {
        // Groups of 2: (1, 0.3) and (−1, −0.6) normalized by amax: cells settle on the data.
        let data: Vec<f32> = [1.0, 0.3, -1.0, -0.6].repeat(10);
        let g = LearnGrid::with_pins(vec![-1.0, -0.5, 0.0, 0.5, 1.0], &[-1.0, 0.0, 1.0], false)
            .unwrap();
        let cfg = Config {
            group_size: 2,
            ue4m3_in_loop: false,
            mirror: false,
            max_iters: 50,
            max_seconds: 0.0,
        };
        let out = learn(&[&data], vec![g], &cfg, |_| {}).unwrap();
        assert_eq!(out.stop, Stop::Converged);
        assert_eq!(
            out.grids[0].values,
            vec![-1.0, -0.6000000238418579, 0.0, 0.30000001192092896, 1.0]
        );
        assert!(out.last.objective < 1e-12);
    }
}
