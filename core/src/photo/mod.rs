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
//! 6. measure legibility (`checks`): sharpness, exposure, effective resolution, as warnings;
//! 7. encode 4:2:0 with optimised Huffman tables at the highest quality that fits the budget
//!    (`encode`), writing no EXIF, XMP, GPS, MPF or comment segment at all.
mod checks;
mod decode;
mod encode;
mod format;
mod validate;

use std::path::Path;

pub use checks::{Checks, DocumentKind, Warning, measure};
pub use encode::EncodePolicy;
pub use format::PhotoFormat;
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

/// How to prepare: the budget, the size policy and what kind of document the photo shows.
#[derive(Debug, Clone)]
pub struct PrepareOptions {
    pub budget_bytes: usize,
    pub policy: EncodePolicy,
    pub document: DocumentKind,
}

impl Default for PrepareOptions {
    fn default() -> Self {
        PrepareOptions {
            budget_bytes: UPLOAD_BUDGET_BYTES,
            policy: EncodePolicy::default(),
            document: DocumentKind::IdCard,
        }
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
    let format = format::accepted(&bytes)?;
    let decoded = decode::decode_upright(
        &bytes,
        format,
        options.policy.long_edge,
        &decode::Limits::PREPARE,
    )?;
    let checks = checks::measure(&decoded.image, options.document);
    let encoded = encode::encode_within(decoded.image, options.budget_bytes, &options.policy)?;
    Ok(PreparedPhoto {
        width: encoded.width,
        height: encoded.height,
        quality: encoded.quality,
        jpeg: encoded.jpeg,
        source: SourceInfo {
            format,
            width: decoded.source_width,
            height: decoded.source_height,
            bytes: bytes.len() as u64,
            orientation: decoded.orientation,
            converted_icc: decoded.converted_icc,
        },
        checks,
    })
}
