//! Bad input through the CLI: a clear error naming the file and what is wrong, a non-zero
//! exit status, and no output file left behind. Messages are pinned with insta.

use std::path::{Path, PathBuf};
use std::process::Command;

use gridgames::container::npy;

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("gridgames-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
    fn path(&self, f: &str) -> PathBuf {
        self.0.join(f)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run the CLI; return (success, stderr with the temp dir replaced by `$DIR`).
fn run(dir: &Dir, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gridgames"))
        .args(args)
        .current_dir(&dir.0)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).replace(&dir.0.display().to_string(), "$DIR");
    (out.status.success(), stderr)
}

/// Run the CLI; return (success, stdout followed by stderr).
fn run_all(dir: &Dir, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gridgames"))
        .args(args)
        .current_dir(&dir.0)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn only_inputs_left(dir: &Dir, inputs: &[&str]) {
    let mut left: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    let mut want: Vec<String> = inputs.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(left, want, "an output or temporary file was left behind");
}

fn write_npy(path: &Path, shape: &[usize], values: &[f32]) {
    std::fs::write(path, npy::f32_bytes(shape, values)).unwrap();
}

#[test]
fn length_not_a_multiple_of_the_group() {
    let d = Dir::new("len");
    write_npy(&d.path("x.npy"), &[20], &[1.0; 20]);
    let (ok, err) = run(
        &d,
        &["quantize", "--format", "nvfp4", "x.npy", "out.safetensors"],
    );
    assert!(!ok);
    insta::assert_snapshot!("length_not_multiple", err);
    only_inputs_left(&d, &["x.npy"]);
    // --pad pads with zeros and records it; decode gives back exactly 20 values.
    let (ok, err) = run(
        &d,
        &[
            "quantize",
            "--format",
            "nvfp4",
            "--pad",
            "x.npy",
            "out.safetensors",
        ],
    );
    assert!(ok, "{err}");
    let (ok, err) = run(&d, &["decode", "out.safetensors", "y.npy"]);
    assert!(ok, "{err}");
    let y = std::fs::read(d.path("y.npy")).unwrap();
    let arr = npy::parse(&y).unwrap();
    assert_eq!(arr.shape, vec![20]);
    assert!(arr.to_f32(false).unwrap().iter().all(|&v| v == 1.0));
}

#[test]
fn nan_input_under_reference() {
    let d = Dir::new("nan");
    let mut x = vec![0.5f32; 32];
    x[17] = f32::NAN;
    write_npy(&d.path("x.npy"), &[32], &x);
    let (ok, err) = run(
        &d,
        &["quantize", "--format", "nvfp4", "x.npy", "out.safetensors"],
    );
    assert!(!ok);
    insta::assert_snapshot!("nan_input", err);
    only_inputs_left(&d, &["x.npy"]);
}

#[test]
fn truncated_and_inconsistent_safetensors() {
    let d = Dir::new("trunc");
    write_npy(
        &d.path("x.npy"),
        &[64],
        &(0..64).map(|i| i as f32 / 7.0).collect::<Vec<_>>(),
    );
    assert!(
        run(
            &d,
            &["quantize", "--format", "nvfp4", "x.npy", "q.safetensors"]
        )
        .0
    );
    let bytes = std::fs::read(d.path("q.safetensors")).unwrap();
    std::fs::write(d.path("cut.safetensors"), &bytes[..bytes.len() - 3]).unwrap();
    let (ok, err) = run(&d, &["decode", "cut.safetensors", "y.npy"]);
    assert!(!ok);
    insta::assert_snapshot!("truncated_safetensors", err);
    // Inconsistent: the scale tensor says nvfp4 (groups of 16), we claim mxfp4 (groups of 32).
    let (ok, err) = run(
        &d,
        &["decode", "--format", "mxfp4", "q.safetensors", "y.npy"],
    );
    assert!(!ok);
    insta::assert_snapshot!("inconsistent_safetensors", err);
    only_inputs_left(&d, &["x.npy", "q.safetensors", "cut.safetensors"]);
}

#[test]
fn undefined_selector_bits() {
    // A two-grid format loaded at run time; scale byte 0xC0 sets a selector value it lacks.
    let d = Dir::new("sel");
    let spec = "name: two-grids\ngroup_size: 16\ngrids:\n  - name: a\n    element: e2m1\n    ties: even-code\n  - name: b\n    element: e2m1\n    offset: \"0.5\"\n    ties: even-code\nscale:\n  element: ue4m3\n  value_mask: 0x3f\n  selector_bits: [7, 6]\n  selectors: {\"00\": 0, \"10\": 1}\n  rounding: rne\ntensor_scale: f32\nnibble_order: low-first\nprovenance: test fixture\n";
    std::fs::write(d.path("two.yaml"), spec).unwrap();
    write_npy(
        &d.path("x.npy"),
        &[32],
        &(0..32).map(|i| i as f32 - 16.0).collect::<Vec<_>>(),
    );
    assert!(
        run(
            &d,
            &["quantize", "--format", "two.yaml", "x.npy", "q.safetensors"]
        )
        .0
    );
    // Corrupt the first scale byte's selector bits to 01 (bit 6 only).
    let bytes = std::fs::read(d.path("q.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let scale = st.tensor("tensor.weight_scale").unwrap();
    let offset = scale.data().as_ptr() as usize - bytes.as_ptr() as usize;
    let mut bad = bytes.clone();
    bad[offset] = (bad[offset] & 0x3f) | 0x40;
    std::fs::write(d.path("bad.safetensors"), &bad).unwrap();
    let (ok, err) = run(
        &d,
        &["decode", "--format", "two.yaml", "bad.safetensors", "y.npy"],
    );
    assert!(!ok);
    insta::assert_snapshot!("undefined_selector", err);
    only_inputs_left(
        &d,
        &["two.yaml", "x.npy", "q.safetensors", "bad.safetensors"],
    );
}

#[test]
fn unknown_format_and_profile() {
    let d = Dir::new("unknown");
    write_npy(&d.path("x.npy"), &[16], &[1.0; 16]);
    let (ok, err) = run(
        &d,
        &["quantize", "--format", "nvfp5", "x.npy", "o.safetensors"],
    );
    assert!(!ok && err.contains("unknown format `nvfp5`"), "{err}");
    let (ok, err) = run(
        &d,
        &["quantize", "--profile", "bnb", "x.npy", "o.safetensors"],
    );
    assert!(!ok);
    insta::assert_snapshot!("profile_not_for_format", err);
    only_inputs_left(&d, &["x.npy"]);
}

/// `verify --scale-layout`: a kernel's swizzled scales (128x4, 8x4) are read as written; the
/// same bytes read as linear fail; scales with a float dtype get a dtype message.
#[test]
fn swizzled_scale_layouts_and_scale_dtype() {
    use gridgames::{tables, Profile, Quantizer, ScaleLayout};
    let d = Dir::new("layout");
    // 8 groups per row: with 4, the 8x4 layout is the linear one (a single tile column).
    let (rows, cols) = (24usize, 128usize);
    let x: Vec<f32> = (0..rows * cols)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
        .collect();
    write_npy(&d.path("x.npy"), &[rows, cols], &x);
    let f = tables::format("nvfp4").unwrap();
    let q = Quantizer::new(f, Profile::Reference)
        .unwrap()
        .quantize(&x, false)
        .unwrap();
    std::fs::write(
        d.path("codes.npy"),
        npy::to_bytes("|u1", &[q.codes.len()], &q.codes),
    )
    .unwrap();
    let ts = format!("{:08x}", q.tensor_scale.unwrap().to_bits());
    let groups = cols / 16;
    for layout in [ScaleLayout::Blocked128x4, ScaleLayout::Blocked8x4] {
        let mut stored = vec![0u8; layout.stored_len(rows, groups)];
        layout
            .from_linear(&q.scales, rows, groups, &mut stored)
            .unwrap();
        let file = format!("scales-{}.npy", layout.name());
        std::fs::write(
            d.path(&file),
            npy::to_bytes("|u1", &[stored.len()], &stored),
        )
        .unwrap();
        let base = [
            "verify",
            "--input",
            "x.npy",
            "--codes",
            "codes.npy",
            "--scales",
            &file,
            "--format",
            "nvfp4",
            "--tensor-scale",
            &ts,
        ];
        let (ok, err) = run(
            &d,
            &[&base[..], &["--scale-layout", layout.name()]].concat(),
        );
        assert!(ok, "{}: {err}", layout.name());
        let (ok, _) = run(&d, &base);
        assert!(!ok, "{} bytes read as linear must not pass", layout.name());
    }
    // A float dtype for scales: named as such, not as a byte count.
    write_npy(
        &d.path("scales-f32.npy"),
        &[rows * groups],
        &vec![1.0; rows * groups],
    );
    let (ok, err) = run(
        &d,
        &[
            "verify",
            "--input",
            "x.npy",
            "--codes",
            "codes.npy",
            "--scales",
            "scales-f32.npy",
            "--format",
            "nvfp4",
            "--tensor-scale",
            &ts,
        ],
    );
    assert!(!ok && err.contains("dtype `<f4`, expected uint8"), "{err}");
}

/// verify says when its input cannot tell the checked profile from others: on smooth random
/// data NVFP4's reference, te, modelopt and torchao give the same bytes, so a pass there does
/// not say which one a kernel follows; the golden edge-case inputs separate them.
#[test]
fn verify_names_the_profiles_its_input_cannot_separate() {
    let d = Dir::new("indist");
    let x: Vec<f32> = (0..64 * 256)
        .map(|i| (((i * 7919) % 1000) as f32 - 500.0) / 250.0)
        .collect();
    write_npy(&d.path("x.npy"), &[64, 256], &x);
    let (ok, err) = run(
        &d,
        &["quantize", "--format", "nvfp4", "x.npy", "q.safetensors"],
    );
    assert!(ok, "{err}");
    let (ok, text) = run_all(
        &d,
        &["verify", "--input", "x.npy", "--quantized", "q.safetensors"],
    );
    assert!(ok, "{text}");
    assert!(
        text.contains("give the same bytes as the profile checked"),
        "{text}"
    );
    let (ok, err) = run(&d, &["vectors", "inputs", "nvfp4", "g.safetensors"]);
    assert!(ok, "{err}");
    let (ok, err) = run(
        &d,
        &[
            "quantize",
            "--format",
            "nvfp4",
            "g.safetensors",
            "gq.safetensors",
        ],
    );
    assert!(ok, "{err}");
    let (ok, text) = run_all(
        &d,
        &[
            "verify",
            "--input",
            "g.safetensors",
            "--quantized",
            "gq.safetensors",
        ],
    );
    assert!(ok, "{text}");
    assert!(
        !text.contains("give the same bytes"),
        "the golden inputs separate every profile: {text}"
    );
}

/// Swizzled scales in checkpoints: `quantize --scale-layout` writes the cuBLAS 128x4 and
/// FlashInfer 8x4 layouts (padded with zeros, recorded in `gridgames.scale_layout`); the bytes
/// are checked against the layouts' tile definitions written out here (destination order:
/// 128x4 tiles hold, for each of 32 rows, the 4 groups of rows r, r+32, r+64, r+96; 8x4 tiles
/// hold 8 rows of 4 groups), not against `gridgames::layout`. `decode` and `verify` read them
/// back by the metadata; an explicit `--scale-layout` that contradicts it is an error; a
/// swizzled checkpoint without the metadata (as other tools write it) is read with the flag.
#[test]
fn swizzled_scales_in_checkpoints() {
    use safetensors::SafeTensors;
    let d = Dir::new("swizzled-ckpt");
    let (rows, cols) = (200usize, 128usize);
    let x: Vec<f32> = (0..rows * cols)
        .map(|i| ((i * 7919 % 2003) as f32 - 1000.0) / 97.0)
        .collect();
    write_npy(&d.path("x.npy"), &[rows, cols], &x);
    let (ok, err) = run(&d, &["quantize", "x.npy", "lin.safetensors"]);
    assert!(ok, "{err}");
    let read = |f: &str| std::fs::read(d.path(f)).unwrap();
    let lin_bytes = read("lin.safetensors");
    let lin = SafeTensors::deserialize(&lin_bytes).unwrap();
    let linear = lin.tensor("tensor.weight_scale").unwrap().data().to_vec();
    let groups = cols / 16;
    assert_eq!(linear.len(), rows * groups);
    let (ok, err) = run(&d, &["decode", "lin.safetensors", "lin.npy"]);
    assert!(ok, "{err}");
    for (name, tile_rows) in [("128x4", 128usize), ("8x4", 8)] {
        let out = format!("{name}.safetensors");
        let (ok, err) = run(&d, &["quantize", "--scale-layout", name, "x.npy", &out]);
        assert!(ok, "{name}: {err}");
        let bytes = read(&out);
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let s = st.tensor("tensor.weight_scale").unwrap();
        let (pr, pg) = (rows.div_ceil(tile_rows) * tile_rows, groups.div_ceil(4) * 4);
        assert_eq!(s.shape(), &[pr, pg], "{name}: padded shape");
        // The tile definitions, walked in storage order.
        let mut want = Vec::with_capacity(pr * pg);
        for row_tile in 0..pr / tile_rows {
            for col_tile in 0..pg / 4 {
                let inner = if tile_rows == 128 { 32 } else { 8 };
                let stacks = tile_rows / inner;
                for r in 0..inner {
                    for stack in 0..stacks {
                        for c in 0..4 {
                            let row = row_tile * tile_rows + stack * inner + r;
                            let g = col_tile * 4 + c;
                            want.push(if row < rows && g < groups {
                                linear[row * groups + g]
                            } else {
                                0
                            });
                        }
                    }
                }
            }
        }
        assert_eq!(s.data(), &want[..], "{name}: scale bytes");
        // Read back by the metadata.
        let (ok, err) = run(&d, &["verify", "--input", "x.npy", "--quantized", &out]);
        assert!(ok, "{name}: {err}");
        let dec = format!("{name}.npy");
        let (ok, err) = run(&d, &["decode", &out, &dec]);
        assert!(ok, "{name}: {err}");
        assert_eq!(read(&dec), read("lin.npy"), "{name}: decoded values");
        // A contradicting flag is refused.
        let (ok, err) = run(
            &d,
            &[
                "verify",
                "--input",
                "x.npy",
                "--quantized",
                &out,
                "--scale-layout",
                "linear",
            ],
        );
        assert!(!ok && err.contains("records scale layout"), "{name}: {err}");
        // Without the metadata (another tool's checkpoint): needs the flag.
        let views: Vec<(String, safetensors::tensor::TensorView)> = st
            .tensors()
            .into_iter()
            .map(|(n, v)| {
                let t =
                    safetensors::tensor::TensorView::new(v.dtype(), v.shape().to_vec(), v.data())
                        .unwrap();
                (n, t)
            })
            .collect();
        let meta = std::collections::HashMap::from([(
            "gridgames.format".to_string(),
            "nvfp4".to_string(),
        )]);
        let plain = format!("{name}-plain.safetensors");
        std::fs::write(
            d.path(&plain),
            safetensors::serialize(views, Some(meta)).unwrap(),
        )
        .unwrap();
        let (ok, said) = run_all(&d, &["verify", "--input", "x.npy", "--quantized", &plain]);
        assert!(!ok, "{name} without flag must fail: {said}");
        if name == "128x4" {
            // 200 rows pad to 256: the length names the layout.
            assert!(
                said.contains("padded size of the `128x4` layout")
                    && said.contains("--scale-layout"),
                "{said}"
            );
        } else {
            // 200 × 8 is its own 8x4 padding: same length, so the bytes name the layout.
            assert!(
                said.contains("scale-layout") && said.contains("`8x4` layout"),
                "{said}"
            );
        }
        let (ok, err) = run(
            &d,
            &[
                "verify",
                "--input",
                "x.npy",
                "--quantized",
                &plain,
                "--scale-layout",
                name,
            ],
        );
        assert!(ok, "{name} with flag: {err}");
    }
    // A swizzled layout of 4-byte scales is refused, nothing written.
    let (ok, err) = run(
        &d,
        &[
            "quantize",
            "--format",
            "nf4-bnb",
            "--scale-layout",
            "128x4",
            "x.npy",
            "bnb.safetensors",
        ],
    );
    assert!(!ok && err.contains("1-byte scales"), "{err}");
    assert!(!d.path("bnb.safetensors").exists());
}
