//! Legibility checks, as scores and warnings the app shows before upload (never silent
//! rejections). The same scores name the reviewers' "blurry" return reason, so both speak one
//! language.
//!
//! All measures run on the luma of the upright output, resized to `ANALYSIS_LONG_EDGE`, so a score
//! does not depend on the camera's resolution.
use fast_image_resize as fir;
use image::{GrayImage, RgbImage};

pub use crate::api::DocumentKind;

/// Long edge of the grey image the checks measure.
pub const ANALYSIS_LONG_EDGE: u32 = 1024;

/// Variance of the Laplacian below which a photo is called blurry. Calibrated on the test photos
/// (`core/tests/photo.rs`, `blur_threshold_separates_sharp_from_blurred_test_photos`): as taken they
/// score 351-6187 at this analysis size, blurred with a Gaussian of sigma 3 at 2048 px 8-21. Soft
/// scenes without print score low too (a macro of a leaf: 42): a warning, never a refusal.
pub const BLURRY_BELOW: f32 = 100.0;
/// Mean luma (0-255) below which a photo is too dark to read.
pub const DARK_BELOW: f32 = 60.0;
/// Spread of luma (95th minus 5th percentile) below which a photo is washed out or fogged: printed
/// text on paper spans more than 80 levels even in soft light.
pub const LOW_CONTRAST_BELOW: f32 = 40.0;
/// Effective resolution below which small print (an ID card's number) stops being readable.
pub const TOO_SMALL_BELOW_DPI: f32 = 150.0;

/// The long edge of the document photographed, for the effective resolution: an ID card is
/// 85.6 x 54 mm (ISO/IEC 7810 ID-1), the rest are A4 pages (297 x 210 mm).
fn long_edge_inches(document: DocumentKind) -> f32 {
    match document {
        DocumentKind::IdCard => 85.6 / 25.4,
        DocumentKind::A4 => 297.0 / 25.4,
    }
}

/// A problem a candidate can fix by taking the photo again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Warning {
    Blurry,
    TooDark,
    WashedOut,
    TooSmall,
}

impl Warning {
    pub fn code(self) -> &'static str {
        match self {
            Warning::Blurry => "blurry",
            Warning::TooDark => "too_dark",
            Warning::WashedOut => "washed_out",
            Warning::TooSmall => "too_small",
        }
    }
}

/// The scores, and the warnings they raise.
#[derive(Debug, Clone, PartialEq)]
pub struct Checks {
    /// Variance of the 4-neighbour Laplacian of the luma at the analysis size.
    pub sharpness: f32,
    /// Mean luma, 0-255.
    pub brightness: f32,
    /// 95th minus 5th percentile of luma.
    pub contrast: f32,
    /// Pixels per inch if the document filled the frame's long edge.
    pub effective_dpi: f32,
    pub warnings: Vec<Warning>,
}

pub fn measure(image: &RgbImage, document: DocumentKind) -> Checks {
    let (w, h) = image.dimensions();
    let luma = small_grey(image, ANALYSIS_LONG_EDGE);
    let sharpness =
        laplacian_variance(luma.as_raw(), luma.width() as usize, luma.height() as usize);
    let mut histogram = [0u64; 256];
    for &v in luma.as_raw() {
        histogram[v as usize] += 1;
    }
    let n = luma.as_raw().len().max(1) as f64;
    let brightness = (histogram
        .iter()
        .enumerate()
        .map(|(v, c)| v as f64 * *c as f64)
        .sum::<f64>()
        / n) as f32;
    let contrast = (percentile(&histogram, 0.95) - percentile(&histogram, 0.05)) as f32;
    let effective_dpi = w.max(h) as f32 / long_edge_inches(document);

    let mut warnings = Vec::new();
    if sharpness < BLURRY_BELOW {
        warnings.push(Warning::Blurry);
    }
    if brightness < DARK_BELOW {
        warnings.push(Warning::TooDark);
    } else if contrast < LOW_CONTRAST_BELOW {
        warnings.push(Warning::WashedOut);
    }
    if effective_dpi < TOO_SMALL_BELOW_DPI {
        warnings.push(Warning::TooSmall);
    }
    Checks {
        sharpness,
        brightness,
        contrast,
        effective_dpi,
        warnings,
    }
}

/// An area-averaged luma copy whose long edge is at most `long_edge` (never enlarged): shrunk
/// first (SIMD, area average: an analysis must not add sharpness of its own), then BT.601 luma as
/// JPEG's Y, of the small result rather than of the whole photo. The checks, the page finder and
/// the content orientation each read one.
pub(super) fn small_grey(image: &RgbImage, long_edge: u32) -> GrayImage {
    let (w, h) = image.dimensions();
    let ratio = (long_edge as f64 / w.max(h).max(1) as f64).min(1.0);
    let (dw, dh) = (
        ((w as f64 * ratio).round() as u32).max(1),
        ((h as f64 * ratio).round() as u32).max(1),
    );
    let resized;
    let rgb = if (dw, dh) == (w, h) {
        image.as_raw().as_slice()
    } else {
        let src = fir::images::ImageRef::new(w, h, image.as_raw(), fir::PixelType::U8x3)
            .expect("sized from dimensions");
        let mut dst = fir::images::Image::new(dw, dh, fir::PixelType::U8x3);
        let options =
            fir::ResizeOptions::new().resize_alg(fir::ResizeAlg::Convolution(fir::FilterType::Box));
        fir::Resizer::new()
            .resize(&src, &mut dst, &options)
            .expect("same pixel type");
        resized = dst.into_vec();
        resized.as_slice()
    };
    // Integer weights summing to 256.
    let luma = rgb
        .chunks_exact(3)
        .map(|p| ((77 * p[0] as u32 + 150 * p[1] as u32 + 29 * p[2] as u32) >> 8) as u8)
        .collect();
    GrayImage::from_raw(dw, dh, luma).expect("sized above")
}

fn laplacian_variance(pixels: &[u8], w: usize, h: usize) -> f32 {
    if w < 3 || h < 3 {
        return 0.0;
    }
    // Summed as integers (exactly what summing them as f64 gave: the sums stay far below 2^53),
    // which the compiler vectorises.
    let (mut sum, mut sum_sq) = (0i64, 0i64);
    for y in 1..h - 1 {
        let (up, row, down) = (
            &pixels[(y - 1) * w..][..w],
            &pixels[y * w..][..w],
            &pixels[(y + 1) * w..][..w],
        );
        for x in 1..w - 1 {
            let l = row[x - 1] as i32 + row[x + 1] as i32 + up[x] as i32 + down[x] as i32
                - 4 * row[x] as i32;
            sum += l as i64;
            sum_sq += (l * l) as i64;
        }
    }
    let n = ((w - 2) * (h - 2)) as f64;
    let mean = sum as f64 / n;
    (sum_sq as f64 / n - mean * mean) as f32
}

fn percentile(histogram: &[u64; 256], p: f64) -> u8 {
    let total: u64 = histogram.iter().sum();
    let wanted = (total as f64 * p).ceil() as u64;
    let mut seen = 0;
    for (v, c) in histogram.iter().enumerate() {
        seen += c;
        if seen >= wanted.max(1) {
            return v as u8;
        }
    }
    255
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkerboard(size: u32, cell: u32, lo: u8, hi: u8) -> RgbImage {
        RgbImage::from_fn(size, size, |x, y| {
            let v = if (x / cell + y / cell).is_multiple_of(2) {
                lo
            } else {
                hi
            };
            image::Rgb([v, v, v])
        })
    }

    #[test]
    fn flat_grey_is_blurry_and_washed_out() {
        let flat = RgbImage::from_pixel(1200, 800, image::Rgb([128, 128, 128]));
        let checks = measure(&flat, DocumentKind::IdCard);
        assert!(checks.warnings.contains(&Warning::Blurry));
        assert!(checks.warnings.contains(&Warning::WashedOut));
    }

    #[test]
    fn crisp_pattern_passes_and_dark_one_warns() {
        let crisp = measure(&checkerboard(1200, 6, 20, 235), DocumentKind::IdCard);
        assert!(crisp.warnings.is_empty(), "{crisp:?}");
        let dark = measure(&checkerboard(1200, 6, 0, 60), DocumentKind::IdCard);
        assert!(dark.warnings.contains(&Warning::TooDark), "{dark:?}");
    }

    #[test]
    fn small_photo_of_an_a4_page_is_too_small() {
        let checks = measure(&checkerboard(1000, 6, 20, 235), DocumentKind::A4);
        assert!(checks.effective_dpi < 100.0);
        assert!(checks.warnings.contains(&Warning::TooSmall));
    }
}
