//! Loading (full MNIST, the CIFAR-10 image folder, the embedded subset) and batch production
//! (crops + flips + preprocessing, batch 64) for the `mnist` and `cifar` input shapes, and
//! fitting and applying ZCA whitening.
//! Datasets in `../shared/datasets` are skipped with a printed reason when absent.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use convtop::data::{
    Augment, Batcher, CropMode, DataSource, Dataset, ImageSet, LoadOptions, PreprocessKind,
    Preprocessor, load,
};
use criterion::{Criterion, criterion_group, criterion_main};
use ndarray::Array4;

fn shared(name: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/datasets")
        .join(name);
    if path.is_dir() {
        Some(path)
    } else {
        eprintln!("skipped: {} is absent", path.display());
        None
    }
}

fn loading(c: &mut Criterion) {
    let mut group = c.benchmark_group("load");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("embedded", |b| {
        b.iter(|| load(&DataSource::Embedded, &LoadOptions::default()).unwrap())
    });
    if let Some(dir) = shared("mnist") {
        let source = DataSource::Idx(dir);
        group.bench_function("mnist_full_idx", |b| {
            b.iter(|| load(&source, &LoadOptions::default()).unwrap())
        });
    }
    if let Some(dir) = shared("cifar10") {
        let source = DataSource::Folder(dir);
        group.measurement_time(Duration::from_secs(40));
        group.bench_function("cifar10_folder_60k_jpeg", |b| {
            b.iter(|| load(&source, &LoadOptions::default()).unwrap())
        });
    }
    group.finish();
}

/// 50,000 training images of (c, h, w) with varied bytes; the cost of a batch does not depend on them.
fn synthetic(c: usize, h: usize, w: usize) -> Dataset {
    let n = 50_000;
    let images = (0..n * c * h * w).map(|v| (v * 31 % 251) as u8).collect();
    let labels = (0..n).map(|i| (i % 10) as u8).collect();
    Dataset {
        name: "synthetic".to_string(),
        classes: (0..10).map(|k| k.to_string()).collect(),
        c,
        h,
        w,
        train: ImageSet { images, labels, n },
        test: ImageSet::default(),
        ..Default::default()
    }
}

fn batches(c: &mut Criterion) {
    let mut group = c.benchmark_group("batch64");
    let cases = [
        (
            "mnist_1x28x28_pad2_flip_channel_mean",
            synthetic(1, 28, 28),
            "pad2",
        ),
        (
            "mnist_1x28x28_24x24_flip_channel_mean",
            synthetic(1, 28, 28),
            "24x24",
        ),
        (
            "cifar_3x32x32_pad4_flip_channel_mean",
            synthetic(3, 32, 32),
            "pad4",
        ),
        (
            "cifar_3x32x32_28x28_flip_channel_mean",
            synthetic(3, 32, 32),
            "28x28",
        ),
    ];
    zca_batches(&mut group);
    for (name, ds, crop) in &cases {
        let idx: Vec<usize> = (0..ds.train.n).collect();
        let pre = Preprocessor::fit(PreprocessKind::ChannelMean, ds, &idx).unwrap();
        let crop: CropMode = crop.parse().unwrap();
        let aug = Augment {
            crop,
            is_crop_on: true,
            is_flip_on: true,
        };
        let mut batcher = Batcher::new(idx, 0);
        let mut x = Array4::zeros((1, 1, 1, 1));
        let mut labels = Vec::new();
        group.bench_function(*name, |b| {
            b.iter(|| {
                batcher.next_batch(ds, &pre, &aug, 64, &mut x, &mut labels);
                black_box(&x);
            })
        });
    }
    group.finish();
}

/// A CIFAR-shaped batch of 64 through ZCA whitening (d = 3,072): as the batcher does it, one
/// (64, d) × (d, d) product, against one matrix-vector product per image (`Preprocessor::apply`).
fn zca_batches(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    let ds = synthetic(3, 32, 32);
    let idx: Vec<usize> = (0..ds.train.n).collect();
    let kind = PreprocessKind::PcaWhiten {
        eps: 0.1,
        zca: true,
    };
    let pre = Preprocessor::fit(kind, &ds, &idx).unwrap();
    let aug = Augment {
        crop: "pad4".parse().unwrap(),
        is_crop_on: true,
        is_flip_on: true,
    };
    let mut batcher = Batcher::new(idx, 0);
    let mut x = Array4::zeros((1, 1, 1, 1));
    let mut labels = Vec::new();
    group.bench_function("cifar_3x32x32_pad4_flip_zca", |b| {
        b.iter(|| {
            batcher.next_batch(&ds, &pre, &aug, 64, &mut x, &mut labels);
            black_box(&x);
        })
    });
    let mut out = vec![0.0f32; 64 * ds.image_len()];
    group.bench_function("cifar_3x32x32_zca_per_image", |b| {
        b.iter(|| {
            for (i, o) in out.chunks_exact_mut(ds.image_len()).enumerate() {
                pre.apply(ds.image(&ds.train, i), o);
            }
            black_box(&out);
        })
    });
}

/// Fitting ZCA whitening on the embedded MNIST training images (1x28x28, d = 784), and on
/// CIFAR-10's shape (3x32x32, d = 3,072; the real training images when present).
fn whitening(c: &mut Criterion) {
    let ds = load(&DataSource::Embedded, &LoadOptions::default()).unwrap();
    let idx: Vec<usize> = (0..ds.train.n).collect();
    let mut group = c.benchmark_group("fit");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    let kind = PreprocessKind::PcaWhiten {
        eps: 0.1,
        zca: true,
    };
    group.bench_function("zca_whiten_mnist_embedded", |b| {
        b.iter(|| Preprocessor::fit(kind, &ds, &idx).unwrap())
    });
    let cifar = match shared("cifar10") {
        Some(dir) => load(&DataSource::Folder(dir), &LoadOptions::default()).unwrap(),
        None => synthetic(3, 32, 32),
    };
    let idx: Vec<usize> = (0..cifar.train.n).collect();
    group.measurement_time(Duration::from_secs(60));
    group.bench_function("zca_whiten_cifar_3072", |b| {
        b.iter(|| Preprocessor::fit(kind, &cifar, &idx).unwrap())
    });
    group.finish();
}

// no plots: criterion's plotters backend needs system fonts, which a server may not have
criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = loading, batches, whitening
}
criterion_main!(benches);
