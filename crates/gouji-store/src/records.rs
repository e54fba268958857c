//! Records the store reads and writes, and their row encodings.

use gouji_domain::model::{Report, ReportKind, UnitType};
use gouji_domain::rules::{Finding, ReportRef};

use crate::{Result, StoreError, decode_report};

/// A registered budget unit (部门 / 本级 / 二级单位 …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitRecord {
    /// Stable unit code.
    pub code: String,
    pub name: String,
    /// 单位性质; `None` when not declared (rules that need it are then not applicable).
    pub unit_type: Option<UnitType>,
    /// `None` for a top-level department.
    pub parent_code: Option<String>,
}

/// Whether a revision's findings are known yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidationState {
    /// Stored and acknowledged; the validation service has not answered yet.
    Pending,
    Validated,
    /// Terminal: validation can never accept this revision (it refused the request as
    /// malformed or too large, or every attempt up to the retry maximum failed). The reason is
    /// in [`RevisionRecord::validation_error`]; the revision stays stored and readable.
    Failed,
}

/// A submission to store.
#[derive(Debug, Clone)]
pub struct NewRevision {
    pub unit_code: String,
    pub year: i32,
    pub kind: ReportKind,
    /// True for the unit's filed 部门汇总 rather than its own report.
    pub consolidated: bool,
    /// The caller's key, or one derived from the content.
    pub idempotency_key: String,
    /// SHA-256 of the submitted content (document bytes or canonical report JSON).
    pub content_hash: String,
    /// The original document, when one was sent.
    pub document: Option<Vec<u8>>,
    pub report: Report,
}

/// One stored revision of a report; `R` is its body: the parsed [`Report`], or `()` in a
/// listing ([`RevisionListing`]).
#[derive(Debug, Clone)]
pub struct RevisionRecord<R = Report> {
    /// Storage id (monotonic; used as the pagination cursor).
    pub id: i64,
    pub unit_code: String,
    pub year: i32,
    pub kind: ReportKind,
    pub consolidated: bool,
    /// 1, 2, … per (unit, year, kind, consolidated).
    pub revision: u32,
    pub idempotency_key: String,
    pub content_hash: String,
    pub report: R,
    pub state: ValidationState,
    /// Known once validated: no error-severity finding.
    pub valid: Option<bool>,
    pub catalog_version: Option<String>,
    pub findings: Vec<Finding>,
    /// Unix milliseconds.
    pub submitted_at: i64,
    pub validated_at: Option<i64>,
    pub has_document: bool,
    /// Failed validation attempts so far (drives the retry backoff).
    pub validation_attempts: u32,
    /// Those of the failed attempts that count towards the retry maximum (validation answered
    /// with an error rather than being unreachable).
    pub validation_failures: u32,
    /// When the next validation attempt of a pending revision is due (Unix milliseconds; the
    /// previous attempt failed `RetryPolicy::delay(validation_attempts)` before it).
    pub next_attempt_at: i64,
    /// Why validation failed for good ([`ValidationState::Failed`]), or the last attempt's
    /// error while the revision is still pending.
    pub validation_error: Option<String>,
    /// The related reports (and their revisions) the latest findings' cross-report rules used.
    pub related_used: Vec<ReportRef>,
}

/// A revision as a listing carries it: everything but the report body, so that a page costs
/// its rows and findings, not its reports ([`crate::Store::list_revisions`]).
pub type RevisionListing = RevisionRecord<()>;

impl<R> RevisionRecord<R> {
    /// The logical report this revision belongs to («053001/2024/final_accounts/own»).
    pub fn report_id(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.unit_code,
            self.year,
            kind_key(self.kind),
            if self.consolidated {
                "consolidated"
            } else {
                "own"
            }
        )
    }
}

/// What [`crate::Store::submit`] did.
#[derive(Debug, Clone)]
pub enum SubmitOutcome {
    /// A new revision was committed.
    Stored(RevisionRecord),
    /// The idempotency key was seen before: the earlier revision, unchanged.
    Replayed(RevisionRecord),
}

impl SubmitOutcome {
    pub fn record(&self) -> &RevisionRecord {
        match self {
            SubmitOutcome::Stored(r) | SubmitOutcome::Replayed(r) => r,
        }
    }

    pub fn into_record(self) -> RevisionRecord {
        match self {
            SubmitOutcome::Stored(r) | SubmitOutcome::Replayed(r) => r,
        }
    }

    pub fn replayed(&self) -> bool {
        matches!(self, SubmitOutcome::Replayed(_))
    }
}

/// Filter of [`crate::Store::list_revisions`]; `None` fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ListFilter {
    pub unit_code: Option<String>,
    /// With `unit_code`: include the unit's whole subtree.
    pub subtree: bool,
    pub year: Option<i32>,
    pub kind: Option<ReportKind>,
}

/// The stored spelling of a report kind.
pub fn kind_key(kind: ReportKind) -> &'static str {
    match kind {
        ReportKind::Budget => "budget",
        ReportKind::FinalAccounts => "final_accounts",
    }
}

fn kind_from_key(s: &str) -> Result<ReportKind> {
    match s {
        "budget" => Ok(ReportKind::Budget),
        "final_accounts" => Ok(ReportKind::FinalAccounts),
        other => Err(StoreError::Corrupt(format!(
            "unknown report kind `{other}`"
        ))),
    }
}

pub(crate) fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[derive(sqlx::FromRow)]
pub(crate) struct UnitRow {
    code: String,
    name: String,
    unit_type: Option<String>,
    parent_code: Option<String>,
}

impl UnitRow {
    pub(crate) fn into_record(self) -> Result<UnitRecord> {
        let unit_type = match self.unit_type.as_deref() {
            None => None,
            Some(label) => Some(UnitType::from_label(label).ok_or_else(|| {
                StoreError::Corrupt(format!("unit {}: unknown unit type `{label}`", self.code))
            })?),
        };
        Ok(UnitRecord {
            code: self.code,
            name: self.name,
            unit_type,
            parent_code: self.parent_code,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RevisionRow {
    id: i64,
    unit_code: String,
    year: i32,
    kind: String,
    consolidated: bool,
    revision: i32,
    idempotency_key: String,
    content_hash: String,
    /// NULL in a listing ([`RevisionListing`]).
    report_json: Option<String>,
    validation_state: String,
    valid: Option<bool>,
    catalog_version: Option<String>,
    findings_json: Option<String>,
    submitted_at: i64,
    validated_at: Option<i64>,
    has_document: bool,
    validation_attempts: i32,
    validation_failures: i32,
    next_attempt_at: i64,
    validation_error: Option<String>,
    related_json: Option<String>,
}

impl RevisionRow {
    /// Bytes of stored JSON the row carries (report body and findings): what a page's budget
    /// counts.
    pub(crate) fn json_bytes(&self) -> usize {
        self.report_json.as_ref().map_or(0, String::len)
            + self.findings_json.as_ref().map_or(0, String::len)
    }

    pub(crate) fn into_record(self) -> Result<RevisionRecord> {
        let id = self.id;
        self.into_record_with(|json| match json {
            Some(json) => decode_report(json),
            None => Err(StoreError::Corrupt(format!(
                "revision {id}: no report body"
            ))),
        })
    }

    pub(crate) fn into_listing(self) -> Result<RevisionListing> {
        self.into_record_with(|_| Ok(()))
    }

    fn into_record_with<R>(
        self,
        body: impl FnOnce(Option<&str>) -> Result<R>,
    ) -> Result<RevisionRecord<R>> {
        let state = match self.validation_state.as_str() {
            "pending" => ValidationState::Pending,
            "validated" => ValidationState::Validated,
            "failed" => ValidationState::Failed,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "revision {}: unknown validation state `{other}`",
                    self.id
                )));
            }
        };
        let findings = match &self.findings_json {
            None => Vec::new(),
            Some(json) => serde_json::from_str(json)
                .map_err(|e| StoreError::Corrupt(format!("revision {}: findings: {e}", self.id)))?,
        };
        Ok(RevisionRecord {
            id: self.id,
            unit_code: self.unit_code,
            year: self.year,
            kind: kind_from_key(&self.kind)?,
            consolidated: self.consolidated,
            revision: u32::try_from(self.revision).unwrap_or(0),
            idempotency_key: self.idempotency_key,
            content_hash: self.content_hash,
            report: body(self.report_json.as_deref())?,
            state,
            valid: self.valid,
            catalog_version: self.catalog_version,
            findings,
            submitted_at: self.submitted_at,
            validated_at: self.validated_at,
            has_document: self.has_document,
            validation_attempts: u32::try_from(self.validation_attempts).unwrap_or(0),
            validation_failures: u32::try_from(self.validation_failures).unwrap_or(0),
            next_attempt_at: self.next_attempt_at,
            validation_error: self.validation_error,
            related_used: match &self.related_json {
                None => Vec::new(),
                Some(json) => serde_json::from_str(json).map_err(|e| {
                    StoreError::Corrupt(format!("revision {}: related reports: {e}", self.id))
                })?,
            },
        })
    }
}
