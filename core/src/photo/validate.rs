//! What the server accepts: JPEG or PNG by content, within the budget, decodable within limits,
//! upright (orientation tag absent or 1). Metadata segments are removed losslessly (no re-encode)
//! before the file is stored, so a browser upload keeps no GPS position or camera serial.
use bytes::Bytes;
use img_parts::{ImageEXIF, jpeg::Jpeg, png::Png};

use super::decode::{Limits, decode_png, exif_orientation};
use super::{PhotoError, PhotoFormat, UPLOAD_BUDGET_BYTES, format};

/// An accepted upload: its format, dimensions and the bytes to store (metadata removed).
#[derive(Debug, Clone)]
pub struct ValidatedPhoto {
    pub format: PhotoFormat,
    pub width: u32,
    pub height: u32,
    pub bytes: Bytes,
    /// Whether metadata was removed, so `bytes` differ from what was given (a photo from the
    /// phone's pipeline carries none: its bytes, and their hash, are the upload's own).
    pub metadata_removed: bool,
}

/// `validate_with_budget` with the district's 200 KB.
pub fn validate(bytes: &[u8]) -> Result<ValidatedPhoto, PhotoError> {
    validate_with_budget(bytes, UPLOAD_BUDGET_BYTES)
}

pub fn validate_with_budget(bytes: &[u8], budget: usize) -> Result<ValidatedPhoto, PhotoError> {
    check_budget(bytes.len(), budget)?;
    validate_owned_with_budget(Bytes::copy_from_slice(bytes), budget)
}

/// `validate` of bytes handed over (the server's request body): nothing is copied unless
/// metadata has to be removed.
pub fn validate_owned(bytes: Bytes) -> Result<ValidatedPhoto, PhotoError> {
    validate_owned_with_budget(bytes, UPLOAD_BUDGET_BYTES)
}

fn check_budget(len: usize, budget: usize) -> Result<(), PhotoError> {
    if len > budget {
        return Err(PhotoError::OverBudget {
            bytes: len as u64,
            budget: budget as u64,
        });
    }
    Ok(())
}

fn validate_owned_with_budget(bytes: Bytes, budget: usize) -> Result<ValidatedPhoto, PhotoError> {
    check_budget(bytes.len(), budget)?;
    let format = format::accepted(&bytes)?;
    let limits = Limits::UPLOAD;
    let (width, height, cleaned) = match format {
        PhotoFormat::Jpeg => validate_jpeg(bytes.clone(), &limits)?,
        PhotoFormat::Png => validate_png(bytes.clone(), &limits)?,
        _ => unreachable!("format::accepted lets only JPEG and PNG through"),
    };
    let (bytes, metadata_removed) = match cleaned {
        Some(cleaned) => (cleaned, true),
        None => (bytes, false),
    };
    Ok(ValidatedPhoto {
        format,
        width,
        height,
        bytes,
        metadata_removed,
    })
}

fn corrupt(e: impl std::fmt::Display) -> PhotoError {
    PhotoError::Corrupt {
        detail: e.to_string(),
    }
}

/// JPEG markers kept: JFIF (APP0) and Adobe (APP14) tell the decoder the colour transform, ICC
/// (APP2 "ICC_PROFILE") how to show the colours. Every other APPn (EXIF, XMP, MPF, IPTC, maker
/// data) and COM is dropped.
fn keep_jpeg_segment(marker: u8, contents: &[u8]) -> bool {
    const APP0: u8 = 0xE0;
    const APP2: u8 = 0xE2;
    const APP14: u8 = 0xEE;
    const COM: u8 = 0xFE;
    match marker {
        APP0 | APP14 => true,
        APP2 => contents.starts_with(b"ICC_PROFILE\0"),
        0xE1..=0xEF | COM => false,
        _ => true,
    }
}

/// The dimensions, and the bytes without metadata when there was any to remove.
fn validate_jpeg(bytes: Bytes, limits: &Limits) -> Result<(u32, u32, Option<Bytes>), PhotoError> {
    let given = bytes.len();
    // Whatever follows the end of the image (a ZIP, an HTML page) is not part of it: dropped.
    let bytes = match jpeg_end(&bytes) {
        Some(end) if end < given => bytes.slice(..end),
        _ => bytes,
    };
    let mut decompressor = turbojpeg::Decompressor::new().map_err(corrupt)?;
    let header = decompressor.read_header(&bytes).map_err(corrupt)?;
    limits.check(header.width as u64, header.height as u64, true)?;
    let mut jpeg = Jpeg::from_bytes(bytes.clone()).map_err(corrupt)?;
    let orientation = jpeg.exif().as_deref().map_or(1, exif_orientation);
    if orientation != 1 {
        return Err(PhotoError::NotUpright { orientation });
    }
    // Decode every block once: a file that does not decode cleanly is not stored. At 1/8 scale
    // the whole entropy-coded stream is still read (where damage shows) while the inverse DCT
    // and the pixels cost a sixty-fourth: the server does this for every upload.
    let (w, h) = (header.width, header.height);
    decompressor
        .set_scaling_factor(turbojpeg::ScalingFactor::ONE_EIGHTH)
        .map_err(corrupt)?;
    let small = header.scaled(turbojpeg::ScalingFactor::ONE_EIGHTH);
    let mut pixels = vec![0u8; small.width * small.height];
    let gray = turbojpeg::Image {
        pixels: pixels.as_mut_slice(),
        width: small.width,
        pitch: small.width,
        height: small.height,
        format: turbojpeg::PixelFormat::GRAY,
    };
    decompressor.decompress(&bytes, gray).map_err(corrupt)?;
    drop(pixels);
    jpeg.segments_mut()
        .retain(|s| keep_jpeg_segment(s.marker(), s.contents()));
    // Encoding writes back exactly what was parsed, in order, less what was dropped (segments,
    // fill bytes, stray bytes, anything after the end): the same length means the same bytes.
    let cleaned = (jpeg.len() != given).then(|| jpeg.encoder().bytes());
    Ok((w as u32, h as u32, cleaned))
}

/// Where a JPEG ends: just past its EOI marker, found by walking the marker segments and the
/// entropy-coded scans (in which 0xFF is followed by 0x00 or a restart marker), so an EOI-like
/// pair inside a segment's data is not taken for the end. None if no end is found.
pub(crate) fn jpeg_end(bytes: &[u8]) -> Option<usize> {
    const EOI: u8 = 0xD9;
    const SOS: u8 = 0xDA;
    let mut i = 2; // after SOI
    loop {
        while *bytes.get(i)? != 0xFF {
            i += 1; // stray bytes between segments
        }
        while *bytes.get(i + 1)? == 0xFF {
            i += 1; // fill bytes
        }
        let marker = *bytes.get(i + 1)?;
        match marker {
            EOI => return Some(i + 2),
            0x01 | 0xD0..=0xD7 => {
                i += 2;
                continue;
            }
            _ => {}
        }
        let length = u16::from_be_bytes([*bytes.get(i + 2)?, *bytes.get(i + 3)?]) as usize;
        i += 2 + length;
        if marker == SOS {
            // Entropy-coded data up to the next marker that is not stuffing or a restart.
            loop {
                if *bytes.get(i)? == 0xFF {
                    match *bytes.get(i + 1)? {
                        0x00 | 0xD0..=0xD7 => i += 2,
                        0xFF => i += 1,
                        _ => break,
                    }
                } else {
                    i += 1;
                }
            }
        }
    }
}

/// PNG chunks dropped: text (tEXt, zTXt, iTXt), EXIF (eXIf) and the modification time (tIME).
fn validate_png(bytes: Bytes, limits: &Limits) -> Result<(u32, u32, Option<Bytes>), PhotoError> {
    let mut png = Png::from_bytes(bytes.clone()).map_err(corrupt)?;
    let orientation = png.exif().as_deref().map_or(1, exif_orientation);
    if orientation != 1 {
        return Err(PhotoError::NotUpright { orientation });
    }
    // Every row decoded (where damage shows), averaged down as it comes: memory stays small
    // whatever the header claims within the limits.
    let (_, w, h) = decode_png(&bytes, 1024, limits)?;
    png.chunks_mut()
        .retain(|c| !matches!(&c.kind(), b"tEXt" | b"zTXt" | b"iTXt" | b"eXIf" | b"tIME"));
    // As for JPEG: the same length re-encoded is the same bytes (anything after IEND is dropped).
    let cleaned = (png.len() != bytes.len()).then(|| png.encoder().bytes());
    Ok((w, h, cleaned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_budget_is_refused_before_anything_else() {
        let big = vec![0xFFu8; UPLOAD_BUDGET_BYTES + 1];
        assert!(matches!(validate(&big), Err(PhotoError::OverBudget { .. })));
    }

    fn small_jpeg() -> Vec<u8> {
        let pixels: Vec<u8> = (0..32 * 32 * 3).map(|i| (i * 7 % 251) as u8).collect();
        let image = turbojpeg::Image {
            pixels: &pixels[..],
            width: 32,
            pitch: 96,
            height: 32,
            format: turbojpeg::PixelFormat::RGB,
        };
        turbojpeg::compress(image, 90, turbojpeg::Subsamp::Sub2x2)
            .unwrap()
            .to_vec()
    }

    #[test]
    fn bytes_after_a_jpeg_end_are_dropped() {
        let jpeg = small_jpeg();
        assert_eq!(jpeg_end(&jpeg), Some(jpeg.len()));
        let mut sent = jpeg.clone();
        sent.extend_from_slice(b"PK\x03\x04zip<html><script>x</script></html>\xFF\xD9");
        let checked = validate(&sent).unwrap();
        assert_eq!(checked.bytes.as_ref(), jpeg.as_slice());
        assert!(checked.metadata_removed);
        // An end marker inside a segment's data is not the end: the comment is skipped whole.
        let mut with_comment = jpeg[..2].to_vec();
        with_comment.extend_from_slice(&[0xFF, 0xFE, 0x00, 0x06, 0xFF, 0xD9, 0xFF, 0xD9]);
        with_comment.extend_from_slice(&jpeg[2..]);
        with_comment.extend_from_slice(b"trailer");
        assert_eq!(jpeg_end(&with_comment), Some(with_comment.len() - 7));
        assert_eq!(
            validate(&with_comment).unwrap().bytes.as_ref(),
            jpeg.as_slice()
        );
    }

    #[test]
    fn huge_header_is_refused_without_decoding() {
        // A real JPEG whose frame header is patched to claim 60000 x 60000 pixels.
        let mut jpeg = small_jpeg();
        let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        jpeg[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
        let err = validate(&jpeg).unwrap_err();
        assert!(
            matches!(
                err,
                PhotoError::TooManyPixels {
                    width: 60000,
                    height: 60000,
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
