//! The district's administration: the upload and review windows, the catalogue and its example
//! images, publishing the results, and the results' export: an administrator's, for their own
//! district (every staff member of the district may read the windows).

use dossier_core::api::review::{
    CatalogueView, CategoryUpdate, DistrictWindows, PublishReceipt, ReviewStage, ReviewState,
    StaffRole,
};
use dossier_core::api::{DossierState, ErrorCode, MessageKind, Requirement};
use time::OffsetDateTime;

use crate::dossier::category_view;
use crate::error::{ApiError, ApiResult};
use crate::notify::{Notice, NotifySettings};
use crate::staff::VerifiedStaff;
use crate::storage::review::{self as store, AuditEntry};
use crate::storage::{self, Db, StorageError};

#[derive(Clone)]
pub struct Administration {
    db: Db,
    notify: NotifySettings,
}

impl Administration {
    pub fn new(db: Db, notify: NotifySettings) -> Administration {
        Administration { db, notify }
    }

    pub async fn windows(&self, staff: &VerifiedStaff) -> ApiResult<DistrictWindows> {
        let district = staff.district.clone();
        self.db
            .read(move |c| store::windows(c, &district))
            .await
            .map_err(ApiError::from)
    }

    pub async fn set_windows(
        &self,
        staff: &VerifiedStaff,
        w: DistrictWindows,
        ip: Option<String>,
        now: OffsetDateTime,
    ) -> ApiResult<()> {
        staff.require(&[StaffRole::DistrictAdmin])?;
        let ordered = w.upload_opens_at < w.upload_closes_at
            && w.site_review_opens_at < w.site_review_closes_at
            && w.district_review_opens_at < w.district_review_closes_at;
        if !ordered {
            return Err(ApiError::detailed(
                ErrorCode::InvalidField,
                "windows_order",
                "every window must open before it closes",
            ));
        }
        // A review that ends before the uploads do would leave the last submissions unreviewed.
        if w.site_review_closes_at < w.upload_closes_at
            || w.district_review_closes_at < w.upload_closes_at
        {
            return Err(ApiError::detailed(
                ErrorCode::InvalidField,
                "review_closes_before_uploads",
                "a review window must not close before the upload window closes",
            ));
        }
        let staff = staff.clone();
        self.db
            .write(move |tx| {
                store::set_windows(tx, &staff.district, &w)?;
                let detail = serde_json::to_string(&w).unwrap_or_default();
                AuditEntry::new(now, &staff.username, "windows_changed")
                    .detail(detail)
                    .ip(ip.as_deref())
                    .append(tx)
            })
            .await
            .map_err(ApiError::from)
    }

    /// The district's catalogue (administrators).
    pub async fn catalogue(&self, staff: &VerifiedStaff) -> ApiResult<CatalogueView> {
        staff.require(&[StaffRole::DistrictAdmin])?;
        let district = staff.district.clone();
        let rows = self
            .db
            .read({
                let district = district.clone();
                move |c| storage::categories(c, &district)
            })
            .await
            .map_err(ApiError::from)?;
        Ok(CatalogueView {
            categories: rows.iter().map(|r| category_view(&district, r)).collect(),
        })
    }

    /// Change a category's words, requirement and counts; audited. A conditional category needs
    /// its roster rule, which only the district file sets.
    pub async fn update_category(
        &self,
        staff: &VerifiedStaff,
        code: String,
        u: CategoryUpdate,
        ip: Option<String>,
        now: OffsetDateTime,
    ) -> ApiResult<()> {
        staff.require(&[StaffRole::DistrictAdmin])?;
        let bad = |m: &str| Err(ApiError::invalid_field("category", m));
        if u.name.trim().is_empty() || u.name.chars().count() > 100 {
            return bad("the name must be 1 to 100 characters");
        }
        if u.description.chars().count() > 2000 {
            return bad("the description is longer than 2000 characters");
        }
        if u.max_images == 0 || u.max_images > 20 || u.min_images > u.max_images {
            return bad("needs 1 <= max_images <= 20 and min_images <= max_images");
        }
        let staff = staff.clone();
        self.db
            .write(move |tx| {
                let mut row = storage::category(tx, &staff.district, &code)?
                    .ok_or_else(ApiError::not_found)?;
                if u.requirement == Requirement::Conditional && row.condition.is_none() {
                    return Err(ApiError::detailed(
                        ErrorCode::InvalidField,
                        "conditional_needs_rule",
                        "a conditional category needs its roster rule (required_when) in the \
                         district file",
                    ));
                }
                if !row.slot_labels.is_empty() && row.slot_labels.len() != u.max_images as usize {
                    return Err(ApiError::invalid_field(
                        "max_images",
                        format!(
                            "this category's slots are named ({}); keep max_images at {}",
                            row.slot_labels.join(", "),
                            row.slot_labels.len()
                        ),
                    ));
                }
                row.name = u.name.trim().to_string();
                row.description = u.description.trim().to_string();
                row.requirement = u.requirement;
                row.condition_text = u.condition_text.filter(|t| !t.trim().is_empty());
                row.min_images = u.min_images;
                row.max_images = u.max_images;
                storage::update_category(tx, &staff.district, &row)?;
                let detail = format!(
                    "{}: {:?}, {}..{} images",
                    row.name, row.requirement, row.min_images, row.max_images
                );
                AuditEntry::new(now, &staff.username, "category_changed")
                    .category(&row.code)
                    .detail(detail)
                    .ip(ip.as_deref())
                    .append(tx)?;
                Ok(())
            })
            .await
    }

    /// Replace a category's example image (示例): JPEG or PNG by content, at most 1 MB.
    pub async fn set_example(
        &self,
        staff: &VerifiedStaff,
        code: String,
        image: Vec<u8>,
        ip: Option<String>,
        now: OffsetDateTime,
    ) -> ApiResult<()> {
        staff.require(&[StaffRole::DistrictAdmin])?;
        // Served to anyone: checked as an upload is (decodes, upright, no metadata, nothing
        // after the image's end), within 1 MB.
        let checked = tokio::task::spawn_blocking(move || {
            dossier_core::photo::validate_with_budget(&image, 1 << 20)
        })
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))??;
        let (image, format) = (checked.bytes, checked.format);
        let staff = staff.clone();
        self.db
            .write(move |tx| {
                storage::set_category_example(tx, &staff.district, &code, &image, format.mime())?;
                let detail = format!("example image, {} bytes", image.len());
                AuditEntry::new(now, &staff.username, "category_changed")
                    .category(&code)
                    .detail(detail)
                    .ip(ip.as_deref())
                    .append(tx)
            })
            .await
            .map_err(ApiError::from)
    }

    /// Publish the final results once the district's review window has closed: every candidate
    /// with a result gets it as a message and a notification.
    pub async fn publish(
        &self,
        staff: &VerifiedStaff,
        ip: Option<String>,
        now: OffsetDateTime,
    ) -> ApiResult<PublishReceipt> {
        staff.require(&[StaffRole::DistrictAdmin])?;
        let staff = staff.clone();
        let notify = self.notify.clone();
        self.db
            .write(move |tx| {
                let w = store::windows(tx, &staff.district)?;
                if now < w.district_review_closes_at {
                    return Err(ApiError::detailed(
                        ErrorCode::WindowNotOpen,
                        "district_review_open",
                        "results are published when the district review window has closed",
                    ));
                }
                if let Some(at) = store::results_published_at(tx, &staff.district)? {
                    return Err(ApiError::detailed(
                        ErrorCode::Locked,
                        "published",
                        format!("the results were published at {at}"),
                    ));
                }
                let (mut approved, mut not_eligible, mut undecided) = (0, 0, 0);
                let reviews = store::export_lines(tx, &staff.district, None)?
                    .into_iter()
                    .filter_map(|line| line.review);
                for review in reviews {
                    let (title, body) = match review.state {
                        ReviewState::Approved if review.stage == ReviewStage::Done => {
                            approved += 1;
                            ("审核通过", "您的报名材料审核通过。".to_string())
                        }
                        ReviewState::NotEligible => {
                            not_eligible += 1;
                            (
                                "审核结果：不符合",
                                format!(
                                    "您的报名资格审核结果为不符合。原因：{}",
                                    review.result_reason.clone().unwrap_or_default()
                                ),
                            )
                        }
                        _ => {
                            undecided += 1;
                            continue;
                        }
                    };
                    Notice {
                        candidate: review.candidate_id,
                        kind: MessageKind::Result,
                        title,
                        body,
                        categories: Vec::new(),
                    }
                    .send(tx, &notify, now)?;
                }
                store::publish_results(tx, &staff.district, now)?;
                AuditEntry::new(now, &staff.username, "results_published")
                    .detail(format!(
                        "approved {approved}, not eligible {not_eligible}, undecided {undecided}"
                    ))
                    .ip(ip.as_deref())
                    .append(tx)?;
                Ok(PublishReceipt {
                    published_at: now,
                    approved,
                    not_eligible,
                    undecided,
                })
            })
            .await
    }

    /// Every candidate of the district's roster, or of one exam site, with their review's result
    /// if they submitted, as CSV (UTF-8 with BOM, so Excel in China opens it in the right
    /// encoding).
    pub async fn export_csv(
        &self,
        staff: &VerifiedStaff,
        exam_site: Option<String>,
    ) -> ApiResult<Vec<u8>> {
        staff.require(&[StaffRole::DistrictAdmin])?;
        let district = staff.district.clone();
        let rows = self
            .db
            .read(move |c| store::export_lines(c, &district, exam_site.as_deref()))
            .await
            .map_err(ApiError::from)?;
        let mut out = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
        let write = |out: &mut csv::Writer<Vec<u8>>, record: &[&str]| {
            out.write_record(record)
                .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
        };
        write(
            &mut out,
            &[
                "考点",
                "用户名",
                "姓名",
                "身份证号",
                "报考类别",
                "材料",
                "审核阶段",
                "审核状态",
                "原因",
            ],
        )?;
        for line in rows {
            let (stage, state, reason) = match &line.review {
                Some(r) => (
                    stage_words(r.stage),
                    state_words(r.state),
                    r.result_reason.as_deref().unwrap_or(""),
                ),
                None => ("", "", ""),
            };
            write(
                &mut out,
                &[
                    &text_cell(&line.exam_site),
                    &text_cell(&line.username),
                    &text_cell(&line.name),
                    // As a formula giving text, so Excel keeps all 18 digits (as a number it
                    // shows 1.10101E+17 and loses the last three).
                    &format!("=\"{}\"", line.id_number.replace('"', "")),
                    &text_cell(&line.exam_category),
                    dossier_words(line.dossier_state),
                    stage,
                    state,
                    &text_cell(reason),
                ],
            )?;
        }
        out.into_inner()
            .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
    }

    /// Walk the audit chain (the `audit verify` command).
    pub async fn verify_audit(&self) -> Result<Result<i64, store::AuditBreak>, StorageError> {
        self.db.read(store::verify_audit).await
    }
}

/// A cell as text: one that a spreadsheet would run as a formula (=, +, -, @ first) gets a
/// leading apostrophe (OWASP's CSV injection advice).
fn text_cell(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_string(),
    }
}

/// The guides' words for the export (never the API's codes).
fn dossier_words(state: DossierState) -> &'static str {
    match state {
        DossierState::Draft => "未提交",
        DossierState::Submitted => "已提交",
        DossierState::Returned => "已退回",
    }
}

fn stage_words(stage: ReviewStage) -> &'static str {
    match stage {
        ReviewStage::Site => "考点审核",
        ReviewStage::District => "考区审核",
        ReviewStage::Done => "审核结束",
    }
}

fn state_words(state: ReviewState) -> &'static str {
    match state {
        ReviewState::Waiting => "待审核",
        ReviewState::Returned => "已退回",
        ReviewState::Pending => "审核待定",
        ReviewState::Approved => "审核通过",
        ReviewState::NotEligible => "不符合",
    }
}
