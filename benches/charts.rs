//! The Training tab drawn from a 1,000,000-iteration history at 160×48: the charts read the
//! history's min/max blocks and a bounded sample, so a frame costs the same for any run length.

use std::hint::black_box;
use std::time::Duration;

use convtop::train::{EvalStats, Event, IterStats, Knobs, RunInfo, RunState};
use convtop::tui::{App, ColorMode, UiOptions};
use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const ITERATIONS: u64 = 1_000_000;
const PER_EPOCH: u64 = 1_000;

/// A million iterations of a decaying, noisy loss, an evaluation every epoch.
fn long_run() -> App {
    let mut app = App::new(UiOptions {
        fps: 10,
        is_ascii: false,
        color: ColorMode::TrueColor,
    });
    let knobs = Knobs {
        learning_rate: 0.01,
        lambda: 1e-4,
        momentum: 0.9,
        is_nesterov: false,
        batch_size: 64,
        augment_crop: false,
        augment_flip: false,
    };
    app.on_event(Event::Started(Box::new(RunInfo {
        iters_per_epoch: PER_EPOCH,
        total_epochs: (ITERATIONS / PER_EPOCH) as u32,
        knobs,
        ..RunInfo::default()
    })));
    app.on_event(Event::State(RunState::Running));
    let mut seed = 1u64;
    for chunk in 0..ITERATIONS / PER_EPOCH {
        let batch = (1..=PER_EPOCH)
            .map(|k| {
                let i = chunk * PER_EPOCH + k;
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                let noise = (seed >> 40) as f32 / (1u64 << 24) as f32;
                let clean = 0.05 + 2.2 * (-(i as f32) / 50_000.0).exp();
                IterStats {
                    iteration: i,
                    epoch: i as f64 / PER_EPOCH as f64,
                    data_loss: clean * (0.8 + 0.4 * noise),
                    reg_loss: 0.01,
                    batch_accuracy: 1.0 - clean / 2.5,
                    knobs,
                    images_per_sec: 2000.0,
                }
            })
            .collect();
        app.on_event(Event::Iterations(batch));
        let i = (chunk + 1) * PER_EPOCH;
        let clean = 0.05 + 2.2 * (-(i as f32) / 50_000.0).exp();
        app.on_event(Event::Evaluation(EvalStats {
            iteration: i,
            epoch: (chunk + 1) as f64,
            train_loss: clean,
            train_accuracy: 1.0 - clean / 2.5,
            val_loss: clean + 0.03,
            val_accuracy: 1.0 - (clean + 0.03) / 2.5,
            confusion: Vec::new(),
            is_best: true,
        }));
    }
    app
}

fn frame(c: &mut Criterion) {
    let app = long_run();
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).expect("test backend");
    let mut group = c.benchmark_group("charts");
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("training_tab_1m_iterations_160x48", |b| {
        b.iter(|| {
            terminal
                .draw(|f| f.render_widget(black_box(&app), f.area()))
                .expect("draw");
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = frame
}
criterion_main!(benches);
