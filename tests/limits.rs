//! Resource limits on hostile input: declared sizes are checked against the real file length
//! before any allocation, `--max-bytes` bounds what the CLI reads, and the streaming
//! quantizer (`container::stream`) writes the same tensors as the in-memory path.

use std::path::{Path, PathBuf};
use std::process::Command;

use gridgames::container::{self, npy, stream};
use gridgames::quant::{Profile, Quantizer};
use gridgames::tables;

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let d =
            std::env::temp_dir().join(format!("gridgames-limits-{name}-{}", std::process::id()));
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

fn run(dir: &Dir, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gridgames"))
        .args(args)
        .current_dir(&dir.0)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A deterministic, varied tensor (xorshift; magnitudes over several binades, exact zeros).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed | 1;
    (0..n)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            if i % 37 == 0 {
                0.0
            } else {
                let m = (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                m * (1u64 << (s % 12)) as f32
            }
        })
        .collect()
}

/// A safetensors file with the given F32 tensors (name, shape, values).
fn float_safetensors(tensors: &[(&str, Vec<usize>, Vec<f32>)]) -> Vec<u8> {
    use safetensors::tensor::{Dtype, TensorView};
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|t| t.2.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .zip(&bytes)
        .map(|(t, b)| {
            (
                t.0.to_string(),
                TensorView::new(Dtype::F32, t.1.clone(), b).unwrap(),
            )
        })
        .collect();
    safetensors::serialize(views, None).unwrap()
}

/// Every tensor of a safetensors file: name → (dtype, shape, data), and its metadata.
type Tensors = (
    std::collections::BTreeMap<String, (String, Vec<usize>, Vec<u8>)>,
    std::collections::BTreeMap<String, String>,
);

fn tensors_of(bytes: &[u8]) -> Tensors {
    let st = safetensors::SafeTensors::deserialize(bytes).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes).unwrap();
    let t = st
        .tensors()
        .into_iter()
        .map(|(n, v)| {
            (
                n,
                (
                    format!("{:?}", v.dtype()),
                    v.shape().to_vec(),
                    v.data().to_vec(),
                ),
            )
        })
        .collect();
    let m = meta
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    (t, m)
}

/// The in-memory path, as `gridgames quantize` did before streaming: read, quantize whole
/// tensors, `safetensors_bytes`.
fn in_memory(input: &Path, q: &Quantizer, pad: bool) -> Vec<u8> {
    let tensors = container::read_float_input(input, false, None).unwrap();
    let group = q.format.group_size as usize;
    let is_npy = input.extension().is_some_and(|e| e == "npy");
    let mut items = Vec::new();
    let mut passthrough = Vec::new();
    for t in tensors {
        let cols = *t.shape.last().unwrap_or(&t.data.len());
        let one_row = t.shape.iter().rev().skip(1).product::<usize>() <= 1;
        if !(cols % group == 0 || (pad && one_row)) && t.shape.len() >= 2 && !is_npy {
            passthrough.push(t);
            continue;
        }
        let name = if is_npy {
            "tensor".to_string()
        } else {
            t.name.trim_end_matches(".weight").to_string()
        };
        let shape = if t.shape.is_empty() {
            vec![1]
        } else {
            t.shape.clone()
        };
        items.push((name, shape, q.quantize(&t.data, pad).unwrap()));
    }
    container::safetensors_bytes(&items, &passthrough, &q.format, q.profile).unwrap()
}

#[test]
fn streaming_equals_in_memory_for_every_format_and_chunk_size() {
    let d = Dir::new("stream");
    // Three tensors: a quantizable 2-D one, a 1-row one, and a norm-like one that no
    // format's group divides (copied as F32).
    let st = float_safetensors(&[
        ("a.weight", vec![6, 128], values(768, 1)),
        ("b.weight", vec![1, 256], values(256, 2)),
        ("norm", vec![3, 5], values(15, 3)),
    ]);
    let st_path = d.path("in.safetensors");
    std::fs::write(&st_path, st).unwrap();
    let npy_path = d.path("x.npy");
    std::fs::write(&npy_path, npy::f32_bytes(&[50], &values(50, 4))).unwrap();
    for format in tables::FORMATS {
        for profile in Profile::for_format(format) {
            let q = Quantizer::new(format, profile).unwrap();
            let want = tensors_of(&in_memory(&st_path, &q, false));
            // Chunks of one pair of groups, an odd number of elements (rounded down to whole
            // pairs), and the default.
            for chunk in [
                1,
                3 * format.group_size as usize + 1,
                stream::CHUNK_ELEMENTS,
            ] {
                let out = d.path("out.safetensors");
                stream::quantize_file(&st_path, &out, &q, false, false, &Default::default(), chunk)
                    .unwrap();
                let mut got = tensors_of(&std::fs::read(&out).unwrap());
                // The streaming writer also records its selection rule; the in-memory
                // writer has none.
                assert!(got.1.remove("gridgames.rule").is_some());
                assert_eq!(
                    got,
                    want,
                    "{} {} chunk {chunk}",
                    format.name,
                    profile.name()
                );
            }
            // Padding of a 1-D .npy tensor.
            let want = tensors_of(&in_memory(&npy_path, &q, true));
            let out = d.path("pad.safetensors");
            stream::quantize_file(&npy_path, &out, &q, true, false, &Default::default(), 1)
                .unwrap();
            let mut got = tensors_of(&std::fs::read(&out).unwrap());
            assert!(got.1.remove("gridgames.rule").is_some());
            assert_eq!(got, want, "{} {} padded", format.name, profile.name());
        }
    }
}

#[test]
fn npy_declared_shape_is_checked_before_allocation() {
    // A 100-byte file whose header claims 2^40 f32 values: refused by the header check,
    // with the numbers, not by an allocation failure.
    let mut bytes = npy::to_bytes("<f4", &[1 << 20, 1 << 20], &[]);
    bytes.extend_from_slice(&[0; 16]);
    let e = npy::parse(&bytes).unwrap_err();
    assert!(
        e.contains("needs 4398046511104 data bytes, the file has 16"),
        "{e}"
    );
    let h = npy::parse_header(&bytes, bytes.len() as u64).unwrap_err();
    assert_eq!(h, e);
    // A shape whose byte size overflows usize.
    let bytes = npy::to_bytes("<f4", &[usize::MAX / 2, 3], &[]);
    assert_eq!(npy::parse(&bytes).unwrap_err(), "shape overflows");
    // A version-2 header that declares 4 GiB of header in a 12-byte file.
    let mut v2 = b"\x93NUMPY\x02\x00".to_vec();
    v2.extend_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(npy::parse(&v2).unwrap_err(), "truncated .npy header");
}

#[test]
fn safetensors_declared_sizes_are_checked_before_allocation() {
    let d = Dir::new("st");
    let q = Quantizer::new(&tables::NVFP4, Profile::Reference).unwrap();
    let out = d.path("o.safetensors");
    // Header length far beyond the file.
    let p = d.path("huge.safetensors");
    let mut b = (u64::MAX - 3).to_le_bytes().to_vec();
    b.extend_from_slice(b"{}");
    std::fs::write(&p, &b).unwrap();
    let e = stream::quantize_file(&p, &out, &q, false, false, &Default::default(), 1 << 20)
        .unwrap_err();
    assert!(e.contains("exceeds the file"), "{e}");
    // A tensor whose data offsets run past the end of the file.
    let header = br#"{"w":{"dtype":"F32","shape":[1073741824],"data_offsets":[0,4294967296]}}"#;
    let mut b = (header.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(header);
    b.extend_from_slice(&[0; 64]);
    let p = d.path("short.safetensors");
    std::fs::write(&p, &b).unwrap();
    let e = stream::quantize_file(&p, &out, &q, false, false, &Default::default(), 1 << 20)
        .unwrap_err();
    assert!(
        e.contains("4294967296 data bytes, the file holds 64"),
        "{e}"
    );
    assert!(container::read_safetensors_floats(&p, &b, None).is_err());
    // Shape and offsets that disagree.
    let header = br#"{"w":{"dtype":"F32","shape":[1000000],"data_offsets":[0,64]}}"#;
    let mut b = (header.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(header);
    b.extend_from_slice(&[0; 64]);
    let p = d.path("shape.safetensors");
    std::fs::write(&p, &b).unwrap();
    assert!(
        stream::quantize_file(&p, &out, &q, false, false, &Default::default(), 1 << 20).is_err()
    );
    assert!(!out.exists(), "no output after a refused input");
}

#[test]
fn cli_max_bytes_refuses_large_inputs_and_leaves_nothing() {
    let d = Dir::new("max");
    std::fs::write(d.path("x.npy"), npy::f32_bytes(&[64], &values(64, 9))).unwrap();
    for args in [
        &["quantize", "--max-bytes", "100", "x.npy", "q.safetensors"][..],
        &[
            "convert",
            "--to",
            "e4m3",
            "--max-bytes",
            "100",
            "x.npy",
            "c.npy",
        ][..],
    ] {
        let (ok, err) = run(&d, args);
        assert!(!ok);
        assert!(err.contains("larger than --max-bytes (100 bytes)"), "{err}");
    }
    let (ok, err) = run(
        &d,
        &["quantize", "--max-bytes", "lots", "x.npy", "q.safetensors"],
    );
    assert!(!ok && err.contains("is not a size"), "{err}");
    let (ok, err) = run(&d, &["quantize", "x.npy", "q.safetensors"]);
    assert!(ok, "{err}");
    let (ok, err) = run(
        &d,
        &["decode", "--max-bytes", "1K", "q.safetensors", "y.npy"],
    );
    assert!(ok, "{err}");
    let (ok, err) = run(
        &d,
        &["decode", "--max-bytes", "64", "q.safetensors", "z.npy"],
    );
    assert!(!ok && err.contains("--max-bytes"), "{err}");
    assert!(!d.path("c.npy").exists() && !d.path("z.npy").exists());
}

#[cfg(unix)]
#[test]
fn cli_max_bytes_bounds_endless_inputs() {
    // /dev/zero reports length 0 and never ends: the bound is on bytes read, so decode
    // stops at --max-bytes + 1 instead of reading forever.
    let d = Dir::new("zero");
    std::os::unix::fs::symlink("/dev/zero", d.path("z.safetensors")).unwrap();
    let (ok, err) = run(
        &d,
        &["decode", "--max-bytes", "1M", "z.safetensors", "y.npy"],
    );
    assert!(!ok && err.contains("larger than --max-bytes"), "{err}");
}

/// Every command that reads a file is bounded, not only quantize/decode/convert: case files
/// (`mma`, `verify`), learning data (`learn`), and runtime spec files (1 MiB).
#[cfg(unix)]
#[test]
fn every_reader_is_bounded() {
    let d = Dir::new("zero-all");
    std::os::unix::fs::symlink("/dev/zero", d.path("z.txt")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", d.path("z.npy")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", d.path("z.yaml")).unwrap();
    for args in [
        &["mma", "--max-bytes", "1M", "--cases", "z.txt"][..],
        &["verify", "--max-bytes", "1M", "z.txt"][..],
        &[
            "learn",
            "--max-bytes",
            "1M",
            "--data",
            "npy:z.npy",
            "--name",
            "x",
            "--out",
            "x.yaml",
            "--quiet",
        ][..],
    ] {
        let (ok, err) = run(&d, args);
        assert!(
            !ok && err.contains("larger than --max-bytes"),
            "{args:?}: {err}"
        );
    }
    let (ok, err) = run(&d, &["show", "z.yaml"]);
    assert!(!ok && err.contains("larger than the read limit"), "{err}");
}

/// An output that is the input (directly or through a link) is refused, the input left
/// byte for byte as it was; an output extension that does not match what is written too.
#[cfg(unix)]
#[test]
fn output_never_destroys_the_input() {
    let d = Dir::new("same");
    let input = npy::f32_bytes(&[64], &values(64, 3));
    std::fs::write(d.path("x.npy"), &input).unwrap();
    std::os::unix::fs::symlink(d.path("x.npy"), d.path("x.safetensors")).unwrap();
    for args in [
        &["quantize", "x.npy", "x.npy"][..],
        &["quantize", "x.npy", "x.safetensors"][..],
        &["convert", "--to", "e4m3", "x.npy", "x.npy"][..],
    ] {
        let (ok, err) = run(&d, args);
        assert!(
            !ok && err.contains("the output is the input file"),
            "{args:?}: {err}"
        );
        assert_eq!(std::fs::read(d.path("x.npy")).unwrap(), input, "{args:?}");
    }
    let (ok, err) = run(&d, &["quantize", "x.npy", "q.npy"]);
    assert!(!ok && err.contains("writes a .safetensors file"), "{err}");
    assert!(!d.path("q.npy").exists());
    let (ok, err) = run(&d, &["quantize", "x.npy", "q.safetensors"]);
    assert!(ok, "{err}");
    let (ok, err) = run(&d, &["decode", "q.safetensors", "y.txt"]);
    assert!(!ok && err.contains("writes a .npy file"), "{err}");
}

/// Groups run along the last dimension: a shape whose last dimension does not fit is refused
/// (even when the total would), and `--pad` pads each row; the padded file decodes back to
/// the original shape, each row's values in place.
#[test]
fn quantize_groups_along_the_last_dimension() {
    let d = Dir::new("shapes");
    for shape in [[2usize, 24], [2, 40], [4, 8]] {
        let n = shape[0] * shape[1];
        let x = values(n, 5);
        std::fs::write(d.path("x.npy"), npy::f32_bytes(&shape, &x)).unwrap();
        let (ok, err) = run(&d, &["quantize", "x.npy", "q.safetensors"]);
        assert!(
            !ok && err.contains("is not a multiple of the group size 16"),
            "{shape:?}: {err}"
        );
        assert!(!d.path("q.safetensors").exists());
        let (ok, err) = run(&d, &["quantize", "--pad", "x.npy", "q.safetensors"]);
        assert!(ok, "{shape:?}: {err}");
        let (ok, err) = run(&d, &["decode", "q.safetensors", "y.npy"]);
        assert!(ok, "{shape:?}: {err}");
        let y = std::fs::read(d.path("y.npy")).unwrap();
        let arr = npy::parse(&y).unwrap();
        assert_eq!(arr.shape, shape.to_vec());
        // Each row quantized on its own: row r's values equal quantizing row r alone, padded.
        let q = Quantizer::new(&tables::NVFP4, Profile::Reference).unwrap();
        let ctx = q.tensor_context(&x);
        let cols = shape[1];
        let pad = (16 - cols % 16) % 16;
        let mut padded = Vec::new();
        for r in x.chunks(cols) {
            padded.extend_from_slice(r);
            padded.resize(padded.len() + pad, 0.0);
        }
        let want = q
            .quantize_with_context(&padded, &ctx, false)
            .unwrap()
            .decode_f32()
            .unwrap();
        let want: Vec<f32> = want
            .chunks(cols + pad)
            .flat_map(|r| r[..cols].to_vec())
            .collect();
        let got: Vec<f32> = arr
            .data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert_eq!(got, want, "{shape:?}");
        std::fs::remove_file(d.path("q.safetensors")).unwrap();
    }
}

/// A checkpoint quantizes into a checkpoint: the 2-D `.weight` tensors that fit are quantized
/// (the documented default rule, printed and recorded), every other tensor is copied byte for
/// byte in its own dtype (ints, F64, F8, 1-D norms, biases, odd shapes, f16), and a dense
/// decode restores a loadable checkpoint with every tensor.
#[test]
fn checkpoint_in_checkpoint_out() {
    use safetensors::tensor::{Dtype, TensorView};
    let d = Dir::new("ckpt");
    let w: Vec<u8> = values(8 * 32, 1)
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let wh: Vec<u8> = values(4 * 16, 2)
        .iter()
        .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
        .collect();
    let odd: Vec<u8> = values(3 * 5, 3)
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let bias: Vec<u8> = values(64, 4).iter().flat_map(|v| v.to_le_bytes()).collect();
    let ints: Vec<u8> = (0..6i32).flat_map(|v| v.to_le_bytes()).collect();
    let f64s: Vec<u8> = (0..4)
        .flat_map(|v| (v as f64 * 0.5).to_le_bytes())
        .collect();
    let f8: Vec<u8> = (0..16u8).collect();
    let tensors = [
        ("l1.weight", Dtype::F32, vec![8, 32], &w),
        ("l2.weight", Dtype::F16, vec![4, 16], &wh),
        ("odd.weight", Dtype::F32, vec![3, 5], &odd),
        ("l1.bias", Dtype::F32, vec![64], &bias),
        ("norm.weight", Dtype::F32, vec![64], &bias),
        ("ids", Dtype::I32, vec![6], &ints),
        ("f64", Dtype::F64, vec![4], &f64s),
        ("f8", Dtype::F8_E4M3, vec![16], &f8),
    ];
    let views: Vec<(&str, TensorView)> = tensors
        .iter()
        .map(|(n, dt, s, b)| (*n, TensorView::new(*dt, s.clone(), b).unwrap()))
        .collect();
    std::fs::write(
        d.path("in.safetensors"),
        safetensors::serialize(views, None).unwrap(),
    )
    .unwrap();
    let (ok, err) = run(&d, &["quantize", "in.safetensors", "q.safetensors"]);
    assert!(ok, "{err}");
    assert!(
        err.contains("rule: quantize 2-D float tensors named *.weight"),
        "{err}"
    );
    let q = std::fs::read(d.path("q.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&q).unwrap();
    let mut names: Vec<String> = st.names().into_iter().map(String::from).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "f64",
            "f8",
            "ids",
            "l1.bias",
            "l1.weight",
            "l1.weight_scale",
            "l1.weight_scale_2",
            "l2.weight",
            "l2.weight_scale",
            "l2.weight_scale_2",
            "norm.weight",
            "odd.weight"
        ]
    );
    for (n, dt, s, b) in &tensors[2..] {
        let t = st.tensor(n).unwrap();
        assert_eq!(
            (t.dtype(), t.shape(), t.data()),
            (*dt, &s[..], &b[..]),
            "{n} copied"
        );
    }
    let (_, meta) = safetensors::SafeTensors::read_metadata(&q).unwrap();
    assert!(meta.metadata().as_ref().unwrap()["gridgames.rule"].contains("*.weight"));
    // Dense decode: every tensor back, the quantized ones as F32 of their shapes.
    let (ok, err) = run(&d, &["decode", "q.safetensors", "dense.safetensors"]);
    assert!(ok, "{err}");
    let dense = std::fs::read(d.path("dense.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&dense).unwrap();
    assert_eq!(st.tensor("l1.weight").unwrap().shape(), &[8, 32]);
    assert_eq!(st.tensor("l2.weight").unwrap().shape(), &[4, 16]);
    assert_eq!(st.len(), tensors.len());
    // Explicit selection: a match that is not a `.weight` is refused; no match is refused;
    // neither leaves or replaces an output.
    std::fs::write(d.path("keep.safetensors"), b"keep").unwrap();
    for (args, text) in [
        (
            &[
                "quantize",
                "--tensor",
                "bias",
                "in.safetensors",
                "keep.safetensors",
            ][..],
            "only tensors named `*.weight`",
        ),
        (
            &[
                "quantize",
                "--tensor",
                "^nothing$",
                "in.safetensors",
                "keep.safetensors",
            ][..],
            "no tensor to quantize",
        ),
        (
            &[
                "quantize",
                "--tensor",
                "(",
                "in.safetensors",
                "keep.safetensors",
            ][..],
            "not a regular expression",
        ),
    ] {
        let (ok, err) = run(&d, args);
        assert!(!ok && err.contains(text), "{args:?}: {err}");
        assert_eq!(std::fs::read(d.path("keep.safetensors")).unwrap(), b"keep");
    }
    let (ok, err) = run(
        &d,
        &[
            "quantize",
            "--exclude",
            "l2",
            "in.safetensors",
            "q2.safetensors",
        ],
    );
    assert!(ok && err.contains("except those matching /l2/"), "{err}");
    let st2 = std::fs::read(d.path("q2.safetensors")).unwrap();
    let st2 = safetensors::SafeTensors::deserialize(&st2).unwrap();
    assert_eq!(
        st2.tensor("l2.weight").unwrap().dtype(),
        Dtype::F16,
        "excluded: copied"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&d.0)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

/// Temporary outputs are registered while written and removed by the interruption handler.
#[test]
fn interrupted_writes_leave_no_temporary_file() {
    let d = Dir::new("tmpreg");
    let p = d.path(".out.tmp-1");
    std::fs::write(&p, b"partial").unwrap();
    gridgames::fsio::register_temp(&p);
    gridgames::fsio::remove_registered_temps();
    assert!(!p.exists());
}

/// `vectors inputs` writes the golden edge cases as a checkpoint a kernel can consume; the
/// reference quantizer's own output of it verifies clean in container mode (planted bugs in
/// that mode are covered by tests/verify_planted.rs and the Python tests).
#[test]
fn vectors_inputs_round_trip_through_verify() {
    let d = Dir::new("inputs");
    let (ok, err) = run(&d, &["vectors", "inputs", "nvfp4", "in.safetensors"]);
    assert!(ok && err.contains("golden inputs of nvfp4"), "{err}");
    let (ok, err) = run(&d, &["quantize", "in.safetensors", "q.safetensors"]);
    assert!(ok, "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_gridgames"))
        .args([
            "verify",
            "--input",
            "in.safetensors",
            "--quantized",
            "q.safetensors",
        ])
        .current_dir(&d.0)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("no mismatches"),
        "{text}"
    );
    let (ok, err) = run(&d, &["vectors", "inputs", "nvfp4", "in.txt"]);
    assert!(
        !ok && err.contains("expected .safetensors or .npy"),
        "{err}"
    );
}
