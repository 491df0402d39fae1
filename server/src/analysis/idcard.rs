//! Reading a resident ID card (居民身份证) off a stored image: the card is found and flattened
//! again by the photo pipeline (a candidate may have kept the whole frame), read by Tesseract as
//! one block of text, and its fields taken from the lines their printed labels start: 姓名 for the
//! name, the line with 18 digits for the number, 签发机关 and 有效期限 on the back. Which side it
//! is follows from the labels found. On the front, PP-OCR's line model (`lines.rs`) then reads
//! the name, and the number where Tesseract's fails, on the lines found and where the card's
//! layout prints them. A field read with low confidence is left unread rather than reported as a
//! difference: a false "mismatch" costs a reviewer more than a "?".
use dossier_core::api::CardSide;
use dossier_core::domain::citizen_number_valid;
use dossier_core::photo::{
    DocumentKind, EncodePolicy, Framing, PhotoSource, PrepareOptions, prepare,
};

use image::RgbImage;

use super::fingerprint::{self, Fingerprint};
use super::lines::{LineModel, LineText};
use super::ocr::{Ocr, OcrError, OcrLine, OcrWord, Reading};

/// What was read off one image, as stored with its analysis.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CardReading {
    pub side: Option<CardSide>,
    /// 18 characters; `check_ok` says whether GB 11643's check character holds.
    pub number: Option<String>,
    #[serde(default)]
    pub check_ok: bool,
    pub name: Option<String>,
    pub authority: Option<String>,
    /// `YYYY-MM-DD`.
    pub valid_from: Option<String>,
    /// `YYYY-MM-DD` or `长期`.
    pub valid_until: Option<String>,
    /// Chinese characters seen anywhere: tells "not a card" from "could not read it".
    #[serde(default)]
    pub cjk_seen: u32,
}

/// Below this confidence (Tesseract's 0-100) a name's character is not trusted: at 60, two of 60
/// generated cards had a name misread with confidence and claimed a mismatch.
const NAME_CONFIDENCE: f32 = 80.0;

/// Below this probability (the line model's softmax peak) a name's character is not trusted.
const NAME_PROBABILITY: f32 = 0.8;

const FRONT_LABELS: [&str; 6] = ["姓名", "性别", "民族", "出生", "住址", "公民身份号码"];
const BACK_LABELS: [&str; 4] = ["中华人民共和国", "居民身份证", "签发机关", "有效期限"];

/// Read the card in `image` (the stored JPEG or PNG): the whole card as a block of text, turned
/// until it reads as a card (a card whose content gave the pipeline no clear answer may lie
/// sideways or upside down); then, on the front, the number's and the name's lines again on
/// their own, where Tesseract reads a single line better than inside a block.
///
/// Its fingerprint (for reused documents) is the card's look and, on the front, its number when
/// the check character holds.
pub async fn read_card(
    image: Vec<u8>,
    engines: &Ocr,
) -> Result<(CardReading, Fingerprint), OcrError> {
    let ocr = &engines.tesseract;
    let card = tokio::task::spawn_blocking(move || card_image(image))
        .await
        .map_err(|e| OcrError::Failed(e.to_string()))??;
    let turns: &[u8] = if card.height() > card.width() {
        &[1, 3, 0, 2]
    } else {
        &[0, 2]
    };
    let mut best: Option<(u32, CardReading, RgbImage, Vec<OcrLine>)> = None;
    for &turn in turns {
        let turned = match turn {
            1 => image::imageops::rotate90(&card),
            2 => image::imageops::rotate180(&card),
            3 => image::imageops::rotate270(&card),
            _ => card.clone(),
        };
        let lines = ocr.read(&png(&turned)?, Reading::Block).await?;
        let reading = parse(&lines);
        let score = score(&lines, &reading);
        let sure = reading.check_ok || reading.side == Some(CardSide::Back);
        if best.as_ref().is_none_or(|b| score > b.0) {
            best = Some((score, reading, turned, lines));
        }
        if sure {
            break;
        }
    }
    let (_, mut reading, mut card, mut lines) = best.expect("at least one turn read");
    if !matches!(reading.side, Some(CardSide::Front | CardSide::Back))
        && let Some(model) = &engines.lines
    {
        // Tesseract saw no card (a texture it reads as noise can hide every label): the line
        // model reads where a front's number is printed, the right way up and upside down.
        for turned in [card.clone(), image::imageops::rotate180(&card)] {
            if let Some(number) = valid_number(model, band(&turned, NUMBER_BAND)).await {
                reading.side = Some(CardSide::Front);
                reading.number = Some(number);
                reading.check_ok = true;
                card = turned;
                lines.clear();
                break;
            }
        }
    }
    if reading.side == Some(CardSide::Front) {
        refine_front(&mut reading, &card, &lines, engines).await?;
    }
    let fingerprint = Fingerprint {
        phash: fingerprint::phash(&card),
        marks: reading
            .number
            .iter()
            .filter(|_| reading.check_ok)
            .cloned()
            .collect(),
    };
    Ok((reading, fingerprint))
}

/// How much a reading looks like a card: labels found, and a number that checks out.
fn score(lines: &[OcrLine], reading: &CardReading) -> u32 {
    let texts: Vec<String> = lines.iter().map(OcrLine::text).collect();
    let labels = FRONT_LABELS
        .iter()
        .chain(BACK_LABELS.iter())
        .filter(|label| texts.iter().any(|t| has_label(t, label)))
        .count() as u32;
    labels + if reading.check_ok { 4 } else { 0 }
}

/// Where a front's fields are printed on the card as flattened (with the pipeline's margin),
/// as fractions of its width and height: left, top, right, bottom.
const NUMBER_BAND: [f32; 4] = [0.3, 0.72, 0.95, 0.89];
const NAME_BAND: [f32; 4] = [0.16, 0.07, 0.6, 0.21];

fn band(card: &RgbImage, [l, t, r, b]: [f32; 4]) -> RgbImage {
    let (w, h) = (card.width() as f32, card.height() as f32);
    let (x, y) = ((l * w) as u32, (t * h) as u32);
    let (bw, bh) = (((r - l) * w) as u32, ((b - t) * h) as u32);
    image::imageops::crop_imm(card, x, y, bw.max(1), bh.max(1)).to_image()
}

/// The citizen number the line model reads in `cut`, when its check character holds (a model
/// failure is no number: Tesseract's reading stands).
async fn valid_number(model: &LineModel, cut: RgbImage) -> Option<String> {
    let text = model.read(cut).await.ok()?.text();
    number_in(&text).filter(|n| citizen_number_valid(n))
}

/// The number and the name read again from their own lines, cut out of the card.
async fn refine_front(
    reading: &mut CardReading,
    card: &RgbImage,
    lines: &[OcrLine],
    engines: &Ocr,
) -> Result<(), OcrError> {
    let ocr = &engines.tesseract;
    let (w, h) = card.dimensions();
    if !reading.check_ok {
        // The digits of the line that held most of them (the label beside them confuses a
        // digits-only reading), else the card's bottom band (where the number is printed:
        // 0.75-0.9 of the card's height, right of 0.3 of its width).
        let digits = |t: &str| t.chars().filter(char::is_ascii_digit).count();
        let line = lines
            .iter()
            .filter(|l| digits(&l.text()) >= 10)
            .max_by_key(|l| digits(&l.text()));
        let around = match line {
            Some(line) => {
                let words: Vec<_> = line
                    .words
                    .iter()
                    .filter(|wd| wd.text.chars().any(|c| c.is_ascii_alphanumeric()))
                    .cloned()
                    .collect();
                padded(&words, w, h, 0.5, 0.8)
            }
            None => (w * 25 / 100, h * 68 / 100, w * 3 / 4, h / 4),
        };
        let cut =
            image::imageops::crop_imm(card, around.0, around.1, around.2, around.3).to_image();
        // The line model first, on the line found and on where the number is printed.
        if let Some(model) = &engines.lines {
            for cut in [cut.clone(), band(card, NUMBER_BAND)] {
                if let Some(number) = valid_number(model, cut).await {
                    reading.number = Some(number);
                    reading.check_ok = true;
                    break;
                }
            }
        }
        // Read at the size Tesseract reads best, then smaller, then as Chinese text (whose
        // model reads some digits the digit-only one drops); the first that checks out wins.
        let attempts = [
            (TEXT_HEIGHT, Reading::DigitLine),
            (TEXT_HEIGHT * 0.6, Reading::DigitLine),
            (TEXT_HEIGHT, Reading::ChineseLine),
        ];
        for (height, how) in attempts {
            if reading.check_ok {
                break;
            }
            let read = ocr.read(&png(&at_height(&cut, height))?, how).await?;
            if let Some(number) = read.iter().find_map(|l| number_in(&l.text()))
                && (citizen_number_valid(&number) || reading.number.is_none())
            {
                reading.check_ok = citizen_number_valid(&number);
                reading.number = Some(number);
            }
        }
    }
    // The name's line: the one labelled 姓名, else the one above 性别/民族.
    let texts: Vec<String> = lines.iter().map(OcrLine::text).collect();
    let below = texts
        .iter()
        .position(|t| has_label(t, "性别") || has_label(t, "民族"));
    let at = texts
        .iter()
        .position(|t| label_at_start(t, "姓名"))
        .or_else(|| below.filter(|&i| i > 0).map(|i| i - 1));
    let line_cut = at.map(|i| &lines[i]).map(|line| {
        // The words after the label (those right of the card's left sixth), before the portrait.
        let words: Vec<_> = line
            .words
            .iter()
            .filter(|wd| wd.left >= w / 6 && wd.left < w * 62 / 100)
            .cloned()
            .collect();
        let (x0, y, bw, bh) = if words.is_empty() {
            padded(&line.words, w, h, 0.4, 0.4)
        } else {
            padded(&words, w, h, 0.4, 0.6)
        };
        image::imageops::crop_imm(card, x0, y, bw, bh).to_image()
    });
    let name = match &engines.lines {
        // The line found and where the name is printed (the line may be missing or cut badly),
        // each read; the surest reading of a name wins.
        Some(model) => {
            let mut best: Option<(String, f32)> = None;
            for cut in line_cut.into_iter().chain([band(card, NAME_BAND)]) {
                match model.read(cut).await {
                    Ok(line) => {
                        if let Some((name, sure)) = name_read(&line)
                            && best.as_ref().is_none_or(|b| sure > b.1)
                        {
                            best = Some((name, sure));
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "the line model failed on a name"),
                }
            }
            best.map(|(name, _)| name)
        }
        None => match line_cut {
            Some(cut) => {
                let read = ocr
                    .read(
                        &png(&at_height(&cut, TEXT_HEIGHT * 1.8))?,
                        Reading::ChineseLine,
                    )
                    .await?;
                read.first().and_then(|l| name_in(l, false))
            }
            None => None,
        },
    };
    if name.is_some() {
        reading.name = name;
    }
    Ok(())
}

/// The box around `words`, widened by `pad` of their height above and below and `side` of it
/// left and right, within the image (Tesseract reads a line with a margin around it best).
pub(super) fn padded(
    words: &[OcrWord],
    w: u32,
    h: u32,
    pad: f32,
    side: f32,
) -> (u32, u32, u32, u32) {
    let x0 = words.iter().map(|wd| wd.left).min().unwrap_or(0);
    let y0 = words.iter().map(|wd| wd.top).min().unwrap_or(0);
    let x1 = words.iter().map(|wd| wd.left + wd.width).max().unwrap_or(w);
    let y1 = words.iter().map(|wd| wd.top + wd.height).max().unwrap_or(h);
    let lh = (y1 - y0.min(y1)).max(8) as f32;
    let (px, py) = ((lh * side) as u32, (lh * pad) as u32);
    let (x0, y0) = (
        x0.saturating_sub(px).min(w - 1),
        y0.saturating_sub(py).min(h - 1),
    );
    let (x1, y1) = ((x1 + px).min(w), (y1 + py).min(h));
    (x0, y0, (x1 - x0.min(x1)).max(1), (y1 - y0.min(y1)).max(1))
}

/// Height of a cut-out line's text for Tesseract, in pixels (its LSTM models read text
/// 30-50 px high best).
pub(super) const TEXT_HEIGHT: f32 = 40.0;

/// `cut` (a line with margins about twice its text's height) scaled so its text is `text` high.
pub(super) fn at_height(cut: &RgbImage, text: f32) -> RgbImage {
    let scale = text * 2.0 / cut.height().max(1) as f32;
    if (0.9..=1.1).contains(&scale) {
        return cut.clone();
    }
    let w = ((cut.width() as f32 * scale).round() as u32).clamp(1, 4000);
    let h = ((cut.height() as f32 * scale).round() as u32).clamp(1, 1000);
    image::imageops::resize(cut, w, h, image::imageops::FilterType::Triangle)
}

pub(super) fn png(image: &RgbImage) -> Result<Vec<u8>, OcrError> {
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| OcrError::Failed(e.to_string()))?;
    Ok(out.into_inner())
}

/// The card found, flattened and turned upright, at a size Tesseract reads well (the number's
/// digits ~40-50 px high); the image as stored when no card outline is found (a candidate's
/// prepared photo usually is the card already).
fn card_image(image: Vec<u8>) -> Result<RgbImage, OcrError> {
    let options = PrepareOptions {
        budget_bytes: 2_000_000,
        policy: EncodePolicy {
            long_edge: 1600,
            max_quality: 92,
            min_quality: 35,
            min_long_edge: 640,
        },
        document: DocumentKind::IdCard,
        framing: Framing::FindPage,
        turn_by_content: true,
    };
    let bytes = match prepare(PhotoSource::Bytes(&image), &options) {
        Ok(prepared) => prepared.jpeg,
        Err(_) => image,
    };
    image::load_from_memory(&bytes)
        .map(|i| i.to_rgb8())
        .map_err(|e| OcrError::Undecodable(e.to_string()))
}

/// The card's fields from Tesseract's lines.
pub fn parse(lines: &[OcrLine]) -> CardReading {
    let texts: Vec<String> = lines.iter().map(OcrLine::text).collect();
    let mut reading = CardReading {
        cjk_seen: texts
            .iter()
            .flat_map(|t| t.chars())
            .filter(|c| is_cjk(*c))
            .count() as u32,
        ..CardReading::default()
    };
    // The number: 17 digits and a check character on one line, confusable letters mended.
    let mut numbers: Vec<String> = texts.iter().filter_map(|t| number_in(t)).collect();
    numbers.sort_by_key(|n| !citizen_number_valid(n));
    if let Some(number) = numbers.into_iter().next() {
        reading.check_ok = citizen_number_valid(&number);
        reading.number = Some(number);
    }
    for (line, text) in lines.iter().zip(&texts) {
        if reading.name.is_none() && label_at_start(text, "姓名") {
            reading.name = name_in(line, true);
        }
        if reading.authority.is_none() && has_label(text, "签发机关") {
            let value: String = after_label(text, "签发机关")
                .chars()
                .filter(|c| is_cjk(*c))
                .collect();
            reading.authority = (value.chars().count() >= 3).then_some(value);
        }
        if reading.valid_until.is_none() && has_label(text, "有效期限") {
            let (from, until) = validity_in(text);
            reading.valid_from = from;
            reading.valid_until = until;
        }
    }
    let score = |labels: &[&str]| {
        labels
            .iter()
            .filter(|label| texts.iter().any(|t| has_label(t, label)))
            .count()
    };
    let (front, back) = (score(&FRONT_LABELS), score(&BACK_LABELS));
    reading.side = if reading.check_ok || (front > back && front >= 2) {
        Some(CardSide::Front)
    } else if back > front && back >= 2 {
        Some(CardSide::Back)
    } else {
        Some(CardSide::Unknown)
    };
    reading
}

fn is_cjk(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
}

/// Whether `text` carries the label: whole, or any two of its characters in a row (Tesseract
/// often misreads one character of a label, rarely two neighbours).
fn has_label(text: &str, label: &str) -> bool {
    let chars: Vec<char> = label.chars().collect();
    text.contains(label)
        || (chars.len() > 2
            && chars
                .windows(2)
                .any(|pair| text.contains(&pair.iter().collect::<String>())))
}

fn label_at_start(text: &str, label: &str) -> bool {
    let head: String = text.chars().filter(|c| is_cjk(*c)).take(3).collect();
    head.contains(label)
}

/// The text after the label (or after what was read of it).
fn after_label<'a>(text: &'a str, label: &str) -> &'a str {
    if let Some(i) = text.find(label) {
        return &text[i + label.len()..];
    }
    // A label read in part: after its last character found near the start.
    let last = label.chars().last().unwrap_or(' ');
    match text.char_indices().take(6).find(|(_, c)| *c == last) {
        Some((i, c)) => &text[i + c.len_utf8()..],
        None => text,
    }
}

/// The 18-character number on a line, with letters Tesseract confuses with digits mended; the
/// run must be exactly 18 long (a longer run is not a number on its own).
fn number_in(text: &str) -> Option<String> {
    let mended: String = text
        .chars()
        .map(|c| match c {
            'O' | 'o' | 'D' | 'Q' => '0',
            'I' | 'l' | '|' | 'i' | '!' => '1',
            'Z' | 'z' => '2',
            'S' | 's' => '5',
            'B' => '8',
            'x' | '×' => 'X',
            other => other,
        })
        .collect();
    let mut runs: Vec<String> = Vec::new();
    let mut run = String::new();
    for c in mended.chars() {
        if c.is_ascii_digit() || c == 'X' {
            run.push(c);
        } else if !run.is_empty() {
            runs.push(std::mem::take(&mut run));
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs.into_iter()
        .find(|r| r.len() == 18 && r[..17].bytes().all(|b| b.is_ascii_digit()))
}

/// The name on its line (after the 姓名 label when `labelled`), when every character of it was
/// read confidently.
fn name_in(line: &OcrLine, labelled: bool) -> Option<String> {
    let mut name = String::new();
    let mut label_left = if labelled { "姓名" } else { "" }.to_string();
    for word in &line.words {
        let mut text: String = word
            .text
            .chars()
            .filter(|c| is_cjk(*c) || *c == '·')
            .collect();
        // Drop the label's characters at the start of the line.
        while let Some(first) = text.chars().next() {
            if label_left.starts_with(first) && name.is_empty() {
                label_left = label_left.chars().skip(1).collect();
                text = text.chars().skip(1).collect();
            } else {
                break;
            }
        }
        if text.is_empty() {
            continue;
        }
        if word.confidence < NAME_CONFIDENCE {
            return None;
        }
        name.push_str(&text);
    }
    let n = name.chars().count();
    (2..=20).contains(&n).then_some(name)
}

/// The name in a line the line model read (the label's characters dropped from its start), when
/// every character of it was read confidently, and how sure the model was of its least sure one.
fn name_read(line: &LineText) -> Option<(String, f32)> {
    let mut chars: Vec<(char, f32)> = line
        .chars
        .iter()
        .copied()
        .filter(|(c, _)| is_cjk(*c) || *c == '·')
        .collect();
    let label: Vec<char> = "姓名".chars().collect();
    let mut at = 0;
    while chars.first().is_some_and(|(c, _)| label.get(at) == Some(c)) {
        chars.remove(0);
        at += 1;
    }
    if chars.iter().any(|(_, p)| *p < NAME_PROBABILITY) {
        return None;
    }
    let name: String = chars.iter().map(|(c, _)| c).collect();
    let sure = chars.iter().map(|(_, p)| *p).fold(1.0, f32::min);
    (2..=20).contains(&chars.len()).then_some((name, sure))
}

/// The validity on the back: `YYYY.MM.DD-YYYY.MM.DD` or `YYYY.MM.DD-长期`.
fn validity_in(text: &str) -> (Option<String>, Option<String>) {
    let digits: String = after_label(text, "有效期限")
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let date = |d: &str| -> Option<String> {
        let (y, m, day) = (
            d[..4].parse::<u32>().ok()?,
            d[4..6].parse::<u32>().ok()?,
            d[6..8].parse::<u32>().ok()?,
        );
        ((1950..=2100).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&day))
            .then(|| format!("{y:04}-{m:02}-{day:02}"))
    };
    let from = (digits.len() >= 8).then(|| date(&digits[..8])).flatten();
    let until = if text.contains("长期") || text.contains("长") && digits.len() == 8 {
        Some("长期".to_string())
    } else if digits.len() >= 16 {
        date(&digits[8..16])
    } else {
        None
    };
    (from, until)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::ocr::OcrWord;

    fn line(words: &[(&str, f32)]) -> OcrLine {
        OcrLine {
            words: words
                .iter()
                .map(|&(text, confidence)| OcrWord {
                    text: text.into(),
                    confidence,
                    left: 0,
                    top: 0,
                    width: 10,
                    height: 10,
                })
                .collect(),
        }
    }

    #[test]
    fn the_front_is_read_field_by_field() {
        let lines = [
            line(&[("姓名", 90.0), ("赵", 95.0), ("敏", 93.0)]),
            line(&[("性别", 90.0), ("女", 90.0), ("民族", 90.0), ("汉", 90.0)]),
            line(&[
                ("公民", 96.0),
                ("身份", 95.0),
                ("号码", 93.0),
                ("11010519491231002X", 88.0),
            ]),
        ];
        let r = parse(&lines);
        assert_eq!(r.side, Some(CardSide::Front));
        assert_eq!(r.name.as_deref(), Some("赵敏"));
        assert_eq!(r.number.as_deref(), Some("11010519491231002X"));
        assert!(r.check_ok);
    }

    #[test]
    fn a_doubtful_name_is_not_read_and_letters_in_the_number_are_mended() {
        let lines = [
            line(&[("姓名", 70.0), ("，”", 0.0), ("杨", 80.0), ("符", 0.0)]),
            line(&[("公民身份号码", 90.0), ("44O524188OO1O1OO14", 60.0)]),
            line(&[("出生", 90.0)]),
        ];
        let r = parse(&lines);
        assert_eq!(
            r.name, None,
            "a character read at confidence 0 is not a name"
        );
        assert_eq!(r.number.as_deref(), Some("440524188001010014"));
        assert!(r.check_ok);
    }

    #[test]
    fn the_back_gives_authority_and_validity() {
        let lines = [
            line(&[("中华人民共和国", 90.0)]),
            line(&[("居民身份证", 90.0)]),
            line(&[("签发机关", 90.0), ("上海市公安局", 90.0)]),
            line(&[("有效期限", 90.0), ("2016.05.12-2036.05.12", 90.0)]),
        ];
        let r = parse(&lines);
        assert_eq!(r.side, Some(CardSide::Back));
        assert_eq!(r.authority.as_deref(), Some("上海市公安局"));
        assert_eq!(r.valid_from.as_deref(), Some("2016-05-12"));
        assert_eq!(r.valid_until.as_deref(), Some("2036-05-12"));
        let long = parse(&[
            line(&[("签发机关", 90.0), ("广州市公安局", 90.0)]),
            line(&[("有效期限", 90.0), ("2019.03.01-长期", 90.0)]),
        ]);
        assert_eq!(long.valid_until.as_deref(), Some("长期"));
    }

    #[test]
    fn other_text_is_no_side() {
        let r = parse(&[
            line(&[("毕业证书", 90.0)]),
            line(&[("学生王芳，性别女", 90.0)]),
        ]);
        assert_eq!(r.side, Some(CardSide::Unknown));
        assert_eq!(r.number, None);
    }

    fn model_read(chars: &[(char, f32)]) -> LineText {
        LineText {
            chars: chars.to_vec(),
        }
    }

    #[test]
    fn a_name_read_by_the_line_model_loses_its_label_and_keeps_its_doubt() {
        let read = name_read(&model_read(&[
            ('姓', 0.99),
            ('名', 0.98),
            ('欧', 0.97),
            ('阳', 0.95),
            ('·', 0.9),
            ('娜', 0.93),
        ]))
        .expect("a name");
        assert_eq!(read.0, "欧阳·娜");
        assert!((read.1 - 0.9).abs() < 1e-6, "the least sure character");
        // One doubtful character: unread, never a guess to hold against the roster.
        assert_eq!(
            name_read(&model_read(&[('杜', 0.99), ('诚', 0.51), ('波', 0.86)])),
            None
        );
        // Digits and Latin letters around it are not part of it; one character is no name.
        assert_eq!(
            name_read(&model_read(&[('1', 0.99), ('周', 0.99), ('A', 0.99)])),
            None
        );
    }
}
