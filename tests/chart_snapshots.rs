//! The Training tab's charts on scripted histories, at 80×24, 120×40 and 160×48: snapshots, and
//! the claims the charts make (a curve fills its chart, a rise is visible, a spike does not
//! flatten the rest, a schedule draws no marks) checked on the rendered cells.

use convtop::train::{
    Diagnostic, DiagnosticKind, EvalStats, Event, IterStats, Knob, KnobChange, KnobSource, Knobs,
    Restore, Rollback, RunInfo, RunState, Severity,
};
use convtop::tui::{App, ColorMode, UiOptions};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Color;

const SIZES: [(u16, u16); 3] = [(80, 24), (120, 40), (160, 48)];
const PER_EPOCH: u64 = 100;

/// Numerical Recipes' LCG: the same noise on every machine.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
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
        batch_size: 50,
        augment_crop: false,
        augment_flip: false,
    }
}

fn info(epochs: u32) -> RunInfo {
    RunInfo {
        run_id: "scripted".into(),
        run_dir: "runs/scripted".into(),
        data_name: "mnist".into(),
        net_spec: "mnist".into(),
        net_resolved: "conv8k5p2 relu pool2 conv16k5p2 relu pool3 fc10".into(),
        classes: (0..10).map(|i| i.to_string()).collect(),
        input_shape: [1, 28, 28],
        train_size: 5_000,
        val_size: 1_000,
        test_size: 1_000,
        iters_per_epoch: PER_EPOCH,
        total_epochs: epochs,
        knobs: knobs(0.01),
        preprocess: "mean image".into(),
        seed: 1,
        layers: Vec::new(),
    }
}

/// A scripted run: train loss `train(epoch)` with ±15% batch noise, an evaluation every epoch
/// with `val(epoch)`, lr `lr(epoch)` with a schedule step recorded whenever it changes.
struct Script {
    epochs: u32,
    train: fn(f64) -> f64,
    val: fn(f64) -> f64,
    lr: fn(f64) -> f32,
    spike_at: Option<u64>,
}

fn events(s: &Script) -> Vec<Event> {
    let mut rng = Lcg(7);
    let mut out = vec![
        Event::Started(Box::new(info(s.epochs))),
        Event::State(RunState::Running),
    ];
    let mut batch = Vec::new();
    let mut best = f64::INFINITY;
    let mut lr = (s.lr)(0.0);
    for i in 1..=u64::from(s.epochs) * PER_EPOCH {
        let epoch = i as f64 / PER_EPOCH as f64;
        let new_lr = (s.lr)(epoch);
        if new_lr != lr {
            out.push(Event::Iterations(std::mem::take(&mut batch)));
            out.push(Event::KnobChanged(KnobChange {
                iteration: i,
                knob: Knob::LearningRate,
                old: f64::from(lr),
                new: f64::from(new_lr),
                source: KnobSource::Schedule,
                reason: None,
            }));
            lr = new_lr;
        }
        let clean = (s.train)(epoch);
        let mut loss = clean * (0.85 + 0.3 * f64::from(rng.next()));
        if s.spike_at == Some(i) {
            loss = 1e20;
        }
        batch.push(IterStats {
            iteration: i,
            epoch,
            data_loss: loss as f32,
            reg_loss: 0.01,
            batch_accuracy: (1.0 - clean / 2.5).clamp(0.0, 1.0) as f32 - 0.03 * rng.next(),
            knobs: knobs(lr),
            images_per_sec: 2000.0,
        });
        if i % PER_EPOCH == 0 {
            out.push(Event::Iterations(std::mem::take(&mut batch)));
            let val = (s.val)(epoch);
            let is_best = val < best;
            best = best.min(val);
            out.push(Event::Evaluation(EvalStats {
                iteration: i,
                epoch,
                train_loss: clean as f32,
                train_accuracy: (1.0 - clean / 2.5) as f32,
                val_loss: val as f32,
                val_accuracy: (1.0 - val / 2.5) as f32,
                confusion: Vec::new(),
                is_best,
            }));
            if val > best * 1.1 && !out.iter().any(|e| matches!(e, Event::Diagnostic(_))) {
                out.push(Event::Diagnostic(Diagnostic {
                    iteration: i,
                    kind: DiagnosticKind::Overfitting,
                    severity: Severity::Warn,
                    title: "overfitting: validation loss rises while training loss falls".into(),
                    evidence: format!("val loss {best:.3} → {val:.3}"),
                    suggestion: "raise λ ×3".into(),
                    action: None,
                }));
            }
        }
    }
    out
}

fn healthy() -> Script {
    Script {
        epochs: 10,
        train: |e| 0.05 + 2.25 * (-e * 2.5).exp() + 0.25 * (-e / 3.0).exp(),
        val: |e| 0.07 + 2.25 * (-e * 2.5).exp() + 0.25 * (-e / 3.0).exp(),
        lr: |_| 0.01,
        spike_at: None,
    }
}

fn overfitting() -> Script {
    Script {
        epochs: 20,
        // train keeps falling; val is best (0.337) at epoch 8 and rises 20% to 0.405 by epoch 20
        train: |e| 0.24 + 2.0 * (-e * 2.0).exp() + 0.1 * (-e / 6.0).exp(),
        val: |e| {
            let base = 0.337 + 2.0 * (-e * 2.0).exp();
            if e <= 8.0 {
                base + 0.02 * (8.0 - e) / 8.0
            } else {
                base + 0.068 * (e - 8.0) / 12.0
            }
        },
        lr: |_| 0.01,
        spike_at: None,
    }
}

fn spike() -> Script {
    Script {
        spike_at: Some(512),
        ..healthy()
    }
}

fn decay() -> Script {
    Script {
        epochs: 100,
        train: |e| 0.05 + 2.25 * (-e * 0.5).exp(),
        val: |e| 0.08 + 2.25 * (-e * 0.5).exp(),
        lr: |e| 0.01 * 0.95f32.powi(e.floor() as i32),
        spike_at: None,
    }
}

fn app(s: &Script) -> App {
    let mut app = App::new(UiOptions {
        fps: 10,
        is_ascii: false,
        color: ColorMode::TrueColor,
    });
    for e in events(s) {
        app.on_event(e);
    }
    app
}

fn draw(app: &App, w: u16, h: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    terminal
        .draw(|f| f.render_widget(app, f.area()))
        .expect("draw");
    terminal.backend().buffer().clone()
}

fn text(b: &Buffer) -> String {
    (0..b.area.height)
        .map(|y| {
            let line: String = (0..b.area.width).map(|x| b[(x, y)].symbol()).collect();
            line.trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The plot cells of the chart whose top border starts with `title`: (rows, columns).
fn plot_of(b: &Buffer, title: &str) -> (std::ops::Range<u16>, std::ops::Range<u16>) {
    let row = |y: u16| -> String { (0..b.area.width).map(|x| b[(x, y)].symbol()).collect() };
    let top = (0..b.area.height)
        .find(|&y| row(y).starts_with(&format!("╭ {title} ")))
        .unwrap_or_else(|| panic!("no {title} chart in\n{}", text(b)));
    let right = (1..b.area.width)
        .find(|&x| b[(x, top)].symbol() == "╮")
        .expect("a right corner");
    // the plot ends at the bottom border, or at the lr strip above it
    let bottom = (top + 1..b.area.height)
        .find(|&y| row(y).starts_with('╰'))
        .expect("a bottom border");
    let end = if row(bottom - 1).starts_with("│    lr ") {
        bottom - 1
    } else {
        bottom
    };
    (top + 1..end, 8..right)
}

fn is_braille(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| ('\u{2801}'..='\u{28ff}').contains(&c))
}

/// Rows holding cells of colour `fg` drawn as `accept` in columns `cols` of the plot.
fn rows_with(b: &Buffer, title: &str, from: f64, fg: Color, accept: fn(&str) -> bool) -> Vec<u16> {
    let (rows, cols) = plot_of(b, title);
    let first = cols.start + ((cols.end - cols.start) as f64 * from) as u16;
    let mut out: Vec<u16> = rows
        .clone()
        .filter(|&y| (first..cols.end).any(|x| b[(x, y)].fg == fg && accept(b[(x, y)].symbol())))
        .collect();
    out.dedup();
    out
}

#[test]
fn a_healthy_run_fills_its_charts() {
    let app = app(&healthy());
    for (w, h) in SIZES {
        let b = draw(&app, w, h);
        let (rows, _) = plot_of(&b, "loss");
        // epoch 1 of 10 ends before 15% of the width (the axis ends at 10 or a little past)
        let train = rows_with(&b, "loss", 0.15, Color::Cyan, is_braille);
        let span = train.iter().max().unwrap() - train.iter().min().unwrap() + 1;
        let total = rows.end - rows.start;
        assert!(
            2 * span >= total,
            "{w}x{h}: train spans {span} of {total} rows\n{}",
            text(&b)
        );
        let acc = rows_with(&b, "accuracy", 0.15, Color::Cyan, is_braille);
        let (arows, _) = plot_of(&b, "accuracy");
        let aspan = acc.iter().max().unwrap() - acc.iter().min().unwrap() + 1;
        assert!(
            2 * aspan >= arows.end - arows.start,
            "{w}x{h}: accuracy spans {aspan}"
        );
        insta::assert_snapshot!(format!("a_healthy_{w}x{h}"), text(&b));
    }
}

#[test]
fn an_overfitting_run_shows_the_rise_the_gap_and_the_mark() {
    let app = app(&overfitting());
    for (w, h) in SIZES {
        let b = draw(&app, w, h);
        let screen = text(&b);
        // the validation points: best at epoch 8, highest at epoch 20
        let (rows, cols) = plot_of(&b, "loss");
        let dots: Vec<(u16, u16)> = rows
            .clone()
            .flat_map(|y| cols.clone().map(move |x| (x, y)))
            .filter(|&(x, y)| b[(x, y)].symbol() == "●" || b[(x, y)].symbol() == "★")
            .collect();
        let best = dots
            .iter()
            .filter(|d| b[**d].symbol() == "★")
            .map(|d| d.1)
            .max();
        let last = dots.iter().max_by_key(|d| d.0).map(|d| d.1);
        let (Some(best), Some(last)) = (best, last) else {
            panic!("{w}x{h}: no best or last evaluation drawn\n{screen}");
        };
        let rise = best - last + 1;
        assert!(
            rise >= 3,
            "{w}x{h}: the 20% rise spans {rise} rows\n{screen}"
        );
        assert!(screen.contains('░'), "{w}x{h}: no gap band\n{screen}");
        assert!(
            screen.contains("overfit"),
            "{w}x{h}: no overfitting mark\n{screen}"
        );
        insta::assert_snapshot!(format!("b_overfitting_{w}x{h}"), screen);
    }
}

#[test]
fn a_spike_does_not_flatten_the_rest() {
    let app = app(&spike());
    for (w, h) in SIZES {
        let b = draw(&app, w, h);
        let (rows, _) = plot_of(&b, "loss");
        let train = rows_with(&b, "loss", 0.15, Color::Cyan, is_braille);
        let span = train.iter().max().unwrap() - train.iter().min().unwrap() + 1;
        let total = rows.end - rows.start;
        assert!(
            2 * span >= total,
            "{w}x{h}: train spans {span} of {total}\n{}",
            text(&b)
        );
        let screen = text(&b);
        assert!(
            screen.contains('▲'),
            "{w}x{h}: the spike is not marked\n{screen}"
        );
        insta::assert_snapshot!(format!("c_spike_{w}x{h}"), screen);
    }
}

#[test]
fn a_schedule_draws_an_lr_strip_not_marks() {
    let app = app(&decay());
    for (w, h) in SIZES {
        let b = draw(&app, w, h);
        let screen = text(&b);
        let (rows, cols) = plot_of(&b, "loss");
        let marks = rows
            .clone()
            .flat_map(|y| cols.clone().map(move |x| (x, y)))
            .filter(|&p| b[p].symbol() == "┊")
            .count();
        assert_eq!(marks, 0, "{w}x{h}: schedule steps drawn as marks\n{screen}");
        let strip: String = (cols.start..cols.end)
            .map(|x| b[(x, rows.end)].symbol())
            .collect();
        let levels: std::collections::BTreeSet<char> =
            strip.chars().filter(|c| ('▁'..='█').contains(c)).collect();
        assert!(levels.len() >= 4, "{w}x{h}: lr strip {strip:?}");
        insta::assert_snapshot!(format!("d_decay_{w}x{h}"), screen);
    }
}

fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
    KeyEvent::new(code, modifiers)
}

#[test]
fn the_cursor_reads_out_an_iteration() {
    let mut app = app(&overfitting());
    assert_eq!(
        app.handle_key(key(KeyCode::Char('i'), KeyModifiers::NONE)),
        None
    );
    // iterations 1..2,000 in 100 steps of ⌊1,999/100⌋ = 19; shift moves 190: 2,000 − 190 − 19
    app.handle_key(key(KeyCode::Left, KeyModifiers::SHIFT));
    app.handle_key(key(KeyCode::Left, KeyModifiers::NONE));
    for (w, h) in SIZES {
        let screen = text(&draw(&app, w, h));
        let footer = screen.lines().last().unwrap_or_default();
        assert!(footer.contains("it 1,791"), "{w}x{h}: {footer}");
        assert!(footer.contains("val 0.39"), "{w}x{h}: {footer}");
        assert!(footer.contains("lr 1.0e-2"), "{w}x{h}: {footer}");
        insta::assert_snapshot!(format!("e_cursor_{w}x{h}"), screen);
    }
    // ← does not step the learning rate while the cursor is shown; Esc leaves
    assert_eq!(app.handle_key(key(KeyCode::Left, KeyModifiers::NONE)), None);
    assert_eq!(app.handle_key(key(KeyCode::Esc, KeyModifiers::NONE)), None);
    let footer = text(&draw(&app, 80, 24));
    assert!(
        !footer.lines().last().unwrap_or_default().contains("it 1,"),
        "{footer}"
    );
    assert!(
        app.handle_key(key(KeyCode::Left, KeyModifiers::NONE))
            .is_some()
    );
}

#[test]
fn zoom_keeps_the_evaluations_and_the_axis_labels() {
    let mut app = app(&overfitting());
    app.handle_key(key(KeyCode::Char('z'), KeyModifiers::NONE));
    let screen = text(&draw(&app, 80, 24));
    assert!(
        !screen.contains("waiting for the first evaluation"),
        "{screen}"
    );
}

#[test]
fn a_roll_back_is_marked_where_it_happened() {
    let back = Event::RolledBack(Rollback {
        iteration: 1_200,
        to: Restore::Best,
        saved_at: Some(800),
    });
    for is_ascii in [false, true] {
        let mut app = App::new(UiOptions {
            fps: 10,
            is_ascii,
            color: ColorMode::TrueColor,
        });
        for e in events(&overfitting()).into_iter().chain([back.clone()]) {
            app.on_event(e);
        }
        let head = if is_ascii { "<" } else { "↶" };
        let label = "back to best @800";
        for (w, h) in SIZES {
            let b = draw(&app, w, h);
            let screen = text(&b);
            if w >= 120 {
                let beside = [format!("{head}{label}"), format!("{label}{head}")];
                assert!(
                    beside.iter().any(|l| screen.contains(l.as_str())),
                    "{w}x{h} ascii {is_ascii}\n{screen}"
                );
            }
            if is_ascii {
                continue;
            }
            // the head sits in the plot's top row, at epoch 12 of 20
            let (rows, cols) = plot_of(&b, "loss");
            let heads: Vec<u16> = cols
                .clone()
                .filter(|&x| b[(x, rows.start)].symbol() == head)
                .collect();
            assert_eq!(heads.len(), 1, "{w}x{h}\n{screen}");
            let at = f64::from(heads[0] - cols.start) / f64::from(cols.end - cols.start);
            assert!(
                (at - 0.6).abs() < 0.06,
                "{w}x{h}: mark at {at:.2}\n{screen}"
            );
        }
    }
}
