use thiserror::Error;

/// Everything that can be wrong with a network spec or the tensors fed to it.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum NnError {
    #[error("network spec: {problem} (at `{token}`, token {position})")]
    Spec {
        token: String,
        position: usize,
        problem: String,
    },
    #[error("layer {layer}: {problem}")]
    Impossible { layer: String, problem: String },
    #[error("layer {layer}: expected shape {expected}, got {got}")]
    Shape {
        layer: String,
        expected: String,
        got: String,
    },
    #[error("tensor `{name}`: {problem}")]
    Tensor { name: String, problem: String },
}
