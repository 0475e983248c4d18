//! The dashboard rendered into ratatui's `TestBackend` from a recorded, deterministic event stream,
//! snapshotted with insta; and key handling.

use convtop::resources::{Resources, Usage};
use convtop::train::{
    Command, DataView, Diagnostic, DiagnosticKind, EvalStats, Event, FilterBank, IterStats, Knob,
    KnobChange, KnobSource, Knobs, LayerInfo, LayerStats, Planes, RunInfo, RunState, SampleImage,
    Severity, Snapshot, widen,
};
use convtop::tui::{App, ColorMode, Mode, Tab, UiOptions};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Color;

/// Numerical Recipes' LCG, so the stream is the same on every machine.
struct Lcg(u64);

impl Lcg {
    fn next_f32(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32) / ((1u64 << 24) as f32)
    }
}

fn knobs(learning_rate: f32) -> Knobs {
    Knobs {
        learning_rate,
        lambda: 1e-4,
        momentum: 0.9,
        is_nesterov: false,
        batch_size: 20,
        augment_crop: false,
        augment_flip: false,
    }
}

fn layer(name: &str, kind: &str, formula: &str, out_shape: [usize; 3], params: usize) -> LayerInfo {
    LayerInfo {
        name: name.into(),
        kind: kind.into(),
        formula: formula.into(),
        out_shape,
        params,
        flops: (out_shape.iter().product::<usize>() * params.max(1)) as u64,
    }
}

fn run_info() -> RunInfo {
    RunInfo {
        run_id: "20261128-1200".into(),
        run_dir: "runs/20261128-1200".into(),
        data_name: "mnist".into(),
        net_spec: "mnist".into(),
        net_resolved: "conv8k5p2 relu pool2 conv16k5p2 relu pool3 fc10".into(),
        classes: (0..10).map(|i| i.to_string()).collect(),
        input_shape: [1, 28, 28],
        train_size: 50_000,
        val_size: 10_000,
        test_size: 10_000,
        iters_per_epoch: 100,
        total_epochs: 10,
        knobs: knobs(0.01),
        preprocess: "mean image".into(),
        seed: 7,
        layers: vec![
            layer(
                "conv1",
                "conv 8 5×5 s1 p2",
                "(28 + 2·2 − 5)/1 + 1 = 28",
                [8, 28, 28],
                208,
            ),
            layer("relu1", "relu", "", [8, 28, 28], 0),
            layer(
                "pool1",
                "maxpool 2×2 s2",
                "(28 − 2)/2 + 1 = 14",
                [8, 14, 14],
                0,
            ),
            layer(
                "conv2",
                "conv 16 5×5 s1 p2",
                "(14 + 2·2 − 5)/1 + 1 = 14",
                [16, 14, 14],
                3216,
            ),
            layer("relu2", "relu", "", [16, 14, 14], 0),
            layer(
                "pool2",
                "maxpool 3×3 s3",
                "⌊(14 − 3)/3⌋ + 1 = 4",
                [16, 4, 4],
                0,
            ),
            layer("fc1", "fc 10", "", [10, 1, 1], 2570),
        ],
    }
}

/// A soft ring, a stand-in for a digit.
fn ring(w: usize, h: usize, radius: f32, shift: f32) -> Vec<f32> {
    (0..h * w)
        .map(|i| {
            let (x, y) = (
                (i % w) as f32 - w as f32 / 2.0 + shift,
                (i / w) as f32 - h as f32 / 2.0,
            );
            let d = (x * x + y * y).sqrt() - radius;
            (-d * d / 4.0).exp()
        })
        .collect()
}

fn planes(c: usize, h: usize, w: usize, rng: &mut Lcg) -> Planes {
    let mut data = Vec::with_capacity(c * h * w);
    for k in 0..c {
        let base = ring(w, h, 2.0 + k as f32 % 5.0, k as f32 % 3.0 - 1.0);
        data.extend(base.into_iter().map(|v| v + 0.1 * rng.next_f32()));
    }
    Planes { c, h, w, data }
}

/// A scripted resource report at iteration `i`: one second a 10 iterations, `cores` cores.
fn resources(i: u64, cores: usize) -> Event {
    let k = i as f32;
    Event::Resources(Box::new(Resources {
        elapsed_secs: i as f64 * 0.2,
        usage: Ok(Usage {
            cpu_cores: 1.85,
            per_core: (0..cores)
                .map(|c| (0.95 - 0.05 * c as f32).max(0.1) - 0.001 * (k % 7.0))
                .collect(),
            machine_per_core: (0..cores)
                .map(|c| (0.99 - 0.01 * c as f32).max(0.5))
                .collect(),
            rss_bytes: 327_155_712,
            peak_rss_bytes: 356_515_840,
            threads: 5,
        }),
    }))
}

fn events() -> Vec<Event> {
    let mut rng = Lcg(42);
    let mut events = vec![
        Event::Started(Box::new(run_info())),
        Event::State(RunState::Running),
    ];
    let mut batch = Vec::new();
    for i in 1..=300u64 {
        let lr = if i > 150 { 0.005 } else { 0.01 };
        let clean = 2.2 * (-(i as f32) / 70.0).exp() + 0.12;
        let data_loss = clean * (0.8 + 0.4 * rng.next_f32());
        batch.push(IterStats {
            iteration: i,
            epoch: i as f64 / 100.0,
            data_loss,
            reg_loss: 0.01,
            batch_accuracy: (1.0 - clean / 2.4 - 0.1 * rng.next_f32()).clamp(0.0, 1.0),
            knobs: knobs(lr),
            // a speed that wanders, for the resource pane's sparkline; 1,520 at the end
            images_per_sec: if i == 300 {
                1520.0
            } else {
                1100.0 + (i * 37 % 400) as f32
            },
        });
        if i % 10 == 0 {
            events.push(Event::Iterations(std::mem::take(&mut batch)));
            events.push(resources(i, 2));
        }
        if i == 150 {
            events.push(Event::KnobChanged(KnobChange {
                iteration: 150,
                knob: Knob::LearningRate,
                old: 0.01,
                new: 0.005,
                source: KnobSource::Hand,
                reason: None,
            }));
        }
        if i % 100 == 0 {
            let k = (i / 100) as f32;
            let confusion = (0..10)
                .map(|t| {
                    (0..10)
                        .map(|p| {
                            if t == p {
                                90 + i as u32 / 50
                            } else {
                                (t * 3 + p) as u32 % 4
                            }
                        })
                        .collect()
                })
                .collect();
            events.push(Event::Evaluation(EvalStats {
                iteration: i,
                epoch: i as f64 / 100.0,
                train_loss: 0.9 / k,
                train_accuracy: 0.80 + 0.05 * k,
                val_loss: 0.95 / k + 0.05,
                val_accuracy: 0.78 + 0.045 * k,
                confusion,
                is_best: true,
            }));
        }
    }
    events.push(Event::Diagnostic(Diagnostic {
        iteration: 250,
        kind: DiagnosticKind::Plateau,
        severity: Severity::Warn,
        title: "validation loss has plateaued".into(),
        evidence: "val loss 0.52 → 0.51 over the last 2 evaluations".into(),
        suggestion: "halve the learning rate".into(),
        action: None,
    }));
    let weights: Vec<f32> = (0..8 * 25).map(|_| rng.next_f32() - 0.5).collect();
    let grads: Vec<f32> = (0..8 * 25).map(|_| (rng.next_f32() - 0.5) * 1e-3).collect();
    let input = planes(1, 28, 28, &mut rng);
    let mut probabilities = vec![0.01f32; 10];
    probabilities[7] = 0.91;
    events.push(Event::Snapshot(Box::new(Snapshot {
        iteration: 300,
        filters: vec![FilterBank {
            layer: "conv1".into(),
            c_out: 8,
            c_in: 1,
            kh: 5,
            kw: 5,
            weights,
            grads,
        }],
        layer_stats: ["conv1", "conv2", "fc1"]
            .iter()
            .enumerate()
            .map(|(i, name)| LayerStats {
                name: name.to_string(),
                weight_norm: 1.5 + i as f32,
                grad_norm: 0.02 / (i + 1) as f32,
                update_ratio: [1.2e-3, 4e-4, 3e-2][i],
                dead_fraction: None,
                norm_divisor: None,
            })
            .chain(
                ["relu1", "relu2"]
                    .iter()
                    .enumerate()
                    .map(|(i, name)| LayerStats {
                        name: name.to_string(),
                        weight_norm: 0.0,
                        grad_norm: 0.0,
                        update_ratio: 0.0,
                        dead_fraction: Some([0.05, 0.6][i]),
                        norm_divisor: None,
                    }),
            )
            .collect(),
        input_index: 12,
        input,
        label: 7,
        probabilities,
        activations: vec![
            ("conv1".into(), planes(8, 28, 28, &mut rng)),
            ("pool1".into(), planes(8, 14, 14, &mut rng)),
            ("fc1".into(), planes(10, 1, 1, &mut rng)),
        ],
    })));
    let samples = (0..8)
        .map(|i| SampleImage {
            image: planes(1, 28, 28, &mut rng),
            label: i,
            predicted: if i == 3 { 5 } else { i },
        })
        .collect();
    events.push(Event::DataView(Box::new(DataView {
        samples,
        mean_image: Some(planes(1, 28, 28, &mut rng)),
        augment_before: planes(1, 28, 28, &mut rng),
        augment_after: planes(1, 24, 24, &mut rng),
        whitened: None,
        class_counts: vec![("train".into(), vec![5000; 10])],
    })));
    events
}

fn options(is_ascii: bool) -> UiOptions {
    UiOptions {
        fps: 10,
        is_ascii,
        color: if is_ascii {
            ColorMode::Mono
        } else {
            ColorMode::TrueColor
        },
    }
}

fn app(is_ascii: bool) -> App {
    let mut app = App::new(options(is_ascii));
    for event in events() {
        app.on_event(event);
    }
    app
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn draw(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    terminal
        .draw(|f| f.render_widget(app, f.area()))
        .expect("draw");
    terminal
}

fn text(terminal: &Terminal<TestBackend>) -> String {
    let buffer = terminal.backend().buffer();
    let area = buffer.area;
    (0..area.height)
        .map(|y| {
            let line: String = (0..area.width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect();
            line.trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn snapshot_all_tabs(is_ascii: bool) {
    let mode = if is_ascii { "ascii" } else { "color" };
    let mut app = app(is_ascii);
    for tab in Tab::ALL {
        let digit = char::from(b'1' + tab.index() as u8);
        assert_eq!(app.handle_key(key(KeyCode::Char(digit))), None);
        for (w, h) in [(80, 24), (120, 40), (160, 48)] {
            let terminal = draw(&app, w, h);
            let screen = text(&terminal);
            if is_ascii {
                assert!(screen.is_ascii(), "non-ASCII on {tab:?} {w}x{h}:\n{screen}");
            }
            insta::assert_snapshot!(
                format!("{}_{w}x{h}_{mode}", tab.title().to_lowercase()),
                screen
            );
        }
    }
}

/// Text cut by a panel border or the screen edge: two letters or digits run into the border
/// with no `…` before it. Panels keep a space before their right border, so text that touches
/// it was cut.
fn cut_text(screen: &str) -> Vec<String> {
    let mut cuts = Vec::new();
    for (y, line) in screen.lines().enumerate() {
        let cells: Vec<char> = line.chars().collect();
        for x in 2..cells.len() {
            let is_edge = matches!(cells[x], '│' | '|' | '╮' | '╯' | '+');
            let is_cut = cells[x - 1].is_alphanumeric() && cells[x - 2].is_alphanumeric();
            if is_edge && is_cut {
                cuts.push(format!("row {y}: {line}"));
            }
        }
    }
    cuts
}

#[test]
fn no_text_is_cut_without_an_elision_mark() {
    // in ASCII `|` is both a border and text (`|W|`), so the borders are told apart in Unicode
    for is_ascii in [false] {
        let mut app = app(is_ascii);
        app.on_event(Event::TestResult {
            accuracy: 0.9905,
            loss: 0.04,
            count: 1,
            checkpoint: "checkpoint-best.safetensors".into(),
            iteration: 300,
            mirrored_accuracy: None,
        });
        app.on_event(Event::CheckpointSaved {
            iteration: 300,
            path: "runs/20261128-120000-a-long-run-name/checkpoint-last.safetensors".into(),
        });
        for tab in Tab::ALL {
            let digit = char::from(b'1' + tab.index() as u8);
            app.handle_key(key(KeyCode::Char(digit)));
            for (w, h) in [(80, 24), (120, 40), (160, 48)] {
                let screen = text(&draw(&app, w, h));
                let cuts = cut_text(&screen);
                assert!(
                    cuts.is_empty(),
                    "{tab:?} at {w}x{h}:\n{}\n\n{screen}",
                    cuts.join("\n")
                );
                let footer = screen.lines().last().unwrap_or_default();
                assert!(footer.contains(".safetensors"), "{tab:?} {w}x{h}: {footer}");
            }
        }
    }
}

#[test]
fn every_tab_in_colour() {
    snapshot_all_tabs(false);
}

#[test]
fn every_tab_in_ascii() {
    snapshot_all_tabs(true);
}

#[test]
fn images_use_truecolour_half_blocks() {
    let mut app = app(false);
    app.handle_key(key(KeyCode::Char('2')));
    let terminal = draw(&app, 80, 24);
    let buffer = terminal.backend().buffer();
    let rgb_cells = buffer
        .content()
        .iter()
        .filter(|c| {
            c.symbol() == "▀" && matches!(c.fg, Color::Rgb(..)) && matches!(c.bg, Color::Rgb(..))
        })
        .count();
    // 8 filters of 5×5 pixels take at least 5×3 cells each.
    assert!(rgb_cells >= 8 * 15, "only {rgb_cells} image cells");
}

#[test]
fn images_use_256_colours_when_truecolour_is_missing() {
    let mut app = App::new(UiOptions {
        color: ColorMode::Ansi256,
        ..options(false)
    });
    for event in events() {
        app.on_event(event);
    }
    app.handle_key(key(KeyCode::Char('3')));
    let terminal = draw(&app, 80, 24);
    let buffer = terminal.backend().buffer();
    assert!(
        buffer
            .content()
            .iter()
            .any(|c| matches!(c.fg, Color::Indexed(_)))
    );
    assert!(
        !buffer
            .content()
            .iter()
            .any(|c| matches!(c.fg, Color::Rgb(..)))
    );
}

#[test]
fn help_overlay_and_empty_states() {
    let mut app = app(false);
    app.handle_key(key(KeyCode::Char('?')));
    insta::assert_snapshot!("help_80x24", text(&draw(&app, 80, 24)));
    let empty = App::new(options(false));
    insta::assert_snapshot!("empty_80x24", text(&draw(&empty, 80, 24)));
}

#[test]
fn tiny_terminal_says_what_it_needs() {
    let screen = text(&draw(&app(false), 40, 10));
    assert!(screen.contains("at least 80x24"), "{screen}");
    assert!(screen.contains("40x10"), "{screen}");
    insta::assert_snapshot!("tiny_40x10", screen);
}

fn set_knob(command: Option<Command>) -> (Knob, f64) {
    match command {
        Some(Command::SetKnob { knob, value }) => (knob, value),
        other => panic!("expected SetKnob, got {other:?}"),
    }
}

#[test]
fn arrows_step_the_learning_rate() {
    let mut app = app(false);
    // The trainer reports lr = 0.005 since iteration 150.
    let current = widen(0.005);
    let (knob, value) = set_knob(app.handle_key(key(KeyCode::Right)));
    assert_eq!(knob, Knob::LearningRate);
    // the knob authority answers with the value as the trainer stores it (an f32, read back as
    // its shortest decimal)
    assert_eq!(value, widen((current * 2.0) as f32));
    assert_eq!(app.pending_value(Knob::LearningRate), Some(value));
    let screen = text(&draw(&app, 80, 24));
    assert!(screen.contains("5.0e-3 → 1.0e-2"), "{screen}");

    let mut app = self::app(false);
    let (_, value) = set_knob(app.handle_key(key(KeyCode::Left)));
    assert_eq!(value, widen((current / 2.0) as f32));

    let mut app = self::app(false);
    let (_, value) = set_knob(app.handle_key(KeyEvent::new(KeyCode::Right, KeyModifiers::SHIFT)));
    assert_eq!(value, widen((current * 10.0) as f32));
    let (_, value) = set_knob(app.handle_key(KeyEvent::new(KeyCode::Left, KeyModifiers::SHIFT)));
    assert!(
        (value - current).abs() < 1e-9,
        "steps from the pending value"
    );
}

#[test]
fn pending_marker_clears_when_the_change_lands() {
    let mut app = app(false);
    let (_, value) = set_knob(app.handle_key(key(KeyCode::Right)));
    let mut stats = IterStatsBuilder::at(301);
    stats.knobs.learning_rate = value as f32;
    app.on_event(Event::Iterations(vec![stats]));
    assert_eq!(app.pending_value(Knob::LearningRate), None);
    assert_eq!(
        app.knob_value(Knob::LearningRate),
        Some(widen(value as f32))
    );
}

struct IterStatsBuilder;

impl IterStatsBuilder {
    fn at(iteration: u64) -> IterStats {
        IterStats {
            iteration,
            epoch: iteration as f64 / 100.0,
            data_loss: 0.2,
            reg_loss: 0.01,
            batch_accuracy: 0.9,
            knobs: knobs(0.005),
            images_per_sec: 1500.0,
        }
    }
}

#[test]
fn other_knobs_and_switches() {
    let mut app = app(false);
    app.handle_key(key(KeyCode::Down));
    app.handle_key(key(KeyCode::Down));
    let (knob, value) = set_knob(app.handle_key(key(KeyCode::Right)));
    assert_eq!(knob, Knob::Momentum);
    // the knob authority answers with the value as the trainer stores it (an f32, read back as
    // its shortest decimal)
    assert_eq!(value, 0.95);
    app.handle_key(key(KeyCode::Down));
    let (knob, value) = set_knob(app.handle_key(key(KeyCode::Left)));
    assert_eq!((knob, value), (Knob::BatchSize, 10.0));
    app.handle_key(key(KeyCode::Down));
    let (knob, value) = set_knob(app.handle_key(key(KeyCode::Right)));
    assert_eq!((knob, value), (Knob::AugmentCrop, 1.0));
}

fn type_value(app: &mut App, text: &str) -> Option<Command> {
    assert_eq!(app.handle_key(key(KeyCode::Enter)), None);
    for c in text.chars() {
        assert_eq!(app.handle_key(key(KeyCode::Char(c))), None);
    }
    app.handle_key(key(KeyCode::Enter))
}

#[test]
fn typed_values_are_validated() {
    let mut app = app(false);
    assert_eq!(type_value(&mut app, "abc"), None);
    let status = app.status().expect("a message");
    assert_eq!(status.level, Severity::Error);
    assert!(status.text.contains("not a number"), "{}", status.text);
    assert_eq!(app.pending_value(Knob::LearningRate), None);
    assert_eq!(app.knob_value(Knob::LearningRate), Some(0.005));

    assert_eq!(type_value(&mut app, "-1"), None);
    assert!(app.status().expect("a message").text.contains("positive"));
    let screen = text(&draw(&app, 80, 24));
    assert!(screen.contains("must be positive"), "{screen}");

    let (knob, value) = set_knob(type_value(&mut app, "3e-3"));
    assert_eq!((knob, value), (Knob::LearningRate, 3e-3));
}

#[test]
fn quit_asks_to_confirm_while_training() {
    let mut app = app(false);
    assert_eq!(app.handle_key(key(KeyCode::Char('q'))), None);
    assert!(app.is_confirming_quit());
    assert!(!app.should_quit());
    insta::assert_snapshot!("confirm_quit_80x24", text(&draw(&app, 80, 24)));
    assert_eq!(app.handle_key(key(KeyCode::Char('n'))), None);
    assert!(!app.is_confirming_quit() && !app.should_quit());

    app.handle_key(key(KeyCode::Char('q')));
    assert_eq!(app.handle_key(key(KeyCode::Char('y'))), Some(Command::Stop));
    assert!(app.should_quit());
}

#[test]
fn only_the_keys_a_dialog_names_act() {
    let mut app = app(false);
    app.handle_key(key(KeyCode::Char('q')));
    // Enter, space, another q: the dialog names none of them, so it stays and nothing is sent
    for code in [
        KeyCode::Enter,
        KeyCode::Char(' '),
        KeyCode::Char('q'),
        KeyCode::Char('x'),
    ] {
        assert_eq!(app.handle_key(key(code)), None, "{code:?}");
        assert!(app.is_confirming_quit() && !app.should_quit(), "{code:?}");
    }
    assert_eq!(app.handle_key(key(KeyCode::Esc)), None);
    assert!(!app.is_confirming_quit() && !app.should_quit());

    app.handle_key(key(KeyCode::Char('T')));
    assert_eq!(app.handle_key(key(KeyCode::Enter)), None);
    assert_eq!(app.mode(), &Mode::ConfirmTest);
    assert_eq!(
        app.handle_key(key(KeyCode::Char('y'))),
        Some(Command::EvaluateTest)
    );
}

#[test]
fn ctrl_c_twice_quits_with_a_checkpoint() {
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    let mut app = app(false);
    assert_eq!(app.handle_key(ctrl_c), None);
    assert!(app.is_confirming_quit());
    assert_eq!(app.handle_key(ctrl_c), Some(Command::Stop));
    assert!(app.should_quit());
}

#[test]
fn the_quit_dialog_shows_on_a_small_terminal() {
    let mut app = app(false);
    app.handle_key(key(KeyCode::Char('q')));
    let screen = text(&draw(&app, 60, 20));
    assert!(screen.contains("Stop training and quit?"), "{screen}");
    assert!(screen.contains("keep training"), "{screen}");
    insta::assert_snapshot!("confirm_quit_60x20", screen);
}

#[test]
fn the_help_overlay_scrolls_to_its_last_line() {
    let mut app = app(false);
    app.handle_key(key(KeyCode::Char('?')));
    let first = text(&draw(&app, 80, 24));
    assert!(first.contains("1-5 Tab"), "{first}");
    assert!(!first.contains("delete a character"), "{first}");
    app.handle_key(key(KeyCode::End));
    let last = text(&draw(&app, 80, 24));
    assert!(last.contains("delete a character"), "{last}");
    // at 160x48 everything fits at once
    app.handle_key(key(KeyCode::Home));
    let tall = text(&draw(&app, 160, 48));
    assert!(
        tall.contains("1-5 Tab") && tall.contains("delete a character"),
        "{tall}"
    );
    app.handle_key(key(KeyCode::Esc));
    assert_eq!(app.mode(), &Mode::Normal);
}

#[test]
fn quit_is_immediate_once_the_trainer_ended() {
    let mut app = app(false);
    app.on_event(Event::State(RunState::Finished));
    app.on_disconnect();
    assert_eq!(app.handle_key(key(KeyCode::Char('q'))), None);
    assert!(app.should_quit());
}

#[test]
fn control_keys_send_commands() {
    let mut app = app(false);
    assert_eq!(
        app.handle_key(key(KeyCode::Char(' '))),
        Some(Command::Pause)
    );
    app.on_event(Event::State(RunState::Paused));
    assert_eq!(app.handle_key(key(KeyCode::Char('n'))), Some(Command::Step));
    assert_eq!(
        app.handle_key(key(KeyCode::Char(' '))),
        Some(Command::Resume)
    );
    assert_eq!(
        app.handle_key(key(KeyCode::Char('e'))),
        Some(Command::EvaluateNow)
    );
    assert_eq!(
        app.handle_key(key(KeyCode::Char('s'))),
        Some(Command::SaveCheckpoint)
    );
    assert_eq!(
        app.handle_key(key(KeyCode::Char('b'))),
        Some(Command::RollbackToBest)
    );
    app.handle_key(key(KeyCode::Char('3')));
    assert_eq!(
        app.handle_key(key(KeyCode::Char('.'))),
        Some(Command::RequestSnapshot { input_index: 13 })
    );
    assert_eq!(
        app.tick(),
        Some(Command::RequestSnapshot { input_index: 13 })
    );
    assert_eq!(app.tick(), None, "at most about once a second");
    app.handle_key(key(KeyCode::Char('5')));
    assert_eq!(app.tick(), Some(Command::RequestDataView));
}

#[test]
fn view_toggles_change_the_training_screen() {
    let mut app = app(true);
    for c in ['l', 'z', ']', ']'] {
        assert_eq!(app.handle_key(key(KeyCode::Char(c))), None);
    }
    insta::assert_snapshot!("training_log_recent_80x24_ascii", text(&draw(&app, 80, 24)));
}

/// Counts what is written to it.
#[derive(Clone, Default)]
struct Counter(std::rc::Rc<std::cell::Cell<usize>>);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.set(self.0.get() + buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Bytes a real terminal would receive: ratatui's diff through the crossterm backend.
fn bytes_per_second(tab: char, width: u16, height: u16) -> f64 {
    use ratatui::backend::CrosstermBackend;
    use ratatui::layout::Rect;
    use ratatui::{TerminalOptions, Viewport};

    let mut app = app(false);
    app.handle_key(key(KeyCode::Char(tab)));
    let snapshot = events()
        .into_iter()
        .find_map(|e| match e {
            Event::Snapshot(s) => Some(s),
            _ => None,
        })
        .expect("a snapshot");
    let options = TerminalOptions {
        viewport: Viewport::Fixed(Rect::new(0, 0, width, height)),
    };
    let counter = Counter::default();
    let mut terminal =
        Terminal::with_options(CrosstermBackend::new(counter.clone()), options).expect("terminal");
    terminal
        .draw(|f| f.render_widget(&app, f.area()))
        .expect("draw");
    counter.0.set(0);
    let mut rng = Lcg(9);
    // Ten seconds at 100 iterations/s, drawn 4 times a second (the data refresh), with a fresh
    // snapshot every second as the image tabs request.
    let seconds = 10;
    for frame in 0..seconds * 4 {
        let batch = (0..25)
            .map(|k| {
                let mut s = IterStatsBuilder::at(301 + frame * 25 + k);
                s.data_loss = 0.2 + 0.05 * rng.next_f32();
                s
            })
            .collect();
        app.on_event(Event::Iterations(batch));
        if frame % 4 == 0 {
            let mut fresh = snapshot.clone();
            for (_, planes) in fresh.activations.iter_mut() {
                for v in planes.data.iter_mut() {
                    *v *= 1.0 + 0.02 * (rng.next_f32() - 0.5);
                }
            }
            for w in fresh.filters[0].weights.iter_mut() {
                *w *= 1.0 + 0.02 * (rng.next_f32() - 0.5);
            }
            app.on_event(Event::Snapshot(fresh));
        }
        terminal
            .draw(|f| f.render_widget(&app, f.area()))
            .expect("draw");
    }
    counter.0.get() as f64 / seconds as f64
}

#[test]
fn terminal_output_stays_under_20_kb_per_second() {
    for tab in ['1', '2', '3', '4', '5'] {
        for (w, h) in [(80, 24), (160, 48)] {
            let rate = bytes_per_second(tab, w, h);
            println!("tab {tab} {w}x{h}: {:.1} KB/s", rate / 1000.0);
            assert!(rate < 20_000.0, "tab {tab} at {w}x{h} sends {rate} B/s");
        }
    }
}

#[test]
fn filters_with_gradients_and_later_layers() {
    let mut app = app(false);
    app.handle_key(key(KeyCode::Char('2')));
    app.handle_key(key(KeyCode::Char('g')));
    insta::assert_snapshot!("filters_gradients_80x24", text(&draw(&app, 80, 24)));
    app.handle_key(key(KeyCode::Char('3')));
    app.handle_key(key(KeyCode::Char('>')));
    app.handle_key(key(KeyCode::PageDown));
    let screen = text(&draw(&app, 80, 24));
    assert!(screen.contains("activations · fc1"), "{screen}");
    insta::assert_snapshot!("activations_fc1_80x24", screen);
}

#[test]
fn trainer_gone_keeps_the_final_state() {
    let mut app = app(false);
    app.on_disconnect();
    assert_eq!(app.handle_key(key(KeyCode::Char(' '))), None);
    let screen = text(&draw(&app, 80, 24));
    assert!(screen.contains("trainer ended"), "{screen}");
}

#[test]
fn first_layer_filters_on_rgb_input_are_in_colour() {
    let mut app = App::new(options(false));
    let mut rng = Lcg(3);
    let mut info = run_info();
    info.input_shape = [3, 32, 32];
    app.on_event(Event::Started(Box::new(info)));
    let weights: Vec<f32> = (0..4 * 3 * 25).map(|_| rng.next_f32() - 0.5).collect();
    app.on_event(Event::Snapshot(Box::new(Snapshot {
        iteration: 1,
        filters: vec![FilterBank {
            layer: "conv1".into(),
            c_out: 4,
            c_in: 3,
            kh: 5,
            kw: 5,
            grads: vec![0.0; weights.len()],
            weights,
        }],
        layer_stats: Vec::new(),
        input_index: 0,
        input: planes(3, 32, 32, &mut rng),
        label: 0,
        probabilities: vec![0.1; 10],
        activations: Vec::new(),
    })));
    app.handle_key(key(KeyCode::Char('2')));
    let terminal = draw(&app, 80, 24);
    let is_coloured = |c: &Color| matches!(c, Color::Rgb(r, g, b) if r != g || g != b);
    let coloured = terminal
        .backend()
        .buffer()
        .content()
        .iter()
        .filter(|c| c.symbol() == "▀" && is_coloured(&c.fg))
        .count();
    assert!(coloured > 20, "only {coloured} coloured cells");
    let screen = text(&terminal);
    assert!(screen.contains("colour"), "{screen}");
}

#[test]
fn the_resource_pane_marks_what_it_leaves_out() {
    // 64 cores: one cell a core in the compact pane, ending in `…`; eight lines and a sum in full
    let mut app = app(false);
    app.on_event(resources(310, 64));
    let small = text(&draw(&app, 80, 24));
    let cpu_line = small
        .lines()
        .find(|l| l.contains("│cpu "))
        .expect("cpu line");
    assert!(cpu_line.contains('…'), "{cpu_line}");
    assert!(cut_text(&small).is_empty(), "{small}");
    let large = text(&draw(&app, 120, 40));
    assert!(large.contains("… 59 more cores, 968% in all"), "{large}");
    insta::assert_snapshot!("resources_64_cores_120x40", large);

    // no /proc: the reason, not blank figures
    app.on_event(Event::Resources(Box::new(Resources {
        elapsed_secs: 62.0,
        usage: Err(
            "cannot read /proc/self/stat: No such file or directory (the resource \
                    figures need Linux's /proc)"
                .into(),
        ),
    })));
    let screen = text(&draw(&app, 120, 40));
    assert!(screen.contains("no figures: cannot read"), "{screen}");

    // paused: elapsed time, no remaining time
    app.on_event(Event::State(RunState::Paused));
    app.on_event(resources(310, 2));
    let screen = text(&draw(&app, 80, 24));
    assert!(
        screen.contains("ran 1m02s") && !screen.contains("left"),
        "{screen}"
    );
}

#[test]
fn export_waits_for_the_checkpoint_it_asked_for() {
    let mut app = app(false);
    let command = app.handle_key(key(KeyCode::Char('x')));
    assert_eq!(command, Some(Command::SaveCheckpoint));
    // no export starts until the trainer says the checkpoint is on disk (it used to sleep 1.5 s)
    std::thread::sleep(std::time::Duration::from_millis(1800));
    app.tick();
    let text = app.status().map(|s| s.text.clone()).unwrap_or_default();
    assert!(text.starts_with("exporting"), "{text}");
    app.on_event(Event::CheckpointSaved {
        iteration: 300,
        path: "runs/20261128-1200/checkpoint-last.safetensors".into(),
    });
    // the export then runs: on this made-up run directory it fails, and says so
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut text = String::new();
    while std::time::Instant::now() < deadline && !text.starts_with("export") {
        app.tick();
        text = app.status().map(|s| s.text.clone()).unwrap_or_default();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(text.starts_with("export failed"), "{text}");
}

#[test]
fn ascii_knob_marks_differ_from_axes_and_activations_use_ten_levels() {
    let mut app = app(true);
    let screen = text(&draw(&app, 80, 24));
    // the learning-rate change at iteration 150 is a dotted column `:`; axes are `|` and `+`
    let rows: Vec<&str> = screen.lines().filter(|l| l.starts_with('|')).collect();
    let axis = rows[0]
        .find("|^")
        .or_else(|| rows[0][1..].find('|').map(|i| i + 1));
    let axis = axis.expect("the loss chart's y axis");
    let mark = screen
        .lines()
        .find_map(|l| l.find(":lr 0.01->0.005"))
        .expect("the knob mark's label");
    assert_ne!(mark, axis);
    let mark_cells = rows
        .iter()
        .filter(|l| l.chars().nth(mark) == Some(':'))
        .count();
    assert!(mark_cells >= 4, "the mark column:\n{screen}");
    assert!(
        rows.iter().all(|l| l.chars().nth(axis) != Some(':')),
        "an axis drawn like a mark:\n{screen}"
    );
    // activation maps: the ramp " .:-=+*#%@" in full (ten levels)
    app.handle_key(key(KeyCode::Char('3')));
    let screen = text(&draw(&app, 120, 40));
    let levels: std::collections::BTreeSet<char> = screen
        .chars()
        .filter(|c| " .:-=+*#%@".contains(*c))
        .collect();
    assert_eq!(levels.len(), 10, "{levels:?}\n{screen}");
}

#[test]
fn a_test_result_shows_the_mirrored_accuracy_beside_the_single_view() {
    let mut app = app(false);
    let result = |mirrored_accuracy| Event::TestResult {
        accuracy: 0.8412,
        loss: 0.47,
        count: 1,
        checkpoint: "checkpoint-best.safetensors".into(),
        iteration: 45_000,
        mirrored_accuracy,
    };
    app.on_event(result(Some(0.8507)));
    let text = app.status().map(|s| s.text.clone()).unwrap_or_default();
    assert!(
        text.contains("TEST accuracy 84.12%, 85.07% with mirrors, loss 0.4700"),
        "{text}"
    );
    app.on_event(result(None));
    let text = app.status().map(|s| s.text.clone()).unwrap_or_default();
    assert!(text.contains("TEST accuracy 84.12%, loss 0.4700"), "{text}");
}

#[test]
fn a_diagnostics_full_text_scrolls_to_its_advice_at_80x24() {
    let mut app = app(false);
    // evidence and advice as long as the inert-norm note's, too tall for the 80×24 panel
    app.on_event(Event::Diagnostic(Diagnostic {
        iteration: 320,
        kind: DiagnosticKind::InertNorm,
        severity: Severity::Error,
        title: "norm1: the norm layer normalises nothing".into(),
        evidence: "norm1 divided its input by 1.0003 beyond the constant k^β at iteration 300, \
                   under the 1.01 at which a divisor stops acting: with this α on input of this \
                   scale the layer is an identity up to a fixed factor"
            .into(),
        suggestion: "drop norm1 from --net (it costs time and changes nothing); or, to make it \
                     act, restart with α about ×3000 larger, for a divisor near ÷1.2, and read \
                     its ÷ on the Network tab: the last words"
            .into(),
        action: None,
    }));
    app.handle_key(key(KeyCode::Char('v')));
    let first = text(&draw(&app, 80, 24));
    assert!(first.contains("normalises nothing"), "{first}");
    assert!(first.contains("more · j/k"), "{first}");
    assert!(!first.contains("the last words"), "{first}");
    for _ in 0..40 {
        app.handle_key(key(KeyCode::Char('j')));
    }
    let last = text(&draw(&app, 80, 24));
    assert!(last.contains("the last words"), "{last}");
    assert!(last.contains("above · j/k"), "{last}");
    // one k scrolls back one row at once, however many j went past the end
    app.handle_key(key(KeyCode::Char('k')));
    let back = text(&draw(&app, 80, 24));
    assert!(back.contains('↓'), "{back}");
    // v returns to the list, and opening it again starts at the top
    app.handle_key(key(KeyCode::Char('v')));
    app.handle_key(key(KeyCode::Char('v')));
    let again = text(&draw(&app, 80, 24));
    assert!(again.contains("more · j/k"), "{again}");
}

#[test]
fn the_network_tab_scrolls_a_network_taller_than_the_screen_at_80x24() {
    let mut app = App::new(options(false));
    let mut info = run_info();
    // 28 layers (vggish-wide-bn has 23): more than fit at 80×24
    info.layers = (1..=9)
        .flat_map(|i| {
            [
                layer(
                    &format!("conv{i}"),
                    "conv 8 3×3 s1 p1",
                    "",
                    [8, 28, 28],
                    584,
                ),
                layer(&format!("bn{i}"), "batchnorm", "", [8, 28, 28], 16),
                layer(&format!("relu{i}"), "relu", "", [8, 28, 28], 0),
            ]
        })
        .collect();
    info.layers
        .push(layer("fc1", "fc 10", "", [10, 1, 1], 62_730));
    app.on_event(Event::Started(Box::new(info)));
    app.handle_key(key(KeyCode::Char('4')));
    let top = text(&draw(&app, 80, 24));
    assert!(top.contains("conv1 ") && !top.contains("fc1 "), "{top}");
    assert!(top.contains("more · ↑↓ j/k scroll"), "{top}");
    assert!(!top.contains("above"), "{top}");
    let footer = |screen: &str| screen.lines().last().unwrap_or_default().to_string();
    assert!(footer(&top).contains("↑↓ scroll"), "{top}");
    for _ in 0..40 {
        app.handle_key(key(KeyCode::Char('j')));
    }
    let bottom = text(&draw(&app, 80, 24));
    assert!(
        bottom.contains("fc1 ") && !bottom.contains("conv1 "),
        "{bottom}"
    );
    assert!(
        bottom.contains("above · ↑↓") && !bottom.contains("more"),
        "{bottom}"
    );
    // one step back shows a hidden row below at once, however far j went past the end
    app.handle_key(key(KeyCode::Up));
    let back = text(&draw(&app, 80, 24));
    assert!(
        back.contains("↓ 1 more") && !back.contains("fc1 "),
        "{back}"
    );
    // a screen tall enough shows every layer and no marker
    let tall = text(&draw(&app, 80, 40));
    assert!(
        tall.contains("conv1 ") && tall.contains("fc1 ") && !tall.contains("j/k scroll"),
        "{tall}"
    );
    // and its footer hints no scroll keys that would do nothing
    assert!(!footer(&tall).contains("scroll"), "{tall}");
}
