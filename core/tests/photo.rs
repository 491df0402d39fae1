//! The photo pipeline as the app and the server use it: upright, metadata-free, sRGB, under budget,
//! typed errors for what we refuse. Outputs are checked with an independent decoder (`image`'s
//! zune-jpeg), not the one that produced them.
use std::path::{Path, PathBuf};

use dossier_core::photo::{
    DocumentKind, PhotoError, PhotoFormat, PhotoSource, PrepareOptions, UPLOAD_BUDGET_BYTES,
    Warning, prepare, validate,
};
use image::{GrayImage, RgbImage};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/photos")
}

/// The exam centre's full shared set, when the checkout sits beside it (CI does).
fn shared() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/photos");
    p.is_dir().then_some(p)
}

fn prepare_path(path: &Path) -> Result<dossier_core::photo::PreparedPhoto, PhotoError> {
    prepare(PhotoSource::Path(path), &PrepareOptions::default())
}

fn decode(jpeg: &[u8]) -> RgbImage {
    image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
        .expect("output decodes")
        .into_rgb8()
}

/// A 48x32 grey thumbnail, for comparing scenes.
fn thumb(img: &RgbImage) -> GrayImage {
    let gray = image::DynamicImage::ImageRgb8(img.clone()).into_luma8();
    image::imageops::resize(&gray, 48, 32, image::imageops::FilterType::Triangle)
}

fn mean_abs_diff(a: &GrayImage, b: &GrayImage) -> f64 {
    a.pixels()
        .zip(b.pixels())
        .map(|(p, q)| (p[0] as f64 - q[0] as f64).abs())
        .sum::<f64>()
        / (a.len() as f64)
}

#[test]
fn orientation_set_comes_out_upright_and_alike() {
    for family in ["Landscape", "Portrait"] {
        // Orientation 1 is upright as stored: the reference.
        let reference =
            prepare_path(&testdata().join(format!("orientation/{family}_1.jpg"))).unwrap();
        let reference_img = decode(&reference.jpeg);
        let reference_thumb = thumb(&reference_img);
        // The same scene turned a quarter is far from the reference: the comparison can tell.
        let turned = image::imageops::rotate90(&reference_img);
        let turned = image::imageops::resize(
            &turned,
            reference_img.width(),
            reference_img.height(),
            image::imageops::FilterType::Triangle,
        );
        let wrong = mean_abs_diff(&thumb(&turned), &reference_thumb);
        assert!(
            wrong > 20.0,
            "a rotated scene should differ clearly, got {wrong:.1}"
        );
        for n in 0..=8 {
            let path = testdata().join(format!("orientation/{family}_{n}.jpg"));
            let out = prepare_path(&path).unwrap();
            assert_eq!(
                out.source.orientation,
                if n == 0 { 1 } else { n },
                "{path:?}"
            );
            assert_eq!(
                (out.width, out.height),
                (reference.width, reference.height),
                "{path:?}"
            );
            let diff = mean_abs_diff(&thumb(&decode(&out.jpeg)), &reference_thumb);
            assert!(
                diff < 6.0,
                "{family}_{n} is not upright: differs from the reference by {diff:.1}"
            );
        }
    }
}

fn has_metadata(jpeg: &[u8]) -> bool {
    let parsed = img_parts::jpeg::Jpeg::from_bytes(jpeg.to_vec().into()).expect("parses");
    // Anything but JFIF (APP0) among APPn and COM segments is metadata.
    parsed
        .segments()
        .iter()
        .any(|s| matches!(s.marker(), 0xE1..=0xEF | 0xFE))
}

#[test]
fn gps_tagged_photos_come_out_without_any_metadata() {
    for path in [
        testdata().join("gps/DSCN0010.jpg"),
        testdata().join("real/canon_hdr_NO.jpg"),
        testdata().join("real/iphone_hdr_NO.jpg"),
    ] {
        let input = std::fs::read(&path).unwrap();
        assert!(
            exif::Reader::new()
                .read_from_container(&mut std::io::Cursor::new(&input))
                .is_ok(),
            "{path:?} has EXIF"
        );
        let out = prepare_path(&path).unwrap();
        assert!(
            exif::Reader::new()
                .read_from_container(&mut std::io::Cursor::new(&out.jpeg))
                .is_err(),
            "{path:?}: EXIF left"
        );
        assert!(!has_metadata(&out.jpeg), "{path:?}: metadata segment left");
        assert!(
            !out.jpeg.windows(3).any(|w| w == b"GPS"),
            "{path:?}: GPS bytes left"
        );
    }
}

#[test]
fn sideways_phone_photo_is_turned_upright() {
    // Canon: 2048x1536 stored, Orientation 6 (rotate 90 degrees clockwise to view).
    let out = prepare_path(&testdata().join("real/canon_hdr_NO.jpg")).unwrap();
    assert_eq!(out.source.orientation, 6);
    assert_eq!((out.source.width, out.source.height), (2048, 1536));
    assert!(
        out.height > out.width,
        "portrait after rotation: {}x{}",
        out.width,
        out.height
    );
    assert!(out.jpeg.len() <= UPLOAD_BUDGET_BYTES);
}

fn encode_jpeg(img: &RgbImage, quality: i32) -> Vec<u8> {
    let view = turbojpeg::Image {
        pixels: img.as_raw().as_slice(),
        width: img.width() as usize,
        pitch: img.width() as usize * 3,
        height: img.height() as usize,
        format: turbojpeg::PixelFormat::RGB,
    };
    turbojpeg::compress(view, quality, turbojpeg::Subsamp::Sub2x2)
        .unwrap()
        .to_vec()
}

/// Deterministic noise: the worst case for JPEG size.
fn noise(w: u32, h: u32, seed: u32) -> RgbImage {
    let mut state = seed.wrapping_mul(2_654_435_761).max(1);
    RgbImage::from_fn(w, h, |_, _| {
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state & 0xFF) as u8
        };
        image::Rgb([next(), next(), next()])
    })
}

/// A document-like page: dark strokes on light paper.
fn document(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let stroke = (y / 9) % 4 == 0 && (x / 5 + y / 37) % 7 != 0;
        let v = if stroke {
            30
        } else {
            235 - ((x + y) % 11) as u8
        };
        image::Rgb([v, v, v.saturating_sub(8)])
    })
}

fn assert_within_budget(name: &str, input: &[u8]) {
    match prepare(PhotoSource::Bytes(input), &PrepareOptions::default()) {
        Ok(out) => {
            assert!(
                out.jpeg.len() <= UPLOAD_BUDGET_BYTES,
                "{name}: {} bytes",
                out.jpeg.len()
            );
            assert!(
                out.width.max(out.height) <= 2048,
                "{name}: {}x{}",
                out.width,
                out.height
            );
            let back = decode(&out.jpeg);
            assert_eq!(
                (back.width(), back.height()),
                (out.width, out.height),
                "{name}"
            );
        }
        Err(PhotoError::BudgetUnreachable { .. }) => {}
        Err(e) => panic!("{name}: {e:?}"),
    }
}

#[test]
fn budget_is_never_exceeded_on_hard_cases() {
    assert_within_budget("noise 4000x3000", &encode_jpeg(&noise(4000, 3000, 7), 95));
    assert_within_budget(
        "document 4032x3024",
        &encode_jpeg(&document(4032, 3024), 92),
    );
    assert_within_budget("tiny 16x16", &encode_jpeg(&noise(16, 16, 3), 90));
    assert_within_budget(
        "extreme aspect 12000x150",
        &encode_jpeg(&document(12000, 150), 90),
    );
    assert_within_budget(
        "extreme aspect 150x9000",
        &encode_jpeg(&document(150, 9000), 90),
    );

    // Progressive JPEG (some phones and every "save for web"): a real photo re-encoded progressive
    // comes out like its baseline original.
    let photo = image::load_from_memory(
        &std::fs::read(testdata().join("orientation/Landscape_1.jpg")).unwrap(),
    )
    .unwrap()
    .into_rgb8();
    let view = turbojpeg::Image {
        pixels: photo.as_raw().as_slice(),
        width: photo.width() as usize,
        pitch: photo.width() as usize * 3,
        height: photo.height() as usize,
        format: turbojpeg::PixelFormat::RGB,
    };
    let mut compressor = turbojpeg::Compressor::new().unwrap();
    compressor.set_quality(92).unwrap();
    compressor.set_progressive(true).unwrap();
    let progressive = compressor.compress_to_vec(view).unwrap();
    assert!(turbojpeg::read_header(&progressive).unwrap().is_progressive);
    assert_within_budget("progressive photo", &progressive);
    let out = prepare(PhotoSource::Bytes(&progressive), &PrepareOptions::default()).unwrap();
    assert_eq!((out.width, out.height), (photo.width(), photo.height()));
    let baseline = prepare_path(&testdata().join("orientation/Landscape_1.jpg")).unwrap();
    assert!(mean_abs_diff(&thumb(&decode(&out.jpeg)), &thumb(&decode(&baseline.jpeg))) < 3.0);

    // Alpha PNG: transparent areas become white paper.
    let mut rgba = image::RgbaImage::from_pixel(800, 600, image::Rgba([0, 0, 0, 0]));
    for y in 200..400 {
        for x in 200..600 {
            rgba.put_pixel(x, y, image::Rgba([20, 40, 200, 255]));
        }
    }
    let mut png = Vec::new();
    rgba.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    assert_within_budget("alpha png", &png);
    // The whole frame: a blue card on white is otherwise found as a page and cropped to.
    let whole_frame = PrepareOptions {
        framing: dossier_core::photo::Framing::WholeFrame,
        ..PrepareOptions::default()
    };
    let out = prepare(PhotoSource::Bytes(&png), &whole_frame).unwrap();
    let back = decode(&out.jpeg);
    assert!(
        back.get_pixel(10, 10)[0] > 245,
        "transparent corner should be white: {:?}",
        back.get_pixel(10, 10)
    );
    assert!(back.get_pixel(400, 300)[2] > 150, "opaque blue stays blue");

    // CMYK JPEG, as Photoshop writes it.
    let cmyk: Vec<u8> = (0..600 * 400)
        .flat_map(|i| {
            if i % 600 < 300 {
                [255, 255, 255, 255]
            } else {
                [255, 0, 0, 255]
            }
        })
        .collect();
    let view = turbojpeg::Image {
        pixels: &cmyk[..],
        width: 600,
        pitch: 2400,
        height: 400,
        format: turbojpeg::PixelFormat::CMYK,
    };
    let cmyk_jpeg = turbojpeg::compress(view, 90, turbojpeg::Subsamp::None)
        .unwrap()
        .to_vec();
    assert_within_budget("cmyk jpeg", &cmyk_jpeg);
}

#[test]
fn budget_holds_for_a_200_megapixel_photo() {
    // 16384 x 12288, the size of a 200 MP phone sensor, with enough detail to be hard.
    let (w, h) = (16384u32, 12288u32);
    let mut pixels = vec![200u8; (w * h * 3) as usize];
    for (i, row) in pixels.chunks_mut((w * 3) as usize).enumerate() {
        if i % 16 < 3 {
            for (j, p) in row.iter_mut().enumerate() {
                *p = ((j * 7 + i * 3) % 251) as u8;
            }
        }
    }
    let view = turbojpeg::Image {
        pixels: &pixels[..],
        width: w as usize,
        pitch: (w * 3) as usize,
        height: h as usize,
        format: turbojpeg::PixelFormat::RGB,
    };
    let jpeg = turbojpeg::compress(view, 85, turbojpeg::Subsamp::Sub2x2)
        .unwrap()
        .to_vec();
    drop(pixels);
    let out = prepare(PhotoSource::Bytes(&jpeg), &PrepareOptions::default()).unwrap();
    assert_eq!((out.source.width, out.source.height), (w, h));
    assert!(out.jpeg.len() <= UPLOAD_BUDGET_BYTES);
    assert_eq!(out.width, 2048);
}

#[test]
fn heic_and_other_formats_get_a_typed_error() {
    let err = prepare_path(&testdata().join("heic/samplefilehub.heif")).unwrap_err();
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
    let mut gif = Vec::new();
    // The GIF signature is enough: we never decode it.
    gif.extend_from_slice(b"GIF89a\x04\x00\x04\x00\x00\x00\x00;");
    assert!(matches!(
        prepare(PhotoSource::Bytes(&gif), &PrepareOptions::default()),
        Err(PhotoError::UnsupportedFormat {
            format: PhotoFormat::Gif,
            ..
        })
    ));
    assert_eq!(
        prepare(
            PhotoSource::Bytes(b"plain text, named photo.jpg"),
            &PrepareOptions::default()
        )
        .unwrap_err(),
        PhotoError::NotAnImage
    );
}

#[test]
fn truncated_and_damaged_jpegs_get_a_typed_error() {
    let whole = std::fs::read(testdata().join("orientation/Landscape_1.jpg")).unwrap();
    for cut in [whole.len() / 2, whole.len() / 10, 700] {
        let err = prepare(
            PhotoSource::Bytes(&whole[..cut]),
            &PrepareOptions::default(),
        )
        .unwrap_err();
        assert!(
            matches!(err, PhotoError::Corrupt { .. }),
            "cut at {cut}: {err:?}"
        );
        assert!(validate(&whole[..cut]).is_err());
    }
    // Invalid EXIF does not fail a photo whose pixels are fine.
    let out = prepare_path(&testdata().join("bad/image01551.jpg")).unwrap();
    assert!(out.jpeg.len() <= UPLOAD_BUDGET_BYTES);
}

#[test]
fn every_shared_test_photo_gives_a_result_or_a_typed_error() {
    let Some(root) = shared() else {
        eprintln!(
            "../shared/testdata/photos not beside the checkout: covered by the copies in testdata/ only"
        );
        return;
    };
    let mut seen = 0;
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            seen += 1;
            match prepare_path(&path) {
                Ok(out) => {
                    assert!(out.jpeg.len() <= UPLOAD_BUDGET_BYTES, "{path:?}");
                    assert!(!has_metadata(&out.jpeg), "{path:?}");
                    decode(&out.jpeg);
                }
                Err(e) => eprintln!("{}: {} ({})", path.display(), e.code(), e),
            }
            // validate never panics either, whatever it is given.
            let _ = validate(&std::fs::read(&path).unwrap());
        }
    }
    assert!(seen > 40, "only {seen} files found");
}

/// sRGB transfer function and its inverse, for the expected value below.
fn to_linear(v: f64) -> f64 {
    if v <= 0.04045 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}
fn from_linear(v: f64) -> f64 {
    if v <= 0.0031308 {
        v * 12.92
    } else {
        1.055 * v.powf(1.0 / 2.4) - 0.055
    }
}

/// A flat JPEG of `colour` carrying the ICC profile `icc`.
fn flat_with_profile(colour: [u8; 3], icc: Vec<u8>) -> Vec<u8> {
    use img_parts::ImageICC;
    let jpeg = encode_jpeg(&RgbImage::from_pixel(640, 480, image::Rgb(colour)), 95);
    let mut tagged = img_parts::jpeg::Jpeg::from_bytes(jpeg.into()).unwrap();
    tagged.set_icc_profile(Some(icc.into()));
    tagged.encoder().bytes().to_vec()
}

/// Prepare `tagged` and check its centre against the colour computed by hand: decode with
/// `to_lin`, the 3x3 matrix from the profile's primaries to sRGB's, clip, sRGB encode.
fn assert_converted(
    tagged: &[u8],
    colour: [u8; 3],
    to_lin: fn(f64) -> f64,
    m: [[f64; 3]; 3],
) -> image::Rgb<u8> {
    let out = prepare(PhotoSource::Bytes(tagged), &PrepareOptions::default()).unwrap();
    assert!(out.source.converted_icc);
    let px = *decode(&out.jpeg).get_pixel(320, 240);
    let lin = colour.map(|c| to_lin(c as f64 / 255.0));
    let expected: Vec<f64> = m
        .iter()
        .map(|row| {
            from_linear(
                row.iter()
                    .zip(lin)
                    .map(|(a, b)| a * b)
                    .sum::<f64>()
                    .clamp(0.0, 1.0),
            ) * 255.0
        })
        .collect();
    for c in 0..3 {
        assert!(
            (px[c] as f64 - expected[c]).abs() <= 4.0,
            "channel {c}: got {px:?}, expected {expected:?}"
        );
    }
    px
}

#[test]
fn display_p3_is_converted_to_srgb() {
    let colour = [200u8, 100, 100];
    let tagged = flat_with_profile(
        colour,
        moxcms::ColorProfile::new_display_p3().encode().unwrap(),
    );
    // Display P3 and sRGB share the transfer function and white point (D65); the primaries differ.
    let m = [
        [1.2249, -0.2247, 0.0],
        [-0.0420, 1.0419, 0.0],
        [-0.0197, -0.0786, 1.0979],
    ];
    let px = assert_converted(&tagged, colour, to_linear, m);
    assert!(
        px[0] as i32 - colour[0] as i32 >= 10,
        "red must move towards sRGB's wider red: {px:?}"
    );
}

#[test]
fn blur_threshold_separates_sharp_from_blurred_test_photos() {
    let photos = [
        "orientation/Landscape_1.jpg",
        "orientation/Portrait_1.jpg",
        "gps/DSCN0010.jpg",
        "real/canon_hdr_NO.jpg",
        "real/iphone_hdr_NO.jpg",
    ];
    for name in photos {
        let path = testdata().join(name);
        let sharp = prepare_path(&path).unwrap();
        let upright = decode(&sharp.jpeg);
        let blurred = image::imageops::blur(&upright, 3.0);
        let out = prepare(
            PhotoSource::Bytes(&encode_jpeg(&blurred, 92)),
            &PrepareOptions::default(),
        )
        .unwrap();
        eprintln!(
            "{name:32} sharp {:7.0}  blurred {:5.0}",
            sharp.checks.sharpness, out.checks.sharpness
        );
        assert!(
            !sharp.checks.warnings.contains(&Warning::Blurry),
            "{name}: {:?}",
            sharp.checks
        );
        assert!(
            out.checks.warnings.contains(&Warning::Blurry),
            "{name} blurred: {:?}",
            out.checks
        );
    }
}

#[test]
fn adobe_rgb_is_converted_too() {
    let colour = [60u8, 170, 90];
    let tagged = flat_with_profile(
        colour,
        moxcms::ColorProfile::new_adobe_rgb().encode().unwrap(),
    );
    // Adobe RGB (1998): gamma 563/256 and its own primaries. This green-teal lies outside sRGB's
    // red range: red clips to 0, blue drops.
    let m = [
        [1.3982, -0.3982, 0.0],
        [0.0, 1.0, 0.0],
        [0.0, -0.0429, 1.0429],
    ];
    let px = assert_converted(&tagged, colour, |v| v.powf(563.0 / 256.0), m);
    assert!(
        (px[0] as i32) < colour[0] as i32 - 30,
        "red must change: {px:?} from {colour:?}"
    );
}

#[test]
fn checks_tell_sharp_from_blurred_and_dark() {
    let sharp_path = testdata().join("orientation/Landscape_1.jpg");
    let sharp = prepare_path(&sharp_path).unwrap();
    assert!(
        !sharp.checks.warnings.contains(&Warning::Blurry),
        "{:?}",
        sharp.checks
    );

    let upright = image::load_from_memory(&std::fs::read(&sharp_path).unwrap())
        .unwrap()
        .into_rgb8();
    let blurred = image::imageops::blur(&upright, 3.0);
    let out = prepare(
        PhotoSource::Bytes(&encode_jpeg(&blurred, 92)),
        &PrepareOptions::default(),
    )
    .unwrap();
    assert!(
        out.checks.warnings.contains(&Warning::Blurry),
        "{:?}",
        out.checks
    );
    assert!(out.checks.sharpness < sharp.checks.sharpness / 3.0);

    let dark = image::ImageBuffer::from_fn(upright.width(), upright.height(), |x, y| {
        let p = upright.get_pixel(x, y);
        image::Rgb([p[0] / 6, p[1] / 6, p[2] / 6])
    });
    let out = prepare(
        PhotoSource::Bytes(&encode_jpeg(&dark, 92)),
        &PrepareOptions::default(),
    )
    .unwrap();
    assert!(
        out.checks.warnings.contains(&Warning::TooDark),
        "{:?}",
        out.checks
    );

    let small = image::imageops::resize(&upright, 300, 200, image::imageops::FilterType::Triangle);
    let opts = PrepareOptions {
        document: DocumentKind::IdCard,
        ..PrepareOptions::default()
    };
    let out = prepare(PhotoSource::Bytes(&encode_jpeg(&small, 92)), &opts).unwrap();
    assert!(
        out.checks.warnings.contains(&Warning::TooSmall),
        "{:?}",
        out.checks
    );
}

#[test]
fn validate_strips_metadata_losslessly_and_refuses_rotated_files() {
    // A small upright JPEG with EXIF (GPS) and a comment: accepted, stored without them, and
    // the pixels decode exactly as before.
    let input = std::fs::read(testdata().join("gps/DSCN0010.jpg")).unwrap();
    let accepted = validate(&input).unwrap();
    assert_eq!((accepted.width, accepted.height), (640, 480));
    assert!(!has_metadata(&accepted.bytes));
    assert!(accepted.metadata_removed);
    assert_eq!(
        decode(&accepted.bytes),
        decode(&input),
        "stripping must not re-encode"
    );

    // Orientation 6 is refused: the server stores only upright pixels.
    let prepared = prepare_path(&testdata().join("orientation/Landscape_6.jpg")).unwrap();
    let mut rotated = img_parts::jpeg::Jpeg::from_bytes(prepared.jpeg.clone().into()).unwrap();
    let exif = std::fs::read(testdata().join("orientation/Landscape_6.jpg")).unwrap();
    let exif = img_parts::jpeg::Jpeg::from_bytes(exif.into()).unwrap();
    use img_parts::ImageEXIF;
    rotated.set_exif(exif.exif());
    let rotated = rotated.encoder().bytes().to_vec();
    assert!(rotated.len() <= UPLOAD_BUDGET_BYTES);
    assert_eq!(
        validate(&rotated).unwrap_err(),
        PhotoError::NotUpright { orientation: 6 }
    );
    // A prepared photo passes as it is: the very bytes the phone sent are stored (the server
    // then reuses the upload's hash as the file's name).
    let unchanged = validate(&prepared.jpeg).unwrap();
    assert!(!unchanged.metadata_removed);
    assert_eq!(unchanged.bytes, prepared.jpeg);
    // Bytes after the end of a PNG are not kept: the file is written anew without them.
    let mut png = Vec::new();
    image::RgbImage::from_pixel(64, 48, image::Rgb([200, 180, 160]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let plain = validate(&png).unwrap();
    assert!(!plain.metadata_removed);
    assert_eq!(plain.bytes, png);
    let mut trailing = png.clone();
    trailing.extend_from_slice(b"appended");
    let cleaned = validate(&trailing).unwrap();
    assert!(cleaned.metadata_removed);
    assert_eq!(cleaned.bytes, png);
}
