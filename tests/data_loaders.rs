//! Loaders on small fixtures generated into temporary folders: good files load, and each kind of
//! bad input is an error naming the file and the problem.

use std::io::Write;
use std::path::Path;

use convtop::data::{DataError, DataSource, LoadOptions, load};
use tempfile::TempDir;

fn idx_images(n: u32, h: u32, w: u32) -> Vec<u8> {
    let mut raw = vec![0, 0, 8, 3];
    for d in [n, h, w] {
        raw.extend(d.to_be_bytes());
    }
    raw.extend((0..n * h * w).map(|v| (v % 251) as u8));
    raw
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut raw = vec![0, 0, 8, 1];
    raw.extend((labels.len() as u32).to_be_bytes());
    raw.extend(labels);
    raw
}

fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(raw).unwrap();
    encoder.finish().unwrap()
}

/// A valid IDX folder: 6 training and 3 test images of 2x3, labels 0..=2; training images gzipped
/// under a name without `.gz`, the rest raw.
fn idx_folder() -> TempDir {
    let dir = TempDir::new().unwrap();
    let write = |name: &str, bytes: Vec<u8>| std::fs::write(dir.path().join(name), bytes).unwrap();
    write("train-images-idx3-ubyte", gzip(&idx_images(6, 2, 3)));
    write("train-labels-idx1-ubyte", idx_labels(&[0, 1, 2, 0, 1, 2]));
    write("t10k-images-idx3-ubyte", idx_images(3, 2, 3));
    write("t10k-labels-idx1-ubyte.gz", gzip(&idx_labels(&[2, 1, 0])));
    dir
}

fn load_idx(dir: &Path) -> Result<convtop::data::Dataset, DataError> {
    load(&DataSource::Idx(dir.to_path_buf()), &LoadOptions::default())
}

fn assert_error(result: Result<convtop::data::Dataset, DataError>, file: &str, problem: &str) {
    let message = result.unwrap_err().to_string();
    assert!(
        message.contains(file),
        "message does not name {file}: {message}"
    );
    assert!(
        message.contains(problem),
        "message does not say {problem}: {message}"
    );
}

#[test]
fn idx_loads_gzipped_and_raw_files_by_their_magic() {
    let dir = idx_folder();
    let ds = load_idx(dir.path()).unwrap();
    assert_eq!((ds.c, ds.h, ds.w, ds.train.n, ds.test.n), (1, 2, 3, 6, 3));
    assert_eq!(ds.classes, vec!["0", "1", "2"]);
    assert_eq!(ds.image(&ds.train, 1), &[6, 7, 8, 9, 10, 11]);
    assert_eq!(ds.test.labels, vec![2, 1, 0]);
}

#[test]
fn idx_truncated_file_is_an_error() {
    let dir = idx_folder();
    let mut raw = idx_images(6, 2, 3);
    raw.truncate(raw.len() - 5);
    std::fs::write(dir.path().join("train-images-idx3-ubyte"), raw).unwrap();
    assert_error(load_idx(dir.path()), "train-images-idx3-ubyte", "truncated");
}

#[test]
fn idx_truncated_header_is_an_error() {
    let dir = idx_folder();
    std::fs::write(dir.path().join("t10k-images-idx3-ubyte"), [0, 0, 8, 3, 0]).unwrap();
    assert_error(load_idx(dir.path()), "t10k-images-idx3-ubyte", "truncated");
}

#[test]
fn idx_truncated_gzip_is_an_error() {
    let dir = idx_folder();
    let gz = gzip(&idx_images(6, 2, 3));
    std::fs::write(
        dir.path().join("train-images-idx3-ubyte"),
        &gz[..gz.len() / 2],
    )
    .unwrap();
    assert_error(
        load_idx(dir.path()),
        "train-images-idx3-ubyte",
        "gzip data is truncated",
    );
}

#[test]
fn idx_wrong_magic_is_an_error() {
    let dir = idx_folder();
    // a label file where the images should be
    std::fs::write(
        dir.path().join("train-images-idx3-ubyte"),
        idx_labels(&[0, 1]),
    )
    .unwrap();
    assert_error(
        load_idx(dir.path()),
        "train-images-idx3-ubyte",
        "wrong magic number 0x00000801",
    );
}

#[test]
fn idx_count_mismatch_is_an_error() {
    let dir = idx_folder();
    std::fs::write(
        dir.path().join("train-labels-idx1-ubyte"),
        idx_labels(&[0, 1, 2, 0]),
    )
    .unwrap();
    let message = load_idx(dir.path()).unwrap_err().to_string();
    assert!(
        message.contains("train-images-idx3-ubyte holds 6 images"),
        "{message}"
    );
    assert!(
        message.contains("train-labels-idx1-ubyte holds 4 labels"),
        "{message}"
    );
}

#[test]
fn idx_test_label_out_of_range_is_an_error() {
    let dir = idx_folder();
    std::fs::write(
        dir.path().join("t10k-labels-idx1-ubyte.gz"),
        idx_labels(&[2, 7, 0]),
    )
    .unwrap();
    assert_error(
        load_idx(dir.path()),
        "t10k-labels-idx1-ubyte.gz",
        "label 7 of item 1 is out of range 0..3",
    );
}

#[test]
fn idx_missing_file_is_an_error() {
    let dir = idx_folder();
    std::fs::remove_file(dir.path().join("t10k-labels-idx1-ubyte.gz")).unwrap();
    assert_error(
        load_idx(dir.path()),
        "t10k-labels-idx1-ubyte[.gz] not found",
        "an IDX folder holds",
    );
}

#[test]
fn unreadable_path_is_an_error() {
    let dir = TempDir::new().unwrap();
    let missing = dir.path().join("nowhere");
    for source in [
        DataSource::Idx(missing.clone()),
        DataSource::Cifar10(missing.clone()),
        DataSource::Folder(missing.clone()),
    ] {
        let message = load(&source, &LoadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(message.contains("nowhere"), "{message}");
    }
}

fn cifar_batch(labels: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (k, &label) in labels.iter().enumerate() {
        bytes.push(label);
        bytes.extend((0..3072).map(|v| ((v + k) % 256) as u8));
    }
    bytes
}

fn cifar_folder() -> TempDir {
    let dir = TempDir::new().unwrap();
    for k in 1..=5 {
        std::fs::write(
            dir.path().join(format!("data_batch_{k}.bin")),
            cifar_batch(&[k, 9]),
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("test_batch.bin"), cifar_batch(&[3])).unwrap();
    dir
}

fn load_cifar(dir: &Path) -> Result<convtop::data::Dataset, DataError> {
    load(
        &DataSource::Cifar10(dir.to_path_buf()),
        &LoadOptions::default(),
    )
}

#[test]
fn cifar_binary_loads() {
    let dir = cifar_folder();
    let ds = load_cifar(dir.path()).unwrap();
    assert_eq!(
        (ds.c, ds.h, ds.w, ds.train.n, ds.test.n),
        (3, 32, 32, 10, 1)
    );
    assert_eq!(ds.train.labels, vec![1, 9, 2, 9, 3, 9, 4, 9, 5, 9]);
    assert_eq!(ds.classes[9], "truck");
    assert_eq!(ds.image(&ds.train, 1)[..3], [1, 2, 3]);
    assert!(ds.is_natural_images());
}

#[test]
fn cifar_truncated_batch_is_an_error() {
    let dir = cifar_folder();
    let mut bytes = cifar_batch(&[0, 1]);
    bytes.truncate(3073 + 100);
    std::fs::write(dir.path().join("data_batch_3.bin"), bytes).unwrap();
    assert_error(load_cifar(dir.path()), "data_batch_3.bin", "truncated");
}

#[test]
fn cifar_label_out_of_range_is_an_error() {
    let dir = cifar_folder();
    std::fs::write(dir.path().join("test_batch.bin"), cifar_batch(&[0, 10])).unwrap();
    assert_error(
        load_cifar(dir.path()),
        "test_batch.bin",
        "label 10 of item 1 is out of range 0..10",
    );
}

#[test]
fn cifar_missing_batch_is_an_error() {
    let dir = cifar_folder();
    std::fs::remove_file(dir.path().join("data_batch_5.bin")).unwrap();
    assert_error(load_cifar(dir.path()), "data_batch_5.bin", "cannot read");
}

/// Writes a w x h PNG, grey or RGB, whose pixels encode `seed`.
fn write_png(path: &Path, w: u32, h: u32, is_colour: bool, seed: u8) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    if is_colour {
        image::RgbImage::from_fn(w, h, |x, y| image::Rgb([seed, x as u8, y as u8]))
            .save(path)
            .unwrap();
    } else {
        image::GrayImage::from_fn(w, h, |x, _| image::Luma([seed.wrapping_add(x as u8)]))
            .save(path)
            .unwrap();
    }
}

fn load_folder(
    dir: &Path,
    resize: Option<(usize, usize)>,
) -> Result<convtop::data::Dataset, DataError> {
    load(
        &DataSource::Folder(dir.to_path_buf()),
        &LoadOptions { resize },
    )
}

#[test]
fn folder_with_train_and_test_loads_grey_images() {
    let dir = TempDir::new().unwrap();
    for (split, n) in [("train", 3), ("test", 1)] {
        for class in ["b_cat", "a_dog"] {
            for i in 0..n {
                write_png(
                    &dir.path().join(split).join(class).join(format!("{i}.png")),
                    4,
                    2,
                    false,
                    i as u8 * 10,
                );
            }
        }
    }
    let ds = load_folder(dir.path(), None).unwrap();
    assert_eq!(ds.classes, vec!["a_dog", "b_cat"]);
    assert_eq!((ds.c, ds.h, ds.w, ds.train.n, ds.test.n), (1, 2, 4, 6, 2));
    assert_eq!(ds.train.labels, vec![0, 0, 0, 1, 1, 1]);
    assert_eq!(ds.image(&ds.train, 1), &[10, 11, 12, 13, 10, 11, 12, 13]);
    assert!(!ds.is_natural_images());
}

#[test]
fn single_level_colour_folder_is_split_stratified() {
    let dir = TempDir::new().unwrap();
    for class in ["x", "y"] {
        for i in 0..10 {
            write_png(
                &dir.path().join(class).join(format!("{i:02}.png")),
                3,
                3,
                i == 0,
                i as u8,
            );
        }
    }
    let ds = load_folder(dir.path(), None).unwrap();
    assert_eq!((ds.c, ds.train.n, ds.test.n), (3, 16, 4));
    assert_eq!(ds.test.labels.iter().filter(|&&l| l == 0).count(), 2);
}

#[test]
fn folder_empty_class_is_an_error() {
    let dir = TempDir::new().unwrap();
    write_png(&dir.path().join("train/one/0.png"), 2, 2, false, 0);
    std::fs::create_dir_all(dir.path().join("train/two")).unwrap();
    assert_error(load_folder(dir.path(), None), "two", "holds no image files");
}

#[test]
fn folder_file_that_is_not_an_image_is_an_error() {
    let dir = TempDir::new().unwrap();
    write_png(&dir.path().join("one/0.png"), 2, 2, false, 0);
    std::fs::write(dir.path().join("one/notes.png"), b"not an image at all").unwrap();
    assert_error(
        load_folder(dir.path(), None),
        "notes.png",
        "is not an image",
    );
}

#[test]
fn folder_mixed_sizes_need_resize() {
    let dir = TempDir::new().unwrap();
    write_png(&dir.path().join("one/0.png"), 4, 4, false, 0);
    write_png(&dir.path().join("one/1.png"), 6, 5, false, 0);
    assert_error(
        load_folder(dir.path(), None),
        "1.png",
        "is 6x5 but earlier images are 4x4",
    );
    let ds = load_folder(dir.path(), Some((3, 2))).unwrap();
    assert_eq!((ds.h, ds.w, ds.train.n + ds.test.n), (2, 3, 2));
}

#[test]
fn folder_test_classes_must_match() {
    let dir = TempDir::new().unwrap();
    write_png(&dir.path().join("train/a/0.png"), 2, 2, false, 0);
    write_png(&dir.path().join("test/b/0.png"), 2, 2, false, 0);
    assert_error(
        load_folder(dir.path(), None),
        "test",
        "differ from training classes",
    );
}
