//! The trainer: a background thread that owns the network, steered by `Command`s, reporting
//! `Event`s; the run directory; diagnostics; the headless driver. No UI dependency.

pub mod advice;
pub mod autopilot;
pub mod checkpoint;
pub mod config;
pub mod cv;
pub mod diagnostics;
pub mod error;
pub mod events;
pub mod finite;
pub mod headless;
pub mod history;
pub mod knobs;
pub mod rundir;
pub mod search;
pub mod setup;
pub mod snapshot;
pub mod summary;
pub mod trainer;
pub mod vault;

pub use config::TrainConfig;
pub use error::TrainError;
pub use events::*;
pub use knobs::KnobError;
pub use setup::{Run, load_run, new_run, resume_run};
pub use trainer::{TrainerHandle, spawn};
