//! The default dataset: the first 20,000 training and 2,000 test images of MNIST, compiled into the
//! binary (see `assets/mnist-embedded/LICENSE-MNIST.md` for the CC BY-SA 3.0 attribution).

use std::path::{Path, PathBuf};

use super::error::DataError;
use super::idx::{self, IdxFiles};
use super::source::Dataset;

const TRAIN_IMAGES: &[u8] =
    include_bytes!("../../assets/mnist-embedded/train-images-idx3-ubyte.gz");
const TRAIN_LABELS: &[u8] =
    include_bytes!("../../assets/mnist-embedded/train-labels-idx1-ubyte.gz");
const TEST_IMAGES: &[u8] = include_bytes!("../../assets/mnist-embedded/t10k-images-idx3-ubyte.gz");
const TEST_LABELS: &[u8] = include_bytes!("../../assets/mnist-embedded/t10k-labels-idx1-ubyte.gz");

fn file(name: &str, bytes: &[u8]) -> Result<(PathBuf, Vec<u8>), DataError> {
    let path = Path::new("<embedded>").join(name);
    let raw = idx::gunzip_if_needed(&path, bytes.to_vec())?;
    Ok((path, raw))
}

pub(crate) fn load() -> Result<Dataset, DataError> {
    let files = IdxFiles {
        train_images: file("train-images-idx3-ubyte.gz", TRAIN_IMAGES)?,
        train_labels: file("train-labels-idx1-ubyte.gz", TRAIN_LABELS)?,
        test_images: file("t10k-images-idx3-ubyte.gz", TEST_IMAGES)?,
        test_labels: file("t10k-labels-idx1-ubyte.gz", TEST_LABELS)?,
    };
    idx::from_files("mnist-embedded".to_string(), files)
}

#[cfg(test)]
mod tests {
    #[test]
    fn embedded_subset_has_the_documented_shape() {
        let ds = super::load().unwrap();
        assert_eq!((ds.c, ds.h, ds.w), (1, 28, 28));
        assert_eq!((ds.train.n, ds.test.n), (20_000, 2_000));
        assert_eq!(ds.classes.len(), 10);
        assert_eq!(ds.train.images.len(), 20_000 * 784);
    }
}
