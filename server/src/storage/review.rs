//! SQL of the review workflow: staff and their sessions, reviews and claims, the queues,
//! decisions, windows and publishing, the hash-chained audit log.
use dossier_core::api::DossierState;
use dossier_core::api::review::{DistrictWindows, ReviewStage, ReviewState, StaffRole};
use rusqlite::params;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use super::sql::{Conn, Row};
use super::{Found, StorageError, aliased, enum_of, enum_text, from_unix, to_unix, uuid_of};

// ---------------------------------------------------------------------------------------------
// Staff

#[derive(Debug, Clone)]
pub struct Staff {
    pub id: Uuid,
    pub username: String,
    pub name: String,
    pub role: StaffRole,
    pub district: String,
    pub exam_site: Option<String>,
    pub password_hash: String,
    pub totp_secret: Option<Vec<u8>>,
    pub totp_enabled: bool,
    pub totp_required: bool,
    pub disabled: bool,
}

const STAFF_COLUMNS: &str = "id, username, name, role, district, exam_site, password_hash, totp_secret, \
     totp_enabled_at IS NOT NULL, totp_required, disabled_at IS NOT NULL";

fn staff_row(r: &Row<'_>) -> rusqlite::Result<Staff> {
    Ok(Staff {
        id: uuid_of(r.get(0)?)?,
        username: r.get(1)?,
        name: r.get(2)?,
        role: enum_of(r.get(3)?)?,
        district: r.get(4)?,
        exam_site: r.get(5)?,
        password_hash: r.get(6)?,
        totp_secret: r.get(7)?,
        totp_enabled: r.get(8)?,
        totp_required: r.get(9)?,
        disabled: r.get(10)?,
    })
}

pub fn insert_staff(conn: &Conn, s: &Staff, now: OffsetDateTime) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO staff (id, username, name, role, district, exam_site, password_hash, totp_required, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            s.id.to_string(),
            s.username,
            s.name,
            enum_text(s.role),
            s.district,
            s.exam_site,
            s.password_hash,
            s.totp_required,
            to_unix(now)
        ],
    )?;
    Ok(())
}

pub fn staff_by_username(conn: &Conn, username: &str) -> Result<Staff, StorageError> {
    conn.query_row(
        &format!("SELECT {STAFF_COLUMNS} FROM staff WHERE username = ?1"),
        [username],
        staff_row,
    )
    .found()?
    .ok_or(StorageError::NotFound)
}

pub fn staff_of_district(conn: &Conn, district: &str) -> Result<Vec<Staff>, StorageError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {STAFF_COLUMNS} FROM staff WHERE district = ?1 ORDER BY role, exam_site, username"
    ))?;
    let rows = stmt.query_map([district], staff_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Write an account's role, site, second-factor rule and whether it is disabled.
pub fn update_staff(conn: &Conn, s: &Staff, now: OffsetDateTime) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE staff SET role = ?2, exam_site = ?3, totp_required = ?4,
             disabled_at = CASE WHEN ?5 THEN COALESCE(disabled_at, ?6) ELSE NULL END
         WHERE id = ?1",
        params![
            s.id.to_string(),
            enum_text(s.role),
            s.exam_site,
            s.totp_required,
            s.disabled,
            to_unix(now)
        ],
    )?;
    Ok(())
}

pub fn staff_by_id(conn: &Conn, id: Uuid) -> Result<Staff, StorageError> {
    conn.query_row(
        &format!("SELECT {STAFF_COLUMNS} FROM staff WHERE id = ?1"),
        [id.to_string()],
        staff_row,
    )
    .found()?
    .ok_or(StorageError::NotFound)
}

pub fn set_staff_password(conn: &Conn, username: &str, hash: &str) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE staff SET password_hash = ?2 WHERE username = ?1",
        params![username, hash],
    )?;
    Ok(())
}

/// A new, not yet confirmed, TOTP secret.
pub fn set_totp_secret(conn: &Conn, staff: Uuid, secret: &[u8]) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE staff SET totp_secret = ?2, totp_enabled_at = NULL WHERE id = ?1",
        params![staff.to_string(), secret],
    )?;
    Ok(())
}

pub fn enable_totp(conn: &Conn, staff: Uuid, now: OffsetDateTime) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE staff SET totp_enabled_at = ?2 WHERE id = ?1 AND totp_secret IS NOT NULL",
        params![staff.to_string(), to_unix(now)],
    )?;
    Ok(())
}

/// A staff session; `csrf_hash` for cookie sessions (the web console).
pub fn insert_staff_session(
    conn: &Conn,
    token_hash: &[u8],
    csrf_hash: Option<&[u8]>,
    staff: Uuid,
    now: OffsetDateTime,
    expires: OffsetDateTime,
) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO staff_sessions (token_hash, staff_id, created_at, expires_at, csrf_hash) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![token_hash, staff.to_string(), to_unix(now), to_unix(expires), csrf_hash],
    )?;
    Ok(())
}

/// The staff member of a live session, and the session's CSRF token hash (cookie sessions).
/// A staff session that is not revoked, of an account that is not disabled: the account, the
/// session's CSRF hash (web sessions) and when it expires (the caller tells expired apart).
pub fn staff_of_session(
    conn: &Conn,
    token_hash: &[u8],
) -> Result<(Staff, Option<Vec<u8>>, OffsetDateTime), StorageError> {
    // staff and staff_sessions share no column name, so the columns need no alias.
    conn.query_row(
        &format!(
            "SELECT {STAFF_COLUMNS}, t.csrf_hash, t.expires_at FROM staff_sessions t JOIN staff s ON s.id = t.staff_id
             WHERE t.token_hash = ?1 AND t.revoked_at IS NULL AND s.disabled_at IS NULL"
        ),
        params![token_hash],
        |r| Ok((staff_row(r)?, r.get(11)?, from_unix(r.get(12)?))),
    )
    .found()?
    .ok_or(StorageError::NotFound)
}

/// Spend an authenticator time step: true if it is later than every step spent before (a
/// code works once, RFC 6238 §5.2), false if it was used already.
pub fn spend_totp_step(conn: &Conn, staff: Uuid, step: u64) -> Result<bool, StorageError> {
    let changed = conn.execute(
        "UPDATE staff SET totp_last_step = ?2
         WHERE id = ?1 AND (totp_last_step IS NULL OR totp_last_step < ?2)",
        params![staff.to_string(), step as i64],
    )?;
    Ok(changed == 1)
}

pub fn revoke_staff_session(
    conn: &Conn,
    token_hash: &[u8],
    now: OffsetDateTime,
) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE staff_sessions SET revoked_at = ?2 WHERE token_hash = ?1",
        params![token_hash, to_unix(now)],
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Windows and publishing

pub fn windows(conn: &Conn, district: &str) -> Result<DistrictWindows, StorageError> {
    conn.query_row(
        "SELECT upload_opens_at, upload_closes_at, site_review_opens_at, site_review_closes_at,
                district_review_opens_at, district_review_closes_at
         FROM districts WHERE code = ?1",
        [district],
        |r| {
            Ok(DistrictWindows {
                upload_opens_at: from_unix(r.get(0)?),
                upload_closes_at: from_unix(r.get(1)?),
                site_review_opens_at: from_unix(r.get(2)?),
                site_review_closes_at: from_unix(r.get(3)?),
                district_review_opens_at: from_unix(r.get(4)?),
                district_review_closes_at: from_unix(r.get(5)?),
            })
        },
    )
    .found()?
    .ok_or(StorageError::NotFound)
}

pub fn set_windows(conn: &Conn, district: &str, w: &DistrictWindows) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE districts SET upload_opens_at = ?2, upload_closes_at = ?3, site_review_opens_at = ?4,
             site_review_closes_at = ?5, district_review_opens_at = ?6, district_review_closes_at = ?7
         WHERE code = ?1",
        params![
            district,
            to_unix(w.upload_opens_at),
            to_unix(w.upload_closes_at),
            to_unix(w.site_review_opens_at),
            to_unix(w.site_review_closes_at),
            to_unix(w.district_review_opens_at),
            to_unix(w.district_review_closes_at)
        ],
    )?;
    Ok(())
}

pub fn results_published_at(
    conn: &Conn,
    district: &str,
) -> Result<Option<OffsetDateTime>, StorageError> {
    let at: Option<i64> = conn.query_row(
        "SELECT results_published_at FROM districts WHERE code = ?1",
        [district],
        |r| r.get(0),
    )?;
    Ok(at.map(from_unix))
}

pub fn publish_results(
    conn: &Conn,
    district: &str,
    now: OffsetDateTime,
) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE districts SET results_published_at = ?2 WHERE code = ?1",
        params![district, to_unix(now)],
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reviews, claims and queues

#[derive(Debug, Clone)]
pub struct ReviewRow {
    pub candidate_id: Uuid,
    pub district: String,
    pub exam_site: String,
    pub stage: ReviewStage,
    pub state: ReviewState,
    pub resubmitted: bool,
    pub entered_at: OffsetDateTime,
    pub claimed_by: Option<Uuid>,
    pub claim_expires_at: Option<OffsetDateTime>,
    pub result_reason: Option<String>,
    pub decided_at: Option<OffsetDateTime>,
}

impl ReviewRow {
    /// The claim, unless it has expired.
    pub fn live_claim(&self, now: OffsetDateTime) -> Option<(Uuid, OffsetDateTime)> {
        match (self.claimed_by, self.claim_expires_at) {
            (Some(by), Some(until)) if until > now => Some((by, until)),
            _ => None,
        }
    }
}

const REVIEW_COLUMNS: &str = "candidate_id, district, exam_site, stage, state, resubmitted, entered_at, \
     claimed_by, claim_expires_at, result_reason, decided_at";

fn review_row(r: &Row<'_>) -> rusqlite::Result<ReviewRow> {
    review_row_at(r, 0)
}

/// A review row whose `REVIEW_COLUMNS` start at column `at`.
fn review_row_at(r: &Row<'_>, at: usize) -> rusqlite::Result<ReviewRow> {
    Ok(ReviewRow {
        candidate_id: uuid_of(r.get(at)?)?,
        district: r.get(at + 1)?,
        exam_site: r.get(at + 2)?,
        stage: enum_of(r.get(at + 3)?)?,
        state: enum_of(r.get(at + 4)?)?,
        resubmitted: r.get(at + 5)?,
        entered_at: from_unix(r.get(at + 6)?),
        claimed_by: r
            .get::<_, Option<String>>(at + 7)?
            .map(uuid_of)
            .transpose()?,
        claim_expires_at: r.get::<_, Option<i64>>(at + 8)?.map(from_unix),
        result_reason: r.get(at + 9)?,
        decided_at: r.get::<_, Option<i64>>(at + 10)?.map(from_unix),
    })
}

pub fn review(conn: &Conn, candidate: Uuid) -> Result<Option<ReviewRow>, StorageError> {
    conn.query_row(
        &format!("SELECT {REVIEW_COLUMNS} FROM reviews WHERE candidate_id = ?1"),
        [candidate.to_string()],
        review_row,
    )
    .found()
}

/// A (re)submission: the dossier enters the queue of the stage that returned it (the site's, the
/// first time), and its version goes up.
pub fn enter_review(
    conn: &Conn,
    candidate: Uuid,
    district: &str,
    exam_site: &str,
    now: OffsetDateTime,
) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE candidates SET version = version + 1 WHERE id = ?1",
        [candidate.to_string()],
    )?;
    conn.execute(
        "INSERT INTO reviews (candidate_id, district, exam_site, stage, state, resubmitted, entered_at)
         VALUES (?1, ?2, ?3, 'site', 'waiting', 0, ?4)
         ON CONFLICT(candidate_id) DO UPDATE SET state = 'waiting', resubmitted = 1, entered_at = ?4,
             claimed_by = NULL, claim_expires_at = NULL",
        params![candidate.to_string(), district, exam_site, to_unix(now)],
    )?;
    Ok(())
}

pub fn candidate_version(conn: &Conn, candidate: Uuid) -> Result<u32, StorageError> {
    conn.query_row(
        "SELECT version FROM candidates WHERE id = ?1",
        [candidate.to_string()],
        |r| r.get(0),
    )
}

pub fn set_claim(
    conn: &Conn,
    candidate: Uuid,
    claim: Option<(Uuid, OffsetDateTime)>,
) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE reviews SET claimed_by = ?2, claim_expires_at = ?3 WHERE candidate_id = ?1",
        params![
            candidate.to_string(),
            claim.map(|(s, _)| s.to_string()),
            claim.map(|(_, t)| to_unix(t))
        ],
    )?;
    Ok(())
}

/// Move the review after a decision; the claim ends with it.
pub fn set_review_state(
    conn: &Conn,
    candidate: Uuid,
    stage: ReviewStage,
    state: ReviewState,
    reason: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), StorageError> {
    // A new stage starts a new wait (and forgets "resubmitted"); SET sees the old row's values.
    conn.execute(
        "UPDATE reviews SET stage = ?2, state = ?3, result_reason = ?4, decided_at = ?5,
             claimed_by = NULL, claim_expires_at = NULL,
             entered_at = CASE WHEN stage != ?2 THEN ?5 ELSE entered_at END,
             resubmitted = CASE WHEN stage != ?2 THEN 0 ELSE resubmitted END
         WHERE candidate_id = ?1",
        params![
            candidate.to_string(),
            enum_text(stage),
            enum_text(state),
            reason,
            to_unix(now)
        ],
    )?;
    Ok(())
}

/// Who may see what: a district, and for site reviewers one exam site of it.
#[derive(Debug, Clone)]
pub struct Scope {
    pub district: String,
    pub exam_site: Option<String>,
}

#[derive(Debug, Clone)]
pub struct QueueFilter {
    pub stage: ReviewStage,
    pub state: Option<ReviewState>,
    /// Narrow to one site (district roles); a site reviewer's scope fixes it.
    pub exam_site: Option<String>,
    pub resubmitted_only: bool,
    /// Only dossiers with an ID-card finding (see `analysis`).
    pub with_findings: bool,
    /// Candidates whose username starts with it, whose name contains it, or whose ID number is it
    /// or ends with it: its last four characters (what the mask shows), or for a caller who sees
    /// whole ID numbers (`whole_id_numbers`) any four or more.
    pub search: Option<String>,
    /// Whether the caller sees whole ID numbers; otherwise a suffix search longer than the mask's
    /// four would reveal the masked digits one by one.
    pub whole_id_numbers: bool,
    pub offset: u32,
    pub limit: u32,
}

#[derive(Debug, Clone)]
pub struct QueueRow {
    pub review: ReviewRow,
    pub username: String,
    pub name: String,
    pub id_number: String,
    pub claimed_by_username: Option<String>,
}

/// The WHERE clause of a queue and its parameters. Only the filters given appear in it, so
/// SQLite picks the index that matches them (an `?x IS NULL OR col = ?x` term would hide the
/// column from the planner and scan the whole district).
fn queue_condition(scope: &Scope, filter: &QueueFilter) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value;
    let mut sql = String::from("r.district = ? AND r.stage = ?");
    let mut values = vec![
        Value::Text(scope.district.clone()),
        Value::Text(enum_text(filter.stage)),
    ];
    if let Some(site) = scope.exam_site.as_ref().or(filter.exam_site.as_ref()) {
        sql.push_str(" AND r.exam_site = ?");
        values.push(Value::Text(site.clone()));
    }
    if let Some(state) = filter.state {
        sql.push_str(" AND r.state = ?");
        values.push(Value::Text(enum_text(state)));
    }
    if filter.resubmitted_only {
        sql.push_str(" AND r.resubmitted = 1");
    }
    if filter.with_findings {
        // A card's finding, or a document also uploaded to a dossier the viewer may open (a
        // reuse whose other half lies outside the scope is not shown, so not filtered on).
        sql.push_str(
            " AND (r.candidate_id IN (SELECT i.candidate_id FROM analyses a \
             JOIN images i ON i.id = a.image_id WHERE a.flagged = 1 AND i.deleted_at IS NULL) \
             OR r.candidate_id IN (SELECT i.candidate_id FROM reused_documents u \
             JOIN images i ON i.id = u.image_id AND i.deleted_at IS NULL \
             JOIN images o ON o.id = u.other_image_id AND o.deleted_at IS NULL \
             JOIN reviews ro ON ro.candidate_id = o.candidate_id \
             WHERE ro.district = r.district",
        );
        if let Some(site) = scope.exam_site.as_ref() {
            sql.push_str(" AND ro.exam_site = ?");
            values.push(Value::Text(site.clone()));
        }
        sql.push_str("))");
    }
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        // LIKE with its wildcards escaped: what the reviewer typed is matched literally.
        let literal = search
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let suffix = if filter.whole_id_numbers {
            ">= 4"
        } else {
            "= 4"
        };
        sql.push_str(&format!(
            " AND r.candidate_id IN (SELECT c.id FROM candidates c WHERE c.district = ? AND \
             (c.username LIKE ? ESCAPE '\\' OR c.name LIKE ? ESCAPE '\\' OR c.id_number = ? \
              OR (length(?) {suffix} AND c.id_number LIKE ? ESCAPE '\\')))",
        ));
        values.push(Value::Text(scope.district.clone()));
        values.push(Value::Text(format!("{literal}%")));
        values.push(Value::Text(format!("%{literal}%")));
        values.push(Value::Text(search.to_uppercase()));
        values.push(Value::Text(search.to_string()));
        values.push(Value::Text(format!("%{}", literal.to_uppercase())));
    }
    (sql, values)
}

/// The exam sites of a district's roster, for the queue's site filter.
pub fn exam_sites(conn: &Conn, district: &str) -> Result<Vec<String>, StorageError> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT exam_site FROM candidates WHERE district = ?1 ORDER BY exam_site",
    )?;
    let sites = stmt
        .query_map([district], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(sites)
}

/// One page of a queue, waiting longest first, and the number of entries matching the filter.
pub fn queue_page(
    conn: &Conn,
    scope: &Scope,
    filter: &QueueFilter,
    now: OffsetDateTime,
) -> Result<(u64, Vec<QueueRow>), StorageError> {
    let (condition, mut values) = queue_condition(scope, filter);
    let total: u64 = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM reviews r WHERE {condition}"))?
        .query_row(values.as_slice(), |r| r.get(0))?;
    let cols = aliased(REVIEW_COLUMNS, "r");
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {cols}, c.username, c.name, c.id_number,
                CASE WHEN r.claim_expires_at > ? THEN s.username END
         FROM reviews r JOIN candidates c ON c.id = r.candidate_id
         LEFT JOIN staff s ON s.id = r.claimed_by
         WHERE {condition}
         ORDER BY r.entered_at, r.candidate_id LIMIT ? OFFSET ?"
    ))?;
    values.insert(0, to_unix(now).into());
    values.push(i64::from(filter.limit).into());
    values.push(i64::from(filter.offset).into());
    let rows = stmt
        .query_map(values.as_slice(), |r| {
            Ok(QueueRow {
                review: review_row(r)?,
                username: r.get(11)?,
                name: r.get(12)?,
                id_number: r.get(13)?,
                claimed_by_username: r.get(14)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok((total, rows))
}

/// Per state counts of a stage within the scope (and site filter): (waiting, returned, pending,
/// resubmitted and waiting), read from covering indexes (`reviews_counts`, `reviews_by_site_state`).
pub fn queue_counts(
    conn: &Conn,
    scope: &Scope,
    stage: ReviewStage,
    exam_site: Option<&str>,
) -> Result<(u64, u64, u64, u64), StorageError> {
    let filter = QueueFilter {
        stage,
        state: None,
        exam_site: exam_site.map(String::from),
        resubmitted_only: false,
        with_findings: false,
        search: None,
        whole_id_numbers: false,
        offset: 0,
        limit: 0,
    };
    let (condition, values) = queue_condition(scope, &filter);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT r.state, r.resubmitted, COUNT(*) FROM reviews r WHERE {condition}
         GROUP BY r.state, r.resubmitted"
    ))?;
    let groups = stmt.query_map(values.as_slice(), |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, bool>(1)?,
            r.get::<_, u64>(2)?,
        ))
    })?;
    let (mut waiting, mut returned, mut pending, mut resubmitted) = (0, 0, 0, 0);
    for group in groups {
        let (state, again, n) = group?;
        match state.as_str() {
            "waiting" => {
                waiting += n;
                if again {
                    resubmitted += n;
                }
            }
            "returned" => returned += n,
            "pending" => pending += n,
            _ => {}
        }
    }
    Ok((waiting, returned, pending, resubmitted))
}

/// A candidate of the roster and their review, if they ever submitted: the export's line, and
/// what publishing reads.
#[derive(Debug, Clone)]
pub struct ExportLine {
    pub exam_site: String,
    pub username: String,
    pub name: String,
    pub id_number: String,
    pub exam_category: String,
    pub dossier_state: DossierState,
    pub review: Option<ReviewRow>,
}

/// Every candidate of a district (optionally one site), submitted or not.
pub fn export_lines(
    conn: &Conn,
    district: &str,
    exam_site: Option<&str>,
) -> Result<Vec<ExportLine>, StorageError> {
    let cols = aliased(REVIEW_COLUMNS, "r");
    let mut stmt = conn.prepare(&format!(
        "SELECT c.exam_site, c.username, c.name, c.id_number, c.exam_category, c.dossier_state,
                r.candidate_id IS NOT NULL, {cols}
         FROM candidates c LEFT JOIN reviews r ON r.candidate_id = c.id
         WHERE c.district = ?1 AND (CAST(?2 AS TEXT) IS NULL OR c.exam_site = ?2)
         ORDER BY c.exam_site, c.username"
    ))?;
    let rows = stmt
        .query_map(params![district, exam_site], |r| {
            let reviewed: bool = r.get(6)?;
            Ok(ExportLine {
                exam_site: r.get(0)?,
                username: r.get(1)?,
                name: r.get(2)?,
                id_number: r.get(3)?,
                exam_category: r.get(4)?,
                dossier_state: enum_of(r.get(5)?)?,
                review: if reviewed {
                    Some(review_row_at(r, 7)?)
                } else {
                    None
                },
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

// ---------------------------------------------------------------------------------------------
// Decisions

#[derive(Debug, Clone)]
pub struct DecisionRow {
    pub stage: ReviewStage,
    pub version: u32,
    pub staff_username: String,
    pub category: Option<String>,
    pub decision: String,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub at: OffsetDateTime,
}

/// One decision as it is recorded: a material's verdict (`category`) or the dossier's outcome.
#[derive(Debug, Clone, Copy)]
pub struct NewDecision<'a> {
    pub candidate: Uuid,
    pub stage: ReviewStage,
    /// The submission it was made on (`candidates.version`).
    pub version: u32,
    pub staff: Uuid,
    /// The material decided; None for the dossier's outcome.
    pub category: Option<&'a str>,
    pub decision: &'a str,
    pub reason: Option<&'a str>,
    pub message: Option<&'a str>,
    pub at: OffsetDateTime,
}

pub fn insert_decision(conn: &Conn, d: &NewDecision<'_>) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO decisions (candidate_id, stage, version, staff_id, category, decision, reason, message, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            d.candidate.to_string(),
            enum_text(d.stage),
            d.version,
            d.staff.to_string(),
            d.category,
            d.decision,
            d.reason,
            d.message,
            to_unix(d.at)
        ],
    )?;
    Ok(())
}

/// The materials whose latest verdict at `stage` was an approval and which are still approved
/// (not returned by the other stage since): after a resubmission they keep that verdict.
pub fn approved_at_stage(
    conn: &Conn,
    candidate: Uuid,
    stage: ReviewStage,
) -> Result<Vec<String>, StorageError> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.category FROM decisions d
         JOIN materials m ON m.candidate_id = d.candidate_id AND m.category = d.category
         WHERE d.candidate_id = ?1 AND d.stage = ?2 AND d.decision = 'approve'
           AND m.state = 'approved'
           AND d.id = (SELECT MAX(l.id) FROM decisions l WHERE l.candidate_id = d.candidate_id
                       AND l.stage = d.stage AND l.category = d.category)",
    )?;
    let rows = stmt
        .query_map(params![candidate.to_string(), enum_text(stage)], |r| {
            r.get(0)
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

pub fn decisions(conn: &Conn, candidate: Uuid) -> Result<Vec<DecisionRow>, StorageError> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.stage, d.version, s.username, d.category, d.decision, d.reason, d.message, d.at
         FROM decisions d JOIN staff s ON s.id = d.staff_id
         WHERE d.candidate_id = ?1 ORDER BY d.id",
    )?;
    let rows = stmt
        .query_map([candidate.to_string()], |r| {
            Ok(DecisionRow {
                stage: enum_of(r.get(0)?)?,
                version: r.get(1)?,
                staff_username: r.get(2)?,
                category: r.get(3)?,
                decision: r.get(4)?,
                reason: r.get(5)?,
                message: r.get(6)?,
                at: from_unix(r.get(7)?),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

// ---------------------------------------------------------------------------------------------
// Audit: a hash chain

/// One audit entry: who did what to which dossier or material, when, from where.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub at: OffsetDateTime,
    pub actor: String,
    pub action: String,
    pub candidate: Option<Uuid>,
    pub category: Option<String>,
    pub detail: String,
    pub ip: Option<String>,
}

/// Every entry is built the same way: `AuditEntry::new(at, actor, action)`, then what it is
/// about, then `append` inside the transaction of what it records.
impl AuditEntry {
    pub fn new(at: OffsetDateTime, actor: &str, action: &str) -> AuditEntry {
        AuditEntry {
            at,
            actor: actor.into(),
            action: action.into(),
            candidate: None,
            category: None,
            detail: String::new(),
            ip: None,
        }
    }

    /// The candidate whose dossier it concerns.
    pub fn candidate(mut self, id: Uuid) -> AuditEntry {
        self.candidate = Some(id);
        self
    }

    /// The material (category code) it concerns.
    pub fn category(mut self, code: &str) -> AuditEntry {
        self.category = Some(code.into());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> AuditEntry {
        self.detail = detail.into();
        self
    }

    /// The address the request came from.
    pub fn ip(mut self, ip: Option<&str>) -> AuditEntry {
        self.ip = ip.map(String::from);
        self
    }

    /// Chain the entry onto the trail, in the caller's transaction.
    pub fn append(&self, tx: &Conn) -> Result<(), StorageError> {
        append_audit(tx, self)
    }
}

fn canonical(seq: i64, e: &AuditEntry) -> String {
    serde_json::json!([
        seq,
        to_unix(e.at),
        e.actor,
        e.action,
        e.candidate.map(|c| c.to_string()),
        e.category,
        e.detail,
        e.ip
    ])
    .to_string()
}

fn chain(prev: &[u8], seq: i64, e: &AuditEntry) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(canonical(seq, e).as_bytes());
    h.finalize().to_vec()
}

/// Append an entry to the chain (inside the transaction of what it records).
pub fn append_audit(conn: &Conn, e: &AuditEntry) -> Result<(), StorageError> {
    let (last, prev): (i64, Vec<u8>) = conn
        .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .found()?
        .unwrap_or((0, vec![0u8; 32]));
    let seq = last + 1;
    let hash = chain(&prev, seq, e);
    conn.execute(
        "INSERT INTO audit (seq, at, actor, action, candidate_id, category, detail, ip, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            seq,
            to_unix(e.at),
            e.actor,
            e.action,
            e.candidate.map(|c| c.to_string()),
            e.category,
            e.detail,
            e.ip,
            prev,
            hash
        ],
    )?;
    conn.execute(
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?1, ?2)
         ON CONFLICT(id) DO UPDATE SET seq = ?1, hash = ?2",
        params![seq, hash],
    )?;
    Ok(())
}

fn audit_row(r: &Row<'_>) -> rusqlite::Result<(i64, AuditEntry, Vec<u8>, Vec<u8>)> {
    Ok((
        r.get(0)?,
        AuditEntry {
            at: from_unix(r.get(1)?),
            actor: r.get(2)?,
            action: r.get(3)?,
            candidate: r.get::<_, Option<String>>(4)?.map(uuid_of).transpose()?,
            category: r.get(5)?,
            detail: r.get(6)?,
            ip: r.get(7)?,
        },
        r.get(8)?,
        r.get(9)?,
    ))
}

const AUDIT_COLUMNS: &str =
    "seq, at, actor, action, candidate_id, category, detail, ip, prev_hash, hash";

/// A dossier's audit trail, oldest first.
pub fn audit_of(conn: &Conn, candidate: Uuid) -> Result<Vec<(i64, AuditEntry)>, StorageError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {AUDIT_COLUMNS} FROM audit WHERE candidate_id = ?1 ORDER BY seq"
    ))?;
    let rows = stmt
        .query_map([candidate.to_string()], audit_row)?
        .map(|r| r.map(|(seq, e, _, _)| (seq, e)))
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditBreak {
    #[error("entry {0} was edited (its hash does not match its content)")]
    Edited(i64),
    #[error("an entry before {0} was removed (the chain skips)")]
    Removed(i64),
    #[error("entries after {0} were removed (the head says {1})")]
    Truncated(i64, i64),
}

/// Walk the whole chain; the number of entries, or the first break.
pub fn verify_audit(conn: &Conn) -> Result<Result<i64, AuditBreak>, StorageError> {
    let mut prev = vec![0u8; 32];
    let mut expected = 1i64;
    let mut broken = None;
    conn.for_each(
        &format!("SELECT {AUDIT_COLUMNS} FROM audit ORDER BY seq"),
        [],
        |row| {
            let (seq, entry, prev_hash, hash) = audit_row(row)?;
            if seq != expected || prev_hash != prev {
                broken = Some(AuditBreak::Removed(seq));
            } else if chain(&prev, seq, &entry) != hash {
                broken = Some(AuditBreak::Edited(seq));
            } else {
                prev = hash;
                expected += 1;
            }
            Ok(broken.is_none())
        },
    )?;
    if let Some(b) = broken {
        return Ok(Err(b));
    }
    let last = expected - 1;
    let head: Option<(i64, Vec<u8>)> = conn
        .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .found()?;
    match head {
        Some((seq, hash)) if seq != last || hash != prev => {
            Ok(Err(AuditBreak::Truncated(last, seq)))
        }
        None if last > 0 => Ok(Err(AuditBreak::Truncated(last, 0))),
        _ => Ok(Ok(last)),
    }
}
