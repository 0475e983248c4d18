//! The dashboard: ratatui + crossterm, drawn from `train::Event`s, sending `train::Command`s.

mod activations;
mod ansi16;
mod app;
mod chart;
mod chart_axes;
mod chart_view;
mod charts;
mod data_tab;
mod diagnostics;
mod dialogs;
mod filters;
pub mod fit;
mod header;
mod help;
mod image;
pub mod keymap;
mod keys;
mod knob_values;
mod knobs;
pub mod mode;
mod network;
mod resources;
mod runs;
mod runs_table;
pub mod signals;
mod theme;
mod ui;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};

use anyhow::Context;
use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::crossterm::event::{self, Event as TermEvent, KeyEventKind};

use crate::train::{Command, Event, RunState};

pub use app::{App, Tab};
pub use keys::Action;
pub use mode::Mode;

/// How a dashboard session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The person stopped the trainer (it writes a checkpoint).
    Stopped,
    /// An attached viewer left; the training goes on.
    Left,
    /// The trainer ended (finished, or went away) and the person then quit.
    TrainerEnded,
}

/// How the dashboard draws: frame rate, character set and colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UiOptions {
    pub fps: u32,
    /// Only ASCII characters anywhere (`--ascii`, `TERM=dumb`).
    pub is_ascii: bool,
    pub color: ColorMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorMode {
    TrueColor,
    Ansi256,
    /// The 16 named colours (`TERM=xterm`, `screen`, `linux`).
    Ansi16,
    /// No colour at all (`NO_COLOR`, `TERM=dumb`).
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
        let is_ascii = is_ascii_flag || is_dumb;
        // https://no-color.org: no colour, and nothing else changes
        let color = if has_no_color || is_dumb {
            ColorMode::Mono
        } else if matches!(colorterm, Some("truecolor" | "24bit")) {
            ColorMode::TrueColor
        } else if term.is_some_and(|t| t.contains("256color") || t.contains("direct")) {
            ColorMode::Ansi256
        } else if term.is_none() {
            // no TERM at all: most likely a modern emulator that did not say
            ColorMode::Ansi256
        } else {
            ColorMode::Ansi16
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

/// How the dashboard is tied to its trainer.
#[derive(Debug, Clone, Default)]
pub struct Session {
    /// Set from a SIGHUP handler: the terminal is gone, so leave at once (a local session stops
    /// its trainer, which writes a checkpoint; an attached viewer only lets go).
    pub hangup: Option<Arc<AtomicBool>>,
    /// Watching a detached training: `d` leaves it running and `q` asks stop-or-leave.
    pub is_attached: bool,
    /// The run's past, read from its files (attach, replay, resume), shown before live events.
    pub history: Option<crate::train::history::RunHistory>,
}

/// Runs the dashboard until the person quits; the trainer runs on its own thread and is reached
/// only through the channels.
pub fn run(
    events: Receiver<Event>,
    commands: Sender<Command>,
    opts: UiOptions,
) -> anyhow::Result<Ending> {
    run_session(events, commands, opts, Session::default())
}

/// `run`, with a hang-up flag and the attached-viewer keys.
pub fn run_session(
    events: Receiver<Event>,
    commands: Sender<Command>,
    opts: UiOptions,
    session: Session,
) -> anyhow::Result<Ending> {
    // ratatui sets the terminal up (raw mode, alternate screen, the panic hook that restores it);
    // drawing then goes through a writer that speaks 16 colours where the terminal does
    let _ = match ratatui::try_init() {
        Ok(terminal) => terminal,
        Err(error) => {
            // Raw mode may already be on when entering the alternate screen failed.
            let _ = ratatui::try_restore();
            return Err(error).context("cannot set up the terminal");
        }
    };
    let writer = ansi16::Ansi16Writer::new(std::io::stdout(), opts.color == ColorMode::Ansi16);
    let mut terminal = match Terminal::new(ratatui::backend::CrosstermBackend::new(writer)) {
        Ok(terminal) => terminal,
        Err(error) => {
            let _ = ratatui::try_restore();
            return Err(error).context("cannot set up the terminal");
        }
    };
    let mut app = App::new(opts);
    app.is_attached = session.is_attached;
    if let Some(history) = session.history {
        app.load_history(history);
    }
    let hangup = session.hangup.unwrap_or_default();
    let result = run_app(
        &mut terminal,
        &mut app,
        &events,
        &commands,
        read_terminal,
        &hangup,
    );
    let restored = ratatui::try_restore().context("cannot restore the terminal");
    result.and(restored).map(|()| app.ending())
}

/// The next terminal event, waiting at most `timeout`.
fn read_terminal(timeout: Duration) -> std::io::Result<Option<TermEvent>> {
    if event::poll(timeout)? {
        event::read().map(Some)
    } else {
        Ok(None)
    }
}

/// The loop of `run`, over any backend and any source of terminal events (tests script both).
fn run_app<B, I>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    events: &Receiver<Event>,
    commands: &Sender<Command>,
    mut input: I,
    hangup: &AtomicBool,
) -> anyhow::Result<()>
where
    B: Backend,
    B::Error: std::error::Error + Send + Sync + 'static,
    I: FnMut(Duration) -> std::io::Result<Option<TermEvent>>,
{
    let frame = Duration::from_secs(1) / app.fps();
    let mut last_draw: Option<Instant> = None;
    while !app.should_quit() {
        if hangup.load(Ordering::Relaxed) {
            if let Some(command) = app.hang_up() {
                send(app, commands, command);
            }
            // nobody can see the screen any more: the caller joins the trainer
            return Ok(());
        }
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
        match input(frame)? {
            Some(TermEvent::Key(key)) if key.kind != KeyEventKind::Release => {
                if let Some(command) = app.handle_key(key) {
                    send(app, commands, command);
                }
            }
            Some(TermEvent::Resize(..)) => app.mark_dirty(),
            _ => {}
        }
    }
    if app.is_leaving {
        return Ok(());
    }
    wait_for_stop(terminal, app, events, frame)
}

/// Keeps drawing and draining until the trainer confirms it stopped, or the timeout passes.
fn wait_for_stop<B>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    events: &Receiver<Event>,
    frame: Duration,
) -> anyhow::Result<()>
where
    B: Backend,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let deadline = Instant::now() + STOP_TIMEOUT;
    while !app.is_trainer_gone() && Instant::now() < deadline {
        drain_events(app, events);
        if matches!(app.state(), RunState::Stopped | RunState::Finished) {
            break;
        }
        terminal.draw(|f| f.render_widget(&*app, f.area()))?;
        app.mark_drawn();
        std::thread::sleep(frame);
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
mod tests;
