//! SQL of the analysis jobs: one row per stored ID-card image, queued in the upload's transaction
//! (`enqueue`), taken by a worker with a lease (`claim_due`) and ended with what was read
//! (`finish`) or a retry later (`retry`, `give_up`). A row whose lease ran out (its worker died
//! or the process restarted) is taken again, so every job runs to its end once.
use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{StorageError, millis, uuid_of};

/// A job taken by a worker: the image and what the reading is compared against later.
#[derive(Debug, Clone)]
pub struct AnalysisJob {
    pub image: Uuid,
    pub sha256: String,
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
pub fn enqueue(conn: &Connection, image: Uuid, now: OffsetDateTime) -> Result<(), StorageError> {
    conn.execute(
        "INSERT OR IGNORE INTO analyses (image_id, state, due_at, created_at)
         VALUES (?1, 'pending', ?2, ?3)",
        params![image.to_string(), millis(now), now.unix_timestamp()],
    )?;
    Ok(())
}

/// Take up to `limit` due jobs (and any whose lease ran out) until `lease_until`. Jobs of images
/// deleted since they were queued are dropped: nobody will look at what they show.
pub fn claim_due(
    conn: &Connection,
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
        let sha256: String = conn.query_row(
            "SELECT sha256 FROM images WHERE id = ?1",
            [image.to_string()],
            |r| r.get(0),
        )?;
        jobs.push(AnalysisJob {
            image,
            sha256,
            attempts,
        });
    }
    Ok(jobs)
}

/// Whether any job is due (a read, so an idle worker never takes the writer).
pub fn any_due(conn: &Connection, now: OffsetDateTime) -> Result<bool, StorageError> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM analyses WHERE state = 'pending' AND due_at <= ?1)
             OR EXISTS (SELECT 1 FROM analyses WHERE state = 'running' AND leased_until <= ?1)",
        [millis(now)],
        |r| r.get(0),
    )?)
}

/// What was read, and whether it shows a finding (for the queue's filter).
pub fn finish(
    conn: &Connection,
    image: Uuid,
    reading_json: &str,
    flagged: bool,
    now: OffsetDateTime,
) -> Result<(), StorageError> {
    conn.execute(
        "UPDATE analyses SET state = 'done', reading_json = ?2, flagged = ?3, error = NULL,
                leased_until = NULL, finished_at = ?4 WHERE image_id = ?1",
        params![
            image.to_string(),
            reading_json,
            flagged,
            now.unix_timestamp()
        ],
    )?;
    Ok(())
}

/// The slot an analysed image sits in and its candidate's registered name and ID number.
pub fn roster_of(conn: &Connection, image: Uuid) -> Result<(u32, String, String), StorageError> {
    Ok(conn.query_row(
        "SELECT i.slot, c.name, c.id_number FROM images i JOIN candidates c ON c.id = i.candidate_id
         WHERE i.id = ?1",
        [image.to_string()],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?)
}

/// Try again at `due` (the engine failed or timed out).
pub fn retry(
    conn: &Connection,
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
    conn: &Connection,
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
pub fn of_images(
    conn: &Connection,
    images: &[Uuid],
) -> Result<HashMap<Uuid, AnalysisRow>, StorageError> {
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
            .optional()?;
        if let Some(row) = row {
            out.insert(*image, row);
        }
    }
    Ok(out)
}

/// Jobs waiting or running (the metrics' queue depth).
pub fn depth(conn: &Connection) -> Result<u64, StorageError> {
    Ok(conn.query_row(
        "SELECT count(*) FROM analyses WHERE state IN ('pending', 'running')",
        [],
        |r| r.get(0),
    )?)
}
