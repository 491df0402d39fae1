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
//! each next quality is interpolated on log(size) between the closest fitting and the closest
//! overshooting encode (secant method; a default slope before the second point). It stops when
//! the two are one step apart or the fitting one is within 3% of the budget. Typically 2-4
//! encodes of a 3 MP image.
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

/// Fraction of the budget at which a fitting encode is good enough to stop searching.
const CLOSE_ENOUGH: f64 = 0.97;
/// d ln(size) / d quality before two points are known; measured ~0.02-0.04 for q 40-90.
const DEFAULT_SLOPE: f64 = 0.03;
const FIRST_GUESS: u8 = 70;

pub fn encode_within(
    mut image: RgbImage,
    budget: usize,
    policy: &EncodePolicy,
) -> Result<Encoded, PhotoError> {
    let mut compressor = Compressor::new()?;
    loop {
        let (w, h) = image.dimensions();
        match search_quality(&mut compressor, &image, budget, policy)? {
            Search::Fits { jpeg, quality } => {
                return Ok(Encoded {
                    jpeg,
                    width: w,
                    height: h,
                    quality,
                });
            }
            Search::TooBig { smallest } => {
                // Shrink by the overshoot's square root (bytes go with area), a little more for
                // safety, and search again.
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
            }
        }
    }
}

enum Search {
    Fits { jpeg: Vec<u8>, quality: u8 },
    TooBig { smallest: usize },
}

fn search_quality(
    compressor: &mut Compressor,
    image: &RgbImage,
    budget: usize,
    policy: &EncodePolicy,
) -> Result<Search, PhotoError> {
    let (lo, hi) = (policy.min_quality, policy.max_quality);
    let mut best_fit: Option<(u8, Vec<u8>)> = None;
    let mut over: Option<(u8, usize)> = None;
    let mut q = FIRST_GUESS.clamp(lo, hi);
    let target = (budget as f64 * 0.985).ln();
    loop {
        let jpeg = compressor.encode(image, q)?;
        let size = jpeg.len();
        if size <= budget {
            best_fit = Some((q, jpeg));
        } else {
            over = Some((q, size));
        }
        // Decide the next quality, or stop.
        let next = match (&best_fit, over) {
            (Some((fq, fit)), _)
                if *fq >= hi || fit.len() as f64 >= budget as f64 * CLOSE_ENOUGH =>
            {
                None
            }
            (Some((fq, _)), Some((oq, _))) if oq <= fq + 1 => None,
            (None, Some((oq, _))) if oq <= lo => None,
            (Some((fq, fit)), Some((oq, osize))) => {
                let (a, b) = ((fit.len() as f64).ln(), (osize as f64).ln());
                let slope = ((b - a) / (oq as f64 - *fq as f64)).max(1e-3);
                let guess = *fq as f64 + (target - a) / slope;
                Some((guess.floor() as i32).clamp(*fq as i32 + 1, oq as i32 - 1) as u8)
            }
            (Some((fq, fit)), None) => {
                let guess = *fq as f64 + (target - (fit.len() as f64).ln()) / DEFAULT_SLOPE;
                Some((guess.floor() as i32).clamp(*fq as i32 + 1, hi as i32) as u8)
            }
            (None, Some((oq, osize))) => {
                let guess = oq as f64 + (target - (osize as f64).ln()) / DEFAULT_SLOPE;
                Some((guess.floor() as i32).clamp(lo as i32, oq as i32 - 1) as u8)
            }
            (None, None) => unreachable!("every encode either fits or overshoots"),
        };
        match next {
            Some(n) => q = n,
            None => break,
        }
    }
    Ok(match (best_fit, over) {
        (Some((quality, jpeg)), _) => Search::Fits { jpeg, quality },
        (None, Some((_, smallest))) => Search::TooBig { smallest },
        (None, None) => unreachable!(),
    })
}

/// libjpeg-turbo's encoder set up once: 4:2:0, optimised Huffman tables, baseline, and nothing
/// but the JFIF header (it writes no EXIF, XMP, ICC or comment unless told to).
struct Compressor(turbojpeg::Compressor);

impl Compressor {
    fn new() -> Result<Self, PhotoError> {
        let mut c = turbojpeg::Compressor::new().map_err(encoder_error)?;
        c.set_subsamp(turbojpeg::Subsamp::Sub2x2)
            .map_err(encoder_error)?;
        c.set_optimize(true).map_err(encoder_error)?;
        Ok(Compressor(c))
    }

    fn encode(&mut self, image: &RgbImage, quality: u8) -> Result<Vec<u8>, PhotoError> {
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
