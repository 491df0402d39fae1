//! Review proper: the queues, opening a dossier, claims, and the two-stage decisions.
//!
//! Deny by default: every call takes a `VerifiedStaff` and checks role and scope; a
//! dossier outside the caller's scope answers 404, as if it did not exist. The rules of a decision
//! live in `dossier_core::domain::review`; this module applies them in one transaction with the
//! messages, notifications and audit entries they cause.
use std::collections::HashMap;

use crate::storage::sql::Conn;
use dossier_core::api::Subject;
use dossier_core::api::review::{
    AuditView, CandidateInfo, ClaimView, DecisionReceipt, DecisionRequest, DecisionView,
    DistrictWindows, DossierOutcome, ExamSites, MaterialVerdict, QueueCounts, QueueEntry,
    QueuePage, ReviewDossier, ReviewMaterial, ReviewStage, ReviewState, StaffRole,
};
use dossier_core::api::{
    DossierState, ErrorBody, ErrorCode, MaterialState, MessageKind, WindowState,
};
use dossier_core::domain::{self, review as rules};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::analysis::{Advice, Roster};
use crate::dossier::{category_view, image_view, note_of};
use crate::error::{ApiError, ApiResult};
use crate::notify::{Notice, NotifySettings};
use crate::staff::{VerifiedStaff, forbidden};
use crate::storage::review::{self as store, AuditEntry, QueueFilter};
use crate::storage::{self, BlobStore, Db, StorageError};

/// How long a claim holds a dossier for one reviewer.
pub const CLAIM: Duration = Duration::minutes(30);

#[derive(Clone)]
pub struct Review {
    db: Db,
    blobs: BlobStore,
    notify: NotifySettings,
    advice: Advice,
}

/// The caller holds a live claim on the dossier: `claimed_by_other` when someone else does,
/// `claim_required` (with `unclaimed`, what to do) when nobody does.
fn holds_claim(
    review: &store::ReviewRow,
    staff: &VerifiedStaff,
    now: OffsetDateTime,
    unclaimed: &str,
) -> ApiResult<()> {
    match review.live_claim(now) {
        Some((by, _)) if by == staff.id => Ok(()),
        Some(_) => Err(ApiError::new(
            ErrorCode::ClaimedByOther,
            "another reviewer holds this dossier",
        )),
        None => Err(ApiError::new(ErrorCode::ClaimRequired, unclaimed)),
    }
}

/// The window of a review stage, as open/closed/not yet.
fn stage_window(w: &DistrictWindows, stage: ReviewStage, now: OffsetDateTime) -> WindowState {
    let (opens, closes) = match stage {
        ReviewStage::Site => (w.site_review_opens_at, w.site_review_closes_at),
        _ => (w.district_review_opens_at, w.district_review_closes_at),
    };
    domain::window_state(opens, closes, now)
}

/// The review window's refusal; `detail` says it is the review's (the pages word the upload
/// window's by default).
fn window_refusal(state: WindowState) -> ApiResult<()> {
    match state {
        WindowState::Open => Ok(()),
        WindowState::NotYetOpen => Err(ApiError::detailed(
            ErrorCode::WindowNotOpen,
            "review",
            "the review window has not opened",
        )),
        WindowState::Closed => Err(ApiError::detailed(
            ErrorCode::WindowClosed,
            "review",
            "the review window has closed",
        )),
    }
}

impl Review {
    pub fn new(db: Db, blobs: BlobStore, notify: NotifySettings) -> Review {
        Review {
            db,
            blobs,
            notify,
            advice: Advice::default(),
        }
    }

    /// Show the ID-card findings beside the images (see `analysis`).
    pub fn with_advice(mut self, advice: Advice) -> Review {
        self.advice = advice;
        self
    }

    // -----------------------------------------------------------------------------------------
    // Queues and dossiers

    pub async fn queue(
        &self,
        staff: &VerifiedStaff,
        mut filter: QueueFilter,
        now: OffsetDateTime,
    ) -> ApiResult<QueuePage> {
        // As the dossier view masks them: only administrators see (and search) whole ID numbers.
        filter.whole_id_numbers = staff.role == StaffRole::DistrictAdmin;
        let scope = staff.scope();
        // A site reviewer asking for another site's queue sees nothing, not their own site's.
        if let (Some(mine), Some(asked)) = (scope.exam_site.as_deref(), filter.exam_site.as_deref())
            && mine != asked
        {
            return Ok(QueuePage {
                total: 0,
                counts: QueueCounts {
                    waiting: 0,
                    returned: 0,
                    pending: 0,
                    resubmitted: 0,
                },
                entries: Vec::new(),
            });
        }
        self.db
            .read(move |c| {
                let (total, rows) = store::queue_page(c, &scope, &filter, now)?;
                let (waiting, returned, pending, resubmitted) =
                    store::queue_counts(c, &scope, filter.stage, filter.exam_site.as_deref())?;
                Ok::<_, StorageError>(QueuePage {
                    total,
                    counts: QueueCounts {
                        waiting,
                        returned,
                        pending,
                        resubmitted,
                    },
                    entries: rows
                        .into_iter()
                        .map(|r| QueueEntry {
                            candidate_id: r.review.candidate_id,
                            username: r.username,
                            name: r.name,
                            id_number_masked: domain::mask_id_number(&r.id_number),
                            exam_site: r.review.exam_site,
                            stage: r.review.stage,
                            state: r.review.state,
                            resubmitted: r.review.resubmitted,
                            waiting_since: r.review.entered_at,
                            claimed_by: r.claimed_by_username,
                        })
                        .collect(),
                })
            })
            .await
            .map_err(ApiError::from)
    }

    /// The exam sites the caller may filter the queue by.
    pub async fn exam_sites(&self, staff: &VerifiedStaff) -> ApiResult<ExamSites> {
        let scope = staff.scope();
        if let Some(site) = scope.exam_site {
            return Ok(ExamSites { sites: vec![site] });
        }
        let sites = self
            .db
            .read(move |c| store::exam_sites(c, &scope.district))
            .await?;
        Ok(ExamSites { sites })
    }

    /// The review row of a dossier the caller may see; 404 otherwise.
    fn visible(
        c: &Conn,
        staff: &VerifiedStaff,
        candidate: Uuid,
    ) -> ApiResult<(store::ReviewRow, storage::Candidate)> {
        let review = store::review(c, candidate)?.ok_or_else(ApiError::not_found)?;
        if !staff.sees(&review.district, &review.exam_site) {
            return Err(ApiError::not_found());
        }
        let cand = storage::candidate_by_id(c, candidate)?;
        Ok((review, cand))
    }

    pub async fn open(
        &self,
        staff: &VerifiedStaff,
        candidate: Uuid,
        now: OffsetDateTime,
    ) -> ApiResult<ReviewDossier> {
        let (staff, advice) = (staff.clone(), self.advice.clone());
        self.db
            .read(move |c| Self::compose(c, &staff, candidate, now, &advice))
            .await
    }

    fn compose(
        c: &Conn,
        staff: &VerifiedStaff,
        candidate: Uuid,
        now: OffsetDateTime,
        advice: &Advice,
    ) -> ApiResult<ReviewDossier> {
        let (review, cand) = Self::visible(c, staff, candidate)?;
        let roster = Roster {
            name: &cand.name,
            id_number: &cand.id_number,
            whole_numbers: staff.role == StaffRole::DistrictAdmin,
            exam_day: advice.exam_day(),
        };
        let materials: HashMap<String, storage::MaterialRow> = storage::materials(c, candidate)?
            .into_iter()
            .map(|m| (m.category.clone(), m))
            .collect();
        let mut images: HashMap<String, Vec<storage::ImageRow>> = HashMap::new();
        for i in storage::images_of(c, candidate)? {
            images.entry(i.category.clone()).or_default().push(i);
        }
        let attributes = cand.rule_attributes();
        let kept = store::approved_at_stage(c, candidate, review.stage)?;
        let reviewer_view = |i: &storage::ImageRow, locked: bool| {
            let mut v = image_view(i, locked);
            v.url = format!("/api/v1/review/images/{}", i.id);
            v.thumbnail_url = format!("{}/thumbnail", v.url);
            v.upload_key = None;
            v
        };
        let mut out = Vec::new();
        for cat in storage::categories(c, &cand.district)? {
            let row = materials.get(&cat.code);
            let state = row.map_or(MaterialState::Open, |m| m.state);
            let locked = domain::is_locked(state);
            let all = images.remove(&cat.code).unwrap_or_default();
            let (live, gone): (Vec<_>, Vec<_>) = all.iter().partition(|i| i.deleted_at.is_none());
            // Earlier versions are those a reviewer saw: a draft replaced before it was ever
            // submitted is not one.
            let gone: Vec<_> = gone
                .into_iter()
                .filter(|i| i.submitted_at.is_some())
                .collect();
            let mut live: Vec<_> = live.into_iter().map(|i| reviewer_view(i, locked)).collect();
            live.sort_by_key(|i| i.slot);
            let mut previous: Vec<_> = gone.into_iter().map(|i| reviewer_view(i, true)).collect();
            if cat.subject == Subject::Document {
                let scope = staff.scope();
                advice.annotate(c, &mut live, cat.document, &roster, Some(&scope))?;
                advice.annotate(c, &mut previous, cat.document, &roster, Some(&scope))?;
            }
            out.push(ReviewMaterial {
                required: domain::required_for(
                    cat.requirement,
                    cat.condition.as_ref(),
                    &attributes,
                ),
                images: live,
                previous,
                note: row.and_then(note_of),
                approved_earlier: kept.contains(&cat.code),
                category: category_view(&cand.district, &cat),
                state,
            });
        }
        let claim = match review.live_claim(now) {
            Some((by, until)) => Some(ClaimView {
                by: store::staff_by_id(c, by)?.username,
                until,
            }),
            None => None,
        };
        Ok(ReviewDossier {
            candidate: CandidateInfo {
                id: cand.id,
                username: cand.username.clone(),
                name: cand.name.clone(),
                id_number: if staff.role == StaffRole::DistrictAdmin {
                    cand.id_number.clone()
                } else {
                    domain::mask_id_number(&cand.id_number)
                },
                exam_category: cand.exam_category.clone(),
                exam_site: cand.exam_site.clone(),
                mobile_masked: cand.mobile.as_deref().map(domain::mask_mobile),
            },
            version: store::candidate_version(c, candidate)?,
            stage: review.stage,
            state: review.state,
            claim,
            materials: out,
            decisions: store::decisions(c, candidate)?
                .into_iter()
                .map(|d| DecisionView {
                    stage: d.stage,
                    version: d.version,
                    by: d.staff_username,
                    category: d.category,
                    decision: d.decision,
                    reason: d.reason,
                    message: d.message,
                    at: d.at,
                })
                .collect(),
            audit: store::audit_of(c, candidate)?
                .into_iter()
                .map(|(seq, e)| AuditView {
                    seq,
                    at: e.at,
                    actor: e.actor,
                    action: e.action,
                    category: e.category,
                    detail: e.detail,
                })
                .collect(),
        })
    }

    /// The bytes of an image of a dossier in scope (old versions too).
    pub async fn image(&self, staff: &VerifiedStaff, image: Uuid) -> ApiResult<(Vec<u8>, String)> {
        let staff = staff.clone();
        let row = self
            .db
            .read(move |c| {
                let row = storage::image(c, image)?;
                Self::visible(c, &staff, row.candidate_id)?;
                Ok::<_, ApiError>(row)
            })
            .await?;
        let bytes = self.blobs.read(&row.sha256).await?;
        Ok((bytes, row.content_type))
    }

    /// Claim a dossier for `CLAIM`, so no other reviewer works on it; renewing your own claim
    /// extends it. Only reviewers of the dossier's current stage may claim.
    pub async fn claim(
        &self,
        staff: &VerifiedStaff,
        candidate: Uuid,
        ip: Option<String>,
        now: OffsetDateTime,
    ) -> ApiResult<ClaimView> {
        let stage = rules::stage_of(staff.role).ok_or_else(forbidden)?;
        let staff = staff.clone();
        self.db
            .write(move |tx| {
                let (review, _) = Self::visible(tx, &staff, candidate)?;
                if review.stage != stage
                    || !matches!(review.state, ReviewState::Waiting | ReviewState::Pending)
                {
                    return Err(ApiError::new(
                        ErrorCode::NotReviewable,
                        "this dossier is not waiting for your stage",
                    ));
                }
                if let Some((by, _)) = review.live_claim(now)
                    && by != staff.id
                {
                    let holder = store::staff_by_id(tx, by)?.username;
                    return Err(ApiError::new(
                        ErrorCode::ClaimedByOther,
                        format!("{holder} is reviewing this dossier"),
                    ));
                }
                let until = now + CLAIM;
                store::set_claim(tx, candidate, Some((staff.id, until)))?;
                AuditEntry::new(now, &staff.username, "claim")
                    .candidate(candidate)
                    .ip(ip.as_deref())
                    .append(tx)?;
                Ok(ClaimView {
                    by: staff.username.clone(),
                    until,
                })
            })
            .await
    }

    pub async fn release(
        &self,
        staff: &VerifiedStaff,
        candidate: Uuid,
        ip: Option<String>,
        now: OffsetDateTime,
    ) -> ApiResult<()> {
        let staff = staff.clone();
        self.db
            .write(move |tx| {
                let (review, _) = Self::visible(tx, &staff, candidate)?;
                holds_claim(&review, &staff, now, "you do not hold this dossier")?;
                store::set_claim(tx, candidate, None)?;
                Ok(AuditEntry::new(now, &staff.username, "release")
                    .candidate(candidate)
                    .ip(ip.as_deref())
                    .append(tx)?)
            })
            .await
    }

    /// Decide a claimed dossier: every material approved or returned, and the dossier's outcome.
    pub async fn decide(
        &self,
        staff: &VerifiedStaff,
        candidate: Uuid,
        req: DecisionRequest,
        ip: Option<String>,
        now: OffsetDateTime,
    ) -> ApiResult<DecisionReceipt> {
        let stage = rules::stage_of(staff.role).ok_or_else(forbidden)?;
        // What the candidate will read (and the SMS carries): plain text, line breaks allowed.
        let texts = req.materials.iter().filter_map(|m| m.message.as_deref());
        for text in texts.chain(req.reason.as_deref()) {
            if !domain::plain_text_lines(text, true) {
                return Err(ApiError::invalid_field(
                    "message",
                    "the message may not contain control characters, invisible characters or markup",
                ));
            }
        }
        let staff = staff.clone();
        let notify = self.notify.clone();
        self.db
            .write(move |tx| {
                let (review, cand) = Self::visible(tx, &staff, candidate)?;
                if review.stage != stage {
                    return Err(ApiError::new(
                        ErrorCode::NotReviewable,
                        "this dossier is not at your stage",
                    ));
                }
                window_refusal(stage_window(
                    &store::windows(tx, &cand.district)?,
                    stage,
                    now,
                ))?;
                holds_claim(&review, &staff, now, "claim the dossier before deciding")?;
                let version = store::candidate_version(tx, candidate)?;
                if req.version != version {
                    return Err(ApiError::new(
                        ErrorCode::StaleVersion,
                        "the candidate has resubmitted since you opened this dossier; reload it",
                    ));
                }
                let mut with_images: Vec<String> = storage::live_images(tx, candidate)?
                    .into_iter()
                    .map(|i| i.category)
                    .collect();
                with_images.dedup();
                if let Some(unknown) = req
                    .materials
                    .iter()
                    .find(|m| !with_images.contains(&m.category))
                {
                    return Err(ApiError::invalid_field(
                        "materials",
                        format!("{} holds no images to decide on", unknown.category),
                    ));
                }
                let verdicts: Vec<rules::Verdict<'_>> = req
                    .materials
                    .iter()
                    .map(|m| rules::Verdict {
                        category: &m.category,
                        verdict: m.verdict,
                        has_reason_and_message: m.reason.is_some()
                            && m.message.as_deref().is_some_and(|t| !t.trim().is_empty()),
                    })
                    .collect();
                // Approved at this stage before and unchanged since: the verdict stands, so the
                // reviewer decides only what the candidate changed (a verdict sent anyway counts).
                let kept = store::approved_at_stage(tx, candidate, stage)?;
                let categories: Vec<&str> = with_images
                    .iter()
                    .filter(|c| !kept.contains(c))
                    .map(String::as_str)
                    .collect();
                let reason = req
                    .reason
                    .as_deref()
                    .map(str::trim)
                    .filter(|r| !r.is_empty());
                let (next_stage, next_state) = rules::decide(
                    review.stage,
                    review.state,
                    &categories,
                    &verdicts,
                    req.outcome,
                    reason.is_some(),
                )
                .map_err(|e| match &e {
                    rules::DecisionRefusal::NotReviewable(_) => {
                        ApiError::new(ErrorCode::NotReviewable, e.to_string())
                    }
                    rules::DecisionRefusal::Undecided(undecided) => {
                        ApiError::from_body(ErrorBody {
                            missing: undecided.clone(),
                            detail: Some(e.rule().into()),
                            ..ErrorBody::new(ErrorCode::DecisionRules, e.to_string())
                        })
                    }
                    _ => ApiError::detailed(ErrorCode::DecisionRules, e.rule(), e.to_string()),
                })?;
                let who = staff.username.as_str();
                let recorded = store::NewDecision {
                    candidate,
                    stage,
                    version,
                    staff: staff.id,
                    category: None,
                    decision: "",
                    reason: None,
                    message: None,
                    at: now,
                };
                let mut returned = Vec::new();
                for m in &req.materials {
                    let (decision, state) = match m.verdict {
                        MaterialVerdict::Approve => ("approve", MaterialState::Approved),
                        MaterialVerdict::Return => ("return", MaterialState::Returned),
                    };
                    let reason_text = m.reason.map(|r| r.label().to_string());
                    store::insert_decision(
                        tx,
                        &store::NewDecision {
                            category: Some(&m.category),
                            decision,
                            reason: reason_text.as_deref(),
                            message: m.message.as_deref(),
                            ..recorded
                        },
                    )?;
                    if state == MaterialState::Returned {
                        let message = m.message.clone().unwrap_or_default();
                        storage::return_material(
                            tx,
                            candidate,
                            &m.category,
                            reason_text.as_deref().unwrap_or_default(),
                            &message,
                            now,
                        )?;
                        AuditEntry::new(now, who, "unlock")
                            .candidate(candidate)
                            .category(&m.category)
                            .detail(format!("{}: {message}", reason_text.unwrap_or_default()))
                            .ip(ip.as_deref())
                            .append(tx)?;
                        returned.push(m);
                    } else {
                        storage::set_material_state(tx, candidate, &m.category, state)?;
                    }
                    AuditEntry::new(now, who, decision)
                        .candidate(candidate)
                        .category(&m.category)
                        .detail(format!("version {version}"))
                        .ip(ip.as_deref())
                        .append(tx)?;
                }
                let outcome = storage::enum_text(req.outcome);
                store::insert_decision(
                    tx,
                    &store::NewDecision {
                        decision: &outcome,
                        reason,
                        ..recorded
                    },
                )?;
                store::set_review_state(tx, candidate, next_stage, next_state, reason, now)?;
                AuditEntry::new(now, who, &format!("dossier_{outcome}"))
                    .candidate(candidate)
                    .detail(reason.unwrap_or_default())
                    .ip(ip.as_deref())
                    .append(tx)?;
                match req.outcome {
                    DossierOutcome::Return => {
                        storage::set_dossier_state(tx, candidate, DossierState::Returned, None)?;
                        let names: HashMap<String, String> =
                            storage::categories(tx, &cand.district)?
                                .into_iter()
                                .map(|c| (c.code, c.name))
                                .collect();
                        let body = returned
                            .iter()
                            .map(|m| {
                                format!(
                                    "{}（{}）：{}",
                                    names.get(&m.category).unwrap_or(&m.category),
                                    m.reason.map(|r| r.label()).unwrap_or_default(),
                                    m.message.as_deref().unwrap_or_default()
                                )
                            })
                            .collect::<Vec<_>>()
                            .join("\n");
                        Notice {
                            candidate,
                            kind: MessageKind::Returned,
                            title: "报名材料被退回，请按要求重新上传后再次提交审核",
                            body,
                            categories: returned.iter().map(|m| m.category.clone()).collect(),
                        }
                        .send(tx, &notify, now)?;
                    }
                    DossierOutcome::Pending => Notice {
                        candidate,
                        kind: MessageKind::Pending,
                        title: "审核待定",
                        body: reason.unwrap_or_default().to_string(),
                        categories: Vec::new(),
                    }
                    .send(tx, &notify, now)?,
                    _ => {}
                }
                Ok(DecisionReceipt {
                    stage: next_stage,
                    state: next_state,
                })
            })
            .await
    }
}
