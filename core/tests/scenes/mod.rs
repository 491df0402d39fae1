//! Photos of documents with known corners, generated: what a candidate's phone sees when a
//! diploma, a work certificate or an ID card lies on a desk. A document is rendered flat with real
//! text (Noto Sans CJK SC, subset, OFL: LICENSE-font.txt), a red seal and a photo box, then placed
//! with a perspective and a turn on a textured desk (wood, a checked cloth, plain dark or light),
//! with a shadow, uneven light, a little blur, sensor noise and JPEG, and sometimes stored sideways
//! with the EXIF orientation that makes it upright. The ground truth is where its corners landed.
//!
//! Shared by the capture tests (`core/tests/capture.rs`) and the benchmark's legibility run
//! (`core/examples/capture_set.rs`).
#![allow(dead_code)]

pub mod corpus;
pub mod diploma;
pub mod idcard;

use ab_glyph::{FontRef, PxScale};
use dossier_core::photo::DocumentKind;
use image::{Rgb, RgbImage};
use imageproc::drawing::{draw_filled_circle_mut, draw_filled_rect_mut, draw_hollow_circle_mut};
use imageproc::geometric_transformations::Projection;
use imageproc::rect::Rect;

const FONT: &[u8] = include_bytes!("NotoSansSC-subset.otf");

/// A tiny deterministic generator (xorshift*), so every scene is the same on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * ((self.next() >> 40) as f32 / (1u64 << 24) as f32)
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
    pub fn chance(&mut self, p: f32) -> bool {
        self.range(0.0, 1.0) < p
    }
    fn gauss(&mut self) -> f32 {
        let (u, v) = (self.range(1e-6, 1.0), self.range(0.0, 1.0));
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }
}

/// The documents a candidate photographs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Doc {
    Diploma,
    Degree,
    WorkProof,
    Practice,
    IdFront,
    IdBack,
}

impl Doc {
    pub const ALL: [Doc; 6] = [
        Doc::Diploma,
        Doc::Degree,
        Doc::WorkProof,
        Doc::Practice,
        Doc::IdFront,
        Doc::IdBack,
    ];
    pub fn kind(self) -> DocumentKind {
        match self {
            Doc::IdFront | Doc::IdBack => DocumentKind::IdCard,
            _ => DocumentKind::A4,
        }
    }
}

/// A document rendered flat, upright: its pixels, its text and where the text is.
pub struct Flat {
    pub image: RgbImage,
    pub text: String,
}

fn fill(template: &str, rng: &mut Rng) -> String {
    template
        .replace("{name}", rng.pick::<&str>(corpus::NAMES))
        .replace("{sex}", rng.pick::<&str>(&["男", "女"]))
        .replace("{school}", rng.pick::<&str>(corpus::SCHOOLS))
        .replace("{major}", rng.pick::<&str>(corpus::MAJORS))
        .replace("{hospital}", rng.pick::<&str>(corpus::HOSPITALS))
        .replace("{place}", &rng.pick(corpus::PLACES)[..9])
        .replace("{id}", &id_number(rng))
}

fn id_number(rng: &mut Rng) -> String {
    let digits: String = (0..17)
        .map(|_| (b'0' + (rng.next() % 10) as u8) as char)
        .collect();
    format!("{digits}{}", rng.pick(&["X", "1", "5", "8"]))
}

struct Pen<'a> {
    font: FontRef<'a>,
    image: RgbImage,
    text: Vec<String>,
}

impl Pen<'_> {
    fn width_of(&self, size: f32, text: &str) -> i32 {
        imageproc::drawing::text_size(PxScale::from(size), &self.font, text).0 as i32
    }
    fn write(&mut self, x: i32, y: i32, size: f32, colour: [u8; 3], text: &str) {
        imageproc::drawing::draw_text_mut(
            &mut self.image,
            Rgb(colour),
            x,
            y,
            PxScale::from(size),
            &self.font,
            text,
        );
        self.text.push(text.to_string());
    }
    fn centred(&mut self, y: i32, size: f32, colour: [u8; 3], text: &str) {
        let x = (self.image.width() as i32 - self.width_of(size, text)) / 2;
        self.write(x, y, size, colour, text);
    }
}

/// A red seal as offices stamp them: a ring, a star, slightly transparent ink.
fn seal(image: &mut RgbImage, cx: i32, cy: i32, r: i32) {
    let (w, h) = image.dimensions();
    for y in (cy - r).max(0)..(cy + r).min(h as i32) {
        for x in (cx - r).max(0)..(cx + r).min(w as i32) {
            let d = (((x - cx) * (x - cx) + (y - cy) * (y - cy)) as f32).sqrt();
            let ring = (d - (r as f32 - 5.0)).abs() < 3.5;
            let star = d < r as f32 * 0.28;
            if ring || star {
                let p = image.get_pixel_mut(x as u32, y as u32);
                let ink = [210u8, 40, 40];
                for c in 0..3 {
                    p[c] = ((p[c] as u32 * 2 + ink[c] as u32 * 3) / 5) as u8;
                }
            }
        }
    }
}

/// A portrait-photo box: a grey background, a head and shoulders.
fn portrait(image: &mut RgbImage, x: i32, y: i32, w: u32, h: u32) {
    draw_filled_rect_mut(image, Rect::at(x, y).of_size(w, h), Rgb([200, 205, 212]));
    let cx = x + w as i32 / 2;
    draw_filled_circle_mut(
        image,
        (cx, y + (h as i32) * 2 / 5),
        (w / 4) as i32,
        Rgb([150, 120, 100]),
    );
    draw_filled_rect_mut(
        image,
        Rect::at(x + w as i32 / 6, y + (h as i32) * 7 / 10).of_size(w * 2 / 3, h * 3 / 10),
        Rgb([40, 45, 60]),
    );
}

pub fn render(doc: Doc, rng: &mut Rng) -> Flat {
    let font = FontRef::try_from_slice(FONT).expect("the subset font parses");
    let ink = [25u8, 25, 30];
    let (w, h, paper) = match doc {
        Doc::Diploma => (1414, 1000, [248u8, 244, 232]),
        Doc::Degree | Doc::WorkProof | Doc::Practice => (1000, 1414, [250u8, 250, 246]),
        Doc::IdFront | Doc::IdBack => (856, 540, [226u8, 236, 244]),
    };
    let mut image = RgbImage::from_pixel(w, h, Rgb(paper));
    if matches!(doc, Doc::IdFront | Doc::IdBack) {
        // The card's guilloche: faint waves over a pale blue.
        for (x, y, p) in image.enumerate_pixels_mut() {
            let v = ((x as f32 * 0.05 + (y as f32 * 0.03).sin() * 3.0).sin() * 6.0) as i32;
            for c in 0..3 {
                p[c] = (p[c] as i32 + v - 3).clamp(0, 255) as u8;
            }
        }
    }
    let mut pen = Pen {
        font,
        image,
        text: Vec::new(),
    };
    match doc {
        Doc::Diploma | Doc::Degree | Doc::WorkProof | Doc::Practice => {
            let (title, body): (&str, &[&str]) = match doc {
                Doc::Diploma => ("毕业证书", corpus::DIPLOMA_BODY),
                Doc::Degree => ("学位证书", corpus::DEGREE_BODY),
                Doc::WorkProof => ("工作证明", corpus::WORK_BODY),
                _ => ("医师执业证书", corpus::PRACTICE_BODY),
            };
            let margin = (w as f32 * 0.1) as i32;
            let title_size = w as f32 * 0.075;
            pen.centred((h as f32 * 0.08) as i32, title_size, [150, 30, 30], title);
            let size = w as f32 * 0.034;
            let mut y = (h as f32 * 0.08 + title_size * 2.0) as i32;
            if matches!(doc, Doc::Diploma | Doc::Degree) {
                // The holder's photo at the left, text beside it.
                portrait(&mut pen.image, margin, y, w / 8, w / 6);
            }
            let left = if matches!(doc, Doc::Diploma | Doc::Degree) {
                margin + (w / 8) as i32 + (w as f32 * 0.04) as i32
            } else {
                margin
            };
            for (i, template) in body.iter().enumerate() {
                let line = fill(template, rng);
                // Paragraphs indent their first line by two characters.
                let indent = if i == 0 && !matches!(doc, Doc::Practice) {
                    (size * 2.0) as i32
                } else {
                    0
                };
                pen.write(left + indent, y, size, ink, &line);
                y += (size * 1.9) as i32;
            }
            let school = rng.pick(corpus::SCHOOLS).to_string();
            let date = "二〇二一年七月一日";
            let sign_y = (h as f32 * 0.78) as i32;
            let right = w as i32 - margin;
            let sw = pen.width_of(size, &school);
            pen.write(right - sw, sign_y, size, ink, &school);
            let dw = pen.width_of(size, date);
            pen.write(right - dw, sign_y + (size * 1.7) as i32, size, ink, date);
            let number = format!("证书编号：{}", &id_number(rng)[..14]);
            pen.write(margin, (h as f32 * 0.9) as i32, size * 0.8, ink, &number);
            seal(
                &mut pen.image,
                right - sw / 2,
                sign_y + size as i32,
                (w as f32 * 0.08) as i32,
            );
        }
        Doc::IdFront => {
            let label = [60u8, 90, 140];
            let size = 30.0;
            let x = 60;
            let name = rng.pick(corpus::NAMES).to_string();
            let sex = rng.pick(&["男", "女"]).to_string();
            let place = rng.pick(corpus::PLACES).to_string();
            pen.write(x, 50, size, label, "姓名");
            pen.write(x + 90, 46, size * 1.15, ink, &name);
            pen.write(x, 110, size, label, "性别");
            pen.write(x + 90, 110, size, ink, &sex);
            pen.write(x + 180, 110, size, label, "民族");
            pen.write(x + 270, 110, size, ink, "汉");
            pen.write(x, 170, size, label, "出生");
            pen.write(x + 90, 170, size, ink, "1998年5月12日");
            pen.write(x, 230, size, label, "住址");
            let (a, b) =
                place.split_at(place.char_indices().nth(9).map_or(place.len(), |(i, _)| i));
            pen.write(x + 90, 230, size, ink, a);
            pen.write(x + 90, 275, size, ink, b);
            pen.write(x, 420, size, label, "公民身份号码");
            pen.write(x + 200, 416, size * 1.2, ink, &id_number(rng));
            portrait(&mut pen.image, 590, 60, 210, 260);
        }
        Doc::IdBack => {
            // The national emblem: red disc, gold star.
            draw_filled_circle_mut(&mut pen.image, (120, 120), 75, Rgb([200, 40, 40]));
            draw_hollow_circle_mut(&mut pen.image, (120, 120), 75, Rgb([230, 190, 60]));
            draw_filled_circle_mut(&mut pen.image, (120, 110), 22, Rgb([235, 200, 70]));
            pen.centred(70, 52.0, ink, "中华人民共和国");
            pen.centred(150, 72.0, ink, "居民身份证");
            let label = [60u8, 90, 140];
            pen.write(150, 350, 30.0, label, "签发机关");
            let office = format!("{}公安局", &rng.pick(corpus::PLACES)[..9]);
            pen.write(300, 350, 30.0, ink, &office);
            pen.write(150, 420, 30.0, label, "有效期限");
            let validity = *rng.pick(&[
                "2016.05.12-2036.05.12",
                "2019.03.01-长期",
                "2020.07.30-2030.07.30",
            ]);
            pen.write(300, 420, 30.0, ink, validity);
        }
    }
    Flat {
        image: pen.image,
        text: pen.text.join("\n"),
    }
}

/// The desk the document lies on.
fn desk(w: u32, h: u32, rng: &mut Rng) -> RgbImage {
    let style = rng.next() % 4;
    let (a, b) = (rng.range(0.0, 6.3), rng.range(0.0, 6.3));
    match style {
        0 => {
            // Wood: brown with a wavering grain.
            let base = [
                rng.range(110.0, 170.0),
                rng.range(70.0, 110.0),
                rng.range(40.0, 70.0),
            ];
            RgbImage::from_fn(w, h, |x, y| {
                let (x, y) = (x as f32, y as f32);
                let grain = ((y * 0.04 + (x * 0.004 + a).sin() * 4.0 + b).sin() * 0.5 + 0.5) * 30.0;
                Rgb(base.map(|c| (c - grain).clamp(0.0, 255.0) as u8))
            })
        }
        1 => {
            // A checked tablecloth.
            let period = rng.range(30.0, 80.0);
            let c1 = [
                rng.range(40.0, 200.0),
                rng.range(40.0, 200.0),
                rng.range(80.0, 220.0),
            ];
            // The light squares: a cloth's white under room light, greyer than paper.
            let light = rng.range(195.0, 212.0) as u8;
            RgbImage::from_fn(w, h, |x, y| {
                let u = ((x as f32 / period) as i32 + (y as f32 / period) as i32) % 2;
                let v = ((x as f32 / period * 2.0) as i32 % 2) as f32 * 15.0;
                if u == 0 {
                    Rgb(c1.map(|c| (c - v).clamp(0.0, 255.0) as u8))
                } else {
                    Rgb([light - v as u8, light - v as u8, light - 8])
                }
            })
        }
        2 => {
            let g = rng.range(35.0, 90.0);
            RgbImage::from_pixel(w, h, Rgb([g as u8, g as u8, (g + 8.0) as u8]))
        }
        _ => {
            // A light grey desk: the hard case for a white page.
            let g = rng.range(165.0, 195.0);
            RgbImage::from_pixel(w, h, Rgb([g as u8, g as u8, (g - 6.0) as u8]))
        }
    }
}

/// A generated photo and its truth.
pub struct Scene {
    /// The JPEG as the phone stored it (with EXIF orientation when `exif_orientation` is not 1).
    pub jpeg: Vec<u8>,
    /// Size of the upright frame (EXIF applied).
    pub width: u32,
    pub height: u32,
    pub doc: Option<Doc>,
    /// The document's own top-left, top-right, bottom-right, bottom-left, in pixels of the
    /// upright frame.
    pub corners: Option<[(f32, f32); 4]>,
    pub text: String,
    /// Clockwise quarter turns the frame's content needs to be upright.
    pub turn: u8,
    pub exif_orientation: u16,
}

/// How a scene is set up; `Setup::random` draws one.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    pub doc: Option<Doc>,
    pub width: u32,
    pub height: u32,
    /// Fraction of the frame's area the document covers.
    pub area: f32,
    pub turn: u8,
    /// Degrees off the quarter turn.
    pub tilt: f32,
    /// Corner displacement for the perspective, as a fraction of the document's size.
    pub perspective: f32,
    /// Let one corner fall a little outside the frame.
    pub corner_out: bool,
    pub exif_orientation: u16,
    pub blur: f32,
}

impl Setup {
    pub fn random(rng: &mut Rng, width: u32, height: u32) -> Setup {
        let doc = *rng.pick(&Doc::ALL);
        Setup {
            doc: Some(doc),
            width,
            height,
            area: if doc.kind() == DocumentKind::IdCard {
                rng.range(0.12, 0.4)
            } else {
                rng.range(0.2, 0.55)
            },
            turn: (rng.next() % 4) as u8,
            tilt: rng.range(-20.0, 20.0),
            perspective: rng.range(0.0, 0.08),
            corner_out: rng.chance(0.12),
            exif_orientation: *rng.pick(&[1, 1, 1, 1, 6, 8, 3]),
            blur: rng.range(0.3, 1.2),
        }
    }
}

/// The corners of a `dw` x `dh` document scaled by `scale`, each pushed by its `jitter` (a
/// fraction of the document's size) and turned by the angle whose sine and cosine are `turn`,
/// about the origin: top-left, top-right, bottom-right, bottom-left.
fn placed(
    dw: f32,
    dh: f32,
    scale: f32,
    jitter: &[(f32, f32); 4],
    (s, c): (f32, f32),
) -> [(f32, f32); 4] {
    let half = [
        (-dw / 2.0, -dh / 2.0),
        (dw / 2.0, -dh / 2.0),
        (dw / 2.0, dh / 2.0),
        (-dw / 2.0, dh / 2.0),
    ];
    std::array::from_fn(|k| {
        let ((x, y), (jx, jy)) = (half[k], jitter[k]);
        let (x, y) = (x * scale + jx * dw * scale, y * scale + jy * dh * scale);
        (x * c - y * s, x * s + y * c)
    })
}

/// The smallest x, largest x, smallest y and largest y of `corners`.
fn extent(corners: &[(f32, f32); 4]) -> (f32, f32, f32, f32) {
    let xs = corners.iter().map(|p| p.0);
    let ys = corners.iter().map(|p| p.1);
    (
        xs.clone().fold(f32::MAX, f32::min),
        xs.fold(f32::MIN, f32::max),
        ys.clone().fold(f32::MAX, f32::min),
        ys.fold(f32::MIN, f32::max),
    )
}

pub fn scene(seed: u64, setup: Setup) -> Scene {
    let mut rng = Rng::new(seed);
    let (fw, fh) = (setup.width, setup.height);
    let mut frame = desk(fw, fh, &mut rng);
    let mut truth = None;
    let mut text = String::new();
    if let Some(doc) = setup.doc {
        let flat = render(doc, &mut rng);
        text = flat.text;
        let (dw, dh) = (flat.image.width() as f32, flat.image.height() as f32);
        // Size from the area wanted, then a turn and a tilt about the centre; smaller if that
        // does not fit the frame (a candidate frames the whole document).
        let mut scale = (setup.area * fw as f32 * fh as f32 / (dw * dh)).sqrt();
        let angle = (setup.turn as f32 * 90.0 + setup.tilt).to_radians();
        let (s, c) = angle.sin_cos();
        let jitter: [(f32, f32); 4] = std::array::from_fn(|_| {
            (
                rng.range(-setup.perspective, setup.perspective),
                rng.range(-setup.perspective, setup.perspective),
            )
        });
        let pad = 0.03 * fw.min(fh) as f32;
        let place = |scale: f32| placed(dw, dh, scale, &jitter, (s, c));
        let (min_x, max_x, min_y, max_y) = extent(&place(scale));
        if setup.area <= 1.0 {
            let fit = ((fw as f32 - 2.0 * pad) / (max_x - min_x))
                .min((fh as f32 - 2.0 * pad) / (max_y - min_y));
            scale *= fit.min(1.0);
        }
        let mut corners = place(scale);
        let (min_x, max_x, min_y, max_y) = extent(&corners);
        let cx_range = (pad - min_x, fw as f32 - pad - max_x);
        let cy_range = (pad - min_y, fh as f32 - pad - max_y);
        let cx = if cx_range.0 < cx_range.1 {
            rng.range(cx_range.0, cx_range.1)
        } else {
            fw as f32 / 2.0
        };
        let cy = if cy_range.0 < cy_range.1 {
            rng.range(cy_range.0, cy_range.1)
        } else {
            fh as f32 / 2.0
        };
        let (mut cx, cy) = (cx, cy);
        let mut xs = corners.map(|p| p.0);
        xs.sort_by(f32::total_cmp);
        // One corner, not a whole side: the next corner must stay well inside.
        if setup.corner_out && xs[3] - xs[2] > 0.06 * fw as f32 {
            // Push the page right until its rightmost corner is 2% of the frame out.
            cx = fw as f32 * 1.02 - max_x;
        }
        for p in corners.iter_mut() {
            p.0 += cx;
            p.1 += cy;
        }
        composite(&mut frame, &flat.image, corners);
        truth = Some(corners);
    }
    light(&mut frame, &mut rng);
    let mut frame = imageproc::filter::gaussian_blur_f32(&frame, setup.blur.max(0.1));
    noise(&mut frame, &mut rng);
    // Stored as the phone's sensor saw it: turned against the EXIF tag that rights it.
    let stored = match setup.exif_orientation {
        6 => image::imageops::rotate270(&frame),
        8 => image::imageops::rotate90(&frame),
        3 => image::imageops::rotate180(&frame),
        _ => frame,
    };
    let jpeg = jpeg_with_orientation(&stored, 90, setup.exif_orientation);
    Scene {
        jpeg,
        width: fw,
        height: fh,
        doc: setup.doc,
        corners: truth,
        text,
        // Content turned clockwise by `turn` quarters needs (4 - turn) more to be upright.
        turn: (4 - setup.turn % 4) % 4,
        exif_orientation: setup.exif_orientation,
    }
}

/// Lay the document into the frame at `corners`, with a soft shadow on the desk.
fn composite(frame: &mut RgbImage, doc: &RgbImage, corners: [(f32, f32); 4]) {
    let (dw, dh) = (doc.width() as f32, doc.height() as f32);
    let to_frame =
        Projection::from_control_points([(0.0, 0.0), (dw, 0.0), (dw, dh), (0.0, dh)], corners)
            .expect("a real quadrilateral");
    let to_doc = to_frame.invert();
    let edges: Vec<((f32, f32), (f32, f32))> =
        (0..4).map(|k| (corners[k], corners[(k + 1) % 4])).collect();
    // Signed distance inside (positive) the clockwise quadrilateral.
    let inside = |x: f32, y: f32| {
        edges
            .iter()
            .map(|&(a, b)| {
                let (ex, ey) = (b.0 - a.0, b.1 - a.1);
                ((ex * (y - a.1) - ey * (x - a.0)) / ex.hypot(ey)).min(1e9)
            })
            .fold(f32::MAX, f32::min)
    };
    for (x, y, p) in frame.enumerate_pixels_mut() {
        let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
        let d = inside(fx, fy);
        if d < -40.0 {
            continue;
        }
        // The shadow, falling down and right of the page.
        let ds = inside(fx - 6.0, fy - 9.0);
        if ds > -30.0 {
            let k = 1.0 - 0.35 * ((ds + 30.0) / 30.0).clamp(0.0, 1.0);
            for c in 0..3 {
                p[c] = (p[c] as f32 * k) as u8;
            }
        }
        let alpha = (d + 0.5).clamp(0.0, 1.0);
        if alpha <= 0.0 {
            continue;
        }
        let (u, v) = to_doc * (fx, fy);
        let sample = bilinear(doc, u - 0.5, v - 0.5);
        for c in 0..3 {
            p[c] = (p[c] as f32 * (1.0 - alpha) + sample[c] * alpha).round() as u8;
        }
    }
}

fn bilinear(image: &RgbImage, x: f32, y: f32) -> [f32; 3] {
    let (w, h) = (image.width() as i32, image.height() as i32);
    let (x0, y0) = (x.floor() as i32, y.floor() as i32);
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let at =
        |xx: i32, yy: i32| image.get_pixel(xx.clamp(0, w - 1) as u32, yy.clamp(0, h - 1) as u32);
    std::array::from_fn(|c| {
        let top = at(x0, y0)[c] as f32 * (1.0 - fx) + at(x0 + 1, y0)[c] as f32 * fx;
        let bottom = at(x0, y0 + 1)[c] as f32 * (1.0 - fx) + at(x0 + 1, y0 + 1)[c] as f32 * fx;
        top * (1.0 - fy) + bottom * fy
    })
}

/// Uneven light: brighter towards a window, darker away from it.
fn light(frame: &mut RgbImage, rng: &mut Rng) {
    let (w, h) = (frame.width() as f32, frame.height() as f32);
    let angle = rng.range(0.0, std::f32::consts::TAU);
    let (dx, dy) = (angle.cos(), angle.sin());
    let strength = rng.range(0.1, 0.3);
    for (x, y, p) in frame.enumerate_pixels_mut() {
        let t = ((x as f32 / w - 0.5) * dx + (y as f32 / h - 0.5) * dy) * 2.0;
        let k = 1.0 - strength * 0.5 + strength * 0.5 * t;
        for c in 0..3 {
            p[c] = (p[c] as f32 * k).clamp(0.0, 255.0) as u8;
        }
    }
}

fn noise(frame: &mut RgbImage, rng: &mut Rng) {
    let sigma = rng.range(1.5, 4.0);
    for p in frame.pixels_mut() {
        let n = rng.gauss() * sigma;
        for c in 0..3 {
            p[c] = (p[c] as f32 + n + rng.gauss()).clamp(0.0, 255.0) as u8;
        }
    }
}

/// A JPEG of `image` at `quality`, with an EXIF block holding only `orientation` (when not 1).
pub fn jpeg_with_orientation(image: &RgbImage, quality: i32, orientation: u16) -> Vec<u8> {
    let view = turbojpeg::Image {
        pixels: image.as_raw().as_slice(),
        width: image.width() as usize,
        pitch: image.width() as usize * 3,
        height: image.height() as usize,
        format: turbojpeg::PixelFormat::RGB,
    };
    let jpeg = turbojpeg::compress(view, quality, turbojpeg::Subsamp::Sub2x2)
        .expect("encodes")
        .to_vec();
    if orientation == 1 {
        return jpeg;
    }
    // A big-endian TIFF header and one IFD entry: Orientation (0x0112), SHORT, 1 value.
    let mut exif = Vec::new();
    exif.extend_from_slice(b"MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01");
    exif.extend_from_slice(&orientation.to_be_bytes());
    exif.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut parsed = img_parts::jpeg::Jpeg::from_bytes(jpeg.into()).expect("our own JPEG parses");
    use img_parts::ImageEXIF;
    parsed.set_exif(Some(exif.into()));
    let mut out = Vec::new();
    parsed
        .encoder()
        .write_to(&mut out)
        .expect("writes to memory");
    out
}
