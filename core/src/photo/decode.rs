//! Decoding within limits: header first, dimensions capped before any pixel buffer exists, JPEG
//! decoded at the smallest DCT scale that still covers the target size, ICC converted to sRGB,
//! then resized and turned upright.
use bytes::Bytes;
use fast_image_resize as fir;
use image::{DynamicImage, RgbImage, metadata::Orientation};
use img_parts::{ImageEXIF, ImageICC};
use moxcms::{ColorProfile, DataColorSpace, Layout, TransformOptions};

use super::{PhotoError, PhotoFormat};

/// The largest file `prepare` reads: a 200 MP JPEG is 40-80 MB.
pub const MAX_INPUT_BYTES: u64 = 128 << 20;

/// Caps applied from the header, before decoding allocates anything.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Baseline JPEG: decoded at reduced scale, so memory follows the output size, not this.
    pub max_pixels: u64,
    pub max_side: u64,
    /// Progressive JPEG keeps every DCT coefficient of the whole image (about 3 bytes a pixel at
    /// 4:2:0) whatever the output scale, and PNG decodes at full size (4 bytes a pixel): both are
    /// capped lower so memory stays bounded.
    pub max_full_decode_pixels: u64,
}

impl Limits {
    /// For photos from the phone's camera: 200 MP sensors exist (16320 x 12240).
    pub const PREPARE: Limits = Limits {
        max_pixels: 260_000_000,
        max_side: 32_768,
        max_full_decode_pixels: 50_000_000,
    };
    /// For uploads of at most 200 KB: nothing legitimate is larger than a prepared photo by much.
    pub const UPLOAD: Limits = Limits {
        max_pixels: 40_000_000,
        max_side: 16_384,
        max_full_decode_pixels: 40_000_000,
    };

    pub(super) fn check(
        &self,
        width: u64,
        height: u64,
        full_decode: bool,
    ) -> Result<(), PhotoError> {
        let max_pixels = if full_decode {
            self.max_full_decode_pixels
        } else {
            self.max_pixels
        };
        if width == 0 || height == 0 {
            return Err(PhotoError::Corrupt {
                detail: "zero width or height".into(),
            });
        }
        if width > self.max_side || height > self.max_side || width * height > max_pixels {
            return Err(PhotoError::TooManyPixels {
                width,
                height,
                max_pixels,
            });
        }
        Ok(())
    }
}

/// What the container says about the pixels: EXIF orientation and the ICC profile.
#[derive(Debug, Default)]
pub struct Metadata {
    pub orientation: u16,
    pub icc: Option<Bytes>,
}

/// Orientation and ICC profile; a missing or malformed block yields the defaults, never an error.
pub fn read_metadata(bytes: &Bytes, format: PhotoFormat) -> Metadata {
    let (exif, icc) = match format {
        PhotoFormat::Jpeg => match img_parts::jpeg::Jpeg::from_bytes(bytes.clone()) {
            Ok(jpeg) => (jpeg.exif(), jpeg.icc_profile()),
            Err(_) => (None, None),
        },
        PhotoFormat::Png => match img_parts::png::Png::from_bytes(bytes.clone()) {
            Ok(png) => (png.exif(), png.icc_profile()),
            Err(_) => (None, None),
        },
        _ => (None, None),
    };
    Metadata {
        orientation: exif.as_deref().map_or(1, exif_orientation),
        icc,
    }
}

/// The Orientation tag of a raw EXIF (TIFF) block: 1-8, or 1 when absent or unreadable.
pub fn exif_orientation(raw: &[u8]) -> u16 {
    let Ok(exif) = exif::Reader::new().read_raw(raw.to_vec()) else {
        return 1;
    };
    exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .filter(|o| (1..=8).contains(o))
        .map_or(1, |o| o as u16)
}

/// An upright sRGB image that fits `long_edge`, and what was found on the way.
pub struct Decoded {
    pub image: RgbImage,
    pub source_width: u32,
    pub source_height: u32,
    pub orientation: u16,
    pub converted_icc: bool,
}

pub fn decode_upright(
    bytes: &Bytes,
    format: PhotoFormat,
    long_edge: u32,
    limits: &Limits,
) -> Result<Decoded, PhotoError> {
    decode_upright_as(bytes, format, long_edge, limits, true)
}

/// As `decode_upright`; with `fit` false the image is left at the decode's own scale (at least
/// `long_edge`), for a page that is resampled once more when flattened.
pub fn decode_upright_as(
    bytes: &Bytes,
    format: PhotoFormat,
    long_edge: u32,
    limits: &Limits,
    fit: bool,
) -> Result<Decoded, PhotoError> {
    let meta = read_metadata(bytes, format);
    let (mut image, source_width, source_height) = match format {
        PhotoFormat::Jpeg => decode_jpeg(bytes, long_edge, limits)?,
        PhotoFormat::Png => decode_png(bytes, long_edge, limits)?,
        _ => unreachable!("format::accepted lets only JPEG and PNG through"),
    };
    let converted_icc = match &meta.icc {
        Some(icc) => to_srgb(&mut image, icc),
        None => false,
    };
    let image = if fit {
        fit_long_edge(image, long_edge)?
    } else {
        image
    };
    let image = orient(image, meta.orientation);
    Ok(Decoded {
        image,
        source_width,
        source_height,
        orientation: meta.orientation,
        converted_icc,
    })
}

fn corrupt(e: impl std::fmt::Display) -> PhotoError {
    PhotoError::Corrupt {
        detail: e.to_string(),
    }
}

/// The smallest power-of-two DCT scale whose long edge still covers `long_edge`, with 5% slack:
/// 4032 px decodes at 1/2 to 2016 px and is kept at that size rather than decoded at full size and
/// resized by 1.6% (twice the decoding time and four times the memory for nothing visible).
/// Only 1/1, 1/2, 1/4 and 1/8 are used: libjpeg-turbo has SIMD for those, not for n/8.
pub fn choose_scale(width: usize, height: usize, long_edge: u32) -> turbojpeg::ScalingFactor {
    let long = width.max(height);
    let wanted = (long_edge as f64 * 0.95).ceil() as usize;
    for denom in [8, 4, 2] {
        let scale = turbojpeg::ScalingFactor::new(1, denom);
        if scale.scale(long) >= wanted {
            return scale;
        }
    }
    turbojpeg::ScalingFactor::ONE
}

fn decode_jpeg(
    bytes: &[u8],
    long_edge: u32,
    limits: &Limits,
) -> Result<(RgbImage, u32, u32), PhotoError> {
    let mut decompressor = turbojpeg::Decompressor::new().map_err(corrupt)?;
    let header = decompressor.read_header(bytes).map_err(corrupt)?;
    limits.check(
        header.width as u64,
        header.height as u64,
        header.is_progressive,
    )?;
    let scale = choose_scale(header.width, header.height, long_edge);
    decompressor.set_scaling_factor(scale).map_err(corrupt)?;
    let scaled = header.scaled(scale);
    let (w, h) = (scaled.width, scaled.height);
    let cmyk = matches!(
        header.colorspace,
        turbojpeg::Colorspace::CMYK | turbojpeg::Colorspace::YCCK
    );
    let format = if cmyk {
        turbojpeg::PixelFormat::CMYK
    } else {
        turbojpeg::PixelFormat::RGB
    };
    let channels = format.size();
    let mut pixels = vec![0u8; w * h * channels];
    let output = turbojpeg::Image {
        pixels: pixels.as_mut_slice(),
        width: w,
        pitch: w * channels,
        height: h,
        format,
    };
    // libjpeg-turbo reports truncated or damaged data as a warning and returns -1: that is a
    // damaged photo the candidate should retake, not one to upload half grey.
    decompressor.decompress(bytes, output).map_err(corrupt)?;
    if cmyk {
        pixels = cmyk_to_rgb(&pixels);
    }
    let image =
        RgbImage::from_raw(w as u32, h as u32, pixels).ok_or_else(|| corrupt("pixel buffer"))?;
    Ok((image, header.width as u32, header.height as u32))
}

/// CMYK JPEGs (Photoshop, some scanners) store inverted ink values (Adobe convention), which is what
/// libjpeg hands back; the naive conversion is what browsers do without a CMYK profile.
fn cmyk_to_rgb(cmyk: &[u8]) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(cmyk.len() / 4 * 3);
    for px in cmyk.chunks_exact(4) {
        let k = px[3] as u32;
        rgb.extend([px[0], px[1], px[2]].map(|c| ((c as u32 * k + 127) / 255) as u8));
    }
    rgb
}

/// What a PNG's header says: dimensions, bytes per decoded pixel, whether it is interlaced.
struct PngHeader {
    width: u32,
    height: u32,
    bytes_per_pixel: u64,
    interlaced: bool,
}

/// The IHDR chunk, which the format puts first: read before any decoder allocates anything, so an
/// absurd size is `too_many_pixels` however the decoder would have put it.
fn png_header(bytes: &[u8]) -> Result<PngHeader, PhotoError> {
    if bytes.len() < 33 || &bytes[12..16] != b"IHDR" {
        return Err(corrupt("no PNG header"));
    }
    let be =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let (depth, colour) = (bytes[24] as u64, bytes[25]);
    let samples = match colour {
        0 => 1, // grey
        2 => 3, // RGB
        3 => 4, // palette, expanded to RGBA at worst
        4 => 2, // grey + alpha
        _ => 4, // RGBA
    };
    Ok(PngHeader {
        width: be(16),
        height: be(20),
        bytes_per_pixel: samples * depth.div_ceil(8).max(1),
        interlaced: bytes[28] != 0,
    })
}

/// A PNG as an sRGB image whose long edge is at least `long_edge` (or the PNG's own), alpha laid
/// on white. Decoded row by row and averaged down by a whole factor as the rows come, so memory
/// follows the output, not the file: a 308 KB, 6300 x 6300, 16-bit RGBA PNG is 317 MB decoded
/// whole and ~13 MB this way. Interlaced PNGs (rare from phones) come in passes, so they are
/// decoded whole, within `max_full_decode_pixels` at 4 bytes a pixel.
pub(super) fn decode_png(
    bytes: &[u8],
    long_edge: u32,
    limits: &Limits,
) -> Result<(RgbImage, u32, u32), PhotoError> {
    let header = png_header(bytes)?;
    let (w, h) = (header.width, header.height);
    if header.interlaced {
        limits.check(w as u64, h as u64, true)?;
        let budget = limits.max_full_decode_pixels * 4;
        if w as u64 * h as u64 * header.bytes_per_pixel > budget {
            return Err(PhotoError::TooManyPixels {
                width: w as u64,
                height: h as u64,
                max_pixels: budget / header.bytes_per_pixel,
            });
        }
        let (decoder, w, h) = open_png(bytes, limits)?;
        let image = DynamicImage::from_decoder(decoder).map_err(png_error)?;
        return Ok((flatten_on_white(image), w, h));
    }
    limits.check(w as u64, h as u64, false)?;
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(corrupt)?;
    let channels = reader.output_color_type().0.samples();
    // The largest whole factor that keeps the long edge at or above the target.
    let factor = (w.max(h) / long_edge.max(1)).max(1) as usize;
    let (w, h) = (w as usize, h as usize);
    let (out_w, out_h) = (w.div_ceil(factor), h.div_ceil(factor));
    let mut sums = vec![0u32; out_w * 3];
    let mut out = Vec::with_capacity(out_w * out_h * 3);
    let mut rows_in_band = 0;
    for y in 0..h {
        let row = reader
            .next_row()
            .map_err(corrupt)?
            .ok_or_else(|| corrupt("the image data ends early"))?;
        for (x, px) in row.data().chunks_exact(channels).take(w).enumerate() {
            let rgb = match *px {
                [v] => [v; 3],
                [v, a] => [on_white(v, a); 3],
                [r, g, b] => [r, g, b],
                [r, g, b, a] => [on_white(r, a), on_white(g, a), on_white(b, a)],
                _ => [255; 3],
            };
            let sum = &mut sums[x / factor * 3..x / factor * 3 + 3];
            for (s, c) in sum.iter_mut().zip(rgb) {
                *s += c as u32;
            }
        }
        rows_in_band += 1;
        if rows_in_band == factor || y == h - 1 {
            // The band may be short at the bottom, and the last column at the right.
            for (ox, sum) in sums.chunks_exact_mut(3).enumerate() {
                let cols = (w - ox * factor).min(factor);
                let n = (cols * rows_in_band) as u32;
                out.extend(sum.iter().map(|s| ((s + n / 2) / n) as u8));
                sum.fill(0);
            }
            rows_in_band = 0;
        }
    }
    if out.len() != out_w * out_h * 3 {
        return Err(corrupt("the image data ends early"));
    }
    let image = RgbImage::from_raw(out_w as u32, out_h as u32, out)
        .ok_or_else(|| corrupt("pixel buffer"))?;
    Ok((image, w as u32, h as u32))
}

/// A colour value laid on white paper by its alpha.
fn on_white(c: u8, a: u8) -> u8 {
    ((c as u32 * a as u32 + 255 * (255 - a as u32) + 127) / 255) as u8
}

/// A PNG decoder with the image's width and height.
type OpenedPng<'a> = (
    image::codecs::png::PngDecoder<std::io::Cursor<&'a [u8]>>,
    u32,
    u32,
);

/// A PNG decoder whose dimensions passed `limits`, with `image`'s allocation cap set to match.
pub(super) fn open_png<'a>(bytes: &'a [u8], limits: &Limits) -> Result<OpenedPng<'a>, PhotoError> {
    use image::ImageDecoder;
    let header = png_header(bytes)?;
    limits.check(header.width as u64, header.height as u64, true)?;
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_image_width = Some(limits.max_side as u32);
    decoder_limits.max_image_height = Some(limits.max_side as u32);
    decoder_limits.max_alloc = Some(limits.max_full_decode_pixels * 8);
    let decoder =
        image::codecs::png::PngDecoder::with_limits(std::io::Cursor::new(bytes), decoder_limits)
            .map_err(png_error)?;
    let (w, h) = decoder.dimensions();
    Ok((decoder, w, h))
}

fn png_error(e: image::ImageError) -> PhotoError {
    corrupt(e)
}

/// Transparent areas become white paper, as a reviewer would expect of a scanned document.
fn flatten_on_white(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    let (w, h) = rgba.dimensions();
    let mut rgb = Vec::with_capacity(w as usize * h as usize * 3);
    for px in rgba.pixels() {
        let a = px[3] as u32;
        rgb.extend(
            [px[0], px[1], px[2]].map(|c| ((c as u32 * a + 255 * (255 - a) + 127) / 255) as u8),
        );
    }
    RgbImage::from_raw(w, h, rgb).expect("buffer sized from dimensions")
}

/// Convert from an embedded RGB ICC profile to sRGB in place. Profiles that are sRGB already (same
/// primaries) are left alone; an unreadable profile is ignored, as browsers do. Returns whether the
/// pixels were converted.
fn to_srgb(image: &mut RgbImage, icc: &[u8]) -> bool {
    let Ok(source) = ColorProfile::new_from_slice(icc) else {
        return false;
    };
    if source.color_space != DataColorSpace::Rgb {
        return false;
    }
    let srgb = ColorProfile::new_srgb();
    let same = |a: moxcms::Xyzd, b: moxcms::Xyzd| {
        (a.x - b.x).abs() < 0.002 && (a.y - b.y).abs() < 0.002 && (a.z - b.z).abs() < 0.002
    };
    if same(source.red_colorant, srgb.red_colorant)
        && same(source.green_colorant, srgb.green_colorant)
        && same(source.blue_colorant, srgb.blue_colorant)
    {
        return false;
    }
    let Ok(transform) =
        source.create_transform_8bit(Layout::Rgb, &srgb, Layout::Rgb, TransformOptions::default())
    else {
        return false;
    };
    let mut out = vec![0u8; image.as_raw().len()];
    if transform.transform(image.as_raw(), &mut out).is_err() {
        return false;
    }
    let (w, h) = image.dimensions();
    *image = RgbImage::from_raw(w, h, out).expect("same size");
    true
}

/// Shrink (never enlarge) so the long edge is at most `long_edge`, with Lanczos3.
pub fn fit_long_edge(image: RgbImage, long_edge: u32) -> Result<RgbImage, PhotoError> {
    let (w, h) = image.dimensions();
    let long = w.max(h);
    if long <= long_edge {
        return Ok(image);
    }
    let ratio = long_edge as f64 / long as f64;
    let (dw, dh) = (
        ((w as f64 * ratio).round() as u32).max(1),
        ((h as f64 * ratio).round() as u32).max(1),
    );
    resize(image, dw, dh)
}

pub fn resize(image: RgbImage, dw: u32, dh: u32) -> Result<RgbImage, PhotoError> {
    let (w, h) = image.dimensions();
    let src = fir::images::Image::from_vec_u8(w, h, image.into_raw(), fir::PixelType::U8x3)
        .map_err(corrupt)?;
    let mut dst = fir::images::Image::new(dw, dh, fir::PixelType::U8x3);
    let options = fir::ResizeOptions::new()
        .resize_alg(fir::ResizeAlg::Convolution(fir::FilterType::Lanczos3));
    fir::Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(corrupt)?;
    Ok(RgbImage::from_raw(dw, dh, dst.into_vec()).expect("sized by fast_image_resize"))
}

/// Apply EXIF orientation 1-8 so the pixels are upright and the tag can be dropped.
fn orient(image: RgbImage, orientation: u16) -> RgbImage {
    match Orientation::from_exif(orientation as u8) {
        Some(Orientation::NoTransforms) | None => image,
        Some(o) => {
            let mut dynamic = DynamicImage::ImageRgb8(image);
            dynamic.apply_orientation(o);
            dynamic.into_rgb8()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_keeps_at_least_the_target_within_slack() {
        assert_eq!(
            choose_scale(4032, 3024, 2048),
            turbojpeg::ScalingFactor::new(1, 2)
        );
        assert_eq!(
            choose_scale(8064, 6048, 2048),
            turbojpeg::ScalingFactor::new(1, 4)
        );
        assert_eq!(
            choose_scale(16384, 12288, 2048),
            turbojpeg::ScalingFactor::new(1, 8)
        );
        assert_eq!(
            choose_scale(3264, 2448, 2048),
            turbojpeg::ScalingFactor::ONE
        );
        assert_eq!(choose_scale(800, 600, 2048), turbojpeg::ScalingFactor::ONE);
    }

    #[test]
    fn png_rows_averaged_as_they_come_match_a_whole_decode() {
        // 16-bit RGBA with transparency, sizes that are no multiple of the factor (3).
        let (w, h) = (301u32, 203u32);
        let image = image::ImageBuffer::<image::Rgba<u16>, _>::from_fn(w, h, |x, y| {
            image::Rgba([
                (x * 200) as u16,
                (y * 300) as u16,
                40_000,
                if x < 150 { 65_535 } else { 30_000 },
            ])
        });
        let mut png = Vec::new();
        image
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let (small, sw, sh) = decode_png(&png, 100, &Limits::PREPARE).unwrap();
        assert_eq!((sw, sh), (w, h));
        assert_eq!(small.dimensions(), (101, 68));
        let whole = flatten_on_white(image::DynamicImage::ImageRgba16(image).to_rgba8().into());
        for (x, y) in [(0, 0), (50, 30), (100, 67), (49, 10)] {
            let mut sum = [0u32; 3];
            let mut n = 0;
            for yy in y * 3..(y * 3 + 3).min(h) {
                for xx in x * 3..(x * 3 + 3).min(w) {
                    let p = whole.get_pixel(xx, yy);
                    (0..3).for_each(|c| sum[c] += p[c] as u32);
                    n += 1;
                }
            }
            let got = small.get_pixel(x, y);
            for c in 0..3 {
                let want = (sum[c] + n / 2) / n;
                assert!(
                    got[c].abs_diff(want as u8) <= 2,
                    "({x},{y}) {got:?} vs {want}"
                );
            }
        }
    }

    #[test]
    fn png_sizes_are_refused_from_the_header() {
        let mut png = Vec::new();
        image::RgbImage::new(1, 1)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        png[16..20].copy_from_slice(&30_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&30_000u32.to_be_bytes());
        let err = decode_png(&png, 2048, &Limits::UPLOAD).unwrap_err();
        assert!(matches!(err, PhotoError::TooManyPixels { .. }), "{err:?}");
    }

    #[test]
    fn absurd_header_is_refused_before_decoding() {
        let err = Limits::UPLOAD.check(60_000, 60_000, false).unwrap_err();
        assert!(matches!(err, PhotoError::TooManyPixels { .. }));
    }

    #[test]
    fn malformed_exif_means_upright() {
        assert_eq!(exif_orientation(b"not exif at all"), 1);
        assert_eq!(exif_orientation(&[]), 1);
    }
}
