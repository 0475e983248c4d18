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

/// How the dashboard is tied to its trainer.
#[derive(Debug, Clone, Default)]
pub struct Session {
    /// Set from a SIGHUP handler: the terminal is gone, so leave at once (a local session stops
    /// its trainer, which writes a checkpoint; an attached viewer only lets go).
    pub hangup: Option<Arc<AtomicBool>>,
    /// Watching a detached training: `d` leaves it running and `q` asks stop-or-leave.
    pub is_attached: bool,
}

/// Runs the dashboard until the person quits; the trainer runs on its own thread and is reached
/// only through the channels.
pub fn run(
    events: Receiver<Event>,
    commands: Sender<Command>,
    opts: UiOptions,
) -> anyhow::Result<()> {
    run_session(events, commands, opts, Session::default())
}

/// `run`, with a hang-up flag and the attached-viewer keys.
pub fn run_session(
    events: Receiver<Event>,
    commands: Sender<Command>,
    opts: UiOptions,
    session: Session,
) -> anyhow::Result<()> {
    let mut terminal = match ratatui::try_init() {
        Ok(terminal) => terminal,
        Err(error) => {
            // Raw mode may already be on when entering the alternate screen failed.
            let _ = ratatui::try_restore();
            return Err(error).context("cannot set up the terminal");
        }
    };
    let mut app = App::new(opts);
    app.is_attached = session.is_attached;
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
    result.and(restored)
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
mod tests {
    use super::*;

    use ratatui::backend::TestBackend;
    use ratatui::crossterm::event::{KeyCode, KeyEvent};
    use std::sync::mpsc;

    /// A stand-in trainer: starts, reports iterations until told to stop, then says so.
    fn fake_trainer(
        events: mpsc::Sender<Event>,
        commands: mpsc::Receiver<Command>,
    ) -> Vec<Command> {
        let mut seen = Vec::new();
        let _ = events.send(Event::State(RunState::Running));
        loop {
            match commands.recv_timeout(Duration::from_millis(5)) {
                Ok(Command::Stop) => {
                    seen.push(Command::Stop);
                    let _ = events.send(Event::State(RunState::Stopped));
                    return seen;
                }
                Ok(command) => seen.push(command),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return seen,
            }
        }
    }

    /// Types `keys` one per loop turn; fails instead of hanging if the app never quits.
    fn script(keys: &str) -> impl FnMut(Duration) -> std::io::Result<Option<TermEvent>> {
        let mut keys: Vec<char> = keys.chars().rev().collect();
        let mut turns = 0;
        move |_| {
            turns += 1;
            assert!(turns < 1000, "the app did not quit");
            std::thread::sleep(Duration::from_millis(2));
            Ok(keys
                .pop()
                .map(|c| TermEvent::Key(KeyEvent::from(KeyCode::Char(c)))))
        }
    }

    #[test]
    fn quitting_stops_the_trainer_cleanly() {
        let (event_tx, event_rx) = mpsc::channel();
        let (command_tx, command_rx) = mpsc::channel();
        let trainer = std::thread::spawn(move || fake_trainer(event_tx, command_rx));
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
        let mut app = App::new(UiOptions::default());
        let started = Instant::now();
        // space pauses, q asks to confirm, y confirms.
        let result = run_app(
            &mut terminal,
            &mut app,
            &event_rx,
            &command_tx,
            script(" qy"),
            &AtomicBool::new(false),
        );
        assert!(result.is_ok());
        assert!(started.elapsed() < STOP_TIMEOUT, "waited for the timeout");
        assert_eq!(app.state(), RunState::Stopped);
        let seen = trainer.join().expect("trainer thread");
        assert_eq!(seen, vec![Command::Pause, Command::Stop]);
    }

    #[test]
    fn a_vanished_trainer_does_not_hang_quit() {
        let (event_tx, event_rx) = mpsc::channel::<Event>();
        let (command_tx, _command_rx) = mpsc::channel();
        drop(event_tx);
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
        let mut app = App::new(UiOptions::default());
        let result = run_app(
            &mut terminal,
            &mut app,
            &event_rx,
            &command_tx,
            script("q"),
            &AtomicBool::new(false),
        );
        assert!(result.is_ok());
        assert!(app.is_trainer_gone());
    }

    #[test]
    fn a_hangup_stops_a_local_trainer_and_only_leaves_an_attached_one() {
        for is_attached in [false, true] {
            let (event_tx, event_rx) = mpsc::channel();
            let (command_tx, command_rx) = mpsc::channel();
            let trainer = std::thread::spawn(move || fake_trainer(event_tx, command_rx));
            let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
            let mut app = App::new(UiOptions::default());
            app.is_attached = is_attached;
            let hangup = AtomicBool::new(true);
            let result = run_app(
                &mut terminal,
                &mut app,
                &event_rx,
                &command_tx,
                script(""),
                &hangup,
            );
            assert!(result.is_ok());
            drop(command_tx);
            let seen = trainer.join().expect("trainer thread");
            let expected = if is_attached {
                vec![]
            } else {
                vec![Command::Stop]
            };
            assert_eq!(seen, expected);
        }
    }

    #[test]
    fn d_detaches_an_attached_viewer_without_stopping() {
        let (event_tx, event_rx) = mpsc::channel();
        let (command_tx, command_rx) = mpsc::channel();
        let trainer = std::thread::spawn(move || fake_trainer(event_tx, command_rx));
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
        let mut app = App::new(UiOptions::default());
        app.is_attached = true;
        let result = run_app(
            &mut terminal,
            &mut app,
            &event_rx,
            &command_tx,
            script("ed"),
            &AtomicBool::new(false),
        );
        assert!(result.is_ok());
        drop(command_tx);
        assert_eq!(trainer.join().expect("trainer"), vec![Command::EvaluateNow]);
    }

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
