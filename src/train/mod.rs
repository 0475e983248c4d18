//! The trainer: a background thread that owns the network, steered by `Command`s, reporting `Event`s.

pub mod diagnostics;
pub mod events;

pub use events::*;
