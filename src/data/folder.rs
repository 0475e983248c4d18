//! A folder of images, one sub-folder per class: `ROOT/train/<class>/*` and `ROOT/test/<class>/*`,
//! or a single `ROOT/<class>/*` from which a stratified test split is held out here. Any format the
//! `image` crate reads; decoded in parallel; grey when no image has colour, RGB otherwise.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use rayon::prelude::*;

use super::error::DataError;
use super::source::{Dataset, ImageSet, LoadOptions};
use super::split::stratified_split;

/// Fraction of a single-level folder held out as the test split, and the seed of that split.
pub const FOLDER_TEST_FRACTION: f64 = 0.2;
pub const FOLDER_TEST_SEED: u64 = 0;

/// Whether `path` names an image this build can decode, by its extension (as PyTorch's
/// ImageFolder decides: `notes.txt` beside the images is skipped, not a load failure).
fn is_image_file(path: &Path) -> bool {
    image::ImageFormat::from_path(path).is_ok_and(|f| f.reading_enabled())
}

/// The class folders of `root` (sorted) and, for each, its image files (sorted); files that are
/// not images are added to `skipped`.
fn list_classes(
    root: &Path,
    skipped: &mut Vec<PathBuf>,
) -> Result<Vec<(String, Vec<PathBuf>)>, DataError> {
    let mut classes = Vec::new();
    for entry in read_dir_sorted(root)? {
        if entry.is_dir() {
            let name = entry
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let (files, others): (Vec<PathBuf>, Vec<PathBuf>) = read_dir_sorted(&entry)?
                .into_iter()
                .filter(|p| p.is_file())
                .partition(|p| is_image_file(p));
            skipped.extend(others);
            if files.is_empty() {
                return Err(DataError::EmptyClass { path: entry });
            }
            classes.push((name, files));
        }
    }
    if classes.is_empty() {
        return Err(DataError::NotFound {
            path: root.to_path_buf(),
            what: "class folders".to_string(),
            hint: "an image folder holds one sub-folder of images per class, or train/ and test/ folders that do".to_string(),
        });
    }
    Ok(classes)
}

/// Entries of `dir` that are not hidden, sorted by name.
fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))? {
        let entry = entry.map_err(|e| DataError::io(dir, e))?;
        if !entry.file_name().to_string_lossy().starts_with('.') {
            paths.push(entry.path());
        }
    }
    paths.sort();
    Ok(paths)
}

/// Decodes one image to RGB8 of size (w, h) into `out` (3, h, w); returns whether it has colour.
fn decode_into(
    path: &Path,
    size: (usize, usize),
    resize: bool,
    out: &mut [u8],
) -> Result<bool, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let image = image::load_from_memory(&bytes).map_err(|source| DataError::NotImage {
        path: path.to_path_buf(),
        source,
    })?;
    let is_colour = image.color().has_color();
    let (w, h) = size;
    let mut rgb = image.to_rgb8();
    if (rgb.width() as usize, rgb.height() as usize) != (w, h) {
        if !resize {
            return Err(DataError::MixedSizes {
                path: path.to_path_buf(),
                want_w: w,
                want_h: h,
                got_w: rgb.width() as usize,
                got_h: rgb.height() as usize,
            });
        }
        rgb = image::imageops::resize(&rgb, w as u32, h as u32, FilterType::Triangle);
    }
    let plane = h * w;
    for (i, pixel) in rgb.pixels().enumerate() {
        for ch in 0..3 {
            out[ch * plane + i] = pixel.0[ch];
        }
    }
    Ok(is_colour)
}

/// Decodes `files` in parallel into one (n, 3, h, w) buffer; returns it and whether any had colour.
fn decode_all(
    files: &[(PathBuf, u8)],
    size: (usize, usize),
    resize: bool,
) -> Result<(Vec<u8>, bool), DataError> {
    let chw = 3 * size.0 * size.1;
    let mut images = vec![0u8; files.len() * chw];
    let colours = images
        .par_chunks_mut(chw)
        .zip(files.par_iter())
        .map(|(out, (path, _))| decode_into(path, size, resize, out))
        .collect::<Result<Vec<bool>, DataError>>()?;
    Ok((images, colours.into_iter().any(|c| c)))
}

/// Keeps channel 0 of each (3, h, w) image: for grey images the three are equal.
fn to_grey(images: &mut Vec<u8>, plane: usize) {
    let n = images.len() / (3 * plane);
    for i in 0..n {
        images.copy_within(3 * i * plane..(3 * i + 1) * plane, i * plane);
    }
    images.truncate(n * plane);
    images.shrink_to_fit();
}

fn labelled_files(classes: &[(String, Vec<PathBuf>)]) -> Vec<(PathBuf, u8)> {
    let mut files = Vec::new();
    for (label, (_, paths)) in classes.iter().enumerate() {
        files.extend(paths.iter().map(|p| (p.clone(), label as u8)));
    }
    files
}

fn check_same_classes(
    root: &Path,
    train: &[(String, Vec<PathBuf>)],
    test: &[(String, Vec<PathBuf>)],
) -> Result<(), DataError> {
    let names = |c: &[(String, Vec<PathBuf>)]| c.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    if names(train) != names(test) {
        return Err(DataError::format(
            root.join("test"),
            format!(
                "test classes {:?} differ from training classes {:?}; both folders need the same class sub-folders",
                names(test),
                names(train)
            ),
        ));
    }
    Ok(())
}

pub(crate) fn load_dir(root: &Path, opts: &LoadOptions) -> Result<Dataset, DataError> {
    DataError::require_folder(
        root,
        "one sub-folder of images per class (or train/ and test/ with those inside)",
    )?;
    let has_train_test = root.join("train").is_dir();
    let mut skipped = Vec::new();
    let train_classes = list_classes(
        &if has_train_test {
            root.join("train")
        } else {
            root.to_path_buf()
        },
        &mut skipped,
    )?;
    let test_classes = if has_train_test && root.join("test").is_dir() {
        let test = list_classes(&root.join("test"), &mut skipped)?;
        check_same_classes(root, &train_classes, &test)?;
        Some(test)
    } else {
        None
    };
    if train_classes.len() > 256 {
        return Err(DataError::format(
            root,
            format!("{} classes; at most 256 are supported", train_classes.len()),
        ));
    }
    let train_files = labelled_files(&train_classes);
    let test_files = test_classes
        .as_deref()
        .map(labelled_files)
        .unwrap_or_default();

    let size = match opts.resize {
        Some(size) => size,
        None => {
            let first = &train_files[0].0;
            let (w, h) = image::image_dimensions(first).map_err(|source| DataError::NotImage {
                path: first.clone(),
                source,
            })?;
            (w as usize, h as usize)
        }
    };
    let resize = opts.resize.is_some();
    let (mut train_images, train_colour) = decode_all(&train_files, size, resize)?;
    let (mut test_images, test_colour) = decode_all(&test_files, size, resize)?;
    let (w, h) = size;
    let c = if train_colour || test_colour { 3 } else { 1 };
    if c == 1 {
        to_grey(&mut train_images, h * w);
        to_grey(&mut test_images, h * w);
    }
    let set = |images: Vec<u8>, files: &[(PathBuf, u8)]| ImageSet {
        images,
        labels: files.iter().map(|(_, l)| *l).collect(),
        n: files.len(),
    };
    let mut train = set(train_images, &train_files);
    let mut test = set(test_images, &test_files);
    let classes: Vec<String> = train_classes.into_iter().map(|(name, _)| name).collect();
    let mut notes = Vec::new();
    if test_classes.is_none() {
        let split = stratified_split(
            &train.labels,
            classes.len(),
            FOLDER_TEST_FRACTION,
            FOLDER_TEST_SEED,
        )?;
        test = train.gather(&split.val, c * h * w);
        train = train.gather(&split.train, c * h * w);
        notes.push(format!(
            "{} has no test/ folder: a test split of {} images ({:.0}% of each class) was carved \
             from the training images",
            root.display(),
            test.n,
            100.0 * FOLDER_TEST_FRACTION
        ));
    }
    let mut warnings = Vec::new();
    if let Some(first) = skipped.first() {
        warnings.push(format!(
            "skipped {} file(s) that are not images (by their extension), e.g. {}",
            skipped.len(),
            first.display()
        ));
    }
    let name = root.file_name().map_or_else(
        || root.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok(Dataset {
        name,
        classes,
        c,
        h,
        w,
        train,
        test,
        notes,
        warnings,
    })
}
