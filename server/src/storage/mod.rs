//! Storage: the metadata store (SQLite or PostgreSQL, `db`, every statement run through `sql::Conn`)
//! and the blob store (a folder or an S3-compatible object store, `blobs`). It owns every SQL
//! statement, the transactions and the migrations of both databases; nothing above it writes SQL.
pub mod analysis;
pub mod blobs;
pub mod db;
pub mod migrations;
pub mod ops;
pub mod outbox;
pub mod postgres;
pub mod review;
pub mod sql;

use dossier_core::api::{
    DocumentKind, DossierState, MaterialState, MessageKind, Requirement, Subject,
};
use dossier_core::domain::{CandidateAttributes, Condition};
use rusqlite::params;
use serde::{Serialize, de::DeserializeOwned};
use sql::{Conn, Row};
use time::OffsetDateTime;
use uuid::Uuid;

pub use blobs::BlobStore;
pub use db::Db;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database: {}", postgres_message(.0))]
    Postgres(#[from] ::postgres::Error),
    /// No connection to the database could be had in time.
    #[error("database: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("disk: {0}")]
    Io(#[from] std::io::Error),
    #[error("not found")]
    NotFound,
    /// The object store failed or could not be reached.
    #[error("object store: {0}")]
    Objects(String),
    #[error("stored data is malformed: {0}")]
    Malformed(String),
    #[error("background task failed: {0}")]
    Task(String),
    /// Too many writes waiting: try again after this long.
    #[error("busy")]
    Busy { retry_after_secs: u64 },
}

impl StorageError {
    /// The disk or the database is full, failing or held (as opposed to a bug or a missing
    /// row): answered 503 with Retry-After, never as a refusal of the caller.
    pub fn is_disk_trouble(&self) -> bool {
        match self {
            StorageError::Io(_) | StorageError::Objects(_) | StorageError::Pool(_) => true,
            // The server went away, refused the connection, ran out of room or connections, or
            // shut down (SQLSTATE classes 08, 53, 57, 58); or no answer came at all.
            StorageError::Postgres(e) => match e.code() {
                None => e.as_db_error().is_none(),
                Some(code) => ["08", "53", "57", "58"]
                    .iter()
                    .any(|c| code.code().starts_with(c)),
            },
            StorageError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => matches!(
                f.code,
                rusqlite::ErrorCode::DiskFull
                    | rusqlite::ErrorCode::SystemIoFailure
                    | rusqlite::ErrorCode::CannotOpen
                    | rusqlite::ErrorCode::ReadOnly
                    | rusqlite::ErrorCode::DatabaseBusy
                    | rusqlite::ErrorCode::DatabaseLocked
                    | rusqlite::ErrorCode::DatabaseCorrupt
                    | rusqlite::ErrorCode::NotADatabase
            ),
            _ => false,
        }
    }
}

/// PostgreSQL's own words for a refusal (its SQLSTATE and message), which the client's `Display`
/// leaves out ("db error").
fn postgres_message(e: &::postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// A lookup whose missing row is an answer (`Ok(None)`), not a failure. Disk or database trouble
/// stays an error, so it is never mistaken for "no such account" (a failed sign-in, a 401).
pub trait Found<T> {
    fn found(self) -> Result<Option<T>, StorageError>;
}

impl<T> Found<T> for Result<T, StorageError> {
    fn found(self) -> Result<Option<T>, StorageError> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(StorageError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Conversions: times are unix seconds, enums their snake_case wire names, lists JSON.

pub fn to_unix(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

/// Due and lease times are kept in milliseconds (retries back off by less than a second).
pub fn millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn from_unix(s: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(s).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub fn enum_text<T: Serialize>(value: T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        other => panic!("not a unit enum: {other:?}"),
    }
}

pub fn text_enum<T: DeserializeOwned>(text: &str) -> Result<T, StorageError> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|_| StorageError::Malformed(format!("unknown value {text:?}")))
}

fn json<T: DeserializeOwned>(text: &str) -> Result<T, StorageError> {
    serde_json::from_str(text).map_err(|e| StorageError::Malformed(e.to_string()))
}

fn malformed(e: StorageError) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
}

/// A UUID column, inside a row mapper.
fn uuid_of(text: String) -> rusqlite::Result<Uuid> {
    Uuid::parse_str(&text).map_err(|e| malformed(StorageError::Malformed(e.to_string())))
}

/// An enum column (its snake_case wire name), inside a row mapper.
fn enum_of<T: DeserializeOwned>(text: String) -> rusqlite::Result<T> {
    text_enum(&text).map_err(malformed)
}

/// `columns` ("a, b") with a table alias ("r.a, r.b"), for queries that join.
fn aliased(columns: &str, alias: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------------
// Districts and the catalogue

#[derive(Debug, Clone)]
pub struct District {
    pub code: String,
    pub name: String,
    pub sms_sign: String,
    pub ticket_secret: Vec<u8>,
    pub upload_opens_at: OffsetDateTime,
    pub upload_closes_at: OffsetDateTime,
}

pub fn upsert_district(conn: &Conn, d: &District) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO districts (code, name, sms_sign, ticket_secret, upload_opens_at, upload_closes_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(code) DO UPDATE SET name = ?2, sms_sign = ?3, ticket_secret = ?4,
             upload_opens_at = ?5, upload_closes_at = ?6",
        params![d.code, d.name, d.sms_sign, d.ticket_secret, to_unix(d.upload_opens_at), to_unix(d.upload_closes_at)],
    )?;
    Ok(())
}

pub fn district(conn: &Conn, code: &str) -> Result<District, StorageError> {
    conn.query_row(
        "SELECT code, name, sms_sign, ticket_secret, upload_opens_at, upload_closes_at FROM districts WHERE code = ?1",
        [code],
        |r| {
            Ok(District {
                code: r.get(0)?,
                name: r.get(1)?,
                sms_sign: r.get(2)?,
                ticket_secret: r.get(3)?,
                upload_opens_at: from_unix(r.get(4)?),
                upload_closes_at: from_unix(r.get(5)?),
            })
        },
    )
    .found()?
    .ok_or(StorageError::NotFound)
}

/// Set the upload window of a district.
pub fn set_upload_window(
    conn: &Conn,
    code: &str,
    opens: OffsetDateTime,
    closes: OffsetDateTime,
) -> Result<(), StorageError> {
    let n = conn.execute(
        "UPDATE districts SET upload_opens_at = ?2, upload_closes_at = ?3 WHERE code = ?1",
        params![code, to_unix(opens), to_unix(closes)],
    )?;
    if n == 0 {
        Err(StorageError::NotFound)
    } else {
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct CategoryRow {
    pub code: String,
    pub position: i64,
    pub name: String,
    pub description: String,
    pub has_example: bool,
    pub requirement: Requirement,
    pub condition: Option<Condition>,
    pub condition_text: Option<String>,
    pub min_images: u32,
    pub max_images: u32,
    pub slot_labels: Vec<String>,
    pub document: DocumentKind,
    pub subject: Subject,
}

pub fn upsert_category(
    conn: &Conn,
    district: &str,
    c: &CategoryRow,
    example: Option<(&[u8], &str)>,
) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO categories (district, code, position, name, description, example_image, example_content_type,
             requirement, condition_json, condition_text, min_images, max_images, slot_labels_json, document,
             subject)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
         ON CONFLICT(district, code) DO UPDATE SET position = ?3, name = ?4, description = ?5,
             example_image = ?6, example_content_type = ?7, requirement = ?8, condition_json = ?9,
             condition_text = ?10, min_images = ?11, max_images = ?12, slot_labels_json = ?13, document = ?14,
             subject = ?15",
        params![
            district,
            c.code,
            c.position,
            c.name,
            c.description,
            example.map(|e| e.0),
            example.map(|e| e.1),
            enum_text(c.requirement),
            c.condition.as_ref().map(|c| serde_json::to_string(c).expect("serialisable")),
            c.condition_text,
            c.min_images,
            c.max_images,
            serde_json::to_string(&c.slot_labels).expect("serialisable"),
            enum_text(c.document),
            enum_text(c.subject),
        ],
    )?;
    Ok(())
}

const CATEGORY_COLUMNS: &str = "code, position, name, description, example_image IS NOT NULL,
    requirement, condition_json, condition_text, min_images, max_images, slot_labels_json, document,
    subject";

fn category_row(r: &Row) -> rusqlite::Result<CategoryRow> {
    let condition: Option<String> = r.get(6)?;
    Ok(CategoryRow {
        code: r.get(0)?,
        position: r.get(1)?,
        name: r.get(2)?,
        description: r.get(3)?,
        has_example: r.get(4)?,
        requirement: text_enum(&r.get::<_, String>(5)?).map_err(malformed)?,
        condition: condition
            .as_deref()
            .map(json)
            .transpose()
            .map_err(malformed)?,
        condition_text: r.get(7)?,
        min_images: r.get(8)?,
        max_images: r.get(9)?,
        slot_labels: json(&r.get::<_, String>(10)?).map_err(malformed)?,
        document: text_enum(&r.get::<_, String>(11)?).map_err(malformed)?,
        subject: text_enum(&r.get::<_, String>(12)?).map_err(malformed)?,
    })
}

/// A district's catalogue, in its order.
pub fn categories(conn: &Conn, district: &str) -> Result<Vec<CategoryRow>, StorageError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CATEGORY_COLUMNS} FROM categories WHERE district = ?1 ORDER BY position, code"
    ))?;
    let rows = stmt.query_map([district], category_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One category of a district, if it has one by that code (an upload needs no other).
pub fn category(
    conn: &Conn,
    district: &str,
    code: &str,
) -> Result<Option<CategoryRow>, StorageError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CATEGORY_COLUMNS} FROM categories WHERE district = ?1 AND code = ?2"
    ))?;
    stmt.query_row([district, code], category_row).found()
}

/// Change a category's words, rule and counts (not its example, code or position).
pub fn update_category(conn: &Conn, district: &str, c: &CategoryRow) -> Result<(), StorageError> {
    let changed = conn.execute(
        "UPDATE categories SET name = ?3, description = ?4, requirement = ?5, condition_text = ?6,
             min_images = ?7, max_images = ?8
         WHERE district = ?1 AND code = ?2",
        params![
            district,
            c.code,
            c.name,
            c.description,
            enum_text(c.requirement),
            c.condition_text,
            c.min_images,
            c.max_images,
        ],
    )?;
    if changed == 0 {
        return Err(StorageError::NotFound);
    }
    Ok(())
}

pub fn set_category_example(
    conn: &Conn,
    district: &str,
    code: &str,
    image: &[u8],
    content_type: &str,
) -> Result<(), StorageError> {
    let changed = conn.execute(
        "UPDATE categories SET example_image = ?3, example_content_type = ?4
         WHERE district = ?1 AND code = ?2",
        params![district, code, image, content_type],
    )?;
    if changed == 0 {
        return Err(StorageError::NotFound);
    }
    Ok(())
}

pub fn category_example(
    conn: &Conn,
    district: &str,
    code: &str,
) -> Result<(Vec<u8>, String), StorageError> {
    conn.query_row(
        "SELECT example_image, example_content_type FROM categories
         WHERE district = ?1 AND code = ?2 AND example_image IS NOT NULL",
        [district, code],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .found()?
    .ok_or(StorageError::NotFound)
}

// ---------------------------------------------------------------------------------------------
// Candidates

/// One line of the registration system's roster.
#[derive(Debug, Clone)]
pub struct RosterEntry {
    pub username: String,
    pub name: String,
    pub id_number: String,
    pub exam_category: String,
    pub district: String,
    pub exam_site: String,
    pub mobile: Option<String>,
    pub attributes: CandidateAttributes,
}

#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: Uuid,
    pub district: String,
    pub username: String,
    pub name: String,
    pub id_number: String,
    pub exam_category: String,
    pub exam_site: String,
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub attributes: CandidateAttributes,
    pub password_hash: Option<String>,
    pub security_question: Option<String>,
    pub security_answer_hash: Option<String>,
    pub activated_at: Option<OffsetDateTime>,
    pub dossier_state: DossierState,
    pub submitted_at: Option<OffsetDateTime>,
}

impl Candidate {
    /// Attributes the requirement rules see: the roster's extra columns plus `exam_category`.
    pub fn rule_attributes(&self) -> CandidateAttributes {
        let mut a = self.attributes.clone();
        a.insert("exam_category".into(), self.exam_category.clone());
        a
    }
}

/// Insert or update a roster line (the registration system's data wins; passwords stay).
/// Returns whether the candidate is new.
pub fn upsert_roster_entry(conn: &Conn, e: &RosterEntry) -> Result<bool, StorageError> {
    let existing: Option<String> = conn
        .query_row(
            "SELECT id FROM candidates WHERE username = ?1",
            [&e.username],
            |r| r.get(0),
        )
        .found()?;
    let attributes = serde_json::to_string(&e.attributes).expect("serialisable");
    match existing {
        Some(id) => {
            conn.execute(
                "UPDATE candidates SET district = ?2, name = ?3, id_number = ?4, exam_category = ?5, exam_site = ?6,
                     mobile = COALESCE(mobile, ?7), attributes_json = ?8 WHERE id = ?1",
                params![id, e.district, e.name, e.id_number, e.exam_category, e.exam_site, e.mobile, attributes],
            )?;
            Ok(false)
        }
        None => {
            conn.execute(
                "INSERT INTO candidates (id, district, username, name, id_number, exam_category, exam_site, mobile, attributes_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    Uuid::new_v4().to_string(),
                    e.district,
                    e.username,
                    e.name,
                    e.id_number,
                    e.exam_category,
                    e.exam_site,
                    e.mobile,
                    attributes
                ],
            )?;
            Ok(true)
        }
    }
}

const CANDIDATE_COLUMNS: &str = "id, district, username, name, id_number, exam_category, exam_site, mobile, email,
    attributes_json, password_hash, security_question, security_answer_hash, activated_at, dossier_state, submitted_at";

fn candidate_row(r: &Row<'_>) -> rusqlite::Result<Candidate> {
    let id: String = r.get(0)?;
    Ok(Candidate {
        id: Uuid::parse_str(&id).map_err(|e| malformed(StorageError::Malformed(e.to_string())))?,
        district: r.get(1)?,
        username: r.get(2)?,
        name: r.get(3)?,
        id_number: r.get(4)?,
        exam_category: r.get(5)?,
        exam_site: r.get(6)?,
        mobile: r.get(7)?,
        email: r.get(8)?,
        attributes: json(&r.get::<_, String>(9)?).map_err(malformed)?,
        password_hash: r.get(10)?,
        security_question: r.get(11)?,
        security_answer_hash: r.get(12)?,
        activated_at: r.get::<_, Option<i64>>(13)?.map(from_unix),
        dossier_state: text_enum(&r.get::<_, String>(14)?).map_err(malformed)?,
        submitted_at: r.get::<_, Option<i64>>(15)?.map(from_unix),
    })
}

pub fn candidate_by_username(conn: &Conn, username: &str) -> Result<Candidate, StorageError> {
    conn.query_row(
        &format!("SELECT {CANDIDATE_COLUMNS} FROM candidates WHERE username = ?1"),
        [username],
        candidate_row,
    )
    .found()?
    .ok_or(StorageError::NotFound)
}

pub fn candidate_by_id(conn: &Conn, id: Uuid) -> Result<Candidate, StorageError> {
    conn.query_row(
        &format!("SELECT {CANDIDATE_COLUMNS} FROM candidates WHERE id = ?1"),
        [id.to_string()],
        candidate_row,
    )
    .found()?
    .ok_or(StorageError::NotFound)
}

pub struct Activation<'a> {
    pub password_hash: &'a str,
    pub security_question: &'a str,
    pub security_answer_hash: &'a str,
    pub at: OffsetDateTime,
}

/// Record activation: credentials and the time both pledges were accepted.
pub fn activate(conn: &Conn, id: Uuid, a: &Activation<'_>) -> Result<(), StorageError> {
    let at = to_unix(a.at);
    conn.execute(
        "UPDATE candidates SET password_hash = ?2, security_question = ?3, security_answer_hash = ?4,
             activated_at = ?5, pledge_truthfulness_at = ?5, pledge_discipline_at = ?5 WHERE id = ?1",
        params![id.to_string(), a.password_hash, a.security_question, a.security_answer_hash, at],
    )?;
    Ok(())
}

pub fn set_password(conn: &Conn, id: Uuid, password_hash: &str) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE candidates SET password_hash = ?2 WHERE id = ?1",
        params![id.to_string(), password_hash],
    )?;
    Ok(())
}

pub fn update_profile(
    conn: &Conn,
    id: Uuid,
    mobile: Option<&str>,
    email: Option<&str>,
) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE candidates SET mobile = COALESCE(?2, mobile), email = COALESCE(?3, email) WHERE id = ?1",
        params![id.to_string(), mobile, email],
    )?;
    Ok(())
}

pub fn set_dossier_state(
    conn: &Conn,
    id: Uuid,
    state: DossierState,
    submitted_at: Option<OffsetDateTime>,
) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE candidates SET dossier_state = ?2, submitted_at = COALESCE(?3, submitted_at) WHERE id = ?1",
        params![id.to_string(), enum_text(state), submitted_at.map(to_unix)],
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Materials and images

#[derive(Debug, Clone)]
pub struct MaterialRow {
    pub category: String,
    pub state: MaterialState,
    pub note_reason: Option<String>,
    pub note_message: Option<String>,
    pub note_at: Option<OffsetDateTime>,
}

pub fn materials(conn: &Conn, candidate: Uuid) -> Result<Vec<MaterialRow>, StorageError> {
    let mut stmt = conn.prepare_cached(
        "SELECT category, state, note_reason, note_message, note_at FROM materials WHERE candidate_id = ?1",
    )?;
    let rows = stmt.query_map([candidate.to_string()], |r| {
        Ok(MaterialRow {
            category: r.get(0)?,
            state: text_enum(&r.get::<_, String>(1)?).map_err(malformed)?,
            note_reason: r.get(2)?,
            note_message: r.get(3)?,
            note_at: r.get::<_, Option<i64>>(4)?.map(from_unix),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The state of one material; one never written is `Open`.
pub fn material_state(
    conn: &Conn,
    candidate: Uuid,
    category: &str,
) -> Result<MaterialState, StorageError> {
    let state: Option<String> = conn
        .query_row(
            "SELECT state FROM materials WHERE candidate_id = ?1 AND category = ?2",
            [candidate.to_string(), category.to_string()],
            |r| r.get(0),
        )
        .found()?;
    state.map_or(Ok(MaterialState::Open), |s| text_enum(&s))
}

pub fn set_material_state(
    conn: &Conn,
    candidate: Uuid,
    category: &str,
    state: MaterialState,
) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO materials (candidate_id, category, state) VALUES (?1, ?2, ?3)
         ON CONFLICT(candidate_id, category) DO UPDATE SET state = ?3",
        params![candidate.to_string(), category, enum_text(state)],
    )?;
    Ok(())
}

/// A reviewer's return: the material unlocks and carries the note (used by the review workflow).
pub fn return_material(
    conn: &Conn,
    candidate: Uuid,
    category: &str,
    reason: &str,
    message: &str,
    at: OffsetDateTime,
) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO materials (candidate_id, category, state, note_reason, note_message, note_at)
         VALUES (?1, ?2, 'returned', ?3, ?4, ?5)
         ON CONFLICT(candidate_id, category) DO UPDATE SET state = 'returned', note_reason = ?3, note_message = ?4, note_at = ?5",
        params![candidate.to_string(), category, reason, message, to_unix(at)],
    )?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct ImageRow {
    pub id: Uuid,
    pub candidate_id: Uuid,
    pub category: String,
    pub slot: u32,
    pub sha256: String,
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
    pub content_type: String,
    pub uploaded_at: OffsetDateTime,
    pub deleted_at: Option<OffsetDateTime>,
    /// The Idempotency-Key it was uploaded with.
    pub upload_key: Option<Uuid>,
    /// When it was first submitted (a reviewer may have seen it); None for a draft.
    pub submitted_at: Option<OffsetDateTime>,
}

const IMAGE_COLUMNS: &str = "id, candidate_id, category, slot, sha256, bytes, width, height, content_type, uploaded_at, deleted_at, upload_key, submitted_at";

fn image_row(r: &Row<'_>) -> rusqlite::Result<ImageRow> {
    Ok(ImageRow {
        id: uuid_of(r.get(0)?)?,
        candidate_id: uuid_of(r.get(1)?)?,
        category: r.get(2)?,
        slot: r.get(3)?,
        sha256: r.get(4)?,
        bytes: r.get(5)?,
        width: r.get(6)?,
        height: r.get(7)?,
        content_type: r.get(8)?,
        uploaded_at: from_unix(r.get(9)?),
        deleted_at: r.get::<_, Option<i64>>(10)?.map(from_unix),
        upload_key: r
            .get::<_, Option<String>>(11)?
            .and_then(|k| Uuid::parse_str(&k).ok()),
        submitted_at: r.get::<_, Option<i64>>(12)?.map(from_unix),
    })
}

/// Submitting: every live image not submitted before is from now on one a reviewer sees.
pub fn mark_images_submitted(
    conn: &Conn,
    candidate: Uuid,
    now: OffsetDateTime,
) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE images SET submitted_at = ?2
         WHERE candidate_id = ?1 AND deleted_at IS NULL AND submitted_at IS NULL",
        params![candidate.to_string(), to_unix(now)],
    )?;
    Ok(())
}

/// The live (not deleted) images of a candidate, by category and slot.
pub fn live_images(conn: &Conn, candidate: Uuid) -> Result<Vec<ImageRow>, StorageError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {IMAGE_COLUMNS} FROM images WHERE candidate_id = ?1 AND deleted_at IS NULL ORDER BY category, slot"
    ))?;
    let rows = stmt.query_map([candidate.to_string()], image_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every image a candidate ever uploaded, deleted and replaced ones too (the reviewers' history).
pub fn images_of(conn: &Conn, candidate: Uuid) -> Result<Vec<ImageRow>, StorageError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {IMAGE_COLUMNS} FROM images WHERE candidate_id = ?1 ORDER BY category, uploaded_at DESC, slot"
    ))?;
    let rows = stmt.query_map([candidate.to_string()], image_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn image(conn: &Conn, id: Uuid) -> Result<ImageRow, StorageError> {
    conn.query_row(
        &format!("SELECT {IMAGE_COLUMNS} FROM images WHERE id = ?1"),
        [id.to_string()],
        image_row,
    )
    .found()?
    .ok_or(StorageError::NotFound)
}

pub fn insert_image(conn: &Conn, i: &ImageRow) -> Result<(), StorageError> {
    conn.execute(
        &format!("INSERT INTO images ({IMAGE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL, ?11, NULL)"),
        params![
            i.id.to_string(),
            i.candidate_id.to_string(),
            i.category,
            i.slot,
            i.sha256,
            i.bytes,
            i.width,
            i.height,
            i.content_type,
            to_unix(i.uploaded_at),
            i.upload_key.map(|k| k.to_string())
        ],
    )?;
    Ok(())
}

pub fn mark_image_deleted(conn: &Conn, id: Uuid, at: OffsetDateTime) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE images SET deleted_at = ?2 WHERE id = ?1 AND deleted_at IS NULL",
        params![id.to_string(), to_unix(at)],
    )?;
    Ok(())
}

/// Is any image row (live or deleted) stored under this hash? For the blob sweeper.
pub fn blob_referenced(conn: &Conn, sha256: &str) -> Result<bool, StorageError> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM images WHERE sha256 = ?1)",
        [sha256],
        |r| r.get(0),
    )
}

/// Every stored hash, for integrity checks and backups.
pub fn all_image_hashes(conn: &Conn) -> Result<Vec<String>, StorageError> {
    let mut stmt = conn.prepare("SELECT DISTINCT sha256 FROM images")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

// ---------------------------------------------------------------------------------------------
// Idempotency keys

#[derive(Debug, Clone)]
pub struct IdempotentUpload {
    pub request_sha256: String,
    pub response_json: String,
    /// The category the first upload with this key went to.
    pub category: String,
}

pub fn idempotent_upload(
    conn: &Conn,
    candidate: Uuid,
    key: &str,
) -> Result<Option<IdempotentUpload>, StorageError> {
    conn.query_row(
        "SELECT k.request_sha256, k.response_json, i.category
             FROM idempotency k JOIN images i ON i.id = k.image_id
             WHERE k.candidate_id = ?1 AND k.key = ?2",
        [candidate.to_string(), key.to_string()],
        |r| {
            Ok(IdempotentUpload {
                request_sha256: r.get(0)?,
                response_json: r.get(1)?,
                category: r.get(2)?,
            })
        },
    )
    .found()
}

pub fn record_idempotent_upload(
    conn: &Conn,
    candidate: Uuid,
    key: &str,
    request_sha256: &str,
    image: Uuid,
    response_json: &str,
    at: OffsetDateTime,
) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO idempotency (candidate_id, key, request_sha256, image_id, response_json, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![candidate.to_string(), key, request_sha256, image.to_string(), response_json, to_unix(at)],
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Messages

#[derive(Debug, Clone)]
pub struct MessageRow {
    pub id: Uuid,
    pub kind: MessageKind,
    pub title: String,
    pub body: String,
    pub categories: Vec<String>,
    pub created_at: OffsetDateTime,
    pub read_at: Option<OffsetDateTime>,
}

pub fn insert_message(conn: &Conn, candidate: Uuid, m: &MessageRow) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO messages (id, candidate_id, kind, title, body, categories_json, created_at, read_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            m.id.to_string(),
            candidate.to_string(),
            enum_text(m.kind),
            m.title,
            m.body,
            serde_json::to_string(&m.categories).expect("serialisable"),
            to_unix(m.created_at),
            m.read_at.map(to_unix)
        ],
    )?;
    Ok(())
}

/// Newest first (ties: the later insert first).
pub fn messages(conn: &Conn, candidate: Uuid) -> Result<Vec<MessageRow>, StorageError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, kind, title, body, categories_json, created_at, read_at FROM messages
         WHERE candidate_id = ?1 ORDER BY created_at DESC, rowid DESC",
    )?;
    let rows = stmt.query_map([candidate.to_string()], |r| {
        Ok(MessageRow {
            id: Uuid::parse_str(&r.get::<_, String>(0)?)
                .map_err(|e| malformed(StorageError::Malformed(e.to_string())))?,
            kind: text_enum(&r.get::<_, String>(1)?).map_err(malformed)?,
            title: r.get(2)?,
            body: r.get(3)?,
            categories: json(&r.get::<_, String>(4)?).map_err(malformed)?,
            created_at: from_unix(r.get(5)?),
            read_at: r.get::<_, Option<i64>>(6)?.map(from_unix),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn unread_messages(conn: &Conn, candidate: Uuid) -> Result<u32, StorageError> {
    conn.query_row(
        "SELECT COUNT(*) FROM messages WHERE candidate_id = ?1 AND read_at IS NULL",
        [candidate.to_string()],
        |r| r.get(0),
    )
}

/// Mark one of the candidate's messages read; `NotFound` if it is not theirs.
pub fn mark_message_read(
    conn: &Conn,
    candidate: Uuid,
    id: Uuid,
    at: OffsetDateTime,
) -> Result<(), StorageError> {
    let n = conn.execute(
        "UPDATE messages SET read_at = COALESCE(read_at, ?3) WHERE id = ?1 AND candidate_id = ?2",
        params![id.to_string(), candidate.to_string(), to_unix(at)],
    )?;
    if n == 0 {
        Err(StorageError::NotFound)
    } else {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Sessions, tickets, throttling, push tokens

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
    Web,
    Activation,
}

impl TokenKind {
    fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
            TokenKind::Web => "web",
            TokenKind::Activation => "activation",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SessionRow {
    pub candidate_id: Uuid,
    pub family: Uuid,
    pub csrf_hash: Option<Vec<u8>>,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

/// A session token as it is stored (hashed), for `insert_token`.
#[derive(Debug, Clone, Copy)]
pub struct NewToken<'a> {
    pub token_hash: &'a [u8],
    pub kind: TokenKind,
    pub candidate: Uuid,
    /// The sign-in it descends from (a refresh rotates within its family).
    pub family: Uuid,
    pub csrf_hash: Option<&'a [u8]>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

pub fn insert_token(conn: &Conn, t: &NewToken<'_>) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO sessions (token_hash, kind, candidate_id, family, csrf_hash, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![t.token_hash, t.kind.as_str(), t.candidate.to_string(), t.family.to_string(), t.csrf_hash, to_unix(t.created_at), to_unix(t.expires_at)],
    )?;
    Ok(())
}

pub fn token(conn: &Conn, token_hash: &[u8], kind: TokenKind) -> Result<SessionRow, StorageError> {
    conn.query_row(
        "SELECT candidate_id, family, csrf_hash, expires_at, used_at, revoked_at FROM sessions
         WHERE token_hash = ?1 AND kind = ?2",
        params![token_hash, kind.as_str()],
        |r| {
            Ok(SessionRow {
                candidate_id: uuid_of(r.get(0)?)?,
                family: uuid_of(r.get(1)?)?,
                csrf_hash: r.get(2)?,
                expires_at: from_unix(r.get(3)?),
                used_at: r.get::<_, Option<i64>>(4)?.map(from_unix),
                revoked_at: r.get::<_, Option<i64>>(5)?.map(from_unix),
            })
        },
    )
    .found()?
    .ok_or(StorageError::NotFound)
}

pub fn mark_token_used(
    conn: &Conn,
    token_hash: &[u8],
    at: OffsetDateTime,
) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE sessions SET used_at = ?2 WHERE token_hash = ?1",
        params![token_hash, to_unix(at)],
    )?;
    Ok(())
}

/// Revoke every token of a session family (sign-out, or a reused refresh token).
pub fn revoke_family(conn: &Conn, family: Uuid, at: OffsetDateTime) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?2) WHERE family = ?1",
        params![family.to_string(), to_unix(at)],
    )?;
    Ok(())
}

/// Revoke the tokens of one kind in a family (the access token, when its refresh token rotates).
pub fn revoke_family_tokens(
    conn: &Conn,
    family: Uuid,
    kind: TokenKind,
    at: OffsetDateTime,
) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?3) WHERE family = ?1 AND kind = ?2",
        params![family.to_string(), kind.as_str(), to_unix(at)],
    )?;
    Ok(())
}

/// Revoke every session of a candidate (a new password was set).
pub fn revoke_candidate_sessions(
    conn: &Conn,
    candidate: Uuid,
    at: OffsetDateTime,
) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?2) WHERE candidate_id = ?1",
        params![candidate.to_string(), to_unix(at)],
    )?;
    Ok(())
}

/// Remember a ticket as used; `false` if it was used before.
pub fn use_ticket(
    conn: &Conn,
    mac: &[u8],
    expires_at: OffsetDateTime,
) -> Result<bool, StorageError> {
    let n = conn.execute(
        "INSERT INTO used_tickets (mac, expires_at) VALUES (?1, ?2) ON CONFLICT(mac) DO NOTHING",
        params![mac, to_unix(expires_at)],
    )?;
    Ok(n == 1)
}

/// A throttle row (keyed by account-and-address or by address; the column keeps its old name).
pub fn throttle(conn: &Conn, username: &str) -> Result<(u32, OffsetDateTime), StorageError> {
    Ok(conn
        .query_row(
            "SELECT failures, locked_until FROM login_throttle WHERE username = ?1",
            [username],
            |r| Ok((r.get(0)?, from_unix(r.get(1)?))),
        )
        .found()?
        .unwrap_or((0, OffsetDateTime::UNIX_EPOCH)))
}

pub fn set_throttle(
    conn: &Conn,
    username: &str,
    failures: u32,
    locked_until: OffsetDateTime,
) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO login_throttle (username, failures, locked_until) VALUES (?1, ?2, ?3)
         ON CONFLICT(username) DO UPDATE SET failures = ?2, locked_until = ?3",
        params![username, failures, to_unix(locked_until)],
    )?;
    Ok(())
}

pub fn clear_throttle(conn: &Conn, key: &str) -> Result<(), StorageError> {
    conn.execute("DELETE FROM login_throttle WHERE username = ?1", [key])?;
    Ok(())
}

/// Delete every throttle of one account (all addresses), e.g. when its password is reset.
pub fn clear_account_throttles(
    conn: &Conn,
    audience: &str,
    username: &str,
) -> Result<(), StorageError> {
    conn.execute(
        "DELETE FROM login_throttle WHERE substr(username, 1, ?1) = ?2",
        params![
            audience.len() + username.len() + 2,
            format!("{audience}:{username}@")
        ],
    )?;
    Ok(())
}

/// Delete the throttles whose last delay ended before `before`.
pub fn forget_throttles(conn: &Conn, before: OffsetDateTime) -> Result<(), StorageError> {
    conn.execute(
        "DELETE FROM login_throttle WHERE locked_until < ?1",
        [to_unix(before)],
    )?;
    Ok(())
}

pub fn upsert_push_token(
    conn: &Conn,
    candidate: Uuid,
    platform: &str,
    token: &str,
    at: OffsetDateTime,
) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO push_tokens (platform, token, candidate_id, registered_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(platform, token) DO UPDATE SET candidate_id = ?3, registered_at = ?4",
        params![platform, token, candidate.to_string(), to_unix(at)],
    )?;
    Ok(())
}
