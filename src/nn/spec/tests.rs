//! Tests of the spec grammar, the planner and the presets.

use super::*;

#[test]
fn parses_the_mnist_preset() {
    let layers = parse("mnist").unwrap();
    assert_eq!(layers.len(), 7);
    assert_eq!(
        layers[0],
        LayerSpec::Conv {
            c_out: 8,
            kh: 5,
            kw: 5,
            stride: 1,
            pad: 2
        }
    );
    assert_eq!(layers[5], LayerSpec::MaxPool { k: 3, stride: 3 });
    assert_eq!(layers[6], LayerSpec::Fc { d_out: 10 });
}

#[test]
fn groups_repeat() {
    let layers = parse("seed").unwrap();
    assert_eq!(layers.len(), 16); // 5 × 3 + fc
    let nonsquare = parse("conv4k3x5s2p1 relu fc2").unwrap();
    assert_eq!(
        nonsquare[0],
        LayerSpec::Conv {
            c_out: 4,
            kh: 3,
            kw: 5,
            stride: 2,
            pad: 1
        }
    );
}

#[test]
fn bad_tokens_are_named() {
    let e = parse("conv8k5 relu pooly fc10").unwrap_err().to_string();
    assert!(e.contains("pooly") && e.contains("token 3"), "{e}");
    let e = parse("conv8q3 fc10").unwrap_err().to_string();
    assert!(e.contains("unknown option `q`"), "{e}");
    assert!(parse("(conv8 relu fc10").is_err());
    assert!(parse("conv8 relu) fc10").is_err());
    assert!(parse("(conv8 relu) fc10").is_err());
    assert!(parse("").is_err());
}

#[test]
fn lecture_shapes() {
    // one 5×5×3 filter over 32×32×3: (32 − 5)/1 + 1 = 28
    let p = plan(&parse("conv1k5 fc10").unwrap(), [3, 32, 32]).unwrap();
    assert_eq!(p.layers[0].info.out_shape, [1, 28, 28]);
    // six of them: 28×28×6
    let p = plan(&parse("conv6k5 fc10").unwrap(), [3, 32, 32]).unwrap();
    assert_eq!(p.layers[0].info.out_shape, [6, 28, 28]);
    // 7×7, k3, pad 1, stride 2: (7 + 2 − 3)/2 + 1 = 4
    let p = plan(&parse("conv1k3s2p1 fc10").unwrap(), [1, 7, 7]).unwrap();
    assert_eq!(p.layers[0].info.out_shape, [1, 4, 4]);
    // k3 s1 p1 keeps 13×13
    let p = plan(&parse("conv2k3p1 fc10").unwrap(), [1, 13, 13]).unwrap();
    assert_eq!(p.layers[0].info.out_shape, [2, 13, 13]);
}

#[test]
fn preset_flops_match_the_published_figures() {
    // mnist: 2·8·784·25 + 2·16·196·200 + 2·256·10 = 313,600 + 1,254,400 + 5,120 = 1,573,120
    let p = plan(&parse("mnist").unwrap(), [1, 28, 28]).unwrap();
    assert_eq!(p.flops(), 1_573_120);
    assert_eq!(p.layers[5].info.out_shape, [16, 4, 4]);
    // pool3 on 14×14: (14 − 3) mod 3 = 2 rows dropped
    assert!(p.warnings[0].contains("2 row(s)"), "{:?}", p.warnings);
    let p = plan(&parse("cifar").unwrap(), [3, 32, 32]).unwrap();
    // 2·16·1024·75 + 2·20·256·400 + 2·20·64·500 + 2·320·10 = 7,840,000
    assert_eq!(p.flops(), 7_840_000);
}

#[test]
fn impossible_specs_name_layer_numbers_and_formula() {
    let e = plan(
        &parse("conv8k5 relu pool2 conv8k9 fc10").unwrap(),
        [1, 12, 12],
    )
    .unwrap_err()
    .to_string();
    // 12 → conv k5: 8 → pool2: 4 → conv k9 does not fit 4×4
    assert!(
        e.contains("conv2") && e.contains("9×9") && e.contains("4×4") && e.contains("⌊"),
        "{e}"
    );
    let e = plan(&parse("conv8k3 relu").unwrap(), [1, 8, 8])
        .unwrap_err()
        .to_string();
    assert!(e.contains("fcN"), "{e}");
}
