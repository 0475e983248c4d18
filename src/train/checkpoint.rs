//! Checkpoints as safetensors: the network's tensors under PyTorch-style names (`conv1.weight`
//! (c_out, c_in, kh, kw), `fc1.weight` (out, in), `*.bias`), the optimiser's velocity
//! (`optim.velocity.<name>`), the preprocessing statistics (`preprocess.<name>`), and the trainer
//! state (iteration, knobs, data order and RNG positions) as JSON in the header metadata, and a
//! CRC-32 of that state and every tensor's bytes, so a damaged file is refused on load.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use super::error::TrainError;
use super::events::Knobs;
use super::rundir::atomic_write;
use crate::data::{BatcherState, NamedTensor};

const STATE_KEY: &str = "convtop";
/// CRC-32 (IEEE, as zlib's) of the state JSON, then of each tensor's name and bytes by name.
const CRC_KEY: &str = "convtop.crc32";
const VELOCITY: &str = "optim.velocity.";
const PREPROCESS: &str = "preprocess.";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    pub iteration: u64,
    pub knobs: Knobs,
    pub batcher: BatcherState,
    pub best_val_accuracy: Option<f32>,
    pub best_iteration: Option<u64>,
    pub net_spec: String,
    pub input_shape: [usize; 3],
    /// The hash of the resolved configuration the run started from (`TrainConfig::hash`); absent
    /// in checkpoints written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_hash: Option<String>,
}

impl TrainerState {
    /// Checks what the state says without the data: knobs through the knob authority, a
    /// non-empty data order, a position inside it, an iteration count the epochs allow.
    pub fn validate(&self) -> Result<(), String> {
        super::knobs::validate_all(&self.knobs).map_err(|e| e.to_string())?;
        let b = &self.batcher;
        let len = b.order.len() as u64;
        if len == 0 {
            return Err("the data order is empty".into());
        }
        if b.position > b.order.len() {
            return Err(format!(
                "data position {} is past the order's {} images",
                b.position, len
            ));
        }
        // every iteration takes at least one image, and every finished epoch at least one iteration
        let most = b.epoch.saturating_add(1).saturating_mul(len);
        if self.iteration > most || b.epoch > self.iteration {
            return Err(format!(
                "iteration {} does not fit epoch {} of {len} images",
                self.iteration, b.epoch
            ));
        }
        if let Some(acc) = self.best_val_accuracy
            && !(0.0..=1.0).contains(&acc)
        {
            return Err(format!("best accuracy {acc} is not in [0, 1]"));
        }
        if self.best_iteration.is_some_and(|i| i > self.iteration) {
            return Err("the best iteration is later than the checkpoint's".into());
        }
        Ok(())
    }
}

/// Everything a checkpoint holds, as owned data.
pub struct Checkpoint {
    pub state: TrainerState,
    /// False for a checkpoint written before checksums, loaded unverified.
    pub is_verified: bool,
    /// The network's tensors by name.
    pub net: Vec<NamedTensor>,
    /// Velocity buffers, in the network's parameter order.
    pub velocity: Vec<NamedTensor>,
    pub preprocess: Vec<NamedTensor>,
}

fn to_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The checksum of a state and tensors given as (file name, bytes), in name order.
fn checksum<'a>(state: &str, tensors: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut sorted: Vec<(&str, &[u8])> = tensors.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut h = crc32fast::Hasher::new();
    h.update(state.as_bytes());
    for (name, bytes) in sorted {
        h.update(name.as_bytes());
        h.update(&[0]);
        h.update(bytes);
    }
    format!("{:08x}", h.finalize())
}

impl Checkpoint {
    pub fn save(&self, path: &Path) -> Result<(), TrainError> {
        let err = |problem: String| TrainError::Checkpoint {
            path: path.to_path_buf(),
            problem,
        };
        let mut named: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for (name, shape, v) in &self.net {
            named.push((name.clone(), shape.clone(), to_bytes(v)));
        }
        for (name, shape, v) in &self.velocity {
            named.push((format!("{VELOCITY}{name}"), shape.clone(), to_bytes(v)));
        }
        for (name, shape, v) in &self.preprocess {
            named.push((format!("{PREPROCESS}{name}"), shape.clone(), to_bytes(v)));
        }
        let mut views = Vec::with_capacity(named.len());
        for (name, shape, bytes) in &named {
            let view = TensorView::new(Dtype::F32, shape.clone(), bytes)
                .map_err(|e| err(format!("{name}: {e}")))?;
            views.push((name.clone(), view));
        }
        let state = serde_json::to_string(&self.state).map_err(|e| err(e.to_string()))?;
        let crc = checksum(
            &state,
            named.iter().map(|(n, _, b)| (n.as_str(), b.as_slice())),
        );
        let meta = HashMap::from([(STATE_KEY.to_string(), state), (CRC_KEY.to_string(), crc)]);
        let bytes = safetensors::serialize(views, Some(meta)).map_err(|e| err(e.to_string()))?;
        atomic_write(path, &bytes)
    }

    pub fn load(path: &Path) -> Result<Checkpoint, TrainError> {
        let err = |problem: String| TrainError::Checkpoint {
            path: path.to_path_buf(),
            problem,
        };
        let bytes = std::fs::read(path).map_err(|source| TrainError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let (_, meta) = SafeTensors::read_metadata(&bytes)
            .map_err(|e| err(format!("not a readable safetensors file ({e})")))?;
        let state_json = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get(STATE_KEY))
            .ok_or_else(|| {
                err("no convtop state in the header; was it written by convtop?".into())
            })?;
        let stored_crc = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get(CRC_KEY))
            .cloned();
        let tensors = SafeTensors::deserialize(&bytes).map_err(|e| err(e.to_string()))?;
        if let Some(stored) = &stored_crc {
            let names = tensors.names();
            let mut views = Vec::with_capacity(names.len());
            for name in names {
                let view = tensors
                    .tensor(name)
                    .map_err(|e| err(format!("{name}: {e}")))?;
                views.push((name, view.data()));
            }
            let actual = checksum(state_json, views);
            if &actual != stored {
                return Err(err(format!(
                    "damaged: its CRC-32 is {actual}, not the {stored} it was written with; \
                     use another checkpoint of the run"
                )));
            }
        }
        let state: TrainerState =
            serde_json::from_str(state_json).map_err(|e| err(format!("trainer state: {e}")))?;
        state
            .validate()
            .map_err(|problem| err(format!("trainer state refused: {problem}")))?;
        let (mut net, mut velocity, mut preprocess) = (Vec::new(), Vec::new(), Vec::new());
        // keep the file's order: velocity must line up with the network's parameter order
        let mut names: Vec<(usize, String)> = Vec::new();
        for name in tensors.names() {
            let offset = meta.info(name).map_or(0, |i| i.data_offsets.0);
            names.push((offset, name.to_string()));
        }
        names.sort();
        for (_, name) in names {
            let view = tensors
                .tensor(&name)
                .map_err(|e| err(format!("{name}: {e}")))?;
            if view.dtype() != Dtype::F32 {
                return Err(err(format!(
                    "{name}: dtype {:?}, expected F32",
                    view.dtype()
                )));
            }
            let values: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            let entry = (name.clone(), view.shape().to_vec(), values);
            if let Some(rest) = name.strip_prefix(VELOCITY) {
                velocity.push((rest.to_string(), entry.1, entry.2));
            } else if let Some(rest) = name.strip_prefix(PREPROCESS) {
                preprocess.push((rest.to_string(), entry.1, entry.2));
            } else {
                net.push(entry);
            }
        }
        Ok(Checkpoint {
            state,
            is_verified: stored_crc.is_some(),
            net,
            velocity,
            preprocess,
        })
    }

    /// Looks a network tensor up by name (for `Network::load_tensors`).
    pub fn find(&self, name: &str) -> Option<(Vec<usize>, Vec<f32>)> {
        self.net
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, s, v)| (s.clone(), v.clone()))
    }
}
