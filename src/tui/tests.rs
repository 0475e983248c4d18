//! Tests of the dashboard loop (scripted keys, a stand-in trainer) and of terminal detection.

use super::*;

use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use std::sync::mpsc;

/// A stand-in trainer: starts, reports iterations until told to stop, then says so.
fn fake_trainer(events: mpsc::Sender<Event>, commands: mpsc::Receiver<Command>) -> Vec<Command> {
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
fn detect_no_color_means_no_colour_but_unicode() {
    let o = UiOptions::from_env(false, 10, true, Some("truecolor"), Some("xterm-256color"));
    assert!(!o.is_ascii);
    assert_eq!(o.color, ColorMode::Mono);
}

#[test]
fn detect_truecolor_256_and_16() {
    let o = UiOptions::from_env(false, 10, false, Some("24bit"), Some("xterm"));
    assert_eq!(o.color, ColorMode::TrueColor);
    let o = UiOptions::from_env(false, 10, false, None, Some("xterm-256color"));
    assert_eq!(o.color, ColorMode::Ansi256);
    assert!(!o.is_ascii);
    for term in ["xterm", "screen", "linux", "vt220"] {
        let o = UiOptions::from_env(false, 10, false, None, Some(term));
        assert_eq!(o.color, ColorMode::Ansi16, "{term}");
    }
}

#[test]
fn detect_dumb_terminal_and_flag() {
    let o = UiOptions::from_env(false, 0, false, Some("truecolor"), Some("dumb"));
    assert!(o.is_ascii);
    assert_eq!(o.color, ColorMode::Mono);
    assert_eq!(o.fps, 1);
    let o = UiOptions::from_env(true, 10, false, None, Some("xterm-256color"));
    assert!(o.is_ascii);
    assert_eq!(o.color, ColorMode::Ansi256, "--ascii keeps colour");
}
