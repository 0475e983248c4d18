//! The history's smoothing, thinning, de-duplication and resume handling.

use super::*;
use crate::train::{Knob, KnobSource, Knobs};

fn iter(i: u64, loss: f32) -> IterStats {
    IterStats {
        iteration: i,
        epoch: i as f64 / 100.0,
        data_loss: loss,
        reg_loss: 0.0,
        batch_accuracy: 0.5,
        knobs: Knobs::default(),
        images_per_sec: 1.0,
    }
}

#[test]
fn smoothing_is_debiased() {
    // First point: last = 0.4·y, debias = 1 − 0.6 = 0.4, so the first value is y itself.
    for v in smooth([2.0, 2.0, 2.0].into_iter(), 0.6) {
        assert!((v - 2.0).abs() < 1e-12);
    }
    // last = 0.5·1 = 0.5 after two points; debias = 1 − 0.25 = 0.75; 0.5/0.75 = 2/3.
    let s = smooth([0.0, 1.0].into_iter(), 0.5);
    assert!((s[1] - 2.0 / 3.0).abs() < 1e-12);
}

#[test]
fn the_incremental_smoothing_matches_the_whole_series_one() {
    let mut h = RunHistory::new(0.9);
    let losses: Vec<f32> = (0..1000).map(|i| 1.0 + ((i * 7) % 13) as f32).collect();
    for (i, &l) in losses.iter().enumerate() {
        h.push_iter(iter(i as u64 + 1, l));
    }
    let whole = smooth(losses.iter().map(|&l| f64::from(l)), 0.9);
    for (i, w) in whole.iter().enumerate() {
        assert!((f64::from(h.value(Series::SmoothedLoss, i)) - w).abs() < 1e-4);
    }
    h.set_smoothing(0.0);
    assert_eq!(h.value(Series::SmoothedLoss, 5), losses[5]);
}

#[test]
fn thinning_keeps_a_spike_and_stays_bounded() {
    let mut h = RunHistory::default();
    for i in 0..100_000u64 {
        let loss = if i == 54_321 { 1e20 } else { (i % 7) as f32 };
        h.push_iter(iter(i + 1, loss));
    }
    let kept = h.thinned(Series::Loss, 0, h.len(), 80);
    assert!(kept.len() <= 160, "{}", kept.len());
    assert!(kept.contains(&54_321));
    assert!(kept.windows(2).all(|w| w[0] < w[1]));
    // a window inside the run: the spike is in it, the bound holds
    let kept = h.thinned(Series::Loss, 50_000, 60_000, 10);
    assert!(kept.contains(&54_321) && kept.len() <= 20);
    // every column's lowest value (0) is there too
    let zeros = kept
        .iter()
        .filter(|&&i| h.value(Series::Loss, i) == 0.0)
        .count();
    assert_eq!(zeros, 10);
}

#[test]
fn small_series_thin_the_same_way() {
    let points: Vec<(f64, f64)> = (0..10_000)
        .map(|i| (i as f64, if i == 5_000 { 100.0 } else { (i % 7) as f64 }))
        .collect();
    let thinned = thin(&points, 80);
    assert!(thinned.len() <= 160);
    assert!(thinned.iter().any(|p| p.1 == 100.0));
    assert!(thinned.windows(2).all(|w| w[0].0 <= w[1].0));
}

#[test]
fn repeats_from_an_overlapping_backlog_are_ignored() {
    let mut h = RunHistory::default();
    let knob = KnobChange {
        iteration: 2,
        knob: Knob::Lambda,
        old: 1e-4,
        new: 1e-3,
        source: KnobSource::Hand,
        reason: None,
    };
    h.push_record(&Record::Iter(iter(1, 1.0)));
    h.push_record(&Record::Iter(iter(2, 1.0)));
    h.push_record(&Record::Knob(knob.clone()));
    assert!(!h.push_event(&Event::KnobChanged(knob)));
    assert!(h.push_event(&Event::Iterations(vec![iter(2, 9.0), iter(3, 1.0)])));
    let seen: Vec<u64> = h.iters().iter().map(|s| s.iteration).collect();
    assert_eq!(seen, vec![1, 2, 3]);
    assert_eq!(
        h.value(Series::Loss, 1),
        1.0,
        "the file's iteration 2 stays"
    );
    assert_eq!(h.knob_changes.len(), 1);
}

#[test]
fn a_resume_drops_what_came_after_the_checkpoint() {
    let mut records: Vec<Record> = (1..=50).map(|i| Record::Iter(iter(i, 2.0))).collect();
    records.push(Record::Resume { iteration: 40 });
    records.extend((41..=45).map(|i| Record::Iter(iter(i, 1.0))));
    let h = RunHistory::from_records(&records);
    assert_eq!(h.len(), 45);
    assert_eq!(h.value(Series::Loss, 44), 1.0);
    assert_eq!(h.last.map(|s| s.iteration), Some(45));
}

#[test]
fn roll_backs_are_kept_once_and_a_resume_before_one_drops_it() {
    let back = |iteration, saved_at| Rollback {
        iteration,
        to: crate::train::Restore::Best,
        saved_at,
    };
    let mut records: Vec<Record> = (1..=50).map(|i| Record::Iter(iter(i, 2.0))).collect();
    records.insert(30, Record::Rollback(back(30, Some(20))));
    records.push(Record::Rollback(back(50, Some(20))));
    let h = RunHistory::from_records(&records);
    assert_eq!(h.rollbacks, vec![back(30, Some(20)), back(50, Some(20))]);
    assert_eq!(rollback_label(&h.rollbacks[0]), "back to best @20");
    // a viewer's backlog repeats what the file holds; the live event adds nothing
    let mut h = h;
    assert!(!h.push_event(&Event::RolledBack(back(50, Some(20)))));
    assert_eq!(h.rollbacks.len(), 2);
    // and sends it on to a viewer that connects late
    let sent = h.backlog(100);
    let sent: Vec<&Event> = sent
        .iter()
        .filter(|e| matches!(e, Event::RolledBack(_)))
        .collect();
    assert_eq!(sent.len(), 2);
    // resumed from iteration 40: the roll-back at 50 did not happen in this history
    records.push(Record::Resume { iteration: 40 });
    let h = RunHistory::from_records(&records);
    assert_eq!(h.rollbacks, vec![back(30, Some(20))]);
}

#[test]
fn nearest_points_and_epochs() {
    let mut h = RunHistory::default();
    for i in [10, 20, 30] {
        h.push_iter(iter(i, 1.0));
    }
    assert_eq!(h.nearest(0), Some(0));
    assert_eq!(h.nearest(14), Some(0));
    assert_eq!(h.nearest(16), Some(1));
    assert_eq!(h.nearest(99), Some(2));
    assert!((h.epoch_at(25) - 0.25).abs() < 1e-12);
}

#[test]
fn the_backlog_is_bounded_and_keeps_the_spike() {
    let mut h = RunHistory::default();
    for i in 1..=50_000u64 {
        h.push_iter(iter(i, if i == 777 { 1e20 } else { 1.0 }));
    }
    let events = h.backlog(2_000);
    let Some(Event::Iterations(b)) = events.last() else {
        panic!("no iterations in {events:?}");
    };
    assert!(b.len() <= 2_000);
    assert!(b.iter().any(|s| s.iteration == 777));
}

#[test]
fn log_ticks_are_decades_then_2_and_5() {
    use super::scale::log_ticks;
    // 8.49e-5 .. 6.34 spans five decades: the ticks are the decades inside
    let ticks = log_ticks(8.49e-5f64.log10(), 6.34f64.log10(), 6);
    assert_eq!(ticks, vec![1e-4, 1e-3, 1e-2, 1e-1, 1.0]);
    // 0.023 .. 0.6: one decade inside, so 2 and 5 steps join it
    let ticks = log_ticks(0.023f64.log10(), 0.6f64.log10(), 6);
    for t in &ticks {
        let m = t / 10f64.powf(t.log10().floor());
        assert!([1.0, 2.0, 5.0].iter().any(|r| (m - r).abs() < 1e-9), "{t}");
    }
    assert!(ticks.len() >= 2, "{ticks:?}");
}

#[test]
fn linear_ticks_are_round_and_unique() {
    use super::scale::linear_ticks;
    assert_eq!(linear_ticks(0.23, 1.07, 5), vec![0.4, 0.6, 0.8, 1.0]);
    let ticks = linear_ticks(96.3, 99.8, 4);
    assert_eq!(ticks, vec![97.0, 98.0, 99.0]);
}

#[test]
fn the_range_ignores_a_spike_and_the_transient_but_keeps_evaluations() {
    use super::scale::{Tail, fit};
    // a loss settling from 2.3 to ~0.3 with one 1e20 spike; evaluations at 0.35 and 0.42
    let raw: Vec<f64> = (0..1000)
        .map(|i| {
            if i == 500 {
                1e20
            } else {
                0.3 + 2.0 * (-(i as f64) / 20.0).exp()
            }
        })
        .collect();
    let s = fit(
        &[&raw],
        &[0.35, 0.42],
        Tail::High,
        false,
        false,
        (Some(0.0), None),
    );
    assert!(s.lo > 0.2 && s.lo < 0.31, "{s:?}");
    assert!(s.hi > 0.42 && s.hi < 0.6, "{s:?}");
    let full = fit(
        &[&raw],
        &[0.35, 0.42],
        Tail::High,
        false,
        true,
        (Some(0.0), None),
    );
    assert!(full.hi >= 1e20, "{full:?}");
}
