use std::path::PathBuf;

use thiserror::Error;

use crate::data::DataError;
use crate::nn::NnError;

#[derive(Debug, Error)]
pub enum TrainError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration: {problem}")]
    Config { problem: String },
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Net(#[from] NnError),
    #[error("checkpoint {path}: {problem}")]
    Checkpoint { path: PathBuf, problem: String },
    /// A file or directory convtop will not use (a symlink, someone else's, a live run's).
    #[error("{path} {problem}")]
    Refused { path: PathBuf, problem: String },
    #[error("the trainer thread stopped unexpectedly: {0}")]
    Thread(String),
}

impl TrainError {
    /// The OS error underneath, if any.
    pub fn io_error(&self) -> Option<&std::io::Error> {
        match self {
            TrainError::Io { source, .. } => Some(source),
            _ => None,
        }
    }

    /// What a person can do about a failed write, from the OS error's kind (ENOSPC, EACCES…).
    pub fn write_advice(&self) -> &'static str {
        use std::io::ErrorKind as K;
        match self.io_error().map(std::io::Error::kind) {
            Some(K::StorageFull | K::QuotaExceeded | K::FileTooLarge) => {
                "the disk is full: free some space"
            }
            Some(K::PermissionDenied) => {
                "permission denied: make the run directory writable by this user"
            }
            Some(K::ReadOnlyFilesystem) => {
                "the file system is read-only: remount it read-write, or copy the run directory \
                 to a writable disk and resume it there"
            }
            Some(K::NotFound) => "the run directory is gone: restore it",
            Some(K::AlreadyExists) => {
                "a file is in the way (a left-over temporary file or a link): remove it"
            }
            _ => "check the disk and the run directory",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(code: i32) -> TrainError {
        TrainError::Io {
            path: PathBuf::from("runs/x/checkpoint-last.safetensors"),
            source: std::io::Error::from_raw_os_error(code),
        }
    }

    #[test]
    fn a_failed_write_is_explained_by_its_os_error() {
        // Linux: ENOSPC 28, EDQUOT 122, EACCES 13, EPERM 1, EROFS 30
        assert!(io(28).write_advice().contains("disk is full"));
        assert!(io(122).write_advice().contains("disk is full"));
        assert!(io(13).write_advice().contains("permission denied"));
        assert!(io(1).write_advice().contains("permission denied"));
        assert!(io(30).write_advice().contains("read-only"));
        assert!(!io(5).write_advice().contains("free some space"));
    }
}
