//! Turning a document upright by what it shows, when EXIF is absent or wrong (a photo forwarded
//! through a chat app, a phone held flat over the desk).
//!
//! Classical signals on the ink, no model (why: ARCHITECTURE.md, "Content orientation"):
//!
//! 1. **Which way the lines run.** Ink is found against its neighbourhood (adaptive threshold),
//!    then smeared along rows by a fraction of the text height (run-length smoothing): along the
//!    lines, the characters of a line merge into one long blob; smeared across, they do not merge
//!    (lines are further apart than the characters in a line). Fewer blobs one way than the other
//!    tells horizontal lines from vertical ones, for Chinese as for Latin text.
//! 2. **Which end is up**, for lines found horizontal: a document's title is larger than its text
//!    and stands in its top part; labels and paragraphs start at a common left margin while their
//!    ends are ragged. Each is a vote; the title weighs double. Not the title on an ID card: the
//!    largest line of its front is the number, at the bottom (the title vote turned 15% of
//!    generated card photos upside down), so a card is judged by its margins alone.
//!
//! An unclear answer (too little text, votes that disagree, lines neither way) turns nothing:
//! a wrong turn is worse than none, since the candidate sees and can retake a sideways photo.
use image::{GrayImage, Luma, RgbImage};
use imageproc::contrast::adaptive_threshold;

use super::checks::{DocumentKind, small_grey};

/// Long edge of the grey copy read for text: body text of an A4 page is ~10 px high here.
pub const ANALYSIS_LONG_EDGE: u32 = 800;
/// A text-like photo has at least this many line blobs.
const MIN_LINES: usize = 4;
/// One direction must give this many times fewer blobs than the other to call the lines' way.
const DIRECTION_RATIO: f32 = 1.35;

/// Clockwise quarter turns (0-3) that make the content upright, when the content says so clearly.
pub fn content_turn(image: &RgbImage, document: DocumentKind) -> Option<u8> {
    let grey = small_grey(image, ANALYSIS_LONG_EDGE);
    let ink = ink_of(&grey)?;
    let text_height = typical_height(&ink)?;
    let reach = ((text_height as f32) * 0.6).round().max(2.0) as u32;
    let along_rows = blobs(&smear(&ink, reach, false));
    let along_columns = blobs(&smear(&ink, reach, true));
    let rows = text_lines(&along_rows, false);
    let columns = text_lines(&along_columns, true);
    let (lines, vertical) = if rows.len() >= MIN_LINES
        && (along_columns.len() as f32) >= DIRECTION_RATIO * along_rows.len() as f32
    {
        (rows, false)
    } else if columns.len() >= MIN_LINES
        && (along_rows.len() as f32) >= DIRECTION_RATIO * along_columns.len() as f32
    {
        (columns, true)
    } else {
        return None;
    };
    // Lines across the page's width: in the page's own frame, the "top" is one of two ends.
    let (w, h) = grey.dimensions();
    let page_h = if vertical { w } else { h };
    let frame: Vec<Blob> = lines.iter().map(|b| b.in_page(vertical, w)).collect();
    let upside_down = upside_down(&frame, page_h, document != DocumentKind::IdCard)?;
    // Vertical lines: the page's top is at the frame's right (a page turned a quarter clockwise
    // in the photo) or its left; `in_page` maps as if the top were at the right.
    Some(match (vertical, upside_down) {
        (false, false) => 0,
        (false, true) => 2,
        (true, false) => 3,
        (true, true) => 1,
    })
}

/// Ink as 255 on 0: darker than its neighbourhood by a clear step. None for an empty image.
fn ink_of(grey: &GrayImage) -> Option<GrayImage> {
    let (w, h) = grey.dimensions();
    if w < 64 || h < 64 {
        return None;
    }
    let radius = (w.max(h) / 40).max(4);
    let mut ink = adaptive_threshold(grey, radius, 14);
    for p in ink.pixels_mut() {
        p[0] = 255 - p[0];
    }
    Some(ink)
}

/// A connected blob's bounding box and ink.
#[derive(Debug, Clone, Copy)]
struct Blob {
    x0: u32,
    y0: u32,
    x1: u32,
    y1: u32,
    area: u32,
}

impl Blob {
    fn width(&self) -> u32 {
        self.x1 - self.x0 + 1
    }
    fn height(&self) -> u32 {
        self.y1 - self.y0 + 1
    }
    /// The blob in a frame where the lines run left to right: a vertical-line photo turned a
    /// quarter counter-clockwise (x' = y, y' = width - 1 - x).
    fn in_page(&self, vertical: bool, frame_width: u32) -> Blob {
        if !vertical {
            return *self;
        }
        Blob {
            x0: self.y0,
            x1: self.y1,
            y0: frame_width - 1 - self.x1,
            y1: frame_width - 1 - self.x0,
            area: self.area,
        }
    }
}

/// The 8-connected blobs of ink (non-zero) with their boxes and areas, specks left out.
///
/// Over runs of ink rather than pixels: each row's runs are joined (union-find) to the runs of the
/// row above that touch them, diagonals included, and each blob's box and area are summed from
/// its runs. The same blobs as imageproc's `connected_components` with `Connectivity::Eight`,
/// which labels pixel by pixel and took ~12% of a 12 MP prepare (three passes per photo); no
/// label image is needed here.
fn blobs(binary: &GrayImage) -> Vec<Blob> {
    struct Run {
        y: u32,
        x0: u32,
        x1: u32,
    }
    let (w, h) = (binary.width() as usize, binary.height() as usize);
    let mut runs: Vec<Run> = Vec::new();
    let mut parent: Vec<usize> = Vec::new();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut above = 0..0; // the previous row's runs
    for (y, row) in binary.as_raw().chunks_exact(w.max(1)).enumerate().take(h) {
        let start = runs.len();
        let mut x = 0;
        while x < w {
            if row[x] == 0 {
                x += 1;
                continue;
            }
            let x0 = x;
            while x < w && row[x] != 0 {
                x += 1;
            }
            let id = runs.len();
            runs.push(Run {
                y: y as u32,
                x0: x0 as u32,
                x1: (x - 1) as u32,
            });
            parent.push(id);
            // Runs above that touch this one, diagonally too: [x0 - 1, x1 + 1] overlaps them.
            for a in above.clone() {
                let (ax0, ax1) = (runs[a].x0 as usize, runs[a].x1 as usize);
                if ax1 + 1 < x0 {
                    continue;
                }
                if ax0 > x {
                    break;
                }
                let (ra, rb) = (root(&mut parent, a), root(&mut parent, id));
                if ra != rb {
                    parent[ra.max(rb)] = ra.min(rb);
                }
            }
        }
        above = start..runs.len();
    }
    let mut boxes: Vec<Option<Blob>> = (0..runs.len()).map(|_| None).collect();
    for (i, run) in runs.iter().enumerate() {
        let r = root(&mut parent, i);
        let b = boxes[r].get_or_insert(Blob {
            x0: run.x0,
            y0: run.y,
            x1: run.x1,
            y1: run.y,
            area: 0,
        });
        b.x0 = b.x0.min(run.x0);
        b.x1 = b.x1.max(run.x1);
        b.y0 = b.y0.min(run.y);
        b.y1 = b.y1.max(run.y);
        b.area += run.x1 - run.x0 + 1;
    }
    // Specks of noise are nobody's characters.
    boxes
        .into_iter()
        .flatten()
        .filter(|b| b.area >= 6)
        .collect()
}

/// The median height of character-sized blobs, if there are enough of them to be text.
fn typical_height(ink: &GrayImage) -> Option<u32> {
    let limit = ink.height().min(ink.width()) / 6;
    let mut heights: Vec<u32> = blobs(ink)
        .iter()
        .filter(|b| b.height() >= 4 && b.height() <= limit && b.width() <= limit)
        .map(|b| b.height().max(b.width()))
        .collect();
    if heights.len() < 20 {
        return None;
    }
    heights.sort_unstable();
    Some(heights[heights.len() / 2])
}

/// Run-length smoothing: gaps shorter than `reach` between ink along rows (or columns) filled.
fn smear(ink: &GrayImage, reach: u32, columns: bool) -> GrayImage {
    let (w, h) = ink.dimensions();
    let mut out = ink.clone();
    let (outer, inner) = if columns { (w, h) } else { (h, w) };
    for o in 0..outer {
        let at = |i: u32| if columns { (o, i) } else { (i, o) };
        let mut last_ink: Option<u32> = None;
        for i in 0..inner {
            let (x, y) = at(i);
            if ink.get_pixel(x, y)[0] > 0 {
                if let Some(last) = last_ink
                    && i - last > 1
                    && i - last <= reach
                {
                    for j in last + 1..i {
                        let (fx, fy) = at(j);
                        out.put_pixel(fx, fy, Luma([255]));
                    }
                }
                last_ink = Some(i);
            }
        }
    }
    out
}

/// Blobs that look like lines of text along the smearing direction: long and thin.
fn text_lines(blobs: &[Blob], vertical: bool) -> Vec<Blob> {
    blobs
        .iter()
        .filter(|b| {
            let (along, across) = if vertical {
                (b.height(), b.width())
            } else {
                (b.width(), b.height())
            };
            across >= 3 && along >= 3 * across
        })
        .copied()
        .collect()
}

/// Whether lines running left to right say the page is upside down; None when they do not say.
fn upside_down(lines: &[Blob], page_h: u32, titled: bool) -> Option<bool> {
    let mut vote = 0.0f32;
    // The title: lines clearly taller than the text, in the top or bottom part.
    let mut heights: Vec<u32> = lines.iter().map(Blob::height).collect();
    heights.sort_unstable();
    let median = heights[heights.len() / 2] as f32;
    let (mut weight, mut centre) = (0.0f32, 0.0f32);
    for b in lines.iter().filter(|b| b.height() as f32 >= 1.45 * median) {
        let a = (b.width() * b.height()) as f32;
        weight += a;
        centre += a * (b.y0 + b.y1) as f32 / 2.0 / page_h as f32;
    }
    if titled && weight > 0.0 {
        let at = centre / weight;
        if at < 0.4 {
            vote -= 2.0;
        } else if at > 0.6 {
            vote += 2.0;
        }
    }
    // Margins: lines begin at shared left edges and end ragged, or the reverse upside down.
    let tolerance = (median * 0.6).max(2.0);
    let aligned = |edge: &dyn Fn(&Blob) -> f32| -> usize {
        lines
            .iter()
            .filter(|a| {
                lines
                    .iter()
                    .filter(|b| (edge(a) - edge(b)).abs() <= tolerance)
                    .count()
                    >= 3
            })
            .count()
    };
    let starts = aligned(&|b: &Blob| b.x0 as f32);
    let ends = aligned(&|b: &Blob| b.x1 as f32);
    let (more, fewer) = (starts.max(ends) as f32, starts.min(ends) as f32);
    if more >= 3.0 && more >= 1.5 * fewer {
        vote += if starts > ends { -1.0 } else { 1.0 };
    }
    if vote <= -1.0 {
        Some(false)
    } else if vote >= 1.0 {
        Some(true)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imageproc::region_labelling::{Connectivity, connected_components};

    /// The blobs as imageproc's pixel labelling gives them.
    fn labelled(binary: &GrayImage) -> Vec<(u32, u32, u32, u32, u32)> {
        let labels = connected_components(binary, Connectivity::Eight, Luma([0u8]));
        let mut boxes: std::collections::BTreeMap<u32, (u32, u32, u32, u32, u32)> =
            Default::default();
        for (x, y, l) in labels.enumerate_pixels() {
            if l[0] == 0 {
                continue;
            }
            let b = boxes.entry(l[0]).or_insert((x, y, x, y, 0));
            *b = (b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y), b.4 + 1);
        }
        let mut out: Vec<_> = boxes.into_values().filter(|b| b.4 >= 6).collect();
        out.sort_unstable();
        out
    }

    #[test]
    fn blobs_over_runs_are_imageprocs_eight_connected_components() {
        // Noise of every density, so runs touch straight, diagonally and not at all.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for density in [10u64, 35, 50, 65, 90] {
            let binary = GrayImage::from_fn(97, 61, |_, _| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                Luma([if state % 100 < density { 255 } else { 0 }])
            });
            let mut ours: Vec<_> = blobs(&binary)
                .iter()
                .map(|b| (b.x0, b.y0, b.x1, b.y1, b.area))
                .collect();
            ours.sort_unstable();
            assert_eq!(ours, labelled(&binary), "density {density}%");
        }
    }
}
