//! CIFAR-10 binary version: `data_batch_1..5.bin` and `test_batch.bin`, each a run of records of
//! 1 label byte + 3072 pixel bytes (1024 red, 1024 green, 1024 blue, row-major 32x32): already CHW.

use std::path::{Path, PathBuf};

use super::error::DataError;
use super::source::{Dataset, ImageSet};

const SIDE: usize = 32;
const PIXELS: usize = 3 * SIDE * SIDE;
const RECORD: usize = 1 + PIXELS;
const CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

fn read_batches(paths: &[PathBuf]) -> Result<ImageSet, DataError> {
    let mut set = ImageSet::default();
    let total: u64 = paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    set.images.reserve(total as usize / RECORD * PIXELS);
    for path in paths {
        let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
        if bytes.is_empty() || bytes.len() % RECORD != 0 {
            return Err(DataError::format(
                path,
                format!(
                    "truncated or not a CIFAR-10 batch: {} bytes is not a whole number of {RECORD}-byte records (1 label + 3072 pixels)",
                    bytes.len()
                ),
            ));
        }
        for (index, record) in bytes.chunks_exact(RECORD).enumerate() {
            let label = record[0];
            if label as usize >= CLASSES.len() {
                return Err(DataError::LabelOutOfRange {
                    path: path.clone(),
                    index,
                    label: label as usize,
                    num_classes: CLASSES.len(),
                });
            }
            set.labels.push(label);
            set.images.extend_from_slice(&record[1..]);
        }
    }
    set.n = set.labels.len();
    Ok(set)
}

/// `dir` itself or its `cifar-10-batches-bin` sub-folder, whichever holds `test_batch.bin`.
fn batches_dir(dir: &Path) -> Result<PathBuf, DataError> {
    for candidate in [dir.to_path_buf(), dir.join("cifar-10-batches-bin")] {
        if candidate.join("test_batch.bin").is_file() {
            return Ok(candidate);
        }
    }
    Err(DataError::NotFound {
        path: dir.to_path_buf(),
        what: "test_batch.bin".to_string(),
        hint: "a CIFAR-10 folder holds data_batch_1.bin .. data_batch_5.bin and test_batch.bin (the binary version); for a folder of images use folder:DIR".to_string(),
    })
}

pub(crate) fn load_dir(dir: &Path) -> Result<Dataset, DataError> {
    DataError::require_folder(
        dir,
        "data_batch_1.bin .. data_batch_5.bin and test_batch.bin",
    )?;
    let root = batches_dir(dir)?;
    let train_paths: Vec<PathBuf> = (1..=5)
        .map(|k| root.join(format!("data_batch_{k}.bin")))
        .collect();
    let train = read_batches(&train_paths)?;
    let test = read_batches(&[root.join("test_batch.bin")])?;
    Ok(Dataset {
        name: "cifar10".to_string(),
        classes: CLASSES.iter().map(|c| c.to_string()).collect(),
        c: 3,
        h: SIDE,
        w: SIDE,
        train,
        test,
        ..Default::default()
    })
}
