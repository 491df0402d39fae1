-- A category's example image last in its row, as in SQLite's migration 12 (where a column after
-- a large value is reached by walking the value's overflow pages). PostgreSQL keeps large values
-- out of line and does not pay that; the rebuild keeps one column order for both schemas, which
-- the statements and the schema test rely on.
CREATE TABLE categories_rebuilt (
    district TEXT NOT NULL REFERENCES districts(code),
    code TEXT NOT NULL,
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    requirement TEXT NOT NULL,
    condition_json TEXT,
    condition_text TEXT,
    min_images BIGINT NOT NULL,
    max_images BIGINT NOT NULL,
    slot_labels_json TEXT NOT NULL DEFAULT '[]',
    document TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT 'document',
    example_content_type TEXT,
    example_image BYTEA,
    PRIMARY KEY (district, code)
);
INSERT INTO categories_rebuilt (district, code, position, name, description, requirement,
        condition_json, condition_text, min_images, max_images, slot_labels_json, document,
        subject, example_content_type, example_image)
    SELECT district, code, position, name, description, requirement, condition_json,
           condition_text, min_images, max_images, slot_labels_json, document, subject,
           example_content_type, example_image
      FROM categories;
DROP TABLE categories;
ALTER TABLE categories_rebuilt RENAME TO categories;
ALTER TABLE categories RENAME CONSTRAINT categories_rebuilt_pkey TO categories_pkey;
ALTER TABLE categories RENAME CONSTRAINT categories_rebuilt_district_fkey TO categories_district_fkey;
