//! The foreign model's weights: checkpoints as safetensors under its own state_dict names (any
//! dtype, bytes as the framework holds them), roll-back, and the filters and activations a
//! viewer asked for.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use super::{Bridge, Restore};
use crate::train::rundir::{BEST_CHECKPOINT, Record, atomic_write};
use crate::train::{
    Event, FilterBank, Knobs, LayerStats, Planes, RunState, Severity, Snapshot, TrainError,
};

/// The header metadata key holding `CheckpointMeta` as JSON (the native trainer uses the same key).
pub const META_KEY: &str = "convtop";
/// `CheckpointMeta::format` of a checkpoint written for a foreign trainer.
pub const FORMAT: &str = "convtop-external/1";

/// One tensor as raw little-endian bytes: `dtype` is a safetensors dtype name (`F32`, `BF16`, …).
#[derive(Debug, Clone, PartialEq)]
pub struct RawTensor {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

/// What a foreign checkpoint says about itself in its header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub format: String,
    /// Who wrote the weights (`pytorch`).
    pub trainer: String,
    pub iteration: u64,
    pub knobs: Knobs,
    pub best_val_accuracy: Option<f32>,
    pub best_iteration: Option<u64>,
}

/// Filters and activations of the probe input, computed by the loop on request.
#[derive(Debug, Clone, Default)]
pub struct SnapshotInput {
    pub filters: Vec<FilterBank>,
    pub layer_stats: Vec<LayerStats>,
    pub input: Planes,
    pub label: usize,
    pub probabilities: Vec<f32>,
    pub activations: Vec<(String, Planes)>,
}

fn dtype(name: &str) -> Option<Dtype> {
    Some(match name {
        "BOOL" => Dtype::BOOL,
        "U8" => Dtype::U8,
        "I8" => Dtype::I8,
        "I16" => Dtype::I16,
        "U16" => Dtype::U16,
        "F16" => Dtype::F16,
        "BF16" => Dtype::BF16,
        "I32" => Dtype::I32,
        "U32" => Dtype::U32,
        "F32" => Dtype::F32,
        "F64" => Dtype::F64,
        "I64" => Dtype::I64,
        "U64" => Dtype::U64,
        _ => return None,
    })
}

/// Every tensor of a safetensors file, sorted by name, bytes as stored.
pub fn read_checkpoint(path: &Path) -> Result<Vec<RawTensor>, TrainError> {
    let path = path.to_path_buf();
    let bytes = std::fs::read(&path).map_err(|source| TrainError::Io {
        path: path.clone(),
        source,
    })?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| TrainError::Checkpoint {
        path: path.clone(),
        problem: e.to_string(),
    })?;
    let mut out: Vec<RawTensor> = st
        .tensors()
        .into_iter()
        .map(|(name, view)| RawTensor {
            name,
            dtype: view.dtype().to_string(),
            shape: view.shape().to_vec(),
            data: view.data().to_vec(),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

impl Bridge {
    /// Writes `tensors` as `name` in the run directory (atomically) and records it.
    pub fn save_checkpoint(
        &mut self,
        name: &str,
        tensors: &[RawTensor],
    ) -> Result<PathBuf, TrainError> {
        let path = self.dir.file(name);
        let err = |problem: String| TrainError::Checkpoint {
            path: path.clone(),
            problem,
        };
        let mut views = Vec::with_capacity(tensors.len());
        for t in tensors {
            let dt = dtype(&t.dtype)
                .ok_or_else(|| err(format!("{}: dtype {} is not supported", t.name, t.dtype)))?;
            let view = TensorView::new(dt, t.shape.clone(), &t.data)
                .map_err(|e| err(format!("{}: {e}", t.name)))?;
            views.push((t.name.clone(), view));
        }
        let meta = CheckpointMeta {
            format: FORMAT.into(),
            trainer: self
                .info
                .net_spec
                .split(':')
                .next()
                .unwrap_or_default()
                .into(),
            iteration: self.iteration,
            knobs: self.knobs,
            best_val_accuracy: self.best.map(|b| b.0),
            best_iteration: self.best.map(|b| b.1),
        };
        let meta = serde_json::to_string(&meta).map_err(|e| err(e.to_string()))?;
        let header = HashMap::from([(META_KEY.to_string(), meta)]);
        let bytes = safetensors::serialize(views, Some(header)).map_err(|e| err(e.to_string()))?;
        // metrics.jsonl is never behind a checkpoint: what it says up to here is on disk first
        if !self.is_metrics_broken && self.metrics.sync().is_err() {
            self.is_metrics_broken = true;
            self.send_message(Severity::Error, "metrics.jsonl is no longer written");
        }
        atomic_write(&path, &bytes)?;
        let iteration = self.iteration;
        let shown = path.display().to_string();
        self.record(&Record::Checkpoint {
            iteration,
            path: shown.clone(),
        });
        self.send(Event::CheckpointSaved {
            iteration,
            path: shown,
        });
        Ok(path)
    }

    /// Reads back checkpoint `name` of this run, every tensor as written.
    pub fn load_checkpoint(&self, name: &str) -> Result<Vec<RawTensor>, TrainError> {
        read_checkpoint(&self.dir.file(name))
    }

    /// The best checkpoint's tensors for a roll-back; the loop loads them into its model. The
    /// diagnostics start afresh from there and a diverged run pauses.
    pub fn rollback(&mut self) -> Option<Vec<RawTensor>> {
        match self.load_checkpoint(BEST_CHECKPOINT) {
            Ok(tensors) => {
                self.diagnostics.reset_after_rollback();
                let at = self.best.map_or(0, |b| b.1);
                self.note_rollback(Restore::Best, self.best.map(|b| b.1));
                let text = format!("rolled back to the best checkpoint (iteration {at})");
                self.send_message(Severity::Info, &text);
                if self.state == RunState::Diverged {
                    self.set_state(RunState::Paused);
                }
                Some(tensors)
            }
            Err(e) => {
                let text = format!("no roll-back: {e}; evaluate (e) to make a best checkpoint");
                self.send_message(Severity::Warn, &text);
                None
            }
        }
    }

    /// Sends the viewers the filters and activations the loop computed.
    pub fn snapshot(&mut self, input_index: usize, s: SnapshotInput) {
        let snap = Snapshot {
            iteration: self.iteration,
            filters: s.filters,
            layer_stats: s.layer_stats,
            input_index,
            input: s.input,
            label: s.label,
            probabilities: s.probabilities,
            activations: s.activations,
        };
        self.send(Event::Snapshot(Box::new(snap)));
    }
}
