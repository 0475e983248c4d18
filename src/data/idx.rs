//! IDX files (MNIST, Fashion-MNIST and the like): a big-endian header, then u8 items.
//! Files may be gzipped whatever their name says: the gzip magic decides.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::error::DataError;
use super::source::{Dataset, ImageSet};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const IMAGES_MAGIC: u32 = 0x0000_0803; // u8 items, 3 dimensions (n, h, w)
const LABELS_MAGIC: u32 = 0x0000_0801; // u8 items, 1 dimension (n)

/// The bytes of a file, gunzipped if they start with the gzip magic.
pub(crate) fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    gunzip_if_needed(path, bytes)
}

pub(crate) fn gunzip_if_needed(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>, DataError> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(bytes);
    }
    // The gzip trailer ends with the uncompressed size mod 2^32; deflate expands at most ~1032x.
    let size_hint = bytes.len().checked_sub(4).map_or(0, |at| {
        u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize
    });
    let mut out = Vec::with_capacity(size_hint.min(bytes.len().saturating_mul(1032)));
    flate2::read::MultiGzDecoder::new(&bytes[..])
        .read_to_end(&mut out)
        .map_err(|e| {
            let problem = format!(
                "gzip data is truncated or corrupt ({e}); download the file again or point \
                 --data elsewhere"
            );
            DataError::format(path, problem)
        })?;
    out.shrink_to_fit();
    Ok(out)
}

fn header(path: &Path, raw: &[u8], magic: u32, what: &str) -> Result<Vec<usize>, DataError> {
    let ndim = (magic & 0xff) as usize;
    let header_len = 4 + 4 * ndim;
    let truncated = || {
        DataError::format(
            path,
            format!(
                "truncated: {} bytes, shorter than the {header_len}-byte IDX header",
                raw.len()
            ),
        )
    };
    let word = |i: usize| {
        raw.get(4 * i..4 * i + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let found = word(0).ok_or_else(truncated)?;
    if found != magic {
        return Err(DataError::format(
            path,
            format!(
                "wrong magic number 0x{found:08x}, expected 0x{magic:08x} for an IDX {what} file"
            ),
        ));
    }
    if raw.len() < header_len {
        return Err(truncated());
    }
    Ok((1..=ndim).map(|i| word(i).unwrap_or(0) as usize).collect())
}

fn check_len(path: &Path, raw: &[u8], header_len: usize, dims: &[usize]) -> Result<(), DataError> {
    let want = dims.iter().fold(1usize, |a, &d| a.saturating_mul(d));
    let got = raw.len() - header_len;
    if got != want {
        let shape = dims
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("x");
        let state = if got < want { "truncated" } else { "too long" };
        return Err(DataError::format(
            path,
            format!(
                "{state}: the header says {shape} = {want} bytes of data, the file holds {got}"
            ),
        ));
    }
    Ok(())
}

/// Parses an IDX image file: returns (n, h, w, pixels (n, h, w)).
pub(crate) fn parse_images(
    path: &Path,
    mut raw: Vec<u8>,
) -> Result<(usize, usize, usize, Vec<u8>), DataError> {
    let dims = header(path, &raw, IMAGES_MAGIC, "image")?;
    if dims[1] == 0 || dims[2] == 0 {
        return Err(DataError::format(
            path,
            format!("images of {}x{} pixels are empty", dims[1], dims[2]),
        ));
    }
    check_len(path, &raw, 16, &dims)?;
    raw.drain(..16);
    Ok((dims[0], dims[1], dims[2], raw))
}

/// Parses an IDX label file: returns labels (n).
pub(crate) fn parse_labels(path: &Path, mut raw: Vec<u8>) -> Result<Vec<u8>, DataError> {
    let dims = header(path, &raw, LABELS_MAGIC, "label")?;
    check_len(path, &raw, 8, &dims)?;
    raw.drain(..8);
    Ok(raw)
}

/// The four files of an IDX dataset, each already read (and gunzipped).
pub(crate) struct IdxFiles {
    pub train_images: (PathBuf, Vec<u8>),
    pub train_labels: (PathBuf, Vec<u8>),
    pub test_images: (PathBuf, Vec<u8>),
    pub test_labels: (PathBuf, Vec<u8>),
}

fn split(
    images: (PathBuf, Vec<u8>),
    labels: (PathBuf, Vec<u8>),
) -> Result<(usize, usize, ImageSet), DataError> {
    let (n, h, w, pixels) = parse_images(&images.0, images.1)?;
    let label_bytes = parse_labels(&labels.0, labels.1)?;
    if label_bytes.len() != n {
        return Err(DataError::CountMismatch {
            images: images.0,
            labels: labels.0,
            n_images: n,
            n_labels: label_bytes.len(),
        });
    }
    let set = ImageSet {
        images: pixels,
        labels: label_bytes,
        n,
    };
    Ok((h, w, set))
}

/// Builds a dataset from the four files; the classes are 0..=max training label.
pub(crate) fn from_files(name: String, files: IdxFiles) -> Result<Dataset, DataError> {
    let test_images_path = files.test_images.0.clone();
    let test_labels_path = files.test_labels.0.clone();
    let train_labels_path = files.train_labels.0.clone();
    let (h, w, train) = split(files.train_images, files.train_labels)?;
    let (test_h, test_w, test) = split(files.test_images, files.test_labels)?;
    if (test_h, test_w) != (h, w) {
        return Err(DataError::format(
            test_images_path,
            format!("test images are {test_h}x{test_w} but training images are {h}x{w}"),
        ));
    }
    if train.n == 0 {
        return Err(DataError::format(
            train_labels_path,
            "holds no training items",
        ));
    }
    let num_classes = train
        .labels
        .iter()
        .copied()
        .max()
        .map_or(0, |m| m as usize + 1);
    if let Some(index) = test.labels.iter().position(|&l| l as usize >= num_classes) {
        return Err(DataError::LabelOutOfRange {
            path: test_labels_path,
            index,
            label: test.labels[index] as usize,
            num_classes,
        });
    }
    Ok(Dataset {
        name,
        classes: (0..num_classes).map(|k| k.to_string()).collect(),
        c: 1,
        h,
        w,
        train,
        test,
        ..Default::default()
    })
}

/// Finds `stem` in `dir` under the usual spellings, with or without `.gz`.
fn find(dir: &Path, stem: &str) -> Result<PathBuf, DataError> {
    let candidates = [stem.to_string(), stem.replacen("-idx", ".idx", 1)]; // train-images.idx3-ubyte
    for name in &candidates {
        for suffix in [".gz", ""] {
            let path = dir.join(format!("{name}{suffix}"));
            if path.is_file() {
                return Ok(path);
            }
        }
    }
    Err(DataError::NotFound {
        path: dir.to_path_buf(),
        what: format!("{stem}[.gz]"),
        hint: "an IDX folder holds train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each may be gzipped)".to_string(),
    })
}

pub(crate) fn load_dir(dir: &Path) -> Result<Dataset, DataError> {
    DataError::require_folder(
        dir,
        "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte",
    )?;
    let read = |stem: &str| -> Result<(PathBuf, Vec<u8>), DataError> {
        let path = find(dir, stem)?;
        let bytes = read_maybe_gzip(&path)?;
        Ok((path, bytes))
    };
    let files = IdxFiles {
        train_images: read("train-images-idx3-ubyte")?,
        train_labels: read("train-labels-idx1-ubyte")?,
        test_images: read("t10k-images-idx3-ubyte")?,
        test_labels: read("t10k-labels-idx1-ubyte")?,
    };
    let name = dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    from_files(name, files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_tiny_image_file() {
        // header: magic, n = 2, h = 1, w = 3, then 6 pixels
        let mut raw = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 3];
        raw.extend([1, 2, 3, 4, 5, 6]);
        let (n, h, w, pixels) = parse_images(Path::new("x"), raw).unwrap();
        assert_eq!((n, h, w, pixels), (2, 1, 3, vec![1, 2, 3, 4, 5, 6]));
    }
}
