//! Splits, preprocessing, augmentation and batching on small synthetic datasets.

use convtop::data::{
    Augment, Batcher, BatcherState, CropMode, Dataset, ImageSet, PreprocessKind, Preprocessor,
    augment_example, eval_batch, stratified_split,
};
use ndarray::Array4;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// n training and n/4 test images of (c, h, w) random bytes, labels i % classes.
fn synthetic(n: usize, c: usize, h: usize, w: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut set = |n: usize| ImageSet {
        images: (0..n * c * h * w).map(|_| rng.random()).collect(),
        labels: (0..n).map(|i| (i % 4) as u8).collect(),
        n,
    };
    let train = set(n);
    let test = set(n / 4);
    Dataset {
        name: "synthetic".to_string(),
        classes: (0..4).map(|k| k.to_string()).collect(),
        c,
        h,
        w,
        train,
        test,
        ..Default::default()
    }
}

/// Image i is the constant i (n <= 256): batches then reveal which images they hold.
fn numbered(n: usize, c: usize, h: usize, w: usize) -> Dataset {
    let mut ds = synthetic(n, c, h, w, 0);
    let chw = c * h * w;
    for i in 0..n {
        ds.train.images[i * chw..(i + 1) * chw].fill(i as u8);
    }
    ds
}

fn no_augment() -> Augment {
    Augment {
        crop: CropMode::None,
        is_crop_on: false,
        is_flip_on: false,
    }
}

#[test]
fn preprocessing_is_fitted_on_the_training_split_only() {
    let mut ds = synthetic(200, 3, 4, 4, 1);
    let split = stratified_split(&ds.train.labels, 4, 0.25, 9).unwrap();
    let kinds = [
        "mean-image",
        "channel-mean",
        "standardize",
        "zca-whiten:0.01",
    ];
    let before: Vec<_> = kinds
        .iter()
        .map(|k| {
            Preprocessor::fit(k.parse().unwrap(), &ds, &split.train)
                .unwrap()
                .tensors()
        })
        .collect();
    let chw = ds.image_len();
    for &i in &split.val {
        ds.train.images[i * chw..(i + 1) * chw].fill(255);
    }
    ds.test.images.fill(0);
    for (k, tensors) in kinds.iter().zip(&before) {
        let after = Preprocessor::fit(k.parse().unwrap(), &ds, &split.train)
            .unwrap()
            .tensors();
        assert_eq!(
            &after, tensors,
            "{k} changed when validation and test images changed"
        );
    }
}

#[test]
fn standardize_gives_zero_mean_unit_std_per_channel() {
    let ds = synthetic(100, 3, 5, 5, 2);
    let idx: Vec<usize> = (0..ds.train.n).collect();
    let pre = Preprocessor::fit(PreprocessKind::Standardize, &ds, &idx).unwrap();
    let (mean, std) = pre.channel_stats();
    // uniform bytes: mean ≈ 127.5/255 = 0.5, std ≈ 0.289 (sqrt((256² - 1) / 12) / 255)
    assert!(mean.iter().all(|m| (m - 0.5).abs() < 0.02), "{mean:?}");
    assert!(std.iter().all(|s| (s - 0.289).abs() < 0.02), "{std:?}");
    let mut x = Array4::zeros((1, 1, 1, 1));
    let mut labels = Vec::new();
    eval_batch(
        &ds,
        &ds.train,
        &idx,
        &pre,
        &no_augment(),
        &mut x,
        &mut labels,
    );
    for ch in 0..3 {
        let values = x.index_axis(ndarray::Axis(1), ch);
        let m = values.mean().unwrap();
        let s = values.std(0.0);
        assert!(
            m.abs() < 1e-4 && (s - 1.0).abs() < 1e-3,
            "channel {ch}: mean {m}, std {s}"
        );
    }
}

#[test]
fn whitening_decorrelates_the_training_data() {
    let ds = synthetic(2000, 1, 3, 3, 3);
    let idx: Vec<usize> = (0..ds.train.n).collect();
    for kind in ["pca-whiten:0.00001", "zca-whiten:0.00001"] {
        let pre = Preprocessor::fit(kind.parse().unwrap(), &ds, &idx).unwrap();
        let mut x = Array4::zeros((1, 1, 1, 1));
        let mut labels = Vec::new();
        eval_batch(
            &ds,
            &ds.train,
            &idx,
            &pre,
            &no_augment(),
            &mut x,
            &mut labels,
        );
        let x = x.into_shape_with_order((2000, 9)).unwrap();
        let cov = x.t().dot(&x) / 2000.0;
        for i in 0..9 {
            for j in 0..9 {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!(
                    (cov[[i, j]] - want).abs() < 1e-2,
                    "{kind}: cov[{i},{j}] = {}",
                    cov[[i, j]]
                );
            }
        }
    }
}

#[test]
fn whitening_large_inputs_is_a_clear_error() {
    let ds = synthetic(8, 3, 40, 40, 4);
    let err = Preprocessor::fit("pca-whiten".parse().unwrap(), &ds, &[0, 1, 2]).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("3072") && message.contains("3x40x40 = 4800"),
        "{message}"
    );
}

#[test]
fn zca_whitens_cifar_sized_inputs() {
    // 3x32x32 = 3,072 values (the old limit was 1,024): the fit decomposes a 3,072×3,072
    // covariance; ZCA's matrix U·diag(1/√(λ+ε))·Uᵀ is symmetric
    let ds = synthetic(96, 3, 32, 32, 6);
    let idx: Vec<usize> = (0..96).collect();
    let pre = Preprocessor::fit("zca-whiten:0.1".parse().unwrap(), &ds, &idx).unwrap();
    let w = pre.whitening_matrix().unwrap();
    assert_eq!(w.dim(), (3072, 3072));
    for (i, j) in [(0, 1), (5, 3000), (1500, 77), (3071, 0)] {
        assert!((w[[i, j]] - w[[j, i]]).abs() < 1e-4, "({i}, {j})");
    }
    assert!(w.iter().all(|v| v.is_finite()));
    let mut x = Array4::zeros((1, 1, 1, 1));
    let mut labels = Vec::new();
    eval_batch(
        &ds,
        &ds.train,
        &idx,
        &pre,
        &no_augment(),
        &mut x,
        &mut labels,
    );
    assert_eq!(x.dim(), (96, 3, 32, 32));
}

#[test]
fn preprocessor_round_trips_through_tensors() {
    let ds = synthetic(64, 1, 4, 4, 5);
    let idx: Vec<usize> = (0..48).collect();
    for kind in [
        "none",
        "mean-image",
        "channel-mean",
        "standardize",
        "pca-whiten",
        "zca-whiten:0.5",
    ] {
        let kind: PreprocessKind = kind.parse().unwrap();
        assert_eq!(kind.to_string().parse::<PreprocessKind>().unwrap(), kind);
        let pre = Preprocessor::fit(kind, &ds, &idx).unwrap();
        let restored = Preprocessor::from_tensors(kind, &pre.tensors()).unwrap();
        let (mut a, mut b) = (vec![0.0; 16], vec![0.0; 16]);
        pre.apply(ds.image(&ds.test, 3), &mut a);
        restored.apply(ds.image(&ds.test, 3), &mut b);
        assert_eq!(a, b, "{kind}");
    }
    let err = Preprocessor::from_tensors(PreprocessKind::MeanImage, &[]).unwrap_err();
    assert!(err.to_string().contains("preprocess.mean_image"), "{err}");
    assert!(
        "whiten"
            .parse::<PreprocessKind>()
            .unwrap_err()
            .to_string()
            .contains("channel-mean")
    );
}

fn collect_batches(
    batcher: &mut Batcher,
    ds: &Dataset,
    pre: &Preprocessor,
    aug: &Augment,
    count: usize,
) -> Vec<(Vec<f32>, Vec<usize>)> {
    let mut x = Array4::zeros((1, 1, 1, 1));
    let mut labels = Vec::new();
    (0..count)
        .map(|_| {
            batcher.next_batch(ds, pre, aug, 8, &mut x, &mut labels);
            (x.iter().copied().collect(), labels.clone())
        })
        .collect()
}

#[test]
fn each_epoch_hands_out_every_training_index_once() {
    let ds = numbered(20, 1, 2, 2);
    let pre = Preprocessor::fit(PreprocessKind::None, &ds, &[0]).unwrap();
    let train_idx: Vec<usize> = (0..20).filter(|i| i % 5 != 0).collect(); // 16 images
    let mut batcher = Batcher::new(train_idx.clone(), 7);
    let mut x = Array4::zeros((1, 1, 1, 1));
    let mut labels = Vec::new();
    for epoch in 0..3 {
        let mut seen = Vec::new();
        for size in [10, 6] {
            batcher.next_batch(&ds, &pre, &no_augment(), 10, &mut x, &mut labels);
            assert_eq!(
                x.dim(),
                (size, 1, 2, 2),
                "the last batch of an epoch is short"
            );
            seen.extend(
                x.outer_iter()
                    .map(|image| (image[[0, 0, 0]] * 255.0).round() as usize),
            );
        }
        seen.sort_unstable();
        assert_eq!(seen, train_idx, "epoch {epoch}");
        assert_eq!((batcher.epoch(), batcher.position()), (epoch + 1, 0));
    }
}

#[test]
fn batches_are_deterministic_under_a_seed_and_resume_exactly() {
    let ds = synthetic(50, 3, 8, 8, 6);
    let idx: Vec<usize> = (0..45).collect();
    let pre = Preprocessor::fit(PreprocessKind::ChannelMean, &ds, &idx).unwrap();
    let aug = Augment::new(CropMode::PadCrop { pad: 2 }, &ds);
    let a = collect_batches(&mut Batcher::new(idx.clone(), 11), &ds, &pre, &aug, 20);
    let b = collect_batches(&mut Batcher::new(idx.clone(), 11), &ds, &pre, &aug, 20);
    let c = collect_batches(&mut Batcher::new(idx.clone(), 12), &ds, &pre, &aug, 20);
    assert_eq!(a, b);
    assert_ne!(a, c);

    let mut batcher = Batcher::new(idx, 11);
    collect_batches(&mut batcher, &ds, &pre, &aug, 7);
    let json = serde_json::to_string(&batcher.rng_state()).unwrap();
    let state: BatcherState = serde_json::from_str(&json).unwrap();
    let mut resumed = Batcher::restore(state);
    let expected = collect_batches(&mut batcher, &ds, &pre, &aug, 100);
    assert_eq!(
        collect_batches(&mut resumed, &ds, &pre, &aug, 100),
        expected
    );
    assert_eq!(resumed.epoch(), batcher.epoch());
}

#[test]
fn pad_crop_keeps_the_shape_and_window_crop_shrinks_it() {
    let ds = synthetic(16, 3, 32, 32, 7);
    let pre = Preprocessor::fit(PreprocessKind::None, &ds, &[0]).unwrap();
    let mut x = Array4::zeros((1, 1, 1, 1));
    let mut labels = Vec::new();
    for (crop, shape) in [
        ("pad4", (8, 3, 32, 32)),
        ("28x28", (8, 3, 28, 28)),
        ("24x20", (8, 3, 20, 24)),
    ] {
        let aug = Augment::new(crop.parse().unwrap(), &ds);
        assert_eq!(aug.output_shape(3, 32, 32), (shape.1, shape.2, shape.3));
        Batcher::new((0..16).collect(), 1).next_batch(&ds, &pre, &aug, 8, &mut x, &mut labels);
        assert_eq!(x.dim(), shape, "{crop}");
    }
    let too_big = Augment::new("40x40".parse().unwrap(), &ds);
    assert!(
        too_big
            .validate(32, 32)
            .unwrap_err()
            .to_string()
            .contains("larger than the 32x32")
    );
}

#[test]
fn flip_is_a_mirror() {
    let ds = synthetic(64, 1, 5, 6, 8);
    let pre = Preprocessor::fit(PreprocessKind::None, &ds, &[0]).unwrap();
    let idx: Vec<usize> = (0..64).collect();
    let mut plain = Array4::zeros((1, 1, 1, 1));
    let mut labels = Vec::new();
    eval_batch(
        &ds,
        &ds.train,
        &idx,
        &pre,
        &no_augment(),
        &mut plain,
        &mut labels,
    );
    let flips = Augment {
        is_flip_on: true,
        ..no_augment()
    };
    let (mut x, mut batch_labels) = (Array4::zeros((1, 1, 1, 1)), Vec::new());
    Batcher::new(idx.clone(), 3).next_batch(&ds, &pre, &flips, 64, &mut x, &mut batch_labels);
    let mut mirrored = 0;
    for (image, &i) in x.outer_iter().zip(&source_index(&x, &plain)) {
        let original = plain.index_axis(ndarray::Axis(0), i);
        let mut mirror = original.to_owned();
        mirror.invert_axis(ndarray::Axis(2));
        assert!(image == original || image == mirror);
        mirrored += usize::from(image == mirror);
    }
    assert!((16..=48).contains(&mirrored), "{mirrored} of 64 mirrored");
}

/// For each image of x, the index of the plain image holding the same values (equal or mirrored).
fn source_index(x: &Array4<f32>, plain: &Array4<f32>) -> Vec<usize> {
    x.outer_iter()
        .map(|image| {
            let mut sorted: Vec<f32> = image.iter().copied().collect();
            sorted.sort_by(f32::total_cmp);
            (0..plain.dim().0)
                .find(|&i| {
                    let mut other: Vec<f32> = plain
                        .index_axis(ndarray::Axis(0), i)
                        .iter()
                        .copied()
                        .collect();
                    other.sort_by(f32::total_cmp);
                    other == sorted
                })
                .unwrap()
        })
        .collect()
}

#[test]
fn evaluation_uses_the_centre_crop_and_no_flip() {
    let ds = synthetic(4, 1, 6, 6, 9);
    let pre = Preprocessor::fit(PreprocessKind::None, &ds, &[0]).unwrap();
    let aug = Augment {
        crop: CropMode::Window { h: 4, w: 2 },
        is_crop_on: true,
        is_flip_on: true,
    };
    let mut x = Array4::zeros((1, 1, 1, 1));
    let mut labels = Vec::new();
    eval_batch(&ds, &ds.test, &[0], &pre, &aug, &mut x, &mut labels);
    // window 4 high, 2 wide in 6x6: offsets (6 - 4) / 2 = 1 and (6 - 2) / 2 = 2
    let image = ds.image(&ds.test, 0);
    for y in 0..4 {
        for xx in 0..2 {
            assert_eq!(x[[0, 0, y, xx]], image[(y + 1) * 6 + xx + 2] as f32 / 255.0);
        }
    }
    assert_eq!(labels, vec![ds.test.labels[0] as usize]);
}

#[test]
fn augment_example_shows_before_and_after() {
    let ds = synthetic(4, 3, 8, 8, 10);
    let aug = Augment::new("6x6".parse().unwrap(), &ds);
    let (before, after) = augment_example(&ds, &ds.train, 2, &aug, 5);
    assert_eq!((before.len(), after.len()), (3 * 8 * 8, 3 * 6 * 6));
    assert!(before.iter().chain(&after).all(|v| (0.0..=1.0).contains(v)));
    assert_eq!(augment_example(&ds, &ds.train, 2, &aug, 5), (before, after));
}
