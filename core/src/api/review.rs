//! Wire types of the reviewers' and administrators' API (`/api/v1/staff`, `/api/v1/review`,
//! `/api/v1/admin`).
//!
//! Reviewers at an exam site (考点) review first; reviewers at the district (考区) re-review what
//! the sites passed and set the final result; district administrators run the catalogue, the
//! windows, the accounts and publish the results.
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Category, ImageView, MaterialState, ReviewNote};

wire_enum! {
    pub enum StaffRole {
        /// Reviews the dossiers of one exam site (考点审核).
        SiteReviewer,
        /// Re-reviews what the sites passed and sets the final result (考区审核).
        DistrictReviewer,
        /// Runs the district: catalogue, windows, accounts, publishing, exports.
        DistrictAdmin,
    }
}

wire_enum! {
    pub enum ReviewStage {
        Site,
        District,
        /// Final result set.
        Done,
    }
}

wire_enum! {
    /// Where a submitted dossier stands within its stage.
    pub enum ReviewState {
        /// In the stage's queue.
        Waiting,
        /// Returned to the candidate; back in the queue when they resubmit.
        Returned,
        /// 审核待定: on hold with a reason.
        Pending,
        /// 审核通过 (stage done).
        Approved,
        /// 不符合: not eligible.
        NotEligible,
    }
}

wire_enum! {
    /// The district's list of reasons for returning a material.
    pub enum ReturnReason {
        /// 照片模糊或无法辨认
        Blurry,
        /// 材料类别错误
        WrongDocument,
        /// 材料不完整
        Incomplete,
        /// 证件已过期
        Expired,
        /// 其他
        Other,
    }
}

impl ReturnReason {
    /// The words the candidate sees.
    pub fn label(self) -> &'static str {
        match self {
            ReturnReason::Blurry => "照片模糊或无法辨认",
            ReturnReason::WrongDocument => "材料类别错误",
            ReturnReason::Incomplete => "材料不完整",
            ReturnReason::Expired => "证件已过期",
            ReturnReason::Other => "其他",
        }
    }
}

wire_enum! {
    pub enum MaterialVerdict {
        /// Stays locked, marked approved.
        Approve,
        /// Unlocks for the candidate, with a reason and a message.
        Return,
    }
}

wire_enum! {
    /// The decision on the whole dossier.
    pub enum DossierOutcome {
        /// Site stage: pass to the district.
        Pass,
        /// Return the returned materials to the candidate.
        Return,
        /// 审核待定, with a reason.
        Pending,
        /// District stage: 审核通过.
        Approve,
        /// District stage: 不符合, with a reason.
        NotEligible,
    }
}

wire_object! {
    pub struct StaffLoginRequest {
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 64)))]
        pub username: String,
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 128)))]
        pub password: String,
        /// The 6-digit code of the authenticator app, when the account has a second factor.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 16)))]
        pub totp_code: Option<String>,
        /// `web`: the console gets an HttpOnly cookie and a CSRF token instead of a bearer token.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub mode: Option<super::SessionMode>,
    }
}

wire_object! {
    pub struct StaffView {
        pub id: Uuid,
        pub username: String,
        pub name: String,
        pub role: StaffRole,
        pub district: String,
        /// For site reviewers: their exam site.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub exam_site: Option<String>,
        pub totp_enabled: bool,
        /// An administrator requires a second factor; sign-in is refused until it is set up.
        pub totp_required: bool,
        /// A disabled account cannot sign in; its sessions end at once.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", oai(default))]
        pub disabled: bool,
    }
}

wire_object! {
    pub struct StaffSession {
        /// The bearer token (app mode); absent in web mode, where the cookie carries the session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub access_token: Option<String>,
        /// Web mode: to send as `X-CSRF-Token` with every state change.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub csrf_token: Option<String>,
        #[serde(with = "time::serde::rfc3339")]
        pub expires_at: OffsetDateTime,
        pub staff: StaffView,
    }
}

wire_object! {
    /// A new TOTP secret (RFC 6238, SHA-1, 6 digits, 30 s); active once a code is confirmed.
    pub struct TotpEnrollment {
        pub secret_base32: String,
        pub otpauth_url: String,
    }
}

wire_object! {
    pub struct TotpCode {
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 16)))]
        pub code: String,
    }
}

wire_object! {
    /// One line of a reviewer's queue.
    pub struct QueueEntry {
        pub candidate_id: Uuid,
        pub username: String,
        pub name: String,
        pub id_number_masked: String,
        pub exam_site: String,
        pub stage: ReviewStage,
        pub state: ReviewState,
        /// Returned earlier and submitted again.
        pub resubmitted: bool,
        /// In this queue since.
        #[serde(with = "time::serde::rfc3339")]
        pub waiting_since: OffsetDateTime,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub claimed_by: Option<String>,
    }
}

wire_object! {
    pub struct QueueCounts {
        pub waiting: u64,
        pub returned: u64,
        pub pending: u64,
        pub resubmitted: u64,
    }
}

wire_object! {
    pub struct QueuePage {
        /// Entries matching the filter, over all pages.
        pub total: u64,
        /// Counts of the stage within the reviewer's scope, for the filter tabs.
        pub counts: QueueCounts,
        pub entries: Vec<QueueEntry>,
    }
}

wire_object! {
    /// The exam sites a reviewer may filter the queue by: a site reviewer's own, or every site of
    /// the district's roster.
    pub struct ExamSites {
        pub sites: Vec<String>,
    }
}

wire_object! {
    pub struct ClaimView {
        pub by: String,
        #[serde(with = "time::serde::rfc3339")]
        pub until: OffsetDateTime,
    }
}

wire_object! {
    pub struct CandidateInfo {
        pub id: Uuid,
        pub username: String,
        pub name: String,
        /// Masked except for administrators.
        pub id_number: String,
        pub exam_category: String,
        pub exam_site: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub mobile_masked: Option<String>,
    }
}

wire_object! {
    pub struct ReviewMaterial {
        pub category: Category,
        pub state: MaterialState,
        pub required: bool,
        /// The images as they are now.
        pub images: Vec<ImageView>,
        /// Images the candidate replaced or deleted after submitting them, newest first: the
        /// earlier versions a reviewer saw (a draft replaced before submitting is not one).
        pub previous: Vec<ImageView>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub note: Option<ReviewNote>,
        /// Approved at the dossier's stage on an earlier submission and unchanged since: the
        /// verdict stands, and a decision need not repeat it.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", oai(default))]
        pub approved_earlier: bool,
    }
}

wire_object! {
    /// One recorded decision (per material, or on the dossier when `category` is absent).
    pub struct DecisionView {
        pub stage: ReviewStage,
        pub version: u32,
        pub by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub category: Option<String>,
        /// `approve` / `return` for a material, the outcome for the dossier.
        pub decision: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub reason: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub message: Option<String>,
        #[serde(with = "time::serde::rfc3339")]
        pub at: OffsetDateTime,
    }
}

wire_object! {
    pub struct AuditView {
        pub seq: i64,
        #[serde(with = "time::serde::rfc3339")]
        pub at: OffsetDateTime,
        pub actor: String,
        pub action: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub category: Option<String>,
        pub detail: String,
    }
}

wire_object! {
    /// A dossier as a reviewer opens it.
    pub struct ReviewDossier {
        pub candidate: CandidateInfo,
        /// Counts submissions; a decision names the version it was made on.
        pub version: u32,
        pub stage: ReviewStage,
        pub state: ReviewState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub claim: Option<ClaimView>,
        pub materials: Vec<ReviewMaterial>,
        pub decisions: Vec<DecisionView>,
        pub audit: Vec<AuditView>,
    }
}

wire_object! {
    pub struct MaterialDecision {
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 64)))]
        pub category: String,
        pub verdict: MaterialVerdict,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub reason: Option<ReturnReason>,
        /// To the candidate, for a return.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 500)))]
        pub message: Option<String>,
    }
}

wire_object! {
    pub struct DecisionRequest {
        /// The version the reviewer looked at; refused with `stale_version` if the candidate has
        /// resubmitted since.
        #[cfg_attr(
            feature = "openapi",
            oai(validator(minimum(value = "0"), maximum(value = "4294967295")))
        )]
        pub version: u32,
        pub materials: Vec<MaterialDecision>,
        pub outcome: DossierOutcome,
        /// Why, for `pending` and `not_eligible`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 500)))]
        pub reason: Option<String>,
    }
}

wire_object! {
    pub struct DecisionReceipt {
        pub stage: ReviewStage,
        pub state: ReviewState,
    }
}

wire_object! {
    pub struct NewStaff {
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 64)))]
        pub username: String,
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 64)))]
        pub name: String,
        pub role: StaffRole,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 64)))]
        pub exam_site: Option<String>,
        #[serde(default)]
        #[cfg_attr(feature = "openapi", oai(default))]
        pub totp_required: bool,
    }
}

wire_object! {
    /// A change to an account by its district's administrator; absent fields stay as they are.
    /// A role or site change takes effect on the account's next request.
    pub struct StaffUpdate {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub role: Option<StaffRole>,
        /// For a site reviewer: the exam site they review.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 64)))]
        pub exam_site: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub totp_required: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        pub disabled: Option<bool>,
    }
}

wire_object! {
    /// The accounts of a district.
    pub struct StaffList {
        pub staff: Vec<StaffView>,
    }
}

wire_object! {
    /// The new account and its first password, shown once.
    pub struct StaffCreated {
        pub staff: StaffView,
        pub password: String,
    }
}

wire_object! {
    /// The district's windows; each pair opens and closes a stage.
    pub struct DistrictWindows {
        #[serde(with = "time::serde::rfc3339")]
        pub upload_opens_at: OffsetDateTime,
        #[serde(with = "time::serde::rfc3339")]
        pub upload_closes_at: OffsetDateTime,
        #[serde(with = "time::serde::rfc3339")]
        pub site_review_opens_at: OffsetDateTime,
        #[serde(with = "time::serde::rfc3339")]
        pub site_review_closes_at: OffsetDateTime,
        #[serde(with = "time::serde::rfc3339")]
        pub district_review_opens_at: OffsetDateTime,
        #[serde(with = "time::serde::rfc3339")]
        pub district_review_closes_at: OffsetDateTime,
    }
}

wire_object! {
    pub struct PublishReceipt {
        #[serde(with = "time::serde::rfc3339")]
        pub published_at: OffsetDateTime,
        pub approved: u64,
        pub not_eligible: u64,
        /// Dossiers without a final result when publishing.
        pub undecided: u64,
    }
}

wire_object! {
    /// The district's catalogue, as candidates see it.
    pub struct CatalogueView {
        pub categories: Vec<Category>,
    }
}

wire_object! {
    /// An administrator's change to a category. Which candidates a conditional category binds
    /// (its roster rule) and the slot names stay in the district file.
    pub struct CategoryUpdate {
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 64)))]
        pub name: String,
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 2000)))]
        pub description: String,
        pub requirement: super::Requirement,
        /// For `conditional`: who must upload it, in words (e.g. "必传：临床类别考生").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
        #[cfg_attr(feature = "openapi", oai(validator(max_length = 200)))]
        pub condition_text: Option<String>,
        #[cfg_attr(feature = "openapi", oai(validator(minimum(value = "0"), maximum(value = "20"))))]
        pub min_images: u32,
        #[cfg_attr(feature = "openapi", oai(validator(minimum(value = "0"), maximum(value = "20"))))]
        pub max_images: u32,
    }
}
