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

impl NnError {
    /// An impossible layer with `why` appended (a preset used off its input says so); any other
    /// error as it is.
    pub fn because(self, why: Option<String>) -> Self {
        match (self, why) {
            (NnError::Impossible { layer, problem }, Some(why)) => NnError::Impossible {
                layer,
                problem: format!("{problem}; {why}"),
            },
            (e, _) => e,
        }
    }
}
