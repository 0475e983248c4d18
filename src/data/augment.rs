//! Live augmentation of training images: random crops with jittered offsets and horizontal
//! reflection. Applied after preprocessing, so padding is 0 in preprocessed units (the mean, when
//! the mean is subtracted).

use std::fmt;
use std::str::FromStr;

use rand::RngCore;

use super::error::DataError;
use super::source::Dataset;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CropMode {
    #[default]
    None,
    /// Pad `pad` zeros on every side, then crop back to the input size at a random offset.
    PadCrop { pad: usize },
    /// Crop an h x w window at a random offset; evaluation takes the centre window.
    Window { h: usize, w: usize },
}

const CROPS: &str = "expected none, padN (e.g. pad4) or WxH (e.g. 24x24)";

impl FromStr for CropMode {
    type Err = DataError;

    fn from_str(s: &str) -> Result<CropMode, DataError> {
        let error = || DataError::Spec {
            what: "crop",
            value: s.to_string(),
            problem: CROPS.to_string(),
        };
        if s == "none" {
            return Ok(CropMode::None);
        }
        if let Some(pad) = s.strip_prefix("pad") {
            let pad = pad.parse().map_err(|_| error())?;
            return Ok(CropMode::PadCrop { pad });
        }
        let (w, h) = s.split_once('x').ok_or_else(error)?;
        let (w, h): (usize, usize) = (
            w.parse().map_err(|_| error())?,
            h.parse().map_err(|_| error())?,
        );
        if w == 0 || h == 0 {
            return Err(error());
        }
        Ok(CropMode::Window { h, w })
    }
}

impl fmt::Display for CropMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CropMode::None => write!(f, "none"),
            CropMode::PadCrop { pad } => write!(f, "pad{pad}"),
            CropMode::Window { h, w } => write!(f, "{w}x{h}"),
        }
    }
}

/// The augmentation of training batches; the switches change at run time, the crop mode does not
/// (it fixes the network's input shape).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Augment {
    pub crop: CropMode,
    /// Off: the identity for pad-crop, the centre window for window crops.
    pub is_crop_on: bool,
    pub is_flip_on: bool,
}

/// Where one image's crop starts in the padded image, and whether it is mirrored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Jitter {
    pub dy: usize,
    pub dx: usize,
    pub is_flipped: bool,
}

impl Augment {
    /// Crops on if `crop` is not `None`; flips on for natural (colour) images, off for digits.
    pub fn new(crop: CropMode, ds: &Dataset) -> Augment {
        Augment {
            crop,
            is_crop_on: crop != CropMode::None,
            is_flip_on: ds.is_natural_images(),
        }
    }

    /// The network's input shape for images of (c, h, w); a window larger than the image is clamped.
    pub fn output_shape(&self, c: usize, h: usize, w: usize) -> (usize, usize, usize) {
        match self.crop {
            CropMode::Window { h: wh, w: ww } => (c, wh.min(h), ww.min(w)),
            CropMode::None | CropMode::PadCrop { .. } => (c, h, w),
        }
    }

    /// Fails when the crop does not fit images of h x w; call it when building a run.
    pub fn validate(&self, h: usize, w: usize) -> Result<(), DataError> {
        if let CropMode::Window { h: wh, w: ww } = self.crop
            && (wh > h || ww > w)
        {
            return Err(DataError::Spec {
                what: "crop",
                value: self.crop.to_string(),
                problem: format!(
                    "the window is larger than the {w}x{h} images; pick a window of at most {w}x{h}"
                ),
            });
        }
        Ok(())
    }

    /// (pad, range_y, range_x): offsets run over 0..=range in an image padded by `pad`.
    fn offsets(&self, h: usize, w: usize) -> (usize, usize, usize) {
        let (_, oh, ow) = self.output_shape(1, h, w);
        match self.crop {
            CropMode::PadCrop { pad } => (pad, 2 * pad, 2 * pad),
            CropMode::None | CropMode::Window { .. } => (0, h - oh, w - ow),
        }
    }

    /// The crop used at evaluation (and for training when crops are off): centred, not mirrored.
    pub(crate) fn centre(&self, h: usize, w: usize) -> Jitter {
        let (_, range_y, range_x) = self.offsets(h, w);
        Jitter {
            dy: range_y / 2,
            dx: range_x / 2,
            is_flipped: false,
        }
    }

    /// A random jitter; always draws one u64, so switching crops or flips keeps the stream aligned.
    pub(crate) fn draw(&self, rng: &mut impl RngCore, h: usize, w: usize) -> Jitter {
        let r = rng.next_u64();
        let (_, range_y, range_x) = self.offsets(h, w);
        let mut jitter = self.centre(h, w);
        if self.is_crop_on {
            jitter.dy = (r & 0xff_ffff) as usize % (range_y + 1);
            jitter.dx = ((r >> 24) & 0xff_ffff) as usize % (range_x + 1);
        }
        jitter.is_flipped = self.is_flip_on && (r >> 63) == 1;
        jitter
    }

    pub(crate) fn is_identity(&self, jitter: Jitter, h: usize, w: usize) -> bool {
        let (pad, _, _) = self.offsets(h, w);
        self.output_shape(1, h, w) == (1, h, w)
            && jitter.dy == pad
            && jitter.dx == pad
            && !jitter.is_flipped
    }

    /// Crops (and mirrors) `src` (c, h, w) into `out` (c, oh, ow) as `jitter` says.
    pub(crate) fn crop_into(
        &self,
        src: &[f32],
        (c, h, w): (usize, usize, usize),
        jitter: Jitter,
        out: &mut [f32],
    ) {
        let (_, oh, ow) = self.output_shape(c, h, w);
        let (pad, _, _) = self.offsets(h, w);
        // Output (y, x) reads source (y + dy - pad, x + dx - pad); outside the image it is 0.
        let x_lo = pad.saturating_sub(jitter.dx).min(ow);
        let x_hi = (w + pad).saturating_sub(jitter.dx).clamp(x_lo, ow);
        for ch in 0..c {
            for y in 0..oh {
                let row = &mut out[(ch * oh + y) * ow..(ch * oh + y + 1) * ow];
                let sy = (y + jitter.dy).checked_sub(pad).filter(|&sy| sy < h);
                match sy {
                    Some(sy) if x_lo < x_hi => {
                        let sx = x_lo + jitter.dx - pad;
                        let start = (ch * h + sy) * w + sx;
                        row[..x_lo].fill(0.0);
                        row[x_lo..x_hi].copy_from_slice(&src[start..start + (x_hi - x_lo)]);
                        row[x_hi..].fill(0.0);
                    }
                    _ => row.fill(0.0),
                }
                if jitter.is_flipped {
                    row.reverse();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_mode_round_trips() {
        for spec in ["none", "pad4", "24x24", "28x20"] {
            assert_eq!(spec.parse::<CropMode>().unwrap().to_string(), spec);
        }
        assert_eq!(
            "28x20".parse::<CropMode>().unwrap(),
            CropMode::Window { h: 20, w: 28 }
        );
        for bad in ["pad", "24", "0x3", "axb", "pad-1"] {
            assert!(
                bad.parse::<CropMode>()
                    .unwrap_err()
                    .to_string()
                    .contains("padN"),
                "{bad}"
            );
        }
    }

    fn aug(crop: CropMode, is_flip_on: bool) -> Augment {
        Augment {
            crop,
            is_crop_on: true,
            is_flip_on,
        }
    }

    #[test]
    fn pad_crop_shifts_in_zeros() {
        // 1x2x3 image, pad 1, offset (dy, dx) = (0, 2): out(y, x) = src(y - 1, x + 1)
        let src = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let a = aug(CropMode::PadCrop { pad: 1 }, false);
        let mut out = [9.0; 6];
        let jitter = Jitter {
            dy: 0,
            dx: 2,
            is_flipped: false,
        };
        a.crop_into(&src, (1, 2, 3), jitter, &mut out);
        assert_eq!(out, [0.0, 0.0, 0.0, 2.0, 3.0, 0.0]);
        let mut flipped = [9.0; 6];
        a.crop_into(
            &src,
            (1, 2, 3),
            Jitter {
                is_flipped: true,
                ..jitter
            },
            &mut flipped,
        );
        assert_eq!(flipped, [0.0, 0.0, 0.0, 0.0, 3.0, 2.0]);
    }

    #[test]
    fn window_crop_takes_the_centre_at_evaluation() {
        // 1x4x4 image holding 0..16; the centre 2x2 window starts at (1, 1)
        let src: Vec<f32> = (0..16).map(|v| v as f32).collect();
        let a = aug(CropMode::Window { h: 2, w: 2 }, true);
        let mut out = [0.0; 4];
        a.crop_into(&src, (1, 4, 4), a.centre(4, 4), &mut out);
        assert_eq!(out, [5.0, 6.0, 9.0, 10.0]);
    }
}
