//! Tesseract, run as a child process per image: the image goes in on stdin, the words come back as
//! TSV (text, box, confidence). A child, not a linked library, so a crash or a hang of the C++
//! engine on a hostile image costs one job (killed at its deadline), never the server; and the
//! build needs no libclang for bindings. One OpenMP thread per child: the worker pool, not
//! Tesseract, decides how many cores analysis uses.
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// One line of text as Tesseract laid it out.
#[derive(Debug, Clone, PartialEq)]
pub struct OcrLine {
    pub words: Vec<OcrWord>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OcrWord {
    pub text: String,
    /// 0-100, Tesseract's own.
    pub confidence: f32,
    /// The word's box, in pixels of the image read.
    pub left: u32,
    pub top: u32,
    pub width: u32,
    pub height: u32,
}

impl OcrLine {
    /// The line's text without the spaces Tesseract puts between CJK characters.
    pub fn text(&self) -> String {
        self.words.iter().map(|w| w.text.as_str()).collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    #[error(
        "tesseract could not be started ({0}); install tesseract-ocr and tesseract-ocr-chi-sim"
    )]
    Missing(String),
    #[error("tesseract took longer than {0:?}")]
    Timeout(Duration),
    #[error("tesseract failed: {0}")]
    Failed(String),
    #[error("the image cannot be decoded: {0}")]
    Undecodable(String),
}

/// What to read an image as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// A block of Chinese text with digits (a whole card).
    Block,
    /// One line of Chinese (a name).
    ChineseLine,
    /// One line of digits (a citizen number).
    DigitLine,
}

/// The engines a reading uses: Tesseract finds the lines and reads most of them; PP-OCR's line
/// model, when installed, reads the lines Tesseract reads worst (a card's name).
#[derive(Debug, Clone)]
pub struct Ocr {
    pub tesseract: Tesseract,
    pub lines: Option<super::lines::LineModel>,
}

#[derive(Debug, Clone)]
pub struct Tesseract {
    pub program: String,
    pub timeout: Duration,
    /// Awaited before each run: a deadline's rush goes first (`ops::traffic`).
    pub step_aside: crate::ops::StepAside,
}

impl Tesseract {
    /// Whether the engine and its Chinese model are installed (checked once at start-up).
    pub fn available(&self) -> Result<(), OcrError> {
        let out = std::process::Command::new(&self.program)
            .arg("--list-langs")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| OcrError::Missing(e.to_string()))?;
        // Tesseract 4 printed the list to stderr.
        let langs = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !langs.lines().any(|l| l.trim() == "chi_sim") {
            return Err(OcrError::Missing(
                "its chi_sim model is not installed".into(),
            ));
        }
        Ok(())
    }

    /// The lines of text in `image` (JPEG or PNG bytes), read as `how` says.
    pub async fn read(&self, image: &[u8], how: Reading) -> Result<Vec<OcrLine>, OcrError> {
        let args: &[&str] = match how {
            // Simplified Chinese with Latin digits, as one block of text (page segmentation 6).
            Reading::Block => &["-l", "chi_sim", "--psm", "6"],
            Reading::ChineseLine => &["-l", "chi_sim", "--psm", "7"],
            // A line of digits (and the X a citizen number may end with), nothing else.
            Reading::DigitLine => &[
                "-l",
                "eng",
                "--psm",
                "7",
                "-c",
                "tessedit_char_whitelist=0123456789X",
            ],
        };
        // A job waiting here keeps its lease (`Analyser::tick` takes no more meanwhile).
        self.step_aside.wait().await;
        let mut command = Command::new(&self.program);
        command
            .args(["stdin", "stdout"])
            .args(args)
            .arg("tsv")
            .env("OMP_THREAD_LIMIT", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // The lowest CPU priority: reading is background work, and on a machine busy with the
        // deadline's uploads it takes only the cycles they leave (`docs/deadline-rush.md`).
        // SAFETY: between fork and exec only setpriority(2) runs, which is async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                libc::setpriority(libc::PRIO_PROCESS, 0, 19);
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .map_err(|e| OcrError::Missing(e.to_string()))?;
        let mut stdin = child.stdin.take().expect("piped");
        let bytes = image.to_vec();
        let work = async move {
            // Written while the output is read, so a full pipe cannot stall either side.
            let writer = async move {
                let _ = stdin.write_all(&bytes).await;
                drop(stdin);
            };
            let (_, out) = tokio::join!(writer, child.wait_with_output());
            out
        };
        let out = tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| OcrError::Timeout(self.timeout))?
            .map_err(|e| OcrError::Failed(e.to_string()))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(OcrError::Failed(
                err.lines().last().unwrap_or("").to_string(),
            ));
        }
        Ok(parse_tsv(&String::from_utf8_lossy(&out.stdout)))
    }
}

/// Tesseract's TSV: one row per word (level 5) with its block, paragraph and line numbers.
pub fn parse_tsv(tsv: &str) -> Vec<OcrLine> {
    let mut lines: Vec<((u32, u32, u32), OcrLine)> = Vec::new();
    for row in tsv.lines().skip(1) {
        let f: Vec<&str> = row.split('\t').collect();
        if f.len() < 12 || f[0] != "5" {
            continue;
        }
        let text = f[11].trim();
        if text.is_empty() {
            continue;
        }
        let num = |i: usize| f[i].parse::<u32>().unwrap_or(0);
        let key = (num(2), num(3), num(4));
        let word = OcrWord {
            text: text.to_string(),
            confidence: f[10].parse().unwrap_or(0.0),
            left: num(6),
            top: num(7),
            width: num(8),
            height: num(9),
        };
        match lines.last_mut() {
            Some((k, line)) if *k == key => line.words.push(word),
            _ => lines.push((key, OcrLine { words: vec![word] })),
        }
    }
    lines.into_iter().map(|(_, l)| l).collect()
}
