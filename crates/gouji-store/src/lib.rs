//! The system of record: units, report revisions and their findings, on SQLite or PostgreSQL.
//!
//! One [`Store`] type serves both backends, chosen by URL (`sqlite:…` or `postgres://…`). The
//! SQL is the same text for both wherever the dialects agree; it runs through sqlx's runtime API
//! (no compile-time query macros, so no database is needed to build). Each backend has its own
//! migration directory (`migrations/sqlite`, `migrations/postgres`).
//!
//! Durability: a submission is acknowledged only after its transaction commits. SQLite runs in
//! WAL mode with `synchronous=FULL` behind a single writer connection (writes are serialised,
//! so no `SQLITE_BUSY` under concurrent submitters); PostgreSQL serialises resubmissions of the
//! same report on its `report_heads` row lock.
//!
//! Hierarchy changes are serialised too, with the parent and cycle checks inside the writing
//! transaction ([`Store::register_unit`]); every recursive hierarchy query uses `UNION`, so it
//! ends even on a database that already holds a parent cycle.
//!
//! Amounts stay exact: the structured report is stored as JSON with decimals as strings, and
//! every cell is also written to `facts` (PostgreSQL `NUMERIC`, SQLite `TEXT`).

mod records;

use std::str::FromStr;
use std::time::Duration;

use gouji_domain::model::{Fact, Report, ReportKind};
use gouji_domain::rules::Finding;
use rust_decimal::Decimal;
use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use records::{
    ListFilter, NewRevision, RevisionListing, RevisionRecord, SubmitOutcome, UnitRecord,
    ValidationState, kind_key,
};
use records::{RevisionRow, UnitRow};

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unit `{0}` is not registered")]
    UnknownUnit(String),
    #[error("parent unit `{0}` is not registered")]
    UnknownParent(String),
    #[error("unit `{unit}` cannot be placed under `{parent}`: it would be its own ancestor")]
    Cycle { unit: String, parent: String },
    #[error("idempotency key `{0}` was already used for a different submission")]
    KeyReused(String),
    #[error("unsupported database URL `{0}` (use sqlite:PATH or postgres://…)")]
    BadUrl(String),
    #[error("stored data cannot be read: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// True when the database itself is unreachable, overloaded or briefly unable to serve
    /// (the client may retry): the pool and the connection, and the server's own transient
    /// errors — PostgreSQL's SQLSTATE classes 08 (connection), 40 (serialization failure,
    /// deadlock), 53 (insufficient resources), 57P (shutdown, restart, failover) and 55P03 (lock
    /// not available); SQLite's BUSY (5) and LOCKED (6).
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Database(
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_),
            ) => true,
            StoreError::Database(sqlx::Error::Database(e)) => {
                e.code().is_some_and(|code| transient_code(&code))
            }
            _ => false,
        }
    }
}

/// A database error code that says "try again": see [`StoreError::is_unavailable`].
/// PostgreSQL's SQLSTATEs are five characters; SQLite's codes are numbers below 10,000, its
/// extended codes keeping the primary code in their low byte (`SQLITE_BUSY_SNAPSHOT` is 517).
fn transient_code(code: &str) -> bool {
    if code.len() == 5 {
        return ["08", "40", "53", "57P"]
            .iter()
            .any(|class| code.starts_with(class))
            || code == "55P03";
    }
    code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What [`Store::record_verdict`] records: validation's answer for one revision.
#[derive(Debug, Clone, Copy)]
pub struct Verdict<'a> {
    pub valid: bool,
    pub catalog_version: &'a str,
    pub findings: &'a [Finding],
    /// The related reports the cross-report rules used.
    pub related: &'a [gouji_domain::rules::ReportRef],
}

enum Backend {
    Sqlite {
        /// Readers run concurrently (WAL).
        read: SqlitePool,
        /// One connection: every write is serialised here.
        write: SqlitePool,
    },
    Postgres(PgPool),
}

/// Runs the same body against whichever pool backs the store. The body is generic sqlx code;
/// the macro only removes the `match` that would otherwise repeat it per backend.
macro_rules! with_pool {
    ($store:expr, $mode:ident, |$pool:ident| $body:expr) => {
        match &*$store.backend {
            Backend::Sqlite { $mode: $pool, .. } => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

/// Handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: std::sync::Arc<Backend>,
}

/// Upper bound on one report's cells written per INSERT statement (bind-parameter limits).
const FACTS_PER_STATEMENT: usize = 500;

impl Store {
    /// Opens (creating if needed) the database at `url` and applies migrations.
    ///
    /// `sqlite:PATH` (or a bare path) → embedded SQLite file; `sqlite::memory:` for a
    /// throwaway database; `postgres://…` → PostgreSQL.
    pub async fn open(url: &str) -> Result<Store> {
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await?;
            sqlx::migrate!("./migrations/postgres").run(&pool).await?;
            Backend::Postgres(pool)
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"));
            let path = path.unwrap_or(url);
            if path.is_empty() {
                return Err(StoreError::BadUrl(url.to_string()));
            }
            let memory = path == ":memory:";
            let opts = SqliteConnectOptions::from_str(&format!("sqlite:{path}"))
                .map_err(|_| StoreError::BadUrl(url.to_string()))?
                .create_if_missing(true)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(30));
            let opts = if memory {
                opts
            } else {
                opts.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
            };
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(60))
                .connect_with(opts.clone())
                .await?;
            sqlx::migrate!("./migrations/sqlite").run(&write).await?;
            // An in-memory database exists per connection: readers must share the writer.
            let read = if memory {
                write.clone()
            } else {
                SqlitePoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(opts.read_only(true))
                    .await?
            };
            Backend::Sqlite { read, write }
        };
        Ok(Store {
            backend: std::sync::Arc::new(backend),
        })
    }

    /// "sqlite" or "postgres".
    pub fn backend_name(&self) -> &'static str {
        match &*self.backend {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Closes every connection (waits for in-flight work).
    pub async fn close(&self) {
        match &*self.backend {
            Backend::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
            Backend::Postgres(pool) => pool.close().await,
        }
    }

    // ---- units ------------------------------------------------------------------------------

    /// Registers a unit, or updates its name, type and parent. Rejects unknown parents and cycles.
    ///
    /// Hierarchy changes are serialised: the parent and cycle checks run inside the same
    /// transaction as the write, after taking the hierarchy lock (PostgreSQL:
    /// `LOCK TABLE units IN SHARE ROW EXCLUSIVE MODE`, which conflicts with itself and with
    /// direct writes to `units` but not with the key-share locks of submissions; SQLite:
    /// `BEGIN IMMEDIATE` on the single writer connection). Two concurrent re-parentings A→B and
    /// B→A therefore cannot both succeed: the second one sees the first and gets
    /// [`StoreError::Cycle`].
    pub async fn register_unit(&self, unit: &UnitRecord) -> Result<UnitRecord> {
        self.register_unit_as(unit, None).await
    }

    /// As [`Store::register_unit`], with the audit event written in the same transaction: its
    /// action becomes `register_unit`, `move_unit` (parent changed: the detail names the old and
    /// new parent) or `update_unit`.
    pub async fn register_unit_as(
        &self,
        unit: &UnitRecord,
        audit: Option<&AuditEntry>,
    ) -> Result<UnitRecord> {
        let now = records::now_millis();
        let unit_type = unit.unit_type.map(|t| t.label().to_string());
        let upsert = "INSERT INTO units (code, name, unit_type, parent_code, registered_at, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $5) \
                   ON CONFLICT (code) DO UPDATE SET name = excluded.name, \
                   unit_type = excluded.unit_type, parent_code = excluded.parent_code, \
                   updated_at = excluded.updated_at";
        // The same checks and write on both backends, inside the transaction `$tx`.
        macro_rules! place_in {
            ($tx:expr) => {{
                let mut tx = $tx;
                if let Some(parent) = &unit.parent_code {
                    let known: i64 =
                        sqlx::query_scalar("SELECT COUNT(*) FROM units WHERE code = $1")
                            .bind(parent)
                            .fetch_one(&mut *tx)
                            .await?;
                    if known == 0 {
                        return Err(StoreError::UnknownParent(parent.clone()));
                    }
                    // Is the unit among the new parent's ancestors (the parent included)?
                    let cycle: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
                        "{ANCESTORS} SELECT COUNT(*) FROM ancestors WHERE code = $2"
                    )))
                    .bind(parent)
                    .bind(&unit.code)
                    .fetch_one(&mut *tx)
                    .await?;
                    if cycle > 0 {
                        return Err(StoreError::Cycle {
                            unit: unit.code.clone(),
                            parent: parent.clone(),
                        });
                    }
                }
                if let Some(audit) = audit {
                    let old: Option<Option<String>> =
                        sqlx::query_scalar("SELECT parent_code FROM units WHERE code = $1")
                            .bind(&unit.code)
                            .fetch_optional(&mut *tx)
                            .await?;
                    let top =
                        |p: &Option<String>| p.clone().unwrap_or_else(|| "(top level)".into());
                    let (action, detail) = match &old {
                        None => (
                            "register_unit",
                            format!("registered under {}", top(&unit.parent_code)),
                        ),
                        Some(old) if *old != unit.parent_code => (
                            "move_unit",
                            format!("moved from {} to {}", top(old), top(&unit.parent_code)),
                        ),
                        Some(_) => ("update_unit", "name or type updated".to_string()),
                    };
                    sqlx::query(AUDIT_INSERT)
                        .bind(now)
                        .bind(&audit.principal)
                        .bind(&audit.role)
                        .bind(action)
                        .bind(&unit.code)
                        .bind(detail)
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query(upsert)
                    .bind(&unit.code)
                    .bind(&unit.name)
                    .bind(&unit_type)
                    .bind(&unit.parent_code)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }};
        }
        match &*self.backend {
            Backend::Sqlite { write, .. } => place_in!(write.begin_with("BEGIN IMMEDIATE").await?),
            Backend::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("LOCK TABLE units IN SHARE ROW EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await?;
                place_in!(tx)
            }
        }
        Ok(unit.clone())
    }

    /// One unit.
    pub async fn get_unit(&self, code: &str) -> Result<Option<UnitRecord>> {
        let sql = "SELECT code, name, unit_type, parent_code FROM units WHERE code = $1";
        let row: Option<UnitRow> = with_pool!(self, read, |pool| {
            sqlx::query_as(sql).bind(code).fetch_optional(pool).await?
        });
        row.map(UnitRow::into_record).transpose()
    }

    /// Every unit, or the subtree under `root` (the root included), ordered by code.
    pub async fn list_units(&self, root: Option<&str>) -> Result<Vec<UnitRecord>> {
        let rows: Vec<UnitRow> = match root {
            None => {
                let sql = "SELECT code, name, unit_type, parent_code FROM units ORDER BY code";
                with_pool!(self, read, |pool| {
                    sqlx::query_as(sql).fetch_all(pool).await?
                })
            }
            Some(root) => {
                if self.get_unit(root).await?.is_none() {
                    return Err(StoreError::UnknownUnit(root.to_string()));
                }
                let sql = format!(
                    "{SUBTREE} SELECT u.code, u.name, u.unit_type, u.parent_code \
                     FROM units u JOIN subtree s ON s.code = u.code ORDER BY u.code"
                );
                with_pool!(self, read, |pool| {
                    sqlx::query_as(AssertSqlSafe(sql.as_str()))
                        .bind(root)
                        .fetch_all(pool)
                        .await?
                })
            }
        };
        rows.into_iter().map(UnitRow::into_record).collect()
    }

    /// Whether `unit` is registered and is `root` or one of its descendants: the scope question
    /// of the authorization policy ([`gouji_auth::Hierarchy`]).
    pub async fn is_within(&self, unit: &str, root: &str) -> Result<bool> {
        let sql = format!(
            "{ANCESTORS} SELECT COUNT(*) FROM ancestors a WHERE a.code = $2 \
             AND EXISTS (SELECT 1 FROM units WHERE code = $1)"
        );
        let n: i64 = with_pool!(self, read, |pool| {
            sqlx::query_scalar(AssertSqlSafe(sql.as_str()))
                .bind(unit)
                .bind(root)
                .fetch_one(pool)
                .await?
        });
        Ok(n > 0)
    }

    // ---- audit ------------------------------------------------------------------------------

    /// Records an event that goes with no change (a read, an aggregation), in its own
    /// transaction.
    pub async fn record_audit(
        &self,
        audit: &AuditEntry,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<()> {
        let now = records::now_millis();
        with_pool!(self, write, |pool| {
            sqlx::query(AUDIT_INSERT)
                .bind(now)
                .bind(&audit.principal)
                .bind(&audit.role)
                .bind(action)
                .bind(target)
                .bind(detail)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Audit events newest first, `limit` at a time: those with an id below `before_id` when
    /// given, only those on `target` when given.
    pub async fn list_audit(
        &self,
        target: Option<&str>,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>> {
        let rows: Vec<(i64, i64, String, String, String, String, String)> = with_pool!(
            self,
            read,
            |pool| {
                let mut qb = sqlx::QueryBuilder::new(
                    "SELECT id, at, principal, role, action, target, detail FROM audit_events WHERE 1 = 1",
                );
                if let Some(t) = target {
                    qb.push(" AND target = ").push_bind(t);
                }
                if let Some(b) = before_id {
                    qb.push(" AND id < ").push_bind(b);
                }
                qb.push(" ORDER BY id DESC LIMIT ").push_bind(limit as i64);
                qb.build_query_as().fetch_all(pool).await?
            }
        );
        Ok(rows
            .into_iter()
            .map(
                |(id, at, principal, role, action, target, detail)| AuditEvent {
                    id,
                    at,
                    principal,
                    role,
                    action,
                    target,
                    detail,
                },
            )
            .collect())
    }

    // ---- revisions --------------------------------------------------------------------------

    /// Stores a submission as the next revision of its report, or returns the earlier revision
    /// stored under the same idempotency key. Commits before returning.
    pub async fn submit(&self, new: &NewRevision) -> Result<SubmitOutcome> {
        self.submit_as(new, None).await
    }

    /// As [`Store::submit`], with the audit event (`submit_report`, target the report's name
    /// and revision) written in the transaction that stores the revision. A replay stores
    /// nothing and writes no event.
    pub async fn submit_as(
        &self,
        new: &NewRevision,
        audit: Option<&AuditEntry>,
    ) -> Result<SubmitOutcome> {
        if self.get_unit(&new.unit_code).await?.is_none() {
            return Err(StoreError::UnknownUnit(new.unit_code.clone()));
        }
        // Fast path for retries, then the transaction (which re-checks under the head lock).
        if let Some(found) = self.replay(new).await? {
            return Ok(found);
        }
        let report_json = serde_json::to_string(&new.report)
            .map_err(|e| StoreError::Corrupt(format!("report cannot be serialised: {e}")))?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.insert_revision(new, &report_json, audit).await {
                Ok(id) => {
                    let rec = self.revision_by_id(id).await?.ok_or_else(|| {
                        StoreError::Corrupt(format!("revision {id} vanished after commit"))
                    })?;
                    return Ok(SubmitOutcome::Stored(rec));
                }
                // A concurrent submission with the same key won the race: replay it.
                Err(StoreError::Database(e)) if is_unique_violation(&e) && attempt < 5 => {
                    if let Some(found) = self.replay(new).await? {
                        return Ok(found);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn replay(&self, new: &NewRevision) -> Result<Option<SubmitOutcome>> {
        let Some(rec) = self.revision_by_key(&new.idempotency_key).await? else {
            return Ok(None);
        };
        if rec.unit_code != new.unit_code
            || rec.year != new.year
            || rec.kind != new.kind
            || rec.consolidated != new.consolidated
            || rec.content_hash != new.content_hash
        {
            return Err(StoreError::KeyReused(new.idempotency_key.clone()));
        }
        Ok(Some(SubmitOutcome::Replayed(rec)))
    }

    async fn insert_revision(
        &self,
        new: &NewRevision,
        report_json: &str,
        audit: Option<&AuditEntry>,
    ) -> Result<i64> {
        let kind = kind_key(new.kind);
        let now = records::now_millis();
        let head_sql = "INSERT INTO report_heads (unit_code, year, kind, consolidated, last_revision) \
                        VALUES ($1, $2, $3, $4, 1) \
                        ON CONFLICT (unit_code, year, kind, consolidated) \
                        DO UPDATE SET last_revision = report_heads.last_revision + 1 \
                        RETURNING last_revision";
        let insert_sql = "INSERT INTO revisions (unit_code, year, kind, consolidated, revision, \
                          idempotency_key, content_hash, document, report_json, validation_state, \
                          submitted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10) \
                          RETURNING id";
        // The same transaction on both backends; only the amount's encoding differs (SQLite has
        // no decimal type: TEXT; PostgreSQL: NUMERIC bound from `Decimal`).
        macro_rules! insert_in {
            ($pool:expr, $amount:expr) => {{
                let mut tx = $pool.begin().await?;
                let revision: i32 = sqlx::query_scalar(head_sql)
                    .bind(&new.unit_code)
                    .bind(new.year)
                    .bind(kind)
                    .bind(new.consolidated)
                    .fetch_one(&mut *tx)
                    .await?;
                let id: i64 = sqlx::query_scalar(insert_sql)
                    .bind(&new.unit_code)
                    .bind(new.year)
                    .bind(kind)
                    .bind(new.consolidated)
                    .bind(revision)
                    .bind(&new.idempotency_key)
                    .bind(&new.content_hash)
                    .bind(&new.document)
                    .bind(report_json)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                for chunk in new.report.facts.chunks(FACTS_PER_STATEMENT) {
                    let mut qb = sqlx::QueryBuilder::new(
                        "INSERT INTO facts (revision_id, table_id, row_key, column_key, amount, unit, line) ",
                    );
                    qb.push_values(chunk, |mut b, f: &Fact| {
                        b.push_bind(id)
                            .push_bind(&f.table)
                            .push_bind(&f.row)
                            .push_bind(&f.column)
                            .push_bind($amount(f))
                            .push_bind(f.unit.label())
                            .push_bind(f.source.line as i32);
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                if let Some(audit) = audit {
                    sqlx::query(AUDIT_INSERT)
                        .bind(now)
                        .bind(&audit.principal)
                        .bind(&audit.role)
                        .bind("submit_report")
                        .bind(report_name(new, revision))
                        .bind(format!("content {}", &new.content_hash))
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(id)
            }};
        }
        match &*self.backend {
            Backend::Sqlite { write, .. } => insert_in!(write, |f: &Fact| f.value.to_string()),
            Backend::Postgres(pool) => insert_in!(pool, |f: &Fact| f.value),
        }
    }

    /// Records the validation result of a revision (state → validated).
    pub async fn record_validation(
        &self,
        id: i64,
        valid: bool,
        catalog_version: &str,
        findings: &[Finding],
    ) -> Result<()> {
        let json = serde_json::to_string(findings)
            .map_err(|e| StoreError::Corrupt(format!("findings cannot be serialised: {e}")))?;
        let sql = "UPDATE revisions SET validation_state = 'validated', valid = $1, \
                   catalog_version = $2, findings_json = $3, validated_at = $4, \
                   validation_error = NULL WHERE id = $5";
        let now = records::now_millis();
        with_pool!(self, write, |pool| {
            sqlx::query(sql)
                .bind(valid)
                .bind(catalog_version)
                .bind(&json)
                .bind(now)
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// [`Store::record_validation`] and [`Store::record_related`] in one statement: the verdict
    /// and the related reports it used, and the revalidation mark cleared unless it was set
    /// after `started`. One write transaction per verdict, not two: on SQLite every write waits
    /// for the single writer and its commit's sync, so a second one cost ingestion about a third
    /// of its submissions per second (measured side by side, docs/benchmarks-ingestion.md).
    pub async fn record_verdict(&self, id: i64, verdict: Verdict<'_>, started: i64) -> Result<()> {
        let findings = serde_json::to_string(verdict.findings)
            .map_err(|e| StoreError::Corrupt(format!("findings cannot be serialised: {e}")))?;
        let related = serde_json::to_string(verdict.related).map_err(|e| {
            StoreError::Corrupt(format!("related reports cannot be serialised: {e}"))
        })?;
        let sql = "UPDATE revisions SET validation_state = 'validated', valid = $1, \
                   catalog_version = $2, findings_json = $3, validated_at = $4, \
                   validation_error = NULL, related_json = $5, revalidate_at = CASE \
                   WHEN revalidate_at <= $6 THEN NULL ELSE revalidate_at END WHERE id = $7";
        let now = records::now_millis();
        with_pool!(self, write, |pool| {
            sqlx::query(sql)
                .bind(verdict.valid)
                .bind(verdict.catalog_version)
                .bind(&findings)
                .bind(now)
                .bind(&related)
                .bind(started)
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Records a failed validation attempt of a still-pending revision: one more attempt (the
    /// backoff exponent), one more failure towards the retry maximum when `counted`, the error,
    /// and the time of the next attempt. Returns the new (attempts, failures), or `None` when
    /// the revision is no longer pending.
    pub async fn record_validation_retry(
        &self,
        id: i64,
        counted: bool,
        next_attempt_at: i64,
        error: &str,
    ) -> Result<Option<(u32, u32)>> {
        let sql = "UPDATE revisions SET validation_attempts = validation_attempts + 1, \
                   validation_failures = validation_failures + $1, \
                   next_attempt_at = $2, validation_error = $3 \
                   WHERE id = $4 AND validation_state = 'pending' \
                   RETURNING validation_attempts, validation_failures";
        let counts: Option<(i32, i32)> = with_pool!(self, write, |pool| {
            sqlx::query_as(sql)
                .bind(i32::from(counted))
                .bind(next_attempt_at)
                .bind(error)
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        Ok(counts.map(|(a, f)| (u32::try_from(a).unwrap_or(0), u32::try_from(f).unwrap_or(0))))
    }

    /// Ends the validation of a pending revision for good ([`ValidationState::Failed`]) with
    /// the reason. Returns false when the revision was no longer pending.
    pub async fn record_validation_failure(&self, id: i64, reason: &str) -> Result<bool> {
        let sql = "UPDATE revisions SET validation_state = 'failed', validation_error = $1, \
                   validated_at = $2 WHERE id = $3 AND validation_state = 'pending'";
        let now = records::now_millis();
        let done = with_pool!(self, write, |pool| {
            sqlx::query(sql)
                .bind(reason)
                .bind(now)
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done > 0)
    }

    /// Records which related reports (with their revisions) the findings just recorded used,
    /// and clears the revision's revalidation mark when it was set at or before `started` (the
    /// unix milliseconds at which this validation read its related reports: a mark set later
    /// stays, so that a report arriving meanwhile is not missed).
    pub async fn record_related(
        &self,
        id: i64,
        related: &[gouji_domain::rules::ReportRef],
        started: i64,
    ) -> Result<()> {
        let json = serde_json::to_string(related).map_err(|e| {
            StoreError::Corrupt(format!("related reports cannot be serialised: {e}"))
        })?;
        let sql = "UPDATE revisions SET related_json = $1, revalidate_at = CASE \
                   WHEN revalidate_at <= $2 THEN NULL ELSE revalidate_at END WHERE id = $3";
        with_pool!(self, write, |pool| {
            sqlx::query(sql)
                .bind(&json)
                .bind(started)
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Marks the latest revision of a report for revalidation at `at` (unix milliseconds), when
    /// it has been validated (a pending one reads its related reports when it is validated).
    /// Returns whether a revision was marked.
    pub async fn request_revalidation(
        &self,
        unit_code: &str,
        year: i32,
        kind: ReportKind,
        consolidated: bool,
        at: i64,
    ) -> Result<bool> {
        let Some(rec) = self
            .get_revision(unit_code, year, kind, consolidated, None)
            .await?
        else {
            return Ok(false);
        };
        let sql = "UPDATE revisions SET revalidate_at = $1 WHERE id = $2 \
                   AND validation_state = 'validated'";
        let done = with_pool!(self, write, |pool| {
            sqlx::query(sql)
                .bind(at)
                .bind(rec.id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done > 0)
    }

    /// Validated revisions due for revalidation at `now` (a related report arrived or was
    /// revised), the longest overdue first, without their report bodies (each is read with
    /// [`Store::revision_by_id`] when its turn comes, so that a batch holds one body at a time).
    pub async fn due_for_revalidation(&self, now: i64, limit: u32) -> Result<Vec<RevisionListing>> {
        let sql = format!(
            "SELECT {LISTING_COLUMNS} FROM revisions r WHERE revalidate_at IS NOT NULL \
             AND revalidate_at <= $1 AND validation_state = 'validated' \
             ORDER BY revalidate_at, id LIMIT $2"
        );
        let rows: Vec<RevisionRow> = with_pool!(self, read, |pool| {
            sqlx::query_as(AssertSqlSafe(sql.as_str()))
                .bind(now)
                .bind(limit as i64)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(RevisionRow::into_listing).collect()
    }

    /// Pending revisions whose next attempt is due at `now` (unix milliseconds), the longest
    /// overdue first. Each revision keeps its own schedule, so one that keeps failing (and
    /// backs off) never holds up the others. Without their report bodies, as
    /// [`Store::due_for_revalidation`].
    pub async fn due_for_validation(&self, now: i64, limit: u32) -> Result<Vec<RevisionListing>> {
        let sql = format!(
            "SELECT {LISTING_COLUMNS} FROM revisions r WHERE validation_state = 'pending' \
             AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2"
        );
        let rows: Vec<RevisionRow> = with_pool!(self, read, |pool| {
            sqlx::query_as(AssertSqlSafe(sql.as_str()))
                .bind(now)
                .bind(limit as i64)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(RevisionRow::into_listing).collect()
    }

    /// Revisions in each validation state: (pending, validated, failed).
    pub async fn validation_counts(&self) -> Result<(u64, u64, u64)> {
        let sql = "SELECT validation_state, COUNT(*) FROM revisions GROUP BY validation_state";
        let rows: Vec<(String, i64)> = with_pool!(self, read, |pool| {
            sqlx::query_as(sql).fetch_all(pool).await?
        });
        let mut counts = (0, 0, 0);
        for (state, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            match state.as_str() {
                "pending" => counts.0 += n,
                "validated" => counts.1 += n,
                _ => counts.2 += n,
            }
        }
        Ok(counts)
    }

    /// Revisions in «validation pending» (cheap: the partial index `revisions_pending`).
    pub async fn count_pending(&self) -> Result<u64> {
        let sql = "SELECT COUNT(*) FROM revisions WHERE validation_state = 'pending'";
        let n: i64 = with_pool!(self, read, |pool| {
            sqlx::query_scalar(sql).fetch_one(pool).await?
        });
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// One round trip that reads a table, through the pool the reads use: fails when no
    /// connection can be had (pool exhausted, database down or refusing) or the query fails.
    /// Callers bound it with a timeout (a database that stops answering never fails it).
    pub async fn ping(&self) -> Result<()> {
        let sql = "SELECT 1 FROM units LIMIT 1";
        with_pool!(self, read, |pool| {
            sqlx::query(sql).fetch_optional(pool).await?.map(|_| ())
        });
        Ok(())
    }

    /// Revisions still waiting for validation, oldest first.
    pub async fn pending(&self, limit: u32) -> Result<Vec<RevisionRecord>> {
        let sql = format!(
            "SELECT {REVISION_COLUMNS} FROM revisions r WHERE validation_state = 'pending' \
             ORDER BY id LIMIT $1"
        );
        let rows: Vec<RevisionRow> = with_pool!(self, read, |pool| {
            sqlx::query_as(AssertSqlSafe(sql.as_str()))
                .bind(limit as i64)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(RevisionRow::into_record).collect()
    }

    /// The cells of a revision as stored in `facts` (exact: NUMERIC on PostgreSQL, TEXT on
    /// SQLite), ordered by table, row and column.
    pub async fn stored_facts(&self, id: i64) -> Result<Vec<(String, String, String, Decimal)>> {
        let order = "ORDER BY table_id, row_key, column_key";
        match &*self.backend {
            Backend::Sqlite { read, .. } => {
                let sql = format!(
                    "SELECT table_id, row_key, column_key, amount FROM facts WHERE revision_id = $1 {order}"
                );
                let rows: Vec<(String, String, String, String)> =
                    sqlx::query_as(AssertSqlSafe(sql))
                        .bind(id)
                        .fetch_all(read)
                        .await?;
                rows.into_iter()
                    .map(|(t, r, c, a)| {
                        let v = Decimal::from_str_exact(&a)
                            .map_err(|e| StoreError::Corrupt(format!("fact amount `{a}`: {e}")))?;
                        Ok((t, r, c, v))
                    })
                    .collect()
            }
            Backend::Postgres(pool) => {
                let sql = format!(
                    "SELECT table_id, row_key, column_key, amount FROM facts WHERE revision_id = $1 {order}"
                );
                Ok(sqlx::query_as(AssertSqlSafe(sql))
                    .bind(id)
                    .fetch_all(pool)
                    .await?)
            }
        }
    }

    /// Whether revision `id` still waits for its validation (false for an unknown id).
    pub async fn is_pending(&self, id: i64) -> Result<bool> {
        let sql = "SELECT validation_state FROM revisions WHERE id = $1";
        let state: Option<String> = with_pool!(self, read, |pool| {
            sqlx::query_scalar(sql)
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        Ok(state.as_deref() == Some("pending"))
    }

    /// The submitted document of a revision, when one was sent.
    pub async fn document(&self, id: i64) -> Result<Option<Vec<u8>>> {
        let sql = "SELECT document FROM revisions WHERE id = $1";
        let doc: Option<Option<Vec<u8>>> = with_pool!(self, read, |pool| {
            sqlx::query_scalar(sql)
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        Ok(doc.flatten())
    }

    /// The revision with storage id `id`, with its report.
    pub async fn revision_by_id(&self, id: i64) -> Result<Option<RevisionRecord>> {
        let sql = format!("SELECT {REVISION_COLUMNS} FROM revisions r WHERE r.id = $1");
        let row: Option<RevisionRow> = with_pool!(self, read, |pool| {
            sqlx::query_as(AssertSqlSafe(sql.as_str()))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(RevisionRow::into_record).transpose()
    }

    async fn revision_by_key(&self, key: &str) -> Result<Option<RevisionRecord>> {
        let sql =
            format!("SELECT {REVISION_COLUMNS} FROM revisions r WHERE r.idempotency_key = $1");
        let row: Option<RevisionRow> = with_pool!(self, read, |pool| {
            sqlx::query_as(AssertSqlSafe(sql.as_str()))
                .bind(key)
                .fetch_optional(pool)
                .await?
        });
        row.map(RevisionRow::into_record).transpose()
    }

    /// One revision of a report; the latest when `revision` is `None`.
    pub async fn get_revision(
        &self,
        unit_code: &str,
        year: i32,
        kind: ReportKind,
        consolidated: bool,
        revision: Option<u32>,
    ) -> Result<Option<RevisionRecord>> {
        let kind = kind_key(kind);
        let row: Option<RevisionRow> = match revision {
            Some(rev) => {
                let sql = format!(
                    "SELECT {REVISION_COLUMNS} FROM revisions r WHERE unit_code = $1 AND year = $2 \
                     AND kind = $3 AND consolidated = $4 AND revision = $5"
                );
                with_pool!(self, read, |pool| {
                    sqlx::query_as(AssertSqlSafe(sql.as_str()))
                        .bind(unit_code)
                        .bind(year)
                        .bind(kind)
                        .bind(consolidated)
                        .bind(rev as i32)
                        .fetch_optional(pool)
                        .await?
                })
            }
            None => {
                let sql = format!(
                    "SELECT {REVISION_COLUMNS} FROM revisions r WHERE unit_code = $1 AND year = $2 \
                     AND kind = $3 AND consolidated = $4 ORDER BY revision DESC LIMIT 1"
                );
                with_pool!(self, read, |pool| {
                    sqlx::query_as(AssertSqlSafe(sql.as_str()))
                        .bind(unit_code)
                        .bind(year)
                        .bind(kind)
                        .bind(consolidated)
                        .fetch_optional(pool)
                        .await?
                })
            }
        };
        row.map(RevisionRow::into_record).transpose()
    }

    /// Revisions matching `filter`, newest first, after the cursor `before_id` (exclusive),
    /// without their report bodies: at most `limit`, and no more once the findings of those
    /// listed reach `max_bytes` of stored JSON (at least one is listed). The flag says whether
    /// the byte budget ended the page (there are more).
    pub async fn list_revisions(
        &self,
        filter: &ListFilter,
        before_id: Option<i64>,
        limit: u32,
        max_bytes: usize,
    ) -> Result<(Vec<RevisionListing>, bool)> {
        let (rows, cut) = with_pool!(self, read, |pool| {
            let mut qb = sqlx::QueryBuilder::new("");
            if filter.subtree && filter.unit_code.is_some() {
                qb.push("WITH RECURSIVE subtree(code) AS (SELECT code FROM units WHERE code = ");
                qb.push_bind(filter.unit_code.clone().unwrap_or_default());
                // UNION: finite even on a cyclic hierarchy (see `SUBTREE`).
                qb.push(
                    " UNION SELECT u.code FROM units u JOIN subtree s ON u.parent_code = s.code) ",
                );
            }
            qb.push(format!(
                "SELECT {LISTING_COLUMNS} FROM revisions r WHERE 1 = 1"
            ));
            if let Some(code) = &filter.unit_code {
                if filter.subtree {
                    qb.push(" AND unit_code IN (SELECT code FROM subtree)");
                } else {
                    qb.push(" AND unit_code = ").push_bind(code.clone());
                }
            }
            if let Some(year) = filter.year {
                qb.push(" AND year = ").push_bind(year);
            }
            if let Some(kind) = filter.kind {
                qb.push(" AND kind = ").push_bind(kind_key(kind));
            }
            if let Some(before) = before_id {
                qb.push(" AND id < ").push_bind(before);
            }
            qb.push(" ORDER BY id DESC LIMIT ").push_bind(limit as i64);
            within_budget(qb.build_query_as().fetch(pool), max_bytes).await?
        });
        let rows = rows
            .into_iter()
            .map(RevisionRow::into_listing)
            .collect::<Result<_>>()?;
        Ok((rows, cut))
    }

    /// The latest revision of every report (own and filed 汇总) in `root`'s subtree for one year
    /// and kind, one page at a time in storage order: pass the last `id` seen as `after_id`. A
    /// page holds at most `limit` revisions, and no more once those read reach `max_bytes` of
    /// stored JSON (at least one is read), so a page of large reports stays bounded in memory.
    pub async fn latest_in_subtree(
        &self,
        root: &str,
        year: i32,
        kind: ReportKind,
        after_id: i64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<Vec<RevisionRecord>> {
        let sql = format!(
            "{SUBTREE} SELECT {REVISION_COLUMNS} FROM revisions r \
             JOIN report_heads h ON h.unit_code = r.unit_code AND h.year = r.year \
               AND h.kind = r.kind AND h.consolidated = r.consolidated \
               AND h.last_revision = r.revision \
             WHERE r.unit_code IN (SELECT code FROM subtree) AND r.year = $2 AND r.kind = $3 \
               AND r.id > $4 ORDER BY r.id LIMIT $5"
        );
        let kind = kind_key(kind);
        let (rows, _) = with_pool!(self, read, |pool| {
            within_budget(
                sqlx::query_as(AssertSqlSafe(sql.as_str()))
                    .bind(root)
                    .bind(year)
                    .bind(kind)
                    .bind(after_id)
                    .bind(limit as i64)
                    .fetch(pool),
                max_bytes,
            )
            .await?
        });
        rows.into_iter().map(RevisionRow::into_record).collect()
    }
}

/// The rows of `rows` until those taken reach `max_bytes` of stored JSON (at least one row),
/// and whether the budget ended them (then there may be more). Rows past the budget are never
/// read: the query stops there.
async fn within_budget<'a>(
    mut rows: futures::stream::BoxStream<'a, std::result::Result<RevisionRow, sqlx::Error>>,
    max_bytes: usize,
) -> Result<(Vec<RevisionRow>, bool)> {
    use futures::TryStreamExt as _;
    let (mut taken, mut bytes) = (Vec::new(), 0usize);
    while let Some(row) = rows.try_next().await? {
        bytes += row.json_bytes();
        taken.push(row);
        if bytes >= max_bytes {
            return Ok((taken, true));
        }
    }
    Ok((taken, false))
}

impl gouji_auth::Hierarchy for Store {
    type Error = StoreError;
    fn is_within(
        &self,
        unit: &str,
        root: &str,
    ) -> impl std::future::Future<Output = Result<bool>> + Send {
        Store::is_within(self, unit, root)
    }
}

/// Who did something, as the audit trail records it (the principal's label and role).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub principal: String,
    pub role: String,
}

/// One event of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: i64,
    /// Unix milliseconds.
    pub at: i64,
    pub principal: String,
    pub role: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

const AUDIT_INSERT: &str = "INSERT INTO audit_events (at, principal, role, action, target, detail) \
     VALUES ($1, $2, $3, $4, $5, $6)";

/// `unit/year/kind/own|consolidated@revision`, the name a report revision has in the audit.
pub fn report_name(new: &NewRevision, revision: i32) -> String {
    format!(
        "{}/{}/{}/{}@{revision}",
        new.unit_code,
        new.year,
        kind_key(new.kind),
        if new.consolidated {
            "consolidated"
        } else {
            "own"
        }
    )
}

/// The recursive subtree of `$1` (the root included). Works on SQLite and PostgreSQL.
///
/// `UNION`, not `UNION ALL`: a code already in the result is not queued again, so the query
/// ends after at most one visit per unit even on a database that holds a parent cycle
/// (written around the store, or before hierarchy changes were serialised).
const SUBTREE: &str = "WITH RECURSIVE subtree(code) AS (SELECT code FROM units WHERE code = $1 \
     UNION SELECT u.code FROM units u JOIN subtree s ON u.parent_code = s.code)";

/// `$1` and its chain of ancestors; `UNION` keeps it finite on a cyclic chain (see [`SUBTREE`]).
const ANCESTORS: &str = "WITH RECURSIVE ancestors(code) AS (SELECT CAST($1 AS TEXT) \
     UNION SELECT u.parent_code FROM units u JOIN ancestors a ON u.code = a.code \
     WHERE u.parent_code IS NOT NULL)";

/// Columns of a revision row, in [`RevisionRow`] order.
/// The columns of a [`RevisionRow`], with `$report` for the report body.
macro_rules! revision_columns {
    ($report:literal) => {
        concat!(
            "r.id, r.unit_code, r.year, r.kind, r.consolidated, r.revision, ",
            "r.idempotency_key, r.content_hash, ",
            $report,
            ", r.validation_state, r.valid, ",
            "r.catalog_version, r.findings_json, r.submitted_at, r.validated_at, ",
            "(r.document IS NOT NULL) AS has_document, r.validation_attempts, ",
            "r.validation_failures, r.next_attempt_at, r.validation_error, r.related_json"
        )
    };
}

/// A revision with its report body.
const REVISION_COLUMNS: &str = revision_columns!("r.report_json");
/// A revision without its report body (listings).
const LISTING_COLUMNS: &str = revision_columns!("CAST(NULL AS TEXT) AS report_json");

fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}

/// SHA-256 of submitted content, hex: the default idempotency key and the replay check.
pub fn content_hash(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Parses a stored report (kept here so callers never see the JSON encoding).
pub fn decode_report(json: &str) -> Result<Report> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("report: {e}")))
}

#[cfg(test)]
mod transient_tests {
    use super::transient_code;

    #[test]
    fn transient_database_codes_are_told_from_the_callers_errors() {
        for code in [
            "40001", "40P01", "57P01", "57P03", "53300", "08006", "55P03", "5", "6", "517",
        ] {
            assert!(transient_code(code), "{code} is transient");
        }
        // Unique violation, foreign key, check, syntax; SQLite's CONSTRAINT (19, 2067).
        for code in ["23505", "23503", "23514", "42601", "19", "2067", "1"] {
            assert!(!transient_code(code), "{code} is the request's");
        }
    }
}
