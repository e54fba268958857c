//! The ingestion service's view of the validation service: a gRPC client with a deadline, and
//! the background loop that validates revisions stored while validation was unavailable.
//!
//! A revision is validated by at most one task of this process at a time ([`InFlight`]): a
//! SubmitReport call claims its idempotency key before it stores the revision and holds it
//! until the verdict is recorded; the background loop skips claimed keys and, once it holds a
//! claim itself, re-reads the state (its list may be older than the verdict). So a document is
//! not parsed and checked twice, and a submission validated in its own call is acknowledged as
//! validated.
//!
//! Retries ([`RetryPolicy`]): every pending revision has its own schedule in the store
//! (`next_attempt_at`, `validation_attempts`); a failed attempt pushes only that revision back,
//! with exponential backoff, and the round goes on with the others. A revision validation can
//! never accept ends in the terminal state `failed` with the reason: at once when validation
//! refuses the request itself (INVALID_ARGUMENT, OUT_OF_RANGE, RESOURCE_EXHAUSTED without a
//! retry delay), or after [`RetryPolicy::max_failures`] other answered errors. An unreachable
//! service (UNAVAILABLE, or shedding with a retry delay) backs off but never fails a revision:
//! an outage must not turn a province's pending reports into failures.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use gouji_domain::model::{Report, UnitType};
use gouji_domain::rules::Finding;
use gouji_proto::convert;
use gouji_proto::validation::v1::validation_service_client::ValidationServiceClient;
use gouji_proto::validation::v1::{
    RelatedReport, ReportContext, ValidateReportRequest, validate_report_request,
};
use gouji_runtime::server::ServiceChannel;
use gouji_store::{RevisionRecord, Store, ValidationState};
use prost::Message as _;
use tonic::Code;
use tonic_types::StatusExt as _;

/// What the validation service said about one revision.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub valid: bool,
    pub catalog_version: String,
    pub findings: Vec<Finding>,
    /// The related reports (with revisions) the cross-report rules used.
    pub related_used: Vec<gouji_domain::rules::ReportRef>,
}

/// Client of `gouji.validation.v1.ValidationService`; connects lazily, so the ingestion
/// service starts (and accepts submissions) while validation is down.
#[derive(Clone)]
pub struct ValidationClient {
    client: ValidationServiceClient<ServiceChannel>,
    timeout: Duration,
    in_flight: InFlight,
    policy: RetryPolicy,
    /// When validation last answered a call (milliseconds since the epoch; 0: never), with a
    /// verdict or an error of its own — UNAVAILABLE is no answer.
    answered_at: Arc<AtomicI64>,
    /// Failed revalidations in a row, by revision id, of validated revisions whose related
    /// reports changed: their next attempt backs off like a pending revision's. Kept in memory
    /// (a restart starts again from the first delay); at most [`MAX_REVALIDATION_BACKOFFS`].
    revalidation_failures: Arc<Mutex<std::collections::HashMap<i64, u32>>>,
}

/// Most validated revisions whose failed revalidations are counted at once; past it the counts
/// start again (each revision then retries from the first delay).
pub const MAX_REVALIDATION_BACKOFFS: usize = 100_000;

/// Idempotency keys of the revisions this process is storing or validating right now.
#[derive(Clone, Default)]
struct InFlight(Arc<Mutex<HashSet<String>>>);

impl InFlight {
    fn keys(&self) -> MutexGuard<'_, HashSet<String>> {
        // The set stays consistent even if a holder panicked: insert/remove are single steps.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Claims `key` until the returned guard drops; `None` when another task holds it.
    fn claim(&self, key: &str) -> Option<Claim> {
        self.keys().insert(key.to_string()).then(|| Claim {
            set: self.clone(),
            key: key.to_string(),
        })
    }

    #[cfg(test)]
    fn contains(&self, key: &str) -> bool {
        self.keys().contains(key)
    }
}

/// A revision being stored or validated by one task; released on drop, whatever the outcome.
pub struct Claim {
    set: InFlight,
    key: String,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.set.keys().remove(&self.key);
    }
}

impl ValidationClient {
    /// A client of the service at `url` (`http://host:port`); `timeout` bounds each call.
    pub fn lazy(url: &str, timeout: Duration, max_message_bytes: usize) -> anyhow::Result<Self> {
        let channel = gouji_runtime::server::service_channel(url)?;
        Ok(ValidationClient {
            client: ValidationServiceClient::new(channel)
                .max_decoding_message_size(max_message_bytes)
                .max_encoding_message_size(max_message_bytes),
            timeout,
            in_flight: InFlight::default(),
            policy: RetryPolicy::default(),
            answered_at: Arc::new(AtomicI64::new(0)),
            revalidation_failures: Arc::default(),
        })
    }

    /// Counts one more failed revalidation of revision `id`; returns how many in a row.
    fn revalidation_failed(&self, id: i64) -> u32 {
        let mut m = self
            .revalidation_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if m.len() >= MAX_REVALIDATION_BACKOFFS && !m.contains_key(&id) {
            m.clear();
        }
        let n = m.entry(id).or_insert(0);
        *n = n.saturating_add(1);
        *n
    }

    /// Forgets revision `id`'s failed revalidations (it was revalidated, or never will be).
    fn revalidation_settled(&self, id: i64) {
        self.revalidation_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    /// The same client with another retry policy for pending revisions.
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Whether validation answered a call after `rec`'s previous attempt (none for a first
    /// attempt): the previous attempt ended when its retry was scheduled,
    /// `next_attempt_at − delay(attempts)`.
    fn answered_since_last_attempt(&self, rec: &RevisionRecord) -> bool {
        if rec.validation_attempts == 0 {
            return false;
        }
        let next = rec.next_attempt_at;
        let delay = self.policy.delay(rec.validation_attempts);
        let previous = next.saturating_sub(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
        self.answered_at.load(Ordering::Relaxed) > previous
    }

    /// How this client's pending revisions are retried.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.policy
    }

    /// Claims the submission with this idempotency key for the calling task (see the module
    /// docs); `None` while another task of this process holds it.
    pub fn claim(&self, idempotency_key: &str) -> Option<Claim> {
        self.in_flight.claim(idempotency_key)
    }

    /// Validates a stored revision: its original document when there is one (so findings
    /// quote the text as submitted), else its structured report.
    pub async fn validate(
        &self,
        rec: &RevisionRecord,
        source: Source,
        unit_type: Option<UnitType>,
        related: Vec<RelatedReport>,
    ) -> Result<Verdict, tonic::Status> {
        let input = match source {
            Source::Document(bytes) => validate_report_request::Input::Document(bytes),
            Source::Parsed(report) | Source::Stored(report) => {
                validate_report_request::Input::Report(*report)
            }
        };
        let mut request = tonic::Request::new(ValidateReportRequest {
            input: Some(input),
            context: Some(ReportContext {
                unit_type: convert::unit_type_to_pb(unit_type),
                year: rec.year,
            }),
            // The revision already holds the report; only findings are needed back.
            omit_report: true,
            related,
            subject_ref: Some(convert::report_ref_to_pb(&crate::related::reference_of(
                rec,
            ))),
        });
        request.set_timeout(self.timeout);
        let answer = self.client.clone().validate_report(request).await;
        if answer
            .as_ref()
            .map_or_else(|s| s.code() != Code::Unavailable, |_| true)
        {
            self.answered_at.fetch_max(now_millis(), Ordering::Relaxed);
        }
        let resp = answer?.into_inner();
        Ok(Verdict {
            valid: resp.valid,
            catalog_version: resp.catalog_version,
            findings: resp.findings.iter().map(convert::finding_from_pb).collect(),
            related_used: resp
                .related_used
                .iter()
                .map(convert::report_ref_from_pb)
                .collect(),
        })
    }
}

/// What the validation service is sent for a revision.
pub enum Source {
    /// The original document (the service parses it again).
    Document(Vec<u8>),
    /// The report as this process parsed it from the document, source lines included, in wire
    /// form: lossless, so the findings are those of the document (`gouji-proto`'s `round_trip`
    /// test), without a second parse.
    Parsed(Box<gouji_proto::report::v1::Report>),
    /// The stored structured report (submitted structured: no text to quote), in wire form.
    Stored(Box<gouji_proto::report::v1::Report>),
}

impl Source {
    /// The stored structured report of `rec`, in wire form.
    fn stored(rec: &RevisionRecord) -> Source {
        Source::Stored(Box::new(convert::report_to_pb(&rec.report)))
    }

    /// Bytes of the subject in the request.
    fn encoded_len(&self) -> usize {
        match self {
            Source::Document(d) => d.len(),
            Source::Parsed(r) | Source::Stored(r) => r.encoded_len(),
        }
    }
}

/// Documents above this much text are sent as documents: their structured form (every fact and
/// figure with its source text, plus the lines) would approach the message-size limits.
const MAX_PARSED_TEXT: usize = 4 << 20;

fn text_len(report: &Report) -> usize {
    report.lines.iter().map(|l| l.len() + 1).sum()
}

/// How pending revisions are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Delay after the first failed attempt; doubled after each further one.
    pub first_delay: Duration,
    /// The longest delay between two attempts of one revision.
    pub max_delay: Duration,
    /// Answered errors (not UNAVAILABLE) after which a revision is failed for good.
    pub max_failures: u32,
    /// Revisions attempted per round of the background loop.
    pub batch: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(300),
            max_failures: 20,
            batch: 64,
        }
    }
}

impl RetryPolicy {
    /// The delay after the `attempts`-th failed attempt (1-based): `first_delay · 2^(n-1)`,
    /// at most `max_delay`.
    pub fn delay(&self, attempts: u32) -> Duration {
        let factor = 1u32 << attempts.saturating_sub(1).min(20);
        self.first_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// What one validation attempt ended in.
#[derive(Debug, Clone)]
pub enum Attempt {
    /// The verdict is recorded.
    Validated(Verdict),
    /// Still pending: retried on the revision's own schedule.
    Pending,
    /// Terminal: recorded as failed with this reason.
    Failed(String),
}

/// How a validation error is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Validation refuses this revision itself: retrying cannot help.
    Terminal,
    /// Validation answered with an error that may be transient: counts towards the maximum.
    Counted,
    /// Validation is unreachable or shedding load: back off, never fail the revision for it.
    Unreachable,
}

/// How a failed attempt counts. `answered_since_last_attempt`: validation answered some call
/// after this revision's previous attempt failed. Then an UNAVAILABLE for this revision is not an
/// outage but this revision breaking validation's connection (a document that crashes or
/// kills the service each time): it counts towards the maximum, so such a revision ends
/// failed instead of being retried forever, while a real outage (nothing answered) never does.
fn classify(status: &tonic::Status, answered_since_last_attempt: bool) -> Class {
    match status.code() {
        Code::Unavailable
            if answered_since_last_attempt && status.get_details_retry_info().is_none() =>
        {
            Class::Counted
        }
        Code::InvalidArgument | Code::OutOfRange => Class::Terminal,
        // Shedding load says when to come back (google.rpc.RetryInfo); a quota or size refusal
        // without a retry delay is about the request.
        Code::ResourceExhausted if status.get_details_retry_info().is_some() => Class::Unreachable,
        Code::ResourceExhausted => Class::Terminal,
        Code::Unavailable => Class::Unreachable,
        _ => Class::Counted,
    }
}

/// A status as a short, printable reason (the message is cut to [`MAX_REASON_CHARS`]).
fn reason(status: &tonic::Status) -> String {
    let message: String = status
        .message()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_REASON_CHARS)
        .collect();
    format!("validation answered {:?}: {message}", status.code())
}

/// Longest validation message kept as a revision's `validation_error`.
pub const MAX_REASON_CHARS: usize = 512;

/// Validates `rec` and records the outcome; the caller holds `rec`'s [`Claim`]. `parsed` is the
/// report just parsed from the submitted document, when the caller has it (SubmitReport);
/// otherwise the stored document is sent (the store keeps no source lines). A failure records
/// the revision's next attempt ([`RetryPolicy`]) or, when validation can never accept it, its
/// terminal failure.
pub async fn validate_and_record(
    store: &Store,
    client: &ValidationClient,
    rec: &RevisionRecord,
    parsed: Option<&Report>,
    _claim: &Claim,
) -> Attempt {
    let policy = &client.policy;
    // The parsed form is sent only while it is small enough (a pathological text can have far
    // more facts, each quoting its line, than bytes); else the document, whose size ingestion
    // checked before storing.
    let parsed = parsed
        .filter(|r| !r.lines.is_empty() && text_len(r) <= MAX_PARSED_TEXT)
        .map(convert::report_to_pb)
        .filter(|pb| pb.encoded_len() <= gouji_runtime::server::MAX_CONTENT_BYTES);
    let source = match parsed {
        Some(pb) => Source::Parsed(Box::new(pb)),
        None if rec.has_document => match store.document(rec.id).await {
            Ok(Some(d)) => Source::Document(d),
            Ok(None) => Source::stored(rec),
            Err(e) => {
                tracing::warn!(error = %e, id = rec.id, "cannot read stored document");
                return Attempt::Pending;
            }
        },
        None => Source::stored(rec),
    };
    let unit_type = match store.get_unit(&rec.unit_code).await {
        Ok(u) => u.and_then(|u| u.unit_type),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read unit");
            return Attempt::Pending;
        }
    };
    // The related reports as they are now; a mark for revalidation set after this instant
    // stays (see `Store::record_related`).
    let started = now_millis();
    // What the related reports may add: the request's content stays within what validation
    // accepts (`MAX_CONTENT_BYTES` plus the envelope), whatever the subject's own size, so a
    // revision is never refused for the reports ingestion itself put beside it.
    let room = gouji_runtime::server::MAX_CONTENT_BYTES.saturating_sub(source.encoded_len());
    let related = match crate::related::related_reports(store, rec, room).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, id = rec.id, "cannot read related reports");
            return Attempt::Pending;
        }
    };
    let verdict = match client.validate(rec, source, unit_type, related).await {
        Ok(v) => v,
        Err(status) => {
            let answered = client.answered_since_last_attempt(rec);
            return record_failure(store, rec, &status, policy, answered).await;
        }
    };
    let recorded = gouji_store::Verdict {
        valid: verdict.valid,
        catalog_version: &verdict.catalog_version,
        findings: &verdict.findings,
        related: &verdict.related_used,
    };
    if let Err(e) = store.record_verdict(rec.id, recorded, started).await {
        tracing::warn!(error = %e, id = rec.id, "cannot record validation; stays pending");
        return Attempt::Pending;
    }
    tracing::info!(
        report = %rec.report_id(),
        revision = rec.revision,
        valid = verdict.valid,
        findings = verdict.findings.len(),
        "validated"
    );
    Attempt::Validated(verdict)
}

/// Records a failed attempt: the next one on the revision's schedule, or its terminal failure.
async fn record_failure(
    store: &Store,
    rec: &RevisionRecord,
    status: &tonic::Status,
    policy: &RetryPolicy,
    answered_since_last_attempt: bool,
) -> Attempt {
    let class = classify(status, answered_since_last_attempt);
    let why = reason(status);
    let terminal = match class {
        Class::Terminal => true,
        // This attempt would be the maximum-th answered error.
        Class::Counted => rec.validation_failures + 1 >= policy.max_failures,
        Class::Unreachable => false,
    };
    if terminal {
        let why = match class {
            Class::Terminal => why,
            _ => format!("{why} (after {} failed attempts)", policy.max_failures),
        };
        return match store.record_validation_failure(rec.id, &why).await {
            // `false`: a validated revision being revalidated; its recorded verdict stands.
            Ok(recorded) => {
                let outcome = if recorded {
                    "validation failed for good"
                } else {
                    "revalidation refused for good; the revision keeps its earlier verdict"
                };
                tracing::warn!(
                    report = %rec.report_id(),
                    revision = rec.revision,
                    reason = %why,
                    "{outcome}"
                );
                Attempt::Failed(why)
            }
            Err(e) => {
                tracing::warn!(error = %e, id = rec.id, "cannot record validation failure");
                Attempt::Pending
            }
        };
    }
    let delay = policy.delay(rec.validation_attempts + 1);
    let next = now_millis().saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
    match store
        .record_validation_retry(rec.id, class == Class::Counted, next, &why)
        .await
    {
        Ok(counts) => tracing::warn!(
            code = ?status.code(),
            report = %rec.report_id(),
            revision = rec.revision,
            attempts = ?counts,
            retry_in_ms = delay.as_millis() as u64,
            "validation failed; revision stays pending"
        ),
        Err(e) => tracing::warn!(error = %e, id = rec.id, "cannot record validation retry"),
    }
    Attempt::Pending
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Every `interval`, validates the pending revisions whose next attempt is due (validation was
/// down, the process stopped between storing and validating, or an attempt failed). A failing
/// revision only moves its own next attempt; the round goes on. A full round is followed by the
/// next one at once. Runs until the task is dropped.
pub async fn revalidate_pending(store: Store, client: ValidationClient, interval: Duration) {
    let policy = client.policy;
    loop {
        let due = match store.due_for_validation(now_millis(), policy.batch).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list pending revisions");
                tokio::time::sleep(interval).await;
                continue;
            }
        };
        let full = due.len() >= policy.batch as usize;
        // Attempts made this round: a full batch of revisions that SubmitReport calls hold is
        // no reason to ask again at once.
        let mut attempted = 0usize;
        for listed in due {
            debug_assert_eq!(listed.state, ValidationState::Pending);
            // A SubmitReport call is validating it right now: its verdict is on the way.
            let Some(claim) = client.claim(&listed.idempotency_key) else {
                continue;
            };
            // Its body is read now, one at a time; the list may predate an outcome recorded
            // since by the task that held the claim.
            let rec = match store.revision_by_id(listed.id).await {
                Ok(Some(rec)) if rec.state == ValidationState::Pending => rec,
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, id = listed.id, "cannot read revision");
                    continue;
                }
            };
            attempted += 1;
            let attempt = validate_and_record(&store, &client, &rec, None, &claim).await;
            // The background loop calls validation as the ingestion service itself (its
            // mutual-TLS certificate, no caller token): attributed in the audit trail.
            let outcome = match &attempt {
                Attempt::Validated(_) => "validated",
                Attempt::Failed(_) => "failed",
                Attempt::Pending => continue,
            };
            let service = gouji_store::AuditEntry {
                principal: "service:gouji-ingestion (revalidation)".into(),
                role: "service".into(),
            };
            let name = format!("{}@{}", rec.report_id(), rec.revision);
            if let Err(e) = store
                .record_audit(&service, "revalidate", &name, outcome)
                .await
            {
                tracing::warn!(error = %e, id = rec.id, "cannot record the revalidation in the audit trail");
            }
        }
        let revalidated = revalidate_dependents(&store, &client, policy.batch).await;
        let more_due = revalidated || (full && attempted > 0);
        if !more_due {
            tokio::time::sleep(interval).await;
        }
    }
}

/// One round of revalidation: validated revisions whose related reports arrived or were revised
/// since their findings ([`crate::related::mark_dependents`]) are validated again, with the
/// related reports as they are now. A failed attempt leaves the revision's verdict as it was
/// and tries again later. Returns true when a full batch was due (more may be waiting) and
/// at least one of it was attempted.
async fn revalidate_dependents(store: &Store, client: &ValidationClient, batch: u32) -> bool {
    let due = match store.due_for_revalidation(now_millis(), batch).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list revisions due for revalidation");
            return false;
        }
    };
    let full = due.len() >= batch as usize;
    let mut attempted = 0usize;
    for listed in due {
        let Some(claim) = client.claim(&listed.idempotency_key) else {
            continue;
        };
        let rec = match store.revision_by_id(listed.id).await {
            Ok(Some(rec)) => rec,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(error = %e, id = listed.id, "cannot read revision");
                continue;
            }
        };
        attempted += 1;
        tracing::info!(report = %rec.report_id(), revision = rec.revision, "revalidating: a related report changed");
        let attempt = validate_and_record(store, client, &rec, None, &claim).await;
        if !matches!(attempt, Attempt::Pending) {
            // Revalidated, or refused for good (the earlier verdict stands): the mark is spent.
            client.revalidation_settled(rec.id);
        } else {
            // Not validated this time (validation unreachable, or slow): keep the mark, and
            // back off as a pending revision does, so that a revision that keeps failing is
            // not resent every few seconds forever.
            let delay = client.policy.delay(client.revalidation_failed(rec.id));
            let later =
                now_millis().saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
            if let Err(e) = store
                .request_revalidation(&rec.unit_code, rec.year, rec.kind, rec.consolidated, later)
                .await
            {
                tracing::warn!(error = %e, id = rec.id, "cannot defer revalidation");
            }
        }
    }
    full && attempted > 0
}

#[cfg(test)]
mod tests {
    use super::{Class, InFlight, RetryPolicy, classify};
    use std::time::Duration;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1), Duration::from_secs(2));
        assert_eq!(p.delay(2), Duration::from_secs(4));
        assert_eq!(p.delay(5), Duration::from_secs(32));
        assert_eq!(p.delay(9), Duration::from_secs(300));
        assert_eq!(p.delay(1_000), Duration::from_secs(300));
    }

    #[test]
    fn refusals_are_terminal_and_outages_never_are() {
        let c = |s: tonic::Status| classify(&s, false);
        assert_eq!(c(tonic::Status::invalid_argument("x")), Class::Terminal);
        assert_eq!(c(tonic::Status::out_of_range("too large")), Class::Terminal);
        assert_eq!(c(tonic::Status::resource_exhausted("x")), Class::Terminal);
        assert_eq!(c(tonic::Status::unavailable("down")), Class::Unreachable);
        assert_eq!(c(tonic::Status::deadline_exceeded("slow")), Class::Counted);
        assert_eq!(c(tonic::Status::internal("bug")), Class::Counted);
        let mut details = tonic_types::ErrorDetails::new();
        details.set_retry_info(Some(Duration::from_secs(1)));
        let shed = <tonic::Status as tonic_types::StatusExt>::with_error_details(
            tonic::Code::ResourceExhausted,
            "busy",
            details,
        );
        assert_eq!(c(shed), Class::Unreachable);
    }

    #[test]
    fn unavailable_counts_only_when_validation_answered_others_meanwhile() {
        let down = tonic::Status::unavailable("connection reset");
        // An outage (nothing answered since this revision's last attempt) never counts.
        assert_eq!(classify(&down, false), Class::Unreachable);
        // Validation answered other revisions, but this one's call breaks every time.
        assert_eq!(classify(&down, true), Class::Counted);
        // Shedding load is never this revision's fault.
        let mut details = tonic_types::ErrorDetails::new();
        details.set_retry_info(Some(Duration::from_secs(1)));
        let queue_timeout = <tonic::Status as tonic_types::StatusExt>::with_error_details(
            tonic::Code::Unavailable,
            "queue wait exceeded",
            details,
        );
        assert_eq!(classify(&queue_timeout, true), Class::Unreachable);
    }

    #[test]
    fn a_submission_is_claimed_by_one_task_until_released() {
        let set = InFlight::default();
        let first = set.claim("k7").expect("free");
        assert!(set.claim("k7").is_none(), "claimed twice");
        assert!(set.contains("k7"));
        assert!(
            set.claim("k8").is_some(),
            "another submission is independent"
        );
        drop(first);
        assert!(!set.contains("k7"));
        assert!(set.claim("k7").is_some(), "free again after release");
    }
}
