//! The real datasets in `../shared/datasets`, skipped with a printed reason where it is absent.

use std::path::PathBuf;
use std::time::Instant;

use convtop::data::{DataSource, LoadOptions, class_counts, load, stratified_split};

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

fn all(n: usize) -> Vec<usize> {
    (0..n).collect()
}

#[test]
fn full_mnist_has_the_published_label_counts() {
    let Some(dir) = shared("mnist") else { return };
    let start = Instant::now();
    let ds = load(&DataSource::Idx(dir), &LoadOptions::default()).unwrap();
    eprintln!(
        "MNIST loaded in {:?}, {} bytes",
        start.elapsed(),
        ds.memory_bytes()
    );
    assert_eq!(
        (ds.c, ds.h, ds.w, ds.train.n, ds.test.n),
        (1, 28, 28, 60_000, 10_000)
    );
    assert_eq!(
        class_counts(&ds.train.labels, &all(ds.train.n), 10),
        vec![5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        class_counts(&ds.test.labels, &all(ds.test.n), 10),
        vec![980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    assert!(ds.memory_bytes() < 100_000_000);
    let split = stratified_split(&ds.train.labels, 10, 0.1, 0).unwrap();
    // 10% of 5923 = 592.3 -> 592
    assert_eq!(class_counts(&ds.train.labels, &split.val, 10)[0], 592);
}

#[test]
fn embedded_subset_is_the_head_of_real_mnist() {
    let Some(dir) = shared("mnist") else { return };
    let full = load(&DataSource::Idx(dir), &LoadOptions::default()).unwrap();
    let embedded = load(&DataSource::Embedded, &LoadOptions::default()).unwrap();
    assert_eq!(embedded.train.images[..], full.train.images[..20_000 * 784]);
    assert_eq!(embedded.train.labels[..], full.train.labels[..20_000]);
    assert_eq!(embedded.test.images[..], full.test.images[..2_000 * 784]);
    assert_eq!(embedded.test.labels[..], full.test.labels[..2_000]);
}

#[test]
fn cifar10_folder_has_5000_a_class_in_train_and_1000_in_test() {
    let Some(dir) = shared("cifar10") else { return };
    let start = Instant::now();
    let ds = load(&DataSource::Folder(dir), &LoadOptions::default()).unwrap();
    eprintln!(
        "CIFAR-10 folder loaded in {:?}, {} bytes",
        start.elapsed(),
        ds.memory_bytes()
    );
    assert_eq!((ds.c, ds.h, ds.w), (3, 32, 32));
    assert_eq!(ds.classes[0], "airplane");
    assert_eq!(ds.classes[9], "truck");
    assert_eq!(
        class_counts(&ds.train.labels, &all(ds.train.n), 10),
        vec![5000; 10]
    );
    assert_eq!(
        class_counts(&ds.test.labels, &all(ds.test.n), 10),
        vec![1000; 10]
    );
    assert!(ds.is_natural_images());
    assert!(ds.memory_bytes() < 300_000_000);
}
