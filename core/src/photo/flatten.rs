//! Flattening a page: the quadrilateral seen in perspective becomes a rectangle of the document's
//! shape, with a margin so nothing at its edge is cut (完整: the whole document must show).
use image::{Rgb, RgbImage};
use imageproc::geometric_transformations::Projection;

use super::DocumentKind;
use super::page::Quad;

/// Margin around the page, as a fraction of each side: more than the corner error the detector
/// reaches (2% of the diagonal on the generated set is ~1.5% of a side), so a corner found a
/// little inside still leaves the page whole.
pub const MARGIN: f32 = 0.03;
/// A measured shape within this factor of the document's known one snaps to it: perspective
/// skews what the four sides measure by up to ~10%.
const SNAP_WITHIN: f32 = 1.12;
/// What lies outside the photo (a corner out of frame) is painted neutral grey, so nobody takes
/// it for part of the document.
const OUTSIDE: Rgb<u8> = Rgb([128, 128, 128]);

/// The long side over the short side of the document's real shape.
fn known_aspect(document: DocumentKind) -> f32 {
    match document {
        DocumentKind::IdCard => 85.6 / 54.0,
        DocumentKind::A4 => 297.0 / 210.0,
    }
}

/// Width over height of the rectangle the page becomes: as measured, or the document's shape
/// when close to it.
pub fn page_aspect(corners: &[(f32, f32); 4], document: DocumentKind) -> f32 {
    let d = |a: (f32, f32), b: (f32, f32)| (a.0 - b.0).hypot(a.1 - b.1);
    let width = (d(corners[0], corners[1]) + d(corners[3], corners[2])) / 2.0;
    let height = (d(corners[0], corners[3]) + d(corners[1], corners[2])) / 2.0;
    let measured = width / height.max(1.0);
    let known = known_aspect(document);
    let target = if measured >= 1.0 { known } else { 1.0 / known };
    if (measured / target).max(target / measured) <= SNAP_WITHIN {
        target
    } else {
        measured
    }
}

/// The page of `image` inside `quad`, flattened to a rectangle whose long side is at most
/// `long_edge` and never more than the page had in the photo (no invented pixels).
pub fn flatten(image: &RgbImage, quad: &Quad, document: DocumentKind, long_edge: u32) -> RgbImage {
    let (w, h) = image.dimensions();
    let corners = quad.to_pixels(w, h);
    let aspect = page_aspect(&corners, document);
    let long = quad.longest_side(w, h).min(long_edge as f32).max(16.0);
    let (page_w, page_h) = if aspect >= 1.0 {
        (long, long / aspect)
    } else {
        (long * aspect, long)
    };
    let (mx, my) = (page_w * MARGIN, page_h * MARGIN);
    let out_w = (page_w + 2.0 * mx).round().max(1.0) as u32;
    let out_h = (page_h + 2.0 * my).round().max(1.0) as u32;
    let target = [
        (mx, my),
        (mx + page_w, my),
        (mx + page_w, my + page_h),
        (mx, my + page_h),
    ];
    match Projection::from_control_points(target, corners) {
        Some(to_source) => warp(image, to_source, out_w, out_h),
        // Degenerate corners (all on a line): nothing sensible to flatten; the caller checked
        // the quad, so this is only reached with rounding at absurd sizes.
        None => image.clone(),
    }
}

/// Bilinear resampling of `image` through `to_source` (output pixel centre to source point).
/// Written out over the raw rows because imageproc's generic `warp` (bounds-checked pixel access,
/// a float per channel) took 150 ms for a 3 MP page on the development machine. The exact
/// projective map is computed every `SPAN` pixels of a row and followed linearly in between, in
/// 16.16 fixed point (over 16 px a photo's perspective bends the path by far less than a pixel).
fn warp(image: &RgbImage, to_source: Projection, out_w: u32, out_h: u32) -> RgbImage {
    const SPAN: usize = 16;
    const ONE: f32 = 65536.0;
    let (w, h) = (image.width() as i64, image.height() as i64);
    let src = image.as_raw();
    let stride = w as usize * 3;
    let mut out = vec![0u8; out_w as usize * out_h as usize * 3];
    let width = out_w as usize;
    for (y, row) in out.chunks_exact_mut(width * 3).enumerate() {
        let cy = y as f32 + 0.5;
        let mut x = 0;
        while x < width {
            let end = (x + SPAN).min(width);
            let (ax, ay) = to_source * (x as f32 + 0.5, cy);
            let (bx, by) = to_source * (end as f32 + 0.5, cy);
            let n = (end - x) as f32;
            // Source position of the pixel centre, less half a pixel: the top-left sample.
            let mut sx = ((ax - 0.5) * ONE) as i64;
            let mut sy = ((ay - 0.5) * ONE) as i64;
            let dx = ((bx - ax) / n * ONE) as i64;
            let dy = ((by - ay) / n * ONE) as i64;
            // The path is straight within the span: when both of its ends have their 2x2
            // neighbourhood inside the image, every sample has, and no clamping is needed.
            let last = (end - x - 1) as i64;
            let inside =
                |px: i64, py: i64| px >= 0 && py >= 0 && (px >> 16) + 1 < w && (py >> 16) + 1 < h;
            if inside(sx, sy) && inside(sx + dx * last, sy + dy * last) {
                for px in row[x * 3..end * 3].chunks_exact_mut(3) {
                    let (x0, y0) = ((sx >> 16) as usize, (sy >> 16) as usize);
                    let at = y0 * stride + x0 * 3;
                    let top = src[at..at + 6].try_into().expect("six bytes");
                    let bottom = src[at + stride..at + stride + 6]
                        .try_into()
                        .expect("six bytes");
                    px.copy_from_slice(&blend(top, bottom, sx, sy));
                    sx += dx;
                    sy += dy;
                }
                x = end;
                continue;
            }
            for px in row[x * 3..end * 3].chunks_exact_mut(3) {
                let (x0, y0) = (sx >> 16, sy >> 16);
                if x0 < -1 || y0 < -1 || x0 >= w || y0 >= h {
                    px.copy_from_slice(&OUTSIDE.0);
                } else {
                    // The neighbours clamped to the image: a sample half outside repeats the edge.
                    let xa = x0.clamp(0, w - 1) as usize * 3;
                    let xb = (x0 + 1).clamp(0, w - 1) as usize * 3;
                    let ra = y0.clamp(0, h - 1) as usize * stride;
                    let rb = (y0 + 1).clamp(0, h - 1) as usize * stride;
                    let pair = |row: usize| -> [u8; 6] {
                        std::array::from_fn(|i| {
                            if i < 3 {
                                src[row + xa + i]
                            } else {
                                src[row + xb + i - 3]
                            }
                        })
                    };
                    px.copy_from_slice(&blend(&pair(ra), &pair(rb), sx, sy));
                }
                sx += dx;
                sy += dy;
            }
            x = end;
        }
    }
    RgbImage::from_raw(out_w, out_h, out).expect("sized above")
}

/// The bilinear blend of two neighbouring pixels above (`top`: left then right, RGB) and two
/// below, at the 16.16 fixed-point source position (sx, sy): the four neighbours' weights (the
/// same sums as blending across, then down), with red and blue side by side in one word, as each
/// 32-bit half holds at most 255 * 65536 + 32768 and neither spills into the other.
fn blend(top: &[u8; 6], bottom: &[u8; 6], sx: i64, sy: i64) -> [u8; 3] {
    let (fx, fy) = (((sx >> 8) & 255) as u64, ((sy >> 8) & 255) as u64);
    let (w00, w01) = ((256 - fx) * (256 - fy), fx * (256 - fy));
    let (w10, w11) = ((256 - fx) * fy, fx * fy);
    let rb = |p: &[u8; 6], i: usize| p[i] as u64 | (p[i + 2] as u64) << 32;
    let v = rb(top, 0) * w00
        + rb(top, 3) * w01
        + rb(bottom, 0) * w10
        + rb(bottom, 3) * w11
        + (1 << 15 | 1 << 47);
    let g = top[1] as u64 * w00
        + top[4] as u64 * w01
        + bottom[1] as u64 * w10
        + bottom[4] as u64 * w11
        + (1 << 15);
    [(v >> 16) as u8, (g >> 16) as u8, (v >> 48) as u8]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rectangle_flattens_to_itself_plus_the_margin() {
        let image = RgbImage::from_fn(400, 300, |x, y| {
            if (100..300).contains(&x) && (50..250).contains(&y) {
                Rgb([250, 250, 250])
            } else {
                Rgb([20, 20, 20])
            }
        });
        let quad = Quad::from_pixels(
            [(100.0, 50.0), (300.0, 50.0), (300.0, 250.0), (100.0, 250.0)],
            400,
            300,
        );
        // A square is far from either shape: kept as measured.
        let flat = flatten(&image, &quad, DocumentKind::A4, 2048);
        assert_eq!(flat.dimensions(), (212, 212));
        assert_eq!(flat.get_pixel(106, 106)[0], 250);
        assert_eq!(flat.get_pixel(1, 1)[0], 20, "the margin shows the desk");
    }

    #[test]
    fn close_shapes_snap_to_the_document() {
        let card = [(0.0, 0.0), (860.0, 0.0), (860.0, 560.0), (0.0, 560.0)];
        assert_eq!(page_aspect(&card, DocumentKind::IdCard), 85.6 / 54.0);
        let portrait = [(0.0, 0.0), (700.0, 0.0), (700.0, 1000.0), (0.0, 1000.0)];
        assert_eq!(page_aspect(&portrait, DocumentKind::A4), 210.0 / 297.0);
        let square = [(0.0, 0.0), (100.0, 0.0), (100.0, 100.0), (0.0, 100.0)];
        assert_eq!(page_aspect(&square, DocumentKind::A4), 1.0);
    }
}
