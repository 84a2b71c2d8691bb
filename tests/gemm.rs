//! Whole-GEMM emulation against real H200 outputs (vectors/gemm/, recorded by
//! gpu/gemm_probe.py): every recorded experiment is reproduced bit for bit by its recipe,
//! and each recipe is shown to be necessary (the next-simpler recipe fails on the same data).
//!
//! Operands are regenerated from the recorded seeds with the probe's SplitMix64 generator
//! (re-implemented here from its description in meta.json); a wrong generator fails every
//! experiment, not silently a few. The large split-K shapes are checked on their first rows
//! by default (all rows with GRIDGAMES_LONG=1).

use std::path::Path;

use gridgames::container::npy;
use gridgames::decode::Output;
use gridgames::emu::gemm::{self, Epilogue, Preset, Problem, Recipe};
use gridgames::emu::{self, Format};

const WGMMA_E4M3: &str = "hopper/wgmma.f32.e4m3.e4m3";

fn dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/gemm")
}

fn meta() -> serde_json::Value {
    let text = std::fs::read_to_string(dir().join("meta.json")).expect("vectors/gemm/meta.json");
    serde_json::from_str(&text).expect("meta.json parses")
}

/// The probe's operand generator: SplitMix64 outputs 1..=n after `seed`, as E4M3 codes.
fn codes(seed: u64, n: usize, e_lo: u64, e_hi: u64) -> Vec<u32> {
    (1..=n as u64)
        .map(|i| {
            let mut z = seed.wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let sign = (z >> 63) as u32;
            let e = (e_lo + (z >> 8) % (e_hi - e_lo + 1)) as u32;
            let m = ((z >> 4) & 7) as u32;
            sign << 7 | e << 3 | m
        })
        .collect()
}

fn output(name: &str, key: &str) -> (Vec<usize>, Vec<u32>) {
    let bytes = std::fs::read(dir().join(format!("{name}.{key}.npy"))).expect("output file");
    let arr = npy::parse(&bytes).expect("npy");
    let w = if arr.descr == "<u4" { 4 } else { 2 };
    let v = arr
        .data
        .chunks_exact(w)
        .map(|b| match w {
            4 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            _ => u32::from(u16::from_le_bytes([b[0], b[1]])),
        })
        .collect();
    (arr.shape.clone(), v)
}

struct Exp {
    m: usize,
    n: usize,
    k: usize,
    a: Vec<u32>,
    b: Vec<u32>,
}

fn num(e: &serde_json::Value, k: &str) -> usize {
    e[k].as_u64().unwrap_or_else(|| panic!("meta field {k}")) as usize
}

/// Operands of a random experiment (seeded) or of a chain probe (structured).
fn operands(e: &serde_json::Value) -> Exp {
    let (m, n, k) = (num(e, "M"), num(e, "N"), num(e, "K"));
    if let Some(s) = e["s"].as_array() {
        let s: Vec<usize> = s.iter().map(|v| v.as_u64().unwrap() as usize).collect();
        let t: Vec<usize> = e["t"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let (mut a, mut b) = (vec![0u32; m * k], vec![0u32; k * n]);
        for (i, &si) in s.iter().enumerate() {
            a[i * k + si] = 0x18;
            for j in 0..n {
                b[si * n + j] = 0x18;
            }
        }
        for (j, &tj) in t.iter().enumerate() {
            for i in 0..m {
                a[i * k + tj] = 0x58;
            }
            b[tj * n + j] = 0x58;
        }
        return Exp { m, n, k, a, b };
    }
    let seed = e["seed"].as_u64().unwrap();
    let (lo, hi) = (e["e_lo"].as_u64().unwrap(), e["e_hi"].as_u64().unwrap());
    Exp {
        m,
        n,
        k,
        a: codes(seed, m * k, lo, hi),
        b: codes(seed + 1, k * n, lo, hi),
    }
}

/// Predicted D for rows `0..rows` of an experiment.
#[allow(clippy::too_many_arguments)]
fn predict(
    x: &Exp,
    rows: usize,
    instr: &str,
    data: Option<Format>,
    recipe: &Recipe,
    epi: &Epilogue,
) -> Vec<u32> {
    let ins = emu::instruction(instr).expect("instruction");
    let p = Problem {
        m: rows,
        n: x.n,
        k: x.k,
        a: &x.a[..rows * x.k],
        b: &x.b,
        c: None,
    };
    gemm::gemm_with_data_format(ins, data, recipe, epi, &p, 2).expect("gemm")
}

fn mismatches(pred: &[u32], want: &[u32]) -> usize {
    pred.iter().zip(want).filter(|(a, b)| a != b).count()
}

fn rows_for(x: &Exp) -> usize {
    let long = std::env::var("GRIDGAMES_LONG").as_deref() == Ok("1");
    if long || x.m * x.n * x.k <= 64 * 64 * 16384 {
        x.m
    } else {
        4
    }
}

#[test]
fn triton_recipes_reproduce_the_h200() {
    let meta = meta();
    let cases: [(&str, &str, Option<Format>, &str, &str); 5] = [
        (
            "triton-default",
            WGMMA_E4M3,
            None,
            "triton-sm90",
            "promote:32",
        ),
        ("triton-mnia32", WGMMA_E4M3, None, "promote:32:128", "chain"),
        (
            "triton-mnia64",
            WGMMA_E4M3,
            None,
            "promote:64:128",
            "promote:32:128",
        ),
        (
            "triton-mmav2",
            "hopper/mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32",
            Some(Format::E4M3),
            "triton-sm90-mmav2",
            "chain",
        ),
        (
            "triton-bf16",
            "hopper/wgmma.f32.bf16.bf16",
            Some(Format::E4M3),
            "chain",
            "promote:16",
        ),
    ];
    for (name, instr, data, recipe, wrong) in cases {
        let e = &meta["experiments"][name];
        let mut x = operands(e);
        if name == "triton-bf16" {
            // The FP8 operands of seed 1000, K cut to 512 (A[:, :512], B[:512]).
            let full = operands(
                &serde_json::json!({"M": 128, "N": 128, "K": 1024, "seed": 1000, "e_lo": 4, "e_hi": 11}),
            );
            x.a = (0..128)
                .flat_map(|i| full.a[i * 1024..i * 1024 + 512].to_vec())
                .collect();
            x.b = full.b[..512 * 128].to_vec();
        }
        let (_, want) = output(name, "d");
        let epi = Epilogue::default();
        let pred = predict(&x, x.m, instr, data, &Recipe::parse(recipe).unwrap(), &epi);
        assert_eq!(mismatches(&pred, &want), 0, "{name} with {recipe}");
        let control = predict(&x, x.m, instr, data, &Recipe::parse(wrong).unwrap(), &epi);
        assert!(
            mismatches(&control, &want) > 100,
            "{name}: `{wrong}` should not match"
        );
    }
}

#[test]
fn cublas_presets_reproduce_the_h200() {
    let meta = meta();
    let mut checked = 0;
    for (name, e) in meta["experiments"].as_object().unwrap() {
        if !(name.starts_with("cublas")
            || name.starts_with("splitk")
            || name.starts_with("chainprobe"))
        {
            continue;
        }
        let fast = e["use_fast_accum"].as_bool().unwrap();
        let preset = if fast {
            Preset::CublasSm90Fp8Fast
        } else {
            Preset::CublasSm90Fp8
        };
        let x = operands(e);
        let (recipe, warning) = preset.resolve(x.m, x.n, x.k).expect("measured shape");
        assert!(warning.is_none(), "{name}: {warning:?}");
        let scales = e["scale_a"]
            .as_f64()
            .map(|sa| (sa as f32, e["scale_b"].as_f64().unwrap() as f32))
            .or(Some((1.0, 1.0)));
        let rows = rows_for(&x);
        for (key, out) in [("d", Output::F32), ("d_bf16", Output::Bf16)] {
            if !dir().join(format!("{name}.{key}.npy")).exists() {
                continue;
            }
            let (_, want) = output(name, key);
            let epi = Epilogue { scales, out };
            let pred = predict(&x, rows, WGMMA_E4M3, None, &recipe, &epi);
            assert_eq!(
                mismatches(&pred, &want[..rows * x.n]),
                0,
                "{name} {key}: recipe {}",
                recipe.name()
            );
            checked += 1;
        }
    }
    assert!(checked >= 40, "{checked} cuBLAS outputs checked");
}

/// The split-K structure matters: on the fast-accumulation split-K shapes, the plain chain
/// and a wrong split length both fail.
#[test]
fn split_k_recipes_are_necessary() {
    let meta = meta();
    let e = &meta["experiments"]["splitk-16x16x65536-fast"];
    let x = operands(e);
    let (_, want) = output("splitk-16x16x65536-fast", "d");
    let epi = Epilogue {
        scales: Some((
            e["scale_a"].as_f64().unwrap() as f32,
            e["scale_b"].as_f64().unwrap() as f32,
        )),
        out: Output::F32,
    };
    for wrong in ["chain", "splitk:2816:chain", "splitk:2560:chain"] {
        let pred = predict(
            &x,
            4,
            WGMMA_E4M3,
            None,
            &Recipe::parse(wrong).unwrap(),
            &epi,
        );
        assert!(
            mismatches(&pred, &want[..4 * 16]) > 8,
            "`{wrong}` should not match"
        );
    }
}

/// Shapes without a measured split-K decision in the split-K region are refused; others
/// warn.
#[test]
fn unmeasured_cublas_shapes_refuse_or_warn() {
    let err = Preset::CublasSm90Fp8
        .resolve(32, 32, 16384)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no measurement") && err.contains("splitK"),
        "{err}"
    );
    let (_, warning) = Preset::CublasSm90Fp8Fast.resolve(512, 512, 1024).unwrap();
    assert!(warning.unwrap().contains("no measurement"));
    assert!(Preset::TritonSm90
        .resolve(16, 16, 65536)
        .unwrap()
        .1
        .is_none());
}

/// The CLI end to end: `gridgames gemm --check` on a recorded Triton GEMM passes with the
/// right preset and fails (exit 1, mismatch count as the last line) with a wrong recipe;
/// an unmeasured split-K shape is refused (exit 2).
#[test]
fn cli_gemm_check() {
    let tmp = std::env::temp_dir().join(format!("gridgames-gemm-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let x = operands(&meta()["experiments"]["triton-default"]);
    let to_u8 = |v: &[u32]| v.iter().map(|&c| c as u8).collect::<Vec<u8>>();
    std::fs::write(
        tmp.join("a.npy"),
        npy::to_bytes("|u1", &[x.m, x.k], &to_u8(&x.a)),
    )
    .unwrap();
    std::fs::write(
        tmp.join("b.npy"),
        npy::to_bytes("|u1", &[x.k, x.n], &to_u8(&x.b)),
    )
    .unwrap();
    let d = dir().join("triton-default.d.npy");
    let run = |recipe: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_gridgames"))
            .args(["gemm", "--recipe", recipe, "--a"])
            .arg(tmp.join("a.npy"))
            .arg("--b")
            .arg(tmp.join("b.npy"))
            .arg("--check")
            .arg(&d)
            .output()
            .unwrap()
    };
    let ok = run("triton-sm90");
    let text = String::from_utf8_lossy(&ok.stdout).into_owned();
    assert!(
        ok.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(text.lines().last(), Some("16384 outputs, 0 mismatches"));
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_gridgames"))
        .args([
            "gemm",
            "--instr",
            WGMMA_E4M3,
            "--recipe",
            "promote:32",
            "--a",
        ])
        .arg(tmp.join("a.npy"))
        .arg("--b")
        .arg(tmp.join("b.npy"))
        .arg("--check")
        .arg(&d)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&bad.stdout).into_owned();
    assert_eq!(bad.status.code(), Some(1), "{text}");
    assert!(
        text.contains("ulp histogram") && text.lines().last().unwrap().ends_with(" mismatches")
    );
    // 32×32×16384 with a cuBLAS preset: no measured split-K decision: refused.
    let a = vec![0x38u8; 32 * 16384];
    std::fs::write(tmp.join("a2.npy"), npy::to_bytes("|u1", &[32, 16384], &a)).unwrap();
    std::fs::write(tmp.join("b2.npy"), npy::to_bytes("|u1", &[16384, 32], &a)).unwrap();
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_gridgames"))
        .args(["gemm", "--recipe", "cublas-sm90-fp8", "--a"])
        .arg(tmp.join("a2.npy"))
        .arg("--b")
        .arg(tmp.join("b2.npy"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no measurement of cuBLAS's split-K decision"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&tmp);
}
