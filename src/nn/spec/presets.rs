//! The named networks: each spec with the input it was designed for.

/// A named preset: the spec and the input (c, h, w) it was designed for.
pub struct Preset {
    pub name: &'static str,
    pub spec: &'static str,
    pub input: [usize; 3],
    pub about: &'static str,
}

pub const PRESETS: [Preset; 8] = [
    Preset {
        name: "mnist",
        spec: "conv8k5p2 relu pool2 conv16k5p2 relu pool3 fc10",
        input: [1, 28, 28],
        about: "ConvNetJS's MNIST net: two 5×5 conv layers, 1.57 MFLOP an image",
    },
    Preset {
        name: "cifar",
        spec: "conv16k5p2 relu pool2 conv20k5p2 relu pool2 conv20k5p2 relu pool2 fc10",
        input: [3, 32, 32],
        about: "ConvNetJS's CIFAR-10 net: three 5×5 conv-relu-pool stages",
    },
    Preset {
        name: "seed",
        spec: "(conv10k3p1 relu conv10k3p1 relu pool2)x3 fc10",
        input: [3, 32, 32],
        about: "(CONV-RELU-CONV-RELU-POOL)×3 with 10 3×3 filters, a tiny VGG",
    },
    Preset {
        name: "vggish",
        spec: "conv32k3p1 relu conv32k3p1 relu pool2 conv64k3p1 relu conv64k3p1 relu pool2 \
               conv128k3p1 relu conv128k3p1 relu pool2 fc10",
        input: [3, 32, 32],
        about: "as seed with 32,32 / 64,64 / 128,128 filters",
    },
    Preset {
        name: "vggish-bn",
        spec: "conv32k3p1 bn relu conv32k3p1 bn relu pool2 conv64k3p1 bn relu conv64k3p1 bn relu pool2 \
               conv128k3p1 bn relu conv128k3p1 bn relu pool2 fc10",
        input: [3, 32, 32],
        about: "vggish with a batch norm before each ReLU",
    },
    Preset {
        name: "vggish-wide-bn",
        // the global average pool keeps the classifier's inputs few: over vggish-bn's 2,048
        // all-positive features one step at lr 0.05 moves every logit together and the loss
        // explodes within 5 iterations; over 256 averages it does not (README, `bn`)
        spec: "conv64k3p1 bn relu conv64k3p1 bn relu pool2 conv128k3p1 bn relu conv128k3p1 bn relu pool2 \
               conv256k3p1 bn relu conv256k3p1 bn relu pool2 avgpool4 fc10",
        input: [3, 32, 32],
        about: "vggish-bn with 64/128/256 filters and a global average pool before fc10",
    },
    Preset {
        name: "cudaconvnet",
        // α is the published 5e-5 scaled to standardised input: Krizhevsky's and Caffe's pixels
        // are 0–255 (σ ≈ 64), where 5e-5 divides by ~1.2; on unit-σ input it divides by 1.0003,
        // a no-op (measured on the trained net), and 30 epochs reach 76.2% validation against
        // 77.5% at α 0.1 (0.01: 76.7%, 0.3: ~76.7%, 1: 74.7% at epoch 17; README)
        spec: "conv32k5p2 pool3s2ceil relu norm3a0.1b0.75k1 conv32k5p2 relu avgpool3s2ceil \
               norm3a0.1b0.75k1 conv64k5p2 relu avgpool3s2ceil fc10",
        input: [3, 32, 32],
        about: "Krizhevsky's layers-18pct / Caffe's cifar10_full: conv-pool-norm ×2, conv-pool, fc10",
    },
    Preset {
        name: "alexnet",
        spec: "conv96k11s4 relu norm5 pool3s2 conv256k5p2 relu norm5 pool3s2 \
               conv384k3p1 relu conv384k3p1 relu conv256k3p1 relu pool3s2 \
               fc4096 relu dropout0.5 fc4096 relu dropout0.5 fc1000",
        input: [3, 227, 227],
        about: "Krizhevsky 2012 on one device, for 227×227 folder data (--resize 227x227)",
    },
];

pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// True for a preset on the input it was designed for: its layout is deliberate, so the
/// planner's "uncovered pixels" warnings are notes, not advice (the `mnist` preset's 3×3
/// stride-3 pool floors 14/3 to 4, as ConvNetJS's MNIST demo does).
pub fn is_preset_on_its_input(spec_or_preset: &str, input: [usize; 3]) -> bool {
    preset(spec_or_preset.trim()).is_some_and(|p| p.input == input)
}

/// Why a preset fails on an input it was not designed for, when it is one: the input it was
/// built for, and the presets built for this one. `None` for a spec, or a preset on its input.
pub fn off_its_input(spec_or_preset: &str, input: [usize; 3]) -> Option<String> {
    let p = preset(spec_or_preset.trim()).filter(|p| p.input != input)?;
    let shape = |s: [usize; 3]| format!("{}×{}×{}", s[0], s[1], s[2]);
    let fitting: Vec<&str> = PRESETS
        .iter()
        .filter(|q| q.input == input)
        .map(|q| q.name)
        .collect();
    let instead = match fitting.as_slice() {
        [] => "write a spec for it (`convtop inspect --net SPEC --input CxHxW` checks one)".into(),
        names => format!("use a preset built for it ({})", names.join(", ")),
    };
    let resize = if p.input[0] == input[0] {
        format!(
            "; folder data can be resized to it with --resize {}x{}",
            p.input[2], p.input[1]
        )
    } else {
        String::new()
    };
    Some(format!(
        "the preset {} is built for {} input and this input is {}: {instead}{resize}",
        p.name,
        shape(p.input),
        shape(input)
    ))
}

/// The spec text a name stands for: a preset's spec, or the text itself.
pub fn resolve(spec_or_preset: &str) -> &str {
    preset(spec_or_preset.trim()).map_or(spec_or_preset, |p| p.spec)
}
