//! Encoding under the budget: the highest JPEG quality that fits, found in few encodes.
//!
//! Policy (why these numbers): a reviewer must read an ID number and the small print of a diploma.
//! For a fixed byte budget, fewer pixels at higher quality beat more pixels at low quality until the
//! text strokes get thinner than about two pixels; on the photos we measured, 2048 px on the long
//! edge was the sweet spot for a libjpeg-turbo encoder at 200 KB (quality ~40-60 for a 12 MP
//! document photo). Below quality 35 ringing around strokes costs more legibility than a smaller
//! size does, so we then shrink the image by the square root of the overshoot and search again.
//! 4:2:0 chroma and optimised Huffman tables are free bytes for documents.
//!
//! The search: JPEG size grows roughly exponentially with quality in the range that matters, so
//! each next quality is a secant step on log(size) from the two most recent encodes (a measured
//! default slope before the second), kept strictly inside the bracket of the best fitting and the
//! lowest overshooting quality, so it always ends. It stops when the bracket closes or the fitting
//! encode is within 3% of the budget.
//!
//! Where to start: a sample of the image (every fourth 16x16 block each way, a sixteenth of its
//! area, `Sample`) is searched first the same way against the budget scaled by area, at about a
//! sixteenth of the cost per encode. Its size tracks the whole image's only within 3-10%
//! (isolated blocks cost a little more; texture can alias with the blocks' spacing), but its
//! slope closely. So the whole image is then encoded once at the sample's quality with plain
//! Huffman tables (the optimising pass costs as much as the rest of an encode), scaled by what
//! optimised tables saved on the sample, and the full search starts where that says the budget
//! falls, with the sample's slope. On the shared test photos the optimised full encodes fell from
//! 42 to 17, plus one plain each (a landscape photo from 6 to 2), and the benchmark's 12 MP page
//! takes one. A photo too busy for the budget at any quality is known from the sample alone.
use image::RgbImage;

use super::PhotoError;
use super::decode::resize;

/// Size and quality bounds for `encode_within`.
#[derive(Debug, Clone)]
pub struct EncodePolicy {
    /// Long edge of the output in pixels (smaller photos are never enlarged).
    pub long_edge: u32,
    pub max_quality: u8,
    /// Below this quality the image is shrunk instead.
    pub min_quality: u8,
    /// Below this long edge a document is not legible any more: `BudgetUnreachable`.
    pub min_long_edge: u32,
}

impl Default for EncodePolicy {
    fn default() -> Self {
        EncodePolicy {
            long_edge: 2048,
            max_quality: 92,
            min_quality: 35,
            min_long_edge: 640,
        }
    }
}

pub struct Encoded {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub quality: u8,
}

/// Fraction of the budget at which a fitting encode is good enough to stop searching: one quality
/// step changes the size by 1.3-2.5%, so this loses at most about two steps.
const CLOSE_ENOUGH: f64 = 0.97;
/// The search aims a little under the budget, so its guesses tend to fit.
const AIM: f64 = 0.98;
/// d ln(size) / d quality before two encodes are known. Measured on the shared test photos and
/// the benchmark's document photos between quality 35 and 75: 0.013-0.025.
const DEFAULT_SLOPE: f64 = 0.018;
const FIRST_GUESS: u8 = 70;

pub fn encode_within(
    mut image: RgbImage,
    budget: usize,
    policy: &EncodePolicy,
) -> Result<Encoded, PhotoError> {
    let mut compressor = Compressor::new()?;
    let (mut start, mut slope) = match Sample::of(&image) {
        Some(sample) => sample.first_guess(&mut compressor, &image, budget, policy)?,
        None => (FIRST_GUESS, DEFAULT_SLOPE),
    };
    loop {
        let (w, h) = image.dimensions();
        match search_quality(&mut compressor, &image, budget, policy, start, slope)? {
            Search::Fits { jpeg, quality, .. } => {
                return Ok(Encoded {
                    jpeg,
                    width: w,
                    height: h,
                    quality,
                });
            }
            Search::TooBig {
                smallest,
                slope: learned,
            } => {
                // Shrink by the overshoot's square root (bytes go with area) and a little more, so
                // the minimum quality fits with room; search again from just above it.
                let ratio = ((budget as f64 / smallest as f64).sqrt() * 0.95).min(0.9);
                let (nw, nh) = (
                    ((w as f64) * ratio).round() as u32,
                    ((h as f64) * ratio).round() as u32,
                );
                if nw.max(nh) < policy.min_long_edge || nw == 0 || nh == 0 {
                    return Err(PhotoError::BudgetUnreachable {
                        budget: budget as u64,
                    });
                }
                image = resize(image, nw, nh)?;
                slope = learned;
                let headroom = (budget as f64 / (smallest as f64 * ratio * ratio)).ln();
                start = (policy.min_quality as f64 + headroom / slope)
                    .floor()
                    .clamp(policy.min_quality as f64, policy.max_quality as f64)
                    as u8;
            }
        }
    }
}

enum Search {
    Fits {
        jpeg: Vec<u8>,
        quality: u8,
        slope: f64,
    },
    TooBig {
        smallest: usize,
        slope: f64,
    },
}

/// Every `SAMPLE_STEP`-th 16x16 block (a 4:2:0 JPEG's unit) of the image each way, side by side.
struct Sample {
    image: RgbImage,
    /// The sample's share of the image's area.
    share: f64,
}

const SAMPLE_STEP: u32 = 4;
/// Optimised tables save the whole image 0.5-3.6% less than its sample (measured on the shared
/// test photos and the benchmark's documents at qualities 40-85): scattered blocks give the
/// optimiser more to win.
const PLAIN_TO_OPTIMISED: f64 = 1.015;
/// Below this many blocks a sample says too little (and full encodes are cheap anyway).
const SAMPLE_MIN_BLOCKS: u32 = 400;

impl Sample {
    fn of(image: &RgbImage) -> Option<Sample> {
        let (w, h) = image.dimensions();
        let (across, down) = (
            (w / 16).div_ceil(SAMPLE_STEP),
            (h / 16).div_ceil(SAMPLE_STEP),
        );
        if across * down < SAMPLE_MIN_BLOCKS {
            return None;
        }
        let (sw, sh) = (across * 16, down * 16);
        let (row, sample_row) = (w as usize * 3, sw as usize * 3);
        let src = image.as_raw();
        let mut pixels = vec![0u8; sample_row * sh as usize];
        for (y, out) in pixels.chunks_exact_mut(sample_row).enumerate() {
            let (band, within) = (y / 16, y % 16);
            let line = &src[(band * SAMPLE_STEP as usize * 16 + within) * row..][..row];
            for (bx, block) in out.chunks_exact_mut(48).enumerate() {
                block.copy_from_slice(&line[bx * SAMPLE_STEP as usize * 48..][..48]);
            }
        }
        Some(Sample {
            image: RgbImage::from_raw(sw, sh, pixels).expect("sized above"),
            share: (sw as f64 * sh as f64) / (w as f64 * h as f64),
        })
    }

    /// Where the full search starts, and the slope it starts with. The sample's own search finds
    /// the quality at which it meets its share of the budget; then the whole image is encoded
    /// once at that quality with plain Huffman tables (without the optimising pass, which costs
    /// as much again), and its size scaled by what optimised tables saved on the sample says
    /// where the budget falls for the whole image, more closely than the sample alone.
    fn first_guess(
        &self,
        compressor: &mut Compressor,
        image: &RgbImage,
        budget: usize,
        policy: &EncodePolicy,
    ) -> Result<(u8, f64), PhotoError> {
        let share = (budget as f64 * self.share) as usize;
        let (quality, slope, optimised) = match search_quality(
            compressor,
            &self.image,
            share,
            policy,
            FIRST_GUESS,
            DEFAULT_SLOPE,
        )? {
            Search::Fits {
                quality,
                slope,
                jpeg,
            } => (quality, slope, jpeg.len() as f64),
            // Too busy even at the lowest quality: the full search shrinks it.
            Search::TooBig { slope, .. } => return Ok((policy.min_quality, slope)),
        };
        let saved = optimised / compressor.encode_plain(&self.image, quality)?.len() as f64;
        let whole =
            compressor.encode_plain(image, quality)?.len() as f64 * saved * PLAIN_TO_OPTIMISED;
        let target = budget as f64 * AIM;
        let guess = quality as f64 + (target.ln() - whole.ln()) / slope;
        Ok((
            guess
                .floor()
                .clamp(policy.min_quality as f64, policy.max_quality as f64) as u8,
            slope,
        ))
    }
}

/// The highest quality in [min_quality, max_quality] whose encode fits, by secant steps on
/// log(size) from the two most recent encodes, kept inside the bracket of the best fitting and
/// the lowest overshooting quality.
fn search_quality(
    compressor: &mut Compressor,
    image: &RgbImage,
    budget: usize,
    policy: &EncodePolicy,
    start: u8,
    slope_hint: f64,
) -> Result<Search, PhotoError> {
    let (lo, hi) = (policy.min_quality, policy.max_quality);
    let target = (budget as f64 * AIM).ln();
    let mut best_fit: Option<(u8, Vec<u8>)> = None;
    let mut over: Option<(u8, usize)> = None;
    let mut recent: Vec<(u8, f64)> = Vec::new();
    let mut slope = slope_hint;
    let mut q = start.clamp(lo, hi);
    loop {
        let jpeg = compressor.encode(image, q)?;
        let size = jpeg.len();
        recent.push((q, (size as f64).ln()));
        if let [.., (qa, sa), (qb, sb)] = recent[..] {
            slope = ((sb - sa) / (qb as f64 - qa as f64))
                .abs()
                .clamp(0.004, 0.08);
        }
        if size <= budget {
            best_fit = Some((q, jpeg));
        } else {
            over = Some((q, size));
        }
        let floor = best_fit.as_ref().map_or(lo, |(fq, _)| fq + 1);
        let ceiling = over.map_or(hi, |(oq, _)| oq - 1);
        let done = match &best_fit {
            Some((fq, fit)) => *fq >= hi || fit.len() as f64 >= budget as f64 * CLOSE_ENOUGH,
            None => false,
        };
        if done || floor > ceiling {
            break;
        }
        let (last_q, last_ln) = *recent.last().expect("just pushed");
        let guess = last_q as f64 + (target - last_ln) / slope;
        q = (guess.floor() as i64).clamp(floor as i64, ceiling as i64) as u8;
    }
    Ok(match (best_fit, over) {
        (Some((quality, jpeg)), _) => Search::Fits {
            jpeg,
            quality,
            slope,
        },
        (None, Some((_, smallest))) => Search::TooBig { smallest, slope },
        (None, None) => unreachable!("every encode either fits or overshoots"),
    })
}

/// libjpeg-turbo's encoder set up once: 4:2:0, optimised Huffman tables, baseline, and nothing
/// but the JFIF header (it writes no EXIF, XMP, ICC or comment unless told to).
pub(super) struct Compressor(turbojpeg::Compressor);

impl Compressor {
    pub(super) fn new() -> Result<Self, PhotoError> {
        let mut c = turbojpeg::Compressor::new().map_err(encoder_error)?;
        c.set_subsamp(turbojpeg::Subsamp::Sub2x2)
            .map_err(encoder_error)?;
        c.set_optimize(true).map_err(encoder_error)?;
        Ok(Compressor(c))
    }

    /// An encode with libjpeg's default Huffman tables, to measure a size at half the cost.
    fn encode_plain(&mut self, image: &RgbImage, quality: u8) -> Result<Vec<u8>, PhotoError> {
        self.0.set_optimize(false).map_err(encoder_error)?;
        let plain = self.encode(image, quality);
        self.0.set_optimize(true).map_err(encoder_error)?;
        plain
    }

    pub(super) fn encode(&mut self, image: &RgbImage, quality: u8) -> Result<Vec<u8>, PhotoError> {
        self.0.set_quality(quality as i32).map_err(encoder_error)?;
        let (w, h) = image.dimensions();
        let view = turbojpeg::Image {
            pixels: image.as_raw().as_slice(),
            width: w as usize,
            pitch: w as usize * 3,
            height: h as usize,
            format: turbojpeg::PixelFormat::RGB,
        };
        self.0.compress_to_vec(view).map_err(encoder_error)
    }
}

fn encoder_error(e: turbojpeg::Error) -> PhotoError {
    PhotoError::Corrupt {
        detail: format!("encoder: {e}"),
    }
}
