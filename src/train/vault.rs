//! The test set is a vault: it is evaluated only on request (`convtop test`, or `T` in the
//! dashboard), and every look is appended to `runs/<id>/test-record.jsonl` with its time, the
//! checkpoint and a running count, because each look after the first turns the test score into an
//! optimistic estimate (the model choice has then seen the test data).

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use ndarray::{Array4, s};
use serde::{Deserialize, Serialize};

use super::error::TrainError;
use super::rundir::{self, RunDir, rfc3339_now};
use super::setup::Run;
use crate::data::eval_batch;
use crate::nn::loss::argmax;

pub const TEST_RECORD: &str = "test-record.jsonl";
/// Evaluation batch: nothing is kept for backward, so large batches are cheap.
const TEST_BATCH: usize = 256;

/// One line of `test-record.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestRecord {
    /// UTC, RFC 3339.
    pub time: String,
    /// The checkpoint file whose weights were evaluated, and its iteration.
    pub checkpoint: String,
    pub iteration: u64,
    #[serde(with = "super::finite::f32s")]
    pub loss: f32,
    #[serde(with = "super::finite::f32s")]
    pub accuracy: f32,
    /// Test images evaluated (all of them).
    pub images: usize,
    /// For a run trained with flips: each image's softmax averaged with its mirror's, the
    /// multi-view test of Krizhevsky 2012 with two views. Measured in the same look, so reporting
    /// both numbers is one look at the test set, not two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flipped: Option<FlipViews>,
    /// 1 for the first look at this run's test set, 2 for the second, …
    pub count: u32,
}

/// Loss and accuracy of the two-view (image and mirror) test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FlipViews {
    #[serde(with = "super::finite::f32s")]
    pub loss: f32,
    #[serde(with = "super::finite::f32s")]
    pub accuracy: f32,
}

impl TestRecord {
    /// The false-discovery warning for any look after the first.
    pub fn warning(&self) -> Option<String> {
        (self.count > 1).then(|| {
            format!(
                "test set evaluated {} times on this run: every look after the first makes the score an optimistic estimate (false discovery)",
                self.count
            )
        })
    }

    pub fn summary(&self) -> String {
        let flipped = match self.flipped {
            Some(f) => format!(
                "; averaged with each image's mirror: loss {:.4}, accuracy {:.2}%",
                f.loss,
                100.0 * f.accuracy
            ),
            None => String::new(),
        };
        format!(
            "test loss {:.4}, accuracy {:.2}% on {} images{flipped} ({}, iteration {}; look {} at this test set)",
            self.loss,
            100.0 * self.accuracy,
            self.images,
            self.checkpoint,
            self.iteration,
            self.count
        )
    }
}

/// What one pass over the test split measured: the single view, and the two-view test when the
/// run was trained with flips.
pub struct TestScores {
    pub loss: f32,
    pub accuracy: f32,
    pub flipped: Option<FlipViews>,
}

/// Loss and accuracy of the run's network on every image of the test split, without augmentation;
/// for a run trained with flips, also with each image's softmax averaged with its mirror's.
pub fn evaluate_test(run: &mut Run) -> TestScores {
    let failed = TestScores {
        loss: f32::NAN,
        accuracy: 0.0,
        flipped: None,
    };
    let ds = &run.data;
    let is_flipped = run.augment.is_flip_on;
    let idx: Vec<usize> = (0..ds.test.n).collect();
    let (mut loss_sum, mut correct) = (0.0f64, 0usize);
    let (mut flip_loss_sum, mut flip_correct) = (0.0f64, 0usize);
    let mut x = Array4::zeros((0, 0, 0, 0));
    let mut labels = Vec::new();
    for chunk in idx.chunks(TEST_BATCH) {
        eval_batch(
            ds,
            &ds.test,
            chunk,
            &run.preprocess,
            &run.augment,
            &mut x,
            &mut labels,
        );
        let Ok(out) = run.net.evaluate(&x, &labels) else {
            return failed;
        };
        loss_sum += out.loss * chunk.len() as f64;
        correct += out.correct;
        if is_flipped {
            let mirror = x.slice(s![.., .., .., ..;-1]).to_owned();
            let Ok(back) = run.net.evaluate(&mirror, &labels) else {
                return failed;
            };
            let (loss, right) = two_views(&out.probs, &back.probs, &labels);
            flip_loss_sum += loss;
            flip_correct += right;
        }
    }
    let n = idx.len().max(1) as f64;
    TestScores {
        loss: (loss_sum / n) as f32,
        accuracy: (correct as f64 / n) as f32,
        flipped: is_flipped.then(|| FlipViews {
            loss: (flip_loss_sum / n) as f32,
            accuracy: (flip_correct as f64 / n) as f32,
        }),
    }
}

/// The summed −ln p(label) and the count of right answers of the averaged softmax of two views
/// (`a` and `b`: (n, classes) probabilities, row-major).
fn two_views(a: &[f32], b: &[f32], labels: &[usize]) -> (f64, usize) {
    let classes = a.len() / labels.len().max(1);
    let (mut loss, mut right) = (0.0f64, 0usize);
    for ((ra, rb), &label) in a.chunks(classes).zip(b.chunks(classes)).zip(labels) {
        let mean: Vec<f32> = ra.iter().zip(rb).map(|(p, q)| 0.5 * (p + q)).collect();
        loss -= f64::from(mean[label])
            .max(f64::from(f32::MIN_POSITIVE))
            .ln();
        right += usize::from(argmax(&mean) == label);
    }
    (loss, right)
}

/// Every look recorded so far in run directory `dir` (none if the record does not exist); a
/// damaged line is skipped and counted, with one warning.
pub fn read_record(dir: &Path) -> Result<Vec<TestRecord>, TrainError> {
    let path = dir.join(TEST_RECORD);
    match rundir::read_lines(&path) {
        Ok(lines) => Ok(lines.items),
        Err(TrainError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Ok(Vec::new())
        }
        Err(e) => Err(e),
    }
}

/// Appends `record` as the next look, numbered from what the file holds, under an exclusive
/// `flock` of the file so that concurrent looks get 1, 2, …; fsynced before it returns.
fn append(dir: &RunDir, mut record: TestRecord) -> Result<TestRecord, TrainError> {
    let path = dir.file(TEST_RECORD);
    let io = |source| TrainError::Io {
        path: path.clone(),
        source,
    };
    let mut f = dir.handle()?.open_log(TEST_RECORD)?;
    rundir::flock(&f, libc::LOCK_EX).map_err(io)?;
    let mut bytes = Vec::new();
    f.seek(SeekFrom::Start(0)).map_err(io)?;
    f.read_to_end(&mut bytes).map_err(io)?;
    let before: rundir::Lines<TestRecord> = rundir::parse_lines(&bytes);
    record.count = before.items.iter().map(|r| r.count).max().unwrap_or(0) + 1;
    let line = serde_json::to_string(&record).map_err(|e| TrainError::Config {
        problem: e.to_string(),
    })?;
    // a torn last line (a crash mid-append) must not swallow this one
    let sep = if bytes.last().is_some_and(|&b| b != b'\n') {
        "\n"
    } else {
        ""
    };
    f.write_all(format!("{sep}{line}\n").as_bytes())
        .map_err(io)?;
    f.sync_all().map_err(io)?;
    // closing the file releases the lock
    Ok(record)
}

/// Evaluates the test split with the run's current weights, which are those of `checkpoint`
/// (a file in the run directory) at the run's iteration, and records the look.
pub fn evaluate_and_record(run: &mut Run, checkpoint: &str) -> Result<TestRecord, TrainError> {
    let scores = evaluate_test(run);
    let record = TestRecord {
        time: rfc3339_now(),
        checkpoint: checkpoint.to_string(),
        iteration: run.iteration,
        loss: scores.loss,
        accuracy: scores.accuracy,
        images: run.data.test.n,
        flipped: scores.flipped,
        // counted from what is on disk when appended, so looks from anywhere add up
        count: 0,
    };
    append(&run.dir, record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_views_average_the_softmax_before_the_answer() {
        // image 0: view a says class 0 (0.6), its mirror says class 1 (0.9): the mean (0.35,
        // 0.55, 0.10) says 1, right for label 1, at −ln 0.55.
        // image 1: both views say class 2: the mean (0.1, 0.1, 0.8), wrong for label 0, at
        // −ln 0.1.
        let a = [0.6, 0.2, 0.2, 0.1, 0.1, 0.8];
        let b = [0.1, 0.9, 0.0, 0.1, 0.1, 0.8];
        let (loss, right) = two_views(&a, &b, &[1, 0]);
        assert_eq!(right, 1);
        let expected = -(0.55f64.ln()) - (0.1f64.ln());
        assert!((loss - expected).abs() < 1e-6, "{loss} vs {expected}");
    }
}
