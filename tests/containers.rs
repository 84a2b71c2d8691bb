//! Containers: a real ModelOpt-written NVFP4 checkpoint decodes, and round trips through our
//! own safetensors and .npy writers are exact.

use std::path::Path;

use gridgames::container::{self, npy};
use gridgames::decode;
use gridgames::quant::{Profile, Quantizer, TensorContext};
use gridgames::tables;

fn checkpoint(file: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("vectors/peers/modelopt/checkpoint")
            .join(file),
    )
    .expect("checkpoint file")
}

#[test]
fn modelopt_checkpoint_decodes() {
    let model = checkpoint("model.safetensors");
    let dq_bytes = checkpoint("modelopt_dequant.safetensors");
    let dq =
        container::read_safetensors_floats(Path::new("modelopt_dequant"), &dq_bytes, None).unwrap();
    let tensors =
        container::read_quantized(Path::new("model.safetensors"), &model, &tables::NVFP4, None)
            .unwrap();
    assert!(
        tensors.len() >= 7,
        "expected the 7 Linear layers, got {}",
        tensors.len()
    );
    let mut exact = 0usize;
    let mut total = 0usize;
    for t in &tensors {
        let n: usize = t.shape.iter().product();
        let mut ours = vec![0f32; n];
        decode::decode_f32(
            &tables::NVFP4,
            &t.codes,
            &t.scales,
            t.tensor_scale.unwrap(),
            &mut ours,
        )
        .unwrap();
        let theirs = dq
            .iter()
            .find(|d| d.name == format!("{}.weight", t.name))
            .unwrap_or_else(|| panic!("no dequant for {}", t.name));
        assert_eq!(theirs.shape, t.shape);
        for (i, (&a, &b)) in ours.iter().zip(&theirs.data).enumerate() {
            // ModelOpt rounds f32(scale·wsf2) first, then multiplies by the E2M1 value: model
            // that independently here and demand bit equality with its output.
            let code = decode::code_at(&tables::NVFP4, &t.codes, i);
            let e2m1 = [0.0f32, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0][(code & 7) as usize]
                * if code & 8 != 0 { -1.0 } else { 1.0 };
            let s = tables::E4M3.decode(t.scales[i / 16] as u32) as f32;
            let modelopt = e2m1 * (s * t.tensor_scale.unwrap());
            assert_eq!(
                modelopt.to_bits() & 0x7fff_ffff,
                b.to_bits() & 0x7fff_ffff,
                "{} [{i}]: our model of ModelOpt's dequant",
                t.name
            );
            // Ours rounds once; the two agree to within one ulp, exactly when no double rounding.
            let ulps = (a.to_bits() as i64 - b.to_bits() as i64).abs();
            assert!(
                ulps <= 1 || (a == 0.0 && b == 0.0),
                "{} [{i}]: ours {a} vs ModelOpt {b}",
                t.name
            );
            exact += (a == b) as usize;
            total += 1;
        }
    }
    eprintln!("ModelOpt checkpoint: {total} values, {exact} bit-identical to ModelOpt's dequant, the rest 1 ulp (ModelOpt rounds scale·wsf2 first)");
    assert!(exact * 10 > total * 9);
}

#[test]
fn modelopt_checkpoint_requantizes_bit_for_bit() {
    // Re-quantizing the original weights with the exported weight_scale_2 (ModelOpt shares it
    // across q/k/v and gate/up) reproduces every code and scale byte.
    let model = checkpoint("model.safetensors");
    let orig_bytes = checkpoint("original.safetensors");
    let originals =
        container::read_safetensors_floats(Path::new("original"), &orig_bytes, None).unwrap();
    let tensors =
        container::read_quantized(Path::new("model.safetensors"), &model, &tables::NVFP4, None)
            .unwrap();
    let q = Quantizer::new(&tables::NVFP4, Profile::ModelOpt).unwrap();
    for t in &tensors {
        let x = originals
            .iter()
            .find(|o| o.name == format!("{}.weight", t.name))
            .expect("original");
        let ctx = TensorContext {
            amax: 0.0,
            scale: t.tensor_scale.unwrap(),
        };
        let ours = q.quantize_with_context(&x.data, &ctx, false).unwrap();
        assert_eq!(ours.scales, t.scales, "{}: scales", t.name);
        assert_eq!(ours.codes, t.codes, "{}: codes", t.name);
    }
}

#[test]
fn npy_round_trip_and_strict_header() {
    let values = [1.5f32, -0.0, 6.0, 1e-40];
    let bytes = npy::f32_bytes(&[2, 2], &values);
    let arr = npy::parse(&bytes).unwrap();
    assert_eq!(arr.shape, vec![2, 2]);
    let back = arr.to_f32(false).unwrap();
    assert_eq!(
        back.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        values.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    // Truncated data is refused before anything is allocated from the header.
    let err = npy::parse(&bytes[..bytes.len() - 1]).unwrap_err();
    assert!(
        err.contains("needs 16 data bytes, the file has 15"),
        "{err}"
    );
    let mut lying = npy::f32_bytes(&[1], &[1.0]);
    let text = String::from_utf8_lossy(&lying).replace("(1,)", "(9,)");
    lying = text.into_bytes();
    assert!(npy::parse(&lying).is_err());
}

#[test]
fn safetensors_round_trip_every_format() {
    let x: Vec<f32> = (0..256)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
        .collect();
    for f in tables::FORMATS {
        let q = Quantizer::new(f, Profile::Reference)
            .unwrap()
            .quantize(&x, false)
            .unwrap();
        let bytes = container::safetensors_bytes(
            &[("layer".into(), vec![2, 128], q.clone())],
            &[],
            f,
            Profile::Reference,
        )
        .unwrap();
        assert_eq!(
            container::metadata_format(&bytes).map(|m| m.0),
            Some(f.name.to_string())
        );
        let back = container::read_quantized(Path::new("mem"), &bytes, f, None).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].codes, q.codes, "{}", f.name);
        assert_eq!(back[0].scales, q.scales, "{}", f.name);
        assert_eq!(back[0].tensor_scale, q.tensor_scale, "{}", f.name);
        assert_eq!(back[0].shape, vec![2, 128]);
    }
}

/// `gridgames decode CKPT.safetensors OUT.safetensors` writes a dense checkpoint streamed
/// (header first, then each tensor): every quantized tensor decoded as `<name>.weight` (equal
/// to the library decode), every other tensor copied byte for byte in its own dtype, and the
/// file byte-identical to what `safetensors::serialize` makes of the same tensors.
#[test]
fn decode_writes_a_dense_checkpoint_as_safetensors_serializes_it() {
    use gridgames::container::stream::{quantize_file, Selection};
    use safetensors::tensor::{Dtype, TensorView};
    use safetensors::SafeTensors;
    let dir = std::env::temp_dir().join(format!("gridgames-dense-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A small checkpoint: two linear weights, a bias, an int tensor and a bf16 tensor.
    let w1: Vec<f32> = (0..64 * 32)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 9.0)
        .collect();
    let w2: Vec<f32> = (0..16 * 48)
        .map(|i| ((i * 13 % 57) as f32 - 28.0) / 5.0)
        .collect();
    let f32_bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let (b1, b2) = (f32_bytes(&w1), f32_bytes(&w2));
    let bias = f32_bytes(&[0.5; 64]);
    let ids: Vec<u8> = (0..12i64).flat_map(|i| i.to_le_bytes()).collect();
    let half: Vec<u8> = (0..20u16)
        .flat_map(|i| (0x3f80 + i).to_le_bytes())
        .collect();
    let views = vec![
        (
            "a.weight",
            TensorView::new(Dtype::F32, vec![64, 32], &b1).unwrap(),
        ),
        (
            "b.weight",
            TensorView::new(Dtype::F32, vec![16, 48], &b2).unwrap(),
        ),
        (
            "a.bias",
            TensorView::new(Dtype::F32, vec![64], &bias).unwrap(),
        ),
        ("ids", TensorView::new(Dtype::I64, vec![12], &ids).unwrap()),
        (
            "norm",
            TensorView::new(Dtype::BF16, vec![20], &half).unwrap(),
        ),
    ];
    let input = dir.join("m.safetensors");
    std::fs::write(&input, safetensors::serialize(views, None).unwrap()).unwrap();
    let q = Quantizer::new(&tables::NVFP4, Profile::Reference).unwrap();
    let quantized = dir.join("q.safetensors");
    quantize_file(
        &input,
        &quantized,
        &q,
        false,
        false,
        &Selection::default(),
        1 << 10,
    )
    .unwrap();
    let dense = dir.join("d.safetensors");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gridgames"))
        .args(["decode", "--threads", "2"])
        .arg(&quantized)
        .arg(&dense)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = std::fs::read(&dense).unwrap();
    // The expected file: the library decode of each quantized tensor, the copies, serialized
    // by the safetensors crate.
    let qbytes = std::fs::read(&quantized).unwrap();
    let stored = container::read_quantized(Path::new("q"), &qbytes, &tables::NVFP4, None).unwrap();
    let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for t in &stored {
        let n: usize = t.shape.iter().product();
        let mut v = vec![0f32; n];
        gridgames::decode::decode_f32(
            &tables::NVFP4,
            &t.codes,
            &t.scales,
            t.tensor_scale.unwrap(),
            &mut v,
        )
        .unwrap();
        owned.push((
            format!("{}.weight", t.name),
            Dtype::F32,
            t.shape.clone(),
            f32_bytes(&v),
        ));
    }
    let st = SafeTensors::deserialize(&qbytes).unwrap();
    for name in ["a.bias", "ids", "norm"] {
        let v = st.tensor(name).unwrap();
        owned.push((
            name.to_string(),
            v.dtype(),
            v.shape().to_vec(),
            v.data().to_vec(),
        ));
    }
    let views: Vec<(String, TensorView)> = owned
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    let meta = std::collections::HashMap::from([("format".to_string(), "pt".to_string())]);
    let want = safetensors::serialize(views, Some(meta)).unwrap();
    assert_eq!(
        got, want,
        "dense checkpoint differs from safetensors::serialize's"
    );
    // The decoded weights are the inputs to within NVFP4's error (a sanity check).
    let back = SafeTensors::deserialize(&got).unwrap();
    assert_eq!(back.tensor("a.weight").unwrap().shape(), &[64, 32]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The streaming quantizer's workers (chunks read, quantized and written in any order) give
/// the same file as one thread and as the scalar oracle: several tensors, row padding, tiny
/// chunks (many per tensor), 1, 2 and 3 workers, reference and a library profile.
#[test]
fn streaming_quantize_is_the_same_file_on_any_number_of_workers() {
    use gridgames::container::stream::{quantize_file_with, Selection, WriteOptions};
    use gridgames::simd::{Backend, Options};
    use safetensors::tensor::{Dtype, TensorView};
    let dir = std::env::temp_dir().join(format!("gridgames-workers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut seed = 99u64;
    let mut values = |n: usize| -> Vec<u8> {
        (0..n)
            .flat_map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (((seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 20.0).to_le_bytes()
            })
            .collect()
    };
    let (a, b, c) = (values(96 * 40), values(33 * 128), values(7 * 64));
    let views = vec![
        (
            "a.weight",
            TensorView::new(Dtype::F32, vec![96, 40], &a).unwrap(),
        ),
        (
            "b.weight",
            TensorView::new(Dtype::F32, vec![33, 128], &b).unwrap(),
        ),
        (
            "c.weight",
            TensorView::new(Dtype::F32, vec![7, 64], &c).unwrap(),
        ),
    ];
    let input = dir.join("m.safetensors");
    std::fs::write(&input, safetensors::serialize(views, None).unwrap()).unwrap();
    for (format, profile) in [
        (&tables::NVFP4, Profile::Reference),
        (&tables::NVFP4, Profile::ModelOpt),
        (tables::format("sfp4").unwrap(), Profile::Reference),
    ] {
        let q = Quantizer::new(format, profile).unwrap();
        let run = |backend: Backend, threads: usize| {
            let out = dir.join(format!("q-{}-{threads}.safetensors", backend.name()));
            let write = WriteOptions {
                simd: Options { backend, threads },
                ..WriteOptions::default()
            };
            quantize_file_with(
                &input,
                &out,
                &q,
                true,
                false,
                &Selection::default(),
                256,
                &write,
            )
            .unwrap();
            std::fs::read(&out).unwrap()
        };
        let want = run(Backend::Scalar, 1);
        for threads in [1, 2, 3] {
            assert!(
                run(Backend::detect(), threads) == want,
                "{} {}: {threads} workers differ from the scalar single-thread file",
                format.name,
                profile.name()
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
