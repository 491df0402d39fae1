//! Finding the document's page in a photo: its four corners and how sure we are.
//!
//! Lines, then quadrilaterals: the page's outline is four long straight edges, which a desk's grain,
//! a cloth's pattern or the text on the page are not. On a small grey copy of the photo
//! (`DETECT_LONG_EDGE`), Canny's edges vote for lines (Hough), each line is refitted to the edge
//! pixels along it (the vote is quantised to a degree), and every choice of two roughly opposite
//! pairs of lines makes a candidate quadrilateral. A candidate is scored by how much of its outline
//! is an edge across it in the photo, sampled along each side: the same sign of step (paper against
//! desk) on most of each side. The best-supported candidate wins, and among near-equal ones the
//! larger (a diploma's printed frame sits inside its page; the page is what must show whole).
//! Corners may lie a little outside the frame: a side is then judged on its visible part.
//!
//! Why not contours of a thresholded page (the classic scanner recipe): a white page on a light
//! desk, a shadow across it or a hand over one edge break the region, while each of its four edges
//! still shows as a line. Measured on the generated set (`core/tests/capture.rs`).
use image::{GrayImage, RgbImage};
use imageproc::edges::canny;
use imageproc::hough::{LineDetectionOptions, detect_lines};

use super::checks::small_grey;

/// Long edge of the grey copy the page is looked for in: the page's edges are long and straight,
/// so 512 px keep them (2% of a half-frame page's diagonal is still ~6 px here) at ~1/16 of the
/// pixels of the 2048 px image.
pub const DETECT_LONG_EDGE: u32 = 512;
/// Below this support (fraction of the outline that is an edge) a candidate is no page.
pub const CONFIDENT_ABOVE: f32 = 0.6;
/// The smallest page looked for, as a fraction of the frame's area: an ID card at arm's length.
const MIN_AREA: f32 = 0.03;
/// Lines kept for building quadrilaterals, best supported first: a page needs four.
const MAX_LINES: usize = 24;
/// Sobel response (on the 1 px-blurred grey copy) above which the photo steps across a line:
/// ~35 is a 10-level step, a white page on a light grey cloth in uneven light.
const STEP: f32 = 35.0;

/// A point of the upright frame in fractions of its width and height (0..1; a corner slightly out
/// of the frame lies a little outside).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

/// A page's four corners: top-left, top-right, bottom-right, bottom-left, as the frame is shown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quad(pub [Point; 4]);

impl Quad {
    /// The longest side in pixels of an image of the given size: how many pixels the page has
    /// there along its long edge.
    pub fn longest_side(&self, width: u32, height: u32) -> f32 {
        let c = self.to_pixels(width, height);
        (0..4)
            .map(|k| (c[k].0 - c[(k + 1) % 4].0).hypot(c[k].1 - c[(k + 1) % 4].1))
            .fold(0.0f32, f32::max)
    }

    /// Corners in pixels of an image of the given size.
    pub fn to_pixels(&self, width: u32, height: u32) -> [(f32, f32); 4] {
        self.0.map(|p| (p.x * width as f32, p.y * height as f32))
    }

    pub fn from_pixels(corners: [(f32, f32); 4], width: u32, height: u32) -> Quad {
        Quad(corners.map(|(x, y)| Point {
            x: x / width as f32,
            y: y / height as f32,
        }))
    }

    /// Whether the four corners make a convex quadrilateral of some size, in clockwise order as
    /// shown (what a caller passing corners must give).
    pub fn is_usable(&self) -> bool {
        let c = self.0;
        if c.iter().any(|p| !p.x.is_finite() || !p.y.is_finite())
            || c.iter().any(|p| p.x.abs() > 2.0 || p.y.abs() > 2.0)
        {
            return false;
        }
        let px = c.map(|p| (p.x, p.y));
        convex_clockwise(&px) && polygon_area(&px) >= 0.01
    }

    /// The same quadrilateral, its corners renamed so that the top side runs closest to left to
    /// right: which corner is "top-left" of a page lying at 40° is a choice, and this one turns the
    /// page least (the content check then decides quarter turns).
    pub fn normalised(&self) -> Quad {
        let mut c = self.0.map(|p| (p.x, p.y));
        if !convex_clockwise(&c) {
            c.reverse();
        }
        let best = (0..4)
            .min_by(|&a, &b| {
                let angle = |k: usize| {
                    let (p, q) = (c[k], c[(k + 1) % 4]);
                    (q.1 - p.1).atan2(q.0 - p.0).abs()
                };
                angle(a).total_cmp(&angle(b))
            })
            .unwrap_or(0);
        c.rotate_left(best);
        Quad(c.map(|(x, y)| Point { x, y }))
    }
}

/// The corners as text, `x1,y1,x2,y2,x3,y3,x4,y4` (four decimals): how the web page and the
/// command line pass them.
impl std::fmt::Display for Quad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (k, p) in self.0.iter().enumerate() {
            let comma = if k == 0 { "" } else { "," };
            write!(f, "{comma}{:.4},{:.4}", p.x, p.y)?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Quad {
    type Err = super::PhotoError;

    /// Eight numbers separated by commas; whether they make a page is `is_usable`'s to say.
    fn from_str(text: &str) -> Result<Quad, Self::Err> {
        let numbers: Vec<f32> = text
            .split(',')
            .map(|n| n.trim().parse::<f32>())
            .collect::<Result<_, _>>()
            .map_err(|_| super::PhotoError::InvalidCorners)?;
        if numbers.len() != 8 {
            return Err(super::PhotoError::InvalidCorners);
        }
        Ok(Quad(std::array::from_fn(|k| Point {
            x: numbers[2 * k],
            y: numbers[2 * k + 1],
        })))
    }
}

/// A page found in a photo.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FoundPage {
    pub quad: Quad,
    /// Fraction of the outline that shows as an edge in the photo, 0..1.
    pub confidence: f32,
}

/// The page in `image`, if there is one with an outline worth trusting (`CONFIDENT_ABOVE`); the
/// best candidate otherwise, with its low confidence, so the app can offer it to be adjusted.
pub fn find_page(image: &RgbImage) -> Option<FoundPage> {
    let grey = small_grey(image, DETECT_LONG_EDGE);
    let (w, h) = grey.dimensions();
    if w < 32 || h < 32 {
        return None;
    }
    // Lines are voted for at half this size, where a cloth's checks and a desk's grain average
    // out while a page's edge stays a step; they are then fitted at full detection size.
    let coarse = imageproc::filter::gaussian_blur_f32(&grey, 1.5);
    let coarse =
        image::imageops::resize(&coarse, w / 2, h / 2, image::imageops::FilterType::Triangle);
    let edges = canny(&coarse, 15.0, 40.0);
    let field = Gradients::of(&grey);
    let lines = candidate_lines(&edges, &field);
    let best = best_quad(&lines, &field)?;
    let (fw, fh) = (w as f32, h as f32);
    let quad = Quad(best.corners.map(|(x, y)| Point {
        x: x / fw,
        y: y / fh,
    }))
    .normalised();
    Some(FoundPage {
        quad,
        confidence: best.support,
    })
}

/// Sobel gradients of the grey copy, sampled with bounds checks.
struct Gradients {
    /// Stored as floats (exactly the integers Sobel gives), as every read multiplies them.
    gx: Vec<f32>,
    gy: Vec<f32>,
    width: i32,
    height: i32,
}

impl Gradients {
    fn of(grey: &GrayImage) -> Gradients {
        // A light blur first (3x3 mean), so text strokes and paper grain weigh less than the
        // page's edge.
        let smooth = imageproc::filter::box_filter(grey, 1, 1);
        let (gx, gy) = sobel(&smooth);
        let float = |g: Vec<i16>| g.into_iter().map(f32::from).collect();
        Gradients {
            gx: float(gx),
            gy: float(gy),
            width: grey.width() as i32,
            height: grey.height() as i32,
        }
    }

    fn at(&self, x: f32, y: f32) -> Option<(f32, f32)> {
        self.index(x, y).map(|i| self.read(i))
    }

    /// The pixel nearest to (x, y), if inside the border.
    fn index(&self, x: f32, y: f32) -> Option<usize> {
        // Rounded by truncating x + 0.5: the same as `round` where it matters (x ≥ 0.5; anything
        // less is out of bounds either way) without a libm call per sample.
        if x < 0.5 || y < 0.5 {
            return None;
        }
        let (xi, yi) = ((x + 0.5) as i32, (y + 0.5) as i32);
        if xi < 1 || yi < 1 || xi >= self.width - 1 || yi >= self.height - 1 {
            return None;
        }
        Some((yi * self.width + xi) as usize)
    }

    /// `index` of a point known to be inside the border (between two points `index` accepted,
    /// on a straight path: the rounding is monotonic along it).
    fn index_between(&self, x: f32, y: f32) -> usize {
        ((y + 0.5) as i32 * self.width + (x + 0.5) as i32) as usize
    }

    fn read(&self, i: usize) -> (f32, f32) {
        (self.gx[i], self.gy[i])
    }
}

/// Sobel's horizontal and vertical gradients, as imageproc's `horizontal_sobel` and
/// `vertical_sobel` give them (borders extended) but over the raw rows in one pass: the generic
/// kernel filter took ~7% of a 12 MP prepare.
fn sobel(grey: &GrayImage) -> (Vec<i16>, Vec<i16>) {
    let (w, h) = (grey.width() as usize, grey.height() as usize);
    let p = grey.as_raw();
    let (mut gx, mut gy) = (vec![0i16; w * h], vec![0i16; w * h]);
    if w == 0 || h == 0 {
        return (gx, gy);
    }
    for y in 0..h {
        let (up, row, down) = (
            &p[y.saturating_sub(1) * w..][..w],
            &p[y * w..][..w],
            &p[(y + 1).min(h - 1) * w..][..w],
        );
        for x in 0..w {
            let (l, r) = (x.saturating_sub(1), (x + 1).min(w - 1));
            let v = |line: &[u8], i: usize| line[i] as i16;
            gx[y * w + x] =
                (v(up, r) - v(up, l)) + 2 * (v(row, r) - v(row, l)) + (v(down, r) - v(down, l));
            gy[y * w + x] =
                (v(down, l) - v(up, l)) + 2 * (v(down, x) - v(up, x)) + (v(down, r) - v(up, r));
        }
    }
    (gx, gy)
}

/// Offsets (px of the grey copy) at which each voted line is snapped again besides where it
/// lies: the snap looks 5 px either side, so these reach ±21 px, where a certificate's printed
/// frame lies from its page's edge.
const PARALLEL_SHIFTS: [f32; 4] = [-8.0, 8.0, -16.0, 16.0];
/// Lines kept of one direction (within `FAMILY_ANGLE` degrees): a checked or woven cloth has
/// dozens of parallel lines that step one way all along, and would take every place from the
/// page's four; a page needs two of a direction, and its printed border or a shadow a few more.
const MAX_FAMILY: usize = 10;
const FAMILY_ANGLE: f32 = 3.0;
/// Lines from those snaps kept besides `MAX_LINES`.
const MAX_BESIDE: usize = 8;

/// A straight line n·p = c with a unit normal n.
#[derive(Debug, Clone, Copy)]
struct Line {
    nx: f32,
    ny: f32,
    c: f32,
}

impl Line {
    fn angle(&self) -> f32 {
        // Direction of the normal folded to [0, π): a line and its reverse are the same line.
        self.ny.atan2(self.nx).rem_euclid(std::f32::consts::PI)
    }

    fn intersect(&self, other: &Line) -> Option<(f32, f32)> {
        let det = self.nx * other.ny - self.ny * other.nx;
        if det.abs() < 1e-4 {
            return None;
        }
        Some((
            (self.c * other.ny - self.ny * other.c) / det,
            (self.nx * other.c - self.c * other.nx) / det,
        ))
    }
}

/// Hough's lines, each refitted to the edge pixels along it, the best supported first.
fn candidate_lines(edges: &GrayImage, field: &Gradients) -> Vec<Line> {
    let (w, h) = (field.width as u32, field.height as u32);
    let long = edges.width().max(edges.height()) as f32;
    // Edge pixels of the half-size map, in full detection size.
    let points: Vec<(f32, f32)> = edges
        .enumerate_pixels()
        .filter(|(_, _, p)| p[0] > 0)
        .map(|(x, y, _)| (x as f32 * 2.0 + 0.5, y as f32 * 2.0 + 0.5))
        .collect();
    // A page's side is at least a tenth of the long edge long even for an ID card far away.
    let options = LineDetectionOptions {
        vote_threshold: (long * 0.08) as u32,
        suppression_radius: 4,
    };
    let voted: Vec<Line> = detect_lines(edges, options)
        .into_iter()
        .filter_map(|polar| {
            let theta = (polar.angle_in_degrees as f32).to_radians();
            let mut line = Line {
                nx: theta.cos(),
                ny: theta.sin(),
                c: polar.r * 2.0 + 0.5 * (theta.cos() + theta.sin()),
            };
            for band in [6.0, 3.0] {
                line = refit(&line, &points, band)?;
            }
            Some(line)
        })
        .collect();
    let rank = |lines: Vec<Line>| {
        let mut scored: Vec<(Line, f32)> = lines
            .into_iter()
            .map(|line| (line, line_support(&line, field, w as f32, h as f32)))
            .filter(|(_, support)| *support > 0.0)
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        scored.into_iter().map(|(line, _)| line)
    };
    let snapped = voted
        .iter()
        .map(|line| snap(line, field, w as f32, h as f32).unwrap_or(*line))
        .collect();
    let mut kept: Vec<Line> = Vec::new();
    keep_distinct(&mut kept, rank(snapped), MAX_LINES, w, h);
    // A frame printed close to the page's edge (a certificate's border) steps harder than paper
    // against the desk, and takes the vote and the snap: lines snapped a little either side of
    // each voted one are added (a few, the best supported), so the page's own edge is a
    // candidate too; the widening in `best_quad` then prefers it to the frame inside.
    let beside = voted
        .iter()
        .flat_map(|line| {
            PARALLEL_SHIFTS.iter().filter_map(move |&shift| {
                let shifted = Line {
                    c: line.c + shift,
                    ..*line
                };
                // Fewer points than the first snap: this one only has to find the edge.
                snap_sampled(&shifted, field, w as f32, h as f32, 64.0)
            })
        })
        .collect();
    keep_distinct(&mut kept, rank(beside), MAX_LINES + MAX_BESIDE, w, h);
    kept
}

/// Add `lines` (best first) to `kept` until it holds `limit`, skipping any that repeats a kept
/// one: refits of neighbouring votes often land on the same line.
fn keep_distinct(
    kept: &mut Vec<Line>,
    lines: impl Iterator<Item = Line>,
    limit: usize,
    w: u32,
    h: u32,
) {
    for line in lines {
        if kept.len() >= limit {
            break;
        }
        let duplicate = kept.iter().any(|k| {
            let d_angle = angle_between(k.angle(), line.angle());
            d_angle < 2f32.to_radians() && distance_at_centre(k, &line, w, h) < 3.0
        });
        let family = kept
            .iter()
            .filter(|k| angle_between(k.angle(), line.angle()) < FAMILY_ANGLE.to_radians())
            .count();
        if !duplicate && family < MAX_FAMILY {
            kept.push(line);
        }
    }
}

fn angle_between(a: f32, b: f32) -> f32 {
    let d = (a - b).abs() % std::f32::consts::PI;
    d.min(std::f32::consts::PI - d)
}

/// How far apart two nearly parallel lines are, measured at the image's centre.
fn distance_at_centre(a: &Line, b: &Line, w: u32, h: u32) -> f32 {
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let da = a.nx * cx + a.ny * cy - a.c;
    let db = b.nx * cx + b.ny * cy - b.c;
    // Normals may point opposite ways for the same line.
    let same = a.nx * b.nx + a.ny * b.ny >= 0.0;
    if same {
        (da - db).abs()
    } else {
        (da + db).abs()
    }
}

/// The total-least-squares line through the edge points within `band` px of `line`.
fn refit(line: &Line, points: &[(f32, f32)], band: f32) -> Option<Line> {
    let near: Vec<(f32, f32)> = points
        .iter()
        .copied()
        .filter(|&(x, y)| (line.nx * x + line.ny * y - line.c).abs() <= band)
        .collect();
    if near.len() < 8 {
        return None;
    }
    let n = near.len() as f32;
    let (mx, my) = near
        .iter()
        .fold((0.0, 0.0), |(sx, sy), &(x, y)| (sx + x / n, sy + y / n));
    let (mut sxx, mut sxy, mut syy) = (0.0f32, 0.0f32, 0.0f32);
    for &(x, y) in &near {
        let (dx, dy) = (x - mx, y - my);
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    // The normal is the eigenvector of the smaller eigenvalue of the scatter matrix.
    let theta = 0.5 * (2.0 * sxy).atan2(sxx - syy); // direction of the line
    let (nx, ny) = (-theta.sin(), theta.cos());
    Some(Line {
        nx,
        ny,
        c: nx * mx + ny * my,
    })
}

/// The line refitted to where the photo steps across it most sharply, searched a few pixels to
/// either side at points all along it, with one sign of step (the other sign is another edge:
/// a shadow's, a cloth's), outliers dropped.
fn snap(line: &Line, field: &Gradients, w: f32, h: f32) -> Option<Line> {
    snap_sampled(line, field, w, h, 256.0)
}

/// `snap` from at most `most` points along the line.
fn snap_sampled(line: &Line, field: &Gradients, w: f32, h: f32, most: f32) -> Option<Line> {
    let (a, b) = clip_to_frame(line, w, h)?;
    let length = (b.0 - a.0).hypot(b.1 - a.1);
    let samples = (length / 2.0).clamp(8.0, most) as usize;
    let mut found: [Vec<(f32, f32)>; 2] = [Vec::new(), Vec::new()];
    let across = Across::of(line);
    for i in 0..samples {
        let t = (i as f32 + 0.5) / samples as f32;
        let (x, y) = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
        let best = across.strongest_step(x, y, field);
        if best.1.abs() > 50.0 {
            let s = usize::from(best.1 < 0.0);
            found[s].push((x + line.nx * best.0, y + line.ny * best.0));
        }
    }
    let points = if found[0].len() >= found[1].len() {
        &found[0]
    } else {
        &found[1]
    };
    let mut fitted = refit(line, points, 6.0)?;
    for band in [2.0, 1.0] {
        fitted = refit(&fitted, points, band)?;
    }
    Some(fitted)
}

/// Offsets across a line at which `snap` looks for the step: ±5 px in half-pixel steps.
const SNAP_OFFSETS: usize = 21;

/// The points across a line at which `snap` reads the step, as displacements along its normal
/// (computed once per line: the same products the search would compute at every point).
struct Across {
    normal: (f32, f32),
    offsets: [f32; SNAP_OFFSETS],
    shifts: [(f32, f32); SNAP_OFFSETS],
}

impl Across {
    fn of(line: &Line) -> Across {
        let offsets = std::array::from_fn(|k| -5.0 + 0.5 * k as f32);
        Across {
            normal: (line.nx, line.ny),
            offsets,
            shifts: offsets.map(|o| (line.nx * o, line.ny * o)),
        }
    }

    /// The offset across the line (within ±5 px of (x, y)) where the photo steps most sharply,
    /// and that step (0 when nothing inside the frame steps): the first of the strongest, so a
    /// tie keeps the offset nearest -5.
    fn strongest_step(&self, x: f32, y: f32, field: &Gradients) -> (f32, f32) {
        let (nx, ny) = self.normal;
        let at = |(dx, dy): (f32, f32)| (x + dx, y + dy);
        let (first, last) = (at(self.shifts[0]), at(self.shifts[SNAP_OFFSETS - 1]));
        // Both ends inside the border, so is every point between: no check per point in the
        // detector's costliest loop. A point outside steps 0, which never wins (the comparison
        // is strict, from 0), and neither does a pixel read twice (two half-pixel steps round
        // to it); the strengths are gathered first and compared after, without a branch the
        // predictor keeps missing.
        let inside =
            field.index(first.0, first.1).is_some() && field.index(last.0, last.1).is_some();
        let mut strength = [0.0f32; SNAP_OFFSETS];
        for (s, &shift) in strength.iter_mut().zip(&self.shifts) {
            let (px, py) = at(shift);
            let i = if inside {
                Some(field.index_between(px, py))
            } else {
                field.index(px, py)
            };
            if let Some(i) = i {
                let (gx, gy) = field.read(i);
                *s = gx * nx + gy * ny;
            }
        }
        let mut best = (0.0f32, 0.0f32);
        for (&across, &o) in strength.iter().zip(&self.offsets) {
            if across.abs() > best.1.abs() {
                best = (o, across);
            }
        }
        best
    }
}

/// The longest edge along the line, over the frame's long edge (used to rank lines).
fn line_support(line: &Line, field: &Gradients, w: f32, h: f32) -> f32 {
    let Some((a, b)) = clip_to_frame(line, w, h) else {
        return 0.0;
    };
    net_edge(a, b, line, field) / w.max(h)
}

/// The part of the line inside the frame.
fn clip_to_frame(line: &Line, w: f32, h: f32) -> Option<((f32, f32), (f32, f32))> {
    let mut hits: Vec<(f32, f32)> = Vec::with_capacity(4);
    let borders = [
        Line {
            nx: 1.0,
            ny: 0.0,
            c: 0.0,
        },
        Line {
            nx: 1.0,
            ny: 0.0,
            c: w - 1.0,
        },
        Line {
            nx: 0.0,
            ny: 1.0,
            c: 0.0,
        },
        Line {
            nx: 0.0,
            ny: 1.0,
            c: h - 1.0,
        },
    ];
    for border in &borders {
        if let Some((x, y)) = line.intersect(border)
            && (-0.5..=w - 0.5).contains(&x)
            && (-0.5..=h - 0.5).contains(&y)
        {
            hits.push((x, y));
        }
    }
    let mut best = None;
    let mut longest = 0.0;
    for i in 0..hits.len() {
        for j in i + 1..hits.len() {
            let d = (hits[i].0 - hits[j].0).hypot(hits[i].1 - hits[j].1);
            if d > longest {
                longest = d;
                best = Some((hits[i], hits[j]));
            }
        }
    }
    best
}

/// Points sampled along a line to rank it: every 4 px, at most 64 (its support is a share, which
/// 64 points measure to a couple of percent).
fn side_samples(length: f32) -> usize {
    (length / 4.0).clamp(8.0, 64.0) as usize
}

/// The steps across `line` at points along the segment a-b: `None` outside the frame, else +1
/// (brighter along the line's normal), -1 (darker) or 0 (no clear step there).
fn steps_along(a: (f32, f32), b: (f32, f32), line: &Line, field: &Gradients) -> Vec<Option<i8>> {
    let length = (b.0 - a.0).hypot(b.1 - a.1);
    let samples = side_samples(length);
    (0..samples)
        .map(|i| {
            let t = (i as f32 + 0.5) / samples as f32;
            let (x, y) = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
            step_at(x, y, line, field)
        })
        .collect()
}

fn step_at(x: f32, y: f32, line: &Line, field: &Gradients) -> Option<i8> {
    // The strongest step across the line within a pixel or so of it.
    let mut best = 0.0f32;
    let mut seen = false;
    for offset in [-1.5f32, -0.75, 0.0, 0.75, 1.5] {
        let Some((gx, gy)) = field.at(x + line.nx * offset, y + line.ny * offset) else {
            continue;
        };
        seen = true;
        let across = gx * line.nx + gy * line.ny;
        let along = (gx * line.ny - gy * line.nx).abs();
        // An edge of the page runs along the line: its gradient points across it.
        if across.abs() > along && across.abs() > best.abs() {
            best = across;
        }
    }
    if !seen {
        return None;
    }
    // A step, not a slope: a shadow's soft edge rises as much a few pixels away.
    let beside = [-3.5f32, 3.5]
        .iter()
        .filter_map(|&o| field.at(x + line.nx * o, y + line.ny * o))
        .map(|(gx, gy)| (gx * line.nx + gy * line.ny).abs())
        .fold(0.0f32, f32::max);
    // A clear step, not paper grain or sensor noise (see `STEP`).
    Some(if best.abs() < 1.5 * beside || best.abs() <= STEP {
        0
    } else if best > 0.0 {
        1
    } else {
        -1
    })
}

/// Spacing in pixels of the samples along a line (`StepProfile`).
const PROFILE_SPACING: f32 = 2.0;

/// The steps across a line (see `step_at`) at points every `PROFILE_SPACING` px along it, over
/// the frame and the margin a corner may lie out in, as running counts: any segment of the line
/// is then judged by a few subtractions.
struct StepProfile {
    /// Where the samples start along the line's direction (-ny, nx), from its foot (nx c, ny c).
    start: f32,
    /// Running counts before sample i: inside the frame, brighter along the normal, darker.
    inside: Vec<u32>,
    brighter: Vec<u32>,
    darker: Vec<u32>,
    nx: f32,
    ny: f32,
}

impl StepProfile {
    fn of(line: &Line, field: &Gradients) -> StepProfile {
        let (w, h) = (field.width as f32, field.height as f32);
        let (dx, dy) = (-line.ny, line.nx);
        let (fx, fy) = (line.nx * line.c, line.ny * line.c);
        // Around the point of the line nearest the frame's centre, as far as the margin reaches
        // (`quad_of` allows corners 12% out).
        let centre = (w / 2.0 - fx) * dx + (h / 2.0 - fy) * dy;
        let reach = 0.5 * (1.24 * w).hypot(1.24 * h);
        let start = centre - reach;
        let n = (2.0 * reach / PROFILE_SPACING).ceil() as usize + 1;
        let mut profile = StepProfile {
            start,
            inside: Vec::with_capacity(n + 1),
            brighter: Vec::with_capacity(n + 1),
            darker: Vec::with_capacity(n + 1),
            nx: line.nx,
            ny: line.ny,
        };
        let (mut inside, mut brighter, mut darker) = (0, 0, 0);
        for i in 0..n {
            profile.inside.push(inside);
            profile.brighter.push(brighter);
            profile.darker.push(darker);
            let t = start + i as f32 * PROFILE_SPACING;
            if let Some(step) = step_at(fx + dx * t, fy + dy * t, line, field) {
                inside += 1;
                brighter += u32::from(step > 0);
                darker += u32::from(step < 0);
            }
        }
        profile.inside.push(inside);
        profile.brighter.push(brighter);
        profile.darker.push(darker);
        profile
    }

    /// Along the segment a-b (on this line), judged across `side` (the same line, its normal
    /// either way): the shares of the samples inside the frame where the photo steps brighter
    /// along `side`'s normal, and darker, and the share of the samples that are inside.
    fn support(&self, a: (f32, f32), b: (f32, f32), side: &Line) -> (f32, f32, f32) {
        let (dx, dy) = (-self.ny, self.nx);
        let index = |p: (f32, f32)| {
            let t = p.0 * dx + p.1 * dy - self.start;
            ((t / PROFILE_SPACING).ceil().max(0.0) as usize).min(self.inside.len() - 1)
        };
        let (i, j) = {
            let (i, j) = (index(a), index(b));
            (i.min(j), i.max(j))
        };
        let samples = (j - i).max(1) as f32;
        let inside = self.inside[j] - self.inside[i];
        if inside == 0 {
            return (0.0, 0.0, 0.0);
        }
        let (mut brighter, mut darker) = (
            (self.brighter[j] - self.brighter[i]) as f32,
            (self.darker[j] - self.darker[i]) as f32,
        );
        if side.nx * self.nx + side.ny * self.ny < 0.0 {
            std::mem::swap(&mut brighter, &mut darker);
        }
        let n = inside as f32;
        (brighter / n, darker / n, n / samples)
    }
}

/// How much of the segment is edge of one sign net of the other, in pixels: a page's side steps
/// one way all along (or not at all where the desk happens to match the paper), while a checked
/// cloth's line flips sign at every check and sums to little.
fn net_edge(a: (f32, f32), b: (f32, f32), line: &Line, field: &Gradients) -> f32 {
    let steps = steps_along(a, b, line, field);
    let spacing = (b.0 - a.0).hypot(b.1 - a.1) / steps.len().max(1) as f32;
    let sum: i32 = steps.iter().flatten().map(|&s| s as i32).sum();
    sum.unsigned_abs() as f32 * spacing
}

#[derive(Debug, Clone, Copy)]
struct Candidate {
    corners: [(f32, f32); 4],
    support: f32,
    area: f32,
}

fn best_quad(lines: &[Line], field: &Gradients) -> Option<Candidate> {
    let (w, h) = (field.width as f32, field.height as f32);
    let frame_area = w * h;
    // Opposite sides: near parallel (perspective tilts them apart by up to ~35°) and apart.
    let mut pairs: Vec<(usize, usize, f32)> = Vec::new();
    for i in 0..lines.len() {
        for j in i + 1..lines.len() {
            let d_angle = angle_between(lines[i].angle(), lines[j].angle());
            if d_angle < 35f32.to_radians()
                && distance_at_centre(&lines[i], &lines[j], w as u32, h as u32) > 0.08 * w.min(h)
            {
                let mean = mean_angle(lines[i].angle(), lines[j].angle());
                pairs.push((i, j, mean));
            }
        }
    }
    // Every candidate's side lies on one of the lines: the steps along each line are sampled
    // once, and a side's support is counted from them (thousands of sides share 24 lines).
    let profiles: Vec<StepProfile> = lines.iter().map(|l| StepProfile::of(l, field)).collect();
    let mut candidates: Vec<Candidate> = Vec::new();
    for (p, &(a, b, angle_ab)) in pairs.iter().enumerate() {
        for &(c, d, angle_cd) in &pairs[p + 1..] {
            if [a, b].contains(&c) || [a, b].contains(&d) {
                continue;
            }
            if angle_between(angle_ab, angle_cd) < 50f32.to_radians() {
                continue;
            }
            let Some(candidate) = quad_of([a, b], [c, d], lines, &profiles, field) else {
                continue;
            };
            if candidate.area >= MIN_AREA * frame_area {
                candidates.push(candidate);
            }
        }
    }
    let mut best = *candidates
        .iter()
        .max_by(|a, b| a.support.total_cmp(&b.support))?;
    // A nearly as well supported quadrilateral around the best one is the page, the best one
    // a frame printed on it or a line of text with two of the page's sides: the page is what must
    // show whole. Widened outwards while there is one.
    while let Some(outer) = candidates
        .iter()
        .filter(|c| {
            // A frame printed close inside the page's edge (a certificate's border, every corner
            // within a few percent of the page's) steps more cleanly than paper on a patterned
            // desk: the page may score lower than its frame by more, and still be the page.
            let margin = if hugs(&c.corners, &best.corners) {
                0.3
            } else {
                0.15
            };
            c.support >= best.support - margin
                && c.area > best.area * 1.05
                && best
                    .corners
                    .iter()
                    .all(|&p| contains(&c.corners, p, 0.01 * w.max(h)))
        })
        .max_by(|a, b| a.support.total_cmp(&b.support))
    {
        best = *outer;
    }
    Some(best)
}

/// Whether `outer` lies just around `inner`: each corner of `inner` has one of `outer`'s within 6%
/// of `inner`'s diagonal (and `outer` is the larger, as the caller checks).
fn hugs(outer: &[(f32, f32); 4], inner: &[(f32, f32); 4]) -> bool {
    let diagonal = (inner[0].0 - inner[2].0).hypot(inner[0].1 - inner[2].1);
    inner.iter().all(|p| {
        outer
            .iter()
            .any(|q| (p.0 - q.0).hypot(p.1 - q.1) <= 0.06 * diagonal)
    })
}

/// Whether p lies inside the clockwise quadrilateral, or within `slack` pixels of it.
fn contains(quad: &[(f32, f32); 4], p: (f32, f32), slack: f32) -> bool {
    (0..4).all(|k| {
        let (a, b) = (quad[k], quad[(k + 1) % 4]);
        let (ex, ey) = (b.0 - a.0, b.1 - a.1);
        (ex * (p.1 - a.1) - ey * (p.0 - a.0)) / ex.hypot(ey).max(1e-6) >= -slack
    })
}

fn mean_angle(a: f32, b: f32) -> f32 {
    let pi = std::f32::consts::PI;
    let (a2, b2) = (2.0 * a, 2.0 * b);
    ((a2.sin() + b2.sin()).atan2(a2.cos() + b2.cos()) / 2.0).rem_euclid(pi)
}

/// The quadrilateral of two pairs of opposite lines (indices into `lines` and their
/// `profiles`), scored by its outline's support.
fn quad_of(
    pair: [usize; 2],
    other: [usize; 2],
    lines: &[Line],
    profiles: &[StepProfile],
    field: &Gradients,
) -> Option<Candidate> {
    let (w, h) = (field.width as f32, field.height as f32);
    let [a, b] = pair.map(|i| lines[i]);
    let [c, d] = other.map(|i| lines[i]);
    // Going round: a∩c, c∩b, b∩d, d∩a.
    let corners = [
        a.intersect(&c)?,
        c.intersect(&b)?,
        b.intersect(&d)?,
        d.intersect(&a)?,
    ];
    // A corner may be a little out of the frame, not far.
    let (mx, my) = (0.12 * w, 0.12 * h);
    if corners
        .iter()
        .any(|&(x, y)| x < -mx || y < -my || x > w + mx || y > h + my)
    {
        return None;
    }
    // Side k runs from corner k to corner k + 1, on this line (the order above, or reversed).
    let mut ordered = corners;
    let mut on = [other[0], pair[1], other[1], pair[0]];
    if !convex_clockwise(&ordered) {
        ordered.reverse();
        on = [other[1], pair[1], other[0], pair[0]];
        if !convex_clockwise(&ordered) {
            return None;
        }
    }
    // No sliver: every angle between 35° and 145°.
    for k in 0..4 {
        let (p, q, r) = (ordered[(k + 3) % 4], ordered[k], ordered[(k + 1) % 4]);
        let (ux, uy) = (p.0 - q.0, p.1 - q.1);
        let (vx, vy) = (r.0 - q.0, r.1 - q.1);
        let cos = (ux * vx + uy * vy) / (ux.hypot(uy) * vx.hypot(vy)).max(1e-6);
        if cos.abs() > 35f32.to_radians().cos() {
            return None;
        }
    }
    // The page differs from the desk the same way all round (paper brighter than wood, or a
    // card darker than a white desk): a shadow's outer edge or a cloth's pattern steps the other
    // way on some sides, so each sign is scored on its own and the better one counts.
    let mut total = 0.0f32;
    let mut supported = [0.0f32; 2];
    let mut weakest = [1.0f32; 2];
    for k in 0..4 {
        let (p, q) = (ordered[k], ordered[(k + 1) % 4]);
        // Clockwise as shown, the normal of p→q points into the quadrilateral.
        let side = line_through(p, q);
        let (brighter_inside, darker_inside, visible) = profiles[on[k]].support(p, q, &side);
        let length = (q.0 - p.0).hypot(q.1 - p.1);
        // A side mostly out of the frame cannot vouch for the page.
        if visible < 0.4 {
            return None;
        }
        total += length * visible;
        for (s, share) in [brighter_inside, darker_inside].into_iter().enumerate() {
            weakest[s] = weakest[s].min(share);
            supported[s] += length * visible * share;
        }
    }
    let s = if supported[0] >= supported[1] { 0 } else { 1 };
    // A page's every side shows; one side in shadow or under a thumb still shows in part.
    if weakest[s] < 0.3 {
        return None;
    }
    // Scored by the whole outline and by its weakest side alike: a page shows on all four, while
    // a quadrilateral that borrows a line from a checked cloth has one side that shows half.
    let mut support = 0.5 * (supported[s] / total.max(1.0)) + 0.5 * weakest[s];
    if crossed(pair, other, &corners, lines, profiles) {
        support *= CROSSED;
    }
    Some(Candidate {
        corners: ordered,
        support,
        area: polygon_area(&ordered),
    })
}

/// What a crossed quadrilateral's support is worth (`crossed`).
const CROSSED: f32 = 0.8;

/// Whether a straight edge runs across the quadrilateral from side to side, parallel to two of
/// its sides and well inside them (beyond 15% of the way in): a cell of a checked cloth is
/// crossed by the cloth's next line, which steps one way all along, while a page's print (text,
/// a portrait, a border close to its edge) does not step cleanly all across it. `corners` as
/// `quad_of` builds them: a∩c, c∩b, b∩d, d∩a.
fn crossed(
    pair: [usize; 2],
    other: [usize; 2],
    corners: &[(f32, f32); 4],
    lines: &[Line],
    profiles: &[StepProfile],
) -> bool {
    // Sides along `ends` (each from its a-end to its b-end), crossed by lines near `pair`'s
    // direction; then the other way round.
    let directions = [
        (
            pair,
            [(corners[0], corners[1]), (corners[3], corners[2])],
            other,
        ),
        (
            other,
            [(corners[0], corners[3]), (corners[1], corners[2])],
            pair,
        ),
    ];
    for (along, ends, sides) in directions {
        for (i, line) in lines.iter().enumerate() {
            if pair.contains(&i) || other.contains(&i) {
                continue;
            }
            let near = along.iter().any(|&k| {
                angle_between(lines[k].angle(), line.angle()) < FAMILY_ANGLE.to_radians()
            });
            if !near {
                continue;
            }
            // Where the line meets the two other sides, as a share of the way along each.
            let mut hits = [(0.0f32, 0.0f32); 2];
            let mut inside = true;
            for (h, (&side, &(from, to))) in sides.iter().zip(ends.iter()).enumerate() {
                let Some(p) = line.intersect(&lines[side]) else {
                    inside = false;
                    break;
                };
                let length2 = (to.0 - from.0).powi(2) + (to.1 - from.1).powi(2);
                let t = ((p.0 - from.0) * (to.0 - from.0) + (p.1 - from.1) * (to.1 - from.1))
                    / length2.max(1e-6);
                inside &= (0.15..=0.85).contains(&t);
                hits[h] = p;
            }
            if !inside {
                continue;
            }
            let (brighter, darker, visible) =
                profiles[i].support(hits[0], hits[1], &line_through(hits[0], hits[1]));
            if visible > 0.5 && brighter.max(darker) >= 0.6 {
                return true;
            }
        }
    }
    false
}

fn line_through(p: (f32, f32), q: (f32, f32)) -> Line {
    let (dx, dy) = (q.0 - p.0, q.1 - p.1);
    let len = dx.hypot(dy).max(1e-6);
    let (nx, ny) = (-dy / len, dx / len);
    Line {
        nx,
        ny,
        c: nx * p.0 + ny * p.1,
    }
}

/// Convex, and clockwise as shown (y grows downwards).
fn convex_clockwise(c: &[(f32, f32); 4]) -> bool {
    (0..4).all(|k| {
        let (p, q, r) = (c[k], c[(k + 1) % 4], c[(k + 2) % 4]);
        (q.0 - p.0) * (r.1 - q.1) - (q.1 - p.1) * (r.0 - q.0) > 0.0
    })
}

fn polygon_area(c: &[(f32, f32); 4]) -> f32 {
    let mut twice = 0.0;
    for k in 0..4 {
        let (p, q) = (c[k], c[(k + 1) % 4]);
        twice += p.0 * q.1 - q.0 * p.1;
    }
    twice.abs() / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use imageproc::gradients::{horizontal_sobel, vertical_sobel};

    fn page_on_desk(corners: [(f32, f32); 4]) -> RgbImage {
        // A flat grey desk and a white page: the simplest case, exactly.
        let (w, h) = (800u32, 600u32);
        let quad = corners;
        RgbImage::from_fn(w, h, |x, y| {
            let p = (x as f32 + 0.5, y as f32 + 0.5);
            let inside = (0..4).all(|k| {
                let (a, b) = (quad[k], quad[(k + 1) % 4]);
                (b.0 - a.0) * (p.1 - a.1) - (b.1 - a.1) * (p.0 - a.0) >= 0.0
            });
            if inside {
                image::Rgb([245, 245, 240])
            } else {
                image::Rgb([90, 70, 50])
            }
        })
    }

    #[test]
    fn sobel_over_raw_rows_is_imageprocs() {
        let grey = GrayImage::from_fn(37, 23, |x, y| {
            image::Luma([((x * 7 + y * 13) ^ (x * y)) as u8])
        });
        let (gx, gy) = sobel(&grey);
        assert_eq!(gx, horizontal_sobel(&grey).into_raw());
        assert_eq!(gy, vertical_sobel(&grey).into_raw());
    }

    #[test]
    fn a_plain_page_is_found_to_a_pixel_or_so() {
        let truth = [
            (210.0, 90.0),
            (640.0, 130.0),
            (600.0, 520.0),
            (170.0, 470.0),
        ];
        let found = find_page(&page_on_desk(truth)).expect("a page");
        assert!(found.confidence > 0.9, "{found:?}");
        for (got, want) in found.quad.to_pixels(800, 600).iter().zip(truth) {
            let error = (got.0 - want.0).hypot(got.1 - want.1);
            assert!(error < 4.0, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn nothing_to_find_in_a_flat_image() {
        assert!(find_page(&RgbImage::from_pixel(640, 480, image::Rgb([255, 255, 255]))).is_none());
        assert!(find_page(&RgbImage::from_pixel(640, 480, image::Rgb([0, 0, 0]))).is_none());
        assert!(find_page(&RgbImage::from_pixel(20, 10, image::Rgb([9, 9, 9]))).is_none());
    }

    #[test]
    fn normalised_corners_start_top_left() {
        let q = Quad::from_pixels(
            [
                (600.0, 520.0),
                (170.0, 470.0),
                (210.0, 90.0),
                (640.0, 130.0),
            ],
            800,
            600,
        )
        .normalised();
        let px = q.to_pixels(800, 600);
        let near = |a: (f32, f32), b: (f32, f32)| (a.0 - b.0).hypot(a.1 - b.1) < 0.01;
        assert!(near(px[0], (210.0, 90.0)), "{px:?}");
        assert!(near(px[2], (600.0, 520.0)), "{px:?}");
    }
}
