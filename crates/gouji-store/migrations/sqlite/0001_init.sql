-- Gouji system of record (SQLite). Amounts are exact decimals stored as TEXT (sqlx has no
-- Decimal codec for SQLite); the PostgreSQL schema uses NUMERIC for the same columns.

CREATE TABLE units (
    code          TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    unit_type     TEXT,                              -- 行政 / 参公 / 事业
    parent_code   TEXT REFERENCES units (code),
    registered_at INTEGER NOT NULL,                  -- unix milliseconds
    updated_at    INTEGER NOT NULL
);
CREATE INDEX units_parent ON units (parent_code);

-- The latest revision number of each logical report; the row lock serialises resubmissions.
CREATE TABLE report_heads (
    unit_code     TEXT NOT NULL REFERENCES units (code),
    year          INTEGER NOT NULL,
    kind          TEXT NOT NULL,                     -- budget / final_accounts
    consolidated  INTEGER NOT NULL,                  -- 1 = the unit's filed 汇总
    last_revision INTEGER NOT NULL,
    PRIMARY KEY (unit_code, year, kind, consolidated)
);

CREATE TABLE revisions (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    unit_code        TEXT NOT NULL REFERENCES units (code),
    year             INTEGER NOT NULL,
    kind             TEXT NOT NULL,
    consolidated     INTEGER NOT NULL,
    revision         INTEGER NOT NULL,
    idempotency_key  TEXT NOT NULL UNIQUE,
    content_hash     TEXT NOT NULL,
    document         BLOB,                           -- the submitted text, when a document was sent
    report_json      TEXT NOT NULL,                  -- the structured report (decimals as strings)
    validation_state TEXT NOT NULL,                  -- pending / validated
    valid            INTEGER,
    catalog_version  TEXT,
    findings_json    TEXT,
    submitted_at     INTEGER NOT NULL,
    validated_at     INTEGER,
    UNIQUE (unit_code, year, kind, consolidated, revision)
);
CREATE INDEX revisions_pending ON revisions (id) WHERE validation_state = 'pending';
CREATE INDEX revisions_report ON revisions (unit_code, year, kind, consolidated, revision);

-- Every table cell of every revision, for SQL-level queries and audits.
CREATE TABLE facts (
    revision_id INTEGER NOT NULL REFERENCES revisions (id),
    table_id    TEXT NOT NULL,
    row_key     TEXT NOT NULL,
    column_key  TEXT NOT NULL,
    amount      TEXT NOT NULL,
    unit        TEXT NOT NULL,
    line        INTEGER NOT NULL
);
CREATE INDEX facts_revision ON facts (revision_id);
