use gridgames::quant::{Profile, Quantizer};
use gridgames::tables;

#[test]
fn nvfp4_reference_known_group() {
    // Tensor amax 6·448 → tensor scale exactly 1; block amax 6 → scale 1.0 (0x38).
    let mut x = vec![0f32; 32];
    x[0] = 2688.0;
    let vals = [
        0.25f32, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, 6.0, -0.1, -0.0, 0.0, -5.0, -6.0, 0.5, 1.0, 3.0,
    ];
    x[16..].copy_from_slice(&vals);
    let q = Quantizer::new(&tables::NVFP4, Profile::Reference)
        .unwrap()
        .quantize(&x, false)
        .unwrap();
    assert_eq!(q.tensor_scale, Some(1.0));
    assert_eq!(q.scales[1], 0x38);
    let codes: Vec<u8> = (0..16)
        .map(|i| gridgames::decode::code_at(&tables::NVFP4, &q.codes, 16 + i))
        .collect();
    // RNE ties by hand: 0.25→0, 0.75→1, 1.25→1, 1.75→2, 2.5→2, 3.5→4, 5→4, 6→6; -0.1→-0; -0→-0; -5→-4.
    assert_eq!(
        codes,
        vec![0, 2, 2, 4, 4, 6, 6, 7, 8, 8, 0, 14, 15, 1, 2, 5]
    );
}
