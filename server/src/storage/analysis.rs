//! SQL of the analysis jobs: one row per stored document image, queued in the upload's
//! transaction (`enqueue`), taken by a worker with a lease (`claim_due`) and ended with what was
//! read (`finish`) or a retry later (`retry`, `give_up`). A row whose lease ran out (its worker
//! died or the process restarted) is taken again, so every job runs to its end once. The
//! fingerprints of reused documents live here too (`record_marks`, `reused_of`).
use std::collections::HashMap;

use rusqlite::params;
use time::OffsetDateTime;
use uuid::Uuid;

use dossier_core::api::DocumentKind;

use super::sql::Conn;
use super::{Found, StorageError, millis, text_enum, uuid_of};

/// A job taken by a worker: the image, what its category says it shows, and its tries so far.
#[derive(Debug, Clone)]
pub struct AnalysisJob {
    pub image: Uuid,
    pub sha256: String,
    pub document: DocumentKind,
    pub attempts: u32,
}

/// Where an image's analysis stands, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisRow {
    pub state: String,
    /// What was read (`analysis::CardReading` as JSON), once done.
    pub reading_json: Option<String>,
}

/// Queue the analysis of a stored image (in the upload's transaction).
pub fn enqueue(conn: &Conn, image: Uuid, now: OffsetDateTime) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO analyses (image_id, state, due_at, created_at)
         VALUES (?1, 'pending', ?2, ?3) ON CONFLICT DO NOTHING",
        params![image.to_string(), millis(now), now.unix_timestamp()],
    )?;
    Ok(())
}

/// Take up to `limit` due jobs (and any whose lease ran out) until `lease_until`. Jobs of images
/// deleted since they were queued are dropped: nobody will look at what they show.
pub fn claim_due(
    conn: &Conn,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
    limit: usize,
) -> Result<Vec<AnalysisJob>, StorageError> {
    conn.execute(
        "DELETE FROM analyses WHERE state IN ('pending', 'running') AND EXISTS
             (SELECT 1 FROM images i WHERE i.id = analyses.image_id AND i.deleted_at IS NOT NULL)",
        [],
    )?;
    let mut stmt = conn.prepare(
        "UPDATE analyses SET state = 'running', leased_until = ?2, attempts = attempts + 1
         WHERE image_id IN (
             SELECT image_id FROM analyses WHERE state = 'pending' AND due_at <= ?1
             UNION ALL
             SELECT image_id FROM analyses WHERE state = 'running' AND leased_until <= ?1
             LIMIT ?3)
         RETURNING image_id, attempts",
    )?;
    let taken = stmt
        .query_map(
            params![millis(now), millis(lease_until), limit as i64],
            |r| Ok((uuid_of(r.get(0)?)?, r.get::<_, u32>(1)?)),
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut jobs = Vec::with_capacity(taken.len());
    for (image, attempts) in taken {
        let (sha256, document): (String, String) = conn.query_row(
            "SELECT i.sha256, k.document FROM images i
               JOIN candidates c ON c.id = i.candidate_id
               JOIN categories k ON k.district = c.district AND k.code = i.category
              WHERE i.id = ?1",
            [image.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        jobs.push(AnalysisJob {
            image,
            sha256,
            document: text_enum(&document)?,
            attempts,
        });
    }
    Ok(jobs)
}

/// Whether any job is due (a read, so an idle worker never takes the writer).
pub fn any_due(conn: &Conn, now: OffsetDateTime) -> Result<bool, StorageError> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM analyses WHERE state = 'pending' AND due_at <= ?1)
             OR EXISTS (SELECT 1 FROM analyses WHERE state = 'running' AND leased_until <= ?1)",
        [millis(now)],
        |r| r.get(0),
    )
}

/// What was read, whether it shows a finding of the card (for the queue's filter) and the page's
/// perceptual hash.
pub fn finish(
    conn: &Conn,
    image: Uuid,
    reading_json: &str,
    flagged: bool,
    phash: u64,
    now: OffsetDateTime,
) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE analyses SET state = 'done', reading_json = ?2, flagged = ?3, error = NULL,
                leased_until = NULL, finished_at = ?4, phash = ?5 WHERE image_id = ?1",
        params![
            image.to_string(),
            reading_json,
            flagged,
            now.unix_timestamp(),
            phash as i64
        ],
    )?;
    Ok(())
}

/// Another candidate's live image that shares a mark with the one analysed.
#[derive(Debug, Clone)]
pub struct MarkedImage {
    pub image: Uuid,
    pub mark: String,
    pub phash: Option<u64>,
    /// Other candidates (besides the analysed image's) whose live images carry this mark.
    pub carriers: u32,
}

/// Keep the marks read off `image` and return the other candidates' live images in the same
/// district that carry one of them (analysed ones, with their hash).
pub fn record_marks(
    conn: &Conn,
    image: Uuid,
    marks: &[String],
) -> Result<Vec<MarkedImage>, StorageError> {
    let id = image.to_string();
    conn.execute("DELETE FROM document_marks WHERE image_id = ?1", [&id])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO document_marks (mark, image_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?;
    let mut others = conn.prepare_cached(
        "SELECT o.id, m.mark, a.phash,
                (SELECT count(DISTINCT oi.candidate_id) FROM document_marks om
                   JOIN images oi ON oi.id = om.image_id AND oi.deleted_at IS NULL
                   JOIN candidates oc ON oc.id = oi.candidate_id
                  WHERE om.mark = m.mark AND oc.district = c.district
                    AND oi.candidate_id != i.candidate_id)
           FROM images i
           JOIN candidates c ON c.id = i.candidate_id
           JOIN document_marks m ON m.mark = ?2
           JOIN images o ON o.id = m.image_id AND o.deleted_at IS NULL
                         AND o.candidate_id != i.candidate_id
           JOIN candidates oc ON oc.id = o.candidate_id AND oc.district = c.district
           JOIN analyses a ON a.image_id = o.id AND a.state = 'done'
          WHERE i.id = ?1",
    )?;
    let mut found = Vec::new();
    for mark in marks {
        insert.execute(params![mark, id])?;
        let rows = others.query_map(params![id, mark], |r| {
            Ok(MarkedImage {
                image: uuid_of(r.get(0)?)?,
                mark: r.get(1)?,
                phash: r.get::<_, Option<i64>>(2)?.map(|h| h as u64),
                carriers: r.get(3)?,
            })
        })?;
        for row in rows {
            found.push(row?);
        }
    }
    Ok(found)
}

/// `image` and `other` show the same document: kept both ways, so each dossier shows the other.
pub fn pair_reused(
    conn: &Conn,
    image: Uuid,
    other: Uuid,
    mark: &str,
    now: OffsetDateTime,
) -> Result<(), StorageError> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO reused_documents (image_id, other_image_id, mark, found_at)
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
    )?;
    insert.execute(params![
        image.to_string(),
        other.to_string(),
        mark,
        now.unix_timestamp()
    ])?;
    insert.execute(params![
        other.to_string(),
        image.to_string(),
        mark,
        now.unix_timestamp()
    ])?;
    Ok(())
}

/// A live image elsewhere showing the same document as one of the images asked about.
#[derive(Debug, Clone)]
pub struct ReusedRow {
    pub candidate: Uuid,
    pub name: String,
    pub exam_site: String,
    pub category: String,
    pub image: Uuid,
}

/// For each of `images`, the live images of submitted dossiers within `district` (and
/// `exam_site`, when given) that show the same document: what a reviewer of that scope may open.
pub fn reused_of(
    conn: &Conn,
    images: &[Uuid],
    district: &str,
    exam_site: Option<&str>,
) -> Result<HashMap<Uuid, Vec<ReusedRow>>, StorageError> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.id, c.name, r.exam_site, o.category, o.id FROM reused_documents u
           JOIN images o ON o.id = u.other_image_id AND o.deleted_at IS NULL
           JOIN candidates c ON c.id = o.candidate_id
           JOIN reviews r ON r.candidate_id = c.id
          WHERE u.image_id = ?1 AND r.district = ?2 AND (CAST(?3 AS TEXT) IS NULL OR r.exam_site = ?3)
          ORDER BY c.name, o.category, o.slot",
    )?;
    let mut out = HashMap::new();
    for image in images {
        let rows = stmt
            .query_map(params![image.to_string(), district, exam_site], |r| {
                Ok(ReusedRow {
                    candidate: uuid_of(r.get(0)?)?,
                    name: r.get(1)?,
                    exam_site: r.get(2)?,
                    category: r.get(3)?,
                    image: uuid_of(r.get(4)?)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if !rows.is_empty() {
            out.insert(*image, rows);
        }
    }
    Ok(out)
}

/// The slot an analysed image sits in and its candidate's registered name and ID number.
pub fn roster_of(conn: &Conn, image: Uuid) -> Result<(u32, String, String), StorageError> {
    conn.query_row(
        "SELECT i.slot, c.name, c.id_number FROM images i JOIN candidates c ON c.id = i.candidate_id
         WHERE i.id = ?1",
        [image.to_string()],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
}

/// Try again at `due` (the engine failed or timed out).
pub fn retry(
    conn: &Conn,
    image: Uuid,
    error: &str,
    due: OffsetDateTime,
) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE analyses SET state = 'pending', error = ?2, due_at = ?3, leased_until = NULL
         WHERE image_id = ?1",
        params![image.to_string(), error, millis(due)],
    )?;
    Ok(())
}

/// Stop trying: the reviewer reads the image as before.
pub fn give_up(
    conn: &Conn,
    image: Uuid,
    error: &str,
    now: OffsetDateTime,
) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE analyses SET state = 'failed', error = ?2, leased_until = NULL, finished_at = ?3
         WHERE image_id = ?1",
        params![image.to_string(), error, now.unix_timestamp()],
    )?;
    Ok(())
}

/// The analyses of these images (those that have one).
pub fn of_images(conn: &Conn, images: &[Uuid]) -> Result<HashMap<Uuid, AnalysisRow>, StorageError> {
    let mut stmt =
        conn.prepare_cached("SELECT state, reading_json FROM analyses WHERE image_id = ?1")?;
    let mut out = HashMap::new();
    for image in images {
        let row = stmt
            .query_row([image.to_string()], |r| {
                Ok(AnalysisRow {
                    state: r.get(0)?,
                    reading_json: r.get(1)?,
                })
            })
            .found()?;
        if let Some(row) = row {
            out.insert(*image, row);
        }
    }
    Ok(out)
}

/// Jobs waiting or running (the metrics' queue depth).
pub fn depth(conn: &Conn) -> Result<u64, StorageError> {
    conn.query_row(
        "SELECT count(*) FROM analyses WHERE state IN ('pending', 'running')",
        [],
        |r| r.get(0),
    )
}
