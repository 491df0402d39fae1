//! Reading a resident ID card (居民身份证) off a stored image: the card is found and flattened
//! again by the photo pipeline (a candidate may have kept the whole frame), read by Tesseract as
//! one block of text, and its fields taken from the lines their printed labels start: 姓名 for the
//! name, the line with 18 digits for the number, 签发机关 and 有效期限 on the back. Which side it
//! is follows from the labels found. A field read with low confidence is left unread rather than
//! reported as a difference: a false "mismatch" costs a reviewer more than a "?".
use dossier_core::api::CardSide;
use dossier_core::domain::citizen_number_valid;
use dossier_core::photo::{
    DocumentKind, EncodePolicy, Framing, PhotoSource, PrepareOptions, prepare,
};

use super::ocr::{OcrError, OcrLine, Tesseract};

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

/// Below this confidence (Tesseract's 0-100) a name's character is not trusted.
const NAME_CONFIDENCE: f32 = 60.0;

const FRONT_LABELS: [&str; 6] = ["姓名", "性别", "民族", "出生", "住址", "公民身份号码"];
const BACK_LABELS: [&str; 4] = ["中华人民共和国", "居民身份证", "签发机关", "有效期限"];

/// Read the card in `image` (the stored JPEG or PNG).
pub async fn read_card(image: Vec<u8>, ocr: &Tesseract) -> Result<CardReading, OcrError> {
    let card = tokio::task::spawn_blocking(move || card_image(image))
        .await
        .map_err(|e| OcrError::Failed(e.to_string()))?;
    let lines = ocr.read(&card).await?;
    Ok(parse(&lines))
}

/// The card found, flattened and turned upright, at a size Tesseract reads well (the number's
/// digits ~40-50 px high); the image as stored when no card outline is found (a candidate's
/// prepared photo usually is the card already) or it cannot be decoded again.
fn card_image(image: Vec<u8>) -> Vec<u8> {
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
    match prepare(PhotoSource::Bytes(&image), &options) {
        Ok(prepared) => prepared.jpeg,
        Err(_) => image,
    }
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
            reading.name = name_in(line);
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

/// The name after the 姓名 label, when every character of it was read confidently.
fn name_in(line: &OcrLine) -> Option<String> {
    let mut name = String::new();
    let mut label_left = "姓名".to_string();
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
}
