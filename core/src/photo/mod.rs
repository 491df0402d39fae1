//! The photo pipeline: any phone photo in, an upright, metadata-free sRGB JPEG under the district's
//! budget out (`prepare`), and the server's check of what it accepts (`validate`).
//!
//! The district's rule (考区要求): jpg/jpeg/png, upright, legible, at most 200 KB per file. A phone gives
//! 12-50 MP JPEGs of 2-12 MB, often sideways through the EXIF Orientation tag, with GPS in the
//! metadata. The pipeline:
//!
//! 1. sniff the format by content (`format`); refuse what we do not accept before decoding anything;
//! 2. read the header only and refuse absurd dimensions before allocating (`decode::Limits`);
//! 3. decode JPEG with libjpeg-turbo *at reduced scale* (the IDCT does 1/2, 1/4, 1/8 for free), so a
//!    48 MP photo never exists in memory at full size; PNG through `image`, alpha on white;
//! 4. convert an embedded ICC profile (Display P3, Adobe RGB) to sRGB (moxcms);
//! 5. resize to fit the long edge (fast_image_resize, Lanczos3), then apply the EXIF orientation;
//! 6. find the document's page (`page`) and flatten it (`flatten`), resampled from a larger decode
//!    when the page filled only part of the frame, so it gets the pixels the desk had;
//! 7. turn it upright by its content when its text says so (`upright`), whatever EXIF said;
//! 8. measure legibility (`checks`) on what is sent: sharpness, exposure, effective resolution;
//! 9. encode 4:2:0 with optimised Huffman tables at the highest quality that fits the budget
//!    (`encode`), writing no EXIF, XMP, GPS, MPF or comment segment at all.
//!
//! Nothing "enhances" the document: no thresholding, no colour change. Reviewers judge authentic
//! photos (seals, the photo on an ID card); the pipeline only crops, flattens, turns and shrinks.
mod checks;
mod decode;
mod encode;
mod flatten;
mod format;
mod page;
mod upright;
mod validate;

use std::path::Path;

pub use checks::{Checks, DocumentKind, Warning, measure};
pub use encode::EncodePolicy;
pub use format::PhotoFormat;
pub use page::{FoundPage, Point, Quad, find_page};
pub use upright::content_turn;
pub use validate::{ValidatedPhoto, validate, validate_owned, validate_with_budget};

/// The district's hard limit for one uploaded file: 200 KB, taken as 200 * 1024 bytes.
pub const UPLOAD_BUDGET_BYTES: usize = 200 * 1024;

/// What `prepare` and `validate` refuse, each case something the app can tell the user about.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum PhotoError {
    /// A real image, but in a format the district does not accept (HEIC, WebP, GIF, TIFF...).
    #[error("{format} images are not accepted; use JPEG or PNG ({hint})")]
    UnsupportedFormat {
        format: PhotoFormat,
        hint: &'static str,
    },
    /// Not an image at all (a text file named .jpg, an empty file).
    #[error("this file is not an image")]
    NotAnImage,
    /// Dimensions beyond what a phone camera makes; refused from the header, before decoding.
    #[error("the image is {width}x{height} pixels, more than the {max_pixels}-pixel limit")]
    TooManyPixels {
        width: u64,
        height: u64,
        max_pixels: u64,
    },
    /// The file itself is larger than the pipeline reads.
    #[error("the file is {bytes} bytes, more than the {limit}-byte limit")]
    FileTooLarge { bytes: u64, limit: u64 },
    /// Damaged or truncated data.
    #[error("the image is damaged and cannot be read ({detail})")]
    Corrupt { detail: String },
    /// Only from `validate`: the file is over the district's budget.
    #[error("the file is {bytes} bytes; at most {budget} bytes are accepted")]
    OverBudget { bytes: u64, budget: u64 },
    /// Only from `validate`: the EXIF Orientation tag says the pixels are not upright.
    #[error(
        "the image is stored rotated or mirrored (EXIF orientation {orientation}); prepare it first"
    )]
    NotUpright { orientation: u16 },
    /// Even the smallest legible size does not fit the budget (pure noise, for example).
    #[error("the photo cannot be made smaller than {budget} bytes while staying legible")]
    BudgetUnreachable { budget: u64 },
    /// The file could not be read from disk.
    #[error("the file could not be read: {detail}")]
    Io { detail: String },
    /// The corners passed do not make a page: four points, clockwise from the top-left, a convex
    /// quadrilateral of some size, about inside the photo.
    #[error("the corners given do not outline a page")]
    InvalidCorners,
}

impl PhotoError {
    /// A stable, machine-readable code, shared by the app, the server's answers and the web page.
    pub fn code(&self) -> &'static str {
        match self {
            PhotoError::UnsupportedFormat { .. } => "unsupported_format",
            PhotoError::NotAnImage => "not_an_image",
            PhotoError::TooManyPixels { .. } => "too_many_pixels",
            PhotoError::FileTooLarge { .. } => "file_too_large",
            PhotoError::Corrupt { .. } => "corrupt",
            PhotoError::OverBudget { .. } => "over_budget",
            PhotoError::NotUpright { .. } => "not_upright",
            PhotoError::BudgetUnreachable { .. } => "budget_unreachable",
            PhotoError::Io { .. } => "io",
            PhotoError::InvalidCorners => "invalid_corners",
        }
    }
}

/// Where the photo comes from. The apps hand a path, so a 200 MP photo is never copied through the
/// FFI boundary; the server hands the bytes a browser sent.
#[derive(Debug, Clone, Copy)]
pub enum PhotoSource<'a> {
    Path(&'a Path),
    Bytes(&'a [u8]),
}

/// How to frame the photo.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Framing {
    /// Find the document's page and flatten it when its outline is clear (the default).
    #[default]
    FindPage,
    /// Keep the whole photo (the candidate's choice); the page is still looked for, so its
    /// outline can be offered.
    WholeFrame,
    /// A photo of a person (本人手持身份证): the whole photo, turned by EXIF only; no page is
    /// looked for and the content is not read for its orientation.
    Person,
    /// Flatten the page inside these corners (moved by the candidate), in the upright frame.
    Corners(Quad),
}

/// How to prepare: the budget, the size policy, what kind of document the photo shows and how
/// to frame it.
#[derive(Debug, Clone)]
pub struct PrepareOptions {
    pub budget_bytes: usize,
    pub policy: EncodePolicy,
    pub document: DocumentKind,
    pub framing: Framing,
    /// Turn the result upright by its content when the text shows it sideways or upside down.
    pub turn_by_content: bool,
}

impl Default for PrepareOptions {
    fn default() -> Self {
        PrepareOptions {
            budget_bytes: UPLOAD_BUDGET_BYTES,
            policy: EncodePolicy::default(),
            document: DocumentKind::IdCard,
            framing: Framing::FindPage,
            turn_by_content: true,
        }
    }
}

/// What became of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageFraming {
    /// Found with a clear outline, flattened.
    Found,
    /// Flattened inside the corners the caller gave.
    Given,
    /// No page with a clear outline: the whole frame was kept.
    NotFound,
    /// The whole frame was asked for.
    WholeFrame,
}

impl PageFraming {
    pub fn code(self) -> &'static str {
        match self {
            PageFraming::Found => "found",
            PageFraming::Given => "given",
            PageFraming::NotFound => "none",
            PageFraming::WholeFrame => "whole_frame",
        }
    }
}

/// The page: where it is in the photo, and what was done with it.
#[derive(Debug, Clone, PartialEq)]
pub struct PageOutcome {
    pub framing: PageFraming,
    /// The corners found or given, in the upright frame, to draw on the photo. Present also when
    /// a found outline was too unsure to crop (`NotFound`) or not wanted (`WholeFrame`), so the
    /// candidate can take it up and adjust it.
    pub corners: Option<Quad>,
    /// How clearly the outline showed, 0..1 (1 for corners given).
    pub confidence: f32,
    /// Degrees (0, 90, 180, 270) the result was turned clockwise because its content showed it
    /// sideways or upside down (after EXIF).
    pub turned: u16,
    /// The upright frame's size in pixels (the photo as shown, EXIF applied).
    pub frame_width: u32,
    pub frame_height: u32,
}

impl PageOutcome {
    pub fn cropped(&self) -> bool {
        matches!(self.framing, PageFraming::Found | PageFraming::Given)
    }
}

/// An upload-ready photo: the JPEG, what was done to get it, and the legibility checks.
#[derive(Debug, Clone)]
pub struct PreparedPhoto {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// The JPEG quality (1-100) the encoder settled on.
    pub quality: u8,
    pub source: SourceInfo,
    pub page: PageOutcome,
    pub checks: Checks,
}

/// What the input was, as found in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    pub format: PhotoFormat,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    /// EXIF orientation 1-8 as applied (1 when absent or unreadable).
    pub orientation: u16,
    /// Whether an embedded ICC profile was converted to sRGB.
    pub converted_icc: bool,
}

/// The long edge of a thumbnail: a list's small picture, 2-3x its shown size on a phone.
pub const THUMBNAIL_LONG_EDGE: u32 = 320;

/// A small JPEG of an image already stored (JPEG or PNG, upright), for lists: at most
/// `THUMBNAIL_LONG_EDGE` on the long side, decoded at reduced scale (a few ms), quality 80.
pub fn thumbnail(bytes: &[u8]) -> Result<Vec<u8>, PhotoError> {
    let format = format::accepted(bytes)?;
    let bytes = bytes::Bytes::copy_from_slice(bytes);
    let decoded =
        decode::decode_upright(&bytes, format, THUMBNAIL_LONG_EDGE, &decode::Limits::UPLOAD)?;
    encode::Compressor::new()?.encode(&decoded.image, 80)
}

/// Turn a photo into an upright, metadata-free sRGB JPEG of at most `options.budget_bytes`.
pub fn prepare(
    source: PhotoSource<'_>,
    options: &PrepareOptions,
) -> Result<PreparedPhoto, PhotoError> {
    match source {
        PhotoSource::Bytes(bytes) => prepare_bytes(bytes::Bytes::copy_from_slice(bytes), options),
        PhotoSource::Path(path) => {
            let meta = std::fs::metadata(path).map_err(|e| PhotoError::Io {
                detail: e.to_string(),
            })?;
            if meta.len() > decode::MAX_INPUT_BYTES {
                return Err(PhotoError::FileTooLarge {
                    bytes: meta.len(),
                    limit: decode::MAX_INPUT_BYTES,
                });
            }
            let bytes = std::fs::read(path).map_err(|e| PhotoError::Io {
                detail: e.to_string(),
            })?;
            prepare_bytes(bytes.into(), options)
        }
    }
}

/// The largest decode a page is resampled from, in pixels: 12.6 MP of RGB is 38 MB, which keeps a
/// 48 MP photo's prepare under 64 MB with its compressed bytes and the output.
const PAGE_DECODE_MAX_PIXELS: f64 = 12.6e6;

fn prepare_bytes(
    bytes: bytes::Bytes,
    options: &PrepareOptions,
) -> Result<PreparedPhoto, PhotoError> {
    if bytes.len() as u64 > decode::MAX_INPUT_BYTES {
        return Err(PhotoError::FileTooLarge {
            bytes: bytes.len() as u64,
            limit: decode::MAX_INPUT_BYTES,
        });
    }
    if let Framing::Corners(quad) = options.framing
        && !quad.is_usable()
    {
        return Err(PhotoError::InvalidCorners);
    }
    let format = format::accepted(&bytes)?;
    let long_edge = options.policy.long_edge;
    let decoded = decode::decode_upright(&bytes, format, long_edge, &decode::Limits::PREPARE)?;
    let source = SourceInfo {
        format,
        width: decoded.source_width,
        height: decoded.source_height,
        bytes: bytes.len() as u64,
        orientation: decoded.orientation,
        converted_icc: decoded.converted_icc,
    };
    let (frame_width, frame_height) = if decoded.orientation >= 5 {
        (decoded.source_height, decoded.source_width)
    } else {
        (decoded.source_width, decoded.source_height)
    };
    let found = match options.framing {
        Framing::Corners(_) | Framing::Person => None,
        Framing::FindPage | Framing::WholeFrame => page::find_page(&decoded.image),
    };
    let (framing, corners, confidence) = match (options.framing, found) {
        (Framing::Corners(quad), _) => (PageFraming::Given, Some(quad.normalised()), 1.0),
        (Framing::Person, _) => (PageFraming::WholeFrame, None, 0.0),
        (Framing::WholeFrame, found) => (
            PageFraming::WholeFrame,
            found.map(|f| f.quad),
            found.map_or(0.0, |f| f.confidence),
        ),
        (Framing::FindPage, Some(f)) if f.confidence >= page::CONFIDENT_ABOVE => {
            (PageFraming::Found, Some(f.quad), f.confidence)
        }
        (Framing::FindPage, found) => (
            PageFraming::NotFound,
            found.map(|f| f.quad),
            found.map_or(0.0, |f| f.confidence),
        ),
    };
    let mut image = match (framing, corners) {
        (PageFraming::Found | PageFraming::Given, Some(quad)) => {
            let frame = decoded.image;
            let page_image = page_source(
                &bytes,
                format,
                frame,
                &quad,
                long_edge,
                frame_width,
                frame_height,
            )?;
            flatten::flatten(&page_image, &quad, options.document, long_edge)
        }
        _ => decoded.image,
    };
    let turn = if options.turn_by_content && options.framing != Framing::Person {
        upright::content_turn(&image, options.document).unwrap_or(0)
    } else {
        0
    };
    image = match turn {
        1 => image::imageops::rotate90(&image),
        2 => image::imageops::rotate180(&image),
        3 => image::imageops::rotate270(&image),
        _ => image,
    };
    let checks = checks::measure(&image, options.document);
    let encoded = encode::encode_within(image, options.budget_bytes, &options.policy)?;
    Ok(PreparedPhoto {
        width: encoded.width,
        height: encoded.height,
        quality: encoded.quality,
        jpeg: encoded.jpeg,
        source,
        page: PageOutcome {
            framing,
            corners,
            confidence,
            turned: turn as u16 * 90,
            frame_width,
            frame_height,
        },
        checks,
    })
}

/// The image a page is resampled from: the frame as decoded when the page already has the
/// output's pixels there, else a larger decode (within `PAGE_DECODE_MAX_PIXELS`), so a page that
/// filled half the photo is not flattened from a copy sized for the whole frame.
fn page_source(
    bytes: &bytes::Bytes,
    format: PhotoFormat,
    frame: image::RgbImage,
    quad: &Quad,
    long_edge: u32,
    frame_width: u32,
    frame_height: u32,
) -> Result<image::RgbImage, PhotoError> {
    let (w, h) = frame.dimensions();
    let longest_side = quad.longest_side(w, h);
    let frame_long = w.max(h) as f64;
    let wanted = frame_long * long_edge as f64 / longest_side.max(1.0) as f64;
    // The decode scales libjpeg-turbo does fast, smallest first: the first that gives the page
    // its pixels, or the largest the memory bound allows.
    let (source_long, source_pixels) = (
        frame_width.max(frame_height) as f64,
        frame_width as f64 * frame_height as f64,
    );
    let mut target = 0.0;
    for denom in [8.0, 4.0, 2.0, 1.0] {
        if source_pixels / (denom * denom) > PAGE_DECODE_MAX_PIXELS {
            continue;
        }
        target = source_long / denom;
        if target >= 0.95 * wanted {
            break;
        }
    }
    // Not worth a second decode for less than a third more pixels along the page (the output
    // never exceeds `long_edge`): a page filling most of the frame keeps the first decode.
    let gain = (long_edge as f64).min(longest_side as f64 * target / frame_long)
        / longest_side.max(1.0) as f64;
    if gain < 1.33 {
        return Ok(frame);
    }
    drop(frame);
    let larger = decode::decode_upright_as(
        bytes,
        format,
        target as u32,
        &decode::Limits::PREPARE,
        false,
    )?;
    Ok(larger.image)
}
