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
            pad: 2,
            wd_mult: 1.0
        }
    );
    assert_eq!(
        layers[5],
        LayerSpec::MaxPool {
            k: 3,
            stride: 3,
            is_ceil: false
        }
    );
    assert_eq!(
        layers[6],
        LayerSpec::Fc {
            d_out: 10,
            wd_mult: 1.0
        }
    );
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
            pad: 1,
            wd_mult: 1.0
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

#[test]
fn cudaconvnet_shapes_params_and_flops() {
    let p = plan(&parse("cudaconvnet").unwrap(), [3, 32, 32]).unwrap();
    let shapes: Vec<[usize; 3]> = p.layers.iter().map(|l| l.info.out_shape).collect();
    // conv 5×5 p2 keeps 32; pool 3 s2 ceil: ⌈(32 − 3)/2⌉ + 1 = 16; then 16 → 8 → 4
    assert_eq!(
        shapes,
        vec![
            [32, 32, 32],
            [32, 16, 16],
            [32, 16, 16],
            [32, 16, 16],
            [32, 16, 16],
            [32, 16, 16],
            [32, 8, 8],
            [32, 8, 8],
            [64, 8, 8],
            [64, 8, 8],
            [64, 4, 4],
            [10, 1, 1],
        ]
    );
    assert!(p.layers[1].info.formula.contains("⌈(32 − 3)/2⌉ + 1 = 16"));
    assert_eq!(p.layers[3].info.name, "norm1");
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    // params: conv1 32·3·25 + 32 = 2,432; conv2 32·32·25 + 32 = 25,632;
    // conv3 64·32·25 + 64 = 51,264; fc 10·(64·4·4) + 10 = 10,250; total 89,578
    assert_eq!(p.params(), 2_432 + 25_632 + 51_264 + 10_250);
    assert_eq!(p.params(), 89_578);
    // flops: 2·32·1024·75 + 2·32·256·800 + 2·64·64·800 + 2·1024·10
    //      = 4,915,200 + 13,107,200 + 6,553,600 + 20,480 = 24,596,480
    assert_eq!(p.flops(), 24_596_480);
}

#[test]
fn alexnet_shapes_params_and_flops() {
    let p = plan(&parse("alexnet").unwrap(), [3, 227, 227]).unwrap();
    let shape = |name: &str| {
        p.layers
            .iter()
            .find(|l| l.info.name == name)
            .map(|l| l.info.out_shape)
            .unwrap()
    };
    // conv1 11×11 s4: (227 − 11)/4 + 1 = 55 → 96×55×55; pool 3 s2: (55 − 3)/2 + 1 = 27
    assert_eq!(shape("conv1"), [96, 55, 55]);
    assert_eq!(shape("pool1"), [96, 27, 27]);
    // conv2 5×5 p2 keeps 27; pool (27 − 3)/2 + 1 = 13; conv3–5 3×3 p1 keep 13; pool → 6
    assert_eq!(shape("conv2"), [256, 27, 27]);
    assert_eq!(shape("pool2"), [256, 13, 13]);
    assert_eq!(shape("conv3"), [384, 13, 13]);
    assert_eq!(shape("conv5"), [256, 13, 13]);
    assert_eq!(shape("pool3"), [256, 6, 6]);
    assert_eq!(shape("fc1"), [4096, 1, 1]);
    assert_eq!(shape("dropout2"), [4096, 1, 1]);
    assert_eq!(shape("fc3"), [1000, 1, 1]);
    // params (one device, no groups):
    // conv1 96·3·121 + 96 = 34,944; conv2 256·96·25 + 256 = 614,656;
    // conv3 384·256·9 + 384 = 885,120; conv4 384·384·9 + 384 = 1,327,488;
    // conv5 256·384·9 + 256 = 884,992; fc1 4096·9216 + 4096 = 37,752,832;
    // fc2 4096·4096 + 4096 = 16,781,312; fc3 1000·4096 + 1000 = 4,097,000
    let params =
        34_944 + 614_656 + 885_120 + 1_327_488 + 884_992 + 37_752_832 + 16_781_312 + 4_097_000;
    assert_eq!(params, 62_378_344);
    assert_eq!(p.params(), params);
    // flops = 2 · multiply-adds: conv1 96·3025·363 = 105,415,200; conv2 256·729·2400 =
    // 447,897,600; conv3 384·169·2304 = 149,520,384; conv4 384·169·3456 = 224,280,576;
    // conv5 256·169·3456 = 149,520,384; fc 9216·4096 + 4096·4096 + 4096·1000 = 58,621,952
    let macs: u64 =
        105_415_200 + 447_897_600 + 149_520_384 + 224_280_576 + 149_520_384 + 58_621_952;
    assert_eq!(p.flops(), 2 * macs);
}

#[test]
fn new_layer_tokens_are_parsed_and_named() {
    let p = plan(
        &parse("conv4k3p1 relu norm3a5e-5b0.75 pool3s2ceil fc8 relu dropout0.5 fc10").unwrap(),
        [3, 8, 8],
    )
    .unwrap();
    let names: Vec<&str> = p.layers.iter().map(|l| l.info.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "conv1", "relu1", "norm1", "pool1", "fc1", "relu2", "dropout1", "fc2"
        ]
    );
    assert_eq!(p.layers[2].info.kind, "norm 3 channels");
    assert_eq!(p.layers[3].info.kind, "maxpool 3×3 s2 ceil");
    // ⌈(8 − 3)/2⌉ + 1 = 4
    assert_eq!(p.layers[3].info.out_shape, [4, 4, 4]);
    assert_eq!(p.layers[6].info.kind, "dropout 0.5");
    let e = parse("conv4 dropout1.5 fc10").unwrap_err().to_string();
    assert!(e.contains("[0, 1)") && e.contains("dropout1.5"), "{e}");
    let e = parse("norm3q2 fc10").unwrap_err().to_string();
    assert!(e.contains("unknown option `q`"), "{e}");
}

#[test]
fn batch_norm_is_parsed_named_and_counted() {
    let p = plan(
        &parse("conv8k3p1 bn relu pool2 fc16 BatchNorm relu fc10").unwrap(),
        [3, 8, 8],
    )
    .unwrap();
    let names: Vec<&str> = p.layers.iter().map(|l| l.info.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "conv1", "bn1", "relu1", "pool1", "fc1", "bn2", "relu2", "fc2"
        ]
    );
    assert_eq!(p.layers[1].info.kind, "batchnorm");
    // γ and β per channel: 2·8 after conv1, 2·16 after fc1
    assert_eq!(p.layers[1].info.params, 16);
    assert_eq!(p.layers[5].info.params, 32);
    assert_eq!(p.layers[1].info.out_shape, [8, 8, 8]);
    // conv1 and fc1 reach their ReLU through the norm: He, not Glorot
    assert!(p.layers[0].is_followed_by_relu && p.layers[4].is_followed_by_relu);
    let e = parse("conv4 bn2 fc10").unwrap_err().to_string();
    assert!(e.contains("bn2"), "{e}");
}

#[test]
fn vggish_bn_is_vggish_with_a_norm_before_each_relu() {
    let plain = plan(&parse("vggish").unwrap(), [3, 32, 32]).unwrap();
    let bn = plan(&parse("vggish-bn").unwrap(), [3, 32, 32]).unwrap();
    // γ and β for each of the six convolutions' channels: 2·(32 + 32 + 64 + 64 + 128 + 128)
    assert_eq!(bn.params(), plain.params() + 896);
    assert_eq!(bn.flops(), plain.flops());
    assert_eq!(bn.layers.len(), plain.layers.len() + 6);
    let relus = bn.layers.iter().filter(|l| l.spec == LayerSpec::Relu);
    assert_eq!(relus.count(), 6);
    for (i, l) in bn.layers.iter().enumerate() {
        if l.spec == LayerSpec::Relu {
            assert_eq!(
                bn.layers[i - 1].spec,
                LayerSpec::BatchNorm,
                "{}",
                l.info.name
            );
        }
    }
}

#[test]
fn vggish_wide_bn_counts_its_parameters_and_flops() {
    let p = plan(&parse("vggish-wide-bn").unwrap(), [3, 32, 32]).unwrap();
    // (c_in, c_out, side) of each 3×3 convolution; every one keeps its input's side (p1)
    let convs = [
        (3, 64, 32),
        (64, 64, 32),
        (64, 128, 16),
        (128, 128, 16),
        (128, 256, 8),
        (256, 256, 8),
    ];
    let conv_params: u64 = convs.iter().map(|&(i, o, _)| 9 * i * o + o).sum();
    let bn_params: u64 = convs.iter().map(|&(_, o, _)| 2 * o).sum();
    // the average pool leaves 256×1×1 for the classifier
    let fc_params = 256 * 10 + 10;
    assert_eq!(p.params() as u64, conv_params + bn_params + fc_params);
    assert_eq!(p.params(), 1_149_770);
    // a multiply and an add per weight per output position
    let conv_flops: u64 = convs.iter().map(|&(i, o, s)| 2 * 9 * i * o * s * s).sum();
    assert_eq!(p.flops(), conv_flops + 2 * 256 * 10);
    assert_eq!(p.layers.last().unwrap().info.out_shape, [10, 1, 1]);
}

#[test]
fn a_conv_or_fc_layer_takes_a_weight_decay_multiplier() {
    let layers = parse("conv8k5p2wd0.5 relu fc10wd250").unwrap();
    assert_eq!(layers[0].wd_mult(), 0.5);
    assert_eq!(
        layers[2],
        LayerSpec::Fc {
            d_out: 10,
            wd_mult: 250.0
        }
    );
    assert_eq!(layers[1].wd_mult(), 0.0, "a ReLU has no weights to decay");
    let p = plan(&layers, [3, 32, 32]).unwrap();
    assert_eq!(p.layers[0].info.kind, "conv 8 5×5 s1 p2 wd×0.5");
    assert_eq!(p.layers[2].info.kind, "fc 10 wd×250");
    assert_eq!(p.layers[2].info.params, 8 * 32 * 32 * 10 + 10);
    for bad in [
        "fc10wd",
        "fc10wd-1",
        "fc10wdx",
        "conv8k5wd1e999",
        "pool2wd3",
    ] {
        let e = parse(&format!("conv8 relu {bad}")).unwrap_err().to_string();
        assert!(e.contains(bad) && e.contains("wd"), "{bad}: {e}");
    }
}
