//! Every way loading, splitting or preprocessing data can fail; each message names the file (or
//! the value) and what is wrong, and where it helps, what to do.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {problem}")]
    Format { path: PathBuf, problem: String },
    #[error(
        "{path} is not an image the `image` crate can read ({source}); remove it or convert it"
    )]
    NotImage {
        path: PathBuf,
        source: image::ImageError,
    },
    #[error(
        "{images} holds {n_images} images but {labels} holds {n_labels} labels; the two files must come from the same release"
    )]
    CountMismatch {
        images: PathBuf,
        labels: PathBuf,
        n_images: usize,
        n_labels: usize,
    },
    #[error("{path}: label {label} of item {index} is out of range 0..{num_classes}")]
    LabelOutOfRange {
        path: PathBuf,
        index: usize,
        label: usize,
        num_classes: usize,
    },
    #[error("class folder {path} holds no image files; add images or remove the folder")]
    EmptyClass { path: PathBuf },
    #[error(
        "{path} is {got_w}x{got_h} but earlier images are {want_w}x{want_h}; images of mixed sizes need --resize WxH"
    )]
    MixedSizes {
        path: PathBuf,
        want_w: usize,
        want_h: usize,
        got_w: usize,
        got_h: usize,
    },
    #[error("{path}: {what} not found; {hint}")]
    NotFound {
        path: PathBuf,
        what: String,
        hint: String,
    },
    #[error("invalid {what} {value:?}: {problem}")]
    Spec {
        what: &'static str,
        value: String,
        problem: String,
    },
    #[error("cannot split: {problem}")]
    Split { problem: String },
    #[error("preprocessing: {problem}")]
    Preprocess { problem: String },
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> DataError {
        DataError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn format(path: impl Into<PathBuf>, problem: impl Into<String>) -> DataError {
        DataError::Format {
            path: path.into(),
            problem: problem.into(),
        }
    }

    /// `Ok` when `path` is a folder; otherwise says whether it is missing or a file, and what
    /// the folder should hold (`holds`, e.g. "the four IDX files").
    pub(crate) fn require_folder(path: &Path, holds: &str) -> Result<(), DataError> {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(DataError::format(
                path,
                format!("is a file, not a folder; give the folder that holds {holds}"),
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // a relative path is read from where convtop runs: a resumed run's config.toml
                // keeps the path it was started with, which may be relative to another directory
                let from = if path.is_relative() {
                    let here = std::env::current_dir()
                        .map_or_else(|_| "?".into(), |d| d.display().to_string());
                    format!(" (a relative path is read from the current directory, {here})")
                } else {
                    String::new()
                };
                Err(DataError::NotFound {
                    path: path.to_path_buf(),
                    what: "folder".into(),
                    hint: format!("give the folder that holds {holds}{from}"),
                })
            }
            Err(e) => Err(DataError::io(path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_or_a_missing_path_where_a_folder_belongs_says_which() {
        let dir = tempfile::tempdir().unwrap();
        assert!(DataError::require_folder(dir.path(), "images").is_ok());
        let file = dir.path().join("train-images-idx3-ubyte");
        std::fs::write(&file, b"x").unwrap();
        let msg = DataError::require_folder(&file, "the four IDX files")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("train-images-idx3-ubyte: is a file, not a folder; give the folder that holds the four IDX files"), "{msg}");
        let msg = DataError::require_folder(&dir.path().join("nowhere"), "images")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("nowhere: folder not found; give the folder that holds images")
                && !msg.contains("relative"),
            "{msg}"
        );
        let msg = DataError::require_folder(Path::new("nowhere/at/all"), "images")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("a relative path is read from the current directory, /"),
            "{msg}"
        );
    }
}
