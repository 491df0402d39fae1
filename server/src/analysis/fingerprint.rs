//! Reused documents: a compact fingerprint of every document image, so that the same diploma (or
//! ID card) uploaded by two candidates is found however it was re-photographed, re-encoded,
//! resized or cropped, while two graduates of one class, whose certificates share the template,
//! the school, the layout and most of the text, are never confused.
//!
//! A fingerprint is two things. The page's look, a 64-bit perceptual hash (DCT, `image_hasher`)
//! of the image as stored (the phone found, flattened and turned the page): re-encoding, resizing
//! and a few percent of crop move it by a few bits, another kind of document by about half.
//! It says "the same kind of page", never "the same document": one template's certificates look
//! alike. And the page's marks, the long numbers printed on it (a certificate's 证书编号, a
//! degree's, a card's citizen number), read by Tesseract: these are what differ between two
//! holders of one template, down to one digit between classmates. Two candidates' images are the
//! same document when they share a mark and look alike; a number carried by many candidates'
//! documents (an employer's code on every staff member's proof) is part of a form, not a mark.
use dossier_core::api::DocumentKind;
use image::RgbImage;
use image_hasher::{HashAlg, HasherConfig};

use super::idcard::{TEXT_HEIGHT, at_height, padded, png};
use super::ocr::{OcrError, Reading, Tesseract};

/// What identifies one document image.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fingerprint {
    /// The page's perceptual hash.
    pub phash: u64,
    /// The long numbers printed on it, as read.
    pub marks: Vec<String>,
}

/// A mark has at least this many digits: certificate numbers have 15-18, a citizen number 18,
/// while dates, phone numbers and postcodes have fewer.
pub const MARK_DIGITS: usize = 12;

/// Two pages whose hashes differ in at most this many of 64 bits look alike.
pub const SAME_LOOK_BITS: u32 = 20;

/// A number on the documents of more candidates than this (besides the one analysed) is printed
/// on a form, not a mark of one document.
pub const FORM_NUMBER_CARRIERS: u32 = 2;

/// Whether two pages look alike (see `SAME_LOOK_BITS`).
pub fn look_alike(a: u64, b: u64) -> bool {
    (a ^ b).count_ones() <= SAME_LOOK_BITS
}

/// Whether two fingerprints show the same document: a mark in common, and the same look.
pub fn same_document(a: &Fingerprint, b: &Fingerprint) -> bool {
    look_alike(a.phash, b.phash) && a.marks.iter().any(|m| b.marks.contains(m))
}

/// The page's perceptual hash (pHash): the low frequencies of its DCT, each above or below
/// their median (the mean would sit near the DC term, which dwarfs the rest: all bits alike).
pub fn phash(page: &RgbImage) -> u64 {
    let hasher = HasherConfig::with_bytes_type::<[u8; 8]>()
        .hash_size(8, 8)
        .hash_alg(HashAlg::Median)
        .preproc_dct()
        .to_hasher();
    let hash = hasher.hash_image(page);
    let bytes: [u8; 8] = hash.as_bytes().try_into().unwrap_or_default();
    u64::from_be_bytes(bytes)
}

/// The fingerprint of a document image that is not an ID card (whose reader takes its own from
/// the card it found). Any kind of page is read alike: `_document` is what its category says.
pub async fn read_document(
    image: Vec<u8>,
    _document: DocumentKind,
    ocr: &Tesseract,
) -> Result<Fingerprint, OcrError> {
    let page = tokio::task::spawn_blocking(move || page_image(image))
        .await
        .map_err(|e| OcrError::Failed(e.to_string()))??;
    let phash = phash(&page);
    let mut marks = marks_of(&page, ocr).await?;
    if marks.is_empty() {
        // A page whose content gave the pipeline no clear answer may lie upside down.
        marks = marks_of(&image::imageops::rotate180(&page), ocr).await?;
    }
    Ok(Fingerprint { phash, marks })
}

/// The marks on `page`: read as a block, then each line that holds many digits read again on
/// its own as a line of digits (which reads them more exactly than the Chinese model inside a
/// block); the line's own reading wins, the block's is kept when it gives none.
async fn marks_of(page: &RgbImage, ocr: &Tesseract) -> Result<Vec<String>, OcrError> {
    let lines = ocr.read(&png(page)?, Reading::Block).await?;
    let (w, h) = page.dimensions();
    let mut marks = Vec::new();
    for line in &lines {
        // Only a line with a long number in it, and only its words that are mostly digits: a
        // date written among characters (1998年11月21日) cut out and read as digits alone comes
        // out as a long false number.
        if longest_run(&line.text()) < 8 {
            marks.extend(marks_in(&line.text()));
            continue;
        }
        let words: Vec<_> = line
            .words
            .iter()
            .filter(|wd| 2 * digits(&wd.text) > wd.text.chars().count())
            .cloned()
            .collect();
        let (x, y, bw, bh) = padded(&words, w, h, 0.5, 0.8);
        let cut = image::imageops::crop_imm(page, x, y, bw, bh).to_image();
        let read = ocr
            .read(&png(&at_height(&cut, TEXT_HEIGHT))?, Reading::DigitLine)
            .await?;
        let exact: Vec<String> = read.iter().flat_map(|l| marks_in(&l.text())).collect();
        if exact.is_empty() {
            marks.extend(marks_in(&line.text()));
        } else {
            marks.extend(exact);
        }
    }
    marks.sort();
    marks.dedup();
    Ok(marks)
}

/// The most digits in a row.
fn longest_run(text: &str) -> usize {
    text.split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0)
}

fn digits(text: &str) -> usize {
    text.chars().filter(char::is_ascii_digit).count()
}

/// The runs of at least `MARK_DIGITS` digits in a line of text (a citizen number's final X
/// kept). Tesseract sometimes splits a long number with spaces: groups of three digits or more
/// either side of a space are closed up, shorter ones not (a date read with its characters lost
/// comes out as "1998 4 11").
pub fn marks_in(text: &str) -> Vec<String> {
    fn end(number: &mut String, marks: &mut Vec<String>) {
        if number.len() >= MARK_DIGITS {
            marks.push(number.clone());
        }
        number.clear();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut marks = Vec::new();
    // The number being read, the digits of its last group, and whether a space followed it.
    let mut number = String::new();
    let mut group = 0usize;
    let mut after_space = false;
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_digit() || (c == 'X' && number.len() == 17) {
            if after_space {
                let next = chars[i..].iter().take_while(|c| c.is_ascii_digit()).count();
                if group < 3 || next < 3 {
                    end(&mut number, &mut marks);
                }
                (group, after_space) = (0, false);
            }
            number.push(c);
            group += 1;
        } else if c == ' ' && !number.is_empty() && !after_space {
            after_space = true;
        } else {
            end(&mut number, &mut marks);
            (group, after_space) = (0, false);
        }
    }
    end(&mut number, &mut marks);
    marks
}

/// The image as stored. Not found and flattened again, unlike an ID card: the candidate's phone
/// did that already (or the candidate kept the whole frame on purpose), and a second search on a
/// page that fills its frame may take a line of text for an edge (seen on a re-encoded copy:
/// the look then moved by 34 bits of 64, more than between two classmates).
fn page_image(image: Vec<u8>) -> Result<RgbImage, OcrError> {
    image::load_from_memory(&image)
        .map(|i| i.to_rgb8())
        .map_err(|e| OcrError::Undecodable(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_long_numbers_closed_up() {
        assert_eq!(
            marks_in("证书编号：100231 2021 05000117"),
            vec!["100231202105000117".to_string()]
        );
        assert_eq!(
            marks_in("公民身份号码 11010519491231002X"),
            vec!["11010519491231002X".to_string()]
        );
        // Dates, phone numbers and a short code are not marks, nor a date whose characters
        // were lost.
        assert!(marks_in("2016.05.12-2036.05.12 电话 13800138000 邮编 100069").is_empty());
        assert!(marks_in("1998 4 7 11 2 1 8 4 7").is_empty());
        assert_eq!(
            marks_in("12345678901234 56"),
            vec!["12345678901234".to_string()]
        );
    }

    #[test]
    fn look_is_close_for_a_copy_and_far_for_another_page() {
        let mut page = RgbImage::from_pixel(800, 560, image::Rgb([240, 236, 225]));
        for y in (60..500).step_by(40) {
            for x in 80..(300 + y) {
                page.put_pixel(x, y, image::Rgb([20, 20, 20]));
                page.put_pixel(x, y + 1, image::Rgb([20, 20, 20]));
            }
        }
        let copy = image::imageops::resize(&page, 600, 420, image::imageops::FilterType::Triangle);
        let other = image::imageops::rotate180(&page);
        assert!(look_alike(phash(&page), phash(&copy)));
        assert!(!look_alike(phash(&page), phash(&other)));
    }
}
