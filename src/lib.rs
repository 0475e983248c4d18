//! convtop: `top` for ConvNet training.
//!
//! `nn` (the engine), `data` (loaders, splits, preprocessing, augmentation) and `train` (the trainer
//! thread, run directory, diagnostics) never depend on a UI crate; `tui` draws the dashboard from
//! the trainer's events and turns key presses into its commands.

pub mod bench;
pub mod bridge;
pub mod cli;
pub mod data;
pub mod export;
pub mod nn;
pub mod remote;
pub mod resources;
pub mod train;
pub mod tui;
pub mod units;
