//! Training / validation splits and k-fold cross-validation, stratified by class and seeded.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::error::DataError;

/// Indices into `dataset.train`, each sorted; the two are disjoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    pub train: Vec<usize>,
    pub val: Vec<usize>,
}

/// Indices of each class, each list shuffled by `seed`.
fn shuffled_by_class(
    labels: &[u8],
    num_classes: usize,
    seed: u64,
) -> Result<Vec<Vec<usize>>, DataError> {
    let mut by_class = vec![Vec::new(); num_classes];
    for (i, &label) in labels.iter().enumerate() {
        let class = by_class
            .get_mut(label as usize)
            .ok_or_else(|| DataError::Split {
                problem: format!(
                    "label {label} of item {i} is not below the {num_classes} classes"
                ),
            })?;
        class.push(i);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for class in &mut by_class {
        class.shuffle(&mut rng);
    }
    Ok(by_class)
}

/// Holds out `round(val_frac * n_k)` items of each class k as validation.
pub fn stratified_split(
    labels: &[u8],
    num_classes: usize,
    val_frac: f64,
    seed: u64,
) -> Result<Split, DataError> {
    if !(0.0..1.0).contains(&val_frac) {
        return Err(DataError::Split {
            problem: format!("validation fraction {val_frac} must be in [0, 1)"),
        });
    }
    let mut split = Split {
        train: Vec::with_capacity(labels.len()),
        val: Vec::new(),
    };
    for class in shuffled_by_class(labels, num_classes, seed)? {
        let n_val = (val_frac * class.len() as f64).round() as usize;
        split.val.extend_from_slice(&class[..n_val]);
        split.train.extend_from_slice(&class[n_val..]);
    }
    split.train.sort_unstable();
    split.val.sort_unstable();
    Ok(split)
}

/// `k` splits whose validation parts partition `0..labels.len()`, each class dealt round-robin
/// over the folds so every fold holds about `n_k / k` items of class k.
pub fn kfold(
    labels: &[u8],
    num_classes: usize,
    k: usize,
    seed: u64,
) -> Result<Vec<Split>, DataError> {
    if k < 2 || k > labels.len() {
        return Err(DataError::Split {
            problem: format!(
                "k = {k} folds needs 2 <= k <= {} (the number of items)",
                labels.len()
            ),
        });
    }
    let mut fold_of = vec![0usize; labels.len()];
    let mut next_fold = 0;
    for class in shuffled_by_class(labels, num_classes, seed)? {
        for i in class {
            fold_of[i] = next_fold;
            next_fold = (next_fold + 1) % k;
        }
    }
    let splits = (0..k)
        .map(|fold| {
            let (val, train): (Vec<usize>, Vec<usize>) =
                (0..labels.len()).partition(|&i| fold_of[i] == fold);
            Split { train, val }
        })
        .collect();
    Ok(splits)
}

/// How many of `idx` fall in each class.
pub fn class_counts(labels: &[u8], idx: &[usize], num_classes: usize) -> Vec<usize> {
    let mut counts = vec![0; num_classes];
    for &i in idx {
        if let Some(count) = counts.get_mut(labels[i] as usize) {
            *count += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 3 classes of 100, 50 and 10 items, interleaved.
    fn labels() -> Vec<u8> {
        let mut labels = Vec::new();
        for i in 0..100 {
            labels.push(0);
            if i % 2 == 0 {
                labels.push(1);
            }
            if i % 10 == 0 {
                labels.push(2);
            }
        }
        labels
    }

    #[test]
    fn stratified_split_keeps_class_proportions() {
        let labels = labels();
        let split = stratified_split(&labels, 3, 0.1, 7).unwrap();
        assert_eq!(class_counts(&labels, &split.val, 3), vec![10, 5, 1]);
        assert_eq!(class_counts(&labels, &split.train, 3), vec![90, 45, 9]);
    }

    #[test]
    fn split_is_disjoint_complete_and_seeded() {
        let labels = labels();
        let split = stratified_split(&labels, 3, 0.2, 1).unwrap();
        let mut all: Vec<usize> = split.train.iter().chain(&split.val).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..labels.len()).collect::<Vec<_>>());
        assert_eq!(split, stratified_split(&labels, 3, 0.2, 1).unwrap());
        assert_ne!(split.val, stratified_split(&labels, 3, 0.2, 2).unwrap().val);
    }

    #[test]
    fn kfold_uses_every_index_once_as_validation() {
        let labels = labels();
        let folds = kfold(&labels, 3, 5, 3).unwrap();
        let mut seen = vec![0; labels.len()];
        for fold in &folds {
            assert_eq!(fold.train.len() + fold.val.len(), labels.len());
            assert!(
                fold.val
                    .iter()
                    .all(|i| fold.train.binary_search(i).is_err())
            );
            for &i in &fold.val {
                seen[i] += 1;
            }
            // 100 / 5 = 20 of class 0, 50 / 5 = 10 of class 1, 10 / 5 = 2 of class 2
            assert_eq!(class_counts(&labels, &fold.val, 3), vec![20, 10, 2]);
        }
        assert!(seen.iter().all(|&s| s == 1));
    }

    #[test]
    fn bad_split_arguments_are_errors() {
        let labels = labels();
        assert!(stratified_split(&labels, 3, 1.0, 0).is_err());
        assert!(
            stratified_split(&labels, 2, 0.1, 0)
                .unwrap_err()
                .to_string()
                .contains("label 2")
        );
        assert!(kfold(&labels, 3, 1, 0).is_err());
    }
}
