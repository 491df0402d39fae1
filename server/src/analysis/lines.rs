//! PaddleOCR's PP-OCRv4 recognition model (Chinese and Latin, 6,623 characters; Apache-2.0,
//! the ONNX file shipped in the PyPI package `rapidocr-onnxruntime`, installed by
//! `scripts/packages.sh`, see `models/README.md`), run by tract, a pure-Rust runtime: it reads
//! one cut-out line of text. Tesseract still finds the lines and reads the rest; this model reads
//! the name, where Tesseract's Chinese model misread or doubted two cards in three (a name is two
//! to four rare characters with no dictionary to lean on).
//!
//! The model runs on its own thread at the lowest CPU priority, as Tesseract's children do: reading
//! is background work and must take only the cycles the uploads leave.
use std::path::Path;

use image::RgbImage;
use tokio::sync::{mpsc, oneshot};
use tract_onnx::prelude::*;

/// The model's input height; lines are scaled to it.
const HEIGHT: u32 = 48;
/// The model's input width: lines are read as PaddleOCR reads them, scaled to 48 px high and padded
/// on the right to 320 (a wider line is narrowed to fit). A fixed width, because tract cannot
/// plan this model's reshapes for a symbolic one; a name's line is about 150 px wide at this
/// height.
const WIDTH: u32 = 320;

type Plan = std::sync::Arc<TypedSimplePlan>;

/// One line's text and how sure the model is of each character (its softmax peak, 0-1).
#[derive(Debug, Clone, PartialEq)]
pub struct LineText {
    pub chars: Vec<(char, f32)>,
}

impl LineText {
    pub fn text(&self) -> String {
        self.chars.iter().map(|(c, _)| c).collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LineModelError {
    #[error("the line model {path} cannot be loaded: {why}")]
    Load { path: String, why: String },
    #[error("the line model failed: {0}")]
    Failed(String),
}

type Job = (RgbImage, oneshot::Sender<Result<LineText, LineModelError>>);

/// The loaded model, behind its thread. Cloning shares the thread.
#[derive(Clone)]
pub struct LineModel {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for LineModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LineModel")
    }
}

impl LineModel {
    /// Load and optimise the model (about a second), and start its thread.
    pub fn load(path: &Path) -> Result<LineModel, LineModelError> {
        let load_error = |why: String| LineModelError::Load {
            path: path.display().to_string(),
            why,
        };
        let model = tract_onnx::onnx()
            .model_for_path(path)
            .map_err(|e| load_error(e.to_string()))?;
        // The alphabet travels in the model's metadata, one character per line; index 0 of the
        // output is CTC's blank and the last a space.
        let alphabet: Vec<char> = model
            .properties
            .get("onnx.metadata_props.character")
            .and_then(|t| {
                Some(
                    t.try_as_plain_ram()
                        .ok()?
                        .to_scalar::<String>()
                        .ok()?
                        .clone(),
                )
            })
            .map(|s| {
                s.split('\n')
                    .map(|l| l.chars().next().unwrap_or(' '))
                    .collect()
            })
            .ok_or_else(|| load_error("no alphabet in its metadata".into()))?;
        let plan = model
            .with_input_fact(0, f32::fact([1, 3, HEIGHT as usize, WIDTH as usize]).into())
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| load_error(e.to_string()))?;
        let (jobs, mut queue) = mpsc::channel::<Job>(64);
        std::thread::Builder::new()
            .name("line-model".into())
            .spawn(move || {
                // SAFETY: setpriority(2) on this thread only (who = 0 is the calling thread on
                // Linux).
                unsafe {
                    libc::setpriority(libc::PRIO_PROCESS, 0, 19);
                }
                while let Some((line, reply)) = queue.blocking_recv() {
                    let _ = reply.send(read(&plan, &alphabet, &line));
                }
            })
            .map_err(|e| load_error(e.to_string()))?;
        Ok(LineModel { jobs })
    }

    /// The text of `line`: a cut-out line of text with a small margin, any size.
    pub async fn read(&self, line: RgbImage) -> Result<LineText, LineModelError> {
        let (reply, answer) = oneshot::channel();
        // The queue is bounded: a reader waits (asynchronously) while it is full.
        self.jobs
            .send((line, reply))
            .await
            .map_err(|_| LineModelError::Failed("its thread has stopped".into()))?;
        answer
            .await
            .map_err(|_| LineModelError::Failed("its thread has stopped".into()))?
    }
}

/// The part of `cut` that holds its line of text, with a margin: the model reads text that fills
/// most of its 48 px, while a cut made from where a field is printed may be three times as high
/// as its text. The text is the longest run of rows with ink (pixels well darker than the cut's
/// median: dark print on a light card) and, within it, the columns from the first ink to the last.
fn text_of(cut: &RgbImage) -> RgbImage {
    let grey = image::imageops::grayscale(cut);
    let (w, h) = grey.dimensions();
    if w < 4 || h < 4 {
        return cut.clone();
    }
    let mut levels: Vec<u8> = grey.pixels().map(|p| p.0[0]).collect();
    let middle = levels.len() / 2;
    let median = *levels.select_nth_unstable(middle).1;
    let ink = |x: u32, y: u32| grey.get_pixel(x, y).0[0] as i32 + 50 < median as i32;
    let rows: Vec<bool> = (0..h)
        .map(|y| (0..w).filter(|&x| ink(x, y)).count() as u32 * 100 > w)
        .collect();
    // The longest run of inked rows, gaps of a few rows bridged (a character's strokes).
    let gap = (h / 40).max(2) as usize;
    let (mut best, mut run_start, mut last_ink): ((usize, usize), Option<usize>, usize) =
        ((0, 0), None, 0);
    for (y, &inked) in rows.iter().enumerate() {
        if inked {
            match run_start {
                Some(_) if y - last_ink <= gap => {}
                _ => run_start = Some(y),
            }
            last_ink = y;
            let start = run_start.unwrap_or(y);
            if last_ink + 1 - start > best.1 - best.0 {
                best = (start, last_ink + 1);
            }
        }
    }
    let (top, bottom) = (best.0 as u32, best.1 as u32);
    if bottom <= top {
        return cut.clone();
    }
    let inked_cols: Vec<u32> = (0..w)
        .filter(|&x| (top..bottom).any(|y| ink(x, y)))
        .collect();
    let (Some(&left), Some(&right)) = (inked_cols.first(), inked_cols.last()) else {
        return cut.clone();
    };
    let text = bottom - top;
    let (pad_y, pad_x) = (text / 4 + 1, text / 2 + 1);
    let (x0, y0) = (left.saturating_sub(pad_x), top.saturating_sub(pad_y));
    let (x1, y1) = ((right + 1 + pad_x).min(w), (bottom + pad_y).min(h));
    image::imageops::crop_imm(cut, x0, y0, x1 - x0, y1 - y0).to_image()
}

fn read(plan: &Plan, alphabet: &[char], cut: &RgbImage) -> Result<LineText, LineModelError> {
    let failed = |e: TractError| LineModelError::Failed(e.to_string());
    let line = &text_of(cut);
    let (w, h) = line.dimensions();
    let width = ((w as f32 * HEIGHT as f32 / h.max(1) as f32).ceil() as u32).clamp(8, WIDTH);
    let scaled =
        image::imageops::resize(line, width, HEIGHT, image::imageops::FilterType::Triangle);
    // As PaddleOCR feeds it: planes in OpenCV's order (blue, green, red), scaled to -1..1, the
    // padding 0.
    let (wu, hu) = (WIDTH as usize, HEIGHT as usize);
    let mut input = vec![0f32; 3 * hu * wu];
    for (x, y, px) in scaled.enumerate_pixels() {
        for (plane, channel) in [2usize, 1, 0].into_iter().enumerate() {
            input[plane * hu * wu + y as usize * wu + x as usize] =
                px.0[channel] as f32 / 127.5 - 1.0;
        }
    }
    let input = Tensor::from_shape(&[1, 3, hu, wu], &input).map_err(failed)?;
    let out = plan.run(tvec!(input.into())).map_err(failed)?;
    let probs = out[0].to_plain_array_view::<f32>().map_err(failed)?;
    // (1, steps, classes)
    let probs = probs
        .into_dimensionality::<tract_ndarray::Ix3>()
        .map_err(|e| LineModelError::Failed(e.to_string()))?;
    // Greedy CTC: the likeliest class per step, repeats merged, blanks dropped.
    let mut chars = Vec::new();
    let mut last = 0usize;
    for step in probs.index_axis(tract_ndarray::Axis(0), 0).outer_iter() {
        let (best, p) = step
            .iter()
            .enumerate()
            .fold((0, f32::MIN), |a, (i, &p)| if p > a.1 { (i, p) } else { a });
        if best != 0 && best != last {
            let c = alphabet.get(best - 1).copied().unwrap_or(' ');
            chars.push((c, p));
        }
        last = best;
    }
    Ok(LineText { chars })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_of_a_cut_is_its_inked_rows_with_a_margin() {
        // A light card 400 x 150 with one line of dark "text" 30 px high at rows 60-90, columns
        // 100-250, and a speck of dust far above it.
        let mut cut = RgbImage::from_pixel(400, 150, image::Rgb([210, 215, 220]));
        for y in 60..90 {
            for x in (100..250).filter(|x| x % 7 < 4) {
                cut.put_pixel(x, y, image::Rgb([30, 30, 30]));
            }
        }
        cut.put_pixel(300, 5, image::Rgb([0, 0, 0]));
        let text = text_of(&cut);
        // 30 rows and a quarter of that (and a row) above and below; 150 columns and half the
        // height beside.
        assert!((44..=48).contains(&text.height()), "{}", text.height());
        assert!((160..=185).contains(&text.width()), "{}", text.width());
        // A blank cut is read as it is.
        let blank = RgbImage::from_pixel(100, 40, image::Rgb([200, 200, 200]));
        assert_eq!(text_of(&blank).dimensions(), (100, 40));
    }
}
