//! Must-show (f): earlier runs in the same chart. Real run directories (config.toml and
//! metrics.jsonl, one of them damaged, one with an unreadable configuration) are read by the
//! runs table (`o`), sorted, two are chosen, and their validation curves are drawn behind the
//! live run; snapshots at 80×24, 120×40 and 160×48.

use std::path::Path;
use std::time::{Duration, Instant};

use convtop::train::rundir::Record;
use convtop::train::{
    EvalStats, Event, IterStats, Knob, KnobChange, KnobSource, Knobs, RunInfo, RunState,
    TrainConfig,
};
use convtop::tui::{App, ColorMode, Mode, UiOptions};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

const SIZES: [(u16, u16); 3] = [(80, 24), (120, 40), (160, 48)];
const PER_EPOCH: u64 = 100;

fn knobs(learning_rate: f32, lambda: f32) -> Knobs {
    Knobs {
        learning_rate,
        lambda,
        momentum: 0.9,
        is_nesterov: false,
        batch_size: 50,
        augment_crop: false,
        augment_flip: false,
    }
}

/// One run's records: `epochs` epochs at 2,000 images/s (batch 50: 0.025 s an iteration), loss
/// `0.1 + 2·e^(−epoch/τ)` on val, an evaluation each epoch; `halve_at` halves the lr by hand.
fn records(epochs: u64, tau: f64, lr: f32, lambda: f32, halve_at: Option<u64>) -> Vec<Record> {
    let mut out = Vec::new();
    let mut k = knobs(lr, lambda);
    for i in 1..=epochs * PER_EPOCH {
        if halve_at == Some(i) {
            let new = k.learning_rate / 2.0;
            out.push(Record::Knob(KnobChange {
                iteration: i,
                knob: Knob::LearningRate,
                old: f64::from(k.learning_rate),
                new: f64::from(new),
                source: KnobSource::Hand,
                reason: None,
            }));
            k.learning_rate = new;
        }
        let epoch = i as f64 / PER_EPOCH as f64;
        let loss = 0.1 + 2.0 * (-epoch / tau).exp();
        out.push(Record::Iter(IterStats {
            iteration: i,
            epoch,
            data_loss: loss as f32,
            reg_loss: 0.01,
            batch_accuracy: (1.0 - loss / 2.5) as f32,
            knobs: k,
            images_per_sec: 2000.0,
        }));
        if i % PER_EPOCH == 0 {
            let val = loss + 0.03;
            out.push(Record::Eval(EvalStats {
                iteration: i,
                epoch,
                train_loss: loss as f32,
                train_accuracy: (1.0 - loss / 2.5) as f32,
                val_loss: val as f32,
                val_accuracy: (1.0 - val / 2.5) as f32,
                confusion: Vec::new(),
                is_best: true,
            }));
        }
    }
    out.push(Record::State {
        iteration: epochs * PER_EPOCH,
        state: RunState::Finished,
    });
    out
}

fn write_run(base: &Path, id: &str, lr: f32, lambda: f32, records: &[Record], damage: bool) {
    let dir = base.join(id);
    std::fs::create_dir_all(&dir).expect("run dir");
    let config = TrainConfig {
        data: "embedded".into(),
        net: "mnist".into(),
        lr,
        lambda,
        ..TrainConfig::default()
    };
    std::fs::write(dir.join("config.toml"), config.to_toml()).expect("config");
    let mut lines: Vec<String> = records
        .iter()
        .map(|r| serde_json::to_string(r).expect("a record"))
        .collect();
    if damage {
        lines.insert(3, "{\"type\":\"iter\",\"iteration\":".into());
    }
    std::fs::write(dir.join("metrics.jsonl"), lines.join("\n") + "\n").expect("metrics");
}

/// The run directory: two finished runs (one halved its lr by hand), one with a damaged line,
/// one whose configuration is not TOML, and the live run's own directory.
fn run_dir(base: &Path) {
    write_run(
        base,
        "20261129-101500-mnist",
        0.01,
        1e-4,
        &records(10, 3.0, 0.01, 1e-4, Some(400)),
        false,
    );
    write_run(
        base,
        "20261129-103000-mnist",
        0.03,
        1e-3,
        &records(6, 1.5, 0.03, 1e-3, None),
        false,
    );
    write_run(
        base,
        "20261129-104500-mnist",
        0.01,
        0.0,
        &records(3, 2.0, 0.01, 0.0, None),
        true,
    );
    let bad = base.join("20261129-110000-mnist");
    std::fs::create_dir_all(&bad).expect("bad dir");
    std::fs::write(bad.join("config.toml"), "this is = not [toml").expect("bad config");
    write_run(
        base,
        "20261129-120000-mnist",
        0.02,
        1e-4,
        &records(1, 2.0, 0.02, 1e-4, None),
        false,
    );
}

/// The live run: 4 of its 8 epochs done, its directory `base/20261129-120000-mnist`.
fn live_app(base: &Path) -> App {
    let mut app = App::new(UiOptions {
        fps: 10,
        is_ascii: false,
        color: ColorMode::TrueColor,
    });
    app.on_event(Event::Started(Box::new(RunInfo {
        run_id: "20261129-120000-mnist".into(),
        run_dir: base.join("20261129-120000-mnist").display().to_string(),
        data_name: "embedded".into(),
        net_spec: "mnist".into(),
        iters_per_epoch: PER_EPOCH,
        total_epochs: 8,
        knobs: knobs(0.02, 1e-4),
        ..RunInfo::default()
    })));
    app.on_event(Event::State(RunState::Running));
    let mut batch = Vec::new();
    for r in records(4, 2.0, 0.02, 1e-4, None) {
        match r {
            Record::Iter(s) => batch.push(s),
            Record::Eval(e) => {
                app.on_event(Event::Iterations(std::mem::take(&mut batch)));
                app.on_event(Event::Evaluation(e));
            }
            _ => {}
        }
    }
    app
}

fn press(app: &mut App, code: KeyCode) {
    app.handle_key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn draw(app: &App, w: u16, h: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    terminal
        .draw(|f| f.render_widget(app, f.area()))
        .expect("draw");
    terminal.backend().buffer().clone()
}

fn text(b: &Buffer, base: &Path) -> String {
    let screen: Vec<String> = (0..b.area.height)
        .map(|y| {
            let line: String = (0..b.area.width).map(|x| b[(x, y)].symbol()).collect();
            line.trim_end().to_string()
        })
        .collect();
    // the temporary directory's name differs from run to run
    screen
        .join("\n")
        .replace(&base.display().to_string(), "runs")
}

/// Opens the runs table and waits for its reader thread.
fn open_table(app: &mut App) {
    press(app, KeyCode::Char('o'));
    assert_eq!(app.mode(), &Mode::Runs);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        app.tick();
        let screen = text(&draw(app, 120, 40), Path::new("/"));
        if !screen.contains("reading the runs") {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the runs table was not read in 10 s");
}

/// The row of the table holding `id`.
fn row_of<'a>(screen: &'a str, id: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.contains(id))
        .unwrap_or_else(|| panic!("no row {id} in\n{screen}"))
}

#[test]
fn the_runs_table_lists_sorts_and_explains_the_run_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = tmp.path().join("runs");
    run_dir(&base);
    let mut app = live_app(&base);
    open_table(&mut app);
    let screen = text(&draw(&app, 120, 40), &base);
    // lr as trained: 0.01 halved by hand at iteration 400; duration 1,000 × 0.025 s = 25 s;
    // best val accuracy 1 − (0.1 + 2e^(−10/3) + 0.03)/2.5 = 1 − 0.2013/2.5 = 0.9195, also the last
    let first = row_of(&screen, "101500-mnist");
    for cell in ["5.0e-3", "1.0e-4", "25s", "91.9%"] {
        assert!(first.contains(cell), "{cell} missing from {first:?}");
    }
    // 6 epochs at lr 0.03: 600 × 0.025 s = 15 s
    assert!(row_of(&screen, "103000-mnist").contains("15s"), "{screen}");
    assert!(
        row_of(&screen, "110000-mnist").contains("bad config"),
        "{screen}"
    );
    assert!(row_of(&screen, "104500-mnist").contains(" ! "), "{screen}");
    assert!(
        row_of(&screen, "120000-mnist").contains('●'),
        "the live run is marked\n{screen}"
    );
    // the highlighted damaged run says what is wrong with it
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Down);
    let damaged = text(&draw(&app, 120, 40), &base);
    assert!(
        damaged.contains("1 damaged line(s) in metrics.jsonl skipped, the first at line 4"),
        "{damaged}"
    );
    press(&mut app, KeyCode::Home);
    for (w, h) in SIZES {
        insta::assert_snapshot!(
            format!("f_runs_table_{w}x{h}"),
            text(&draw(&app, w, h), &base)
        );
    }
    // s cycles the sort column: run, net, data, lr, λ, time, best val (the 6th press), then r
    // reverses: the best validation (103000's 93.3%) first, the run without one still last
    for _ in 0..6 {
        press(&mut app, KeyCode::Char('s'));
    }
    press(&mut app, KeyCode::Char('r'));
    let sorted = text(&draw(&app, 120, 40), &base);
    assert!(sorted.contains("best val▼"), "{sorted}");
    let order: Vec<&str> = sorted
        .lines()
        .filter(|l| l.contains("-mnist ") && !l.contains("epochs"))
        .collect();
    assert!(order[0].contains("103000-mnist"), "{sorted}");
    assert!(
        order.last().is_some_and(|l| l.contains("bad config")),
        "{sorted}"
    );
}

#[test]
fn two_earlier_runs_are_drawn_behind_the_live_one() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = tmp.path().join("runs");
    run_dir(&base);
    let mut app = live_app(&base);
    open_table(&mut app);
    // rows by id: 101500, 103000, 104500 (damaged), 110000 (bad config), 120000 (live)
    press(&mut app, KeyCode::Char(' '));
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Enter);
    // neither the unreadable run nor the live run can be drawn behind
    press(&mut app, KeyCode::End);
    press(&mut app, KeyCode::Char(' '));
    press(&mut app, KeyCode::Up);
    press(&mut app, KeyCode::Char(' '));
    assert_eq!(app.overlays().len(), 2);
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.mode(), &Mode::Normal);
    for (w, h) in SIZES {
        let b = draw(&app, w, h);
        let screen = text(&b, &base);
        let legend = screen.lines().nth(4).unwrap_or_default();
        assert!(
            legend.contains("1 101500-mnist") && legend.contains("2 103000-mnist"),
            "{w}x{h}: legend {legend:?}\n{screen}"
        );
        // the earlier runs' evaluations, numbered in their colours, in both charts
        let cells = |d: &str| -> Vec<(u16, u16)> {
            (5..b.area.height)
                .flat_map(|y| (8..b.area.width).map(move |x| (x, y)))
                .filter(|&p| b[p].symbol() == d && b[p].fg != ratatui::style::Color::Reset)
                .collect()
        };
        let (ones, twos) = (cells("1"), cells("2"));
        assert!(
            ones.len() >= 10,
            "{w}x{h}: run 1 drawn {} times\n{screen}",
            ones.len()
        );
        assert!(
            twos.len() >= 6,
            "{w}x{h}: run 2 drawn {} times\n{screen}",
            twos.len()
        );
        // the axis reaches the end of the longest (10 epochs against the live run's 4): run 1's
        // last evaluation is at the right edge of the charts
        let right = ones.iter().map(|p| p.0).max().unwrap_or(0);
        let charts_right = (0..b.area.width)
            .find(|&x| b[(x, 5)].symbol() == "╮")
            .expect("the loss chart's corner");
        assert!(
            right + 3 >= charts_right,
            "{w}x{h}: run 1 ends at {right}\n{screen}"
        );
        insta::assert_snapshot!(format!("f_overlay_{w}x{h}"), screen);
    }
    // c in the table stops drawing them
    press(&mut app, KeyCode::Char('o'));
    press(&mut app, KeyCode::Char('c'));
    assert!(app.overlays().is_empty());
}
