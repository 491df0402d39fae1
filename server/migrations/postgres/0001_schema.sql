-- Dossier's metadata on PostgreSQL: the schema SQLite reaches after its migrations
-- (server/src/storage/migrations.rs), table for table and column for column, so the same
-- statements run on both. Types: SQLite's INTEGER is BIGINT, TEXT is TEXT, BLOB is BYTEA;
-- times stay unix seconds (or milliseconds where the column says _ms), flags 0/1.
-- tests/tests/postgres_schema.rs checks that the two schemas keep the same tables and columns.

CREATE TABLE districts (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    -- 【考区单位名称】 of the SMS text
    sms_sign TEXT NOT NULL,
    -- HMAC key shared with the registration system for entry tickets
    ticket_secret BYTEA NOT NULL,
    upload_opens_at BIGINT NOT NULL,
    upload_closes_at BIGINT NOT NULL,
    site_review_opens_at BIGINT NOT NULL DEFAULT 0,
    site_review_closes_at BIGINT NOT NULL DEFAULT 0,
    district_review_opens_at BIGINT NOT NULL DEFAULT 0,
    district_review_closes_at BIGINT NOT NULL DEFAULT 0,
    results_published_at BIGINT
);

CREATE TABLE categories (
    district TEXT NOT NULL REFERENCES districts(code),
    code TEXT NOT NULL,
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    example_image BYTEA,
    example_content_type TEXT,
    requirement TEXT NOT NULL,
    condition_json TEXT,
    condition_text TEXT,
    min_images BIGINT NOT NULL,
    max_images BIGINT NOT NULL,
    slot_labels_json TEXT NOT NULL DEFAULT '[]',
    document TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT 'document',
    PRIMARY KEY (district, code)
);

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
    activated_at BIGINT,
    pledge_truthfulness_at BIGINT,
    pledge_discipline_at BIGINT,
    dossier_state TEXT NOT NULL DEFAULT 'draft',
    submitted_at BIGINT,
    version BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE staff (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    district TEXT NOT NULL REFERENCES districts(code),
    exam_site TEXT,
    password_hash TEXT NOT NULL,
    totp_secret BYTEA,
    totp_enabled_at BIGINT,
    totp_required BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    disabled_at BIGINT,
    totp_last_step BIGINT
);

CREATE TABLE staff_sessions (
    token_hash BYTEA PRIMARY KEY,
    staff_id TEXT NOT NULL REFERENCES staff(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    csrf_hash BYTEA
);

CREATE TABLE sessions (
    token_hash BYTEA PRIMARY KEY,
    kind TEXT NOT NULL,
    candidate_id TEXT NOT NULL REFERENCES candidates(id),
    family TEXT NOT NULL,
    csrf_hash BYTEA,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX sessions_family ON sessions(family);

CREATE TABLE used_tickets (
    mac BYTEA PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

CREATE TABLE login_throttle (
    username TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    locked_until BIGINT NOT NULL
);
CREATE INDEX login_throttle_by_end ON login_throttle(locked_until);

CREATE TABLE materials (
    candidate_id TEXT NOT NULL REFERENCES candidates(id),
    category TEXT NOT NULL,
    state TEXT NOT NULL,
    note_reason TEXT,
    note_message TEXT,
    note_at BIGINT,
    PRIMARY KEY (candidate_id, category)
);

CREATE TABLE images (
    id TEXT PRIMARY KEY,
    candidate_id TEXT NOT NULL REFERENCES candidates(id),
    category TEXT NOT NULL,
    slot BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    uploaded_at BIGINT NOT NULL,
    -- deleted or replaced images stay for the reviewers' history
    deleted_at BIGINT,
    upload_key TEXT,
    submitted_at BIGINT
);
CREATE INDEX images_by_candidate ON images(candidate_id, category, uploaded_at);
CREATE UNIQUE INDEX images_live_slot ON images(candidate_id, category, slot) WHERE deleted_at IS NULL;
CREATE INDEX images_sha256 ON images(sha256);

CREATE TABLE idempotency (
    candidate_id TEXT NOT NULL REFERENCES candidates(id),
    key TEXT NOT NULL,
    request_sha256 TEXT NOT NULL,
    image_id TEXT NOT NULL,
    response_json TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (candidate_id, key)
);

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    candidate_id TEXT NOT NULL REFERENCES candidates(id),
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    categories_json TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL,
    read_at BIGINT,
    -- SQLite's implicit row number, which orders a candidate's messages of the same second.
    rowid BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX messages_by_candidate ON messages(candidate_id, created_at);

CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    candidate_id TEXT NOT NULL REFERENCES candidates(id),
    message_id TEXT NOT NULL REFERENCES messages(id),
    channel TEXT NOT NULL,
    due_ms BIGINT NOT NULL,
    -- pending, sending, sent, skipped (read before it was due), no_recipient, failed
    state TEXT NOT NULL,
    lease_until_ms BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    sent_at BIGINT
);
CREATE INDEX outbox_by_candidate ON outbox(candidate_id, channel, sent_at);
CREATE INDEX outbox_due ON outbox(state, due_ms);

CREATE TABLE push_tokens (
    platform TEXT NOT NULL,
    token TEXT NOT NULL,
    candidate_id TEXT NOT NULL REFERENCES candidates(id),
    registered_at BIGINT NOT NULL,
    PRIMARY KEY (platform, token)
);
CREATE INDEX push_tokens_by_candidate ON push_tokens(candidate_id);

CREATE TABLE reviews (
    candidate_id TEXT PRIMARY KEY REFERENCES candidates(id),
    district TEXT NOT NULL,
    exam_site TEXT NOT NULL,
    stage TEXT NOT NULL,
    state TEXT NOT NULL,
    resubmitted BIGINT NOT NULL DEFAULT 0,
    entered_at BIGINT NOT NULL,
    claimed_by TEXT REFERENCES staff(id),
    claim_expires_at BIGINT,
    result_reason TEXT,
    decided_at BIGINT
);
CREATE INDEX reviews_by_site ON reviews(district, exam_site, stage, entered_at, candidate_id);
CREATE INDEX reviews_by_site_state
    ON reviews(district, exam_site, stage, state, entered_at, candidate_id, resubmitted);
CREATE INDEX reviews_by_stage ON reviews(district, stage, entered_at, candidate_id);
CREATE INDEX reviews_by_state ON reviews(district, stage, state, entered_at, candidate_id);
CREATE INDEX reviews_counts ON reviews(district, stage, state, resubmitted, exam_site);

CREATE TABLE decisions (
    -- SQLite's INTEGER PRIMARY KEY numbers new rows itself; here a sequence does.
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    candidate_id TEXT NOT NULL REFERENCES candidates(id),
    stage TEXT NOT NULL,
    version BIGINT NOT NULL,
    staff_id TEXT NOT NULL REFERENCES staff(id),
    -- NULL: the decision on the whole dossier
    category TEXT,
    decision TEXT NOT NULL,
    reason TEXT,
    message TEXT,
    at BIGINT NOT NULL
);
CREATE INDEX decisions_by_candidate ON decisions(candidate_id, id);

CREATE TABLE audit (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    candidate_id TEXT,
    category TEXT,
    detail TEXT NOT NULL,
    ip TEXT,
    prev_hash BYTEA NOT NULL,
    hash BYTEA NOT NULL
);
CREATE INDEX audit_by_candidate ON audit(candidate_id, seq);

CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash BYTEA NOT NULL
);

CREATE TABLE analyses (
    image_id TEXT PRIMARY KEY REFERENCES images(id),
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    due_at BIGINT NOT NULL,
    leased_until BIGINT,
    reading_json TEXT,
    -- what was read differs from the roster, is in the wrong slot or expired (set when read)
    flagged BIGINT NOT NULL DEFAULT 0,
    error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT,
    phash BIGINT
);
CREATE INDEX analyses_due ON analyses(state, due_at);

CREATE TABLE document_marks (
    mark TEXT NOT NULL,
    image_id TEXT NOT NULL REFERENCES images(id),
    PRIMARY KEY (mark, image_id)
);
CREATE INDEX document_marks_by_image ON document_marks(image_id);

CREATE TABLE reused_documents (
    image_id TEXT NOT NULL REFERENCES images(id),
    other_image_id TEXT NOT NULL REFERENCES images(id),
    mark TEXT NOT NULL,
    found_at BIGINT NOT NULL,
    PRIMARY KEY (image_id, other_image_id)
);
