//! Numbered migrations, tracked in `PRAGMA user_version`. Append; never edit a released one.
use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    // 1: districts, catalogue, candidates and their dossiers, uploads, messages, sessions.
    r#"
    CREATE TABLE districts (
        code TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        -- 【考区单位名称】 of the SMS text
        sms_sign TEXT NOT NULL,
        -- HMAC key shared with the registration system for entry tickets
        ticket_secret BLOB NOT NULL,
        upload_opens_at INTEGER NOT NULL,
        upload_closes_at INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE categories (
        district TEXT NOT NULL REFERENCES districts(code),
        code TEXT NOT NULL,
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        description TEXT NOT NULL,
        example_image BLOB,
        example_content_type TEXT,
        requirement TEXT NOT NULL,
        condition_json TEXT,
        condition_text TEXT,
        min_images INTEGER NOT NULL,
        max_images INTEGER NOT NULL,
        slot_labels_json TEXT NOT NULL DEFAULT '[]',
        document TEXT NOT NULL,
        PRIMARY KEY (district, code)
    ) STRICT;

    CREATE TABLE candidates (
        id TEXT PRIMARY KEY,
        district TEXT NOT NULL REFERENCES districts(code),
        username TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        id_number TEXT NOT NULL,
        exam_category TEXT NOT NULL,
        exam_site TEXT NOT NULL,
        mobile TEXT,
        email TEXT,
        attributes_json TEXT NOT NULL,
        password_hash TEXT,
        security_question TEXT,
        security_answer_hash TEXT,
        activated_at INTEGER,
        pledge_truthfulness_at INTEGER,
        pledge_discipline_at INTEGER,
        dossier_state TEXT NOT NULL DEFAULT 'draft',
        submitted_at INTEGER
    ) STRICT;

    CREATE TABLE materials (
        candidate_id TEXT NOT NULL REFERENCES candidates(id),
        category TEXT NOT NULL,
        state TEXT NOT NULL,
        note_reason TEXT,
        note_message TEXT,
        note_at INTEGER,
        PRIMARY KEY (candidate_id, category)
    ) STRICT;

    CREATE TABLE images (
        id TEXT PRIMARY KEY,
        candidate_id TEXT NOT NULL REFERENCES candidates(id),
        category TEXT NOT NULL,
        slot INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        content_type TEXT NOT NULL,
        uploaded_at INTEGER NOT NULL,
        -- deleted or replaced images stay for the reviewers' history
        deleted_at INTEGER
    ) STRICT;
    CREATE UNIQUE INDEX images_live_slot ON images(candidate_id, category, slot) WHERE deleted_at IS NULL;
    CREATE INDEX images_sha256 ON images(sha256);

    -- kept as long as the dossier: an offline phone may retry days later
    CREATE TABLE idempotency (
        candidate_id TEXT NOT NULL REFERENCES candidates(id),
        key TEXT NOT NULL,
        request_sha256 TEXT NOT NULL,
        image_id TEXT NOT NULL,
        response_json TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (candidate_id, key)
    ) STRICT;

    CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        candidate_id TEXT NOT NULL REFERENCES candidates(id),
        kind TEXT NOT NULL,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        categories_json TEXT NOT NULL DEFAULT '[]',
        created_at INTEGER NOT NULL,
        read_at INTEGER
    ) STRICT;
    CREATE INDEX messages_by_candidate ON messages(candidate_id, created_at);

    -- opaque tokens, stored as SHA-256; kind: access | refresh | web | activation
    CREATE TABLE sessions (
        token_hash BLOB PRIMARY KEY,
        kind TEXT NOT NULL,
        candidate_id TEXT NOT NULL REFERENCES candidates(id),
        family TEXT NOT NULL,
        csrf_hash BLOB,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at INTEGER,
        revoked_at INTEGER
    ) STRICT;
    CREATE INDEX sessions_family ON sessions(family);

    CREATE TABLE used_tickets (
        mac BLOB PRIMARY KEY,
        expires_at INTEGER NOT NULL
    ) STRICT;

    -- per username, known or not, so both answer alike
    CREATE TABLE login_throttle (
        username TEXT PRIMARY KEY,
        failures INTEGER NOT NULL,
        locked_until INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE push_tokens (
        platform TEXT NOT NULL,
        token TEXT NOT NULL,
        candidate_id TEXT NOT NULL REFERENCES candidates(id),
        registered_at INTEGER NOT NULL,
        PRIMARY KEY (platform, token)
    ) STRICT;
    "#,
    // 2: the idempotency key an image arrived with, so a phone can match its queued items to the
    // server's images without sending them again.
    r#"
    ALTER TABLE images ADD COLUMN upload_key TEXT;
    "#,
    // 3: review: staff and their sessions, the review of each submitted dossier, decisions, the
    // district's review windows and publishing, the hash-chained audit log, the notification
    // outbox.
    r#"
    ALTER TABLE districts ADD COLUMN site_review_opens_at INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE districts ADD COLUMN site_review_closes_at INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE districts ADD COLUMN district_review_opens_at INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE districts ADD COLUMN district_review_closes_at INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE districts ADD COLUMN results_published_at INTEGER;
    -- counts submissions; decisions name the version they were made on
    ALTER TABLE candidates ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

    CREATE TABLE staff (
        id TEXT PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        district TEXT NOT NULL REFERENCES districts(code),
        exam_site TEXT,
        password_hash TEXT NOT NULL,
        totp_secret BLOB,
        totp_enabled_at INTEGER,
        totp_required INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        disabled_at INTEGER
    ) STRICT;

    CREATE TABLE staff_sessions (
        token_hash BLOB PRIMARY KEY,
        staff_id TEXT NOT NULL REFERENCES staff(id),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        revoked_at INTEGER
    ) STRICT;

    -- one row per submitted dossier; district and exam_site copied for the queue's indexes
    CREATE TABLE reviews (
        candidate_id TEXT PRIMARY KEY REFERENCES candidates(id),
        district TEXT NOT NULL,
        exam_site TEXT NOT NULL,
        stage TEXT NOT NULL,
        state TEXT NOT NULL,
        resubmitted INTEGER NOT NULL DEFAULT 0,
        entered_at INTEGER NOT NULL,
        claimed_by TEXT REFERENCES staff(id),
        claim_expires_at INTEGER,
        result_reason TEXT,
        decided_at INTEGER
    ) STRICT;
    CREATE INDEX reviews_queue ON reviews(district, stage, state, entered_at);
    CREATE INDEX reviews_site_queue ON reviews(district, exam_site, stage, state, entered_at);

    CREATE TABLE decisions (
        id INTEGER PRIMARY KEY,
        candidate_id TEXT NOT NULL REFERENCES candidates(id),
        stage TEXT NOT NULL,
        version INTEGER NOT NULL,
        staff_id TEXT NOT NULL REFERENCES staff(id),
        -- NULL: the decision on the whole dossier
        category TEXT,
        decision TEXT NOT NULL,
        reason TEXT,
        message TEXT,
        at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX decisions_by_candidate ON decisions(candidate_id, id);

    -- hash = SHA-256(prev_hash || the entry's canonical text); audit_head holds the last one,
    -- so removing the newest entries is detected too
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        candidate_id TEXT,
        category TEXT,
        detail TEXT NOT NULL,
        ip TEXT,
        prev_hash BLOB NOT NULL,
        hash BLOB NOT NULL
    ) STRICT;
    CREATE INDEX audit_by_candidate ON audit(candidate_id, seq);
    CREATE TABLE audit_head (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL,
        hash BLOB NOT NULL
    ) STRICT;

    -- notifications, written in the transaction of the decision that causes them
    CREATE TABLE outbox (
        id TEXT PRIMARY KEY,
        candidate_id TEXT NOT NULL REFERENCES candidates(id),
        message_id TEXT NOT NULL REFERENCES messages(id),
        channel TEXT NOT NULL,
        due_at INTEGER NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        sent_at INTEGER
    ) STRICT;
    CREATE INDEX outbox_due ON outbox(state, due_at);
    "#,
    // 4: the dispatcher's outbox: due times in milliseconds (retries back off by less than a
    // second when a provider is briefly down), a lease on rows being sent so a crashed sender's
    // rows are taken up again, and an index for the one-SMS-an-hour rule.
    r#"
    CREATE TABLE outbox_v4 (
        id TEXT PRIMARY KEY,
        candidate_id TEXT NOT NULL REFERENCES candidates(id),
        message_id TEXT NOT NULL REFERENCES messages(id),
        channel TEXT NOT NULL,
        due_ms INTEGER NOT NULL,
        -- pending, sending, sent, skipped (read before it was due), no_recipient, failed
        state TEXT NOT NULL,
        lease_until_ms INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        sent_at INTEGER
    ) STRICT;
    INSERT INTO outbox_v4 (id, candidate_id, message_id, channel, due_ms, state, attempts, last_error, sent_at)
        SELECT id, candidate_id, message_id, channel, due_at * 1000, state, attempts, last_error, sent_at
        FROM outbox;
    DROP TABLE outbox;
    ALTER TABLE outbox_v4 RENAME TO outbox;
    CREATE INDEX outbox_due ON outbox(state, due_ms);
    CREATE INDEX outbox_by_candidate ON outbox(candidate_id, channel, sent_at);
    "#,
    // 5: indexes found by the review-queue benchmark (100,000 candidates, 800,000 images): a
    // dossier's images, including replaced ones, by candidate; the queues walked in waiting
    // order with and without a state or site, so a page stops after its rows; the per-state
    // counts read from one covering index; phones by candidate.
    r#"
    CREATE INDEX images_by_candidate ON images(candidate_id, category, uploaded_at);
    DROP INDEX reviews_queue;
    DROP INDEX reviews_site_queue;
    CREATE INDEX reviews_by_stage ON reviews(district, stage, entered_at, candidate_id);
    CREATE INDEX reviews_by_state ON reviews(district, stage, state, entered_at, candidate_id);
    CREATE INDEX reviews_by_site ON reviews(district, exam_site, stage, entered_at, candidate_id);
    -- resubmitted last: the page's order is kept and a site's counts are read from the index
    CREATE INDEX reviews_by_site_state
        ON reviews(district, exam_site, stage, state, entered_at, candidate_id, resubmitted);
    -- a district's counts, read in GROUP BY order without touching the table
    CREATE INDEX reviews_counts ON reviews(district, stage, state, resubmitted, exam_site);
    CREATE INDEX push_tokens_by_candidate ON push_tokens(candidate_id);
    "#,
    // 6: the reviewers' web console signs in with a cookie; its state changes must show the CSRF
    // token whose hash is kept here (NULL for bearer sessions).
    r#"
    ALTER TABLE staff_sessions ADD COLUMN csrf_hash BLOB;
    "#,
    // 7: hardening. An authenticator code works once: the last time step accepted per account.
    // The sign-in throttle is keyed by account-and-address and by address, and rows quiet for a
    // day are deleted by their end time.
    r#"
    ALTER TABLE staff ADD COLUMN totp_last_step INTEGER;
    CREATE INDEX login_throttle_by_end ON login_throttle(locked_until);
    DELETE FROM login_throttle;
    "#,
    // 8: document capture. A category's photos show a document (the page is found) or a person
    // (kept whole).
    r#"
    ALTER TABLE categories ADD COLUMN subject TEXT NOT NULL DEFAULT 'document';
    "#,
    // 9: resubmissions. When an image was first submitted: a replaced image is an earlier version
    // for the reviewers only if it was ever submitted (a draft replaced before submitting was never
    // seen). Existing rows: live images submitted with their dossier; a deleted one if a decision
    // fell while it was live.
    r#"
    ALTER TABLE images ADD COLUMN submitted_at INTEGER;
    UPDATE images SET submitted_at = (SELECT c.submitted_at FROM candidates c WHERE c.id = images.candidate_id)
     WHERE deleted_at IS NULL
       AND uploaded_at <= (SELECT c.submitted_at FROM candidates c WHERE c.id = images.candidate_id);
    UPDATE images SET submitted_at = uploaded_at
     WHERE deleted_at IS NOT NULL
       AND EXISTS (SELECT 1 FROM decisions d WHERE d.candidate_id = images.candidate_id
                   AND d.at >= images.uploaded_at AND d.at <= images.deleted_at);
    "#,
    // 10: reviewer assistance. One analysis job per stored ID-card image, in the database so a
    // restart resumes it: due and leased times in milliseconds (a worker that dies leaves a lease
    // that runs out), the attempts made, and what was read (JSON) once done. Images already
    // stored are queued too.
    r#"
    CREATE TABLE analyses (
        image_id TEXT PRIMARY KEY REFERENCES images(id),
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        due_at INTEGER NOT NULL,
        leased_until INTEGER,
        reading_json TEXT,
        -- what was read differs from the roster, is in the wrong slot or expired (set when read)
        flagged INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        created_at INTEGER NOT NULL,
        finished_at INTEGER
    ) STRICT;
    CREATE INDEX analyses_due ON analyses(state, due_at);
    INSERT INTO analyses (image_id, state, due_at, created_at)
        SELECT i.id, 'pending', i.uploaded_at * 1000, i.uploaded_at FROM images i
          JOIN candidates c ON c.id = i.candidate_id
          JOIN categories k ON k.district = c.district AND k.code = i.category
         WHERE i.deleted_at IS NULL AND k.document = 'id_card';
    "#,
    // 11: reused documents. Every document image (not only ID cards) is analysed now: its
    // fingerprint is a perceptual hash of the page (`analyses.phash`) and the long numbers printed
    // on it (`document_marks`: a certificate's or a card's number, what tells two holders of one
    // template apart). Two candidates' images sharing a number and looking alike are kept as a
    // pair, both ways, when the later one is analysed (`reused_documents`). Document images
    // already stored are queued (ID cards again too, for their fingerprint).
    r#"
    ALTER TABLE analyses ADD COLUMN phash INTEGER;
    CREATE TABLE document_marks (
        mark TEXT NOT NULL,
        image_id TEXT NOT NULL REFERENCES images(id),
        PRIMARY KEY (mark, image_id)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX document_marks_by_image ON document_marks(image_id);
    CREATE TABLE reused_documents (
        image_id TEXT NOT NULL REFERENCES images(id),
        other_image_id TEXT NOT NULL REFERENCES images(id),
        mark TEXT NOT NULL,
        found_at INTEGER NOT NULL,
        PRIMARY KEY (image_id, other_image_id)
    ) STRICT, WITHOUT ROWID;
    UPDATE analyses SET state = 'pending', attempts = 0, due_at = 0, leased_until = NULL
     WHERE state IN ('done', 'failed');
    INSERT OR IGNORE INTO analyses (image_id, state, due_at, created_at)
        SELECT i.id, 'pending', i.uploaded_at * 1000, i.uploaded_at FROM images i
          JOIN candidates c ON c.id = i.candidate_id
          JOIN categories k ON k.district = c.district AND k.code = i.category
         WHERE i.deleted_at IS NULL AND k.subject = 'document';
    "#,
    // 12: a category's example image last in its row. SQLite reaches a column stored after a
    // large value by walking that value's overflow pages, so with the example (tens of KB) in the
    // middle, every read of the catalogue (each upload, page and submit) walked every example.
    // Rebuilt with the same columns, the example's two at the end (SQLite cannot move a column).
    r#"
    CREATE TABLE categories_rebuilt (
        district TEXT NOT NULL REFERENCES districts(code),
        code TEXT NOT NULL,
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        description TEXT NOT NULL,
        requirement TEXT NOT NULL,
        condition_json TEXT,
        condition_text TEXT,
        min_images INTEGER NOT NULL,
        max_images INTEGER NOT NULL,
        slot_labels_json TEXT NOT NULL DEFAULT '[]',
        document TEXT NOT NULL,
        subject TEXT NOT NULL DEFAULT 'document',
        example_content_type TEXT,
        example_image BLOB,
        PRIMARY KEY (district, code)
    ) STRICT;
    INSERT INTO categories_rebuilt (district, code, position, name, description, requirement,
            condition_json, condition_text, min_images, max_images, slot_labels_json, document,
            subject, example_content_type, example_image)
        SELECT district, code, position, name, description, requirement, condition_json,
               condition_text, min_images, max_images, slot_labels_json, document, subject,
               example_content_type, example_image
          FROM categories;
    DROP TABLE categories;
    ALTER TABLE categories_rebuilt RENAME TO categories;
    "#,
];

/// Bring the database to the newest version, one transaction per migration.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<u32> {
    dossier_core::store::migrate(conn, MIGRATIONS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Migration 12 rebuilds the catalogue: every category and its example come through, the
    /// example's columns now last.
    #[test]
    fn the_catalogue_rebuild_keeps_every_category_and_example() {
        let mut conn = Connection::open_in_memory().unwrap();
        dossier_core::store::migrate(&mut conn, &MIGRATIONS[..11]).unwrap();
        conn.execute_batch(
            "INSERT INTO districts (code, name, sms_sign, ticket_secret, upload_opens_at, upload_closes_at)
                 VALUES ('d', '东城考区', '东城', x'00', 0, 1);
             INSERT INTO categories (district, code, position, name, description, example_image,
                 example_content_type, requirement, condition_json, condition_text, min_images,
                 max_images, slot_labels_json, document, subject)
                 VALUES ('d', 'id', 1, '身份证', '正反面', zeroblob(60000), 'image/png', 'required',
                         NULL, NULL, 2, 2, '[\"正面\",\"反面\"]', 'id_card', 'document'),
                        ('d', 'photo', 2, '照片', '', NULL, NULL, 'required', NULL, NULL, 1, 1,
                         '[]', 'other', 'person');",
        )
        .unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), MIGRATIONS.len() as u32);
        type Category = (String, i64, String, Option<i64>, Option<String>);
        let rows: Vec<Category> = conn
            .prepare(
                "SELECT code, max_images, slot_labels_json, length(example_image), example_content_type
                   FROM categories ORDER BY position",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            vec![
                (
                    "id".into(),
                    2,
                    "[\"正面\",\"反面\"]".into(),
                    Some(60000),
                    Some("image/png".into())
                ),
                ("photo".into(), 1, "[]".into(), None, None),
            ]
        );
        let columns: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info('categories')")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            columns[columns.len() - 2..],
            ["example_content_type", "example_image"]
        );
    }
}
