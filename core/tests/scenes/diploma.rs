//! Photos of graduation certificates (毕业证书) of one template, many holders, with known truth,
//! for the server's check that a document was not handed in before: the same certificate
//! photographed twice must be recognised as one, and classmates' certificates must not be, though
//! they share the school, the layout, the major, the dates and the seal and differ only in the
//! holder's name, sex, birth date and photo and in a number whose last digit or two differ. A
//! certificate is drawn up (`Diploma::of_class`), rendered flat on an A4 landscape page at
//! 6 px/mm (`render`) and photographed the way the ID cards are (`photo_of`, through
//! `idcard::photograph_flat`), the page larger in the frame.
//!
//! The school (京华医科大学) and its president are made up, as are the holders. The number
//! follows the national scheme for certificate numbers: school code, type of school, year,
//! level, sequence. The text is set in Noto Sans CJK SC and the number in Noto Sans Mono CJK SC,
//! from Debian's collection as the ID cards' are (`idcard::fonts`).
use ab_glyph::FontRef;
use image::{GrayImage, Luma, Rgb, RgbImage};
use imageproc::drawing::{draw_filled_rect_mut, draw_polygon_mut};
use imageproc::point::Point;
use imageproc::rect::Rect;

use super::idcard::{
    Fonts, Shot, days_in, fonts, head_and_shoulders, photograph_flat, random_name, width, wrap,
    write,
};
use super::{Rng, bilinear};

/// The page is A4 landscape, 297 x 210 mm, rendered at 6 px/mm.
const PX_PER_MM: f32 = 6.0;
const PAGE_W: u32 = 1782;
const PAGE_H: u32 = 1260;

/// Type sizes, as the em in pixels (6 px/mm): the title 16 mm, the school's name 7 mm, the
/// statement and the rest 5 mm. The number shares the body's em: its digits stand about
/// 0.73 em, 22 px (3.7 mm), as a certificate's printed number does.
const TITLE_EM: f32 = 96.0;
const SCHOOL_EM: f32 = 42.0;
const BODY_EM: f32 = 30.0;
const NUMBER_EM: f32 = 30.0;
/// The statement's line pitch, 11 mm: certificates set it loosely.
const LEADING: f32 = 66.0;

const TITLE: &str = "毕业证书";
const SCHOOL: &str = "京华医科大学";
const PRESIDENT: &str = "李志明";
const DATE: &str = "二〇二一年七月一日";
/// The number's first 12 digits, the same on every certificate of the class: the school's code
/// 10023, 1 (a regular institution of higher education), the year 2021 and 05 (本科).
const NUMBER_HEAD: &str = "100231202105";
/// The class's first sequence number; the `index`th graduate's is this plus `index`.
const FIRST_SEQUENCE: u32 = 101;

fn mm(v: f32) -> f32 {
    v * PX_PER_MM
}

/// One holder's certificate of the fixed template.
#[derive(Debug, Clone)]
pub struct Diploma {
    /// Two or three characters, as `idcard::random_name` draws them.
    pub name: String,
    /// 男 or 女.
    pub sex: &'static str,
    /// Year, month, day: born 1996-1999, so 17-19 at entry in September 2016.
    pub birth: (u32, u32, u32),
    /// 18 digits: the school's code 10023 (5), 1 (type), 2021 (year), 05 (level), then a 6-digit
    /// sequence number.
    pub number: String,
}

impl Diploma {
    /// The `index`th graduate of the class: sequence numbers are consecutive in `index` (000101
    /// onwards), so two classmates' numbers differ only in the last digit or two, the hard case.
    /// Name, sex and birth are drawn from `seed` and `index` together; a class never has two
    /// holders of one name (a clash is drawn again), so the classmates before `index` are drawn
    /// too, and a classmate is the same whichever index was asked for first.
    pub fn of_class(index: u32, seed: u64) -> Diploma {
        assert!(
            index < 1_000_000 - FIRST_SEQUENCE,
            "a sequence number has six digits"
        );
        let mut names: Vec<String> = Vec::new();
        let mut holder = None;
        for k in 0..=index {
            let drawn = (0u64..)
                .map(|attempt| graduate(mix(seed, k, attempt)))
                .find(|(_, name, _)| !names.contains(name))
                .expect("a name new to the class");
            names.push(drawn.1.clone());
            holder = Some(drawn);
        }
        let (sex, name, birth) = holder.expect("classmate 0 at least");
        Diploma {
            name,
            sex,
            birth,
            number: format!("{NUMBER_HEAD}{:06}", FIRST_SEQUENCE + index),
        }
    }

    /// The statement as the certificate prints it, unwrapped (the page wraps it over 3 lines,
    /// the first indented by two ideographic spaces that are not part of this).
    pub fn statement(&self) -> String {
        let (y, m, d) = self.birth;
        format!(
            "学生 {}，性别{}，{y}年{m}月{d}日生，于二〇一六年九月至二〇二一年七月在本校临床医学专业五年制本科学习，修完教学计划规定的全部课程，成绩合格，准予毕业。",
            self.name, self.sex
        )
    }
}

/// One classmate's sex, name and birth date from its own seed.
fn graduate(seed: u64) -> (&'static str, String, (u32, u32, u32)) {
    let mut rng = Rng::new(seed);
    let sex = *rng.pick::<&str>(&["男", "女"]);
    let name = random_name(sex, &mut rng);
    // Entered in September 2016, most at 18.
    let year = *rng.pick(&[1996u32, 1997, 1997, 1998, 1998, 1999]);
    let month = 1 + (rng.next() % 12) as u32;
    let day = 1 + (rng.next() % days_in(year, month) as u64) as u32;
    (sex, name, (year, month, day))
}

/// One seed per class, classmate and attempt: splitmix64's finaliser over their weighted sum,
/// so neighbouring classmates and attempts draw unrelated holders.
fn mix(seed: u64, index: u32, attempt: u64) -> u64 {
    let mut z = seed
        .wrapping_add((u64::from(index) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(attempt.wrapping_mul(0xD1B5_4A32_D192_ED03));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A per-certificate seed for the renderer's own choices (the sheet's tint, where the printer
/// and the seal landed, the photo), so a certificate renders the same every time: FNV-1a over
/// the number and the name (the number alone repeats from class to class).
fn diploma_rng(diploma: &Diploma) -> Rng {
    let hash = diploma
        .number
        .bytes()
        .chain(diploma.name.bytes())
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
        });
    Rng::new(hash)
}

/// The blank: cream paper, its tint a little different sheet to sheet, under a faint security
/// ground of crossing wavy lines in pale red, the same on every sheet (a template's pattern
/// that no holder's details change).
fn paper(rng: &mut Rng) -> RgbImage {
    let base = [
        rng.range(244.0, 249.0),
        rng.range(237.0, 242.0),
        rng.range(218.0, 226.0),
    ];
    // Pale red: the lines take more green and blue away than red.
    let tint = [4.0f32, 11.0, 10.0];
    // 1 on a line, falling to 0 within a pixel or two of it (as `idcard::ground`'s).
    let crest = |s: f32, period: f32| {
        let d = (s - s.round()).abs() * period;
        (-d * d / 0.8).exp()
    };
    RgbImage::from_fn(PAGE_W, PAGE_H, |x, y| {
        let (xf, yf) = (x as f32, y as f32);
        let wave = 16.0 * (xf * 0.0075).sin();
        let lines = crest((yf + wave) / 13.0, 13.0) + crest((yf - wave) / 13.0, 13.0);
        Rgb(std::array::from_fn(|c| {
            (base[c] - lines * tint[c]).clamp(0.0, 255.0) as u8
        }))
    })
}

/// The printed frame: a broad dark red band 9 mm in from the edge and a thin line 3 mm inside
/// it.
fn border(page: &mut RgbImage) {
    let red = Rgb([150u8, 34, 38]);
    for (inset, thickness) in [(mm(9.0), 9u32), (mm(12.0), 3)] {
        let (x0, y0) = (inset.round() as i32, inset.round() as i32);
        let w = (PAGE_W as f32 - 2.0 * inset).round() as u32;
        let h = (PAGE_H as f32 - 2.0 * inset).round() as u32;
        let t = thickness;
        for rect in [
            Rect::at(x0, y0).of_size(w, t),
            Rect::at(x0, y0 + (h - t) as i32).of_size(w, t),
            Rect::at(x0, y0).of_size(t, h),
            Rect::at(x0 + (w - t) as i32, y0).of_size(t, h),
        ] {
            draw_filled_rect_mut(page, rect, red);
        }
    }
}

/// 毕业证书, large, red, letter-spaced and centred. Each character is set four times a pixel or
/// so apart, standing in for the bold face the blank prints it in.
fn title(page: &mut RgbImage, sans: &FontRef) {
    let red = [185u8, 30, 36];
    let pitch = 1.5 * TITLE_EM;
    let count = TITLE.chars().count() as f32;
    let left = PAGE_W as f32 / 2.0 - ((count - 1.0) * pitch + TITLE_EM) / 2.0;
    let baseline = mm(24.0) + 0.88 * TITLE_EM;
    for (i, c) in TITLE.chars().enumerate() {
        let c = c.to_string();
        for (dx, dy) in [(0.0, 0.0), (1.5, 0.0), (0.0, 1.0), (1.5, 1.0)] {
            let x = left + i as f32 * pitch + dx;
            write(page, sans, x, baseline + dy, TITLE_EM, red, &c);
        }
    }
}

/// The graduate's photo, printed with the certificate: head and shoulders on the light blue
/// ground graduation photos are taken on, hard-edged (unlike the ID card's, which fades into
/// the card).
fn photo(page: &mut RgbImage, x0: f32, y0: f32, w: u32, h: u32, sex: &str, rng: &mut Rng) {
    let ground = Rgb([
        rng.range(150.0, 175.0) as u8,
        rng.range(195.0, 212.0) as u8,
        rng.range(232.0, 246.0) as u8,
    ]);
    let drawn = head_and_shoulders(w, h, ground, sex, rng);
    // Printed photos are soft; less so than the card's, drawn at a third of its resolution.
    let printed = imageproc::filter::gaussian_blur_f32(&drawn, 0.8);
    image::imageops::replace(page, &printed, x0.round() as i64, y0.round() as i64);
}

/// Chinese typesetting does not open a line with a comma or a full stop: such a mark hangs at
/// the end of the line before (`idcard::wrap` breaks between any two ideographs).
fn hang_punctuation(mut lines: Vec<String>) -> Vec<String> {
    for i in 1..lines.len() {
        while let Some(mark) = lines[i]
            .chars()
            .next()
            .filter(|c| "，。、；：".contains(*c))
        {
            lines[i].remove(0);
            lines[i - 1].push(mark);
        }
    }
    lines.retain(|line| !line.is_empty());
    lines
}

/// The school's round seal (公章), stamped by hand: a ring, the school's name round the top in
/// narrow characters facing out, a star in the middle. Red ink, uneven, multiplied into the
/// page so the print under it shows through. `rng` turns it a little and sets the ink.
fn stamp(page: &mut RgbImage, sans: &FontRef, cx: f32, cy: f32, r: f32, rng: &mut Rng) {
    let turn = rng.range(-0.15, 0.15);
    let size = (2.0 * r).ceil() as u32 + 4;
    let half = size as f32 / 2.0;
    let mut mask = GrayImage::new(size, size);

    // The ring, anti-aliased, 6% of the radius wide.
    let ring = 0.06 * r;
    for (x, y, m) in mask.enumerate_pixels_mut() {
        let d = (x as f32 + 0.5 - half).hypot(y as f32 + 0.5 - half);
        let cover = (r - d).min(d - (r - ring)) + 0.5;
        m[0] = (cover.clamp(0.0, 1.0) * 255.0) as u8;
    }

    // The star, point up (as the seal was turned).
    let star: Vec<Point<i32>> = (0..10)
        .map(|k| {
            let radius = if k % 2 == 0 { 0.3 * r } else { 0.3 * r * 0.382 };
            let a = (-90.0 + 36.0 * k as f32).to_radians() + turn;
            Point::new(
                (half + radius * a.cos()).round() as i32,
                (half + radius * a.sin()).round() as i32,
            )
        })
        .collect();
    draw_polygon_mut(&mut mask, &star, Luma([255u8]));

    // The name over 200 degrees of the top, each character drawn upright in a cell of its own,
    // then turned to face out from the centre and squeezed to 80% of its width.
    const SQUEEZE: f32 = 0.8;
    let em = 0.3 * r;
    let on = r - ring - 0.05 * r - em / 2.0;
    let chars: Vec<char> = SCHOOL.chars().collect();
    let span = 200f32.to_radians();
    let cell = (1.5 * em).ceil() as u32;
    let centre = cell as f32 / 2.0;
    for (i, ch) in chars.iter().enumerate() {
        let ch = ch.to_string();
        let mut glyph = RgbImage::new(cell, cell);
        // An ideograph's em box runs from 0.88 em above the baseline to 0.12 below.
        let x = (cell as f32 - width(sans, em, &ch)) / 2.0;
        write(
            &mut glyph,
            sans,
            x,
            centre + 0.38 * em,
            em,
            [255, 255, 255],
            &ch,
        );
        // Clockwise from the top; the character's top points away from the centre.
        let phi = -span / 2.0 + span * i as f32 / (chars.len() - 1) as f32 + turn;
        let (sin, cos) = phi.sin_cos();
        let (gx, gy) = (half + on * sin, half - on * cos);
        let reach = 0.75 * cell as f32;
        let (x0, x1) = (
            (gx - reach).max(0.0) as u32,
            ((gx + reach) as u32).min(size),
        );
        let (y0, y1) = (
            (gy - reach).max(0.0) as u32,
            ((gy + reach) as u32).min(size),
        );
        for y in y0..y1 {
            for x in x0..x1 {
                // Back into the character's own upright cell.
                let (dx, dy) = (x as f32 + 0.5 - gx, y as f32 + 0.5 - gy);
                let u = (dx * cos + dy * sin) / SQUEEZE + centre;
                let v = -dx * sin + dy * cos + centre;
                if !(0.0..cell as f32).contains(&u) || !(0.0..cell as f32).contains(&v) {
                    continue;
                }
                let value = bilinear(&glyph, u - 0.5, v - 0.5)[0] as u8;
                let m = mask.get_pixel_mut(x, y);
                m[0] = m[0].max(value);
            }
        }
    }

    let ink = [
        rng.range(190.0, 215.0),
        rng.range(28.0, 48.0),
        rng.range(32.0, 52.0),
    ];
    let strength = rng.range(0.7, 0.92);
    let (p, q) = (rng.range(0.0, 6.3), rng.range(0.0, 6.3));
    let (left, top) = ((cx - half).round() as i64, (cy - half).round() as i64);
    let (w, h) = (page.width() as i64, page.height() as i64);
    for (x, y, m) in mask.enumerate_pixels() {
        let (u, v) = (left + x as i64, top + y as i64);
        if m[0] == 0 || !(0..w).contains(&u) || !(0..h).contains(&v) {
            continue;
        }
        // Ink lies unevenly: blotches some millimetres across, fainter here and there.
        let blotch = 0.82 + 0.18 * (x as f32 * 0.045 + p).sin() * (y as f32 * 0.06 + q).sin();
        let a = m[0] as f32 / 255.0 * strength * blotch;
        let pixel = page.get_pixel_mut(u as u32, v as u32);
        for c in 0..3 {
            pixel[c] = (pixel[c] as f32 * (1.0 - a * (1.0 - ink[c] / 255.0))) as u8;
        }
    }
}

/// The school's steel seal (钢印) pressed over the photo's corner: no ink, only relief, two
/// raised rings that catch the light on their upper left and shade on their lower right.
fn emboss(page: &mut RgbImage, cx: f32, cy: f32, r: f32) {
    // 1 on a raised ring, falling to 0 over a pixel and a half.
    let relief = |x: f32, y: f32| {
        let d = (x - cx).hypot(y - cy);
        let ring = |radius: f32, half_width: f32| {
            (1.0 - ((d - radius).abs() - half_width).max(0.0) / 1.5).max(0.0)
        };
        ring(r - 4.0, 3.0).max(ring(0.72 * r, 1.5))
    };
    let (w, h) = page.dimensions();
    let (x0, x1) = (
        (cx - r - 4.0).max(0.0) as u32,
        ((cx + r + 4.0) as u32).min(w),
    );
    let (y0, y1) = (
        (cy - r - 4.0).max(0.0) as u32,
        ((cy + r + 4.0) as u32).min(h),
    );
    for y in y0..y1 {
        for x in x0..x1 {
            let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
            // Lit from the top left: where the surface rises towards the lower right it faces
            // the light and brightens; where it falls, it darkens.
            let shade = relief(fx + 1.0, fy + 1.0) - relief(fx - 1.0, fy - 1.0);
            if shade == 0.0 {
                continue;
            }
            let p = page.get_pixel_mut(x, y);
            for c in 0..3 {
                p[c] = (p[c] as f32 + 28.0 * shade).clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// The flat certificate, A4 landscape (297 x 210 mm) at 6 px/mm: cream paper with a dark red
/// frame, 毕业证书 large in red, the holder's photo at the left with the steel seal over its
/// corner, the statement beside it over three lines, the school, its president and the date at
/// the lower right under the school's red seal, and 证书编号 at the lower left. Deterministic
/// from the certificate.
pub fn render(diploma: &Diploma) -> RgbImage {
    let mut rng = diploma_rng(diploma);
    let Fonts { sans, mono } = fonts();
    let mut page = paper(&mut rng);
    // The blank comes with the frame and the title printed.
    border(&mut page);
    title(&mut page, &sans);

    // The rest is printed onto the blank for each graduate, so it all sits where the printer
    // took the sheet: up to a millimetre off either way, the same for all of it.
    let (sx, sy) = (mm(rng.range(-1.0, 1.0)), mm(rng.range(-1.0, 1.0)));
    let k = rng.range(18.0, 38.0) as u8;
    let ink = [k, k, k + 3];

    // The photo, 33 x 45 mm, 38 mm from the left.
    let (x0, y0, pw, ph) = (mm(38.0) + sx, mm(60.0) + sy, mm(33.0), mm(45.0));
    photo(
        &mut page,
        x0,
        y0,
        pw as u32,
        ph as u32,
        diploma.sex,
        &mut rng,
    );

    // The statement, indented two characters, from 14 mm right of the photo to 39 mm from the
    // right edge (about 34 ems a line).
    let left = x0 + pw + mm(14.0);
    let right = mm(258.0) + sx;
    let text = format!("\u{3000}\u{3000}{}", diploma.statement());
    let lines = hang_punctuation(wrap(&sans, BODY_EM, &text, right - left));
    for (i, line) in lines.iter().enumerate() {
        let baseline = mm(70.0) + sy + i as f32 * LEADING;
        write(&mut page, &sans, left, baseline, BODY_EM, ink, line);
    }

    // The school, its president and the date, each centred on one column at the lower right.
    let column = mm(215.0) + sx;
    let president = format!("校长：{PRESIDENT}");
    for (text, em, baseline) in [
        (SCHOOL, SCHOOL_EM, 143.0),
        (president.as_str(), BODY_EM, 156.0),
        (DATE, BODY_EM, 168.0),
    ] {
        let x = column - width(&sans, em, text) / 2.0;
        write(&mut page, &sans, x, mm(baseline) + sy, em, ink, text);
    }

    // 证书编号 at the lower left, the digits in the monospaced face.
    let baseline = mm(186.0) + sy;
    let end = write(
        &mut page,
        &sans,
        mm(38.0) + sx,
        baseline,
        NUMBER_EM,
        ink,
        "证书编号：",
    );
    write(
        &mut page,
        &mono,
        end,
        baseline,
        NUMBER_EM,
        ink,
        &diploma.number,
    );

    // Both seals are pressed by hand, after printing: each lands a few millimetres from where
    // the last one did. The red one (42 mm across) covers the school's name and the date.
    let (ex, ey) = (mm(rng.range(-3.0, 3.0)), mm(rng.range(-3.0, 3.0)));
    emboss(
        &mut page,
        x0 + pw - mm(3.0) + ex,
        y0 + ph - mm(4.0) + ey,
        mm(13.0),
    );
    let (cx, cy) = (
        column + mm(rng.range(-5.0, 5.0)),
        mm(153.0) + sy + mm(rng.range(-3.0, 3.0)),
    );
    stamp(&mut page, &sans, cx, cy, mm(21.0), &mut rng);
    page
}

/// A photo of a certificate and its truth.
pub struct DiplomaPhoto {
    /// The JPEG as the phone stored it (EXIF orientation 1, 6 or 8).
    pub jpeg: Vec<u8>,
    pub diploma: Diploma,
    /// The page's top-left, top-right, bottom-right, bottom-left in pixels of the upright frame
    /// (EXIF applied), like `IdPhoto::corners`.
    pub corners: [(f32, f32); 4],
}

/// A phone photo of the certificate, deterministic from `seed`, as `idcard::photo_of` takes a
/// card's: on a desk in a 12 MP frame, tilted up to 12 degrees with a little perspective, under
/// uneven light and an off white balance, sometimes with a glare spot, blurred, noisy, JPEG'd
/// at quality 80-92 and sometimes stored sideways behind an EXIF orientation. The page covers
/// 30-60% of the frame (less where it would not fit): a certificate is photographed larger than
/// a card, and its paper shines less than a laminate.
pub fn photo_of(diploma: &Diploma, seed: u64) -> DiplomaPhoto {
    let shot = Shot {
        area: (0.30, 0.60),
        tilt: 12.0,
        blur: (0.3, 1.2),
        glare: 0.25,
    };
    let (jpeg, corners) = photograph_flat(render(diploma), Rng::new(seed), &shot);
    DiplomaPhoto {
        jpeg,
        diploma: diploma.clone(),
        corners,
    }
}

#[test]
fn classmates_differ_only_in_the_holder_and_the_sequence() {
    let class: Vec<Diploma> = (0..20).map(|i| Diploma::of_class(i, 11)).collect();
    for (i, diploma) in class.iter().enumerate() {
        assert_eq!(diploma.number.len(), 18, "{}", diploma.number);
        assert!(diploma.number.bytes().all(|b| b.is_ascii_digit()));
        assert!(diploma.number.starts_with(NUMBER_HEAD));
        assert_eq!(&diploma.number[..15], &class[0].number[..15]);
        assert_eq!(
            diploma.number[12..].parse::<u32>(),
            Ok(FIRST_SEQUENCE + i as u32)
        );
        assert!(
            (2..=3).contains(&diploma.name.chars().count()),
            "{}",
            diploma.name
        );
        let (y, m, d) = diploma.birth;
        assert!((1996..=1999).contains(&y) && (1..=12).contains(&m));
        assert!((1..=days_in(y, m)).contains(&d));
    }
    fn distinct<'a>(keys: impl Iterator<Item = &'a str>) -> usize {
        let mut keys: Vec<&str> = keys.collect();
        keys.sort_unstable();
        keys.dedup();
        keys.len()
    }
    assert_eq!(distinct(class.iter().map(|d| d.number.as_str())), 20);
    assert_eq!(distinct(class.iter().map(|d| d.name.as_str())), 20);
    // A classmate is the same asked for alone.
    let again = Diploma::of_class(13, 11);
    assert_eq!(
        (again.name.as_str(), again.sex),
        (class[13].name.as_str(), class[13].sex)
    );
    assert_eq!(
        (again.birth, again.number.as_str()),
        (class[13].birth, class[13].number.as_str())
    );
    // Clashing names are drawn again: a class large enough to meet some still has none.
    let large: Vec<Diploma> = (0..300).map(|i| Diploma::of_class(i, 5)).collect();
    assert_eq!(distinct(large.iter().map(|d| d.name.as_str())), 300);
}
