//! The dashboard: ratatui + crossterm, drawn from `train::Event`s, sending `train::Command`s.

mod activations;
mod app;
mod charts;
mod data_tab;
mod diagnostics;
mod filters;
mod header;
mod help;
mod history;
mod image;
mod keys;
mod knobs;
mod network;
mod theme;
mod ui;

use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};

use anyhow::Context;
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event as TermEvent, KeyEventKind};

use crate::train::{Command, Event, RunState};

pub use app::{App, Tab};
pub use keys::Action;

/// How the dashboard draws: frame rate, character set and colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UiOptions {
    pub fps: u32,
    /// Only ASCII characters anywhere (`--ascii`, `NO_COLOR`, `TERM=dumb`).
    pub is_ascii: bool,
    pub color: ColorMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorMode {
    TrueColor,
    Ansi256,
    Mono,
}

impl Default for UiOptions {
    fn default() -> Self {
        UiOptions {
            fps: 10,
            is_ascii: false,
            color: ColorMode::TrueColor,
        }
    }
}

impl UiOptions {
    /// Reads `NO_COLOR`, `COLORTERM` and `TERM` from the environment.
    pub fn detect(is_ascii_flag: bool, fps: u32) -> UiOptions {
        let var = |name: &str| std::env::var(name).ok();
        Self::from_env(
            is_ascii_flag,
            fps,
            var("NO_COLOR").is_some(),
            var("COLORTERM").as_deref(),
            var("TERM").as_deref(),
        )
    }

    fn from_env(
        is_ascii_flag: bool,
        fps: u32,
        has_no_color: bool,
        colorterm: Option<&str>,
        term: Option<&str>,
    ) -> UiOptions {
        let is_dumb = term == Some("dumb");
        let is_ascii = is_ascii_flag || has_no_color || is_dumb;
        let color = if is_ascii {
            ColorMode::Mono
        } else if matches!(colorterm, Some("truecolor" | "24bit")) {
            ColorMode::TrueColor
        } else {
            ColorMode::Ansi256
        };
        UiOptions {
            fps: fps.clamp(1, 60),
            is_ascii,
            color,
        }
    }
}

/// How long quitting waits for the trainer to write its checkpoint and stop.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Drawing new training data more often than this only costs bandwidth over SSH.
const DATA_REFRESH: Duration = Duration::from_millis(250);
/// Bounds the work of one loop turn when the trainer floods the channel.
const MAX_EVENTS_PER_TURN: usize = 4096;

/// Runs the dashboard until the person quits; the trainer runs on its own thread and is reached
/// only through the channels.
pub fn run(
    events: Receiver<Event>,
    commands: Sender<Command>,
    opts: UiOptions,
) -> anyhow::Result<()> {
    let mut terminal = ratatui::try_init().context("cannot set up the terminal")?;
    let mut app = App::new(opts);
    let result = run_app(&mut terminal, &mut app, &events, &commands);
    let restored = ratatui::try_restore().context("cannot restore the terminal");
    result.and(restored)
}

fn run_app(
    terminal: &mut DefaultTerminal,
    app: &mut App,
    events: &Receiver<Event>,
    commands: &Sender<Command>,
) -> anyhow::Result<()> {
    let frame = Duration::from_secs(1) / app.fps();
    let mut last_draw: Option<Instant> = None;
    while !app.should_quit() {
        drain_events(app, events);
        if let Some(command) = app.tick() {
            send(app, commands, command);
        }
        let since_draw = last_draw.map_or(Duration::MAX, |t| t.elapsed());
        if app.needs_redraw(since_draw, frame, DATA_REFRESH) {
            terminal.draw(|f| f.render_widget(&*app, f.area()))?;
            app.mark_drawn();
            last_draw = Some(Instant::now());
        }
        if event::poll(frame)? {
            match event::read()? {
                TermEvent::Key(key) if key.kind != KeyEventKind::Release => {
                    if let Some(command) = app.handle_key(key) {
                        send(app, commands, command);
                    }
                }
                TermEvent::Resize(..) => app.mark_dirty(),
                _ => {}
            }
        }
    }
    wait_for_stop(terminal, app, events)
}

/// Keeps drawing and draining until the trainer confirms it stopped, or the timeout passes.
fn wait_for_stop(
    terminal: &mut DefaultTerminal,
    app: &mut App,
    events: &Receiver<Event>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + STOP_TIMEOUT;
    while !app.is_trainer_gone() && Instant::now() < deadline {
        drain_events(app, events);
        if matches!(app.state(), RunState::Stopped | RunState::Finished) {
            break;
        }
        terminal.draw(|f| f.render_widget(&*app, f.area()))?;
        app.mark_drawn();
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn drain_events(app: &mut App, events: &Receiver<Event>) {
    for _ in 0..MAX_EVENTS_PER_TURN {
        match events.try_recv() {
            Ok(event) => app.on_event(event),
            Err(TryRecvError::Empty) => return,
            Err(TryRecvError::Disconnected) => {
                app.on_disconnect();
                return;
            }
        }
    }
}

fn send(app: &mut App, commands: &Sender<Command>, command: Command) {
    if commands.send(command).is_err() {
        app.on_disconnect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detect_no_color_means_ascii_mono() {
        let o = UiOptions::from_env(false, 10, true, Some("truecolor"), Some("xterm"));
        assert!(o.is_ascii);
        assert_eq!(o.color, ColorMode::Mono);
    }

    #[test]
    fn detect_truecolor_and_256() {
        let o = UiOptions::from_env(false, 10, false, Some("24bit"), Some("xterm"));
        assert_eq!(o.color, ColorMode::TrueColor);
        let o = UiOptions::from_env(false, 10, false, None, Some("xterm-256color"));
        assert_eq!(o.color, ColorMode::Ansi256);
        assert!(!o.is_ascii);
    }

    #[test]
    fn detect_dumb_terminal_and_flag() {
        let o = UiOptions::from_env(false, 0, false, Some("truecolor"), Some("dumb"));
        assert!(o.is_ascii);
        assert_eq!(o.color, ColorMode::Mono);
        assert_eq!(o.fps, 1);
        assert!(UiOptions::from_env(true, 10, false, None, None).is_ascii);
    }
}
