//! Formats by content: the first bytes decide, never the file name or a Content-Type.
use super::PhotoError;

/// The image formats we can name. Only JPEG and PNG are accepted; the others are recognised so the
/// app can tell the user what to do instead of "unknown file".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PhotoFormat {
    Jpeg,
    Png,
    Heif,
    Avif,
    WebP,
    Gif,
    Tiff,
    Bmp,
}

impl PhotoFormat {
    /// Recognise the format from the first bytes (`None`: not an image we can name).
    pub fn sniff(bytes: &[u8]) -> Option<PhotoFormat> {
        sniff(bytes)
    }

    pub fn name(self) -> &'static str {
        match self {
            PhotoFormat::Jpeg => "JPEG",
            PhotoFormat::Png => "PNG",
            PhotoFormat::Heif => "HEIC/HEIF",
            PhotoFormat::Avif => "AVIF",
            PhotoFormat::WebP => "WebP",
            PhotoFormat::Gif => "GIF",
            PhotoFormat::Tiff => "TIFF",
            PhotoFormat::Bmp => "BMP",
        }
    }

    /// The MIME type the server serves a stored file with.
    pub fn mime(self) -> &'static str {
        match self {
            PhotoFormat::Jpeg => "image/jpeg",
            PhotoFormat::Png => "image/png",
            PhotoFormat::Heif => "image/heif",
            PhotoFormat::Avif => "image/avif",
            PhotoFormat::WebP => "image/webp",
            PhotoFormat::Gif => "image/gif",
            PhotoFormat::Tiff => "image/tiff",
            PhotoFormat::Bmp => "image/bmp",
        }
    }

    /// What the user can do about an unaccepted format.
    fn hint(self) -> &'static str {
        match self {
            PhotoFormat::Heif | PhotoFormat::Avif => {
                "on an iPhone, share the photo as \"Most Compatible\" or set Camera > Formats to Most Compatible"
            }
            _ => "save or export the photo as JPEG",
        }
    }
}

impl std::fmt::Display for PhotoFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Recognise the format from the first bytes. `None`: not an image we can name.
pub fn sniff(bytes: &[u8]) -> Option<PhotoFormat> {
    // image's guess_format knows the common signatures; HEIF and AVIF (ISO-BMFF `ftyp` brands)
    // need the brand read, which it does not do for HEIF.
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        let brand = &bytes[8..12];
        return match brand {
            b"avif" | b"avis" => Some(PhotoFormat::Avif),
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"mif1" | b"msf1" => {
                Some(PhotoFormat::Heif)
            }
            _ => None,
        };
    }
    match image::guess_format(bytes).ok()? {
        image::ImageFormat::Jpeg => Some(PhotoFormat::Jpeg),
        image::ImageFormat::Png => Some(PhotoFormat::Png),
        image::ImageFormat::WebP => Some(PhotoFormat::WebP),
        image::ImageFormat::Gif => Some(PhotoFormat::Gif),
        image::ImageFormat::Tiff => Some(PhotoFormat::Tiff),
        image::ImageFormat::Bmp => Some(PhotoFormat::Bmp),
        image::ImageFormat::Avif => Some(PhotoFormat::Avif),
        _ => None,
    }
}

/// JPEG or PNG, or the typed refusal.
pub fn accepted(bytes: &[u8]) -> Result<PhotoFormat, PhotoError> {
    match sniff(bytes) {
        Some(f @ (PhotoFormat::Jpeg | PhotoFormat::Png)) => Ok(f),
        Some(format) => Err(PhotoError::UnsupportedFormat {
            format,
            hint: format.hint(),
        }),
        None => Err(PhotoError::NotAnImage),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_named_jpg_is_not_an_image() {
        assert_eq!(
            accepted(b"hello, this is not a photo"),
            Err(PhotoError::NotAnImage)
        );
        assert_eq!(accepted(b""), Err(PhotoError::NotAnImage));
    }

    #[test]
    fn heic_brand_is_named() {
        let mut head = vec![0, 0, 0, 24];
        head.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
        let err = accepted(&head).unwrap_err();
        assert!(
            matches!(
                err,
                PhotoError::UnsupportedFormat {
                    format: PhotoFormat::Heif,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("Most Compatible"));
    }
}
