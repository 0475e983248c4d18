//! The `convtop._core` extension: a thin PyO3 layer over `convtop::bridge`, the same Rust code
//! (run directory, metrics writer, diagnostics, checkpoints, socket server) the native trainer runs.

use std::time::Duration;

use convtop::bridge::{
    Bridge, BridgeSpec, Directive, EvalInput, RawTensor, SnapshotInput, StepInput,
};
use convtop::train::{FilterBank, LayerStats, Planes, Severity};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// (knob changes, evaluate, save, weights to load (best, start, before_change), snapshot input,
/// stop, paused, stash the weights)
type DirectiveTuple = (
    Vec<(String, f64)>,
    bool,
    bool,
    Option<String>,
    Option<usize>,
    bool,
    bool,
    bool,
);
/// (name, dtype, shape, bytes)
type TensorTuple<'py> = (String, String, Vec<usize>, Bound<'py, PyBytes>);

/// The name serde gives a unit variant (`learning_rate`, `before_change`).
fn name(k: impl serde::Serialize) -> String {
    serde_json::to_value(k)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn directive_tuple(d: Directive) -> DirectiveTuple {
    let knobs = d.knobs.into_iter().map(|(k, v)| (name(k), v)).collect();
    (
        knobs,
        d.should_evaluate,
        d.should_save,
        d.rollback.map(name),
        d.snapshot,
        d.should_stop,
        d.is_paused,
        d.should_stash,
    )
}

fn floats(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn planes(shape: (usize, usize, usize), bytes: &[u8]) -> PyResult<Planes> {
    let (c, h, w) = shape;
    let data = floats(bytes);
    if data.len() != c * h * w {
        return Err(PyValueError::new_err(format!(
            "planes of shape ({c}, {h}, {w}) need {} float32 values, got {}",
            c * h * w,
            data.len()
        )));
    }
    Ok(Planes { c, h, w, data })
}

fn tensors_out<'py>(py: Python<'py>, tensors: Vec<RawTensor>) -> Vec<TensorTuple<'py>> {
    tensors
        .into_iter()
        .map(|t| (t.name, t.dtype, t.shape, PyBytes::new(py, &t.data)))
        .collect()
}

/// The trainer side of one run, inside the Python process.
#[pyclass(unsendable)]
struct Core {
    bridge: Bridge,
}

#[pymethods]
impl Core {
    /// `spec`: a JSON object as `convtop::bridge::BridgeSpec` reads it.
    #[new]
    fn new(spec: &str) -> PyResult<Core> {
        let spec: BridgeSpec = serde_json::from_str(spec)
            .map_err(|e| PyValueError::new_err(format!("the run description is malformed: {e}")))?;
        let bridge = Bridge::start(spec).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        Ok(Core { bridge })
    }

    #[getter]
    fn run_dir(&self) -> String {
        self.bridge.run_dir().display().to_string()
    }

    #[getter]
    fn iteration(&self) -> u64 {
        self.bridge.iteration()
    }

    #[getter]
    fn state(&self) -> &'static str {
        self.bridge.state().label()
    }

    /// Records one iteration; None when no viewer asked for anything (the common, fast case).
    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        loss: f32,
        accuracy: f32,
        batch_size: usize,
        learning_rate: f32,
        weight_decay: f32,
        momentum: f32,
    ) -> Option<DirectiveTuple> {
        let input = StepInput {
            loss,
            accuracy,
            batch_size,
            learning_rate,
            lambda: weight_decay,
            momentum,
        };
        let d = self.bridge.step(&input);
        (!d.is_empty()).then(|| directive_tuple(d))
    }

    /// While paused: blocks up to `timeout` seconds (the GIL released) for a viewer's command.
    fn wait(&mut self, py: Python<'_>, timeout: f64) -> DirectiveTuple {
        let timeout = Duration::from_secs_f64(timeout.clamp(0.0, 10.0));
        let bridge = &mut self.bridge;
        directive_tuple(py.detach(|| bridge.wait(timeout)))
    }

    #[pyo3(signature = (val_loss, val_accuracy, train_loss=None, train_accuracy=None, confusion=None, schedule_left=None))]
    fn evaluate(
        &mut self,
        val_loss: f32,
        val_accuracy: f32,
        train_loss: Option<f32>,
        train_accuracy: Option<f32>,
        confusion: Option<Vec<Vec<u32>>>,
        schedule_left: Option<f32>,
    ) -> bool {
        self.bridge.evaluate(&EvalInput {
            val_loss,
            val_accuracy,
            train_loss,
            train_accuracy,
            confusion: confusion.unwrap_or_default(),
            schedule_left,
        })
    }

    /// Writes `tensors` [(name, dtype, shape, bytes)] as checkpoint `name`; returns its path.
    fn save_checkpoint(
        &mut self,
        py: Python<'_>,
        name: &str,
        tensors: Vec<(String, String, Vec<usize>, Vec<u8>)>,
    ) -> PyResult<String> {
        let raw: Vec<RawTensor> = tensors
            .into_iter()
            .map(|(name, dtype, shape, data)| RawTensor {
                name,
                dtype,
                shape,
                data,
            })
            .collect();
        let bridge = &mut self.bridge;
        py.detach(|| bridge.save_checkpoint(name, &raw))
            .map(|p| p.display().to_string())
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    fn load_checkpoint<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Vec<TensorTuple<'py>>> {
        let tensors = self
            .bridge
            .load_checkpoint(name)
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        Ok(tensors_out(py, tensors))
    }

    /// Every tensor of a safetensors file [(name, dtype, shape, bytes)].
    #[staticmethod]
    fn read_checkpoint<'py>(py: Python<'py>, path: &str) -> PyResult<Vec<TensorTuple<'py>>> {
        let tensors = convtop::bridge::read_checkpoint(std::path::Path::new(path))
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        Ok(tensors_out(py, tensors))
    }

    /// The best checkpoint's tensors, or None (the viewers were told why).
    fn rollback<'py>(&mut self, py: Python<'py>) -> Option<Vec<TensorTuple<'py>>> {
        self.bridge.rollback().map(|t| tensors_out(py, t))
    }

    /// Filters [(layer, (c_out, c_in, kh, kw), weights f32 bytes, grads f32 bytes)], layer stats
    /// [(name, weight norm, grad norm, update ratio, dead fraction, norm divisor)], the probe input
    /// ((c, h, w), f32 bytes in 0..1), its label and class probabilities, and activations
    /// [(layer, (c, h, w), f32 bytes)].
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn snapshot(
        &mut self,
        input_index: usize,
        filters: Vec<(String, (usize, usize, usize, usize), Vec<u8>, Vec<u8>)>,
        layer_stats: Vec<(String, f32, f32, f32, Option<f32>, Option<f32>)>,
        input: ((usize, usize, usize), Vec<u8>),
        label: usize,
        probabilities: Vec<f32>,
        activations: Vec<(String, (usize, usize, usize), Vec<u8>)>,
    ) -> PyResult<()> {
        let filters = filters
            .into_iter()
            .map(|(layer, (c_out, c_in, kh, kw), w, g)| FilterBank {
                layer,
                c_out,
                c_in,
                kh,
                kw,
                weights: floats(&w),
                grads: floats(&g),
            })
            .collect();
        let layer_stats = layer_stats
            .into_iter()
            .map(
                |(name, weight_norm, grad_norm, update_ratio, dead_fraction, norm_divisor)| {
                    LayerStats {
                        name,
                        weight_norm,
                        grad_norm,
                        update_ratio,
                        dead_fraction,
                        norm_divisor,
                    }
                },
            )
            .collect();
        let activations = activations
            .into_iter()
            .map(|(name, shape, bytes)| Ok((name, planes(shape, &bytes)?)))
            .collect::<PyResult<Vec<_>>>()?;
        let snap = SnapshotInput {
            filters,
            layer_stats,
            input: planes(input.0, &input.1)?,
            label,
            probabilities,
            activations,
        };
        self.bridge.snapshot(input_index, snap);
        Ok(())
    }

    /// The diagnostics' advice applied as it comes (or only shown), as the `A` key switches it.
    #[getter]
    fn autopilot(&self) -> bool {
        self.bridge.is_autopilot_on()
    }

    #[setter]
    fn set_autopilot(&mut self, on: bool) {
        self.bridge.set_autopilot(on);
    }

    /// A message for the viewers: `level` is info, warn or error.
    fn message(&mut self, level: &str, text: &str) {
        let level = match level {
            "error" => Severity::Error,
            "warn" => Severity::Warn,
            _ => Severity::Info,
        };
        self.bridge.message(level, text);
    }

    /// Ends the run (idempotent); `finished`: the loop ran to its planned end.
    fn close(&mut self, py: Python<'_>, finished: bool) -> PyResult<()> {
        let bridge = &mut self.bridge;
        py.detach(|| bridge.close(finished))
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Core>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
