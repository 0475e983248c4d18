//! A training in a process of its own, steered over a Unix socket in its run directory; viewers
//! (`convtop attach`) come and go without touching it. No UI dependency: a viewer gets the same
//! `Receiver<Event>` / `Sender<Command>` pair a local trainer gives, so the dashboard is unchanged.

pub mod backlog;
pub mod client;
pub mod history;
pub mod protocol;
pub mod server;

pub use crate::train::summary::SOCKET_FILE;
