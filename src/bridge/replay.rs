//! Reading a foreign trainer's run back without its model: the header a replay shows, and the
//! first convolution's filters from a checkpoint (for `replay`'s filter tab and `export`).

use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors};

use super::{RUN_INFO_FILE, TRAINER_FILE};
use crate::train::{FilterBank, RunInfo, Snapshot, TrainError};

/// True for a run written through the bridge (a PyTorch run), not by convtop's own trainer.
pub fn is_foreign(dir: &Path) -> bool {
    dir.join(TRAINER_FILE).is_file()
}

/// The `RunInfo` a foreign trainer left in `dir`.
pub fn read_run_info(dir: &Path) -> Option<RunInfo> {
    let text = std::fs::read_to_string(dir.join(RUN_INFO_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The first convolution's filters in checkpoint `name` of `dir` (f32 weights only), found by the
/// layer table of run-info.json; None when the model has no convolution.
pub fn checkpoint_filters(dir: &Path, name: &str) -> Result<Option<FilterBank>, TrainError> {
    let path = dir.join(name);
    let err = |problem: String| TrainError::Checkpoint {
        path: path.clone(),
        problem,
    };
    let bytes = std::fs::read(&path).map_err(|source| TrainError::Io {
        path: path.clone(),
        source,
    })?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| err(e.to_string()))?;
    let info = read_run_info(dir).unwrap_or_default();
    let Some(layer) = info.layers.iter().find(|l| l.kind.starts_with("conv")) else {
        return Ok(None);
    };
    let Ok(view) = st.tensor(&format!("{}.weight", layer.name)) else {
        return Ok(None);
    };
    let [c_out, c_in, kh, kw] = view.shape() else {
        return Err(err(format!("{}.weight is not 4-D", layer.name)));
    };
    if view.dtype() != Dtype::F32 {
        return Err(err(format!(
            "{}.weight is {}: only float32 filters are drawn",
            layer.name,
            view.dtype()
        )));
    }
    let weights: Vec<f32> = view
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(Some(FilterBank {
        layer: layer.name.clone(),
        c_out: *c_out,
        c_in: *c_in,
        kh: *kh,
        kw: *kw,
        grads: vec![0.0; weights.len()],
        weights,
    }))
}

/// What a replay's filter tab shows for a foreign run: its first filters, no activations.
pub fn replay_snapshot(dir: &Path, checkpoint: &str, iteration: u64) -> Option<Snapshot> {
    let bank = checkpoint_filters(dir, checkpoint).ok()??;
    Some(Snapshot {
        iteration,
        filters: vec![bank],
        layer_stats: Vec::new(),
        input_index: 0,
        input: Default::default(),
        label: 0,
        probabilities: Vec::new(),
        activations: Vec::new(),
    })
}
