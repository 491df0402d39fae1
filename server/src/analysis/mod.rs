//! Reviewer assistance: every stored document image is read in the background (never on the
//! upload's path). An ID card's fields are held against the candidate's registration when a
//! reviewer or the candidate looks at it; every document's fingerprint is compared with the
//! district's others, so a document uploaded by two candidates shows on both dossiers. Advice
//! beside the image: nothing here refuses or approves anything.
//!
//! The jobs live in the database (`storage::analysis`), so a restart resumes them; a bounded pool
//! (at most `workers` at a time, by default one less than the cores) takes them with a lease,
//! reads each image with Tesseract (`ocr`) and keeps what it read (`idcard::CardReading`,
//! `fingerprint::Fingerprint`). The comparison with the roster (`findings`) is made when the
//! image is shown, so a corrected roster is compared afresh; a reuse is found when the later of
//! the two images is read, and kept.
pub mod fingerprint;
pub mod idcard;
pub mod lines;
pub mod ocr;

use std::sync::Arc;
use std::time::{Duration, Instant};

use dossier_core::api::{
    AnalysisState, CardSide, DocumentKind, ImageFindings, ReusedIn, RosterMatch, UnreadReason,
};
use dossier_core::domain;
use time::{Date, OffsetDateTime, UtcOffset};
use tokio::task::JoinSet;

use crate::ops::metrics::OutcomeLabels;
use crate::ops::{Metrics, StepAside, UploadTraffic, background};
use crate::storage::analysis::{self, AnalysisJob, AnalysisRow};
use crate::storage::review::Scope;
use crate::storage::{BlobStore, Db, StorageError};
use fingerprint::Fingerprint;
use idcard::CardReading;
use lines::LineModel;
use ocr::{Ocr, Tesseract};
use std::path::Path;

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct AnalysisSettings {
    /// Read ID-card images in the background. Off by itself (with a warning at start-up) when
    /// Tesseract or its Chinese model is missing; the server serves either way.
    pub enabled: bool,
    /// Images read at a time; 0: one less than the cores, at least one.
    pub workers: usize,
    /// The Tesseract program.
    pub tesseract: String,
    /// One image's reading is killed after this long (and tried again later).
    pub timeout_secs: u64,
    /// Tries before giving up on an image.
    pub attempts: u32,
    pub poll_interval_ms: u64,
    /// While uploads crowd the server (more in flight than twice the cores), the readers wait
    /// between steps until uploads have been quiet this long; 0: they never wait
    /// (`ops::traffic`, `docs/deadline-rush.md`).
    pub rush_quiet_secs: u64,
    /// PP-OCR's line model (`models/README.md`), which reads names; empty: names are read by
    /// Tesseract alone (a third of them instead of nineteen in twenty).
    pub line_model: String,
    /// The exam's first day (`YYYY-MM-DD`): a card whose validity ends before it is a finding.
    /// Unset: today.
    pub exam_date: Option<String>,
}

impl Default for AnalysisSettings {
    fn default() -> Self {
        AnalysisSettings {
            enabled: true,
            workers: 0,
            tesseract: "tesseract".into(),
            timeout_secs: 60,
            attempts: 3,
            poll_interval_ms: 500,
            rush_quiet_secs: 2,
            line_model: "models/ch_PP-OCRv4_rec_infer.onnx".into(),
            exam_date: None,
        }
    }
}

impl AnalysisSettings {
    pub fn workers(&self) -> usize {
        if self.workers > 0 {
            return self.workers;
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        cores.saturating_sub(1).max(1)
    }

    pub fn tesseract(&self) -> Tesseract {
        Tesseract {
            program: self.tesseract.clone(),
            timeout: Duration::from_secs(self.timeout_secs.max(1)),
            step_aside: StepAside::default(),
        }
    }

    /// The engines, the line model loaded when it is installed (a warning when it is not).
    pub fn ocr(&self) -> Ocr {
        let lines = match self.line_model.as_str() {
            "" => None,
            path => match LineModel::load(Path::new(path)) {
                Ok(model) => Some(model),
                Err(e) => {
                    tracing::warn!(error = %e, "names are read by Tesseract alone (scripts/packages.sh's install_line_model installs the model)");
                    None
                }
            },
        };
        Ocr {
            tesseract: self.tesseract(),
            lines,
        }
    }

    /// Whether analysis runs: enabled and Tesseract with its Chinese model found.
    pub fn active(&self) -> bool {
        if !self.enabled {
            return false;
        }
        match self.tesseract().available() {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "ID-card analysis is off");
                false
            }
        }
    }
}

/// What the views need to show findings: whether analysis runs, and the exam's first day.
#[derive(Debug, Clone, Default)]
pub struct Advice {
    pub on: bool,
    pub exam_date: Option<Date>,
}

impl Advice {
    pub fn new(settings: &AnalysisSettings, on: bool) -> Advice {
        let exam_date = settings.exam_date.as_deref().and_then(parse_day);
        if settings.exam_date.is_some() && exam_date.is_none() {
            tracing::warn!(
                exam_date = settings.exam_date.as_deref().unwrap_or(""),
                "analysis.exam_date is not a YYYY-MM-DD date; cards are judged against today"
            );
        }
        Advice { on, exam_date }
    }

    /// The day a card must still be valid on: the exam's, else today in Beijing.
    pub fn exam_day(&self) -> Date {
        self.exam_date.unwrap_or_else(|| {
            // Unset (or not a date: `AppState::open` warned): today in Beijing.
            OffsetDateTime::now_utc()
                .to_offset(UtcOffset::from_hms(8, 0, 0).expect("UTC+8"))
                .date()
        })
    }

    /// Each image's findings set in `views` (the images of one category showing `document`):
    /// an ID card's reading against `roster`; with `reuse` (a reviewer's scope), the dossiers
    /// within it holding the same document. Other documents show findings only for a reuse.
    pub fn annotate(
        &self,
        conn: &crate::storage::sql::Conn,
        views: &mut [dossier_core::api::ImageView],
        document: DocumentKind,
        roster: &Roster<'_>,
        reuse: Option<&Scope>,
    ) -> Result<(), StorageError> {
        let ids: Vec<uuid::Uuid> = views.iter().map(|v| v.id).collect();
        let rows = analysis::of_images(conn, &ids)?;
        let mut reused = match reuse {
            Some(scope) => {
                analysis::reused_of(conn, &ids, &scope.district, scope.exam_site.as_deref())?
            }
            None => Default::default(),
        };
        for view in views {
            let mut found = match document {
                DocumentKind::IdCard => findings(rows.get(&view.id), view.slot, roster, self.on),
                _ => None,
            };
            if let Some(others) = reused.remove(&view.id) {
                let f = found.get_or_insert_with(|| ImageFindings::of(AnalysisState::Done));
                f.reused_in = others
                    .into_iter()
                    .map(|o| ReusedIn {
                        candidate_id: o.candidate,
                        name: o.name,
                        exam_site: o.exam_site,
                        category: o.category,
                        image_id: o.image,
                    })
                    .collect();
            }
            view.findings = found;
        }
        Ok(())
    }
}

fn parse_day(text: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, &format).ok()
}

/// The background readers.
#[derive(Clone)]
pub struct Analyser {
    db: Db,
    blobs: BlobStore,
    settings: Arc<AnalysisSettings>,
    metrics: Arc<Metrics>,
    ocr: Ocr,
    advice: Advice,
    /// Waits while uploads crowd the server, before a job is taken and before each Tesseract
    /// run (the reading's CPU).
    step_aside: StepAside,
}

impl Analyser {
    pub fn new(
        db: Db,
        blobs: BlobStore,
        settings: AnalysisSettings,
        advice: Advice,
        metrics: Arc<Metrics>,
        uploads: Arc<UploadTraffic>,
    ) -> Analyser {
        let step_aside =
            StepAside::for_uploads(uploads, Duration::from_secs(settings.rush_quiet_secs));
        Analyser {
            step_aside,
            // The line model is loaded when the readers start (`spawn`).
            ocr: Ocr {
                tesseract: settings.tesseract(),
                lines: None,
            },
            advice,
            db,
            blobs,
            settings: Arc::new(settings),
            metrics,
        }
    }

    /// Run until the task is dropped.
    pub fn spawn(mut self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            // Loading and planning the line model takes about a second of a core: not on the
            // runtime's threads, and not before the server listens.
            let settings = self.settings.clone();
            if let Ok(ocr) = tokio::task::spawn_blocking(move || settings.ocr()).await {
                self.ocr = ocr;
            }
            self.ocr.tesseract.step_aside = self.step_aside.clone();
            let idle = Duration::from_millis(self.settings.poll_interval_ms.max(10));
            background::poll_forever(idle, "analysis", || self.tick()).await
        })
    }

    /// Take up to `workers` due jobs and read them side by side. Returns how many were taken.
    pub async fn tick(&self) -> Result<usize, StorageError> {
        let now = OffsetDateTime::now_utc();
        // The lease outlives a reading killed at its deadline, so no job runs twice at once.
        let lease =
            now + time::Duration::seconds(2 * self.settings.timeout_secs.max(1) as i64 + 30);
        let limit = self.settings.workers();
        self.step_aside.wait().await;
        if !self.db.read(move |c| analysis::any_due(c, now)).await? {
            return Ok(0);
        }
        let jobs = self
            .db
            .write(move |tx| analysis::claim_due(tx, now, lease, limit))
            .await?;
        let taken = jobs.len();
        let mut tasks = JoinSet::new();
        for job in jobs {
            let me = self.clone();
            tasks.spawn(async move { me.analyse(job).await });
        }
        background::join_all(tasks).await.map(|()| taken)
    }

    async fn analyse(&self, job: AnalysisJob) -> Result<(), StorageError> {
        let started = Instant::now();
        let image = job.image;
        let bytes = match self.blobs.read(&job.sha256).await {
            Ok(bytes) => bytes,
            Err(StorageError::NotFound) => {
                // Nothing to read, ever: the blob went with its image.
                let now = OffsetDateTime::now_utc();
                return self
                    .db
                    .write(move |tx| {
                        analysis::give_up(tx, image, "the image's bytes are gone", now)
                    })
                    .await;
            }
            Err(e) => return Err(e),
        };
        let outcome = match job.document {
            DocumentKind::IdCard => idcard::read_card(bytes, &self.ocr)
                .await
                .map(|(card, print)| (Some(card), print)),
            other => fingerprint::read_document(bytes, other, &self.ocr.tesseract)
                .await
                .map(|print| (None, print)),
        };
        let now = OffsetDateTime::now_utc();
        let label = match outcome {
            Ok((card, print)) => {
                if let Some(card) = &card {
                    self.count_findings(card);
                }
                let json = match &card {
                    Some(card) => serde_json::to_string(card)
                        .map_err(|e| StorageError::Malformed(e.to_string()))?,
                    None => "{}".to_string(),
                };
                let exam_day = self.advice.exam_day();
                let reused = self
                    .db
                    .write(move |tx| {
                        // Flagged against the roster as it is now, for the queue's filter; what
                        // a reviewer sees is compared afresh when shown.
                        let flagged = match card {
                            Some(_) => {
                                let (slot, name, id_number) = analysis::roster_of(tx, image)?;
                                let row = AnalysisRow {
                                    state: "done".into(),
                                    reading_json: Some(json.clone()),
                                };
                                let roster = Roster {
                                    name: &name,
                                    id_number: &id_number,
                                    whole_numbers: false,
                                    exam_day,
                                };
                                findings(Some(&row), slot, &roster, true)
                                    .is_some_and(|f| f.is_finding())
                            }
                            None => false,
                        };
                        analysis::finish(tx, image, &json, flagged, print.phash, now)?;
                        record_reuse(tx, image, &print, now)
                    })
                    .await?;
                if reused > 0 {
                    self.metrics
                        .analysis_findings
                        .get_or_create(&OutcomeLabels {
                            outcome: "reused".into(),
                        })
                        .inc();
                }
                "done"
            }
            Err(e) => {
                let error = e.to_string();
                tracing::warn!(image = %image, attempt = job.attempts, error = %error, "analysis failed");
                if job.attempts >= self.settings.attempts.max(1) {
                    self.db
                        .write(move |tx| analysis::give_up(tx, image, &error, now))
                        .await?;
                    "failed"
                } else {
                    // 30 s, 60 s, 120 s, ...: a missing engine or a busy machine gets time.
                    let wait = 30i64 << job.attempts.saturating_sub(1).min(8);
                    let due = now + time::Duration::seconds(wait);
                    self.db
                        .write(move |tx| analysis::retry(tx, image, &error, due))
                        .await?;
                    "retry"
                }
            }
        };
        self.metrics
            .analysis_seconds
            .get_or_create(&OutcomeLabels {
                outcome: label.into(),
            })
            .observe(started.elapsed().as_secs_f64());
        Ok(())
    }

    fn count_findings(&self, reading: &CardReading) {
        let count = |what: &str| {
            self.metrics
                .analysis_findings
                .get_or_create(&OutcomeLabels {
                    outcome: what.into(),
                })
                .inc();
        };
        count(match reading.side {
            Some(CardSide::Front) => "side_front",
            Some(CardSide::Back) => "side_back",
            _ => "side_unknown",
        });
        if reading.number.is_some() {
            count(if reading.check_ok {
                "number"
            } else {
                "bad_check_character"
            });
        }
        if reading.name.is_some() {
            count("name");
        }
    }
}

/// Keep the marks of `image` and pair it with the other candidates' images showing the same
/// document: sharing a mark that is no form's number, and looking alike. Returns the pairs made.
fn record_reuse(
    tx: &crate::storage::sql::Conn,
    image: uuid::Uuid,
    print: &Fingerprint,
    now: OffsetDateTime,
) -> Result<usize, StorageError> {
    let mut paired = 0;
    for other in analysis::record_marks(tx, image, &print.marks)? {
        let alike = other
            .phash
            .is_some_and(|h| fingerprint::look_alike(h, print.phash));
        if alike && other.carriers <= fingerprint::FORM_NUMBER_CARRIERS {
            analysis::pair_reused(tx, image, other.image, &other.mark, now)?;
            paired += 1;
        }
    }
    Ok(paired)
}

/// What the roster says about the candidate, and how much of the number the viewer may see.
pub struct Roster<'a> {
    pub name: &'a str,
    pub id_number: &'a str,
    /// Administrators see the whole number read; reviewers and the candidate a masked one.
    pub whole_numbers: bool,
    pub exam_day: Date,
}

/// The findings shown beside an ID-card image in `slot` (0: front, 1: back), from its analysis.
/// None when there is nothing to show: no analysis (not an ID-card image), or one still waiting
/// while analysis is off.
pub fn findings(
    row: Option<&AnalysisRow>,
    slot: u32,
    roster: &Roster<'_>,
    analysis_on: bool,
) -> Option<ImageFindings> {
    let row = row?;
    let empty = ImageFindings::of;
    let reading: CardReading = match (row.state.as_str(), &row.reading_json) {
        ("done", Some(json)) => serde_json::from_str(json).ok()?,
        ("failed", _) => return Some(empty(AnalysisState::Failed)),
        _ if analysis_on => return Some(empty(AnalysisState::Pending)),
        _ => return None,
    };
    let side = reading.side.unwrap_or(CardSide::Unknown);
    let mut f = empty(AnalysisState::Done);
    f.side = Some(side);
    f.wrong_slot = matches!((slot, side), (0, CardSide::Back) | (1, CardSide::Front));
    f.number_read = reading.number.as_deref().map(|n| {
        if roster.whole_numbers {
            n.to_string()
        } else {
            domain::mask_id_number(n)
        }
    });
    f.check_digit_ok = reading.number.as_ref().map(|_| reading.check_ok);
    f.name_read = reading.name.clone();
    f.authority = reading.authority.clone();
    f.valid_until = reading.valid_until.clone();
    f.expired = reading
        .valid_until
        .as_deref()
        .and_then(parse_day)
        .is_some_and(|until| until < roster.exam_day);
    match side {
        CardSide::Front => {
            // A number that fails its check character was most likely misread (the check
            // catches any one wrong digit): shown, never claimed as a difference.
            let number_differs = reading
                .number
                .as_deref()
                .filter(|_| reading.check_ok)
                .map(|n| !n.eq_ignore_ascii_case(roster.id_number.trim()));
            let name_differs = reading.name.as_deref().map(|n| n != roster.name.trim());
            if number_differs == Some(true) {
                f.mismatched.push("number".into());
            }
            if name_differs == Some(true) {
                f.mismatched.push("name".into());
            }
            f.roster_match = Some(if !f.mismatched.is_empty() {
                RosterMatch::Mismatch
            } else if number_differs == Some(false) {
                RosterMatch::Match
            } else {
                f.unread_reason = Some(UnreadReason::Illegible);
                RosterMatch::Unread
            });
        }
        CardSide::Back => {
            f.unread_reason = Some(UnreadReason::BackSide);
        }
        CardSide::Unknown => {
            f.roster_match = Some(RosterMatch::Unread);
            f.unread_reason = Some(if reading.cjk_seen >= 12 {
                UnreadReason::NotIdCard
            } else {
                UnreadReason::Illegible
            });
        }
    }
    Some(f)
}
