-- Gouji system of record (PostgreSQL). Same shape as the SQLite schema; amounts are NUMERIC.

CREATE TABLE units (
    code          TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    unit_type     TEXT,
    parent_code   TEXT REFERENCES units (code),
    registered_at BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX units_parent ON units (parent_code);

CREATE TABLE report_heads (
    unit_code     TEXT NOT NULL REFERENCES units (code),
    year          INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    consolidated  BOOLEAN NOT NULL,
    last_revision INTEGER NOT NULL,
    PRIMARY KEY (unit_code, year, kind, consolidated)
);

CREATE TABLE revisions (
    id               BIGSERIAL PRIMARY KEY,
    unit_code        TEXT NOT NULL REFERENCES units (code),
    year             INTEGER NOT NULL,
    kind             TEXT NOT NULL,
    consolidated     BOOLEAN NOT NULL,
    revision         INTEGER NOT NULL,
    idempotency_key  TEXT NOT NULL UNIQUE,
    content_hash     TEXT NOT NULL,
    document         BYTEA,
    report_json      TEXT NOT NULL,
    validation_state TEXT NOT NULL,
    valid            BOOLEAN,
    catalog_version  TEXT,
    findings_json    TEXT,
    submitted_at     BIGINT NOT NULL,
    validated_at     BIGINT,
    UNIQUE (unit_code, year, kind, consolidated, revision)
);
CREATE INDEX revisions_pending ON revisions (id) WHERE validation_state = 'pending';
CREATE INDEX revisions_report ON revisions (unit_code, year, kind, consolidated, revision);

CREATE TABLE facts (
    revision_id BIGINT NOT NULL REFERENCES revisions (id),
    table_id    TEXT NOT NULL,
    row_key     TEXT NOT NULL,
    column_key  TEXT NOT NULL,
    amount      NUMERIC NOT NULL,
    unit        TEXT NOT NULL,
    line        INTEGER NOT NULL
);
CREATE INDEX facts_revision ON facts (revision_id);
