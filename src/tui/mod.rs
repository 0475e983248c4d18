//! The dashboard: ratatui + crossterm, drawn from `train::Event`s, sending `train::Command`s.
