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
    #[error("the trainer thread stopped unexpectedly: {0}")]
    Thread(String),
}
